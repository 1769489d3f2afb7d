package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/wsfeed"
)

// The WebSocket feed of the composed server (GET /ws/items, POST
// /ws/ticket) over TLS: authenticated before the upgrade, no token in the
// URL, origin-checked for cookies, owner-filtered, closed on revocation.

const wsPass = "a long enough test passphrase"

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type wsEnv struct {
	t    *testing.T
	a    *App
	srv  *httptest.Server
	logs *syncBuffer
	ids  map[string]string // username -> user id
}

// newWSEnv serves a fresh App (SQLite, Run running, every log line at
// debug level captured) over TLS, with the users alice and bob (role
// user) and root (admin). cfg, when given, is used instead of a fresh
// testConfig (to share a store).
func newWSEnv(t *testing.T, cfg *Config) *wsEnv {
	t.Helper()
	e := &wsEnv{t: t, logs: &syncBuffer{}, ids: map[string]string{}}
	c := testConfig(t)
	if cfg != nil {
		c = *cfg
	}
	c.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.Limits.Scale = 10 // a test logs in more than 10 times a minute
	a, err := New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { a.Run(ctx); close(ran) }()
	e.srv = httptest.NewTLSServer(a.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		cancel()
		<-ran
		a.Close()
	})
	if cfg == nil {
		for name, role := range map[string]server.Role{"alice": server.RoleUser, "bob": server.RoleUser, "root": server.RoleAdmin} {
			u, err := a.Auth().CreateUser(context.Background(), name, wsPass, role, "test")
			if err != nil {
				t.Fatal(err)
			}
			e.ids[name] = u.ID
		}
	}
	return e
}

// login returns an access token of user, narrowed to scope when given.
func (e *wsEnv) login(user string, scope ...string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {wsPass}}
	if len(scope) > 0 {
		form.Set("scope", strings.Join(scope, " "))
	}
	resp, err := e.srv.Client().PostForm(e.srv.URL+"/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		e.t.Fatalf("POST /token as %s: %d %v", user, resp.StatusCode, err)
	}
	return tok.AccessToken
}

// session starts a web session of user and returns its cookie.
func (e *wsEnv) session(user string) *http.Cookie {
	e.t.Helper()
	ws, err := e.a.Auth().WebLogin(context.Background(), authn.Login{Username: user, Password: wsPass})
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Cookie{Name: e.a.Auth().CookieName(), Value: ws.Cookie}
}

// call sends a JSON request with a bearer token and returns the status
// and body.
func (e *wsEnv) call(method, path, tok string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// item creates an item as tok's user and returns its id.
func (e *wsEnv) item(tok, name string) string {
	e.t.Helper()
	st, b := e.call(http.MethodPost, "/items/", tok, map[string]any{"name": name, "price": 2.5, "tax": 0.5})
	if st != http.StatusCreated {
		e.t.Fatalf("POST /items/: %d %s", st, b)
	}
	var it struct{ ID string }
	_ = json.Unmarshal(b, &it)
	return it.ID
}

func (e *wsEnv) wsURL(query string) string {
	return "wss" + strings.TrimPrefix(e.srv.URL, "https") + "/ws/items" + query
}

// dial opens the feed with h (and subprotocols); it returns the socket or
// the refusing answer.
func (e *wsEnv) dial(query string, h http.Header, protos ...string) (*websocket.Conn, *http.Response, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.wsURL(query), &websocket.DialOptions{
		HTTPClient: e.srv.Client(), HTTPHeader: h, Subprotocols: protos,
	})
	if c != nil {
		e.t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// mustDial opens the feed or fails.
func (e *wsEnv) mustDial(h http.Header, protos ...string) *websocket.Conn {
	e.t.Helper()
	c, resp, err := e.dial("", h, protos...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial: %d %v", status, err)
	}
	return c
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// refused asserts that the upgrade was answered status, as problem+json.
func refused(t *testing.T, what string, resp *http.Response, err error, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: the upgrade succeeded, want %d", what, status)
	}
	if resp == nil {
		t.Fatalf("%s: no answer: %v", what, err)
	}
	if resp.StatusCode != status {
		t.Errorf("%s: %d, want %d", what, resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
}

// wsEvent is a message of the feed.
type wsEvent struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Item json.RawMessage `json:"item"`
}

func read(t *testing.T, c *websocket.Conn) wsEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText {
		t.Fatalf("reading an event: %v %v", typ, err)
	}
	var ev wsEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("event %s: %v", b, err)
	}
	return ev
}

// closedWith asserts that c is closed with code within d.
func closedWith(t *testing.T, c *websocket.Conn, code websocket.StatusCode, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	for {
		_, msg, err := c.Read(ctx)
		if err == nil {
			continue // an event sent before the close
		}
		if got := websocket.CloseStatus(err); got != code {
			t.Fatalf("socket ended after %v with %v (status %d), want %d within %v", time.Since(start), err, got, code, d)
		}
		_ = msg
		return
	}
}

func TestWSRefusedBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, nil)
	alice := e.login("alice")

	_, resp, err := e.dial("", nil)
	refused(t, "no credentials", resp, err, http.StatusUnauthorized)
	if resp != nil && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer: %q", resp.Header.Get("WWW-Authenticate"))
	}

	// A token in the URL is no credential, and is never logged.
	_, resp, err = e.dial("?access_token="+url.QueryEscape(alice), nil)
	refused(t, "?access_token=", resp, err, http.StatusUnauthorized)
	_, resp, err = e.dial("?access_token="+url.QueryEscape(alice), bearer(alice))
	refused(t, "bearer and ?access_token=", resp, err, http.StatusUnprocessableEntity)
	if resp != nil {
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), alice) {
			t.Error("the answer echoes the token from the URL")
		}
	}

	// items:write alone is not items:read.
	writer := e.login("alice", server.ScopeItemsWrite)
	_, resp, err = e.dial("", bearer(writer))
	refused(t, "a token without items:read", resp, err, http.StatusForbidden)

	// A cross-site page opening the socket with alice's cookies.
	cookie := e.session("alice")
	h := http.Header{"Cookie": {cookie.String()}, "Origin": {"https://evil.example"}}
	_, resp, err = e.dial("", h)
	refused(t, "session cookie from a foreign origin", resp, err, http.StatusForbidden)
	// The same cookie from the server's own origin is accepted.
	h.Set("Origin", e.srv.URL)
	e.mustDial(h).CloseNow()
	// A bearer header needs no Origin check: a page cannot set it.
	e.mustDial(http.Header{"Authorization": {"Bearer " + alice}, "Origin": {"https://evil.example"}}).CloseNow()

	if logs := e.logs.String(); strings.Contains(logs, alice) || strings.Contains(logs, cookie.Value) {
		t.Error("a credential reached the log")
	}
}

func TestWSTicketSingleUse(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, nil)
	bob := e.login("bob")
	st, b := e.call(http.MethodPost, "/ws/ticket", bob, nil)
	if st != http.StatusOK {
		t.Fatalf("POST /ws/ticket: %d %s", st, b)
	}
	var tk struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tk); err != nil || tk.Ticket == "" || tk.ExpiresIn < 1 || tk.ExpiresIn > 30 {
		t.Fatalf("ticket answer %s: %v", b, err)
	}
	c := e.mustDial(http.Header{"Origin": {e.srv.URL}}, wsfeed.TicketProtocol, tk.Ticket)
	if c.Subprotocol() != wsfeed.TicketProtocol {
		t.Errorf("subprotocol %q, want %q", c.Subprotocol(), wsfeed.TicketProtocol)
	}
	_, resp, err := e.dial("", nil, wsfeed.TicketProtocol, tk.Ticket)
	refused(t, "the ticket again", resp, err, http.StatusUnauthorized)

	// The socket opened with the ticket gets bob's events.
	id := e.item(bob, "bob's")
	if ev := read(t, c); ev.Type != "item.created" || ev.ID != id {
		t.Errorf("bob reads %+v, want item.created %s", ev, id)
	}
	if strings.Contains(e.logs.String(), tk.Ticket) {
		t.Error("the ticket reached the log")
	}
}

func TestWSItemEvents(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, nil)
	alice, bob, root := e.login("alice"), e.login("bob"), e.login("root")
	ca := e.mustDial(bearer(alice))
	cb := e.mustDial(bearer(bob))
	rootCookie := e.session("root")
	cr := e.mustDial(http.Header{"Cookie": {rootCookie.String()}, "Origin": {e.srv.URL}})

	a1 := e.item(alice, "alice's")
	b1 := e.item(bob, "bob's")
	if st, b := e.call(http.MethodPut, "/items/"+a1, alice, map[string]any{"name": "renamed", "price": 3}); st != 200 {
		t.Fatalf("PUT: %d %s", st, b)
	}
	_, getA1 := e.call(http.MethodGet, "/items/"+a1, alice, nil)
	if st, b := e.call(http.MethodDelete, "/items/"+a1, alice, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", st, b)
	}
	// The administrator deletes bob's item: bob is told.
	if st, b := e.call(http.MethodDelete, "/items/"+b1, root, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE as admin: %d %s", st, b)
	}

	type want struct{ typ, id string }
	expect := func(who string, c *websocket.Conn, ws ...want) []wsEvent {
		t.Helper()
		var got []wsEvent
		for _, w := range ws {
			ev := read(t, c)
			if ev.Type != w.typ || ev.ID != w.id {
				t.Fatalf("%s reads %s %s, want %s %s", who, ev.Type, ev.ID, w.typ, w.id)
			}
			got = append(got, ev)
		}
		return got
	}
	evA := expect("alice", ca, want{"item.created", a1}, want{"item.updated", a1}, want{"item.deleted", a1})
	expect("bob", cb, want{"item.created", b1}, want{"item.deleted", b1})
	expect("root", cr, want{"item.created", a1}, want{"item.created", b1}, want{"item.updated", a1},
		want{"item.deleted", a1}, want{"item.deleted", b1})

	// The item as GET /items/{id} returns it; none for a deletion.
	var fromEvent, fromGet map[string]any
	_ = json.Unmarshal(evA[1].Item, &fromEvent)
	_ = json.Unmarshal(getA1, &fromGet)
	if fromEvent == nil || fromEvent["name"] != "renamed" || len(fromEvent) != len(fromGet) {
		t.Errorf("updated event item %s, GET /items/{id} %s", evA[1].Item, getA1)
	}
	for k, v := range fromGet {
		if fromEvent[k] != v {
			t.Errorf("event item %s = %v, GET says %v", k, fromEvent[k], v)
		}
	}
	if len(evA[2].Item) != 0 {
		t.Errorf("the deletion carries an item: %s", evA[2].Item)
	}

	// Nobody reads another user's item: nothing more is queued for bob.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, msg, err := cb.Read(ctx); err == nil {
		t.Errorf("bob reads another event: %s", msg)
	}
}

func TestWSClosedOnRevocation(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, nil)

	// Logout closes the socket of that session (4401), not the others.
	tok := e.login("alice")
	other := e.mustDial(bearer(e.login("alice")))
	c := e.mustDial(bearer(tok))
	start := time.Now()
	if st, b := e.call(http.MethodPost, "/logout", tok, nil); st != http.StatusNoContent {
		t.Fatalf("logout: %d %s", st, b)
	}
	closedWith(t, c, wsfeed.CloseCredentials, time.Second)
	t.Logf("closed %v after logout", time.Since(start))
	e.item(e.login("alice"), "still here")
	if ev := read(t, other); ev.Type != "item.created" {
		t.Errorf("the other session's socket reads %+v", ev)
	}

	// A password change closes every socket of the user, a session
	// cookie's too.
	cookie := e.session("alice")
	cs := e.mustDial(http.Header{"Cookie": {cookie.String()}, "Origin": {e.srv.URL}})
	start = time.Now()
	if st, b := e.call(http.MethodPut, "/users/me/password", e.login("alice"),
		map[string]string{"current_password": wsPass, "new_password": "another long test passphrase"}); st != http.StatusNoContent {
		t.Fatalf("password change: %d %s", st, b)
	}
	closedWith(t, other, wsfeed.CloseCredentials, time.Second)
	closedWith(t, cs, wsfeed.CloseCredentials, time.Second)
	t.Logf("closed %v after the password change", time.Since(start))
}

// TestWSRevocationFromAnotherInstance: a revocation made by another
// instance on the same store reaches this one through the revocation log
// (replayed by Run) and closes the socket.
func TestWSRevocationFromAnotherInstance(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	e := newWSEnv(t, &cfg)
	ctx := context.Background()
	u, err := e.a.Auth().CreateUser(ctx, "alice", wsPass, server.RoleUser, "test")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := e.a.Auth().CreateUser(ctx, "root", wsPass, server.RoleAdmin, "test")
	if err != nil {
		t.Fatal(err)
	}
	other := newWSEnv(t, &cfg) // the second instance
	c := e.mustDial(bearer(e.login("alice")))
	start := time.Now()
	if _, err := other.a.Auth().SetDisabled(ctx, u.ID, true, admin.ID); err != nil {
		t.Fatal(err)
	}
	closedWith(t, c, wsfeed.CloseCredentials, 1500*time.Millisecond)
	t.Logf("closed %v after the other instance disabled the user", time.Since(start))
}

// TestWSClosedOnKeyRevocation: a socket opened with a token closes (4401)
// when the key that signed the token is revoked; one opened with a
// session cookie (no key) stays.
func TestWSClosedOnKeyRevocation(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, nil)
	tok := e.login("alice")
	c := e.mustDial(bearer(tok))
	cookie := e.session("alice")
	cs := e.mustDial(http.Header{"Cookie": {cookie.String()}, "Origin": {e.srv.URL}})
	kid := ""
	for _, k := range e.a.Keys().Keys() {
		if k.State == jwtkey.StateActive {
			kid = k.ID
		}
	}
	if kid == "" {
		t.Fatal("no active key")
	}
	start := time.Now()
	if err := e.a.Auth().RevokeKey(context.Background(), kid, e.ids["root"]); err != nil {
		t.Fatal(err)
	}
	closedWith(t, c, wsfeed.CloseCredentials, 3*time.Second)
	t.Logf("closed %v after the key revocation", time.Since(start))
	e.item(e.login("alice"), "after")
	if ev := read(t, cs); ev.Type != "item.created" {
		t.Errorf("the cookie socket reads %+v", ev)
	}
}

// TestWSClosedOnExpiry: a token's socket closes (4401, "credentials
// expired") once the token's exp passes, a session cookie's once the
// session's absolute end passes, on the server's clock.
func TestWSClosedOnExpiry(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64 // nanoseconds added to the real clock
	cfg := testConfig(t)
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := newWSEnv(t, &cfg)
	ctx := context.Background()
	if _, err := e.a.Auth().CreateUser(ctx, "alice", wsPass, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	ct := e.mustDial(bearer(e.login("alice")))
	cookie := e.session("alice")
	cs := e.mustDial(http.Header{"Cookie": {cookie.String()}, "Origin": {e.srv.URL}})

	skew.Store(int64(DefaultAccessLifetime + time.Second)) // past the token's exp
	closedWith(t, ct, wsfeed.CloseCredentials, 3*time.Second)
	// The session lives on: its socket still reads events.
	e.item(e.login("alice"), "still")
	if ev := read(t, cs); ev.Type != "item.created" {
		t.Fatalf("the session's socket reads %+v", ev)
	}
	skew.Store(int64(authn.DefaultWebLifetime + time.Second)) // past the session's end
	closedWith(t, cs, wsfeed.CloseCredentials, 3*time.Second)
}
