package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processAdminPassword is the administrator password the test processes
// bootstrap with (FORTAPI_ADMIN_PASSWORD).
const processAdminPassword = "process-test admin passphrase"

// buildTestBinary returns fortapi built as users get it, once for the
// package (TestMain owns it).
func buildTestBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	return shared.binary(t)
}

type process struct {
	cmd  *exec.Cmd
	log  *lineWriter
	url  string
	done chan error
}

func startProcess(t *testing.T, bin, dataDir string) *process {
	t.Helper()
	p := &process{log: newLineWriter(), done: make(chan error, 1)}
	// The write load runs far beyond the default limits (60 writes a
	// minute per user): scale them, as load tests do; the limiter runs.
	p.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--http-addr", "", "--admin-addr", "", "--shutdown-timeout", "20s", "--rate-scale", "1000")
	p.cmd.Env = append(os.Environ(), "FORTAPI_ADMIN_PASSWORD="+processAdminPassword)
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // only our own child, by PID
		<-p.done
	})
	select {
	case p.url = <-p.log.url:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("the server exited before serving (%v):\n%s", err, p.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start:\n%s", p.log.String())
	}
	return p
}

func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(40 * time.Second):
		t.Fatal("the server did not exit")
		return nil
	}
}

// login gets an access token for admin through POST /token.
func login(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {processAdminPassword}}
	resp, err := c.PostForm(base+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	return tr.AccessToken
}

func postItem(c *http.Client, url, token string, body io.Reader) (int, string, error) {
	req, err := http.NewRequest("POST", url+"/items/", body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var it struct {
		ID string `json:"id"`
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusCreated {
		err = json.Unmarshal(b, &it)
	}
	return resp.StatusCode, it.ID, err
}

// TestAcknowledgedWritesSurviveSIGKILL kills the server in the middle of a
// write load and checks that every item answered 201 is there after a
// restart.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildTestBinary(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir)
	c := tlsClient(t, dir, nil)
	tok := login(t, c, p.url)

	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 100000; i++ {
				body := strings.NewReader(fmt.Sprintf(`{"name":"w%d-%d","price":1.5}`, w, i))
				status, id, err := postItem(c, p.url, tok, body)
				if err != nil {
					return // the server died under us: expected
				}
				if status == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	// Let the load run, then kill without warning.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	cancel()
	_ = p.wait(t)
	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) < 50 {
		t.Fatalf("only %d writes were acknowledged before the kill; the test proves nothing", len(ids))
	}

	q := startProcess(t, bin, dir)
	c = tlsClient(t, dir, nil)
	// The token signed before the crash still verifies: the signing keys
	// and the revocation log are in the database too.
	missing := 0
	for _, id := range ids {
		req, _ := http.NewRequest("GET", q.url+"/items/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes are gone after SIGKILL", missing, len(ids))
	}
	t.Logf("%d acknowledged writes all survived SIGKILL", len(ids))
}

// slowBody sends the first part of a request body, then waits for a signal
// before sending the rest.
type slowBody struct {
	parts   []string
	release chan struct{}
	started chan struct{}
	i       int
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.i >= len(s.parts) {
		return 0, io.EOF
	}
	if s.i == 1 {
		close(s.started)
		<-s.release
	}
	n := copy(p, s.parts[s.i])
	s.i++
	return n, nil
}

// TestGracefulShutdownFinishesInFlightRequests sends SIGTERM while a
// request is half-way through its body: the request still succeeds, new
// connections are refused, and the process exits 0.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	bin := buildTestBinary(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir)
	c := tlsClient(t, dir, nil)
	tok := login(t, c, p.url)
	body := &slowBody{parts: []string{`{"name":"in flight",`, `"price":2}`}, release: make(chan struct{}), started: make(chan struct{})}
	type result struct {
		status int
		id     string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		s, id, err := postItem(c, p.url, tok, body)
		res <- result{s, id, err}
	}()
	select {
	case <-body.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the request did not start")
	}
	time.Sleep(200 * time.Millisecond) // let the server read the first part
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.log.String(), "shutting down"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown in the log:\n%s", p.log.String())
		}
	}
	// The listener closes right after the log line: within a bound, new
	// connections must be refused while the old request is still open.
	refused := false
	for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fresh := tlsClient(t, dir, nil)
		resp, err := fresh.Get(p.url + "/healthz")
		if err != nil {
			refused = true
			break
		}
		resp.Body.Close()
	}
	if !refused {
		t.Error("new connections were still accepted 5s into the shutdown")
	}
	close(body.release)
	r := <-res
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("the in-flight request failed: %d %v", r.status, r.err)
	}
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.log.String())
	}
	if !strings.Contains(p.log.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", p.log.String())
	}
	// The item is really stored.
	q := startProcess(t, bin, dir)
	req, _ := http.NewRequest("GET", q.url+"/items/"+r.id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := tlsClient(t, dir, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the item written during shutdown is missing: %d", resp.StatusCode)
	}
}
