package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Defaults of HasherOptions.
const (
	DefaultMaxQueue     = 64
	DefaultQueueTimeout = 2 * time.Second
)

// Errors of Hash for passwords it refuses. Policy.Check reports the same
// conditions as a *PolicyError before a password ever reaches Hash.
var (
	ErrPasswordTooLong = errors.New("password: password is longer than 1024 bytes")
	ErrPasswordNotUTF8 = errors.New("password: password is not valid UTF-8")
)

// ErrBusy is matched (errors.Is) by every *BusyError.
var ErrBusy = errors.New("password: hasher busy")

// BusyError reports that a hash computation was not started because the
// hasher was saturated: its queue was full, the caller waited longer than
// the queue timeout, or the caller's context ended while waiting. An HTTP
// layer answers it with 503 Service Unavailable and a Retry-After header.
// errors.Is(err, ErrBusy) is true; when the context ended, errors.Is also
// matches context.Canceled or context.DeadlineExceeded.
type BusyError struct {
	// RetryAfter estimates when a new attempt may find a free slot. It is a
	// whole number of seconds (Retry-After has second granularity), at least
	// 1 s and at most 60 s.
	RetryAfter time.Duration
	// Reason is "queue full", "queue timeout" or "context done".
	Reason string
	// Cause is the context's error when Reason is "context done", else nil.
	Cause error
}

// Error implements error.
func (e *BusyError) Error() string {
	return fmt.Sprintf("password: hasher busy (%s), retry after %s", e.Reason, e.RetryAfter)
}

// Is reports whether target is ErrBusy.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Unwrap returns the context's error, if any.
func (e *BusyError) Unwrap() error { return e.Cause }

// HasherOptions configure NewHasher. The zero value is the secure default.
type HasherOptions struct {
	// Params are the argon2id parameters for new hashes; zero fields take
	// the defaults (m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte hash).
	// Weaker values are refused.
	Params Params
	// MaxConcurrent bounds how many argon2id or bcrypt computations run at
	// once. Default runtime.GOMAXPROCS(0). Peak hashing memory is about
	// MaxConcurrent × Params.Memory (19 MiB by default), or up to
	// MaxConcurrent × MaxMemoryKiB while verifying stored hashes made with
	// more memory.
	MaxConcurrent int
	// MaxQueue bounds how many callers wait for a slot. Default 64; a
	// negative value means no caller waits (beyond MaxConcurrent every call
	// is busy at once).
	MaxQueue int
	// QueueTimeout bounds how long a caller waits for a slot. Default 2 s.
	QueueTimeout time.Duration
	// Rand is the source of salts and of the dummy hash. Default
	// crypto/rand.Reader. It must be safe for concurrent use.
	Rand io.Reader
	// InsecureTestParams WEAKENS every new hash to InsecureTestParams()
	// (m=8 KiB, t=1: microseconds instead of 35 ms and 19 MiB), for the
	// tests of code that only uses a Hasher (logins, sessions, throttles),
	// where the cost of real hashes is only CPU time. NewHasher refuses it
	// unless the program is a test binary (testing.Testing), and refuses
	// it with Params set: a deployment can never hash with it, and a
	// Hasher with the default parameters re-hashes (NeedsRehash) anything
	// made with it.
	InsecureTestParams bool
}

// InsecureTestParams returns the argon2id parameters of
// HasherOptions.InsecureTestParams: m=8 KiB, t=1, p=1, with the default
// salt and hash lengths. Never use them for a real password.
func InsecureTestParams() Params {
	return Params{Memory: 8, Time: 1, Threads: 1, SaltLen: DefaultSaltLen, KeyLen: DefaultKeyLen}
}

// Hasher hashes passwords with argon2id and verifies argon2id and bcrypt
// hashes, running at most MaxConcurrent computations at once. It is safe for
// concurrent use.
type Hasher struct {
	params       Params
	maxQueue     int64
	queueTimeout time.Duration
	rand         io.Reader

	slots   chan struct{} // one token per running computation
	waiting atomic.Int64  // callers queued for a slot
	refused atomic.Uint64 // calls refused: queue full or queue timeout
	avgNano atomic.Int64  // moving average of a computation's duration

	dummy argon2Hash // hash of a random password with params

	// testHook, when set (by tests only, before concurrent use), is called
	// with true right before and with false right after each computation,
	// while the computation holds its slot.
	testHook func(start bool)
}

// NewHasher returns a Hasher, or an error for options weaker than the
// minimums or beyond the bounds. It computes one argon2id hash (the dummy
// for VerifyDummy), so it takes as long as one hash.
func NewHasher(opts HasherOptions) (*Hasher, error) {
	return newHasher(opts, testing.Testing())
}

// newHasher is NewHasher; testBinary says whether the program is a test
// binary (testing.Testing), which InsecureTestParams requires.
func newHasher(opts HasherOptions, testBinary bool) (*Hasher, error) {
	p := opts.Params.withDefaults()
	switch {
	case !opts.InsecureTestParams:
		if err := p.validate(); err != nil {
			return nil, err
		}
	case !testBinary:
		return nil, errors.New("password: InsecureTestParams outside a test binary")
	case opts.Params != Params{}:
		return nil, errors.New("password: InsecureTestParams with Params")
	default:
		p = InsecureTestParams()
	}
	h := &Hasher{
		params:       p,
		maxQueue:     int64(opts.MaxQueue),
		queueTimeout: opts.QueueTimeout,
		rand:         opts.Rand,
	}
	conc := opts.MaxConcurrent
	switch {
	case conc < 0:
		return nil, fmt.Errorf("password: MaxConcurrent %d is negative", conc)
	case conc == 0:
		conc = runtime.GOMAXPROCS(0)
	}
	h.slots = make(chan struct{}, conc)
	switch {
	case opts.MaxQueue == 0:
		h.maxQueue = DefaultMaxQueue
	case opts.MaxQueue < 0:
		h.maxQueue = 0
	}
	switch {
	case opts.QueueTimeout < 0:
		return nil, fmt.Errorf("password: QueueTimeout %s is negative", opts.QueueTimeout)
	case opts.QueueTimeout == 0:
		h.queueTimeout = DefaultQueueTimeout
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}

	secret := make([]byte, 32)
	if _, err := io.ReadFull(h.rand, secret); err != nil {
		return nil, fmt.Errorf("password: reading random bytes: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return nil, fmt.Errorf("password: reading random bytes: %w", err)
	}
	start := time.Now()
	key := argon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.avgNano.Store(int64(time.Since(start)))
	h.dummy = argon2Hash{memory: p.Memory, time: p.Time, threads: p.Threads, salt: salt, key: key}
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the argon2id PHC string of the NFKC normalization of
// password, such as
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
// It refuses passwords that are not UTF-8 or longer than MaxPasswordBytes
// (before or after normalization), and returns a *BusyError when the hasher
// is saturated.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if !utf8.ValidString(password) {
		return "", ErrPasswordNotUTF8
	}
	pw, ok := normalize(password)
	if !ok {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	p := h.params
	var key []byte
	err := h.run(ctx, func() {
		key = argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	})
	if err != nil {
		return "", err
	}
	return encodeArgon2id(argon2Hash{memory: p.Memory, time: p.Time, threads: p.Threads, salt: salt, key: key}), nil
}

// Verify reports whether password matches encoded, an argon2id v=19 PHC
// string or a bcrypt $2a$/$2b$/$2y$ string.
//
// The password is NFKC-normalized as in Hash. For bcrypt, which this package
// never produces, the password as given is tried as well when it differs
// from its normalization, because legacy systems hashed it unnormalized.
// Passwords longer than MaxPasswordBytes answer false without hashing (no
// valid password is that long, and hashing it would only cost us CPU);
// bcrypt candidates longer than 72 bytes answer false as well (bcrypt would
// silently ignore the bytes beyond 72).
//
// A stored hash that does not parse yields an error wrapping
// ErrMalformedHash; a saturated hasher yields a *BusyError. argon2id hashes
// are compared in constant time.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	st, err := parseStored(encoded)
	if err != nil {
		return false, err
	}
	pw, ok := normalize(password)
	if !ok {
		return false, nil
	}
	if a := st.argon2; a != nil {
		var match bool
		err := h.run(ctx, func() {
			key := argon2.IDKey([]byte(pw), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
			match = subtle.ConstantTimeCompare(key, a.key) == 1
		})
		return match && err == nil, err
	}

	candidates := make([][]byte, 0, 2)
	if len(pw) <= 72 {
		candidates = append(candidates, []byte(pw))
	}
	if pw != password && len(password) <= 72 {
		candidates = append(candidates, []byte(password))
	}
	if len(candidates) == 0 {
		return false, nil
	}
	var match bool
	var cmpErr error
	err = h.run(ctx, func() {
		for _, c := range candidates {
			switch err := bcrypt.CompareHashAndPassword(st.bcrypt.encoded, c); {
			case err == nil:
				match = true
				return
			case !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
				cmpErr = err
				return
			}
		}
	})
	if err != nil {
		return false, err
	}
	if cmpErr != nil {
		return false, malformed("bcrypt: " + cmpErr.Error())
	}
	return match, nil
}

// VerifyDummy spends the work of a real argon2id verification with the
// hasher's current parameters against a dummy hash made at NewHasher, and
// discards the result. Call it when the user is unknown, so that an unknown
// username costs the same time as a wrong password. Like Verify, it does
// nothing for a password longer than MaxPasswordBytes. The error is nil or
// a *BusyError.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	pw, ok := normalize(password)
	if !ok {
		return nil
	}
	d := h.dummy
	var sink int
	err := h.run(ctx, func() {
		key := argon2.IDKey([]byte(pw), d.salt, d.time, d.memory, d.threads, uint32(len(d.key)))
		sink = subtle.ConstantTimeCompare(key, d.key)
	})
	_ = sink
	return err
}

// NeedsRehash reports whether encoded should be replaced by a new Hash of
// the password after it verified: true for bcrypt, for anything that does
// not parse, and for argon2id whose memory, time, salt or hash length is
// below the hasher's parameters or whose parallelism differs. Hashes
// stronger than the current parameters are kept (as passlib's
// deprecated="auto" with needs_update).
func (h *Hasher) NeedsRehash(encoded string) bool {
	st, err := parseStored(encoded)
	if err != nil || st.argon2 == nil {
		return true
	}
	a, p := st.argon2, h.params
	return a.memory < p.Memory ||
		a.time < p.Time ||
		a.threads != p.Threads ||
		uint32(len(a.salt)) < p.SaltLen ||
		uint32(len(a.key)) < p.KeyLen
}

// normalize returns the NFKC form of password, or false when the password
// or its normalization is longer than MaxPasswordBytes. The length is
// checked first so that normalization never sees oversized input.
func normalize(password string) (string, bool) {
	if len(password) > MaxPasswordBytes {
		return "", false
	}
	pw := norm.NFKC.String(password)
	if len(pw) > MaxPasswordBytes {
		return "", false
	}
	return pw, true
}

// HasherStats are a Hasher's counters (Stats), for metrics.
type HasherStats struct {
	Queued  int64  // callers waiting for a slot now
	Running int    // computations running now
	Refused uint64 // calls refused with ErrBusy (queue full or queue timeout) since NewHasher
}

// Stats returns the Hasher's queue depth, running computations and
// refusals.
func (h *Hasher) Stats() HasherStats {
	return HasherStats{Queued: h.waiting.Load(), Running: len(h.slots), Refused: h.refused.Load()}
}

// run runs f in a slot, waiting for one within the queue bounds.
func (h *Hasher) run(ctx context.Context, f func()) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-h.slots }()
	if hook := h.testHook; hook != nil {
		hook(true)
		defer hook(false)
	}
	start := time.Now()
	f()
	h.observe(time.Since(start))
	return nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return h.busy("context done", err)
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		h.refused.Add(1)
		return h.busy("queue full", nil)
	}
	defer h.waiting.Add(-1)
	timer := time.NewTimer(h.queueTimeout)
	defer timer.Stop()
	// A caller blocked here is served in order: a slot freed by a receive
	// goes to the longest-waiting sender, never to a newcomer's fast path.
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timer.C:
		h.refused.Add(1)
		return h.busy("queue timeout", nil)
	case <-ctx.Done():
		return h.busy("context done", ctx.Err())
	}
}

// observe folds d into the moving average (weight 1/8) that RetryAfter
// estimates are based on. Concurrent updates may lose one; it is an
// estimate.
func (h *Hasher) observe(d time.Duration) {
	old := h.avgNano.Load()
	h.avgNano.Store(old + (int64(d)-old)/8)
}

// busy builds a *BusyError whose RetryAfter is the time to drain the
// current queue and running computations at the average computation time,
// rounded up to whole seconds within [1 s, 60 s].
func (h *Hasher) busy(reason string, cause error) *BusyError {
	slots := int64(cap(h.slots))
	pending := h.waiting.Load() + slots
	rounds := (pending + slots - 1) / slots
	est := time.Duration(h.avgNano.Load()) * time.Duration(rounds)
	est = ((est + time.Second - 1) / time.Second) * time.Second
	est = min(max(est, time.Second), time.Minute)
	return &BusyError{RetryAfter: est, Reason: reason, Cause: cause}
}
