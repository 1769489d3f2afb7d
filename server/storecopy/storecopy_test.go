package storecopy_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/server/storecopy"
	"github.com/fortapi/fortapi/server/storecopy/storecopytest"
)

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fortapi.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: pgtest.SchemaURL(t, "off")})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func copyOK(t *testing.T, from, to server.Store, want storecopy.Stats, opts storecopy.Options) {
	t.Helper()
	got, err := storecopy.Copy(context.Background(), from, to, opts)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if got != want {
		t.Errorf("Copy stats = %+v, want %+v", got, want)
	}
}

// TestRoundTrip copies a populated SQLite store to PostgreSQL and back to
// a fresh SQLite store, and compares each copy with the original field by
// field.
func TestRoundTrip(t *testing.T) {
	now := time.Now()
	src := openSQLite(t)
	fx := storecopytest.Populate(t, src, now)
	opts := storecopy.Options{PageSize: 4, Now: func() time.Time { return now }} // many pages

	t.Run("sqlite-sqlite", func(t *testing.T) {
		dst := openSQLite(t)
		copyOK(t, src, dst, fx.Want, opts)
		storecopytest.Equal(t, fx, src, dst, now)
	})
	t.Run("sqlite-postgres-sqlite", func(t *testing.T) {
		pg := openPostgres(t)
		copyOK(t, src, pg, fx.Want, opts)
		storecopytest.Equal(t, fx, src, pg, now)
		back := openSQLite(t)
		copyOK(t, pg, back, fx.Want, storecopy.Options{Now: func() time.Time { return now }})
		storecopytest.Equal(t, fx, src, back, now)
	})
}

// TestEventOrder copies audit logs of sizes around the page size and
// checks that the order survives: page boundaries are where an
// off-by-one would show.
func TestEventOrder(t *testing.T) {
	for _, n := range []int{0, 1, 4, 5, 8, 9, 13} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			src, dst := openSQLite(t), openSQLite(t)
			for i := range n {
				if err := src.AddEvent(ctx, server.Event{Type: "t", Detail: fmt.Sprint(i), At: time.Unix(int64(1000-i), 0)}); err != nil {
					t.Fatal(err)
				}
			}
			var last storecopy.Progress
			st, err := storecopy.Copy(ctx, src, dst, storecopy.Options{PageSize: 4, Progress: func(p storecopy.Progress) { last = p }})
			if err != nil || st.Events != n {
				t.Fatalf("Copy = %+v, %v; want %d events", st, err, n)
			}
			if last.Phase != storecopy.PhaseDone || last.EventsTotal != n || last.Stats != st {
				t.Errorf("last progress = %+v", last)
			}
			evs, err := dst.ListEvents(ctx, server.EventFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for i, ev := range evs { // newest first
				if want := fmt.Sprint(n - 1 - i); ev.Detail != want {
					t.Fatalf("event %d (newest first) is %q, want %q", i, ev.Detail, want)
				}
			}
		})
	}
}

// TestTargetNotEmpty refuses every kind of non-empty target and writes
// nothing to it.
func TestTargetNotEmpty(t *testing.T) {
	now := time.Now()
	ctx := context.Background()
	user := server.User{ID: "00000000-0000-7000-8000-000000000001", Username: "someone", Role: server.RoleUser, PasswordHash: "h", CreatedAt: now}
	tests := []struct {
		name string
		fill func(s server.Store) error
		want string
	}{
		{"user", func(s server.Store) error { return s.CreateUser(ctx, user, server.Event{}) }, "users"},
		{"item", func(s server.Store) error {
			return s.CreateItem(ctx, server.Item{ID: user.ID, OwnerID: user.ID, Name: "n", Price: 1, CreatedAt: now, UpdatedAt: now})
		}, "items"},
		{"key", func(s server.Store) error {
			return s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "k", Alg: jwtkey.EdDSA, State: jwtkey.StateNext, CreatedAt: now}})
		}, "signing keys"},
		{"event", func(s server.Store) error { return s.AddEvent(ctx, server.Event{Type: "x"}) }, "audit events"},
		{"revocation", func(s server.Store) error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "j", Until: now.Add(time.Hour)})
		}, "revocations"},
	}
	src := openSQLite(t)
	storecopytest.Populate(t, src, now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := openSQLite(t)
			if err := tt.fill(dst); err != nil {
				t.Fatal(err)
			}
			st, err := storecopy.Copy(ctx, src, dst, storecopy.Options{})
			if !errors.Is(err, storecopy.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "holds "+tt.want) {
				t.Fatalf("Copy: %v, want ErrTargetNotEmpty naming %s", err, tt.want)
			}
			if st != (storecopy.Stats{}) {
				t.Errorf("stats %+v: something was written", st)
			}
			if users, _ := dst.ListUsers(ctx, "", 10); len(users) > 1 {
				t.Errorf("target has %d users", len(users))
			}
		})
	}
	t.Run("postgres", func(t *testing.T) {
		pg := openPostgres(t)
		if err := pg.CreateUser(ctx, user, server.Event{}); err != nil {
			t.Fatal(err)
		}
		if _, err := storecopy.Copy(ctx, src, pg, storecopy.Options{}); !errors.Is(err, storecopy.ErrTargetNotEmpty) {
			t.Fatalf("Copy: %v, want ErrTargetNotEmpty", err)
		}
	})
}

// failing is a target store whose CreateItem fails after n items.
type failing struct {
	server.Store
	n int
}

func (f *failing) CreateItem(ctx context.Context, it server.Item) error {
	if f.n == 0 {
		return errors.New("disk full")
	}
	f.n--
	return f.Store.CreateItem(ctx, it)
}

// TestFailureHalfWay reports what was written before the failure and
// where it failed; the target is then refused by a second copy.
func TestFailureHalfWay(t *testing.T) {
	now := time.Now()
	ctx := context.Background()
	src := openSQLite(t)
	fx := storecopytest.Populate(t, src, now)
	dst := openSQLite(t)
	st, err := storecopy.Copy(ctx, src, &failing{Store: dst, n: 5}, storecopy.Options{})
	if err == nil || !strings.Contains(err.Error(), "copying items: writing item") || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Copy: %v", err)
	}
	want := fx.Want
	want.Items, want.Events = 5, 0
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if _, err := storecopy.Copy(ctx, src, dst, storecopy.Options{}); !errors.Is(err, storecopy.ErrTargetNotEmpty) {
		t.Errorf("second Copy: %v, want ErrTargetNotEmpty", err)
	}
}

func TestOptions(t *testing.T) {
	if _, err := storecopy.Copy(context.Background(), nil, nil, storecopy.Options{PageSize: -1}); err == nil {
		t.Error("negative PageSize accepted")
	}
}
