package token

import (
	"sync"
	"time"
)

// RevocationChecker tells whether a verified token has been revoked.
//
// Verify calls Revoked on every call, cache hits included, after the
// signature and the claims have been checked; Issue calls it on the claims
// of each new token. It must be safe for concurrent use, must not modify c,
// and should be a cheap in-memory read: it sits on every request's path.
type RevocationChecker interface {
	Revoked(c *Claims) bool
}

// RevocationsOptions configures NewRevocations. The zero value is ready to
// use.
type RevocationsOptions struct {
	// Now returns the current time; only pruning uses it. Default time.Now.
	Now func() time.Time

	// MaxTokenAge is how long after its iat a token can still be accepted:
	// at least the Lifetime plus the Leeway of every Service that consults
	// these Revocations. Subject revocations are kept until MaxTokenAge
	// after their notBefore. Zero or less means MaxLifetime + MaxLeeway,
	// enough for any Service; a smaller value only saves memory, and a value
	// below a Service's Lifetime + Leeway lets a pruned subject revocation
	// expire while tokens it refused are still within their lifetime.
	MaxTokenAge time.Duration
}

// Revocations is an in-memory RevocationChecker: per-subject not-before
// times, revoked sessions and revoked token ids. Revoked is a read under a
// read lock. Entries are dropped once no token they refuse can be valid any
// more (by Prune, which each Revoke method also runs at most once a
// minute), so memory stays bounded by what is revoked within the lifetime
// of live tokens.
//
// Revocations are per process. Several instances behind a load balancer
// must each be told (for example from a shared store or a broadcast).
//
// The zero value is not usable; call NewRevocations.
type Revocations struct {
	now    func() time.Time
	maxAge time.Duration

	mu        sync.RWMutex
	subjects  map[string]int64     // sub -> tokens with iat (unix s) below are revoked
	sessions  map[string]time.Time // sid -> revoked; pruned after the time + MaxLeeway
	ids       map[string]time.Time // jti -> revoked; pruned after the time + MaxLeeway
	lastPrune time.Time
}

// pruneEvery is how often the Revoke methods prune on their own.
const pruneEvery = time.Minute

// deadlineSlack is added to session and jti deadlines before pruning:
// the largest leeway a Service accepts after exp, plus the one second by
// which Issue may move iat (and so exp) forward; see Service.Issue.
const deadlineSlack = MaxLeeway + time.Second

// NewRevocations returns an empty Revocations.
func NewRevocations(opts RevocationsOptions) *Revocations {
	r := &Revocations{
		now:      opts.Now,
		maxAge:   opts.MaxTokenAge,
		subjects: make(map[string]int64),
		sessions: make(map[string]time.Time),
		ids:      make(map[string]time.Time),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.maxAge <= 0 {
		r.maxAge = MaxLifetime + MaxLeeway
	}
	r.lastPrune = r.now()
	return r
}

// RevokeSubject refuses every token of sub issued before notBefore: use it
// on password change, role change and when a user is disabled, with
// notBefore = now.
//
// A token's iat is in whole seconds (rounded down), so the rule is: refused
// when iat < notBefore rounded up to a whole second. Every token issued
// before notBefore is refused, including one issued earlier in the same
// second. A token issued later in that same second would be refused too;
// Issue avoids handing out such a dead token by moving its iat (and nbf,
// exp) one second forward, see Service.Issue. Of several calls for one
// subject the latest notBefore wins.
func (r *Revocations) RevokeSubject(sub string, notBefore time.Time) {
	if sub == "" {
		return // no valid token has an empty subject
	}
	nb := ceilUnix(notBefore)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.subjects[sub]; !ok || nb > old {
		r.subjects[sub] = nb
	}
	r.maybePruneLocked()
}

// RevokeSession refuses every token of session sid, for example at logout.
// until is when the last of the session's tokens expires: at least the
// latest ExpiresAt of its tokens; time.Now().Add(svc.Lifetime() +
// time.Second) bounds every token issued so far. The entry is kept until
// MaxLeeway after until. Of several calls the latest until wins.
func (r *Revocations) RevokeSession(sid string, until time.Time) {
	if sid == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.sessions[sid]; !ok || until.After(old) {
		r.sessions[sid] = until
	}
	r.maybePruneLocked()
}

// RevokeJTI refuses the one token with id jti; exp is its ExpiresAt. The
// entry is kept until MaxLeeway after exp.
func (r *Revocations) RevokeJTI(jti string, exp time.Time) {
	if jti == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.ids[jti]; !ok || exp.After(old) {
		r.ids[jti] = exp
	}
	r.maybePruneLocked()
}

// Revoked reports whether c is refused by a subject, session or token-id
// revocation. A nil c is revoked.
func (r *Revocations) Revoked(c *Claims) bool {
	if c == nil {
		return true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if nb, ok := r.subjects[c.Subject]; ok && c.IssuedAt.Unix() < nb {
		return true
	}
	if _, ok := r.sessions[c.SessionID]; ok {
		return true
	}
	if _, ok := r.ids[c.ID]; ok {
		return true
	}
	return false
}

// Prune drops every entry that can no longer refuse a valid token.
func (r *Revocations) Prune() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(r.now())
}

func (r *Revocations) maybePruneLocked() {
	if now := r.now(); now.Sub(r.lastPrune) >= pruneEvery {
		r.pruneLocked(now)
	}
}

func (r *Revocations) pruneLocked(now time.Time) {
	r.lastPrune = now
	// A token refused by a subject entry has iat < nb, and Verify refuses
	// it from iat + Lifetime + Leeway < nb + maxAge on.
	for sub, nb := range r.subjects {
		if !now.Before(time.Unix(nb, 0).Add(r.maxAge)) {
			delete(r.subjects, sub)
		}
	}
	for sid, until := range r.sessions {
		if !now.Before(until.Add(deadlineSlack)) {
			delete(r.sessions, sid)
		}
	}
	for jti, exp := range r.ids {
		if !now.Before(exp.Add(deadlineSlack)) {
			delete(r.ids, jti)
		}
	}
}

// size returns the number of entries (for tests).
func (r *Revocations) size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.subjects) + len(r.sessions) + len(r.ids)
}

// ceilUnix returns t in unix seconds, rounded up to a whole second.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() != 0 {
		s++
	}
	return s
}
