package server

import (
	"bytes"
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
