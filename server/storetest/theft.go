package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// The contract that makes refresh-token theft detectable and password
// changes final: a replay within the grace gets the one successor already
// stored (never a second chain), and a session is inserted only while the
// user's credential version is still the one the login read. As elsewhere,
// every time is t0 plus an offset.

// graceWindow is the refresh grace of these tests.
const graceWindow = 10 * time.Second

// reuses returns the reuse events of the user.
func reuses(t testing.TB, s server.Store, userID string) []server.Event {
	t.Helper()
	return events(t, s, server.EventFilter{Type: server.EventRefreshReuse, UserID: userID})
}

func testRefreshGraceSameSuccessor(t *testing.T, s server.Store) {
	u := mustCreateUser(t, s, newUser(t, "grace", server.RoleUser))
	at := func(d time.Duration) time.Time { return t0.Add(time.Minute + d) }

	t.Run("a replay within the grace gets the same successor and stores nothing", func(t *testing.T) {
		sess, h0 := login(t, s, u)
		first := wantOutcome(t, s, refreshReq(t, h0, at(0), graceWindow), server.RefreshRotated)
		if first.Replay {
			t.Error("the first rotation is marked as a replay")
		}
		revs := len(allRevocations(t, s, t0))
		for _, d := range []time.Duration{0, time.Second, graceWindow - time.Microsecond} {
			req := refreshReq(t, h0, at(d), graceWindow)
			res := wantOutcome(t, s, req, server.RefreshRotated)
			if !res.Replay || res.Session.ID != sess.ID || res.User.ID != u.ID {
				t.Errorf("replay at +%v: Replay %v session %q user %q, want a replay of session %q", d, res.Replay, res.Session.ID, res.User.ID, sess.ID)
			}
		}
		if n := len(allRevocations(t, s, t0)); n != revs {
			t.Errorf("replays within the grace logged %d revocations", n-revs)
		}
		// One chain: the successor rotates on, once.
		h1 := successor(h0)
		wantOutcome(t, s, refreshReq(t, h1, at(graceWindow+time.Second), graceWindow), server.RefreshRotated)
		if evs := reuses(t, s, u.ID); len(evs) != 0 {
			t.Errorf("reuse events %+v, want none", evs)
		}
	})
	t.Run("a replay after the grace revokes the family", func(t *testing.T) {
		_, h0 := login(t, s, u)
		wantOutcome(t, s, refreshReq(t, h0, at(0), graceWindow), server.RefreshRotated)
		wantOutcome(t, s, refreshReq(t, h0, at(graceWindow), graceWindow), server.RefreshReused)
		// The successor, which the client holds, dies with the family.
		wantOutcome(t, s, refreshReq(t, successor(h0), at(graceWindow+time.Second), graceWindow), server.RefreshInvalid)
	})
	t.Run("a replay within the grace asking for another successor revokes the family", func(t *testing.T) {
		// A caller that does not derive the successor from the token
		// would start a second chain: refused as a reuse.
		_, h0 := login(t, s, u)
		wantOutcome(t, s, refreshReq(t, h0, at(0), graceWindow), server.RefreshRotated)
		req := refreshReq(t, h0, at(time.Second), graceWindow)
		req.Next.Hash = tokenHash(t)
		wantOutcome(t, s, req, server.RefreshReused)
		wantOutcome(t, s, refreshReq(t, req.Next.Hash, at(2*time.Second), graceWindow), server.RefreshInvalid)
		wantOutcome(t, s, refreshReq(t, successor(h0), at(2*time.Second), graceWindow), server.RefreshInvalid)
	})
}

func testRefreshGraceChainMovedOn(t *testing.T, s server.Store) {
	u := mustCreateUser(t, s, newUser(t, "moved-on", server.RoleUser))
	at := func(d time.Duration) time.Time { return t0.Add(time.Minute + d) }
	sess, h0 := login(t, s, u)
	h1, h2 := successor(h0), successor(successor(h0))

	wantOutcome(t, s, refreshReq(t, h0, at(0), graceWindow), server.RefreshRotated)
	wantOutcome(t, s, refreshReq(t, h1, at(time.Second), graceWindow), server.RefreshRotated)
	// h0 again, well within its grace, but its successor h1 has been used:
	// the chain has moved on, so this is a second holder of h0.
	res := wantOutcome(t, s, refreshReq(t, h0, at(2*time.Second), graceWindow), server.RefreshReused)
	if res.Session.ID != sess.ID {
		t.Errorf("reuse names session %q, want %q", res.Session.ID, sess.ID)
	}
	wantOutcome(t, s, refreshReq(t, h2, at(3*time.Second), graceWindow), server.RefreshInvalid)
	if evs := reuses(t, s, u.ID); len(evs) != 1 || evs[0].SessionID != sess.ID {
		t.Errorf("reuse events %+v, want one for session %q", evs, sess.ID)
	}
}

// testRefreshTheftRace: a thief holds a copy of the client's refresh
// token. Whatever the order, both end up with one successor, and whichever
// uses it second (after its grace), or replays a token the chain has moved
// past, revokes the family: the other's tokens die too.
func testRefreshTheftRace(t *testing.T, s server.Store) {
	u := mustCreateUser(t, s, newUser(t, "victim", server.RoleUser))
	at := func(d time.Duration) time.Time { return t0.Add(time.Minute + d) }
	tests := []struct {
		name string
		// first and second present the stolen token in this order, the
		// second within the grace; then first uses the successor, then
		// second does, at late.
		late time.Duration
	}{
		{"the second holder uses the successor after its grace", 2*time.Second + graceWindow},
		{"the second holder uses the successor long after", time.Hour},
	}
	for _, tc := range tests {
		for _, order := range [][2]string{{"client", "thief"}, {"thief", "client"}} {
			t.Run(tc.name+", "+order[0]+" first", func(t *testing.T) {
				sess, h0 := login(t, s, u)
				before := len(reuses(t, s, u.ID))
				r1 := wantOutcome(t, s, refreshReq(t, h0, at(0), graceWindow), server.RefreshRotated)
				r2 := wantOutcome(t, s, refreshReq(t, h0, at(time.Second), graceWindow), server.RefreshRotated)
				if r1.Replay || !r2.Replay {
					t.Fatalf("%s: Replay %v, %s: Replay %v; want the second answered with the first's successor", order[0], r1.Replay, order[1], r2.Replay)
				}
				// Both hold successor(h0). The first uses it.
				h1 := successor(h0)
				wantOutcome(t, s, refreshReq(t, h1, at(2*time.Second), graceWindow), server.RefreshRotated)
				// The second uses it: detected.
				wantOutcome(t, s, refreshReq(t, h1, at(tc.late), graceWindow), server.RefreshReused)
				// The first's newer token is dead as well.
				wantOutcome(t, s, refreshReq(t, successor(h1), at(tc.late+time.Second), graceWindow), server.RefreshInvalid)
				if evs := reuses(t, s, u.ID); len(evs) != before+1 || evs[0].SessionID != sess.ID {
					t.Errorf("reuse events %+v, want one more, for session %q", evs, sess.ID)
				}
			})
		}
	}
	t.Run("the second holder is within the successor's grace but the first has moved on", func(t *testing.T) {
		sess, h0 := login(t, s, u)
		h1 := successor(h0)
		wantOutcome(t, s, refreshReq(t, h0, at(0), graceWindow), server.RefreshRotated)             // client
		wantOutcome(t, s, refreshReq(t, h0, at(time.Second), graceWindow), server.RefreshRotated)   // thief: h1 too
		wantOutcome(t, s, refreshReq(t, h1, at(2*time.Second), graceWindow), server.RefreshRotated) // thief
		wantOutcome(t, s, refreshReq(t, successor(h1), at(3*time.Second), graceWindow), server.RefreshRotated)
		// The client's h1, within the grace of h1's rotation, but its
		// successor has been rotated: reuse.
		wantOutcome(t, s, refreshReq(t, h1, at(4*time.Second), graceWindow), server.RefreshReused)
		wantOutcome(t, s, refreshReq(t, successor(successor(h1)), at(5*time.Second), graceWindow), server.RefreshInvalid)
		if _, alive := sessionAlive(t, s, successor(successor(h1)), at(6*time.Second)); alive {
			t.Errorf("session %q survived the reuse", sess.ID)
		}
	})
}

func testCredentialVersion(t *testing.T, s server.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, newUser(t, "other-admin", server.RoleAdmin))
	now := t0.Add(time.Hour)
	until := now.Add(day)
	revoke := func() *server.Revocation { return &server.Revocation{Until: until} }

	t.Run("a new user is at 0 whatever CreateUser is given", func(t *testing.T) {
		u := newUser(t, "fresh", server.RoleUser)
		u.CredentialVersion = 7
		mustCreateUser(t, s, u)
		if got := mustGetUser(t, s, u.ID).CredentialVersion; got != 0 {
			t.Errorf("CredentialVersion of a new user = %d, want 0", got)
		}
	})
	tests := []struct {
		name string
		ch   server.UserChange
		bump bool
	}{
		{"password change with revoke", server.UserChange{PasswordHash: strPtr(testHash2), Revoke: revoke()}, true},
		{"disable with revoke", server.UserChange{Disabled: boolPtr(true), Revoke: revoke()}, true},
		{"role change with revoke", server.UserChange{Role: rolePtr(server.RoleAdmin), Revoke: revoke()}, true},
		{"revoke alone", server.UserChange{Revoke: revoke()}, true},
		// A re-hash at login (same password) must not refuse the login
		// that made it, nor the others in flight.
		{"re-hash without revoke", server.UserChange{PasswordHash: strPtr(testHash2), IfPasswordHash: strPtr(testHash)}, false},
		{"role change without revoke", server.UserChange{Role: rolePtr(server.RoleAdmin)}, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, fmt.Sprintf("versioned%d", i), server.RoleUser))
			got, err := s.UpdateUser(ctx, u.ID, tc.ch, now, server.Event{})
			if err != nil {
				t.Fatal(err)
			}
			want := u.CredentialVersion
			if tc.bump {
				want++
			}
			if got.CredentialVersion != want {
				t.Errorf("UpdateUser returned CredentialVersion %d, want %d", got.CredentialVersion, want)
			}
			if stored := mustGetUser(t, s, u.ID).CredentialVersion; stored != want {
				t.Errorf("stored CredentialVersion %d, want %d", stored, want)
			}
			// Twice: it counts.
			if tc.bump {
				if got, err = s.UpdateUser(ctx, u.ID, server.UserChange{Revoke: revoke()}, now, server.Event{}); err != nil {
					t.Fatal(err)
				}
				if got.CredentialVersion != want+1 {
					t.Errorf("second revoking change: CredentialVersion %d, want %d", got.CredentialVersion, want+1)
				}
			}
		})
	}
	t.Run("a refused change does not count", func(t *testing.T) {
		u := mustCreateUser(t, s, newUser(t, "refused-change", server.RoleUser))
		ch := server.UserChange{PasswordHash: strPtr(testHash2), IfPasswordHash: strPtr(testHash2), Revoke: revoke()}
		if _, err := s.UpdateUser(ctx, u.ID, ch, now, server.Event{}); !errors.Is(err, server.ErrConflict) {
			t.Fatalf("UpdateUser with a stale IfPasswordHash = %v, want ErrConflict", err)
		}
		if v := mustGetUser(t, s, u.ID).CredentialVersion; v != 0 {
			t.Errorf("CredentialVersion %d after a refused change, want 0", v)
		}
	})
	t.Run("sessions carry the version they were made with", func(t *testing.T) {
		u := mustCreateUser(t, s, newUser(t, "carrier", server.RoleUser))
		if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Revoke: revoke()}, now, server.Event{}); err != nil {
			t.Fatal(err)
		}
		u = mustGetUser(t, s, u.ID)
		sess, h := login(t, s, u)
		res := wantOutcome(t, s, refreshReq(t, h, now, 0), server.RefreshRotated)
		if res.Session.CredentialVersion != 1 || res.User.CredentialVersion != 1 || sess.CredentialVersion != 1 {
			t.Errorf("rotation: session version %d, user version %d, want 1 and 1", res.Session.CredentialVersion, res.User.CredentialVersion)
		}
		_, wh := webLogin(t, s, u, nil)
		ws, wu := webAlive(t, s, wh, t0.Add(time.Minute))
		if ws.CredentialVersion != 1 || wu.CredentialVersion != 1 {
			t.Errorf("web lookup: session version %d, user version %d, want 1 and 1", ws.CredentialVersion, wu.CredentialVersion)
		}
	})
	t.Run("a negative version is refused", func(t *testing.T) {
		u := mustCreateUser(t, s, newUser(t, "negative", server.RoleUser))
		sess := server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(day), CredentialVersion: -1}
		err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: tokenHash(t), ExpiresAt: t0.Add(day)}, server.Event{})
		if err == nil {
			t.Error("CreateSession with CredentialVersion -1 succeeded")
		}
	})
}

// testCredentialVersionRefusesStaleLogin is the race of a login and a
// password change, made deterministic: the login reads the user, the
// password changes (revoking every session that exists), and only then does
// the login insert its session, with the version it read. The store refuses
// it, for API and web sessions alike, and stores nothing of it.
func testCredentialVersionRefusesStaleLogin(t *testing.T, s server.Store) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	changes := []struct {
		name string
		ch   server.UserChange
	}{
		{"password change", server.UserChange{PasswordHash: strPtr(testHash2)}},
		{"disable then enable", server.UserChange{Disabled: boolPtr(true)}},
		{"role change", server.UserChange{Role: rolePtr(server.RoleAdmin)}},
	}
	for i, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, fmt.Sprintf("raced%d", i), server.RoleUser))
			read := mustGetUser(t, s, u.ID) // the login reads the user...
			ch := tc.ch
			ch.Revoke = &server.Revocation{Until: now.Add(day)}
			if _, err := s.UpdateUser(ctx, u.ID, ch, now, server.Event{Type: server.EventPasswordChanged}); err != nil {
				t.Fatal(err)
			}
			if tc.ch.Disabled != nil { // enabled again: only the version refuses
				if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(false)}, now, server.Event{}); err != nil {
					t.Fatal(err)
				}
			}
			evs := len(events(t, s, server.EventFilter{UserID: u.ID}))

			// ...and inserts its session after the change committed.
			sess := server.Session{ID: newID(t), UserID: u.ID, Scopes: []string{server.ScopeItemsRead},
				CreatedAt: now, ExpiresAt: now.Add(day), CredentialVersion: read.CredentialVersion}
			h := tokenHash(t)
			err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: h, ExpiresAt: now.Add(day)}, server.Event{Type: server.EventLoginSuccess})
			if !errors.Is(err, server.ErrConflict) {
				t.Fatalf("CreateSession with the version read before the change = %v, want ErrConflict", err)
			}
			wantOutcome(t, s, refreshReq(t, h, now, 0), server.RefreshInvalid)
			wsess := sess
			wsess.ID = newID(t)
			wh := tokenHash(t)
			err = s.CreateWebSession(ctx, wsess, server.WebSession{Hash: wh}, server.Event{Type: server.EventLoginSuccess})
			if !errors.Is(err, server.ErrConflict) {
				t.Fatalf("CreateWebSession with the version read before the change = %v, want ErrConflict", err)
			}
			webGone(t, s, wh, now)
			if got := len(events(t, s, server.EventFilter{UserID: u.ID})); got != evs {
				t.Errorf("refused logins wrote %d events", got-evs)
			}

			// A login that reads the user after the change works.
			cur := mustGetUser(t, s, u.ID)
			sess.ID, sess.CredentialVersion = newID(t), cur.CredentialVersion
			if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: h, ExpiresAt: now.Add(day)}, server.Event{}); err != nil {
				t.Fatalf("CreateSession with the current version: %v", err)
			}
			wantOutcome(t, s, refreshReq(t, h, now, 0), server.RefreshRotated)
			wsess.ID, wsess.CredentialVersion = newID(t), cur.CredentialVersion
			if err := s.CreateWebSession(ctx, wsess, server.WebSession{Hash: wh}, server.Event{}); err != nil {
				t.Fatalf("CreateWebSession with the current version: %v", err)
			}
			webAlive(t, s, wh, now)
		})
	}
}
