package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// A database at schema version 5 keeps its events through 0006, which
// gives them an empty actor, and ListEvents and EventsInOrder read them.
func TestMigrate0006KeepsEvents(t *testing.T) {
	ctx := context.Background()
	_, db, path := databaseAt(t, 5, "0006_audit.sql")
	_, err := db.ExecContext(ctx, "INSERT INTO events (at, type, user_id, username, session_id, client_ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		authT0.UnixMicro(), server.EventLogout, "u1", "old-name", "s1", "192.0.2.1", "before 0006")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, Options{})
	evs, err := s.EventsInOrder(ctx, server.EventCursor{}, time.Time{}, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("EventsInOrder = %v, %v", evs, err)
	}
	if ev := evs[0]; ev.Username != "old-name" || ev.Actor != "" || ev.RequestID != "" || ev.Detail != "before 0006" || !ev.At.Equal(authT0) {
		t.Errorf("event after 0006 = %+v", ev)
	}
}

// The username in an event is the one at the time of the event: a later
// change of the user's name (there is no rename operation; the username
// canonicalization at open is one) leaves the recorded events as they were.
func TestEventUsernameIsHistory(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, Options{})
	defer s.Close()
	u := server.User{ID: "u-dave", Username: "dave", Role: server.RoleUser, PasswordHash: "$argon2id$x", CreatedAt: authT0}
	if err := s.CreateUser(ctx, u, server.Event{}); err != nil {
		t.Fatal(err)
	}
	sess := server.Session{ID: "s-dave", UserID: u.ID, Scopes: u.Role.Scopes(), CreatedAt: authT0, ExpiresAt: authT0.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: make([]byte, 32), ExpiresAt: authT0.Add(time.Hour)}, server.Event{Type: server.EventLoginSuccess}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, "UPDATE users SET username = 'david' WHERE id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: authT0.Add(time.Hour)}, authT0.Add(time.Minute), server.Event{Type: server.EventLogout}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.EventsInOrder(ctx, server.EventCursor{}, time.Time{}, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("EventsInOrder = %v, %v", evs, err)
	}
	if evs[0].Type != server.EventLoginSuccess || evs[0].Username != "dave" {
		t.Errorf("login recorded as %s by %q, want %s by dave", evs[0].Type, evs[0].Username, server.EventLoginSuccess)
	}
	if evs[1].Type != server.EventLogout || evs[1].Username != "david" {
		t.Errorf("logout recorded as %s by %q, want %s by david", evs[1].Type, evs[1].Username, server.EventLogout)
	}
}
