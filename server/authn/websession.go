package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/server"
)

// WebSession is what a successful WebLogin returns: the cookie to set and
// the session it names.
type WebSession struct {
	// Cookie is the cookie's value: 32 random bytes, unpadded base64url.
	// The store keeps only its SHA-256.
	Cookie    string
	SessionID string
	UserID    string
	Scopes    []string
	ExpiresAt time.Time
	// Device is a fresh device credential for the account, for the
	// __Host-device cookie, trusted until DeviceExpiresAt (see
	// Login.Device).
	Device          string
	DeviceExpiresAt time.Time
}

// ErrInvalidSession is what authenticating a cookie that names no live
// session returns (unknown, revoked, expired, idle, or its user disabled).
var ErrInvalidSession = errors.New("authn: the session is not valid")

// CookieName is the name of the session cookie (Options.SessionCookie).
func (s *Service) CookieName() string { return s.o.SessionCookie }

// WebLogin checks a username and password exactly as Login does (the same
// throttle, device credential, failure limit, dummy hash and answers) and
// starts a server-side web session instead of issuing tokens.
func (s *Service) WebLogin(ctx context.Context, in Login) (_ WebSession, err error) {
	defer func() { s.observeAttempt(MethodSession, err, false) }()
	user, scopes, err := s.checkLogin(ctx, in)
	if err != nil {
		return WebSession{}, err
	}
	dev, devExpires, err := s.newDevice(in.Username)
	if err != nil {
		return WebSession{}, err
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	sid, err := s.random(16)
	if err != nil {
		return WebSession{}, err
	}
	cookie, hash, err := s.newRefresh() // the same 256-bit secret, hashed the same way
	if err != nil {
		return WebSession{}, err
	}
	// The credential version as the login read it, as in startSession.
	sess := server.Session{ID: sid, UserID: user.ID, Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(s.o.WebLifetime),
		CredentialVersion: user.CredentialVersion}
	ws := server.WebSession{Hash: hash, SessionID: sid, CreatedAt: now, LastSeenAt: now}
	ev := server.Event{RequestID: requestID(ctx), Type: server.EventLoginSuccess, UserID: user.ID, Username: user.Username, SessionID: sid,
		ClientIP: in.ClientIP, Detail: "web session"}
	if err := s.o.Store.CreateWebSession(ctx, sess, ws, ev); err != nil {
		if errors.Is(err, server.ErrConflict) || errors.Is(err, server.ErrNotFound) {
			return WebSession{}, ErrInvalidGrant // disabled, password or role changed while this login was checked
		}
		return WebSession{}, fmt.Errorf("authn: creating a web session: %w", err)
	}
	return WebSession{Cookie: cookie, SessionID: sid, UserID: user.ID, Scopes: scopes, ExpiresAt: sess.ExpiresAt,
		Device: dev, DeviceExpiresAt: devExpires}, nil
}

// validCookie reports whether v can be a session cookie value: exactly the
// unpadded base64url of 32 bytes. Anything else is refused before hashing
// or a store lookup.
func validCookie(v string) bool {
	if len(v) != refreshTokenLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// authenticateSession turns the session cookie into a principal
// (fortapi.SessionScheme) through the store: a revoked session or a
// disabled user is refused from the moment the change commits, on every
// instance.
func (s *Service) authenticateSession(r *http.Request) (*fortapi.Principal, error) {
	var value string
	found := 0
	for _, c := range r.CookiesNamed(s.o.SessionCookie) {
		value = c.Value
		found++
	}
	switch {
	case found == 0:
		return nil, fortapi.ErrNoCredentials
	case found > 1:
		return nil, errors.New("authn: several session cookies") // cookie tossing
	case !validCookie(value):
		return nil, ErrInvalidSession
	}
	h := sha256.Sum256([]byte(value))
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	sess, u, err := s.o.Store.LookupWebSession(r.Context(), h[:], now, s.o.WebIdle, s.o.WebTouch)
	switch {
	case errors.Is(err, server.ErrNotFound):
		return nil, ErrInvalidSession
	case err != nil:
		if r.Context().Err() == nil {
			s.o.Logger.ErrorContext(r.Context(), "looking up a web session failed", "error", err)
		}
		return nil, unavailable("sessions cannot be checked right now")
	}
	return &fortapi.Principal{Subject: u.ID, Scheme: fortapi.SessionScheme, Scopes: sess.Scopes,
		SessionID: sess.ID, ExpiresAt: sess.ExpiresAt, IssuedAt: sess.CreatedAt}, nil
}
