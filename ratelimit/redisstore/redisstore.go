package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fortapi/fortapi/ratelimit"
)

// Defaults of Options.
const (
	DefaultPrefix  = "fortapi:ratelimit:"
	DefaultTimeout = 100 * time.Millisecond
)

// maxKeyLen: longer keys are stored as the SHA-256 of the key, so that a
// client choosing long keys (user names, say) cannot make Redis hold them.
const maxKeyLen = 128

// gcraScript is the GCRA of package ratelimit, in microseconds on Redis's
// clock. KEYS[1] is the key; ARGV are the emission interval T and the
// burst tolerance Burst×T (µs) and the cells asked for, n (0: peek).
// It returns {allowed, remaining, retry_after_µs, reset_after_µs}.
//
// Every instance uses Redis's TIME, so clock skew between servers does not
// matter. Calling TIME before a write requires effects replication, the
// default since Redis 5 and the only mode since Redis 7; on Redis 3.2–4
// redis.replicate_commands() turns it on. Times are below 2^53 µs, so
// Lua's doubles hold them exactly; the TAT is written with %.0f. The key
// expires when its TAT passes (PX), when it is the same as absent, so
// Redis holds only keys that are limiting something.
const gcraScript = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tol = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local cells = n
if cells < 1 then cells = 1 end
local nexttat = tat + cells * interval
if nexttat - now > tol then
  local rem = math.floor((tol - (tat - now)) / interval)
  if rem < 0 then rem = 0 end
  return {0, rem, nexttat - now - tol, tat - now}
end
if n == 0 then
  return {1, math.floor((tol - (tat - now)) / interval), 0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', nexttat), 'PX', math.ceil((nexttat - now) / 1000))
return {1, math.floor((tol - (nexttat - now)) / interval), 0, nexttat - now}
`

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Prefix is prepended to every key (default DefaultPrefix). Use one
	// prefix per deployment sharing a Redis.
	Prefix string
	// Timeout bounds each check (default DefaultTimeout; negative: no
	// bound of its own). It reaches the network only when the client has
	// ContextTimeoutEnabled (ClientOptions sets it); otherwise the
	// client's Dial/Read/WriteTimeout apply.
	Timeout time.Duration
}

// Store is a ratelimit.Store on Redis: one EVALSHA per check, atomic,
// shared by every process using the same Redis and prefix.
type Store struct {
	client  redis.UniversalClient
	script  *redis.Script
	prefix  string
	timeout time.Duration
}

// New returns a Store using client (a *redis.Client, *redis.ClusterClient
// or any redis.UniversalClient).
func New(client redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Store{client: client, script: redis.NewScript(gcraScript), prefix: opts.Prefix, timeout: opts.Timeout}
}

// ClientOptions parses a redis:// or rediss:// URL (as redis.ParseURL
// does) and enables ContextTimeoutEnabled, so that Options.Timeout bounds
// each check on the network too.
func ClientOptions(url string) (*redis.Options, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: bad Redis URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	return o, nil
}

// Key returns the Redis key holding key's state.
func (s *Store) Key(key string) string {
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		return s.prefix + "#" + hex.EncodeToString(sum[:])
	}
	return s.prefix + key
}

// Allow implements ratelimit.Store. It runs the script with EVALSHA; when
// Redis answers NOSCRIPT (a restart, SCRIPT FLUSH, a failover) it sends the
// script with EVAL, which also caches it again.
func (s *Store) Allow(ctx context.Context, key string, spec ratelimit.Spec, n int) (ratelimit.Result, error) {
	if err := spec.Validate(); err != nil {
		return ratelimit.Result{}, err
	}
	if n < 0 || n > spec.MaxBurst() {
		return ratelimit.Result{}, fmt.Errorf("redisstore: cost %d outside 0..%d (the burst of %s)", n, spec.MaxBurst(), spec)
	}
	iv := int64(spec.Interval() / time.Microsecond)
	tol := iv * int64(spec.MaxBurst())
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	v, err := s.script.Run(ctx, s.client, []string{s.Key(key)}, iv, tol, n).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redisstore: %w", err)
	}
	if len(v) != 4 {
		return ratelimit.Result{}, fmt.Errorf("redisstore: script returned %d values, want 4", len(v))
	}
	return ratelimit.Result{
		Allowed:    v[0] == 1,
		Limit:      spec.Count,
		Window:     spec.Period,
		Burst:      spec.MaxBurst(),
		Remaining:  int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		ResetAfter: time.Duration(v[3]) * time.Microsecond,
	}, nil
}
