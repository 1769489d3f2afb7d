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

// TestOpenCanonicalizesOldUsernames: a database written before usernames
// were canonical keeps working. Open gives every old name whose canonical
// form is free that form (the row the old rules reached by that form keeps
// it whatever its age; among the others the oldest wins), leaves the
// others unreachable by name with one event each, and does nothing more
// when opened again.
func TestOpenCanonicalizesOldUsernames(t *testing.T) {
	ctx := context.Background()
	path, err := filepath.Abs(filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, false, 5000, SynchronousNormal))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migs); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		name string
		age  int    // seconds after authT0
		want string // the name after Open; "" = unchanged and unreachable
	}{
		{"Alice", 0, "alice"},
		{"ａｄｍｉｎ", 0, ""}, // older, but admin is canonical already
		{"admin", 1, "admin"},
		{"ÄRGER", 2, ""}, // ärger is canonical already
		{"ärger", 3, "ärger"},
		{"ＣＡＲＯＬ", 4, ""}, // older, but carol reached Carol before
		{"Carol", 5, "carol"},
		{"\u0430dmin", 6, ""},
		{"bob\u200b", 7, ""},
		{" spaced ", 8, ""},
		{"x[y]~", 9, "x[y]~"},
		{"Ｄave", 10, "dave"}, // the older of two new claims wins
		{"ＤＡＶＥ", 11, ""},
	}
	ids := map[string]string{}
	for _, r := range rows {
		u := testUser(t, "x", server.RoleUser)
		at := authT0.Add(time.Duration(r.age) * time.Second).UnixMicro()
		// The columns an older binary wrote (later ones have defaults).
		const insert = "INSERT INTO users (id, username, role, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
		if _, err := db.ExecContext(ctx, insert, u.ID, r.name, "user", "$argon2id$x", 0, at, at); err != nil {
			t.Fatalf("inserting %q: %v", r.name, err)
		}
		ids[r.name] = u.ID
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(s *Store) {
		t.Helper()
		for _, r := range rows {
			u, err := s.GetUser(ctx, ids[r.name])
			if err != nil {
				t.Fatal(err)
			}
			if r.want == "" {
				if u.Username != r.name {
					t.Errorf("%+q became %+q, want it unchanged", r.name, u.Username)
				}
				if got, err := s.GetUserByName(ctx, r.name); err == nil && got.ID == u.ID {
					t.Errorf("%+q is still found by name", r.name)
				}
				continue
			}
			if u.Username != r.want {
				t.Errorf("%+q is now %+q, want %+q", r.name, u.Username, r.want)
			}
			for _, spelling := range []string{r.name, r.want, strings.ToUpper(r.want)} {
				got, err := s.GetUserByName(ctx, spelling)
				if err != nil || got.ID != u.ID {
					t.Errorf("GetUserByName(%+q) = %q, %v; want %+q's user", spelling, got.ID, err, r.name)
				}
			}
		}
		if n := eventCount(t, s, server.EventUsernameCanonicalized); n != 3 {
			t.Errorf("%d %s events, want 3 (Alice, Carol, Ｄave)", n, server.EventUsernameCanonicalized)
		}
		evs, err := s.ListEvents(ctx, server.EventFilter{Type: server.EventUsernameUnusable, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 7 {
			t.Errorf("%d %s events, want 7: %+v", len(evs), server.EventUsernameUnusable, evs)
		}
		for _, ev := range evs {
			if strings.ContainsRune(ev.Username, '\u200b') || strings.ContainsRune(ev.Detail, '\u200b') {
				t.Errorf("an event holds an invisible character unescaped: %+q %+q", ev.Username, ev.Detail)
			}
			if ev.UserID == ids["bob\u200b"] && ev.Username != `bob\u200b` {
				t.Errorf("event username %q, want it escaped", ev.Username)
			}
		}
		// A new user cannot take a canonical form an old row holds.
		err = s.CreateUser(ctx, testUser(t, "carol", server.RoleUser), server.Event{})
		if !errors.Is(err, server.ErrConflict) {
			t.Errorf("CreateUser(carol) = %v, want ErrConflict", err)
		}
	}
	s := openAt(t, path, Options{})
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openAt(t, path, Options{})) // again: no change, no new events
}
