package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Tests of the SQLite side of server.AuthStore that the contract suite
// (storetest, run by TestContract) cannot see: the migration from version
// 1, the schema and its query plans, and multi-statement writes in the
// group-commit writer.

var authT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testUser(t testing.TB, name string, role server.Role) server.User {
	t.Helper()
	id, err := server.NewID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return server.User{ID: id, Username: name, Role: role, PasswordHash: "$argon2id$x", CreatedAt: authT0, UpdatedAt: authT0}
}

func eventCount(t *testing.T, s *Store, typ string) int {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), server.EventFilter{Type: typ, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// A database at schema version 1 (items only) is migrated to the newest
// version by Open, keeping its items; items still need no user row.
func TestMigrateFromVersion1KeepsItems(t *testing.T) {
	ctx := context.Background()
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) < 2 || migs[1].name != "0002_auth.sql" {
		t.Fatalf("migrations %v, want 0002_auth.sql second", migs)
	}
	path := filepath.Join(t.TempDir(), "v1.db")
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(abs, false, 5000, SynchronousNormal))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migs[:1]); err != nil {
		t.Fatalf("migrating to version 1: %v", err)
	}
	var items []server.Item
	for _, owner := range []string{"owner-a", "owner-b", "owner-a"} {
		it := testItem(t, owner)
		_, err := db.ExecContext(ctx, sqlInsertItem, it.ID, it.OwnerID, it.Name, it.Description, it.Price, nullFloat(it.Tax),
			it.CreatedAt.UnixMicro(), it.UpdatedAt.UnixMicro())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'users'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("version 1 database has a users table (%d, %v)", tables, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path, Options{})
	got := appliedMigrations(t, s)
	if len(got) != len(migs) || got[len(got)-1].version != migs[len(migs)-1].version {
		t.Fatalf("after Open: migrations %v, want up to %d", got, migs[len(migs)-1].version)
	}
	for _, it := range items {
		stored, err := s.GetItem(ctx, server.Access{UserID: it.OwnerID}, it.ID)
		if err != nil {
			t.Fatalf("item %s lost in the migration: %v", it.ID, err)
		}
		if stored.Name != it.Name || !stored.CreatedAt.Equal(it.CreatedAt) || *stored.Tax != *it.Tax {
			t.Errorf("item after migration = %+v, want %+v", stored, it)
		}
	}
	// The new tables work, and an item still needs no user.
	u := testUser(t, "admin", server.RoleAdmin)
	if err := s.CreateUser(ctx, u, server.Event{Type: server.EventUserCreated}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateItem(ctx, testItem(t, "not-a-user")); err != nil {
		t.Errorf("CreateItem for an owner without a user row: %v", err)
	}
	rows, err := s.reader.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("foreign_key_check reports violations after the migration")
	}
}

func TestAuthSchema(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	for _, table := range []string{"users", "sessions", "refresh_tokens", "revocations", "events", "signing_keys"} {
		var strict int
		err := s.reader.QueryRowContext(ctx, "SELECT strict FROM pragma_table_list WHERE schema = 'main' AND name = ?", table).Scan(&strict)
		if err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		if strict != 1 {
			t.Errorf("table %s is not STRICT", table)
		}
	}
	// items has no foreign key (see the migration).
	var fks int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_list('items')").Scan(&fks); err != nil || fks != 0 {
		t.Errorf("items has %d foreign keys (%v), want none", fks, err)
	}

	plans := []struct {
		name    string
		query   string
		args    []any
		want    string // in the plan
		notWant string
	}{
		{"user by name", sqlGetUserByName, []any{"x"}, "users_username", "SCAN"},
		{"refresh token", sqlFindRefresh, []any{[]byte{1}}, "sqlite_autoindex_refresh_tokens_1", "SCAN"},
		{"revocations", sqlRevocations, []any{0, 0, 10}, "INTEGER PRIMARY KEY", "TEMP B-TREE"},
		{"events", sqlListEvents, []any{1 << 62, 10}, "INTEGER PRIMARY KEY", "TEMP B-TREE"},
		{"events by type", sqlListEventsType, []any{"t", 1 << 62, 10}, "events_type_id", "TEMP B-TREE"},
		{"events by user", sqlListEventsUser, []any{"u", 1 << 62, 10}, "events_user_id_id", "TEMP B-TREE"},
		{"user's sessions", sqlRevokeUserSessions, []any{0, "u"}, "sessions_user_id", "SCAN"},
		{"other admins", sqlOtherAdminLeft, []any{"u"}, "users_role_disabled", "SCAN users"},
	}
	for _, p := range plans {
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+p.query, p.args...)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, p.want) || strings.Contains(got, p.notWant) {
			t.Errorf("%s: plan %q, want %q and no %q", p.name, got, p.want, p.notWant)
		}
	}

	// CHECK constraints back the Go checks.
	for _, q := range []string{
		"INSERT INTO users (id, username, role, password_hash, created_at, updated_at) VALUES ('x', 'x', 'root', 'h', 0, 0)",
		"INSERT INTO users (id, username, role, password_hash, disabled, created_at, updated_at) VALUES ('y', 'y', 'user', 'h', 2, 0, 0)",
		"INSERT INTO revocations (kind, value, until, created_at) VALUES ('everything', 'v', 0, 0)",
		"INSERT INTO revocations (kind, value, until, created_at) VALUES ('jti', '', 0, 0)",
		"INSERT INTO events (at, type) VALUES (0, '')",
		"INSERT INTO sessions (id, user_id, scopes, created_at, expires_at) VALUES ('s', 'no-such-user', '', 0, 0)",
	} {
		if _, err := s.writer.ExecContext(ctx, q); err == nil {
			t.Errorf("the schema accepted %q", q)
		}
	}
}

// A multi-statement write that runs alone still runs in a transaction:
// when it fails half-way, nothing of it is stored.
func TestWriteTxAloneIsAtomic(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	insert := func(rc context.Context, tx *sql.Tx, typ string) error {
		_, err := tx.ExecContext(rc, sqlInsertEvent, authT0.UnixMicro(), typ, "", "", "", "", "")
		return err
	}
	errBoom := errors.New("boom")
	err := s.writeTx(ctx, "two events then a failure", func(rc context.Context, tx *sql.Tx) error {
		if err := insert(rc, tx, "first"); err != nil {
			return err
		}
		if err := insert(rc, tx, "first"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("writeTx = %v, want its own error", err)
	}
	if n := eventCount(t, s, "first"); n != 0 {
		t.Errorf("a failed lone writeTx stored %d of its rows", n)
	}
	err = s.writeTx(ctx, "two events", func(rc context.Context, tx *sql.Tx) error {
		if err := insert(rc, tx, "second"); err != nil {
			return err
		}
		return insert(rc, tx, "second")
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := eventCount(t, s, "second"); n != 2 {
		t.Errorf("a lone writeTx stored %d rows, want 2", n)
	}
	// The connection is not left inside a transaction: a one-statement
	// write after it runs in autocommit mode and commits.
	it := testItem(t, "owner")
	if err := s.CreateItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	if !stored(t, s, it.ID) {
		t.Error("item written after writeTx not visible")
	}
	// A panic in a lone writeTx fails it alone.
	err = s.writeTx(ctx, "explode", func(rc context.Context, tx *sql.Tx) error {
		if err := insert(rc, tx, "third"); err != nil {
			return err
		}
		panic("boom")
	})
	if err == nil || !strings.Contains(err.Error(), "panic in the writer: boom") {
		t.Errorf("panicking writeTx = %v", err)
	}
	if n := eventCount(t, s, "third"); n != 0 {
		t.Errorf("a panicking writeTx stored %d rows", n)
	}
}

// Auth writes share group-commit batches with item writes: each is
// isolated in its savepoint, and one that fails (even after writing some
// rows) leaves nothing while the others commit. The ops queue concurrently,
// so their order within the batch is not known; no expectation depends on
// it.
func TestAuthWritesInABatch(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	admin := testUser(t, "admin", server.RoleAdmin)
	if err := s.CreateUser(ctx, admin, server.Event{}); err != nil {
		t.Fatal(err)
	}
	sess := server.Session{ID: "sess-1", UserID: admin.ID, CreatedAt: authT0, ExpiresAt: authT0.Add(time.Hour)}
	hash := []byte("hash-0")
	if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: hash, ExpiresAt: authT0.Add(time.Hour)}, server.Event{}); err != nil {
		t.Fatal(err)
	}
	newUser := testUser(t, "newcomer", server.RoleUser)
	// Takes the hash of the existing token: fails after inserting its
	// session row.
	badSession := server.Session{ID: "sess-bad", UserID: admin.ID, CreatedAt: authT0, ExpiresAt: authT0.Add(time.Hour)}
	first, it1, it2 := testItem(t, "owner"), testItem(t, "owner"), testItem(t, "owner")
	var rotations [2]server.RefreshResult
	now := authT0.Add(time.Minute)
	rotate := func(i int) func() error {
		return func() error {
			var err error
			rotations[i], err = s.RotateRefresh(ctx, server.RefreshRequest{
				Hash: hash, Now: now, Next: server.RefreshToken{Hash: []byte{'n', byte(i)}, ExpiresAt: now.Add(time.Hour)},
				Revoke: server.Revocation{Until: now.Add(time.Hour)},
			})
			return err
		}
	}
	release, firstErr, errs := startBatch(t, s,
		func() error { return s.CreateItem(ctx, first) },
		func() error { return s.CreateItem(ctx, it1) },
		func() error {
			return s.CreateUser(ctx, newUser, server.Event{Type: server.EventUserCreated})
		},
		func() error {
			return s.CreateSession(ctx, badSession, server.RefreshToken{Hash: hash, ExpiresAt: authT0.Add(time.Hour)},
				server.Event{Type: server.EventLoginSuccess})
		},
		func() error {
			_, err := s.UpdateUser(ctx, admin.ID, server.UserChange{Role: ptrRole(server.RoleUser)}, now, server.Event{Type: server.EventRoleChanged})
			return err
		},
		// Within the one transaction, whichever rotation runs second sees
		// the first: a reuse (no grace).
		rotate(0),
		rotate(1),
		func() error { return s.CreateItem(ctx, it2) },
	)
	release()
	if err := result(t, firstErr); err != nil {
		t.Fatal(err)
	}
	want := []error{nil, nil, server.ErrConflict, server.ErrLastAdmin, nil, nil, nil}
	for i, ch := range errs {
		if err := result(t, ch); want[i] == nil && err != nil || want[i] != nil && !errors.Is(err, want[i]) {
			t.Errorf("op %d = %v, want %v", i, err, want[i])
		}
	}
	if !stored(t, s, it1.ID) || !stored(t, s, it2.ID) {
		t.Error("item writes of the batch were not stored")
	}
	if _, err := s.GetUser(ctx, newUser.ID); err != nil {
		t.Errorf("user created in the batch: %v", err)
	}
	if got := []server.RefreshOutcome{rotations[0].Outcome, rotations[1].Outcome}; got[0]+got[1] != server.RefreshRotated+server.RefreshReused || got[0] == got[1] {
		t.Errorf("two rotations of one token in a batch = %v, want one Rotated and one Reused", got)
	}
	// The failed session left neither its row nor its event.
	var n int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM sessions WHERE id = ?", badSession.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused session stored (%d, %v)", n, err)
	}
	if got := eventCount(t, s, server.EventLoginSuccess); got != 0 {
		t.Errorf("refused session wrote %d events", got)
	}
	if got := eventCount(t, s, server.EventRoleChanged); got != 0 {
		t.Errorf("refused demotion wrote %d events", got)
	}
	if got := eventCount(t, s, server.EventRefreshReuse); got != 1 {
		t.Errorf("%d reuse events, want 1", got)
	}
	if u, err := s.GetUser(ctx, admin.ID); err != nil || u.Role != server.RoleAdmin {
		t.Errorf("admin after the refused demotion = %+v, %v", u, err)
	}
}

func ptrRole(r server.Role) *server.Role { return &r }
