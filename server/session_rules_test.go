package server

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	t0   = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hash = bytes.Repeat([]byte{7}, 32)
)

func newSession() Session {
	return Session{ID: "s1", UserID: "u1", Scopes: []string{ScopeItemsRead, ScopeItemsWrite},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func TestSessionCheckNew(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Session)
		want    string
		wantErr string
	}{
		{"ok", func(*Session) {}, "items:read items:write", ""},
		{"no scopes", func(s *Session) { s.Scopes = nil }, "", ""},
		{"empty id", func(s *Session) { s.ID = "" }, "", "empty session or user id"},
		{"empty user", func(s *Session) { s.UserID = "" }, "", "empty session or user id"},
		{"zero CreatedAt", func(s *Session) { s.CreatedAt = time.Time{} }, "", "zero CreatedAt or ExpiresAt"},
		{"zero ExpiresAt", func(s *Session) { s.ExpiresAt = time.Time{} }, "", "zero CreatedAt or ExpiresAt"},
		{"negative version", func(s *Session) { s.CredentialVersion = -1 }, "", "negative CredentialVersion"},
		{"bad scope", func(s *Session) { s.Scopes = []string{"a b"} }, "", `invalid scope "a b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession()
			tc.edit(&s)
			got, err := s.CheckNew()
			if !errMatches(err, tc.wantErr) || got != tc.want {
				t.Fatalf("CheckNew = %q, %v; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRefreshTokenCheckNew(t *testing.T) {
	s := newSession()
	at := t0.Add(time.Second)
	tests := []struct {
		name    string
		in      RefreshToken
		want    RefreshToken
		wantErr string
	}{
		{"defaults", RefreshToken{Hash: hash, ExpiresAt: t0.Add(time.Hour)},
			RefreshToken{Hash: hash, SessionID: "s1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, ""},
		{"kept", RefreshToken{Hash: hash, SessionID: "s1", CreatedAt: at, ExpiresAt: t0.Add(time.Hour)},
			RefreshToken{Hash: hash, SessionID: "s1", CreatedAt: at, ExpiresAt: t0.Add(time.Hour)}, ""},
		{"other session", RefreshToken{Hash: hash, SessionID: "s2", ExpiresAt: t0}, RefreshToken{}, "names another session"},
		{"empty hash", RefreshToken{ExpiresAt: t0}, RefreshToken{}, "empty refresh token hash"},
		{"zero ExpiresAt", RefreshToken{Hash: hash}, RefreshToken{}, "refresh token with a zero ExpiresAt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.CheckNew(s)
			if !errMatches(err, tc.wantErr) || !equalToken(got, tc.want) {
				t.Fatalf("CheckNew = %+v, %v; want %+v, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestWebSessionCheckNew(t *testing.T) {
	s := newSession()
	later := t0.Add(time.Minute)
	tests := []struct {
		name    string
		in      WebSession
		want    WebSession
		wantErr string
	}{
		{"defaults", WebSession{Hash: hash}, WebSession{Hash: hash, SessionID: "s1", CreatedAt: t0, LastSeenAt: t0}, ""},
		{"LastSeenAt from CreatedAt", WebSession{Hash: hash, CreatedAt: later},
			WebSession{Hash: hash, SessionID: "s1", CreatedAt: later, LastSeenAt: later}, ""},
		{"kept", WebSession{Hash: hash, SessionID: "s1", CreatedAt: t0, LastSeenAt: later},
			WebSession{Hash: hash, SessionID: "s1", CreatedAt: t0, LastSeenAt: later}, ""},
		{"same microsecond", WebSession{Hash: hash, CreatedAt: t0.Add(999), LastSeenAt: t0.Add(1)},
			WebSession{Hash: hash, SessionID: "s1", CreatedAt: t0.Add(999), LastSeenAt: t0.Add(1)}, ""},
		{"other session", WebSession{Hash: hash, SessionID: "s2"}, WebSession{}, "names another session"},
		{"short hash", WebSession{Hash: hash[:31]}, WebSession{}, "web session hash of 31 bytes, want 32 (SHA-256)"},
		{"no hash", WebSession{}, WebSession{}, "web session hash of 0 bytes"},
		{"seen before created", WebSession{Hash: hash, CreatedAt: later, LastSeenAt: t0}, WebSession{}, "LastSeenAt before its CreatedAt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.CheckNew(s)
			ok := bytes.Equal(got.Hash, tc.want.Hash) && got.SessionID == tc.want.SessionID &&
				got.CreatedAt.Equal(tc.want.CreatedAt) && got.LastSeenAt.Equal(tc.want.LastSeenAt)
			if !errMatches(err, tc.wantErr) || !ok {
				t.Fatalf("CheckNew = %+v, %v; want %+v, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// errMatches reports whether err is nil when want is empty, and otherwise
// an error whose text contains want.
func errMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func equalToken(a, b RefreshToken) bool {
	return bytes.Equal(a.Hash, b.Hash) && a.SessionID == b.SessionID && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.RotatedAt.Equal(b.RotatedAt)
}

func TestCheckWebSessionLookup(t *testing.T) {
	tests := []struct {
		name             string
		hash             []byte
		now              time.Time
		idle, touchAfter time.Duration
		wantErr          string
	}{
		{"ok", hash, t0, time.Hour, time.Minute, ""},
		{"touch every time", hash, t0, time.Hour, 0, ""},
		{"short hash", hash[:8], t0, time.Hour, 0, "hash of 8 bytes, want 32 (SHA-256)"},
		{"zero now", hash, time.Time{}, time.Hour, 0, "zero time"},
		{"zero idle", hash, t0, 0, 0, "idle timeout 0s, want > 0"},
		{"negative touchAfter", hash, t0, time.Hour, -1, "touchAfter -1ns, want 0 <= touchAfter < idle (1h0m0s)"},
		{"touchAfter = idle", hash, t0, time.Hour, time.Hour, "touchAfter 1h0m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWebSessionLookup(tc.hash, tc.now, tc.idle, tc.touchAfter)
			if !errMatches(err, tc.wantErr) {
				t.Fatalf("CheckWebSessionLookup = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecideWebSession(t *testing.T) {
	const idle, touchAfter = time.Hour, time.Minute
	tests := []struct {
		name       string
		edit       func(*Session, *User)
		lastSeen   time.Time
		touchAfter time.Duration
		live       bool
		scopes     []string
		touch      bool
		bound      time.Time
	}{
		{"fresh", func(*Session, *User) {}, t0.Add(-time.Second), touchAfter, true, []string{ScopeItemsRead, ScopeItemsWrite}, false, time.Time{}},
		{"due for a touch", func(*Session, *User) {}, t0.Add(-touchAfter), touchAfter, true, []string{ScopeItemsRead, ScopeItemsWrite}, true, t0.Add(-touchAfter)},
		{"touch every time", func(*Session, *User) {}, t0.Add(-time.Microsecond), 0, true, []string{ScopeItemsRead, ScopeItemsWrite}, true, t0.Add(-time.Microsecond)},
		{"seen now, touchAfter 0", func(*Session, *User) {}, t0, 0, true, []string{ScopeItemsRead, ScopeItemsWrite}, false, time.Time{}},
		{"seen in the future", func(*Session, *User) {}, t0.Add(time.Second), 0, true, []string{ScopeItemsRead, ScopeItemsWrite}, false, time.Time{}},
		{"idle just under", func(*Session, *User) {}, t0.Add(-idle + time.Microsecond), touchAfter, true, []string{ScopeItemsRead, ScopeItemsWrite}, true, t0.Add(-touchAfter)},
		{"idle", func(*Session, *User) {}, t0.Add(-idle), touchAfter, false, nil, false, time.Time{}},
		{"revoked", func(s *Session, _ *User) { s.RevokedAt = t0 }, t0, touchAfter, false, nil, false, time.Time{}},
		{"expired", func(s *Session, _ *User) { s.ExpiresAt = t0 }, t0, touchAfter, false, nil, false, time.Time{}},
		{"disabled", func(_ *Session, u *User) { u.Disabled = true }, t0, touchAfter, false, nil, false, time.Time{}},
		{"version lag", func(s *Session, _ *User) { s.CredentialVersion = 2 }, t0, touchAfter, false, nil, false, time.Time{}},
		{"admin scopes of a demoted user", func(s *Session, _ *User) {
			s.Scopes = []string{ScopeUsersAdmin, ScopeItemsRead, ScopeKeysAdmin}
		}, t0, touchAfter, true, []string{ScopeItemsRead}, false, time.Time{}},
		{"admin keeps them", func(s *Session, u *User) {
			s.Scopes, u.Role = []string{ScopeUsersAdmin, ScopeItemsRead}, RoleAdmin
		}, t0, touchAfter, true, []string{ScopeUsersAdmin, ScopeItemsRead}, false, time.Time{}},
		{"none left", func(s *Session, _ *User) { s.Scopes = []string{ScopeKeysAdmin} }, t0, touchAfter, true, nil, false, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sess, u := newSession(), User{ID: "u1", Role: RoleUser}
			tc.edit(&sess, &u)
			v := DecideWebSession(tc.lastSeen, sess, u, t0, idle, tc.touchAfter)
			if v.Live != tc.live || !slices.Equal(v.Session.Scopes, tc.scopes) || (tc.scopes == nil) != (v.Session.Scopes == nil) ||
				v.Touch != tc.touch || !v.TouchBound.Equal(tc.bound) {
				t.Fatalf("DecideWebSession = %+v; want live %v, scopes %q, touch %v from %v", v, tc.live, tc.scopes, tc.touch, tc.bound)
			}
			if v.Live && (v.Session.ID != sess.ID || !v.Session.ExpiresAt.Equal(sess.ExpiresAt)) {
				t.Errorf("Session = %+v, want %+v but for its scopes", v.Session, sess)
			}
			if !v.Live && v.Session.ID != "" {
				t.Errorf("refused with a session: %+v", v.Session)
			}
		})
	}
}
