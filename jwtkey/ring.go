package jwtkey

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultAlg              = EdDSA
	DefaultRotateEvery      = 30 * 24 * time.Hour
	DefaultMaxTokenLifetime = 15 * time.Minute
	DefaultLeeway           = 30 * time.Second

	// MinRotateEvery is the shortest rotation period accepted. Every
	// rotation adds a key to the store for good, so a tiny period would
	// churn keys and grow the store without making anything safer.
	MinRotateEvery = time.Minute
)

// Errors. Each error a Ring returns wraps one of these where it applies;
// test with errors.Is.
var (
	// ErrInvalidOptions: a required option is missing or a value is out
	// of range. The message names the field.
	ErrInvalidOptions = errors.New("jwtkey: invalid options")
	// ErrUnknownKey: no key with that kid is in the store.
	ErrUnknownKey = errors.New("jwtkey: unknown key")
	// ErrWrongMasterKey: the stored keys were sealed under another master
	// key.
	ErrWrongMasterKey = errors.New("jwtkey: wrong master key: the stored keys were sealed under another master key")
	// ErrCorruptKey: a stored key cannot be used: its sealed material
	// does not authenticate (altered, or moved from another row), or a
	// field is invalid.
	ErrCorruptKey = errors.New("jwtkey: stored key is corrupt or was tampered with")
	// ErrWeakKey: an HS256 key shorter than MinHMACKeySize bytes.
	ErrWeakKey = errors.New("jwtkey: key too short")
	// ErrNoActiveKey: the Ring has no key to sign with (it was not made
	// by Open).
	ErrNoActiveKey = errors.New("jwtkey: no active signing key")
)

// Options configure a Ring. MasterKey and Store are required; every other
// field has a safe default when left zero.
type Options struct {
	// Alg is the algorithm of the keys the Ring generates. Default EdDSA.
	// Keys already stored keep their own algorithm, so changing Alg logs
	// no one out: the next key generated after the change uses the new
	// algorithm, which therefore signs from the second rotation on.
	Alg Alg
	// MasterKey seals private keys at rest (AES-256-GCM). Required:
	// exactly MasterKeySize (32) random bytes, not all zero. It is copied.
	MasterKey []byte
	// Store persists the keys. Required.
	Store Store
	// RotateEvery is how long a key signs before Maintain rotates it.
	// Default 30 days; at least MinRotateEvery.
	RotateEvery time.Duration
	// MaxTokenLifetime is the longest lifetime of any token signed with
	// the Ring's keys. A retiring key keeps verifying for this long plus
	// Leeway after it stopped signing. Default 15 minutes. Setting it
	// below the real token lifetime logs users out at rotation.
	MaxTokenLifetime time.Duration
	// Leeway is the clock skew allowed on top of MaxTokenLifetime.
	// Default 30 seconds.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of kids, keys and nonces. Default crypto/rand.
	Rand io.Reader
	// Logger receives key life-cycle events (created, activated,
	// retiring, retired, revoked, repaired). It never receives key
	// material. Default: no logging.
	Logger *slog.Logger
}

// KeyInfo is a key's public metadata, without key material.
type KeyInfo struct {
	ID    string
	Alg   Alg
	State State // as of the Ring's clock: a retiring key past RetiredAt shows as retired

	CreatedAt   time.Time
	ActivatedAt time.Time
	RetiringAt  time.Time
	RetiredAt   time.Time
	RevokedAt   time.Time
}

// Ring holds a set of signing keys and rotates them. Exactly one key, the
// active key, signs. The methods are safe for concurrent use; Signer,
// Verifier, JWKS and Keys read an immutable snapshot and never block on
// a rotation in progress.
//
// Changes made through another Ring on the same Store (for example by the
// `keys` CLI, or another server) are seen at this Ring's next Reload or
// Maintain; until then this Ring keeps signing and verifying with what it
// last loaded. Because the next key verifies, a token signed by a Ring that
// has just rotated verifies here before this Ring reloads. A server should
// call Maintain every few seconds, and Reload when told that the Store's
// keys changed.
type Ring struct {
	store       Store
	alg         Alg
	rotateEvery time.Duration
	maxLifetime time.Duration
	leeway      time.Duration
	now         func() time.Time
	rand        io.Reader
	log         *slog.Logger
	sealer      *sealer

	mu   sync.Mutex // serializes Reload, Maintain, Rotate and Revoke
	snap atomic.Pointer[snapshot]
}

// record is one key: its stored form and, for keys that sign or verify,
// its parsed material. Records in a published snapshot are never changed.
type record struct {
	k      StoredKey
	sign   any
	verify any
	dirty  bool // changed since loaded; to be saved
}

// snapshot is an immutable view of the ring.
type snapshot struct {
	recs      []*record // oldest first
	signer    SigningKey
	hasSigner bool
	verify    map[string]verifyEntry
	jwks      []byte
	jwksUntil time.Time // zero, or when the first retiring key in jwks retires
}

type verifyEntry struct {
	key   VerifyingKey
	until time.Time // zero for the active key
}

// Open loads the keys from opts.Store and returns a Ring ready to sign.
// On an empty store it creates an active key and a next key and saves
// them. It repairs an inconsistent store (no active key, several active or
// next keys) and saves the repair. It fails with ErrWrongMasterKey when
// the keys were sealed under another master key and with ErrCorruptKey
// when a key in use cannot be opened.
func Open(ctx context.Context, opts Options) (*Ring, error) {
	r, err := newRing(opts)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.commit(ctx, c); err != nil {
		return nil, err
	}
	return r, nil
}

func newRing(opts Options) (*Ring, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("%w: Store is required", ErrInvalidOptions)
	}
	if len(opts.MasterKey) != MasterKeySize {
		return nil, fmt.Errorf("%w: MasterKey must be exactly %d bytes, got %d", ErrInvalidOptions, MasterKeySize, len(opts.MasterKey))
	}
	if allZero(opts.MasterKey) {
		return nil, fmt.Errorf("%w: MasterKey is all zero bytes; use %d random bytes", ErrInvalidOptions, MasterKeySize)
	}
	r := &Ring{
		store:       opts.Store,
		alg:         cmp.Or(opts.Alg, DefaultAlg),
		rotateEvery: cmp.Or(opts.RotateEvery, DefaultRotateEvery),
		maxLifetime: cmp.Or(opts.MaxTokenLifetime, DefaultMaxTokenLifetime),
		leeway:      cmp.Or(opts.Leeway, DefaultLeeway),
		now:         opts.Now,
		rand:        opts.Rand,
		log:         opts.Logger,
	}
	if !validAlg(r.alg) {
		return nil, fmt.Errorf("%w: unsupported Alg %q (want EdDSA, ES256 or HS256)", ErrInvalidOptions, opts.Alg)
	}
	if r.rotateEvery < MinRotateEvery {
		return nil, fmt.Errorf("%w: RotateEvery is %v, at least %v is required", ErrInvalidOptions, opts.RotateEvery, MinRotateEvery)
	}
	if r.maxLifetime < 0 {
		return nil, fmt.Errorf("%w: MaxTokenLifetime is negative", ErrInvalidOptions)
	}
	if r.leeway < 0 {
		return nil, fmt.Errorf("%w: Leeway is negative", ErrInvalidOptions)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	s, err := newSealer(opts.MasterKey)
	if err != nil {
		return nil, err
	}
	r.sealer = s
	return r, nil
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// Signer returns the active key. It is cheap (an atomic load) and meant to
// be called for every token issued. The key material is shared: callers
// must not modify it.
func (r *Ring) Signer() (SigningKey, error) {
	s := r.snap.Load()
	if s == nil || !s.hasSigner {
		return SigningKey{}, ErrNoActiveKey
	}
	return s.signer, nil
}

// Verifier returns the key named by kid if it may verify a token now: it
// is the active key, the next key, or a retiring key whose RetiredAt has
// not passed by the Ring's clock. Retired, revoked and unknown keys give
// false, as does an empty kid or one longer than MaxKIDLength. It does not
// allocate; the key material is shared and must not be modified.
//
// The next key verifies because another Ring on the same Store may already
// have promoted it and signed with it: this Ring then accepts those tokens
// before it reloads, so a rotation on one server is never a window in which
// its peers refuse valid tokens. Its private key is as much ours as the
// active key's: only a Ring holding the master key can sign with it.
//
// The token's algorithm must be taken from the returned key's Alg, never
// from the token header.
func (r *Ring) Verifier(kid string) (VerifyingKey, bool) {
	if len(kid) == 0 || len(kid) > MaxKIDLength {
		return VerifyingKey{}, false
	}
	s := r.snap.Load()
	if s == nil {
		return VerifyingKey{}, false
	}
	e, ok := s.verify[kid]
	if !ok {
		return VerifyingKey{}, false
	}
	if !e.until.IsZero() && !r.now().Before(e.until) {
		return VerifyingKey{}, false
	}
	return e.key, true
}

// JWKS returns the RFC 7517 JSON Web Key Set of the public keys relying
// parties may need: the active key, the next key (so caches know it before
// it signs) and the retiring keys until they retire. HS256 keys are never
// published. The bytes are computed once per change and copied out.
func (r *Ring) JWKS() []byte {
	s := r.snap.Load()
	if s == nil {
		return []byte(`{"keys":[]}`)
	}
	if !s.jwksUntil.IsZero() {
		if now := r.now(); !now.Before(s.jwksUntil) {
			// A retiring key's time is up but Maintain has not run yet.
			b, _ := jwksAt(s.recs, now)
			return b
		}
	}
	return bytes.Clone(s.jwks)
}

// Keys returns the metadata of every stored key, oldest first, for
// listing. It holds no key material.
func (r *Ring) Keys() []KeyInfo {
	s := r.snap.Load()
	if s == nil {
		return nil
	}
	now := r.now()
	out := make([]KeyInfo, 0, len(s.recs))
	for _, rec := range s.recs {
		k := rec.k
		st := k.State
		if st == StateRetiring && !now.Before(k.RetiredAt) {
			st = StateRetired
		}
		out = append(out, KeyInfo{
			ID: k.ID, Alg: k.Alg, State: st,
			CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt, RetiringAt: k.RetiringAt,
			RetiredAt: k.RetiredAt, RevokedAt: k.RevokedAt,
		})
	}
	return out
}

// Reload reads the keys from the store again, so that changes made by
// another process (the `keys` CLI) take effect here. It retires retiring
// keys whose time is up and repairs an inconsistent store, saving what it
// changed. On error the Ring keeps its previous keys.
func (r *Ring) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.begin(ctx)
	if err != nil {
		return err
	}
	return r.commit(ctx, c)
}

// Maintain does what a server should do every few seconds: Reload, then
// rotate when the active key has signed for RotateEvery. It reports
// whether it rotated. On error the Ring keeps its previous keys.
func (r *Ring) Maintain(ctx context.Context) (rotated bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.begin(ctx)
	if err != nil {
		return false, err
	}
	if act := c.inState(StateActive); act != nil && !c.now.Before(act.k.ActivatedAt.Add(r.rotateEvery)) {
		if err := r.rotate(c); err != nil {
			return false, err
		}
		rotated = true
	}
	if err := r.commit(ctx, c); err != nil {
		return false, err
	}
	return rotated, nil
}

// Rotate rotates now: the next key becomes active, the active key becomes
// retiring (it verifies until every token it signed has expired), and a
// new next key is created. Retiring keys whose time is up are retired. The
// changes are saved in one SaveKeys call before they take effect.
func (r *Ring) Rotate(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.begin(ctx)
	if err != nil {
		return err
	}
	if err := r.rotate(c); err != nil {
		return err
	}
	return r.commit(ctx, c)
}

// Revoke withdraws the key kid at once: it stops verifying, leaves the
// JWKS and its private material is erased from the store. Tokens it
// signed are rejected from then on. Revoking the active key promotes the
// next key to active immediately; revoking the active or the next key
// creates a new next key. Revocation is final; revoking a revoked key
// again changes nothing. An unknown kid gives ErrUnknownKey.
//
// Other processes sharing the store stop using the key at their next
// Reload or Maintain.
func (r *Ring) Revoke(ctx context.Context, kid string) error {
	if !validKID(kid) {
		return fmt.Errorf("%w: malformed kid", ErrUnknownKey)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.begin(ctx)
	if err != nil {
		return err
	}
	rec := c.byID(kid)
	if rec == nil {
		return fmt.Errorf("%w: %s", ErrUnknownKey, kid)
	}
	if rec.k.State != StateRevoked {
		was := rec.k.State
		rec.k.State = StateRevoked
		rec.k.RevokedAt = c.now
		rec.k.Sealed = nil
		rec.sign, rec.verify = nil, nil
		rec.dirty = true
		c.event(slog.LevelWarn, "jwtkey: key revoked", rec, "was", string(was))
		if err := r.normalize(c); err != nil {
			return err
		}
	}
	return r.commit(ctx, c)
}

// change is a working copy of the keys, from loading to commit.
type change struct {
	now    time.Time
	recs   []*record
	events []event
}

type event struct {
	level slog.Level
	msg   string
	args  []any
}

func (c *change) event(level slog.Level, msg string, rec *record, args ...any) {
	args = append([]any{"kid", rec.k.ID, "alg", string(rec.k.Alg)}, args...)
	c.events = append(c.events, event{level: level, msg: msg, args: args})
}

func (c *change) byID(kid string) *record {
	for _, rec := range c.recs {
		if rec.k.ID == kid {
			return rec
		}
	}
	return nil
}

func (c *change) inState(s State) *record {
	for _, rec := range c.recs {
		if rec.k.State == s {
			return rec
		}
	}
	return nil
}

// clock is the time stored in keys: UTC, without a monotonic reading.
func (r *Ring) clock() time.Time { return r.now().UTC().Round(0) }

// begin loads the keys from the store, opens the ones in use and
// normalizes the set. It changes nothing until commit.
func (r *Ring) begin(ctx context.Context) (*change, error) {
	stored, err := r.store.LoadKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: loading keys: %w", err)
	}
	var prev map[string]*record
	if s := r.snap.Load(); s != nil {
		prev = make(map[string]*record, len(s.recs))
		for _, rec := range s.recs {
			prev[rec.k.ID] = rec
		}
	}
	c := &change{now: r.clock(), recs: make([]*record, 0, len(stored)+2)}
	seen := make(map[string]bool, len(stored))
	for _, sk := range stored {
		rec, err := r.load(sk, prev[sk.ID])
		if err != nil {
			return nil, err
		}
		if seen[sk.ID] {
			return nil, fmt.Errorf("%w: kid %s stored twice", ErrCorruptKey, sk.ID)
		}
		seen[sk.ID] = true
		c.recs = append(c.recs, rec)
	}
	if err := r.normalize(c); err != nil {
		return nil, err
	}
	return c, nil
}

// load checks one stored key and, if it is in use, opens its sealed
// material (or reuses what prev opened from the same bytes).
func (r *Ring) load(sk StoredKey, prev *record) (*record, error) {
	if !validKID(sk.ID) {
		return nil, fmt.Errorf("%w: invalid kid %.80q", ErrCorruptKey, sk.ID)
	}
	if !validAlg(sk.Alg) {
		return nil, fmt.Errorf("%w: kid %s: unsupported alg %.20q", ErrCorruptKey, sk.ID, sk.Alg)
	}
	if !validState(sk.State) {
		return nil, fmt.Errorf("%w: kid %s: unknown state %.20q", ErrCorruptKey, sk.ID, sk.State)
	}
	rec := &record{k: sk}
	if !sk.RevokedAt.IsZero() {
		rec.k.State = StateRevoked
	}
	if rec.k.State == StateRevoked || rec.k.State == StateRetired {
		return rec, nil // never used again; its material is not opened
	}
	if prev != nil && prev.sign != nil && prev.k.Alg == sk.Alg &&
		bytes.Equal(prev.k.Sealed, sk.Sealed) && bytes.Equal(prev.k.Public, sk.Public) {
		rec.sign, rec.verify = prev.sign, prev.verify
		return rec, nil
	}
	secret, err := r.sealer.open(sk.ID, sk.Alg, sk.Public, sk.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%w (kid %s)", err, sk.ID)
	}
	m, err := parseSecret(sk.Alg, secret, nil)
	if sk.Alg != HS256 {
		clear(secret) // the parsed key holds its own copy
	}
	if err != nil {
		return nil, fmt.Errorf("%w (kid %s)", err, sk.ID)
	}
	if !bytes.Equal(m.public, sk.Public) {
		return nil, fmt.Errorf("%w: kid %s: stored public key does not match the private key", ErrCorruptKey, sk.ID)
	}
	rec.sign, rec.verify = m.sign, m.verify
	return rec, nil
}

// normalize brings the set into its invariant: exactly one active key,
// exactly one next key, retiring keys retired once their time is up,
// revoked and retired keys without private material. It repairs what a
// crash, a concurrent writer or a hand edit may have left.
func (r *Ring) normalize(c *change) error {
	grace := r.maxLifetime + r.leeway
	var actives, nexts []*record
	for _, rec := range c.recs {
		k := &rec.k
		switch k.State {
		case StateRevoked:
			if k.RevokedAt.IsZero() {
				k.RevokedAt = c.now
				k.Sealed = nil
				rec.dirty = true
			}
			rec.sign, rec.verify = nil, nil
		case StateRetired:
			if k.Sealed != nil {
				k.Sealed = nil
				rec.dirty = true
			}
			rec.sign, rec.verify = nil, nil
		case StateRetiring:
			if k.RetiringAt.IsZero() {
				k.RetiringAt = c.now
				rec.dirty = true
			}
			// Never shorter than this Ring's MaxTokenLifetime asks for.
			if floor := k.RetiringAt.Add(grace); k.RetiredAt.Before(floor) {
				k.RetiredAt = floor
				rec.dirty = true
			}
			if !c.now.Before(k.RetiredAt) {
				r.retire(c, rec)
			}
		case StateActive:
			if k.ActivatedAt.IsZero() {
				k.ActivatedAt = c.now
				rec.dirty = true
			}
			actives = append(actives, rec)
		case StateNext:
			nexts = append(nexts, rec)
		}
	}
	if len(actives) > 1 {
		// Two processes rotated at once, or a hand edit. Keep the newest;
		// the others may have signed tokens, so they retire gracefully.
		slices.SortFunc(actives, func(a, b *record) int {
			return cmp.Or(b.k.ActivatedAt.Compare(a.k.ActivatedAt), cmp.Compare(b.k.ID, a.k.ID))
		})
		for _, rec := range actives[1:] {
			r.startRetiring(c, rec)
			c.event(slog.LevelWarn, "jwtkey: several active keys; keeping the newest, this one retires", rec)
		}
	}
	if len(nexts) > 1 {
		// Never signed anything: the extra ones retire at once.
		slices.SortFunc(nexts, func(a, b *record) int {
			return cmp.Or(b.k.CreatedAt.Compare(a.k.CreatedAt), cmp.Compare(b.k.ID, a.k.ID))
		})
		for _, rec := range nexts[1:] {
			rec.k.RetiringAt, rec.k.RetiredAt = c.now, c.now
			r.retire(c, rec)
		}
		nexts = nexts[:1]
	}
	if len(actives) == 0 {
		if len(nexts) == 1 {
			r.activate(c, nexts[0])
			nexts = nil
		} else {
			if _, err := r.generate(c, StateActive); err != nil {
				return err
			}
		}
	}
	if len(nexts) == 0 {
		if _, err := r.generate(c, StateNext); err != nil {
			return err
		}
	}
	return nil
}

// rotate: next -> active, active -> retiring, and a new next.
func (r *Ring) rotate(c *change) error {
	act, next := c.inState(StateActive), c.inState(StateNext)
	if act == nil || next == nil {
		return errors.New("jwtkey: internal error: rotate on an unnormalized key set")
	}
	r.startRetiring(c, act)
	r.activate(c, next)
	_, err := r.generate(c, StateNext)
	return err
}

func (r *Ring) startRetiring(c *change, rec *record) {
	rec.k.State = StateRetiring
	rec.k.RetiringAt = c.now
	rec.k.RetiredAt = c.now.Add(r.maxLifetime + r.leeway)
	rec.dirty = true
	c.event(slog.LevelInfo, "jwtkey: key retiring", rec, "retired_at", rec.k.RetiredAt)
}

func (r *Ring) activate(c *change, rec *record) {
	rec.k.State = StateActive
	rec.k.ActivatedAt = c.now
	rec.dirty = true
	c.event(slog.LevelInfo, "jwtkey: key activated", rec)
}

func (r *Ring) retire(c *change, rec *record) {
	rec.k.State = StateRetired
	rec.k.Sealed = nil
	rec.sign, rec.verify = nil, nil
	rec.dirty = true
	c.event(slog.LevelInfo, "jwtkey: key retired", rec)
}

// generate creates, seals and adds a new key in state next or active.
func (r *Ring) generate(c *change, state State) (*record, error) {
	kid, err := newKID(r.rand)
	if err != nil {
		return nil, err
	}
	if c.byID(kid) != nil {
		return nil, errors.New("jwtkey: the random source repeated a kid")
	}
	m, err := generate(r.rand, r.alg)
	if err != nil {
		return nil, err
	}
	sealed, err := r.sealer.seal(r.rand, kid, r.alg, m.public, m.secret)
	if r.alg != HS256 {
		clear(m.secret)
	}
	if err != nil {
		return nil, err
	}
	rec := &record{
		k: StoredKey{
			ID: kid, Alg: r.alg, State: state, CreatedAt: c.now,
			Public: m.public, Sealed: sealed,
		},
		sign: m.sign, verify: m.verify, dirty: true,
	}
	if state == StateActive {
		rec.k.ActivatedAt = c.now
	}
	c.recs = append(c.recs, rec)
	c.event(slog.LevelInfo, "jwtkey: key created", rec, "state", string(state))
	return rec, nil
}

// commit saves the changed keys in one SaveKeys call and, once they are
// saved, publishes the new snapshot and logs what happened.
func (r *Ring) commit(ctx context.Context, c *change) error {
	var save []StoredKey
	for _, rec := range c.recs {
		if rec.dirty {
			save = append(save, rec.k)
		}
	}
	if len(save) > 0 {
		if err := r.store.SaveKeys(ctx, save); err != nil {
			return fmt.Errorf("jwtkey: saving keys: %w", err)
		}
	}
	for _, rec := range c.recs {
		rec.dirty = false
	}
	s, err := build(c.recs, c.now)
	if err != nil {
		return err
	}
	r.snap.Store(s)
	for _, e := range c.events {
		r.log.Log(ctx, e.level, e.msg, e.args...)
	}
	return nil
}

// build makes the immutable snapshot of a normalized key set.
func build(recs []*record, now time.Time) (*snapshot, error) {
	slices.SortFunc(recs, func(a, b *record) int {
		return cmp.Or(a.k.CreatedAt.Compare(b.k.CreatedAt), cmp.Compare(a.k.ID, b.k.ID))
	})
	s := &snapshot{recs: recs, verify: make(map[string]verifyEntry, 2)}
	for _, rec := range recs {
		k := rec.k
		switch k.State {
		case StateActive:
			s.signer = SigningKey{ID: k.ID, Alg: k.Alg, Key: rec.sign}
			s.hasSigner = true
			s.verify[k.ID] = verifyEntry{key: VerifyingKey{ID: k.ID, Alg: k.Alg, Key: rec.verify}}
		case StateNext:
			// Another Ring on the Store may already sign with it.
			s.verify[k.ID] = verifyEntry{key: VerifyingKey{ID: k.ID, Alg: k.Alg, Key: rec.verify}}
		case StateRetiring:
			s.verify[k.ID] = verifyEntry{key: VerifyingKey{ID: k.ID, Alg: k.Alg, Key: rec.verify}, until: k.RetiredAt}
		}
	}
	jwks, until := jwksAt(recs, now)
	if jwks == nil {
		return nil, errors.New("jwtkey: internal error: encoding the JWKS")
	}
	s.jwks, s.jwksUntil = jwks, until
	return s, nil
}
