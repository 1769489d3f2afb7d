package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fortapi/fortapi/clientip"
)

// ErrUnavailable is returned by Check and Peek when the store failed and
// the policy is FailClosed: the caller must refuse the request (503).
var ErrUnavailable = errors.New("ratelimit: store unavailable")

// ErrorPolicy says what a Set does while its store is failing.
type ErrorPolicy int

const (
	// FailOpen (the default) decides with a local in-memory limiter whose
	// specs are divided by SetOptions.InstanceCount, so that N instances
	// together still admit about the global limit. Requests stay limited;
	// only the sharing across instances is lost.
	FailOpen ErrorPolicy = iota
	// FailClosed refuses every limited request with 503 and Retry-After.
	FailClosed
)

func (p ErrorPolicy) String() string {
	switch p {
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	}
	return fmt.Sprintf("ErrorPolicy(%d)", int(p))
}

// ParseErrorPolicy parses "fail-open" or "fail-closed" (also "open",
// "closed"), as given to a flag.
func ParseErrorPolicy(s string) (ErrorPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fail-open", "open":
		return FailOpen, nil
	case "fail-closed", "closed":
		return FailClosed, nil
	}
	return 0, fmt.Errorf("ratelimit: unknown error policy %q (want fail-open or fail-closed)", s)
}

// Defaults of SetOptions.
const (
	DefaultRetryInterval = time.Second
	DefaultPolicyName    = "default"
)

// SetOptions configure a Set. The zero value is ready to use: limiters in
// this process's memory.
type SetOptions struct {
	// Store holds the limiters' state (default: a MemoryStore with
	// default MemoryOptions). Use a redisstore.Store to share limits
	// across instances.
	Store Store
	// OnError is what happens while Store fails (default FailOpen).
	OnError ErrorPolicy
	// InstanceCount is the number of server instances sharing Store
	// (default 1). Under FailOpen each instance's local limiter admits
	// 1/InstanceCount of each spec (rounded down, at least 1).
	InstanceCount int
	// Fallback is the local store used under FailOpen (default: a
	// MemoryStore with default MemoryOptions and Now).
	Fallback Store
	// RetryInterval: during an outage at most one request per interval
	// tries Store (the others go straight to the policy, so an outage
	// costs no timeouts); a success ends the outage. It is also the
	// Retry-After of FailClosed's 503s. Default DefaultRetryInterval.
	RetryInterval time.Duration
	// Scale multiplies every limiter's Count and Burst (default 1), as the
	// server's --rate-scale does for load tests.
	Scale int
	// Logger receives one error record when an outage begins and one info
	// record when it ends (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Set is a family of limiters sharing a store, an error policy, a local
// fallback and the outage state: a server builds one at start-up and one
// Limiter per declared limit. Names are unique within a Set; they
// namespace the keys in the store.
type Set struct {
	store Store
	// mem is store when it is this package's MemoryStore, whose keys a
	// Limiter passes as bytes (takeStored).
	mem       *MemoryStore
	fallback  Store
	policy    ErrorPolicy
	instances int
	retry     time.Duration
	scale     int
	log       *slog.Logger
	now       func() time.Time
	base      time.Time

	down      atomic.Bool
	downSince atomic.Int64 // ns since base
	nextProbe atomic.Int64 // ns since base
	outages   atomic.Uint64

	mu       sync.Mutex
	limiters []*Limiter
}

// NewSet returns a Set, or an error for a negative or unknown option.
func NewSet(opts SetOptions) (*Set, error) {
	switch {
	case opts.OnError != FailOpen && opts.OnError != FailClosed:
		return nil, fmt.Errorf("ratelimit: unknown error policy %d", int(opts.OnError))
	case opts.InstanceCount < 0:
		return nil, fmt.Errorf("ratelimit: negative instance count %d", opts.InstanceCount)
	case opts.RetryInterval < 0:
		return nil, fmt.Errorf("ratelimit: negative retry interval %v", opts.RetryInterval)
	case opts.Scale < 0:
		return nil, fmt.Errorf("ratelimit: negative scale %d", opts.Scale)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore(MemoryOptions{Now: opts.Now})
	}
	if opts.Fallback == nil && opts.OnError == FailOpen {
		opts.Fallback = NewMemoryStore(MemoryOptions{Now: opts.Now})
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Set{
		store:     opts.Store,
		fallback:  opts.Fallback,
		policy:    opts.OnError,
		instances: max(1, opts.InstanceCount),
		retry:     opts.RetryInterval,
		scale:     max(1, opts.Scale),
		log:       opts.Logger,
		now:       opts.Now,
		base:      opts.Now(),
	}
	if s.retry == 0 {
		s.retry = DefaultRetryInterval
	}
	s.mem, _ = opts.Store.(*MemoryStore)
	return s, nil
}

// Limiters returns the Set's limiters in creation order (to document them,
// for example in OpenAPI).
func (s *Set) Limiters() []*Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Limiter(nil), s.limiters...)
}

// Stats are counters since start-up.
type Stats struct {
	Allowed     uint64 // requests allowed (by the store or the fallback)
	Denied      uint64 // requests denied (429)
	StoreErrors uint64 // failed store calls
	Fallbacks   uint64 // decisions taken by the local fallback (FailOpen)
	Unavailable uint64 // requests refused because the store failed (FailClosed)
	Outages     uint64 // outages begun (Set.Stats only)
}

// Stats sums the counters of the Set's limiters.
func (s *Set) Stats() Stats {
	var t Stats
	for _, l := range s.Limiters() {
		st := l.Stats()
		t.Allowed += st.Allowed
		t.Denied += st.Denied
		t.StoreErrors += st.StoreErrors
		t.Fallbacks += st.Fallbacks
		t.Unavailable += st.Unavailable
	}
	t.Outages = s.outages.Load()
	return t
}

func (s *Set) clock() int64 { return int64(s.now().Sub(s.base)) }

// useStore reports whether a call should try the store, and whether that
// call is a probe made during an outage.
func (s *Set) useStore() (try, probe bool) {
	if !s.down.Load() {
		return true, false
	}
	now, next := s.clock(), s.nextProbe.Load()
	if now < next || !s.nextProbe.CompareAndSwap(next, now+int64(s.retry)) {
		return false, false
	}
	return true, true
}

func (s *Set) failed(err error) {
	now := s.clock()
	s.nextProbe.Store(now + int64(s.retry))
	if s.down.CompareAndSwap(false, true) {
		s.downSince.Store(now)
		s.outages.Add(1)
		action := "refusing limited requests with 503"
		if s.policy == FailOpen {
			action = fmt.Sprintf("deciding locally with limits divided by %d instance(s)", s.instances)
		}
		s.log.Error("rate limit store unavailable; "+action,
			"policy", s.policy.String(), "retry_interval", s.retry, "error", err.Error())
	}
}

func (s *Set) recovered() {
	if s.down.CompareAndSwap(true, false) {
		s.log.Info("rate limit store recovered",
			"policy", s.policy.String(), "outage", time.Duration(s.clock()-s.downSince.Load()).String())
	}
}

// KeyFunc extracts the key a request is limited by; ok=false means the
// request is not limited by this limiter (and gets no RateLimit headers
// from it).
type KeyFunc func(r *http.Request) (key string, ok bool)

// ByClientIP keys requests by client address, grouped as clientip.Key does
// (IPv6 by /64), with the prefix "ip:". ip is typically
// (*clientip.Resolver).ClientIP or a function reading clientip.FromContext.
// An invalid address (a Unix-socket peer) gives the shared key "ip:unknown":
// limited together rather than not at all.
func ByClientIP(ip func(*http.Request) netip.Addr) KeyFunc {
	return func(r *http.Request) (string, bool) { return IPKey(ip(r)), true }
}

// IPKey is the key ByClientIP gives the address a: "ip:" and a's
// clientip.Key (IPv6 grouped by /64; "ip:unknown" for an invalid address).
func IPKey(a netip.Addr) string {
	var buf [48]byte
	return string(clientip.AppendKey(append(buf[:0], "ip:"...), a))
}

// ByUser keys requests by the user that user returns, with the prefix
// "user:"; requests for which it returns false (anonymous ones) are not
// limited by this limiter.
func ByUser(user func(*http.Request) (string, bool)) KeyFunc {
	return func(r *http.Request) (string, bool) {
		u, ok := user(r)
		if !ok {
			return "", false
		}
		return "user:" + u, true
	}
}

// ByOperation keys requests by operation: "op:OP" shared by all callers
// when by is nil, else "op:OP|" followed by by's key (per caller and
// operation). op must not contain "|".
func ByOperation(op string, by KeyFunc) KeyFunc {
	if by == nil {
		return func(*http.Request) (string, bool) { return "op:" + op, true }
	}
	return func(r *http.Request) (string, bool) {
		k, ok := by(r)
		if !ok {
			return "", false
		}
		return "op:" + op + "|" + k, true
	}
}

// Options configure one Limiter.
type Options struct {
	// Name names the policy in the RateLimit headers and namespaces its
	// keys in the store: 1 to 64 of A-Z a-z 0-9 _ . : -, unique in the
	// Set. Default DefaultPolicyName.
	Name string
	// Spec is the limit (required), before the Set's Scale.
	Spec Spec
	// Key extracts the key for Middleware and Admit (default: the TCP
	// peer's address, grouped by clientip.Key, ignoring forwarding
	// headers).
	Key KeyFunc
	// Set is the family this limiter belongs to (default: a Set of its
	// own with zero SetOptions).
	Set *Set
}

// Limiter enforces one Spec. It is safe for concurrent use.
type Limiter struct {
	set    *Set
	name   string
	prefix string
	spec   Spec // scaled
	local  Spec // spec divided among instances
	key    KeyFunc

	quoted, policy, localPolicy, limit string // header values computed once

	allowed, denied, storeErrors, fallbacks, unavailable atomic.Uint64
}

// New returns a Limiter, or an error naming a bad name, spec or scale.
func New(opts Options) (*Limiter, error) {
	if opts.Name == "" {
		opts.Name = DefaultPolicyName
	}
	if !validName(opts.Name) {
		return nil, fmt.Errorf("ratelimit: bad limiter name %q: want 1 to 64 of A-Z a-z 0-9 _ . : -", opts.Name)
	}
	if err := opts.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("ratelimit: limiter %q: %w", opts.Name, err)
	}
	set := opts.Set
	if set == nil {
		var err error
		if set, err = NewSet(SetOptions{}); err != nil {
			return nil, err
		}
	}
	spec, err := opts.Spec.Scale(set.scale)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: limiter %q: %w", opts.Name, err)
	}
	local := spec.divide(set.instances)
	if err := local.check(); err != nil {
		return nil, fmt.Errorf("ratelimit: limiter %q: local fallback %s (%s divided by %d instances): %w", opts.Name, local, spec, set.instances, err)
	}
	if opts.Key == nil {
		peer, _ := clientip.New(clientip.Options{}) // cannot fail
		opts.Key = ByClientIP(peer.ClientIP)
	}
	l := &Limiter{set: set, name: opts.Name, prefix: opts.Name + ":", spec: spec, local: local, key: opts.Key}
	l.quoted = sfString(l.name)
	l.policy = policyValue(l.quoted, Result{Limit: spec.Count, Window: spec.Period, Burst: spec.MaxBurst()})
	l.limit = strconv.Itoa(spec.Count)
	l.localPolicy = policyValue(l.quoted, Result{Limit: local.Count, Window: local.Period, Burst: local.MaxBurst()})
	set.mu.Lock()
	defer set.mu.Unlock()
	for _, o := range set.limiters {
		if o.name == l.name {
			return nil, fmt.Errorf("ratelimit: limiter name %q used twice in one Set", l.name)
		}
	}
	set.limiters = append(set.limiters, l)
	return l, nil
}

func validName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// Name returns the policy name.
func (l *Limiter) Name() string { return l.name }

// Spec returns the enforced spec (after the Set's Scale).
func (l *Limiter) Spec() Spec { return l.spec }

// Policy returns the limiter's RateLimit-Policy item, e.g.
// `"global";q=1200;w=60`, as its responses carry it (for documentation).
func (l *Limiter) Policy() string { return l.policy }

// Stats returns the limiter's counters (Outages is counted by the Set).
func (l *Limiter) Stats() Stats {
	return Stats{
		Allowed:     l.allowed.Load(),
		Denied:      l.denied.Load(),
		StoreErrors: l.storeErrors.Load(),
		Fallbacks:   l.fallbacks.Load(),
		Unavailable: l.unavailable.Load(),
	}
}

// Check takes one request from key's allowance. The error is nil when a
// decision was made (see Result.Allowed); it is ErrUnavailable (wrapped)
// when the store failed under FailClosed, and ctx's error when ctx ended
// first. On error the Result still carries Policy, Limit, Window and a
// RetryAfter for WriteUnavailable.
func (l *Limiter) Check(ctx context.Context, key string) (Result, error) {
	return l.take(ctx, key, 1)
}

// Peek reports whether one request would be allowed for key, without
// taking it; for limits that count only some outcomes (failed logins:
// Peek before trying, Check after a failure). Errors are as for Check.
func (l *Limiter) Peek(ctx context.Context, key string) (Result, error) {
	return l.take(ctx, key, 0)
}

func (l *Limiter) take(ctx context.Context, key string, n int) (Result, error) {
	var buf keyBuf
	return l.takeStored(ctx, l.keyOf(&buf, "", key), n)
}

// keyBuf holds a key as the store sees it, built by keyOf or ipKey on the
// caller's stack: room for a limit's name, a kind and a user name,
// address or operation; a longer key grows onto the heap as any append
// does.
type keyBuf [128]byte

// keyOf is the store key of kind+key ("user:", "alice"), in buf.
func (l *Limiter) keyOf(buf *keyBuf, kind, key string) []byte {
	return append(append(append(buf[:0], l.prefix...), kind...), key...)
}

// ipKey is the store key of the client address a (IPKey), in buf.
func (l *Limiter) ipKey(buf *keyBuf, a netip.Addr) []byte {
	return clientip.AppendKey(l.keyOf(buf, "ip:", ""), a)
}

// takeStored is take for the key as the store sees it (the Limiter's
// prefix included), which a MemoryStore takes as it is, without making
// it a string (it keeps only a hash of it), and any other store as a
// string of it: with the in-memory store, admitting allocates nothing.
func (l *Limiter) takeStored(ctx context.Context, key []byte, n int) (Result, error) {
	s := l.set
	if try, probe := s.useStore(); try {
		var (
			res Result
			err error
		)
		if s.mem != nil {
			res, err = s.mem.allowBytes(key, l.spec, n)
		} else {
			res, err = s.store.Allow(ctx, string(key), l.spec, n)
		}
		if err == nil {
			if probe {
				s.recovered()
			}
			res.Policy = l.name
			l.count(res, n)
			return res, nil
		}
		if ctx.Err() != nil { // the caller went away: not an outage
			return l.failure(), ctx.Err()
		}
		l.storeErrors.Add(1)
		s.failed(err)
	}
	if s.policy == FailClosed {
		l.unavailable.Add(1)
		return l.failure(), ErrUnavailable
	}
	res, err := s.fallback.Allow(ctx, string(key), l.local, n)
	if err != nil {
		l.unavailable.Add(1)
		return l.failure(), fmt.Errorf("%w (and the local fallback failed: %v)", ErrUnavailable, err)
	}
	res.Policy, res.Local = l.name, true
	l.fallbacks.Add(1)
	l.count(res, n)
	return res, nil
}

func (l *Limiter) count(res Result, n int) {
	if n == 0 {
		return // a peek decides nothing
	}
	if res.Allowed {
		l.allowed.Add(1)
	} else {
		l.denied.Add(1)
	}
}

func (l *Limiter) failure() Result {
	return Result{
		Limit: l.spec.Count, Window: l.spec.Period, Burst: l.spec.MaxBurst(),
		RetryAfter: l.set.retry, Policy: l.name,
	}
}
