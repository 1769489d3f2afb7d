package server

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The rules below belong to the store contract (AuthStore), not to one
// store: every store applies them, so they live here once.

// ValidScope reports whether sc is a scope-token of RFC 6749 §3.3: one or
// more printable ASCII characters other than space, '"' and '\'. Stores
// keep a session's scopes space-separated, so a space inside one would
// split it.
func ValidScope(sc string) bool {
	if sc == "" {
		return false
	}
	for i := 0; i < len(sc); i++ {
		c := sc[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// JoinScopes returns the stored form of scopes: space-separated, in the
// given order. A scope that is not a ValidScope is an error quoting it.
func JoinScopes(scopes []string) (string, error) {
	for _, sc := range scopes {
		if !ValidScope(sc) {
			return "", fmt.Errorf("invalid scope %q", sc)
		}
	}
	return strings.Join(scopes, " "), nil
}

// SplitScopes is the inverse of JoinScopes: nil for "".
func SplitScopes(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// Validate returns nil for a known role and an error quoting r otherwise.
func (r Role) Validate() error {
	_, err := ParseRole(string(r))
	return err
}

// Grants reports whether the role grants the scope.
func (r Role) Grants(scope string) bool {
	return slices.Contains(r.Scopes(), scope)
}

// EnabledAdmin reports whether u counts for the last-admin rule: an
// administrator that is not disabled. UpdateUser refuses (ErrLastAdmin) a
// change after which no user is one.
func (u User) EnabledAdmin() bool {
	return u.Role == RoleAdmin && !u.Disabled
}

// Validate checks what every stored revocation needs: a known Kind, a
// Value and a non-zero Until (an entry with a zero Until would refuse
// nothing).
func (r Revocation) Validate() error {
	switch r.Kind {
	case RevokeSubject, RevokeSession, RevokeJTI:
	default:
		return fmt.Errorf("unknown revocation kind %q", r.Kind)
	}
	switch {
	case r.Value == "":
		return errors.New("revocation without a value")
	case r.Until.IsZero():
		return errors.New("revocation with a zero Until")
	}
	return nil
}

// Filled returns ev with the fields a store fills in for the caller (see
// Event) set where the caller left them empty: At, UserID, Username and
// SessionID. A username filled in is escaped (EscapeUsername): names
// stored before canonical ones may hold anything.
func (ev Event) Filled(at time.Time, userID, username, sessionID string) Event {
	if ev.At.IsZero() {
		ev.At = at
	}
	if ev.UserID == "" {
		ev.UserID = userID
	}
	if ev.Username == "" {
		ev.Username = EscapeUsername(username)
	}
	if ev.SessionID == "" {
		ev.SessionID = sessionID
	}
	return ev
}

// CheckNumbers refuses an item whose Price or Tax is NaN: it equals
// nothing, not even itself, and SQLite cannot store it (it becomes NULL),
// so no store keeps one.
func (it Item) CheckNumbers() error {
	if math.IsNaN(it.Price) {
		return errors.New("price is NaN")
	}
	if it.Tax != nil && math.IsNaN(*it.Tax) {
		return errors.New("tax is NaN")
	}
	return nil
}
