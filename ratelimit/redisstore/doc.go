// Package redisstore is a ratelimit.Store on Redis, so that every instance
// of a server enforces one global limit.
//
// What it defends against:
//
//   - Per-instance counters that multiply the limit. The GCRA of package
//     ratelimit runs as one Lua script inside Redis: one round trip
//     (EVALSHA) per check, atomic, so N processes hammering one key admit
//     exactly the allowance between them.
//   - Clock skew between instances. The script reads Redis's clock
//     (TIME), the one clock every instance shares. (Redis allows TIME
//     before writes with effects replication: the default since Redis 5,
//     the only mode since 7; the script turns it on for 3.2–4.)
//   - A lost script cache. go-redis's Script.Run sends EVALSHA and, on
//     NOSCRIPT (restart, failover, SCRIPT FLUSH), EVAL with the source,
//     which caches it again; no start-up SCRIPT LOAD to forget.
//   - Unbounded Redis memory. Each key expires (PX) when its TAT passes,
//     which is when its state becomes the same as no state; keys longer
//     than 128 bytes are stored as their SHA-256.
//   - Slow or unreachable Redis. Each check is bounded by Options.Timeout
//     (with ContextTimeoutEnabled on the client; ClientOptions sets it).
//     An error is returned to the ratelimit.Set, whose ErrorPolicy
//     (fail open to a local limiter, or fail closed with 503) applies.
//
// Defaults: Prefix "fortapi:ratelimit:"; Timeout 100ms.
//
// Wiring: opts, err := redisstore.ClientOptions(redisURL);
// store := redisstore.New(redis.NewClient(opts), redisstore.Options{});
// then ratelimit.NewSet(ratelimit.SetOptions{Store: store, ...}).
package redisstore
