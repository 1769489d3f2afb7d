package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// The input rules of CreateSession and CreateWebSession (AuthStore). A
// store applies them before its transaction, then checks in it what only
// the stored rows can tell (the user's standing, version and role).

// CheckNew checks a session that CreateSession or CreateWebSession is to
// store: ids, CreatedAt and ExpiresAt set, CredentialVersion not
// negative, every scope a ValidScope. It returns the scopes in their
// stored form (JoinScopes).
func (s Session) CheckNew() (scopes string, err error) {
	switch {
	case s.ID == "" || s.UserID == "":
		return "", errors.New("empty session or user id")
	case s.CreatedAt.IsZero() || s.ExpiresAt.IsZero():
		return "", errors.New("zero CreatedAt or ExpiresAt")
	case s.CredentialVersion < 0:
		return "", errors.New("negative CredentialVersion")
	}
	return JoinScopes(s.Scopes)
}

// CheckNew checks the first refresh token of the session s that
// CreateSession is to store, and returns it as it is stored: SessionID
// s.ID (an empty one is filled in; another session's is refused), a zero
// CreatedAt becomes s.CreatedAt. Hash and ExpiresAt must be set.
func (rt RefreshToken) CheckNew(s Session) (RefreshToken, error) {
	switch {
	case rt.SessionID != "" && rt.SessionID != s.ID:
		return RefreshToken{}, errors.New("the refresh token names another session")
	case len(rt.Hash) == 0:
		return RefreshToken{}, errors.New("empty refresh token hash")
	case rt.ExpiresAt.IsZero():
		return RefreshToken{}, errors.New("refresh token with a zero ExpiresAt")
	}
	rt.SessionID = s.ID
	if rt.CreatedAt.IsZero() {
		rt.CreatedAt = s.CreatedAt
	}
	return rt, nil
}

// CheckNew checks the cookie credential of the session s that
// CreateWebSession is to store, and returns it as it is stored:
// SessionID s.ID (an empty one is filled in; another session's is
// refused), a zero CreatedAt becomes s.CreatedAt and a zero LastSeenAt
// CreatedAt. Hash must be a SHA-256 (32 bytes), and LastSeenAt, to the
// microsecond, not before CreatedAt.
func (ws WebSession) CheckNew(s Session) (WebSession, error) {
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = s.CreatedAt
	}
	if ws.LastSeenAt.IsZero() {
		ws.LastSeenAt = ws.CreatedAt
	}
	switch {
	case ws.SessionID != "" && ws.SessionID != s.ID:
		return WebSession{}, errors.New("the web session names another session")
	case len(ws.Hash) != sha256.Size:
		return WebSession{}, fmt.Errorf("web session hash of %d bytes, want %d (SHA-256)", len(ws.Hash), sha256.Size)
	case ws.LastSeenAt.UnixMicro() < ws.CreatedAt.UnixMicro():
		return WebSession{}, errors.New("web session LastSeenAt before its CreatedAt")
	}
	ws.SessionID = s.ID
	return ws, nil
}
