package wsfeed

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fortapi/fortapi"
)

// TestRefusedBeforeTheUpgrade: every refusal is an HTTP answer in
// problem+json, before any upgrade, and opens no socket.
func TestRefusedBeforeTheUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	upgrade := []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	cases := []struct {
		name   string
		query  string
		hdr    []string
		status int
		www    string // WWW-Authenticate, when not ""
	}{
		{"anonymous", "", upgrade, http.StatusUnauthorized, `Bearer realm="api"`},
		{"bad bearer", "", append([]string{"Authorization", "Bearer forged"}, upgrade...), http.StatusUnauthorized, `Bearer realm="api", error="invalid_token"`},
		{"missing scope", "", append([]string{"Authorization", "Bearer noscope"}, upgrade...), http.StatusForbidden, `Bearer realm="api", error="insufficient_scope", scope="items:read"`},
		{"bad cookie", "", append([]string{"Cookie", "__Host-session=stolen"}, upgrade...), http.StatusUnauthorized, `Bearer realm="api", error="invalid_token"`},
		{"token in the query, alone", "?access_token=alice", upgrade, http.StatusUnauthorized, `Bearer realm="api"`},
		{"bearer in the query, alone", "?authorization=Bearer+alice", upgrade, http.StatusUnauthorized, `Bearer realm="api"`},
		{"token in the query beside a header", "?token=alice", append([]string{"Authorization", "Bearer alice"}, upgrade...), http.StatusUnprocessableEntity, ""},
		{"forged ticket", "?ticket=" + strings.Repeat("A", ticketLen), upgrade, http.StatusUnauthorized, `Bearer realm="api", error="invalid_token"`},
		{"short ticket", "?ticket=abc", upgrade, http.StatusUnauthorized, `Bearer realm="api", error="invalid_token"`},
		{"repeated ticket", "?ticket=a&ticket=b", upgrade, http.StatusUnauthorized, `Bearer realm="api", error="invalid_token"`},
		{"plain GET", "", []string{"Authorization", "Bearer alice"}, http.StatusUpgradeRequired, ""},
		{"old version", "", []string{"Authorization", "Bearer alice", "Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "8", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusUpgradeRequired, ""},
		{"bad key", "", []string{"Authorization", "Bearer alice", "Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "short"}, http.StatusBadRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+feedPath+tc.query, nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Add(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := resp.Header.Get("WWW-Authenticate"); tc.www != "" && got != tc.www {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.www)
			}
			if tc.status == http.StatusUpgradeRequired && resp.Header.Get("Upgrade") != "websocket" {
				t.Errorf("426 without Upgrade: websocket")
			}
			if strings.Contains(string(body), "alice") {
				t.Errorf("the answer echoes a credential: %s", body)
			}
			if n := e.feed.Conns(); n != 0 {
				t.Errorf("%d sockets open", n)
			}
		})
	}
	// And through a real client: the handshake fails with the status.
	if _, resp, err := e.dial("?access_token=alice", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token in the URL opened the feed: %v", err)
	}
}

// TestCredentials: each accepted way in, and what the socket says.
func TestCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cases := []struct {
		name   string
		query  func() string
		protos func() []string
		hdr    []string
		proto  string // the selected subprotocol
	}{
		{"bearer header", nil, nil, []string{"Authorization", "Bearer alice"}, ""},
		{"bearer header, foreign origin", nil, nil, []string{"Authorization", "Bearer alice", "Origin", "https://evil.example"}, ""},
		{"cookie session, own origin", nil, nil, []string{"Cookie", "__Host-session=alice-session", "Origin", "http://" + strings.TrimPrefix(e.srv.URL, "http://")}, ""},
		{"ticket subprotocol", nil, func() []string { return []string{TicketProtocol, e.ticket(t, "Bearer alice")} }, nil, TicketProtocol},
		{"ticket query", func() string { return "?ticket=" + e.ticket(t, "Bearer alice") }, nil, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := ""
			if tc.query != nil {
				q = tc.query()
			}
			var protos []string
			if tc.protos != nil {
				protos = tc.protos()
			}
			c := e.mustDial(t, q, protos, tc.hdr...)
			if got := c.Subprotocol(); got != tc.proto {
				t.Errorf("subprotocol %q, want %q", got, tc.proto)
			}
			waitFor(t, 2*time.Second, "the socket to subscribe", func() bool { return e.feed.Conns() == 1 })
			if err := e.feed.Publish(Event{Owner: "alice", Message: map[string]string{"type": "item.created"}}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			typ, b, err := c.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(b) != `{"type":"item.created"}` {
				t.Fatalf("read %v %q %v", typ, b, err)
			}
			_ = c.Close(websocket.StatusNormalClosure, "")
			waitFor(t, 2*time.Second, "the socket to go", func() bool { return e.feed.Conns() == 0 })
		})
	}
}

// TestTickets: single use, expiry, bound to the principal and accepted
// only where declared.
func TestTickets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	t.Run("single use", func(t *testing.T) {
		tk := e.ticket(t, "Bearer alice")
		c := e.mustDial(t, "", []string{TicketProtocol, tk})
		_, resp, err := e.dial("", []string{TicketProtocol, tk})
		if err == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a used ticket opened the feed again: %v", err)
		}
		if _, resp, err = e.dial("?ticket="+tk, nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a used ticket opened the feed in the query: %v", err)
		}
		_ = c.CloseNow()
	})
	t.Run("expires", func(t *testing.T) {
		tk := e.ticket(t, "Bearer alice")
		e.clock.Advance(MaxTicketTTL)
		if _, resp, err := e.dial("", []string{TicketProtocol, tk}); err == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("an expired ticket opened the feed: %v", err)
		}
	})
	t.Run("carries the principal", func(t *testing.T) {
		tk := e.ticket(t, "Bearer noscope")
		if _, resp, err := e.dial("", []string{TicketProtocol, tk}); err == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a ticket of a principal without items:read: %v", err)
		}
	})
	t.Run("only where declared", func(t *testing.T) {
		tk := e.ticket(t, "Bearer bob")
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/items?ticket="+tk, nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /items with a ticket: %d", resp.StatusCode)
		}
		// The other operation did not even look at it: still good here.
		c := e.mustDial(t, "?ticket="+tk, nil)
		_ = c.CloseNow()
	})
	t.Run("no ticket for a ticket", func(t *testing.T) {
		tk := e.ticket(t, "Bearer alice")
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+ticketPath+"?ticket="+tk, nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("a ticket bought a ticket")
		}
	})
	t.Run("both ways at once", func(t *testing.T) {
		a, b := e.ticket(t, "Bearer alice"), e.ticket(t, "Bearer alice")
		if _, resp, err := e.dial("?ticket="+a, []string{TicketProtocol, b}); err == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("two tickets: %v", err)
		}
	})
}

// TestOrigin: upgrades with ambient credentials only from the own origin
// or the allowlist; explicit bearer tokens and non-browsers from anywhere.
func TestOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	own := "http://" + strings.TrimPrefix(e.srv.URL, "http://")
	cookie := []string{"Cookie", "__Host-session=alice-session"}
	cases := []struct {
		name   string
		ticket bool
		hdr    []string
		ok     bool
	}{
		{"cookie, own origin", false, append([]string{"Origin", own}, cookie...), true},
		{"cookie, own origin in capitals", false, append([]string{"Origin", strings.ToUpper(own)}, cookie...), true},
		{"cookie, allowed origin", false, append([]string{"Origin", appOrigin}, cookie...), true},
		{"cookie, allowed origin with default port", false, append([]string{"Origin", appOrigin + ":443"}, cookie...), true},
		{"cookie, no origin (not a browser)", false, cookie, true},
		{"cookie, cross-site", false, append([]string{"Origin", "https://evil.example"}, cookie...), false},
		{"cookie, look-alike", false, append([]string{"Origin", "https://app.example.evil.example"}, cookie...), false},
		{"cookie, allowed host other scheme", false, append([]string{"Origin", "http://app.example"}, cookie...), false},
		{"cookie, own host other port", false, append([]string{"Origin", own + "1"}, cookie...), false},
		{"cookie, null", false, append([]string{"Origin", "null"}, cookie...), false},
		{"cookie, two origins", false, append([]string{"Origin", own, "Origin", "https://evil.example"}, cookie...), false},
		{"cookie and ambient Basic, cross-site", false, append([]string{"Origin", "https://evil.example", "Authorization", "Basic YTpi"}, cookie...), false},
		{"bearer, cross-site", false, []string{"Origin", "https://evil.example", "Authorization", "Bearer alice"}, true},
		{"ticket, cross-site", true, []string{"Origin", "https://evil.example"}, false},
		{"ticket, allowed origin", true, []string{"Origin", appOrigin}, true},
		{"ticket, no origin", true, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var protos []string
			if tc.ticket {
				protos = []string{TicketProtocol, e.ticket(t, "Bearer alice")}
			}
			c, resp, err := e.dial("", protos, tc.hdr...)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = c.CloseNow()
				return
			}
			if err == nil {
				_ = c.CloseNow()
				t.Fatal("accepted")
			}
			if resp == nil || resp.StatusCode/100 != 4 {
				t.Fatalf("refused with %v", err)
			}
			if resp.StatusCode == http.StatusForbidden && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("403 is not problem+json")
			}
		})
	}
}

// TestClientMessages: the feed reads no data: a message is refused with
// 1003, one over the read limit with 1009; pings are answered.
func TestClientMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.ReadLimit = 64 })
	cases := []struct {
		name string
		msg  []byte
		typ  websocket.MessageType
		code websocket.StatusCode
	}{
		{"text", []byte(`{"subscribe":"all"}`), websocket.MessageText, CloseUnsupportedData},
		{"binary", []byte{1, 2, 3}, websocket.MessageBinary, CloseUnsupportedData},
		{"empty", nil, websocket.MessageText, CloseUnsupportedData},
		{"at the limit", []byte(strings.Repeat("x", 64)), websocket.MessageText, CloseUnsupportedData},
		{"too big", []byte(strings.Repeat("x", 65)), websocket.MessageText, CloseTooBig},
		{"much too big", make([]byte, 1<<20), websocket.MessageBinary, CloseTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = c.Write(ctx, tc.typ, tc.msg) // may fail once the server has closed
			if code, reason := closeCode(t, c, 2*time.Second); code != tc.code {
				t.Fatalf("close %d %q, want %d", code, reason, tc.code)
			}
			waitFor(t, 2*time.Second, "the socket to go", func() bool { return e.feed.Conns() == 0 })
		})
	}
}

// TestConnectionCaps: per subject 429, global 503, both before the
// upgrade, and freed when sockets close.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.MaxConnsPerSubject = 2; o.MaxConns = 3 })
	a1 := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	_, resp, err := e.dial("", nil, "Authorization", "Bearer alice")
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third socket of alice: %v", err)
	}
	e.mustDial(t, "", nil, "Authorization", "Bearer bob")
	_, resp, err = e.dial("", nil, "Authorization", "Bearer carol")
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth socket: %v", err)
	}
	_ = a1.Close(websocket.StatusNormalClosure, "")
	waitFor(t, 2*time.Second, "alice's socket to go", func() bool { return e.feed.Conns() == 2 })
	e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	// A ticket counts for the subject it was issued to.
	tk := e.ticket(t, "Bearer alice")
	if _, resp, err = e.dial("", []string{TicketProtocol, tk}); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("ticket past the caps: %v", err)
	}
}

// TestSlowConsumer: a client that does not read is dropped once its
// queue is full; memory does not grow with what it misses.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opt  func(*Options)
	}{
		{"queue overflow", func(o *Options) { o.SendQueue = 2; o.WriteTimeout = time.Minute }},
		{"write timeout", func(o *Options) { o.SendQueue = 1 << 20; o.WriteTimeout = 200 * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opt)
			slow := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
			fast := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
			fast.SetReadLimit(1 << 20)
			waitFor(t, 2*time.Second, "two sockets", func() bool { return e.feed.Conns() == 2 })
			big := strings.Repeat("x", 256<<10)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// In step with the fast reader, until the slow one is dropped.
			sent := 0
			for e.feed.Conns() == 2 && sent < 2000 {
				if err := e.feed.Publish(Event{Owner: "alice", Message: big}); err != nil {
					t.Fatal(err)
				}
				sent++
				if _, _, err := fast.Read(ctx); err != nil {
					t.Fatalf("the fast reader, after %d events: %v", sent, err)
				}
			}
			waitFor(t, 5*time.Second, "the slow socket to be dropped", func() bool { return e.feed.Conns() == 1 })
			_ = slow.CloseNow()
			_ = fast.Close(websocket.StatusNormalClosure, "")
			t.Logf("dropped after %d events of 256 KiB", sent)
		})
	}
}

// TestKeepAlive: a peer that does not answer pings is cut after
// IdleTimeout; one that does stays.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.PingInterval = time.Minute
		o.IdleTimeout = 300 * time.Millisecond
		o.CheckInterval = 20 * time.Millisecond
	})
	alive := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	go func() { // reads, so answers pings
		for {
			if _, _, err := alive.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	dead := e.mustDial(t, "", nil, "Authorization", "Bearer bob")
	waitFor(t, 2*time.Second, "two sockets", func() bool { return e.feed.Conns() == 2 })
	e.clock.Advance(2 * time.Minute)
	waitFor(t, 3*time.Second, "the silent socket to be cut", func() bool { return e.feed.Conns() == 1 })
	if err := e.feed.Publish(Event{Owner: "alice", Message: 1}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute) // a second round of pings
	time.Sleep(600 * time.Millisecond)
	if n := e.feed.Conns(); n != 1 {
		t.Fatalf("%d sockets after the second ping, want the answering one", n)
	}
	if code, _ := closeCode(t, dead, 2*time.Second); code != -1 {
		t.Errorf("a dead peer got close code %d; it is cut", code)
	}
}

// TestRevokedMeansClosed: push, pull and expiry each close within 1 s
// with CloseCredentials, and nobody else.
func TestRevokedMeansClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		auth   string
		act    func(e *env)
		reason string
	}{
		{"pushed by subject", "Bearer alice", func(e *env) { e.feed.Revoke(MatchSubject("alice")) }, "credentials revoked"},
		{"pushed by session", "Bearer alice", func(e *env) { e.feed.Revoke(MatchSession("sid-Bearer alice")) }, "credentials revoked"},
		{"pushed by token", "Bearer alice", func(e *env) { e.feed.Revoke(MatchToken("jti-Bearer alice")) }, "credentials revoked"},
		{"found by Revocations", "Bearer alice", func(e *env) { e.revoke("alice") }, "credentials revoked"},
		{"expired", "Bearer short", func(e *env) { e.clock.Advance(time.Minute) }, "credentials expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil) // the default CheckInterval
			c := e.mustDial(t, "", nil, "Authorization", tc.auth)
			other := e.mustDial(t, "", nil, "Authorization", "Bearer bob")
			viaTicket := e.mustDial(t, "", []string{TicketProtocol, e.ticket(t, tc.auth)})
			waitFor(t, 2*time.Second, "three sockets", func() bool { return e.feed.Conns() == 3 })
			tc.act(e)
			for _, s := range []*websocket.Conn{c, viaTicket} {
				if code, reason := closeCode(t, s, time.Second); code != CloseCredentials || reason != tc.reason {
					t.Fatalf("close %d %q, want %d %q", code, reason, CloseCredentials, tc.reason)
				}
			}
			waitFor(t, time.Second, "the revoked sockets to go", func() bool { return e.feed.Conns() == 1 })
			if err := e.feed.Publish(Event{Owner: "bob", Message: "still here"}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, b, err := other.Read(ctx); err != nil || string(b) != `"still here"` {
				t.Fatalf("bob's socket: %q %v", b, err)
			}
		})
	}
}

// TestPublish: each socket gets the events its principal may see, in
// publish order.
func TestPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	bob := e.mustDial(t, "", nil, "Authorization", "Bearer bob")
	admin := e.mustDial(t, "", nil, "Authorization", "Bearer admin")
	waitFor(t, 2*time.Second, "three sockets", func() bool { return e.feed.Conns() == 3 })
	type msg struct {
		Owner string `json:"owner"`
		N     int    `json:"n"`
	}
	const n = 50
	for i := range n {
		owner := []string{"alice", "bob", "nobody"}[i%3]
		if err := e.feed.Publish(Event{Owner: owner, Message: msg{owner, i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.feed.Publish(Event{Message: make(chan int)}); err == nil {
		t.Error("Publish encoded a channel")
	}
	read := func(c *websocket.Conn, want func(i int) bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for i := range n {
			if !want(i) {
				continue
			}
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			var m msg
			if err := json.Unmarshal(b, &m); err != nil || m.N != i {
				t.Fatalf("got %s, want event %d", b, i)
			}
		}
	}
	read(alice, func(i int) bool { return i%3 == 0 })
	read(bob, func(i int) bool { return i%3 == 1 })
	read(admin, func(int) bool { return true })
}

// TestFeedClose: shutdown closes every socket with 1001 and refuses new
// upgrades with 503.
func TestFeedClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	waitFor(t, 2*time.Second, "the socket", func() bool { return e.feed.Conns() == 1 })
	done := make(chan error, 1)
	go func() { done <- e.feed.Close() }()
	if code, _ := closeCode(t, c, 2*time.Second); code != CloseGoingAway {
		t.Fatalf("close %d, want %d", code, CloseGoingAway)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, resp, err := e.dial("", nil, "Authorization", "Bearer alice"); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade after Close: %v", err)
	}
}

// TestServerTimeoutsDoNotCutSockets: fortapi.NewServer's read and write
// deadlines would outlive the hijack; the feed clears them.
func TestServerTimeoutsDoNotCutSockets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	h := e.srv.Config.Handler
	srv := httptest.NewUnstartedServer(h)
	srv.Config = fortapi.NewServer("", h, fortapi.ServerOptions{ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+feedPath,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	time.Sleep(300 * time.Millisecond) // past both server timeouts
	if err := e.feed.Publish(Event{Owner: "alice", Message: "late"}); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != `"late"` {
		t.Fatalf("read after the server timeouts: %q %v", b, err)
	}
}

// TestOpenAPI: the upgrade is in the document with the security it
// enforces, the ticket scheme and the ticket endpoint too.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	resp, err := e.srv.Client().Get(e.srv.URL + fortapi.OpenAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
			Parameters  []struct {
				Name, In string
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type, In, Name string
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths[feedPath]["get"]
	if !ok {
		t.Fatalf("no GET %s in the document", feedPath)
	}
	want := map[string]bool{fortapi.BearerScheme: false, fortapi.SessionScheme: false, TicketScheme: false}
	for _, alt := range op.Security {
		for scheme, scopes := range alt {
			if len(scopes) != 1 || scopes[0] != "items:read" {
				t.Errorf("%s requires %v", scheme, scopes)
			}
			if _, ok := want[scheme]; !ok {
				t.Errorf("unexpected scheme %s", scheme)
			}
			want[scheme] = true
		}
	}
	for s, seen := range want {
		if !seen {
			t.Errorf("GET %s does not declare %s", feedPath, s)
		}
	}
	for _, code := range []string{"101", "401", "403", "426", "429", "503"} {
		if _, ok := op.Responses[code]; !ok {
			t.Errorf("no %s response documented", code)
		}
	}
	params := map[string]string{}
	for _, p := range op.Parameters {
		params[p.Name] = p.In
	}
	if params[TicketParam] != "query" || len(params) != 2 {
		t.Errorf("parameters %v: want the ticket and Sec-WebSocket-Protocol only", params)
	}
	if s := doc.Components.SecuritySchemes[TicketScheme]; s.Type != "apiKey" || s.In != "query" || s.Name != TicketParam {
		t.Errorf("ticket scheme %+v", s)
	}
	if op := doc.Paths[ticketPath]["post"]; len(op.Security) == 0 {
		t.Errorf("POST %s declares no security", ticketPath)
	} else {
		for _, alt := range op.Security {
			if _, ok := alt[TicketScheme]; ok {
				t.Errorf("POST %s accepts tickets", ticketPath)
			}
		}
	}
}
