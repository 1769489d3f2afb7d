package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// ErrInvalidRefresh is what MemoryRefresh.Redeem returns for every refresh
// token it refuses: unknown, malformed, expired, already used (which also
// ends the token's session) or of an ended session. A token endpoint
// answers it with invalid_grant (RFC 6749 §5.2) whatever the reason.
var ErrInvalidRefresh = errors.New("token: invalid refresh token")

// Grant is what a refresh token stands for: a login of Subject, in the
// session SessionID, granted Scopes.
type Grant struct {
	Subject   string
	SessionID string
	Scopes    []string
}

// Defaults and limits of MemoryRefreshOptions.
const (
	DefaultRefreshLifetime = 14 * 24 * time.Hour
	DefaultMaxRefreshes    = 100_000
	refreshRandomBytes     = 32
)

// MemoryRefreshOptions configure NewMemoryRefresh. The zero value is ready
// to use.
type MemoryRefreshOptions struct {
	// Lifetime is how long an unused refresh token lives (default
	// DefaultRefreshLifetime, 14 days).
	Lifetime time.Duration
	// MaxTokens bounds how many refresh tokens (live and used) are kept;
	// when full, Issue drops expired ones, then the oldest, which ends
	// that login at its next refresh (default DefaultMaxRefreshes).
	MaxTokens int
	// Revocations, when set, gets RevokeSession for the session of a
	// refresh token presented a second time (reuse means it was stolen,
	// RFC 9700 §4.14.2), so the access tokens of that session stop
	// working at once too, and for every RevokeSession call.
	Revocations *Revocations
	// Now is the clock (default time.Now); Rand the source of tokens
	// (default crypto/rand.Reader, safe for concurrent use).
	Now  func() time.Time
	Rand io.Reader
}

// MemoryRefresh keeps refresh tokens in this process's memory. Each token
// is 256 random bits, stored only as its SHA-256 hash, and single use:
// Redeem consumes it and the caller issues the successor (rotation). A
// token redeemed a second time ends its whole session — its live
// successor included — since either the client or a thief holds a copy
// (RFC 9700 §4.14.2).
//
// It is meant for development, tests and a single instance: every token is
// lost when the process exits (users log in again) and instances do not
// share them. A deployment with several instances keeps refresh tokens in
// its database (fortapi serve does). Safe for concurrent use.
type MemoryRefresh struct {
	lifetime time.Duration
	max      int
	revs     *Revocations
	now      func() time.Time
	rand     io.Reader

	mu     sync.Mutex
	tokens map[[sha256.Size]byte]*refreshEntry
}

type refreshEntry struct {
	grant   Grant
	expires time.Time
	issued  time.Time
	used    bool
}

// NewMemoryRefresh returns an empty MemoryRefresh.
func NewMemoryRefresh(opts MemoryRefreshOptions) *MemoryRefresh {
	m := &MemoryRefresh{lifetime: opts.Lifetime, max: opts.MaxTokens, revs: opts.Revocations,
		now: opts.Now, rand: opts.Rand, tokens: map[[sha256.Size]byte]*refreshEntry{}}
	if m.lifetime <= 0 {
		m.lifetime = DefaultRefreshLifetime
	}
	if m.max <= 0 {
		m.max = DefaultMaxRefreshes
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	return m
}

// IssueRefresh returns a new refresh token for g.
func (m *MemoryRefresh) IssueRefresh(_ context.Context, g Grant) (string, error) {
	if !validIdent(g.Subject) || !validIdent(g.SessionID) {
		return "", errors.New("token: a refresh grant needs a subject and a session id of 1 to 256 bytes of printable UTF-8")
	}
	var raw [refreshRandomBytes]byte
	if _, err := io.ReadFull(m.rand, raw[:]); err != nil {
		return "", fmt.Errorf("token: reading random bytes: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now()
	g.Scopes = slices.Clone(g.Scopes)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.tokens) >= m.max {
		m.pruneLocked(now)
	}
	m.tokens[sha256.Sum256([]byte(tok))] = &refreshEntry{grant: g, issued: now, expires: now.Add(m.lifetime)}
	return tok, nil
}

// RedeemRefresh consumes tok and returns its grant; issue the successor
// with IssueRefresh. Every refusal is ErrInvalidRefresh. A token already
// redeemed ends its session (RevokeSession).
func (m *MemoryRefresh) RedeemRefresh(_ context.Context, tok string) (Grant, error) {
	if len(tok) != base64.RawURLEncoding.EncodedLen(refreshRandomBytes) {
		return Grant{}, ErrInvalidRefresh
	}
	key := sha256.Sum256([]byte(tok))
	now := m.now()
	m.mu.Lock()
	e, ok := m.tokens[key]
	switch {
	case !ok:
		m.mu.Unlock()
		return Grant{}, ErrInvalidRefresh
	case e.used:
		sid := e.grant.SessionID
		m.mu.Unlock()
		m.RevokeSession(sid)
		return Grant{}, ErrInvalidRefresh
	case !now.Before(e.expires):
		delete(m.tokens, key)
		m.mu.Unlock()
		return Grant{}, ErrInvalidRefresh
	}
	// Kept, marked used, until it would have expired: a second
	// presentation is then recognised as reuse.
	e.used = true
	g := e.grant
	g.Scopes = slices.Clone(g.Scopes)
	m.mu.Unlock()
	return g, nil
}

// RevokeSession ends session sid: its refresh tokens stop working, and
// with Options.Revocations its access tokens too. Use it at logout.
func (m *MemoryRefresh) RevokeSession(sid string) {
	m.mu.Lock()
	for k, e := range m.tokens {
		if e.grant.SessionID == sid {
			delete(m.tokens, k)
		}
	}
	m.mu.Unlock()
	if m.revs != nil {
		m.revs.RevokeSession(sid, m.now().Add(MaxLifetime))
	}
}

// Len returns how many refresh tokens (live or used) are kept.
func (m *MemoryRefresh) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens)
}

// pruneLocked drops expired tokens and, if still full, the oldest tenth.
func (m *MemoryRefresh) pruneLocked(now time.Time) {
	for k, e := range m.tokens {
		if !now.Before(e.expires) {
			delete(m.tokens, k)
		}
	}
	if len(m.tokens) < m.max {
		return
	}
	type aged struct {
		k  [sha256.Size]byte
		at time.Time
	}
	all := make([]aged, 0, len(m.tokens))
	for k, e := range m.tokens {
		all = append(all, aged{k, e.issued})
	}
	slices.SortFunc(all, func(a, b aged) int { return a.at.Compare(b.at) })
	for _, a := range all[:max(1, len(all)/10)] {
		delete(m.tokens, a.k)
	}
}
