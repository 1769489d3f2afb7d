package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

// cutBound is how long a store call may take to fail once the server is
// gone: well under the statement timeout, since a cut connection fails at
// once.
const cutBound = 3 * time.Second

// notStoreCalls are the exported methods of *Store that TestEveryMethodCut
// does not call, and why. Every other exported method must have a case.
var notStoreCalls = map[string]string{
	"Close":    "closes the pool: no statement",
	"PoolStat": "reads the pool's counters: no statement",
	"Listen":   "starts a background listener whose Err() feeds readiness (TestListenerReconnects covers its loss)",
}

// cutStore opens a store in a fresh schema behind a proxy the test can
// cut; it returns the store, the proxy and a direct URL to the schema.
func cutStore(t *testing.T) (*Store, *testutil.TCPProxy, string) {
	t.Helper()
	ts := newTestServer(t)
	u := ts.newSchema(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewTCPProxy(t, pu.Host)
	pu.Host = proxy.Addr()
	return open(t, Options{URL: pu.String()}), proxy, u
}

func cutID(t testing.TB) string {
	t.Helper()
	id, err := server.NewID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func cutHash(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

const cutPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

// TestEveryMethodCut calls every exported method of Store that reaches the
// database with the server gone (a proxy closed every connection and
// refuses new ones): each must fail within cutBound with an error matching
// server.ErrUnavailable, which the HTTP layer answers 503 (never 500). The
// arguments are valid, so that no input check answers first. A method
// added to Store without a case here fails the test.
func TestEveryMethodCut(t *testing.T) {
	t.Parallel()
	s, proxy, _ := cutStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	day := 24 * time.Hour

	// Rows to act on, stored before the cut.
	user := server.User{ID: cutID(t), Username: "cutalice", Role: server.RoleAdmin, PasswordHash: cutPasswordHash, CreatedAt: now}
	if err := s.CreateUser(ctx, user, server.Event{}); err != nil {
		t.Fatal(err)
	}
	sess := server.Session{ID: cutID(t), UserID: user.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: now.Add(day)}
	rtHash := cutHash(t)
	if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: rtHash, CreatedAt: now, ExpiresAt: now.Add(day)}, server.Event{}); err != nil {
		t.Fatal(err)
	}
	key, err := apikey.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ak := server.APIKey{ID: key.ID, UserID: user.ID, Name: "cut", Hash: cutHash(t), Scopes: []string{server.ScopeItemsRead}, CreatedAt: now}
	if err := s.CreateAPIKey(ctx, ak, server.Event{}); err != nil {
		t.Fatal(err)
	}
	item := server.Item{ID: cutID(t), OwnerID: user.ID, Name: "x", Price: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateItem(ctx, item); err != nil {
		t.Fatal(err)
	}
	acc := server.Access{UserID: user.ID}
	ev := server.Event{Type: server.EventLoginSuccess, ClientIP: "192.0.2.1"}
	newSess := func() server.Session {
		return server.Session{ID: cutID(t), UserID: user.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: now.Add(day)}
	}
	succ := sha256.Sum256(rtHash)
	pw := "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo"

	calls := map[string]func() error{
		"Ping":          func() error { return s.Ping(ctx) },
		"CheckWritable": func() error { return s.CheckWritable(ctx) },
		"CreateItem": func() error {
			it := item
			it.ID = cutID(t)
			return s.CreateItem(ctx, it)
		},
		"GetItem":   func() error { _, err := s.GetItem(ctx, acc, item.ID); return err },
		"ListItems": func() error { _, err := s.ListItems(ctx, acc, "", 10); return err },
		"UpdateItem": func() error {
			it := item
			it.Name, it.UpdatedAt = "y", now.Add(time.Second)
			_, err := s.UpdateItem(ctx, acc, it)
			return err
		},
		"DeleteItem": func() error { return s.DeleteItem(ctx, acc, item.ID) },
		"CreateUser": func() error {
			u := user
			u.ID, u.Username = cutID(t), "cutbob"
			return s.CreateUser(ctx, u, ev)
		},
		"GetUser":       func() error { _, err := s.GetUser(ctx, user.ID); return err },
		"GetUserByName": func() error { _, err := s.GetUserByName(ctx, user.Username); return err },
		"ListUsers":     func() error { _, err := s.ListUsers(ctx, "", 10); return err },
		"UpdateUser": func() error {
			_, err := s.UpdateUser(ctx, user.ID, server.UserChange{PasswordHash: &pw}, now, ev)
			return err
		},
		"CreateSession": func() error {
			return s.CreateSession(ctx, newSess(), server.RefreshToken{Hash: cutHash(t), CreatedAt: now, ExpiresAt: now.Add(day)}, ev)
		},
		"RotateRefresh": func() error {
			_, err := s.RotateRefresh(ctx, server.RefreshRequest{Hash: rtHash, Now: now.Add(time.Second), Grace: 10 * time.Second,
				Next:   server.RefreshToken{Hash: succ[:], CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(day)},
				Revoke: server.Revocation{Until: now.Add(2 * day)}, Event: server.Event{Type: server.EventRefreshReuse}})
			return err
		},
		"RevokeSession": func() error {
			return s.RevokeSession(ctx, sess.ID, server.Revocation{Until: now.Add(day)}, now, server.Event{Type: server.EventLogout})
		},
		"AddRevocation": func() error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeSession, Value: sess.ID, Until: now.Add(day), CreatedAt: now})
		},
		"Revocations":  func() error { _, err := s.Revocations(ctx, 0, now, 10); return err },
		"PruneExpired": func() error { _, err := s.PruneExpired(ctx, now); return err },
		"AddEvent":     func() error { return s.AddEvent(ctx, ev) },
		"ListEvents":   func() error { _, err := s.ListEvents(ctx, server.EventFilter{Limit: 10}); return err },
		"EventsInOrder": func() error {
			_, err := s.EventsInOrder(ctx, server.EventCursor{}, time.Time{}, 10)
			return err
		},
		"PruneEvents": func() error { _, err := s.PruneEvents(ctx, now, 10); return err },
		"CreateAPIKey": func() error {
			k, err := apikey.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			a := ak
			a.ID, a.Hash = k.ID, cutHash(t)
			return s.CreateAPIKey(ctx, a, ev)
		},
		"ListAPIKeys":  func() error { _, err := s.ListAPIKeys(ctx, user.ID); return err },
		"LookupAPIKey": func() error { _, _, err := s.LookupAPIKey(ctx, ak.ID); return err },
		"TouchAPIKey":  func() error { return s.TouchAPIKey(ctx, ak.ID, now, now) },
		"RevokeAPIKey": func() error { return s.RevokeAPIKey(ctx, user.ID, ak.ID, now, ev) },
		"CreateWebSession": func() error {
			return s.CreateWebSession(ctx, newSess(), server.WebSession{Hash: cutHash(t), CreatedAt: now}, ev)
		},
		"LookupWebSession": func() error {
			_, _, err := s.LookupWebSession(ctx, cutHash(t), now, time.Hour, time.Minute)
			return err
		},
		"LoadKeys": func() error { _, err := s.LoadKeys(ctx); return err },
		"SaveKeys": func() error {
			return s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "cutkey", Alg: "EdDSA", State: "next", CreatedAt: now}})
		},
	}
	typ := reflect.TypeFor[*Store]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		_, called := calls[name]
		_, exempt := notStoreCalls[name]
		if !called && !exempt {
			t.Errorf("Store.%s has no case in TestEveryMethodCut: add one (or a reason to notStoreCalls)", name)
		}
	}
	// The arguments pass every input check: an input error would not
	// match server.ErrUnavailable, so each case below reaches the driver.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := calls[name]()
			if d := time.Since(start); d > cutBound {
				t.Errorf("took %v to fail", d)
			}
			if name == "CheckWritable" {
				// CheckWritable answers readiness with its own type.
				var ue *server.UnwritableError
				if !errors.As(err, &ue) {
					t.Errorf("with the server gone: %v, want a *server.UnwritableError", err)
				}
				return
			}
			if !errors.Is(err, server.ErrUnavailable) {
				t.Errorf("with the server gone: %v (%T), want server.ErrUnavailable", err, errors.Unwrap(err))
			}
		})
	}
}

// TestCutInTransaction loses the server while a transaction of the store
// is under way: each transaction below is made to wait on a lock that a
// second, direct connection holds, the proxy is cut while it waits, and
// the store must answer server.ErrUnavailable, not a raw driver error.
func TestCutInTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		lock string // run by the direct connection, in a transaction held open
		call func(t *testing.T, s *Store, user server.User, sess server.Session, rtHash []byte) error
	}{
		{"UpdateUser waits on the user row", "SELECT 1 FROM users FOR UPDATE",
			func(t *testing.T, s *Store, user server.User, _ server.Session, _ []byte) error {
				pw := "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo"
				_, err := s.UpdateUser(ctx, user.ID, server.UserChange{PasswordHash: &pw}, now, server.Event{})
				return err
			}},
		{"CreateSession waits on the user row", "SELECT 1 FROM users FOR UPDATE",
			func(t *testing.T, s *Store, user server.User, _ server.Session, _ []byte) error {
				sess := server.Session{ID: cutID(t), UserID: user.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: now.Add(day)}
				return s.CreateSession(ctx, sess, server.RefreshToken{Hash: cutHash(t), CreatedAt: now, ExpiresAt: now.Add(day)}, server.Event{})
			}},
		{"RotateRefresh waits on the session row", "SELECT 1 FROM sessions FOR UPDATE",
			func(t *testing.T, s *Store, _ server.User, _ server.Session, rtHash []byte) error {
				succ := sha256.Sum256(rtHash)
				_, err := s.RotateRefresh(ctx, server.RefreshRequest{Hash: rtHash, Now: now.Add(time.Second), Grace: 10 * time.Second,
					Next:   server.RefreshToken{Hash: succ[:], CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(day)},
					Revoke: server.Revocation{Until: now.Add(2 * day)}, Event: server.Event{Type: server.EventRefreshReuse}})
				return err
			}},
		{"AddRevocation waits on the revocation log's lock", "SELECT pg_advisory_xact_lock($1)",
			func(t *testing.T, s *Store, _ server.User, sess server.Session, _ []byte) error {
				return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeSession, Value: sess.ID, Until: now.Add(day), CreatedAt: now})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, proxy, direct := cutStore(t)
			user := server.User{ID: cutID(t), Username: "cutcarol", Role: server.RoleUser, PasswordHash: cutPasswordHash, CreatedAt: now}
			if err := s.CreateUser(ctx, user, server.Event{}); err != nil {
				t.Fatal(err)
			}
			sess := server.Session{ID: cutID(t), UserID: user.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: now.Add(day)}
			rtHash := cutHash(t)
			if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: rtHash, CreatedAt: now, ExpiresAt: now.Add(day)}, server.Event{}); err != nil {
				t.Fatal(err)
			}

			holder, err := pgx.Connect(ctx, direct)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { holder.Close(context.Background()) })
			tx, err := holder.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var args []any
			if tc.name == "AddRevocation waits on the revocation log's lock" {
				args = []any{s.revocationLock}
			}
			if _, err := tx.Exec(ctx, tc.lock, args...); err != nil {
				t.Fatal(err)
			}
			var holderPID int
			if err := holder.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&holderPID); err != nil {
				t.Fatal(err)
			}

			done := make(chan error, 1)
			go func() { done <- tc.call(t, s, user, sess, rtHash) }()
			// Wait until the store's statement waits for the held lock.
			deadline := time.Now().Add(cutBound)
			for {
				var waiting bool
				err := holder.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))", holderPID).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the call ended before it waited for the lock: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the store's transaction never waited for the held lock")
				}
				time.Sleep(5 * time.Millisecond)
			}
			proxy.Cut()
			select {
			case err := <-done:
				if !errors.Is(err, server.ErrUnavailable) {
					t.Errorf("cut in the transaction: %v, want server.ErrUnavailable", err)
				}
			case <-time.After(cutBound):
				t.Fatalf("no answer %v after the cut", cutBound)
			}
			_ = tx.Rollback(ctx)
		})
	}
}
