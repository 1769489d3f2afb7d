package tlsconfig

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/testutil"
)

// logBuffer collects JSON log lines from several goroutines.
type logBuffer struct{ testutil.Buffer }

// count is the number of records at level whose message starts with
// msgPrefix.
func (b *logBuffer) count(t testing.TB, level, msgPrefix string) int {
	n := 0
	for _, r := range b.JSONLines(t) {
		if r["level"] == level && strings.HasPrefix(r["msg"].(string), msgPrefix) {
			n++
		}
	}
	return n
}

func newLog(b *logBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(b, nil)) }

func pairFiles(t testing.TB, l leaf) (certFile, keyFile string) {
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeAtomic(t, certFile, l.certPEM)
	writeAtomic(t, keyFile, l.keyPEM)
	return certFile, keyFile
}

func TestFileReloaderReload(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	a, b := ca.issueNow(t), ca.issueNow(t)
	other := ca.issueNow(t)
	expired := ca.issue(t, now.Add(-48*time.Hour), now.Add(-time.Hour), nil)
	future := ca.issue(t, now.Add(time.Hour), now.Add(48*time.Hour), nil)
	certFile, keyFile := pairFiles(t, a)
	var logs logBuffer
	r, err := NewFileReloader(certFile, keyFile, ReloaderOptions{Logger: newLog(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Fingerprint() != a.fingerprint || r.Err() != nil {
		t.Fatalf("serving %s, want %s", r.Fingerprint(), a.fingerprint)
	}
	if got, _ := r.GetCertificate(nil); got.Leaf == nil || fingerprintOf(got.Leaf) != a.fingerprint {
		t.Fatal("GetCertificate does not return the loaded pair with its leaf")
	}

	tests := []struct {
		name    string
		write   func()
		changed bool
		errHas  string
		serving *leaf
	}{
		{"unchanged", func() {}, false, "", &a},
		{"same content rewritten", func() { writeAtomic(t, certFile, a.certPEM) }, false, "", &a},
		{"new pair", func() { writeAtomic(t, certFile, b.certPEM); writeAtomic(t, keyFile, b.keyPEM) }, true, "", &b},
		{"certificate without its key", func() { writeAtomic(t, certFile, other.certPEM) }, false, "private key does not match", &b},
		{"key catches up", func() { writeAtomic(t, keyFile, other.keyPEM) }, true, "", &other},
		{"half-written certificate", func() { writeInPlace(t, certFile, a.certPEM[:len(a.certPEM)/2]) }, false, "failed to find", &other},
		{"garbage key", func() { writeAtomic(t, certFile, a.certPEM); writeInPlace(t, keyFile, []byte("not a key")) }, false, "failed to find", &other},
		{"missing key", func() { os.Remove(keyFile) }, false, "no such file", &other},
		{"expired", func() { writeAtomic(t, certFile, expired.certPEM); writeAtomic(t, keyFile, expired.keyPEM) }, false, "expired", &other},
		{"not yet valid", func() { writeAtomic(t, certFile, future.certPEM); writeAtomic(t, keyFile, future.keyPEM) }, false, "not valid before", &other},
		{"good again", func() { writeAtomic(t, certFile, a.certPEM); writeAtomic(t, keyFile, a.keyPEM) }, true, "", &a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errorsBefore := logs.count(t, "ERROR", "TLS certificate files refused")
			tt.write()
			for i := range 3 { // a bad version is logged once, however often it is seen
				changed, err := r.Reload()
				if changed != (tt.changed && i == 0) {
					t.Errorf("poll %d: changed = %v", i, changed)
				}
				if tt.errHas == "" && err != nil {
					t.Fatalf("poll %d: %v", i, err)
				}
				if tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
					t.Fatalf("poll %d: err = %v, want %q", i, err, tt.errHas)
				}
			}
			if r.Fingerprint() != tt.serving.fingerprint {
				t.Errorf("serving %s, want %s", r.Fingerprint(), tt.serving.fingerprint)
			}
			if got, _ := r.GetCertificate(nil); fingerprintOf(got.Leaf) != tt.serving.fingerprint {
				t.Error("GetCertificate disagrees with Fingerprint")
			}
			wantErrors := 0
			if tt.errHas != "" {
				wantErrors = 1
				if r.Err() == nil {
					t.Error("Err() is nil after a refusal")
				}
			} else if r.Err() != nil {
				t.Errorf("Err() = %v", r.Err())
			}
			if n := logs.count(t, "ERROR", "TLS certificate files refused") - errorsBefore; n != wantErrors {
				t.Errorf("%d error lines, want %d", n, wantErrors)
			}
		})
	}
	// Reloads are logged with the new fingerprint and expiry.
	var reloads int
	for _, rec := range logs.JSONLines(t) {
		if rec["msg"] == "TLS certificate reloaded" {
			reloads++
			if rec["sha256"] == "" || rec["not_after"] == "" {
				t.Errorf("reload log lacks details: %v", rec)
			}
		}
	}
	if reloads != 3 {
		t.Errorf("%d reload lines, want 3", reloads)
	}
}

func TestNewFileReloaderRefusesBadPairs(t *testing.T) {
	ca := newTestCA(t)
	a, b := ca.issueNow(t), ca.issueNow(t)
	expired := ca.issue(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), nil)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		writeAtomic(t, p, data)
		return p
	}
	tests := []struct {
		name, cert, key, errHas string
	}{
		{"mismatch", write("a.crt", a.certPEM), write("b.key", b.keyPEM), "does not match"},
		{"expired", write("e.crt", expired.certPEM), write("e.key", expired.keyPEM), "expired"},
		{"missing", filepath.Join(dir, "nope.crt"), write("a.key", a.keyPEM), "no such file"},
		{"empty", write("empty.crt", nil), write("a2.key", a.keyPEM), "failed to find"},
		{"too big", write("big.crt", bytes.Repeat([]byte("A"), maxPEMFile+1)), write("a3.key", a.keyPEM), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFileReloader(tt.cert, tt.key, ReloaderOptions{Logger: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want %q", err, tt.errHas)
			}
		})
	}
}

func TestFileReloaderExpiry(t *testing.T) {
	ca := newTestCA(t)
	start := time.Now()
	l := ca.issue(t, start.Add(-time.Hour), start.Add(20*24*time.Hour), nil)
	certFile, keyFile := pairFiles(t, l)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var logs logBuffer
	r, err := NewFileReloader(certFile, keyFile, ReloaderOptions{Logger: newLog(&logs), Now: clock, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !r.NotAfter().Equal(l.tls.Leaf.NotAfter) {
		t.Errorf("NotAfter %v", r.NotAfter())
	}
	if r.ExpiresWithin(ExpiryWarning) || !r.ExpiresWithin(21*24*time.Hour) {
		t.Error("ExpiresWithin wrong 20 days before expiry")
	}
	if n := logs.count(t, "WARN", "TLS certificate expires soon"); n != 0 {
		t.Errorf("%d warnings 20 days ahead", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	advance(7 * 24 * time.Hour) // 13 days left
	if !r.ExpiresWithin(ExpiryWarning) {
		t.Error("ExpiresWithin(14 days) false with 13 days left")
	}
	waitFor("the first warning", func() bool { return logs.count(t, "WARN", "TLS certificate expires soon") == 1 })
	time.Sleep(50 * time.Millisecond) // many polls: still one warning a day
	if n := logs.count(t, "WARN", "TLS certificate expires soon"); n != 1 {
		t.Errorf("%d warnings within a day", n)
	}
	advance(25 * time.Hour)
	waitFor("the next day's warning", func() bool { return logs.count(t, "WARN", "TLS certificate expires soon") == 2 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

// TestFileReloaderUnderLoad rewrites the files while clients make HTTPS
// requests in a loop, each on a new connection (and some on kept-alive
// ones): no request fails, the new certificate reaches clients after a
// good swap, and a broken or half-written pair is never served.
func TestFileReloaderUnderLoad(t *testing.T) {
	ca := newTestCA(t)
	a, b, c := ca.issueNow(t), ca.issueNow(t), ca.issueNow(t)
	mismatched := ca.issueNow(t) // served only if a broken pair got through
	certFile, keyFile := pairFiles(t, a)
	var logs logBuffer
	r, err := NewFileReloader(certFile, keyFile, ReloaderOptions{Logger: newLog(&logs), PollInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	addr := serveTLS(t, r.TLSConfig(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))

	var (
		requests, failures atomic.Int64
		mu                 sync.Mutex
		seen               = map[string]int{}
		firstErr           error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: ca.pool},
				DisableKeepAlives: i%3 != 0, // two of six keep their connections
				ForceAttemptHTTP2: true,
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				resp, err := client.Get("https://" + addr + "/")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil {
					failures.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				} else {
					seen[fingerprintOf(resp.TLS.PeerCertificates[0])]++
				}
				mu.Unlock()
			}
		})
	}
	seenCount := func(l leaf) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[l.fingerprint]
	}
	waitSeen := func(l leaf, name string) {
		t.Helper()
		base := seenCount(l)
		deadline := time.Now().Add(20 * time.Second)
		for seenCount(l) < base+20 {
			if time.Now().After(deadline) {
				t.Fatalf("clients did not get certificate %s", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	settle := func() { // let the poller and the clients run a while
		n := requests.Load()
		deadline := time.Now().Add(20 * time.Second)
		for requests.Load() < n+100 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	waitSeen(a, "a")
	// good -> good, written the way certbot and cert-manager do: new files
	// renamed into place, certificate first.
	writeAtomic(t, certFile, b.certPEM)
	writeAtomic(t, keyFile, b.keyPEM)
	waitSeen(b, "b")
	// A broken pair: a certificate whose key never arrives.
	writeAtomic(t, certFile, mismatched.certPEM)
	settle()
	// Half-written files, rewritten in place byte ranges at a time.
	for _, part := range [][]byte{c.certPEM[:100], c.certPEM[:len(c.certPEM)-40], c.certPEM} {
		writeInPlace(t, certFile, part)
		settle()
	}
	if fp := r.Fingerprint(); fp != b.fingerprint {
		t.Errorf("serving %s during the broken phase, want b", fp)
	}
	// The matching key arrives, in place: c goes live.
	writeInPlace(t, keyFile, c.keyPEM[:50])
	settle()
	writeInPlace(t, keyFile, c.keyPEM)
	waitSeen(c, "c")
	close(stop)
	wg.Wait()

	if f := failures.Load(); f != 0 {
		t.Errorf("%d of %d requests failed; first: %v", f, requests.Load(), firstErr)
	}
	if n := seenCount(mismatched); n != 0 {
		t.Errorf("the certificate without its key was served %d times", n)
	}
	mu.Lock()
	for fp, n := range seen {
		if fp != a.fingerprint && fp != b.fingerprint && fp != c.fingerprint {
			t.Errorf("unknown certificate %s served %d times", fp, n)
		}
	}
	t.Logf("%d requests; served a %d, b %d, c %d times", requests.Load(), seen[a.fingerprint], seen[b.fingerprint], seen[c.fingerprint])
	mu.Unlock()
	if n := logs.count(t, "ERROR", "TLS certificate files refused"); n == 0 {
		t.Error("the broken pairs were not logged")
	}
	if n := logs.count(t, "INFO", "TLS certificate reloaded"); n != 2 {
		t.Errorf("%d reloads logged, want 2", n)
	}
	if errors.Is(r.Err(), os.ErrNotExist) || r.Err() != nil {
		t.Errorf("Err() = %v after the good pair", r.Err())
	}
}
