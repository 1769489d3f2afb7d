package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/storetest"
)

// Every test works in schemas of its own on the one test server
// (testutil.PostgresURL): newSchema creates fortapi_test_<random> and a
// URL whose search_path names it, and drops it when the test ends.

// testServer is the test PostgreSQL server: its URL and a small pool for
// creating and dropping schemas, closed when t ends.
type testServer struct {
	url   string
	admin *pgxpool.Pool
}

// newTestServer locates the server and connects to it, or skips t (fails
// it under FORTAPI_TEST_STRICT=1) when it cannot: an open port is not yet
// a database that takes connections.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	u := testutil.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatalf("%s does not parse", testutil.EnvPostgresURL)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off" // see newSchema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		testutil.Unavailable(t, "PostgreSQL", fmt.Sprintf("cannot connect to %s: %s",
			testutil.Redacted(u), redact(err.Error(), cfg.ConnConfig.Password)))
	}
	t.Cleanup(pool.Close)
	return &testServer{url: u, admin: pool}
}

// newSchema creates a fresh, empty schema, dropped (with everything in it)
// when t ends, and returns a URL whose connections put it first on their
// search_path.
func (ts *testServer) newSchema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "fortapi_test_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	ctx := context.Background()
	if _, err := ts.admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("creating schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := ts.admin.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	u := withParam(t, ts.url, "search_path", name)
	// Tests need no durability: a commit that does not wait for its WAL
	// flush makes the many small DDL transactions of each schema's
	// migrations fast. A server crash could lose the last commits of a
	// test schema, nothing else; the store's own behaviour is unchanged.
	return withParam(t, u, "synchronous_commit", "off")
}

// withParam returns the URL raw with the query parameter set.
func withParam(t testing.TB, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL to run these tests", testutil.EnvPostgresURL)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a store on u, closed when t ends.
func open(t testing.TB, opts Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the store contract suite, each of its tests on a
// store in a fresh schema.
func TestContract(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	storetest.Run(t, func(t *testing.T) server.Store {
		u := ts.newSchema(t)
		s, err := Open(context.Background(), Options{URL: u})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestRevocationLogCommitsInSeqOrder holds a transaction that has
// inserted into the revocation log open, and checks that a second insert
// waits for it: a reader polling "seq > last" can never see a later seq
// before an earlier one has committed.
func TestRevocationLogCommitsInSeqOrder(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	s := open(t, Options{URL: ts.newSchema(t)})
	ctx := context.Background()
	until := time.Now().Add(time.Hour)

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	first := server.Revocation{Kind: server.RevokeJTI, Value: "first", Until: until, CreatedAt: time.Now()}
	if err := s.execRevocations(ctx, tx, first); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "second", Until: until})
	}()
	// Wait until the second insert waits for the log's lock.
	waitFor(t, func() bool {
		var n int
		err := ts.admin.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
			uint32(s.revocationLock)).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	if got, err := s.Revocations(ctx, 0, time.Now(), 10); err != nil || len(got) != 0 {
		t.Fatalf("while the first insert is uncommitted, Revocations = %+v, %v; want nothing", got, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := s.Revocations(ctx, 0, time.Now(), 10)
	if err != nil || len(got) != 2 || got[0].Value != "first" || got[1].Value != "second" || got[0].Seq >= got[1].Seq {
		t.Fatalf("Revocations = %+v, %v; want first then second, in seq order", got, err)
	}
}

// waitFor polls cond until it holds, failing t after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLastAdminRace demotes the last two administrators at once, again
// and again: exactly one demotion wins each time, so one enabled
// administrator always remains.
func TestLastAdminRace(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	s := open(t, Options{URL: ts.newSchema(t)})
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const rounds = 10
	for round := range rounds {
		var admins [2]server.User
		for i := range admins {
			id, err := server.NewID(now, nil)
			if err != nil {
				t.Fatal(err)
			}
			admins[i] = server.User{ID: id, Username: fmt.Sprintf("admin-%d-%d", round, i), Role: server.RoleAdmin,
				PasswordHash: "$argon2id$x", CreatedAt: now}
			if err := s.CreateUser(ctx, admins[i], server.Event{}); err != nil {
				t.Fatal(err)
			}
		}
		if round > 0 { // the survivor of the last round leaves first
			survivors, err := s.pool.Query(ctx, "SELECT id FROM users WHERE role = 'admin' AND NOT disabled AND id <> ALL($1)",
				[][]byte{raw(admins[0].ID), raw(admins[1].ID)})
			if err != nil {
				t.Fatal(err)
			}
			ids, err := pgx.CollectRows(survivors, pgx.RowTo[[]byte])
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, err := s.UpdateUser(ctx, string(id), server.UserChange{Disabled: ptr(true)}, now, server.Event{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		errs := make(chan error, 2)
		start := make(chan struct{})
		for i := range admins {
			role := server.RoleUser
			go func() {
				<-start
				_, err := s.UpdateUser(ctx, admins[i].ID, server.UserChange{Role: &role}, now, server.Event{})
				errs <- err
			}()
		}
		close(start)
		var won, refused int
		for range admins {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, server.ErrLastAdmin):
				refused++
			default:
				t.Fatalf("round %d: UpdateUser: %v", round, err)
			}
		}
		if won != 1 || refused != 1 {
			t.Fatalf("round %d: %d demotions won, %d refused; want 1 and 1", round, won, refused)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestStatementTimeout checks that the timeout is set on every connection
// and ends a statement that runs longer.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	u := ts.newSchema(t)
	tests := []struct {
		name string
		opt  time.Duration
		want string
	}{
		{"default", 0, "5s"},
		{"rounded up to milliseconds", 250*time.Millisecond + 1500*time.Microsecond, "252ms"},
		{"set", 150 * time.Millisecond, "150ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, Options{URL: u, StatementTimeout: tc.opt})
			var got string
			if err := s.pool.QueryRow(context.Background(), "SHOW statement_timeout").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("statement_timeout = %q, want %q", got, tc.want)
			}
		})
	}
	s := open(t, Options{URL: u, StatementTimeout: 50 * time.Millisecond})
	_, err := s.pool.Exec(context.Background(), "SELECT pg_sleep(5)")
	if pgCode(err) != "57014" { // query_canceled
		t.Errorf("a statement longer than the timeout = %v, want it cancelled (57014)", err)
	}
}

// TestOpenRefusesBadOptions checks the options Open refuses before it
// connects.
func TestOpenRefusesBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"empty URL", Options{}},
		{"negative MaxConns", Options{URL: testutil.DefaultPostgresURL, MaxConns: -1}},
		{"huge MaxConns", Options{URL: testutil.DefaultPostgresURL, MaxConns: 1 << 40}},
		{"negative StatementTimeout", Options{URL: testutil.DefaultPostgresURL, StatementTimeout: -time.Second}},
		{"not a URL", Options{URL: "postgres://u:pw@host:port/db"}},
		{"unknown scheme", Options{URL: "mysql://u@host/db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Open(context.Background(), tc.opts); err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}

// TestClock checks that the times the store fills in come from Options.Now.
func TestClock(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	clock := testutil.NewClock(time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC))
	s := open(t, Options{URL: ts.newSchema(t), Now: clock.Now})
	ctx := context.Background()
	if err := s.AddEvent(ctx, server.Event{Type: server.EventKeyRotated}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "j", Until: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(ctx, server.EventFilter{Limit: 10})
	if err != nil || len(evs) != 1 || !evs[0].At.Equal(clock.Now()) {
		t.Errorf("events = %+v, %v; want one at the clock's time", evs, err)
	}
	revs, err := s.Revocations(ctx, 0, clock.Now(), 10)
	if err != nil || len(revs) != 1 || !revs[0].CreatedAt.Equal(clock.Now()) {
		t.Errorf("revocations = %+v, %v; want one created at the clock's time", revs, err)
	}
}

// TestOpenHidesPassword checks that no error of Open, and no log record
// of a successful one, contains the URL's password, nor lets a caller
// unwrap pgx's connection error (which carries the configuration,
// password included).
func TestOpenHidesPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	const pw = "S3cret-Pa55word"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	withPassword := func(raw, password string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), password)
		return u.String()
	}
	tests := []struct {
		name     string
		url      string
		password string // as it may appear in the text
	}{
		{"URL that does not parse", "postgres://fortapi:" + pw + "@127.0.0.1:notaport/test", pw},
		{"unknown parameter value", "postgres://fortapi:" + pw + "@127.0.0.1/test?sslmode=sometimes", pw},
		{"nobody listening", fmt.Sprintf("postgres://fortapi:%s@127.0.0.1:%d/test?connect_timeout=2", pw, closedPort), pw},
		{"keyword/value form", fmt.Sprintf("host=127.0.0.1 port=%d user=fortapi password=%s dbname=test connect_timeout=2", closedPort, pw), pw},
		{"percent-encoded password", fmt.Sprintf("postgres://fortapi:%s@127.0.0.1:%d/test?connect_timeout=2", url.QueryEscape(pw+"/?@"), closedPort), url.QueryEscape(pw + "/?@")},
		{"database does not exist", withParam(t, withPassword(ts.url, pw), "dbname", "fortapi_no_such_database"), pw},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, Options{URL: tc.url})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			for _, p := range []string{pw, tc.password} {
				if strings.Contains(err.Error(), p) {
					t.Errorf("error %q contains the password", err)
				}
			}
			var ce *pgconn.ConnectError
			var pe *pgconn.ParseConfigError
			if errors.As(err, &ce) || errors.As(err, &pe) {
				t.Errorf("error %q unwraps to pgx's error, which holds the password", err)
			}
			t.Logf("error: %v", err)
		})
	}

	t.Run("log of a successful open", func(t *testing.T) {
		var buf testutil.Buffer
		u := withPassword(ts.newSchema(t), pw) // trust authentication ignores it
		s := open(t, Options{URL: u, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		if buf.String() == "" {
			t.Fatal("nothing logged; the test checks nothing")
		}
		if strings.Contains(buf.String(), pw) {
			t.Errorf("the log contains the password: %s", buf.String())
		}
	})
}
