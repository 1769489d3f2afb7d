// Package ratelimit limits request rates with GCRA (the generic cell rate
// algorithm), in memory or — through ratelimit/redisstore — shared by every
// instance of a server, and speaks the IETF RateLimit header fields.
//
// What it defends against:
//
//   - Windows to game. GCRA keeps one value per key, the theoretical
//     arrival time (TAT); a request is allowed when moving the TAT one
//     emission interval (Period/Count) later leaves it at most Burst
//     intervals ahead of now. There are no window edges where twice the
//     limit gets through, and the answer is exact: concurrent checks on one
//     key behave as if made one after the other.
//   - Spoofed client addresses. ByClientIP keys by the address package
//     clientip resolves (forwarding headers only from trusted proxies;
//     IPv6 grouped by /64). The default key is the TCP peer.
//   - Per-worker counters that multiply the limit. With a redisstore.Store
//     every instance checks one shared state; without it, an in-memory
//     store is exact within the process.
//   - Unbounded memory keyed by attacker values. MemoryStore holds at most
//     MaxKeys keys, each as a fixed-size 128-bit hash (at most 128 bytes
//     per key, however long the key); when full it drops the key whose
//     state expires first. A key whose TAT has passed is the same as an
//     absent key, so dropping expired keys loses nothing, and dropping the
//     earliest-expiring one loses the least.
//   - Redis going away turning into 500s. A Set applies an explicit
//     ErrorPolicy while its store fails: FailOpen (the default) decides
//     with a local in-memory limiter whose specs are divided by the
//     instance count, FailClosed answers 503 with Retry-After. The outage
//     is logged once when it starts and once when it ends, counted
//     (Stats), and ends by itself: during an outage one request per
//     RetryInterval tries the store, and the first success ends it.
//   - Clients left guessing. Every limited response carries the fields of
//     draft-ietf-httpapi-ratelimit-headers-09 (RateLimit-Policy:
//     "name";q=100;w=60 and RateLimit: "name";r=50;t=30; the policy name is
//     a String, as draft 09 requires and later drafts still allow) plus the
//     common RateLimit-Limit, -Remaining and -Reset; a denial is 429
//     application/problem+json (RFC 9457) with the members of every other
//     fortapi problem — title, status, detail and, when the request has an
//     id, instance; no "type", which RFC 9457 reads as "about:blank" — and
//     Retry-After in whole seconds, rounded up, at least 1.
//
// Specs are text such as "5/minute", "100/second", "1000/hour", "10/day"
// and "100/minute burst 20" (see Spec and ParseSpec). Without "burst" the
// burst is the count: "5/minute" admits 5 at once, then one every 12 s.
// Refused, with an error quoting the text: a count or burst below 1 or
// above 10^9, a unit other than second, minute, hour, day or a duration of
// whole seconds, a period above 366 days, more than 10^6 requests per
// second, and a burst that takes more than 366 days to refill.
//
// How a server wires it: build one Set from its flags (Store: memory or
// redisstore; OnError; InstanceCount; Scale from --rate-scale), then one
// Limiter per declared limit with New(Options{Name, Spec, Key, Set}). Use
// Limiter.Middleware for plain net/http, or Limiter.Check / Peek with
// WriteHeaders, WriteTooManyRequests and WriteUnavailable inside a
// framework. Limiter.Name and Limiter.Spec describe the limit for
// documentation.
//
// Defaults:
//
//   - Options.Name "default"; Options.Key the TCP peer's address grouped
//     by clientip.Key; Options.Set a Set of its own.
//   - SetOptions: Store a MemoryStore; OnError FailOpen; InstanceCount 1;
//     Fallback a MemoryStore; RetryInterval 1s (also the Retry-After of
//     FailClosed's 503s); Scale 1; Logger slog.Default(); Now time.Now.
//   - MemoryOptions: MaxKeys 262,144 (1<<18, at most 32 MiB); Shards
//     64; Now time.Now.
//   - Emission intervals are rounded up to whole microseconds (the
//     resolution of Redis's clock), so a limit is never looser than
//     declared.
package ratelimit
