package server

import (
	"errors"
	"fmt"
	"time"
)

// The rules of UpdateUser (AuthStore) that do not depend on a store: the
// change's checks and defaults, and what it does to the stored user. A
// store locks and reads the user, applies the change with Apply, asks its
// tables whether another enabled administrator remains when Apply says
// so, and writes.

// WithDefaults returns r with the fields a store fills in set where they
// are zero: Kind to kind, Value to value (left empty when value is) and
// CreatedAt to now.
func (r Revocation) WithDefaults(kind RevocationKind, value string, now time.Time) Revocation {
	if r.Kind == "" {
		r.Kind = kind
	}
	if r.Value == "" {
		r.Value = value
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	return r
}

// Normalize checks ch as UpdateUser does for the user id at now, before
// it reads anything: id and now set, a known Role, a non-empty
// PasswordHash, a valid Revoke. It returns ch with Revoke (a copy) filled
// in: Kind RevokeSubject, Value id, CreatedAt now and, for a subject
// revocation, NotBefore now (a zero one would refuse nothing: every
// token issued so far).
func (ch UserChange) Normalize(id string, now time.Time) (UserChange, error) {
	switch {
	case id == "":
		return UserChange{}, errors.New("empty user id")
	case now.IsZero():
		return UserChange{}, errors.New("zero time")
	}
	if ch.Role != nil {
		if err := ch.Role.Validate(); err != nil {
			return UserChange{}, err
		}
	}
	if ch.PasswordHash != nil && *ch.PasswordHash == "" {
		return UserChange{}, errors.New("empty password hash")
	}
	if ch.Revoke != nil {
		rev := ch.Revoke.WithDefaults(RevokeSubject, id, now)
		if rev.NotBefore.IsZero() && rev.Kind == RevokeSubject {
			rev.NotBefore = now
		}
		if err := rev.Validate(); err != nil {
			return UserChange{}, err
		}
		ch.Revoke = &rev
	}
	return ch, nil
}

// Apply returns the stored user u as ch changes it at now: Role,
// Disabled and PasswordHash where ch sets them, UpdatedAt now, and
// CredentialVersion one more when ch revokes (every change that ends the
// user's sessions also ends the logins in flight: their CreateSession
// compares the version). It refuses, with an error wrapping ErrConflict,
// a change whose IfPasswordHash is not u's hash. checkLastAdmin reports
// that u was an enabled administrator and the result is not: the store
// must then refuse the change (ErrLastAdmin) unless another enabled
// administrator remains.
func (ch UserChange) Apply(u User, now time.Time) (changed User, checkLastAdmin bool, err error) {
	if ch.IfPasswordHash != nil && *ch.IfPasswordHash != u.PasswordHash {
		return User{}, false, fmt.Errorf("the password hash has changed: %w", ErrConflict)
	}
	wasAdmin := u.EnabledAdmin()
	if ch.Role != nil {
		u.Role = *ch.Role
	}
	if ch.Disabled != nil {
		u.Disabled = *ch.Disabled
	}
	if ch.PasswordHash != nil {
		u.PasswordHash = *ch.PasswordHash
	}
	u.UpdatedAt = now
	if ch.Revoke != nil {
		u.CredentialVersion++
	}
	return u, wasAdmin && !u.EnabledAdmin(), nil
}
