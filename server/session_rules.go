package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
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

// CheckWebSessionLookup checks the input of LookupWebSession: hash a
// SHA-256 (32 bytes), now set, idle positive and touchAfter in [0, idle).
// Its error says nothing of any credential (it is not ErrNotFound).
func CheckWebSessionLookup(hash []byte, now time.Time, idle, touchAfter time.Duration) error {
	switch {
	case len(hash) != sha256.Size:
		return fmt.Errorf("hash of %d bytes, want %d (SHA-256)", len(hash), sha256.Size)
	case now.IsZero():
		return errors.New("zero time")
	case idle <= 0:
		return fmt.Errorf("idle timeout %v, want > 0", idle)
	case touchAfter < 0 || touchAfter >= idle:
		return fmt.Errorf("touchAfter %v, want 0 <= touchAfter < idle (%v)", touchAfter, idle)
	}
	return nil
}

// WebSessionVerdict is what LookupWebSession does with a credential it
// found (DecideWebSession).
type WebSessionVerdict struct {
	// Live is false when the lookup is refused (ErrNotFound).
	Live bool
	// Session is the session to return: its Scopes narrowed to those the
	// user's current role still grants, in stored order (nil for none).
	Session Session
	// Touch is set when the credential's LastSeenAt is due to be moved to
	// now; the store's update moves it only from a LastSeenAt at or
	// before TouchBound (now-touchAfter, and at least a microsecond
	// before now), so that lookups racing the same touch write it once
	// and it never moves backwards.
	Touch      bool
	TouchBound time.Time
}

// DecideWebSession decides, at now (to the microsecond, as the store
// keeps times), what LookupWebSession does with a credential last seen at
// lastSeen, of the session sess (its Scopes as stored) of the user u,
// with inputs accepted by CheckWebSessionLookup. The credential is
// refused when the session is not Live (revoked, past ExpiresAt, a
// disabled user, a credential version that moved) or the credential has
// been idle for idle or longer (lastSeen+idle <= now). A live one is
// touched when it was last seen touchAfter or longer ago, and before now.
func DecideWebSession(lastSeen time.Time, sess Session, u User, now time.Time, idle, touchAfter time.Duration) WebSessionVerdict {
	if !sess.Live(u, now) || !now.Before(lastSeen.Add(idle)) {
		return WebSessionVerdict{}
	}
	// Defence in depth: only the scopes the role grants now. A demotion
	// without Revoke leaves the session alive but takes the scopes away.
	stored := sess.Scopes
	sess.Scopes = nil
	for _, sc := range stored {
		if u.Role.Grants(sc) {
			sess.Scopes = append(sess.Scopes, sc)
		}
	}
	v := WebSessionVerdict{Live: true, Session: sess}
	if !now.Before(lastSeen.Add(touchAfter)) && lastSeen.Before(now) {
		v.Touch = true
		v.TouchBound = now.Add(-max(touchAfter, time.Microsecond))
	}
	return v
}
