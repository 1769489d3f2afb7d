package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/wsfeed"
)

// The WebSocket item feed (GET /ws/items, issue 14) against real `fortapi
// serve` processes: three instances A, B, C on one PostgreSQL schema. What
// one writes reaches the sockets of all three, once each, in the order of
// the item's writes; what one revokes closes the sockets of the others
// (4401) within the sweep interval; refusals happen before the upgrade.

// wsFleet is the instances of TestWSFeed and what the subtests share.
type wsFleet struct {
	insts     []*instance // A, B, C
	pgURL     string
	appName   string // the application_name of the fleet's connections
	masterKey string
	admin     string // an access token of admin
}

// wsDial opens GET /ws/items on in with the header h and subprotocols. It
// waits (up to 30 s) while the feed answers 503: an instance refuses
// upgrades until its item notifications are listened to.
func wsDial(t *testing.T, in *instance, query string, h http.Header, protos ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "wss" + strings.TrimPrefix(in.URL, "https") + "/ws/items" + query
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: in.c, HTTPHeader: h, Subprotocols: protos})
		cancel()
		if c != nil {
			t.Cleanup(func() { c.CloseNow() })
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return c, resp, err
		}
		time.Sleep(20 * time.Millisecond) // retrying a refused upgrade, not waiting for a result
	}
}

// mustWS opens the feed on in with a bearer token.
func mustWS(t *testing.T, in *instance, tok string) *websocket.Conn {
	t.Helper()
	c, resp, err := wsDial(t, in, "", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("opening the feed on %s: %d %v", in.name, status, err)
	}
	return c
}

// wsRefused asserts an upgrade refused with status, as problem+json.
func wsRefused(t *testing.T, what string, resp *http.Response, err error, status int) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: the upgrade succeeded, want %d", what, status)
	case resp == nil:
		t.Errorf("%s: no answer: %v", what, err)
	case resp.StatusCode != status:
		t.Errorf("%s: %d, want %d", what, resp.StatusCode, status)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json"):
		t.Errorf("%s: Content-Type %q, want problem+json", what, resp.Header.Get("Content-Type"))
	}
}

type feedEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Item *struct {
		ID    string `json:"id"`
		Owner string `json:"owner"`
		Name  string `json:"name"`
	} `json:"item"`
}

// nextEvent reads the next event from c within 15 s (a bound for a
// loaded machine, not a measurement), skipping those skip
// accepts (an administrator's socket sees the parallel subtests' items).
func nextEvent(t *testing.T, who string, c *websocket.Conn, skip ...func(feedEvent) bool) feedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("%s: reading an event: %v", who, err)
		}
		var ev feedEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: event %s: %v", who, b, err)
		}
		if len(skip) == 0 || skip[0] == nil || !skip[0](ev) {
			return ev
		}
	}
}

// closedWithin waits up to bound for c to end and returns its close code
// and how long it took.
func closedWithin(c *websocket.Conn, bound time.Duration) (websocket.StatusCode, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				return -1, time.Since(start), fmt.Errorf("still open after %v", bound)
			}
			if code := websocket.CloseStatus(err); code != -1 {
				return code, time.Since(start), nil
			}
			return -1, time.Since(start), fmt.Errorf("ended without a close frame: %w", err)
		}
	}
}

// call sends a JSON request with a bearer token to in; it returns the
// status and body.
func (f *wsFleet) call(t *testing.T, in *instance, method, path, tok, body string) (int, string) {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	r := do(in.c, method, in.URL+path, tok, ctype, body, 10*time.Second)
	if r.err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, in.name, r.err)
	}
	return r.status, r.body
}

// user creates a user with role (through A) and returns its id.
func (f *wsFleet) user(t *testing.T, name, role string) string {
	t.Helper()
	st, b := f.call(t, f.insts[0], "POST", "/users", f.admin,
		fmt.Sprintf(`{"username":%q,"password":%q,"role":%q}`, name, e2e.AdminPassword, role))
	var u struct{ ID string }
	if st != http.StatusCreated || json.Unmarshal([]byte(b), &u) != nil || u.ID == "" {
		t.Fatalf("creating %s: %d %s", name, st, b)
	}
	return u.ID
}

// login logs name in on in, with the scope when given.
func (f *wsFleet) login(t *testing.T, in *instance, name string, scope ...string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {e2e.AdminPassword}}
	if len(scope) > 0 {
		form.Set("scope", strings.Join(scope, " "))
	}
	r := postLogin(in, form)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("login of %s on %s: %d %v %.200s", name, in.name, r.status, r.err, r.body)
	}
	return tr.AccessToken
}

// startWSFleet starts A, B and C on a fresh schema; B caps sockets per
// user at 2.
func startWSFleet(t *testing.T) *wsFleet {
	t.Helper()
	f := &wsFleet{masterKey: randomHex(t, 32), appName: "fortapi-wstest-" + randomHex(t, 6)}
	u, err := url.Parse(pgtest.SchemaURL(t, "off"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", f.appName)
	u.RawQuery = q.Encode()
	f.pgURL = u.String()
	bin := shared.Binary(t)
	env := []string{"FORTAPI_POSTGRES_URL=" + f.pgURL, "FORTAPI_MASTER_KEY=" + f.masterKey, "FORTAPI_ADMIN_PASSWORD=" + e2e.AdminPassword}
	limits := []string{"--rate-login", "100000/minute", "--rate-writes", "100000/minute", "--rate-reads", "100000/minute",
		"--rate-global", "1000000/minute"}
	extra := [][]string{nil, {"--ws-max-conns-per-user", "2"}, nil}
	f.insts = make([]*instance, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"A", "B", "C"} {
		f.insts[i] = &instance{name: name, dir: t.TempDir()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.insts[i].Process, errs[i] = startInstance(t, bin, f.insts[i].dir, env, append(limits, extra[i]...)...)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %s: %v", f.insts[i].name, err)
		}
		f.insts[i].c = e2e.TLSClient(t, f.insts[i].dir, nil)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range f.insts {
				t.Logf("log of %s:\n%s", in.name, in.Log.String())
			}
		}
	})
	if f.admin, err = tokenFor(f.insts[0], "admin", e2e.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestWSFeed(t *testing.T) {
	t.Parallel()
	f := startWSFleet(t)
	a, b, c := f.insts[0], f.insts[1], f.insts[2]

	t.Run("parallel", func(t *testing.T) {
		t.Run("refused before the upgrade", func(t *testing.T) {
			t.Parallel()
			f.user(t, "rita", "user")
			rita := f.login(t, a, "rita")
			_, resp, err := wsDial(t, a, "", nil)
			wsRefused(t, "no credentials", resp, err, http.StatusUnauthorized)
			_, resp, err = wsDial(t, a, "?access_token="+url.QueryEscape(rita), nil)
			wsRefused(t, "a token in the URL", resp, err, http.StatusUnauthorized)
			_, resp, err = wsDial(t, a, "?token="+url.QueryEscape(rita), http.Header{"Authorization": {"Bearer " + rita}})
			wsRefused(t, "a bearer header and a token in the URL", resp, err, http.StatusUnprocessableEntity)
			writer := f.login(t, a, "rita", "items:write")
			_, resp, err = wsDial(t, a, "", http.Header{"Authorization": {"Bearer " + writer}})
			wsRefused(t, "a token without items:read", resp, err, http.StatusForbidden)
			for _, in := range f.insts {
				if strings.Contains(in.Log.String(), rita) {
					t.Errorf("the token reached the log of %s", in.name)
				}
			}
		})

		t.Run("a ticket is single-use", func(t *testing.T) {
			t.Parallel()
			f.user(t, "tess", "user")
			tess := f.login(t, a, "tess")
			st, body := f.call(t, a, "POST", "/ws/ticket", tess, "")
			var tk struct{ Ticket string }
			if st != 200 || json.Unmarshal([]byte(body), &tk) != nil || tk.Ticket == "" {
				t.Fatalf("POST /ws/ticket: %d %s", st, body)
			}
			origin := http.Header{"Origin": {a.URL}}
			ws, resp, err := wsDial(t, a, "", origin, wsfeed.TicketProtocol, tk.Ticket)
			if err != nil {
				t.Fatalf("the ticket: %v %v", resp, err)
			}
			_, resp, err = wsDial(t, a, "", origin, wsfeed.TicketProtocol, tk.Ticket)
			wsRefused(t, "the ticket again", resp, err, http.StatusUnauthorized)
			// A ticket is no credential on another instance either: it is
			// kept by the instance that issued it.
			if st, body = f.call(t, a, "POST", "/ws/ticket", tess, ""); st != 200 || json.Unmarshal([]byte(body), &tk) != nil {
				t.Fatalf("POST /ws/ticket: %d %s", st, body)
			}
			_, resp, err = wsDial(t, b, "", http.Header{"Origin": {b.URL}}, wsfeed.TicketProtocol, tk.Ticket)
			wsRefused(t, "A's ticket on B", resp, err, http.StatusUnauthorized)
			// The ticket's socket gets tess's items, written on C.
			st, body = f.call(t, c, "POST", "/items/", tess, `{"name":"by ticket","price":1}`)
			if st != http.StatusCreated {
				t.Fatalf("POST /items/ on C: %d %s", st, body)
			}
			if ev := nextEvent(t, "tess", ws); ev.Type != "item.created" || ev.Item == nil || ev.Item.Name != "by ticket" {
				t.Errorf("the ticket socket reads %+v", ev)
			}
		})

		t.Run("events reach every instance once, in order, to their owner and admins only", func(t *testing.T) {
			t.Parallel()
			aliceID := f.user(t, "alice", "user")
			bobID := f.user(t, "bob", "user")
			alice, bob := f.login(t, a, "alice"), f.login(t, b, "bob")
			socks := map[string]*websocket.Conn{}
			for _, in := range f.insts {
				socks["alice@"+in.name] = mustWS(t, in, alice)
			}
			socks["bob@B"] = mustWS(t, b, bob)
			root := f.login(t, c, "admin")
			socks["admin@C"] = mustWS(t, c, root)

			watchers := []string{"alice@A", "alice@B", "alice@C", "admin@C"}
			// The administrator's socket also sees the other subtests' items.
			var itemID string
			skip := map[string]func(feedEvent) bool{"admin@C": func(ev feedEvent) bool {
				return ev.ID != itemID && (ev.Item == nil || ev.Item.Owner != aliceID && ev.Item.Owner != bobID)
			}}
			// expect reads one event on every watcher: typ about itemID,
			// carrying the item named name (none for a deletion).
			expect := func(typ, name string) {
				t.Helper()
				for _, who := range watchers {
					ev := nextEvent(t, who, socks[who], skip[who])
					switch {
					case ev.Type != typ || ev.ID != itemID:
						t.Fatalf("%s reads %s %s, want %s %s", who, ev.Type, ev.ID, typ, itemID)
					case name == "" && ev.Item != nil:
						t.Fatalf("%s: the deletion carries an item", who)
					case name != "" && (ev.Item == nil || ev.Item.Name != name || ev.Item.Owner != aliceID || ev.Item.ID != itemID):
						t.Fatalf("%s: %s carries %+v, want the item named %q", who, typ, ev.Item, name)
					}
				}
			}
			// alice writes one item on A, updates it on B, C and A, deletes
			// it on B, each write once the last one's event has arrived
			// everywhere: every event reaches every socket, exactly.
			st, body := f.call(t, a, "POST", "/items/", alice, `{"name":"v0","price":1}`)
			var it struct{ ID string }
			if st != http.StatusCreated || json.Unmarshal([]byte(body), &it) != nil {
				t.Fatalf("POST /items/: %d %s", st, body)
			}
			itemID = it.ID
			expect("item.created", "v0")
			for v := 1; v <= 3; v++ {
				in := f.insts[v%3]
				if st, body := f.call(t, in, "PUT", "/items/"+it.ID, alice, fmt.Sprintf(`{"name":"v%d","price":1}`, v)); st != 200 {
					t.Fatalf("PUT on %s: %d %s", in.name, st, body)
				}
				expect("item.updated", fmt.Sprint("v", v))
			}
			if st, body := f.call(t, b, "DELETE", "/items/"+it.ID, alice, ""); st != http.StatusNoContent {
				t.Fatalf("DELETE on B: %d %s", st, body)
			}
			expect("item.deleted", "")

			// A large item (a description over the 3400 bytes a notification
			// carries) is read by each instance: the same events.
			big := strings.Repeat("d", 5000)
			st, body = f.call(t, b, "POST", "/items/", alice, fmt.Sprintf(`{"name":"big0","price":1,"description":%q}`, big))
			if st != http.StatusCreated || json.Unmarshal([]byte(body), &it) != nil {
				t.Fatalf("POST /items/: %d %s", st, body)
			}
			itemID = it.ID
			expect("item.created", "big0")
			if st, body := f.call(t, c, "PUT", "/items/"+it.ID, alice, fmt.Sprintf(`{"name":"big1","price":1,"description":%q}`, big)); st != 200 {
				t.Fatalf("PUT: %d %s", st, body)
			}
			expect("item.updated", "big1")
			if st, body := f.call(t, a, "DELETE", "/items/"+it.ID, alice, ""); st != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", st, body)
			}
			expect("item.deleted", "")

			// A burst on one item, written from the three instances without
			// waiting: every socket reads every event, in the order of the
			// writes, each with the state its write left.
			st, body = f.call(t, c, "POST", "/items/", alice, `{"name":"v0","price":1}`)
			if st != http.StatusCreated || json.Unmarshal([]byte(body), &it) != nil {
				t.Fatalf("POST /items/: %d %s", st, body)
			}
			itemID = it.ID
			for v := 1; v <= 5; v++ {
				if st, body := f.call(t, f.insts[v%3], "PUT", "/items/"+it.ID, alice, fmt.Sprintf(`{"name":"v%d","price":1}`, v)); st != 200 {
					t.Fatalf("PUT: %d %s", st, body)
				}
			}
			if st, body := f.call(t, a, "DELETE", "/items/"+it.ID, alice, ""); st != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", st, body)
			}
			expect("item.created", "v0")
			for v := 1; v <= 5; v++ {
				expect("item.updated", fmt.Sprint("v", v))
			}
			expect("item.deleted", "")
			// Nothing twice, nothing of others: the next event of each
			// socket is a marker written after everything above.
			if st, body := f.call(t, c, "POST", "/items/", alice, `{"name":"alice's marker","price":1}`); st != http.StatusCreated {
				t.Fatalf("marker: %d %s", st, body)
			}
			if st, body := f.call(t, a, "POST", "/items/", bob, `{"name":"bob's marker","price":1}`); st != http.StatusCreated {
				t.Fatalf("marker: %d %s", st, body)
			}
			for who, name := range map[string]string{"alice@A": "alice's marker", "alice@B": "alice's marker", "alice@C": "alice's marker",
				"bob@B": "bob's marker", "admin@C": "alice's marker"} {
				if ev := nextEvent(t, who, socks[who], skip[who]); ev.Type != "item.created" || ev.Item == nil || ev.Item.Name != name {
					t.Errorf("%s reads %s %+v, want the creation of %q", who, ev.Type, ev.Item, name)
				}
			}
		})

		t.Run("the per-user cap is per instance: 429 before the upgrade", func(t *testing.T) {
			t.Parallel()
			f.user(t, "carol", "user")
			carol := f.login(t, b, "carol")
			first := mustWS(t, b, carol)
			mustWS(t, b, carol)
			_, resp, err := wsDial(t, b, "", http.Header{"Authorization": {"Bearer " + carol}})
			wsRefused(t, "a third socket on B (--ws-max-conns-per-user 2)", resp, err, http.StatusTooManyRequests)
			if resp != nil && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			mustWS(t, a, carol) // A counts its own
			// A place frees when a socket closes.
			first.Close(websocket.StatusNormalClosure, "")
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, resp, err := wsDial(t, b, "", http.Header{"Authorization": {"Bearer " + carol}})
				if err == nil {
					break
				}
				if resp == nil || resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
					t.Fatalf("after closing one of two sockets: %v %v", resp, err)
				}
				time.Sleep(multiPoll) // each try is a TLS handshake and a token check
			}
		})

		t.Run("revocations on A close sockets on B within a second", func(t *testing.T) {
			t.Parallel()
			type step struct {
				name   string
				user   string
				revoke func(t *testing.T, tok, id string)
			}
			steps := []step{
				{"logout", "lou", func(t *testing.T, tok, _ string) {
					if st, body := f.call(t, a, "POST", "/logout", tok, ""); st != http.StatusNoContent {
						t.Fatalf("logout: %d %s", st, body)
					}
				}},
				{"disable", "dina", func(t *testing.T, _, id string) {
					if st, body := f.call(t, a, "PATCH", "/users/"+id, f.admin, `{"disabled":true}`); st != 200 {
						t.Fatalf("disable: %d %s", st, body)
					}
				}},
				{"role change", "rolf", func(t *testing.T, _, id string) {
					if st, body := f.call(t, a, "PATCH", "/users/"+id, f.admin, `{"role":"admin"}`); st != 200 {
						t.Fatalf("role change: %d %s", st, body)
					}
				}},
				{"password change", "paul", func(t *testing.T, tok, _ string) {
					if st, body := f.call(t, a, "PUT", "/users/me/password", tok,
						fmt.Sprintf(`{"current_password":%q,"new_password":"another process-test passphrase"}`, e2e.AdminPassword)); st != http.StatusNoContent {
						t.Fatalf("password change: %d %s", st, body)
					}
				}},
			}
			for _, s := range steps {
				t.Run(s.name, func(t *testing.T) {
					t.Parallel()
					id := f.user(t, s.user, "user")
					tok := f.login(t, a, s.user)
					ws := mustWS(t, b, tok)
					s.revoke(t, tok, id)
					code, took, err := closedWithin(ws, 5*time.Second)
					if err != nil || code != wsfeed.CloseCredentials {
						t.Fatalf("the socket on B: code %d, %v; want %d", code, err, wsfeed.CloseCredentials)
					}
					t.Logf("%s on A (answer received) -> socket on B closed with %d after %v", s.name, code, took.Round(time.Millisecond))
				})
			}
		})
	})

	// Then: a lost listening connection closes C's sockets (4409).
	t.Run("the listener's connection lost: sockets told to resync", func(t *testing.T) {
		f.user(t, "lena", "user")
		lena := f.login(t, a, "lena")
		onA, onC := mustWS(t, a, lena), mustWS(t, c, lena)
		_ = onA
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, f.pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		// Every instance's listening connection (the fleet's connections
		// carry f.appName; the listener's last statement is its LISTEN or
		// its keep-alive ping): their sockets must all resync.
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND (query LIKE 'LISTEN %' OR query LIKE '-- ping%')`, f.appName).Scan(&n); err != nil || n == 0 {
			t.Fatalf("terminating the listeners: %d %v", n, err)
		}
		for _, ws := range []*websocket.Conn{onA, onC} {
			code, took, err := closedWithin(ws, 10*time.Second)
			if err != nil || code != wsfeed.CloseResync {
				t.Fatalf("code %d, %v; want %d", code, err, wsfeed.CloseResync)
			}
			t.Logf("closed with %d after %v", code, took.Round(time.Millisecond))
		}
	})
	// Last: revoking the signing key ends every token of the fleet.
	t.Run("revoking the signing key (fortapi keys revoke) closes token sockets on every instance", func(t *testing.T) {
		f.user(t, "kim", "user")
		kim := f.login(t, a, "kim")
		var socks []*websocket.Conn
		for _, in := range f.insts {
			socks = append(socks, mustWS(t, in, kim))
		}
		cmd := exec.Command(shared.Binary(t), "keys", "revoke", "--data-dir", t.TempDir(), "--", kidOf(t, kim))
		cmd.Env = append(os.Environ(), "FORTAPI_POSTGRES_URL="+f.pgURL, "FORTAPI_MASTER_KEY="+f.masterKey)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fortapi keys revoke: %v\n%s", err, out)
		}
		exited := time.Since(start)
		for i, ws := range socks {
			code, took, err := closedWithin(ws, 5*time.Second)
			if err != nil || code != wsfeed.CloseCredentials {
				t.Fatalf("the socket on %s: code %d, %v; want %d", f.insts[i].name, code, err, wsfeed.CloseCredentials)
			}
			t.Logf("socket on %s closed with %d %v after the CLI exited (the CLI took %v)", f.insts[i].name, code, took.Round(time.Millisecond), exited.Round(time.Millisecond))
		}
	})

}
