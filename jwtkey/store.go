package jwtkey

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// State is where a key is in its life.
type State string

// The states of a key, in order. A Ring moves keys forward only (it may
// re-activate a key while repairing a store that two processes wrote
// concurrently); StateRevoked can follow any state and is final.
const (
	// StateNext: published in the JWKS so relying parties can cache it,
	// and verifies (another Ring on the Store may already have promoted
	// it), but does not sign yet.
	StateNext State = "next"
	// StateActive: the one key that signs; it also verifies.
	StateActive State = "active"
	// StateRetiring: no longer signs; still verifies, and stays in the
	// JWKS, until RetiredAt, when every token it signed has expired.
	StateRetiring State = "retiring"
	// StateRetired: neither signs nor verifies, not published. Its
	// private material is erased from the store.
	StateRetired State = "retired"
	// StateRevoked: withdrawn in an emergency; neither signs nor verifies,
	// not published, private material erased. Final.
	StateRevoked State = "revoked"
)

func validState(s State) bool {
	switch s {
	case StateNext, StateActive, StateRetiring, StateRetired, StateRevoked:
		return true
	}
	return false
}

// StoredKey is one key as a Store persists it. Only Sealed holds secret
// material, and it is encrypted; every other field may be stored in clear.
type StoredKey struct {
	ID  string // kid: 22 random base64url characters
	Alg Alg
	// State is the key's state when it was saved. Retiring keys whose
	// RetiredAt has passed are treated as retired before being saved so.
	State State

	CreatedAt   time.Time // generated
	ActivatedAt time.Time // started signing; zero while next
	RetiringAt  time.Time // stopped signing; zero until then
	RetiredAt   time.Time // stops verifying: RetiringAt + MaxTokenLifetime + Leeway
	RevokedAt   time.Time // revoked; zero unless revoked

	// Public is the public key: the 32-byte Ed25519 key or the 65-byte
	// uncompressed P-256 point; nil for HS256.
	Public []byte
	// Sealed is the private key (PKCS#8 DER, or the raw HMAC key)
	// encrypted under the master key with AES-256-GCM, authenticated
	// together with ID, Alg and Public. Nil once the key is retired or
	// revoked.
	Sealed []byte
}

// Store persists a Ring's keys. Several Rings, in several processes, may
// share one Store (a server and the `keys` CLI); each picks up the others'
// changes when it reloads.
//
// Implementations must be safe for concurrent use and must keep two rules:
//
//   - SaveKeys is an upsert of all given keys in one transaction: either
//     every key is written (inserted, or replacing the row with its ID) or
//     none is.
//   - Revocation is final: when the stored row already has a non-zero
//     RevokedAt, SaveKeys leaves that row unchanged, whatever is given.
//     (In SQL: ON CONFLICT (id) DO UPDATE ... WHERE revoked_at IS NULL.)
//     This keeps a concurrent rotation in another process from reviving a
//     key that was just revoked.
//
// LoadKeys returns every stored key, in any order. Keys are never deleted
// by a Ring. A store may prune retired rows some time after RetiredAt; it
// should keep revoked rows, whose RevokedAt is what keeps revocation final.
type Store interface {
	LoadKeys(ctx context.Context) ([]StoredKey, error)
	SaveKeys(ctx context.Context, keys []StoredKey) error
}

// MemoryStore is a Store in memory, safe for concurrent use: for tests and
// for a single process that may lose its keys on restart (which logs every
// user out). The zero value is ready to use.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]StoredKey
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// LoadKeys returns copies of all stored keys, oldest first.
func (s *MemoryStore) LoadKeys(ctx context.Context) ([]StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]StoredKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, cloneStored(k))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b StoredKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// SaveKeys upserts keys atomically: all are written, or none when one has
// an empty ID or an ID appears twice. A row already revoked is left as it
// is.
func (s *MemoryStore) SaveKeys(ctx context.Context, keys []StoredKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if k.ID == "" {
			return errors.New("jwtkey: MemoryStore: key without an ID")
		}
		if seen[k.ID] {
			return fmt.Errorf("jwtkey: MemoryStore: key %q given twice", k.ID)
		}
		seen[k.ID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make(map[string]StoredKey, len(keys))
	}
	for _, k := range keys {
		if old, ok := s.keys[k.ID]; ok && !old.RevokedAt.IsZero() {
			continue
		}
		s.keys[k.ID] = cloneStored(k)
	}
	return nil
}

func cloneStored(k StoredKey) StoredKey {
	k.Public = bytes.Clone(k.Public)
	k.Sealed = bytes.Clone(k.Sealed)
	return k
}
