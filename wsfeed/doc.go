// Package wsfeed is a server-to-client WebSocket feed for fortapi APIs,
// on github.com/coder/websocket: authenticated before the upgrade,
// origin-checked, bounded, and closed when its credentials are revoked or
// expire.
//
// Register declares the upgrade as an operation of a *fortapi.API
// (through fortapi.RegisterHandler): it appears in /openapi.json with its
// security, and fortapi enforces that declaration before the upgrade, at
// the same point and with the same answers as for every other operation
// (401 with WWW-Authenticate, 403 insufficient_scope, problem+json). An
// operation declaring no security makes the API refuse to start. Publish
// sends events to the open sockets allowed to see them.
//
//	tickets, _ := wsfeed.NewTickets(wsfeed.TicketOptions{})
//	feed, _ := wsfeed.New(wsfeed.Options{Tickets: tickets, Origins: corsOrigins,
//		AllScope: "users:admin", Revocations: revocationList})
//	defer feed.Close()
//	wsfeed.Register(api, huma.Operation{Path: "/ws/items", Security: wsfeed.Scopes("items:read")}, feed)
//	wsfeed.RegisterTickets(api, huma.Operation{Path: "/ws/ticket", Security: fortapi.Authenticated()}, tickets)
//	...
//	feed.Publish(wsfeed.Event{Owner: item.Owner, Message: itemEvent})
//	feed.Revoke(wsfeed.MatchSession(sid)) // on logout
//
// # What it defends against
//
//   - Cross-site WebSocket hijacking (CSWSH). Browsers send cookies with a
//     WebSocket handshake from any page, and net/http's
//     CrossOriginProtection lets every GET through. The feed checks Origin
//     itself: an upgrade carrying ambient credentials (a cookie session, a
//     ticket, an Authorization other than a single Bearer header) with an
//     Origin must come from the server's own origin (the Host it was sent
//     to; an https origin only, over TLS) or Options.Origins; otherwise 403
//     before the upgrade. Without Origin the client is not a browser, and
//     no page can have opened it; an explicit bearer header cannot be set
//     by a page on a WebSocket, so it needs no Origin check.
//   - Tokens in URLs. Query strings land in access logs, proxy logs,
//     browser history and Referer headers. The operation accepts no query
//     parameter but the ticket (any other is 422, its value never echoed or
//     logged); the only credential read from a URL is the ticket.
//     Browser scripts, which cannot set Authorization on a WebSocket, use a
//     ticket: single use, at most 30 s, bound to the principal (its scopes,
//     session and expiry) it was issued to, presented as the subprotocol
//     pair "ticket, <value>" (kept out of URLs altogether) or as
//     ?ticket=<value>, worthless once used. A ticket is a principal of its
//     own scheme (TicketScheme): only operations that declare it accept
//     it, and it cannot buy another ticket.
//   - Unbounded reads and memory. The feed reads no data: a client data
//     message is refused (close 1003), one over ReadLimit as soon as it
//     passes the limit (close 1009). Each socket has a bounded send queue
//     of references to messages encoded once per Publish; a consumer that
//     falls behind is closed (1008) instead of growing memory, and every
//     write has a timeout. Connections are capped per subject (429) and in
//     all (503), both before the upgrade. An idle socket costs one
//     goroutine and its buffers: about 16 KB (docs/benchmarks.md).
//   - Zombie sockets. A socket outlives neither its credentials nor its
//     peer: Revoke (pushed by the server on logout, disable, role or
//     password change, key revocation), Options.Revocations (asked for
//     every socket every CheckInterval) and Principal.ExpiresAt close it
//     with 4401 within a second; a peer that stops answering pings is cut
//     after IdleTimeout.
//
// # Defaults
//
// ReadLimit 1 KiB, MaxConnsPerSubject 8, MaxConns 10,000, SendQueue 64
// messages, WriteTimeout 10 s, PingInterval 25 s, IdleTimeout 10 s,
// CheckInterval 250 ms; tickets: TTL 30 s (the maximum), 10,000
// outstanding, 16 per subject. Compression is off (it costs memory per
// socket, and compressing secrets beside attacker-chosen data leaks them).
//
// # Close codes
//
// 1001 (CloseGoingAway) the feed shuts down; 1003 (CloseUnsupportedData)
// the client sent a data message; 1008 (CloseSlowConsumer) the send queue
// overflowed; 1009 (CloseTooBig) a client message exceeded ReadLimit; 4401
// (CloseCredentials) the credentials were revoked or expired (reason
// "credentials revoked" or "credentials expired"): authenticate again
// before reconnecting; 4409 (CloseResync, Feed.Resync) events meant for
// the socket may have been lost: reconnect, then reload the state. A close handshake that has not finished within
// 500 ms is cut (the client then sees 1006), as is a peer that does not
// answer a ping.
//
// # Across instances
//
// A Feed and its Tickets live in one process. Several instances share
// events and revocations through the server's push channel (fortapi serve:
// PostgreSQL LISTEN/NOTIFY): each instance calls Publish, Revoke and, when
// its channel may have lost events, Resync on its own feed for what it
// receives; Options.Available refuses upgrades (503) while the channel is
// down, and Subscribed spares preparing an event nobody receives. A ticket
// must be redeemed on the instance that issued it (or the server shares
// tickets itself).
package wsfeed
