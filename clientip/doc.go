// Package clientip finds the address of the client behind an HTTP request,
// believing forwarding headers only when the TCP peer is a proxy you trust.
//
// What it defends against:
//
//   - Spoofed X-Forwarded-For / Forwarded / X-Real-IP. Anyone can send
//     these headers. The client is the TCP peer (Request.RemoteAddr) unless
//     that peer lies inside Options.TrustedProxies; with no trusted proxies
//     (the zero value) no header is ever read.
//   - "First entry" keying. Proxies append the address they received the
//     request from, so everything left of the rightmost untrusted entry was
//     written by the client. The header is read right to left, across all
//     of its field lines combined, skipping trusted proxies; the first
//     untrusted address is the client.
//   - Garbage winning. An entry that is not an address (a typo, "unknown",
//     an obfuscated identifier such as "_hidden", a quoted string where none
//     belongs, too many hops) stops the walk, and the client is the last
//     trusted hop reached: the proxy that wrote the garbage. Garbage can
//     never make an address to its left, which the client chose, win.
//   - Cross-header confusion. Only the one header your proxies write is
//     read (Options.Header). A fixed precedence over several headers
//     ("Forwarded, else X-Forwarded-For, else X-Real-IP") is unsafe: a proxy
//     that appends to X-Forwarded-For usually passes a client's Forwarded
//     header through untouched, and the client would pick its own address.
//   - One attacker, many keys. Key groups IPv6 addresses by their /64 (one
//     customer line usually gets a whole /64, often more) and IPv4 addresses
//     by /32; IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) count as IPv4
//     and zones (%eth0) are dropped, so one host cannot appear as several.
//
// Headers understood (Options.Header picks exactly one):
//
//   - X-Forwarded-For (the default): comma-separated addresses; each may
//     carry a port ("192.0.2.1:4711", "[2001:db8::1]:4711") or be a bare or
//     bracketed IPv6 address. Empty list elements are ignored (RFC 9110
//     §5.6.1).
//   - Forwarded (RFC 7239): the for= parameter of each element; values may
//     be quoted; IPv6 must be bracketed; ports and obfuscated ports are
//     allowed. "unknown", obfuscated node names ("_abc"), a missing or
//     repeated for= parameter, or a syntax error stop the walk.
//   - X-Real-IP: read like X-Forwarded-For (a proxy that sets it writes one
//     address; a second field line or a list is walked right to left).
//
// Defaults: no trusted proxies; Header "X-Forwarded-For"; at most 32
// header entries are examined per request (a longer run of trusted hops
// ends the walk at the last one reached). A RemoteAddr that is not an IP
// address (a Unix socket) yields the invalid netip.Addr, for which Key
// returns "unknown".
package clientip
