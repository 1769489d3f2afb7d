package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
)

// Login is the input of Login.
type Login struct {
	Username, Password string
	// Scopes narrows the grant; nil asks for everything the role grants.
	Scopes   []string
	ClientIP string
	// Device is the device credential the client presents (POST /token's
	// device_token, the __Host-device cookie); "" for none. One that is
	// malformed, forged, expired, locked out or for another account is
	// ignored: the login is then untrusted (see ThrottleOptions).
	Device string
}

// throttleKey is the account a login attempt counts against, for the
// throttle and Options.LoginFailures alike: the canonical username
// (server.CanonicalUsername), so every spelling of one account (ADMIN,
// ａｄｍｉｎ) shares its bucket and two accounts never do. A name without a
// canonical form, which no account can have, gets a key of its own that
// starts with a space, which no canonical name holds; it is cut to
// maxRawKeyBytes.
func throttleKey(username string) string {
	if c, err := server.CanonicalUsername(username); err == nil {
		return c
	}
	if len(username) > maxRawKeyBytes {
		username = username[:maxRawKeyBytes]
	}
	return " " + username
}

// maxRawKeyBytes bounds the key of a name without a canonical form.
const maxRawKeyBytes = 4 * MaxUsernameBytes

// ValidUsername returns nil when s can be a username (it has a canonical
// form, server.CanonicalUsername), else a *server.UsernameError saying
// why not.
func ValidUsername(s string) error {
	_, err := server.CanonicalUsername(s)
	return err
}

// logName is a username as it may appear in the audit log: its canonical
// form when it has one, else the name with every invalid byte, control,
// bidirectional control and invisible character escaped
// (server.EscapeUsername: a right-to-left override shows as \u202e), cut
// to at most MaxUsernameBytes bytes between two characters.
func logName(s string) string {
	if c, err := server.CanonicalUsername(s); err == nil {
		return c
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		piece := server.EscapeUsername(s[i : i+n])
		if b.Len()+len(piece) > MaxUsernameBytes {
			break
		}
		b.WriteString(piece)
		i += n
	}
	return b.String()
}

// Login checks a username and password (RFC 6749 §4.3) and starts a
// session. Unknown users are verified against a dummy hash, so they cost
// the same time and get the same ErrInvalidGrant as a wrong password.
func (s *Service) Login(ctx context.Context, in Login) (_ Tokens, err error) {
	defer func() { s.observeAttempt(MethodPassword, err, false) }()
	user, scopes, err := s.checkLogin(ctx, in)
	if err != nil {
		return Tokens{}, err
	}
	dev, _, err := s.newDevice(in.Username)
	if err != nil {
		return Tokens{}, err
	}
	t, err := s.startSession(ctx, user, scopes, in.ClientIP)
	if err != nil {
		return Tokens{}, err
	}
	t.DeviceToken = dev
	return t, nil
}

// newDevice returns a fresh device credential for the username and when
// it stops being trusted.
func (s *Service) newDevice(username string) (string, time.Time, error) {
	now := s.o.Now()
	cred, err := newDevice(s.o.DeviceKey, s.o.Rand, throttleKey(username), now)
	return cred, time.Unix(now.Unix(), 0).Add(s.o.DeviceLifetime), err
}

// checkLogin is the part of a login that both Login and WebLogin run: the
// throttle, the failure limit, the password (or the dummy hash), the
// scopes, the re-hash. It returns the user and the granted scopes.
func (s *Service) checkLogin(ctx context.Context, in Login) (server.User, []string, error) {
	now := s.o.Now()
	key := throttleKey(in.Username)
	// A valid device credential for this account that is not locked out
	// makes the attempt trusted: only its own failures count (see
	// ThrottleOptions). Checking it costs the same whether or not the
	// account exists.
	dev, trusted := verifyDevice(s.o.DeviceKey, in.Device, key, now, s.o.DeviceLifetime)
	trusted = trusted && s.throttle.devices.trusted(dev, now)
	network := clientNetwork(in.ClientIP)
	if !trusted {
		if d := s.throttle.untrustedWait(key, network, now); d > 0 {
			return server.User{}, nil, &ThrottledError{RetryAfter: d}
		}
		if err := s.failuresLeft(ctx, key); err != nil {
			return server.User{}, nil, err
		}
	}
	// Any spelling with the account's canonical form finds it; a name
	// without one is an unknown user: the dummy hash, the same answer.
	var user server.User
	name, err := server.CanonicalUsername(in.Username)
	if err != nil {
		err = server.ErrNotFound
	} else {
		user, err = s.o.Store.GetUserByName(ctx, name)
	}
	var ok bool
	switch {
	case errors.Is(err, server.ErrNotFound):
		err = s.o.Hasher.VerifyDummy(ctx, in.Password)
	case err != nil:
		return server.User{}, nil, fmt.Errorf("authn: login: %w", err)
	case server.IsExternalPasswordHash(user.PasswordHash):
		// Provisioned for an external identity: no password logs in.
		err = s.o.Hasher.VerifyDummy(ctx, in.Password)
	default:
		ok, err = s.o.Hasher.Verify(ctx, in.Password, user.PasswordHash)
		if errors.Is(err, password.ErrMalformedHash) {
			// A broken stored hash fails like a wrong password, loudly.
			s.o.Logger.ErrorContext(ctx, "stored password hash is malformed", slog.String("user_id", user.ID))
			ok, err = false, nil
		}
		ok = ok && !user.Disabled
	}
	if err != nil { // the hasher is saturated (503) or ctx ended
		return server.User{}, nil, err
	}
	if !ok {
		if trusted {
			s.throttle.devices.fail(dev, s.o.Now())
		} else {
			s.throttle.untrustedFail(key, network, s.o.Now())
			s.failure(ctx, key)
		}
		s.event(ctx, server.Event{RequestID: requestID(ctx), Type: server.EventLoginFailure, UserID: user.ID, Username: logName(in.Username), ClientIP: in.ClientIP})
		return server.User{}, nil, ErrInvalidGrant
	}
	if trusted {
		s.throttle.devices.succeed(dev)
	} else {
		s.throttle.untrustedSucceed(key, network)
	}
	granted := user.Role.Scopes()
	scopes := granted
	if in.Scopes != nil {
		if !subset(in.Scopes, granted) {
			return server.User{}, nil, ErrInvalidScope
		}
		scopes = dedupe(in.Scopes)
	}
	if s.o.Hasher.NeedsRehash(user.PasswordHash) {
		s.rehash(ctx, user, in.Password)
	}
	return user, scopes, nil
}

// failuresLeft consults Options.LoginFailures before a password check: nil
// when the account (throttleKey) may try, a *ThrottledError when it has no
// failure left, an *UnavailableError when the limit cannot be checked.
func (s *Service) failuresLeft(ctx context.Context, key string) error {
	l := s.o.LoginFailures
	if l == nil {
		return nil
	}
	res, err := l.Peek(ctx, "username:"+key)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return &UnavailableError{RetryAfter: max(res.RetryAfter, time.Second)}
	case !res.Allowed:
		return &ThrottledError{RetryAfter: max(res.RetryAfter, time.Second)}
	}
	return nil
}

// failure counts a failed password check against Options.LoginFailures,
// even when the client has gone away meanwhile.
func (s *Service) failure(ctx context.Context, key string) {
	if l := s.o.LoginFailures; l != nil {
		_, _ = l.Check(context.WithoutCancel(ctx), "username:"+key)
	}
}

// rehash upgrades a user's stored hash (bcrypt, or weaker argon2
// parameters) after a successful login. A failure is logged, not fatal.
func (s *Service) rehash(ctx context.Context, u server.User, pw string) {
	h, err := s.o.Hasher.Hash(ctx, pw)
	if err == nil {
		old := u.PasswordHash
		_, err = s.o.Store.UpdateUser(ctx, u.ID, server.UserChange{PasswordHash: &h, IfPasswordHash: &old}, s.o.Now().UTC(),
			server.Event{RequestID: requestID(ctx), Type: server.EventPasswordRehash, Detail: "stored hash upgraded to the current algorithm"})
	}
	if err != nil && !errors.Is(err, server.ErrConflict) {
		s.o.Logger.WarnContext(ctx, "re-hashing a password failed", slog.String("user_id", u.ID), slog.Any("error", err))
	}
}

func (s *Service) startSession(ctx context.Context, u server.User, scopes []string, clientIP string) (Tokens, error) {
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	sid, err := s.random(16)
	if err != nil {
		return Tokens{}, err
	}
	refresh, hash, err := s.newRefresh()
	if err != nil {
		return Tokens{}, err
	}
	// The version the login read before checking the password: a password
	// change, disable or role change committed since makes the store
	// refuse the session.
	sess := server.Session{ID: sid, UserID: u.ID, Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(s.o.SessionLifetime),
		CredentialVersion: u.CredentialVersion}
	rt := server.RefreshToken{Hash: hash, SessionID: sid, CreatedAt: now, ExpiresAt: s.refreshExpiry(now, sess.ExpiresAt)}
	ev := server.Event{RequestID: requestID(ctx), Type: server.EventLoginSuccess, UserID: u.ID, Username: u.Username, SessionID: sid, ClientIP: clientIP}
	if err := s.o.Store.CreateSession(ctx, sess, rt, ev); err != nil {
		if errors.Is(err, server.ErrConflict) || errors.Is(err, server.ErrNotFound) {
			// Disabled, its password or role changed while this login
			// was checked.
			return Tokens{}, ErrInvalidGrant
		}
		return Tokens{}, fmt.Errorf("authn: creating a session: %w", err)
	}
	return s.issue(u.ID, sid, scopes, refresh)
}
