// Command wsload is the load generator of the WebSocket feed benchmarks
// (bench/ws.sh, docs/benchmarks.md "WebSocket feed"). It talks only to a
// fortapi server on 127.0.0.1 that bench/ws.sh started, runs in a process
// of its own (so that the server's memory is the server's alone, and each
// process stays under the open-files limit), and bounds every phase in
// time and count.
//
//	wsload setup    -users N        create N admin users wsbench-00000...
//	                                through POST /users (as the bootstrap
//	                                admin) and write one access token per
//	                                user to -tokens (mode 0600)
//	wsload idle     -conns N        open N idle authenticated sockets
//	                                (-per-user per token: the feed's cap is
//	                                8), report upgrades per second and the
//	                                server's RSS before, after and while
//	                                holding them (-hold), then close them
//	wsload latency  -subs N         N subscribers; post -events items one
//	                                at a time every -interval and report the
//	                                latency from just before POST /items/ to
//	                                each subscriber's read (p50, p90, p99,
//	                                max) and missed deliveries
//	wsload fanout   -subs N         N subscribers; -posters goroutines post
//	                                items as fast as the server takes them
//	                                for -duration; report events and
//	                                deliveries per second and sockets the
//	                                feed closed (slow consumers)
//
// Every bench user is an administrator, so every subscriber receives every
// event (the feed sends an item's events to its owner and to holders of
// users:admin). Access tokens live 15 minutes: a phase refuses tokens
// older than 13 minutes (run setup again). Results are printed as
// "result KEY=VALUE" lines; the server's memory and CPU come from
// /proc/PID/status and /proc/PID/stat of -pid.
package main
