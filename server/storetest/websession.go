package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// The contract of the web session (cookie) credentials of server.AuthStore:
// CreateWebSession and LookupWebSession, and how revocation, disabling,
// role changes and PruneExpired reach them. As in auth.go, every time is
// t0 plus an offset: expiry, idleness and the touch are decided by the
// times the test passes.

// The idle timeout and touch interval of the web session tests.
const (
	webIdle  = 30 * time.Minute
	webTouch = 5 * time.Minute
)

// webLogin creates a web session of u at t0 that lasts a day (edit may
// change the session and the credential first) and returns the session
// and the credential's hash.
func webLogin(t testing.TB, s server.Store, u server.User, edit func(*server.Session, *server.WebSession)) (server.Session, []byte) {
	t.Helper()
	sess := server.Session{
		ID:                newID(t),
		UserID:            u.ID,
		Scopes:            u.Role.Scopes(),
		CreatedAt:         t0,
		ExpiresAt:         t0.Add(day),
		CredentialVersion: u.CredentialVersion,
	}
	ws := server.WebSession{Hash: tokenHash(t), CreatedAt: t0}
	if edit != nil {
		edit(&sess, &ws)
	}
	ev := server.Event{Type: server.EventLoginSuccess, ClientIP: "192.0.2.80", Detail: "html login"}
	if err := s.CreateWebSession(context.Background(), sess, ws, ev); err != nil {
		t.Fatalf("CreateWebSession: %v", err)
	}
	return sess, ws.Hash
}

// webAlive looks hash up at now with webIdle and webTouch and fails the
// test unless it is live; it returns the session and user.
func webAlive(t testing.TB, s server.Store, hash []byte, now time.Time) (server.Session, server.User) {
	t.Helper()
	sess, u, err := s.LookupWebSession(context.Background(), hash, now, webIdle, webTouch)
	if err != nil {
		t.Fatalf("LookupWebSession at t0+%v = %v, want the session", now.Sub(t0), err)
	}
	return sess, u
}

// webGone fails the test unless hash is refused at now with ErrNotFound
// itself, and a zero session and user.
func webGone(t testing.TB, s server.Store, hash []byte, now time.Time) {
	t.Helper()
	sess, u, err := s.LookupWebSession(context.Background(), hash, now, webIdle, webTouch)
	if !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("LookupWebSession at t0+%v = %v (session %q), want ErrNotFound", now.Sub(t0), err, sess.ID)
	}
	// One error for every reason: not merely wrapping ErrNotFound, but the
	// same text, so that no message tells the reasons apart.
	if err.Error() != server.ErrNotFound.Error() {
		t.Errorf("LookupWebSession refusal %q, want exactly %q", err, server.ErrNotFound)
	}
	if sess.ID != "" || u.ID != "" {
		t.Errorf("refused LookupWebSession came with session %q and user %q, want zero", sess.ID, u.ID)
	}
}

// wantSession checks what LookupWebSession returned for want.
func wantSession(t testing.TB, got, want server.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("session = %q of %q scopes %q, want %q of %q scopes %q", got.ID, got.UserID, got.Scopes, want.ID, want.UserID, want.Scopes)
	}
	for _, tt := range []struct {
		name      string
		got, want time.Time
	}{{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"ExpiresAt", got.ExpiresAt, want.ExpiresAt}} {
		if !tt.got.Equal(tt.want) {
			t.Errorf("session %s = %v, want %v", tt.name, tt.got.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
		} else if tt.got.Location() != time.UTC {
			t.Errorf("session %s location = %v, want UTC", tt.name, tt.got.Location())
		}
	}
	if !got.RevokedAt.IsZero() {
		t.Errorf("live session RevokedAt = %v, want zero", got.RevokedAt)
	}
}

func testWebSessionLookup(t *testing.T, s server.Store) {
	ctx := context.Background()
	// Another admin, so that demoting the admins below never meets the
	// last-admin rule.
	mustCreateUser(t, s, newUser(t, "root", server.RoleAdmin))
	until := t0.Add(2 * day)

	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"round trip", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "round", server.RoleUser))
			// Times off the second, in another zone: they come back equal,
			// to the microsecond, in UTC.
			zone := time.FixedZone("UTC+5:30", 5*3600+1800)
			created := time.Date(2025, 3, 1, 17, 30, 0, 123456000, zone) // t0
			expires := t0.Add(day + 987654*time.Microsecond)
			sess, h := webLogin(t, s, u, func(sess *server.Session, ws *server.WebSession) {
				sess.CreatedAt, sess.ExpiresAt = created, expires.In(zone)
				sess.Scopes = []string{server.ScopeItemsWrite, server.ScopeItemsRead} // stored order is kept
				ws.SessionID = sess.ID
				ws.CreatedAt = created
			})
			got, gotUser := webAlive(t, s, h, t0.Add(time.Minute))
			want := sess
			want.CreatedAt, want.ExpiresAt = t0, expires
			wantSession(t, got, want)
			wantUser(t, gotUser, u)

			evs := events(t, s, server.EventFilter{UserID: u.ID, Type: server.EventLoginSuccess})
			if len(evs) != 1 || evs[0].SessionID != sess.ID ||
				evs[0].ClientIP != "192.0.2.80" || evs[0].Detail != "html login" || !evs[0].At.Equal(t0) {
				t.Errorf("login events = %+v, want one for session %q at t0", evs, sess.ID)
			}
			// The credential is not a refresh token, and the session's
			// id is taken.
			wantOutcome(t, s, refreshReq(t, h, t0.Add(time.Minute), 0), server.RefreshInvalid)
			err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: tokenHash(t), ExpiresAt: t0.Add(day)}, server.Event{})
			if !errors.Is(err, server.ErrConflict) {
				t.Errorf("CreateSession with a web session's id = %v, want ErrConflict", err)
			}
		}},
		{"unknown hash", func(t *testing.T) {
			webGone(t, s, tokenHash(t), t0.Add(time.Minute))
		}},
		{"refresh token hash is not a web session", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "bearer", server.RoleUser))
			_, h := login(t, s, u)
			webGone(t, s, h, t0.Add(time.Minute))
		}},
		{"revoked by RevokeSession", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "logout", server.RoleUser))
			sess, h := webLogin(t, s, u, nil)
			_, other := webLogin(t, s, u, nil)
			webAlive(t, s, h, t0.Add(time.Minute))
			if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: until}, t0.Add(2*time.Minute), server.Event{Type: server.EventLogout}); err != nil {
				t.Fatal(err)
			}
			// At once, whatever the time of the lookup.
			webGone(t, s, h, t0.Add(time.Minute))
			webGone(t, s, h, t0.Add(3*time.Minute))
			// The user's other session lives.
			webAlive(t, s, other, t0.Add(3*time.Minute))
		}},
		{"revoked by disabling with Revoke, even once enabled again", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "disabled", server.RoleUser))
			_, h1 := webLogin(t, s, u, nil)
			_, h2 := webLogin(t, s, u, nil)
			now := t0.Add(time.Minute)
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(true), Revoke: &server.Revocation{Until: until}}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			webGone(t, s, h1, now)
			webGone(t, s, h2, now)
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(false)}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			webGone(t, s, h1, now.Add(time.Minute))
			webGone(t, s, h2, now.Add(time.Minute))
			// A new login, which reads the user as it is now, works.
			_, h3 := webLogin(t, s, mustGetUser(t, s, u.ID), func(sess *server.Session, ws *server.WebSession) {
				sess.CreatedAt, ws.CreatedAt = now, now
			})
			webAlive(t, s, h3, now.Add(time.Minute))
		}},
		{"revoked by a role change with Revoke", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "demoted", server.RoleAdmin))
			_, h := webLogin(t, s, u, nil)
			now := t0.Add(time.Minute)
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Role: rolePtr(server.RoleUser), Revoke: &server.Revocation{Until: until}}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			webGone(t, s, h, now)
		}},
		{"revoked by a password change with Revoke", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "password", server.RoleUser))
			_, h := webLogin(t, s, u, nil)
			now := t0.Add(time.Minute)
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{PasswordHash: strPtr(testHash2), Revoke: &server.Revocation{Until: until}}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			webGone(t, s, h, now)
		}},
		{"user disabled without Revoke", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "paused", server.RoleUser))
			sess, h := webLogin(t, s, u, nil)
			now := t0.Add(time.Minute)
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(true)}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			webGone(t, s, h, now)
			// Not revoked: enabled again, the user's session is back, as
			// its refresh tokens would be.
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(false)}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			got, _ := webAlive(t, s, h, now)
			wantSession(t, got, sess)
		}},
		{"absolute expiry", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "expiring", server.RoleUser))
			end := t0.Add(10 * time.Minute)
			_, h := webLogin(t, s, u, func(sess *server.Session, _ *server.WebSession) { sess.ExpiresAt = end })
			webGone(t, s, h, end)
			webGone(t, s, h, end.Add(time.Hour))
			// Used steadily, it still ends at ExpiresAt: no use extends it.
			for at := t0.Add(webTouch); at.Before(end); at = at.Add(webTouch) {
				webAlive(t, s, h, at)
			}
			webAlive(t, s, h, end.Add(-time.Microsecond))
			webGone(t, s, h, end)
		}},
		{"idle boundary", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "idle", server.RoleUser))
			_, h := webLogin(t, s, u, nil)
			// LastSeenAt is CreatedAt (t0). A refused lookup touches
			// nothing, so the order of these does not matter.
			webGone(t, s, h, t0.Add(webIdle))
			webGone(t, s, h, t0.Add(webIdle+time.Hour))
			webAlive(t, s, h, t0.Add(webIdle-time.Microsecond))
		}},
		{"explicit LastSeenAt", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "seen", server.RoleUser))
			seen := t0.Add(time.Hour)
			_, h := webLogin(t, s, u, func(_ *server.Session, ws *server.WebSession) { ws.LastSeenAt = seen })
			webGone(t, s, h, seen.Add(webIdle))
			webAlive(t, s, h, seen.Add(webIdle-time.Microsecond))
		}},
		{"zero CreatedAt of the credential is the session's", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "defaults", server.RoleUser))
			start := t0.Add(time.Hour)
			_, h := webLogin(t, s, u, func(sess *server.Session, ws *server.WebSession) {
				sess.CreatedAt, ws.CreatedAt = start, time.Time{}
			})
			webGone(t, s, h, start.Add(webIdle))
			webAlive(t, s, h, start.Add(webIdle-time.Microsecond))
		}},
		{"touch only after touchAfter", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "toucher", server.RoleUser))
			_, h := webLogin(t, s, u, nil)
			// Just before touchAfter: no touch, LastSeenAt stays t0, so
			// the credential is still idle at t0+idle.
			webAlive(t, s, h, t0.Add(webTouch-time.Microsecond))
			webGone(t, s, h, t0.Add(webIdle))
			// At touchAfter: touched, LastSeenAt is exactly t0+touchAfter.
			touched := t0.Add(webTouch)
			webAlive(t, s, h, touched)
			webGone(t, s, h, touched.Add(webIdle))
			webAlive(t, s, h, touched.Add(webIdle-time.Microsecond))
			// LastSeenAt never moves backwards: a lookup with an earlier
			// time (another process's clock) changes nothing.
			last := touched.Add(webIdle - time.Microsecond)
			webAlive(t, s, h, t0.Add(webIdle-time.Second))
			webGone(t, s, h, last.Add(webIdle))
			webAlive(t, s, h, last.Add(webIdle-time.Microsecond))
		}},
		{"zero touchAfter touches every lookup", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "eager", server.RoleUser))
			_, h := webLogin(t, s, u, nil)
			now := t0.Add(time.Microsecond)
			if _, _, err := s.LookupWebSession(ctx, h, now, webIdle, 0); err != nil {
				t.Fatal(err)
			}
			webGone(t, s, h, now.Add(webIdle))
			webAlive(t, s, h, t0.Add(webIdle))
		}},
		{"scopes cut to the current role", func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, "admin", server.RoleAdmin))
			full, hFull := webLogin(t, s, u, nil)
			some, hSome := webLogin(t, s, u, func(sess *server.Session, _ *server.WebSession) {
				sess.Scopes = []string{server.ScopeUsersAdmin, server.ScopeItemsRead}
			})
			none, hNone := webLogin(t, s, u, func(sess *server.Session, _ *server.WebSession) {
				sess.Scopes = []string{server.ScopeKeysAdmin}
			})
			now := t0.Add(time.Minute)
			// Demoted without Revoke: the sessions live, without the
			// admin scopes.
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Role: rolePtr(server.RoleUser)}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				sess server.Session
				h    []byte
				want []string
			}{
				{"all role scopes", full, hFull, []string{server.ScopeItemsRead, server.ScopeItemsWrite}},
				// The order stored; items:write, granted by the role but
				// not to the session, is not added.
				{"some scopes", some, hSome, []string{server.ScopeItemsRead}},
				{"only admin scopes", none, hNone, nil},
			} {
				got, gotUser := webAlive(t, s, c.h, now)
				if got.ID != c.sess.ID || !slices.Equal(got.Scopes, c.want) {
					t.Errorf("%s after a demotion: session %q scopes %q, want %q", c.name, got.ID, got.Scopes, c.want)
				}
				if gotUser.Role != server.RoleUser {
					t.Errorf("%s: user role %q, want the current one", c.name, gotUser.Role)
				}
			}
			// The stored scopes are kept: promoted again, they are back.
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Role: rolePtr(server.RoleAdmin)}, now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			got, _ := webAlive(t, s, hSome, now)
			if !slices.Equal(got.Scopes, some.Scopes) {
				t.Errorf("after promotion: scopes %q, want %q", got.Scopes, some.Scopes)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

func testWebSessionCreateRefused(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "weblogin", server.RoleUser))
	taken, takenHash := webLogin(t, s, u, nil)
	bearer, _ := login(t, s, u)
	off := newUser(t, "switched-off", server.RoleUser)
	off.Disabled = true
	mustCreateUser(t, s, off)

	fresh := func() server.Session {
		return server.Session{ID: newID(t), UserID: u.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: t0, ExpiresAt: t0.Add(day)}
	}
	cred := func() server.WebSession { return server.WebSession{Hash: tokenHash(t), CreatedAt: t0} }
	ev := server.Event{Type: server.EventLoginSuccess, Detail: "refused"}
	eventsBefore := len(events(t, s, server.EventFilter{}))

	tests := []struct {
		name string
		edit func(*server.Session, *server.WebSession)
		want error // nil: any error
	}{
		{"disabled user", func(sess *server.Session, _ *server.WebSession) { sess.UserID = off.ID }, server.ErrConflict},
		{"scope the role lacks", func(sess *server.Session, _ *server.WebSession) {
			sess.Scopes = []string{server.ScopeItemsRead, server.ScopeUsersAdmin}
		}, server.ErrConflict},
		{"unknown scope", func(sess *server.Session, _ *server.WebSession) { sess.Scopes = []string{"a"} }, server.ErrConflict},
		{"unknown user", func(sess *server.Session, _ *server.WebSession) { sess.UserID = newID(t) }, server.ErrNotFound},
		{"taken hash", func(_ *server.Session, ws *server.WebSession) { ws.Hash = takenHash }, server.ErrConflict},
		{"taken web session id", func(sess *server.Session, _ *server.WebSession) { sess.ID = taken.ID }, server.ErrConflict},
		{"taken bearer session id", func(sess *server.Session, _ *server.WebSession) { sess.ID = bearer.ID }, server.ErrConflict},
		{"nil hash", func(_ *server.Session, ws *server.WebSession) { ws.Hash = nil }, nil},
		{"empty hash", func(_ *server.Session, ws *server.WebSession) { ws.Hash = []byte{} }, nil},
		{"31-byte hash", func(_ *server.Session, ws *server.WebSession) { ws.Hash = ws.Hash[:31] }, nil},
		{"33-byte hash", func(_ *server.Session, ws *server.WebSession) { ws.Hash = append(ws.Hash, 0) }, nil},
		{"empty session id", func(sess *server.Session, _ *server.WebSession) { sess.ID = "" }, nil},
		{"empty user id", func(sess *server.Session, _ *server.WebSession) { sess.UserID = "" }, nil},
		{"zero session CreatedAt", func(sess *server.Session, ws *server.WebSession) {
			sess.CreatedAt, ws.CreatedAt = time.Time{}, time.Time{}
		}, nil},
		{"zero session CreatedAt, credential's set", func(sess *server.Session, _ *server.WebSession) { sess.CreatedAt = time.Time{} }, nil},
		{"zero ExpiresAt", func(sess *server.Session, _ *server.WebSession) { sess.ExpiresAt = time.Time{} }, nil},
		{"credential of another session", func(_ *server.Session, ws *server.WebSession) { ws.SessionID = taken.ID }, nil},
		{"LastSeenAt before CreatedAt", func(_ *server.Session, ws *server.WebSession) {
			ws.LastSeenAt = ws.CreatedAt.Add(-time.Microsecond)
		}, nil},
		{"invalid scope", func(sess *server.Session, _ *server.WebSession) { sess.Scopes = []string{"items:read items:write"} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sess, ws := fresh(), cred()
			tc.edit(&sess, &ws)
			err := s.CreateWebSession(ctx, sess, ws, ev)
			switch {
			case err == nil:
				t.Fatal("CreateWebSession succeeded, want an error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("CreateWebSession = %v, want %v", err, tc.want)
			}
			// Nothing of it was stored: its credential is unknown (unless
			// it was another's), and its session id is free.
			if len(ws.Hash) == 32 && !slices.Equal(ws.Hash, takenHash) {
				webGone(t, s, ws.Hash, t0.Add(time.Minute))
			}
			if sess.ID != "" && sess.ID != taken.ID && sess.ID != bearer.ID {
				ok := fresh()
				ok.ID = sess.ID
				okWS := cred()
				if err := s.CreateWebSession(ctx, ok, okWS, server.Event{}); err != nil {
					t.Fatalf("CreateWebSession with the id of a refused one = %v, want it stored", err)
				}
				webAlive(t, s, okWS.Hash, t0.Add(time.Minute))
			}
		})
	}
	if n := len(events(t, s, server.EventFilter{})); n != eventsBefore {
		t.Errorf("refused web sessions wrote %d events", n-eventsBefore)
	}
	// The credential whose hash they tried to take is intact.
	got, _ := webAlive(t, s, takenHash, t0.Add(time.Minute))
	if got.ID != taken.ID {
		t.Errorf("the taken hash now names session %q, want %q", got.ID, taken.ID)
	}

	t.Run("lookup input", func(t *testing.T) {
		now := t0.Add(time.Minute)
		for _, c := range []struct {
			name             string
			hash             []byte
			now              time.Time
			idle, touchAfter time.Duration
		}{
			{"nil hash", nil, now, webIdle, webTouch},
			{"31-byte hash", takenHash[:31], now, webIdle, webTouch},
			{"33-byte hash", append(slices.Clone(takenHash), 0), now, webIdle, webTouch},
			{"zero now", takenHash, time.Time{}, webIdle, webTouch},
			{"zero idle", takenHash, now, 0, 0},
			{"negative idle", takenHash, now, -webIdle, 0},
			{"negative touchAfter", takenHash, now, webIdle, -time.Microsecond},
			{"touchAfter of idle", takenHash, now, webIdle, webIdle},
			{"touchAfter over idle", takenHash, now, webIdle, 2 * webIdle},
		} {
			sess, _, err := s.LookupWebSession(ctx, c.hash, c.now, c.idle, c.touchAfter)
			if err == nil || errors.Is(err, server.ErrNotFound) || sess.ID != "" {
				t.Errorf("LookupWebSession(%s) = %q, %v; want an error other than ErrNotFound", c.name, sess.ID, err)
			}
		}
	})
}

func testWebSessionPrune(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "pruned", server.RoleUser))
	_, ended := webLogin(t, s, u, func(sess *server.Session, _ *server.WebSession) { sess.ExpiresAt = t0.Add(time.Hour) })
	_, live := webLogin(t, s, u, func(sess *server.Session, _ *server.WebSession) { sess.ExpiresAt = t0.Add(10 * day) })
	revoked, revokedHash := webLogin(t, s, u, func(sess *server.Session, _ *server.WebSession) { sess.ExpiresAt = t0.Add(10 * day) })
	if err := s.RevokeSession(ctx, revoked.ID, server.Revocation{Until: t0.Add(time.Hour)}, t0, server.Event{}); err != nil {
		t.Fatal(err)
	}
	// Looked up before its end, the ended one is there.
	webAlive(t, s, ended, t0.Add(time.Minute))

	now := t0.Add(2 * time.Hour)
	n, err := s.PruneExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// The ended session and its credential, and the passed revocation;
	// the revoked session waits for its end, and so does the live one,
	// idle by now.
	if n != 3 {
		t.Errorf("PruneExpired deleted %d rows, want 3", n)
	}
	// Deleted: refused even at a time before its end.
	webGone(t, s, ended, t0.Add(time.Minute))
	webAlive(t, s, live, t0.Add(time.Minute))
	webGone(t, s, revokedHash, t0.Add(time.Minute))
	if n, err := s.PruneExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second PruneExpired = %d, %v; want 0, nil", n, err)
	}
	// At their end, the others go too, the revoked one with its session.
	if n, err := s.PruneExpired(ctx, t0.Add(10*day)); err != nil || n != 4 {
		t.Errorf("PruneExpired at the end = %d, %v; want 4 (two sessions, two credentials), nil", n, err)
	}
	webGone(t, s, live, t0.Add(time.Minute))
}

func testWebSessionConcurrent(t *testing.T, s server.Store) {
	const n = 20
	u := mustCreateUser(t, s, newUser(t, "tabs", server.RoleUser))
	sess, h := webLogin(t, s, u, nil)
	// n lookups at once, all due for the touch: every one succeeds, and
	// LastSeenAt ends exactly at their time.
	now := t0.Add(webTouch + time.Second)
	start := make(chan struct{})
	results := make([]server.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], _, errs[i] = s.LookupWebSession(context.Background(), h, now, webIdle, webTouch)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("LookupWebSession %d: %v", i, err)
		}
		if results[i].ID != sess.ID {
			t.Errorf("lookup %d named session %q, want %q", i, results[i].ID, sess.ID)
		}
	}
	webGone(t, s, h, now.Add(webIdle))
	webAlive(t, s, h, now.Add(webIdle-time.Microsecond))

	// Lookups racing a logout: each is either live or ErrNotFound, and
	// after the logout returns, every lookup is refused.
	sess2, h2 := webLogin(t, s, u, nil)
	var wg2 sync.WaitGroup
	lookErrs := make([]error, n)
	for i := range n {
		wg2.Go(func() {
			_, _, lookErrs[i] = s.LookupWebSession(context.Background(), h2, t0.Add(webTouch+time.Duration(i)*time.Second), webIdle, webTouch)
		})
	}
	if err := s.RevokeSession(context.Background(), sess2.ID, server.Revocation{Until: t0.Add(day)}, t0, server.Event{}); err != nil {
		t.Fatal(err)
	}
	webGone(t, s, h2, t0.Add(webTouch))
	wg2.Wait()
	for i, err := range lookErrs {
		if err != nil && !errors.Is(err, server.ErrNotFound) {
			t.Errorf("lookup %d racing a logout: %v", i, err)
		}
	}
	webGone(t, s, h2, t0.Add(webTouch+webIdle-time.Second))
}
