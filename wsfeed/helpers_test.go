package wsfeed

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
)

// fakeClock is the injected clock of the tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	feedPath   = "/ws/items"
	ticketPath = "/ws/ticket"
	appOrigin  = "https://app.example"
)

// env is a fortapi API with the feed, the ticket endpoint and one plain
// operation, served by httptest.
type env struct {
	t       *testing.T
	clock   *fakeClock
	start   time.Time
	feed    *Feed
	tickets *Tickets
	srv     *httptest.Server
	url     string // ws://host/ws/items

	mu      sync.Mutex
	revoked map[string]bool // subjects Revocations refuses
}

// principal answers the test credentials: bearer tokens named after their
// subject, and one cookie session of alice.
func (e *env) authenticate(r *http.Request) (*fortapi.Principal, error) {
	if v := r.Header.Values("Authorization"); len(v) > 0 {
		p := &fortapi.Principal{Scheme: fortapi.BearerScheme, Scopes: []string{"items:read"}, SessionID: "sid-" + v[0], TokenID: "jti-" + v[0]}
		switch v[0] {
		case "Bearer alice", "Bearer bob", "Bearer carol":
			p.Subject = strings.TrimPrefix(v[0], "Bearer ")
		case "Bearer admin":
			p.Subject, p.Scopes = "admin", []string{"items:read", "users:admin"}
		case "Bearer noscope":
			p.Subject, p.Scopes = "dave", []string{"profile:read"}
		case "Bearer short":
			p.Subject, p.ExpiresAt = "erin", e.start.Add(time.Minute)
		default:
			return nil, errors.New("unknown token")
		}
		return p, nil
	}
	if c, err := r.Cookie(fortapi.DefaultSessionCookie); err == nil {
		if c.Value == "alice-session" {
			return &fortapi.Principal{Subject: "alice", Scheme: fortapi.SessionScheme, Scopes: []string{"items:read"}, SessionID: "web-alice"}, nil
		}
		return nil, errors.New("unknown session")
	}
	return nil, fortapi.ErrNoCredentials
}

func newEnv(t testing.TB, opt func(*Options)) *env {
	tt, _ := t.(*testing.T)
	e := &env{t: tt, clock: newClock(), revoked: map[string]bool{}}
	e.start = e.clock.Now()
	var err error
	e.tickets, err = NewTickets(TicketOptions{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	prot, err := csrf.New(csrf.Options{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	api := fortapi.New(fortapi.Options{
		Title: "feed test", Authenticator: fortapi.AuthenticatorFunc(e.authenticate), Logger: log,
		Session: &fortapi.SessionCookie{}, CSRF: prot,
	})
	o := Options{
		Tickets: e.tickets, Origins: []string{appOrigin}, AllScope: "users:admin",
		Revocations: RevocationsFunc(func(_ context.Context, p *fortapi.Principal) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.revoked[p.Subject] {
				return errors.New("revoked")
			}
			return nil
		}),
		Now: e.clock.Now, Logger: log,
	}
	if opt != nil {
		opt(&o)
	}
	e.feed, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(api, huma.Operation{OperationID: "item-feed", Path: feedPath, Security: Scopes("items:read")}, e.feed); err != nil {
		t.Fatal(err)
	}
	RegisterTickets(api, huma.Operation{OperationID: "ws-ticket", Path: ticketPath, Security: fortapi.Authenticated()}, e.tickets)
	huma.Register(api, huma.Operation{OperationID: "list-items", Method: http.MethodGet, Path: "/items", Security: fortapi.Scopes("items:read")},
		func(ctx context.Context, _ *struct{}) (*struct{}, error) { return nil, nil })
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	e.url = "ws" + strings.TrimPrefix(e.srv.URL, "http") + feedPath
	t.Cleanup(func() {
		_ = e.feed.Close()
		e.srv.Close()
	})
	return e
}

func (e *env) revoke(subject string) {
	e.mu.Lock()
	e.revoked[subject] = true
	e.mu.Unlock()
}

// dial opens the feed with headers given as name, value pairs.
func (e *env) dial(query string, protos []string, hdr ...string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, e.url+query, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protos})
}

// mustDial opens the feed or fails the test.
func (e *env) mustDial(t testing.TB, query string, protos []string, hdr ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := e.dial(query, protos, hdr...)
	if err != nil {
		status := 0
		body := ""
		if resp != nil {
			status = resp.StatusCode
			if resp.Body != nil {
				b, _ := io.ReadAll(resp.Body)
				body = string(b)
			}
		}
		t.Fatalf("dial: %v (status %d %s)", err, status, body)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// ticket gets a ticket with the given Authorization.
func (e *env) ticket(t testing.TB, auth string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+ticketPath, nil)
	req.Header.Set("Authorization", auth)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", ticketPath, resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("ticket answer Cache-Control %q, want no-store", cc)
	}
	var out struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Ticket == "" || out.ExpiresIn < 1 || out.ExpiresIn > 30 {
		t.Fatalf("ticket answer %s: %v", b, err)
	}
	return out.Ticket
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeCode reads from c until it fails, within d, and returns the close
// status (-1 when the connection ended without a close frame).
func closeCode(t testing.TB, c *websocket.Conn, d time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the connection was not closed within %v", d)
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		}
	}
}
