package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
)

// CreateUser checks the username and password, hashes the password and
// stores the user. actor names who did it in the audit log.
//
// The user is stored under the canonical form of username
// (server.CanonicalUsername: ＡＤＭＩＮ is admin); a username without one
// gives a *server.UsernameError, one whose canonical form is taken
// server.ErrConflict.
func (s *Service) CreateUser(ctx context.Context, username, pw string, role server.Role, actor string) (server.User, error) {
	username, err := server.CanonicalUsername(username)
	if err != nil {
		return server.User{}, err
	}
	if _, err := server.ParseRole(string(role)); err != nil {
		return server.User{}, err
	}
	if err := s.o.Policy.Check(pw, username); err != nil {
		return server.User{}, err
	}
	h, err := s.o.Hasher.Hash(ctx, pw)
	if err != nil {
		return server.User{}, err
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	id, err := server.NewID(now, s.o.Rand)
	if err != nil {
		return server.User{}, err
	}
	u := server.User{ID: id, Username: username, Role: role, PasswordHash: h, CreatedAt: now, UpdatedAt: now}
	ev := server.Event{RequestID: requestID(ctx), Type: server.EventUserCreated, UserID: id, Username: username, Detail: "role " + string(role) + " by " + actor, Actor: actor}
	if err := s.o.Store.CreateUser(ctx, u, ev); err != nil {
		return server.User{}, err
	}
	return u, nil
}

// Username returns the username of the user with the id, from a cache
// after the first call.
func (s *Service) Username(ctx context.Context, userID string) (string, error) {
	s.namesMu.RLock()
	name, ok := s.names[userID]
	s.namesMu.RUnlock()
	if ok {
		return name, nil
	}
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return "", err
	}
	s.namesMu.Lock()
	if len(s.names) >= maxCachedNames {
		clear(s.names)
	}
	s.names[userID] = u.Username
	s.namesMu.Unlock()
	return u.Username, nil
}

// ChangePassword replaces a user's password after checking the current one,
// and revokes every session and access token of the user. Wrong current
// passwords count as untrusted login failures of the account (its
// username ceiling and Options.LoginFailures), and among themselves get
// the same free failures and delays as one client network: a stolen
// token cannot guess the password faster than an untrusted client.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next string) error {
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	key := throttleKey(u.Username)
	if d := s.throttle.untrustedWait(key, passwordChangeNetwork, s.o.Now()); d > 0 {
		return &ThrottledError{RetryAfter: d}
	}
	if err := s.failuresLeft(ctx, key); err != nil {
		return err
	}
	ok, err := s.o.Hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return err
	}
	if !ok {
		s.throttle.untrustedFail(key, passwordChangeNetwork, s.o.Now())
		s.failure(ctx, key)
		return ErrWrongPassword
	}
	if err := s.o.Policy.Check(next, u.Username); err != nil {
		return err
	}
	h, err := s.o.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	old := u.PasswordHash
	_, err = s.changeUser(ctx, u.ID, server.UserChange{PasswordHash: &h, IfPasswordHash: &old},
		server.Event{RequestID: requestID(ctx), Type: server.EventPasswordChanged, Detail: "password changed; sessions revoked"})
	return err
}

// passwordChangeNetwork is the client network ChangePassword's failures
// count under: no address parses to it.
const passwordChangeNetwork = "password-change"

// SetRole changes a user's role and revokes the user's tokens.
func (s *Service) SetRole(ctx context.Context, userID string, role server.Role, actor string) (server.User, error) {
	return s.UpdateUser(ctx, userID, &role, nil, actor)
}

// SetDisabled disables (revoking the user's tokens) or enables a user.
func (s *Service) SetDisabled(ctx context.Context, userID string, disabled bool, actor string) (server.User, error) {
	return s.UpdateUser(ctx, userID, nil, &disabled, actor)
}

// UpdateUser changes a user's role and/or disabled flag (nil leaves one as
// it is) in one atomic change, and revokes every session and access token
// of the user at once. The audit event is user.disabled when the change
// disables, otherwise user.role_changed when it sets a role, otherwise
// user.enabled; its detail names every field set and the actor. Errors:
// server.ErrNotFound, server.ErrLastAdmin, or an error naming an unknown
// role.
func (s *Service) UpdateUser(ctx context.Context, userID string, role *server.Role, disabled *bool, actor string) (server.User, error) {
	if role == nil && disabled == nil {
		return server.User{}, errors.New("authn: update user: nothing to change")
	}
	var parts []string
	typ := server.EventUserEnabled
	if role != nil {
		if _, err := server.ParseRole(string(*role)); err != nil {
			return server.User{}, err
		}
		typ = server.EventRoleChanged
		parts = append(parts, "role "+string(*role))
	}
	if disabled != nil {
		if *disabled {
			typ = server.EventUserDisabled
			parts = append(parts, "disabled")
		} else {
			parts = append(parts, "enabled")
		}
	}
	return s.changeUser(ctx, userID, server.UserChange{Role: role, Disabled: disabled},
		server.Event{RequestID: requestID(ctx), Type: typ, Detail: strings.Join(parts, ", ") + " by " + actor, Actor: actor})
}

// changeUser applies ch and revokes everything the user holds, in the
// store and, at once, in this process's memory.
func (s *Service) changeUser(ctx context.Context, userID string, ch server.UserChange, ev server.Event) (server.User, error) {
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	until := s.revocationUntil(now)
	ch.Revoke = &server.Revocation{Kind: server.RevokeSubject, Value: userID, NotBefore: now, Until: until, CreatedAt: now}
	s.own.begin(now)
	u, err := s.o.Store.UpdateUser(ctx, userID, ch, now, ev)
	s.own.end(now)
	if err != nil {
		return server.User{}, err
	}
	s.o.Revocations.RevokeSubject(userID, now)
	// The store has also moved the user's credential version: a login
	// that read the user before this change cannot start a session now.
	// The user's sessions were revoked in the log: apply them here now,
	// the other processes within SyncEvery.
	if err := s.Sync(ctx); err != nil {
		s.o.Logger.WarnContext(ctx, "replaying revocations after a user change failed; the background sync retries", slog.Any("error", err))
	}
	return u, nil
}

// Bootstrap creates the user "admin" when the store has no user at all,
// with pw or, when pw is empty, a random password, which it returns
// (the caller shows it once). created is false when users already exist.
func (s *Service) Bootstrap(ctx context.Context, pw string) (generated string, created bool, err error) {
	users, err := s.o.Store.ListUsers(ctx, "", 1)
	if err != nil {
		return "", false, err
	}
	if len(users) > 0 {
		return "", false, nil
	}
	if pw == "" {
		if pw, err = s.random(18); err != nil {
			return "", false, err
		}
		generated = pw
	}
	if _, err := s.CreateUser(ctx, "admin", pw, server.RoleAdmin, "bootstrap"); err != nil {
		if errors.Is(err, server.ErrConflict) { // another process won the race
			return "", false, nil
		}
		return "", false, fmt.Errorf("creating the first administrator: %w", err)
	}
	return generated, true, nil
}

// SetPassword replaces a user's password without the current one (an
// administrator's reset, such as fortapi user set-password), after the
// password policy, and revokes every session and access token of the
// user at once, like ChangePassword. actor names who did it in the audit
// event (user.password_changed, detail "by "+actor). Errors:
// server.ErrNotFound, *password.PolicyError.
func (s *Service) SetPassword(ctx context.Context, userID, pw, actor string) (server.User, error) {
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return server.User{}, err
	}
	if err := s.o.Policy.Check(pw, u.Username); err != nil {
		return server.User{}, err
	}
	h, err := s.o.Hasher.Hash(ctx, pw)
	if err != nil {
		return server.User{}, err
	}
	return s.changeUser(ctx, u.ID, server.UserChange{PasswordHash: &h},
		server.Event{RequestID: requestID(ctx), Type: server.EventPasswordChanged, Detail: "by " + actor, Actor: actor})
}
