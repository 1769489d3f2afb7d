package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
)

// TestAcknowledgedWritesSurviveSIGKILL kills the server in the middle of a
// write load and checks that every item answered 201 is there after a
// restart.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	bin := shared.Binary(t)
	dir := t.TempDir()
	p := e2e.Serve(t, bin, dir)
	c := e2e.TLSClient(t, dir, nil)
	tok := e2e.Login(t, c, p.URL)

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
				status, id, err := e2e.PostItem(c, p.URL, tok, body)
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
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	cancel()
	_ = p.Wait(t)
	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) < 50 {
		t.Fatalf("only %d writes were acknowledged before the kill; the test proves nothing", len(ids))
	}

	q := e2e.Serve(t, bin, dir)
	c = e2e.TLSClient(t, dir, nil)
	// The token signed before the crash still verifies: the signing keys
	// and the revocation log are in the database too.
	missing := 0
	for _, id := range ids {
		req, _ := http.NewRequest("GET", q.URL+"/items/"+id, nil)
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
	bin := shared.Binary(t)
	dir := t.TempDir()
	p := e2e.Serve(t, bin, dir)
	c := e2e.TLSClient(t, dir, nil)
	tok := e2e.Login(t, c, p.URL)
	body := &slowBody{parts: []string{`{"name":"in flight",`, `"price":2}`}, release: make(chan struct{}), started: make(chan struct{})}
	type result struct {
		status int
		id     string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		s, id, err := e2e.PostItem(c, p.URL, tok, body)
		res <- result{s, id, err}
	}()
	select {
	case <-body.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the request did not start")
	}
	time.Sleep(200 * time.Millisecond) // let the server read the first part
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Log.String(), "shutting down"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown in the log:\n%s", p.Log.String())
		}
	}
	// The listener closes right after the log line: within a bound, new
	// connections must be refused while the old request is still open.
	refused := false
	for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fresh := e2e.TLSClient(t, dir, nil)
		resp, err := fresh.Get(p.URL + "/healthz")
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
	if err := p.Wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Log.String())
	}
	if !strings.Contains(p.Log.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", p.Log.String())
	}
	// The item is really stored.
	q := e2e.Serve(t, bin, dir)
	req, _ := http.NewRequest("GET", q.URL+"/items/"+r.id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e2e.TLSClient(t, dir, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the item written during shutdown is missing: %d", resp.StatusCode)
	}
}
