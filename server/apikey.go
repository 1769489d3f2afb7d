package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fortapi/fortapi/apikey"
)

// APIKey is a stored API key (package apikey): only the HMAC of the key
// is kept (Hash), never the key. A key acts for its user with Scopes, a
// subset of the user's role's scopes, until it is revoked (its row is
// deleted), it expires, or its user is disabled or has a credential
// change (LiveAPIKey).
type APIKey struct {
	// ID is the key's public id (apikey.ValidID): the <id> of
	// fak_<id>_<secret><checksum>.
	ID     string
	UserID string
	// Name is the owner's label for the key: 1 to MaxAPIKeyName bytes of
	// printable UTF-8.
	Name string
	// Hash is apikey.Hasher.Hash of the key: exactly 32 bytes.
	Hash   []byte
	Scopes []string
	// AllowedCIDRs restricts the client addresses the key may be used
	// from (apikey.ParseAllowlist, in its canonical form); empty: any.
	AllowedCIDRs []string
	CreatedAt    time.Time
	// ExpiresAt is when the key stops working; zero: never.
	ExpiresAt time.Time
	// LastUsedAt is the last recorded use (TouchAPIKey, at most once per
	// touch interval); zero: never used.
	LastUsedAt time.Time
	// CredentialVersion is the user's CredentialVersion when the key was
	// created: a password change, a role change or a disable (every
	// UpdateUser with Revoke) moves the user's on, which ends the key for
	// good, as it ends the user's sessions.
	CredentialVersion int64
}

// Limits of API keys.
const (
	MaxAPIKeyName      = 100
	MaxAPIKeysPerUser  = 100
	MaxAPIKeyCIDRs     = 32
	apiKeyHashBytes    = 32
	maxStoredCIDRBytes = 64
)

// ErrTooManyAPIKeys is returned by CreateAPIKey when the user already has
// MaxAPIKeysPerUser keys.
var ErrTooManyAPIKeys = fmt.Errorf("a user may have at most %d API keys: revoke one first", MaxAPIKeysPerUser)

// APIKeyStore keeps API keys. It is part of AuthStore.
type APIKeyStore interface {
	// CreateAPIKey stores k (CheckNew) and ev, in one transaction, after
	// checking in it that k's user exists (ErrNotFound), is enabled, still
	// has k.CredentialVersion and a role granting every scope of k
	// (ErrConflict otherwise), and has fewer than MaxAPIKeysPerUser keys
	// (ErrTooManyAPIKeys). An id already stored is ErrConflict.
	CreateAPIKey(ctx context.Context, k APIKey, ev Event) error
	// ListAPIKeys returns the keys of the user, oldest first (expired
	// ones included; revoked ones are gone).
	ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error)
	// LookupAPIKey returns the key with the id and its user, or
	// ErrNotFound. It only reads: the caller verifies the hash and decides
	// (LiveAPIKey).
	LookupAPIKey(ctx context.Context, id string) (APIKey, User, error)
	// TouchAPIKey records a use of the key at now, unless one was
	// recorded after bound (a no-op then, and for an unknown id):
	// LastUsedAt only moves forward.
	TouchAPIKey(ctx context.Context, id string, now, bound time.Time) error
	// RevokeAPIKey deletes the key with the id that belongs to the user
	// and writes ev, in one transaction; ErrNotFound when the user has no
	// such key.
	RevokeAPIKey(ctx context.Context, userID, id string, now time.Time, ev Event) error
}

// ValidAPIKeyName reports whether s may name a key: 1 to MaxAPIKeyName
// bytes of UTF-8 without control characters.
func ValidAPIKeyName(s string) bool {
	if s == "" || len(s) > MaxAPIKeyName || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || isBidiControl(r) || isInvisible(r) {
			return false
		}
	}
	return true
}

// CheckNew checks k as CreateAPIKey stores it and returns its stored
// forms: the scopes (JoinScopes) and the CIDRs (space-separated).
func (k APIKey) CheckNew() (scopes, cidrs string, err error) {
	switch {
	case !apikey.ValidID(k.ID):
		return "", "", errors.New("invalid API key id")
	case k.UserID == "":
		return "", "", errors.New("empty user id")
	case !ValidAPIKeyName(k.Name):
		return "", "", errors.New("invalid API key name")
	case len(k.Hash) != apiKeyHashBytes:
		return "", "", fmt.Errorf("API key hash is %d bytes, want %d", len(k.Hash), apiKeyHashBytes)
	case len(k.Scopes) == 0:
		return "", "", errors.New("an API key needs at least one scope")
	case k.CreatedAt.IsZero():
		return "", "", errors.New("zero CreatedAt")
	case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(k.CreatedAt):
		return "", "", errors.New("ExpiresAt is not after CreatedAt")
	case !k.LastUsedAt.IsZero() && k.LastUsedAt.Before(k.CreatedAt):
		return "", "", errors.New("LastUsedAt is before CreatedAt")
	case k.CredentialVersion < 0:
		return "", "", errors.New("negative credential version")
	case len(k.AllowedCIDRs) > MaxAPIKeyCIDRs:
		return "", "", fmt.Errorf("at most %d CIDR prefixes", MaxAPIKeyCIDRs)
	}
	for i, s := range k.Scopes {
		if slices.Contains(k.Scopes[:i], s) {
			return "", "", fmt.Errorf("scope %q twice", s)
		}
	}
	if scopes, err = JoinScopes(k.Scopes); err != nil {
		return "", "", err
	}
	l, err := apikey.ParseAllowlist(k.AllowedCIDRs)
	if err != nil {
		return "", "", err
	}
	for i, s := range l.Strings() {
		if s != k.AllowedCIDRs[i] || len(s) > maxStoredCIDRBytes {
			return "", "", fmt.Errorf("CIDR %q is not in canonical form (%s)", k.AllowedCIDRs[i], s)
		}
	}
	return scopes, strings.Join(k.AllowedCIDRs, " "), nil
}

// GrantedBy reports whether role grants every scope of the key.
func (k APIKey) GrantedBy(role Role) bool {
	granted := role.Scopes()
	for _, s := range k.Scopes {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}

// LiveAPIKey reports whether k, owned by u, may be used at now: not
// expired, u enabled, u's credentials unchanged since k was created
// (CredentialVersion: no password change, role change or disable since),
// and u's role still granting every scope of k.
func LiveAPIKey(k APIKey, u User, now time.Time) bool {
	return k.UserID == u.ID && !u.Disabled && u.CredentialVersion == k.CredentialVersion &&
		(k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)) && k.GrantedBy(u.Role)
}

// TouchDue reports whether a use of k at now should be recorded, given
// that uses are recorded at most every touchAfter, and returns the bound
// for TouchAPIKey.
func TouchDue(k APIKey, now time.Time, touchAfter time.Duration) (due bool, bound time.Time) {
	bound = now.Add(-touchAfter)
	return k.LastUsedAt.IsZero() || !k.LastUsedAt.After(bound), bound
}

// CheckAPIKeyStanding is what CreateAPIKey checks of the user in its
// transaction: role, disabled flag and credential version as stored, and
// the number of keys the user has.
func (k APIKey) CheckAPIKeyStanding(role Role, disabled bool, version int64, count int) error {
	switch {
	case disabled:
		return fmt.Errorf("the user is disabled: %w", ErrConflict)
	case version != k.CredentialVersion:
		return fmt.Errorf("the user's credentials changed: %w", ErrConflict)
	case !k.GrantedBy(role):
		return fmt.Errorf("the user's role does not grant every scope of the key: %w", ErrConflict)
	case count >= MaxAPIKeysPerUser:
		return ErrTooManyAPIKeys
	}
	return nil
}
