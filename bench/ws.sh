#!/usr/bin/env bash
# bench/ws.sh: benchmarks of the WebSocket item feed (GET /ws/items) of the
# real fortapi binary over TLS on 127.0.0.1, driven by bench/wsload in a
# process of its own (docs/benchmarks.md, "WebSocket feed"):
#
#   1. setup    create USERS admin users through POST /users and log each
#               in (POST /token): the feed allows 8 sockets per user, so
#               10,000 sockets need 1,250 users. Every user is an
#               administrator, so every subscriber receives every event.
#   2. restart  the server, so that its memory holds no trace of setup's
#               password hashes (argon2id takes 19 MiB each).
#   3. idle     open CONNS idle authenticated sockets (new TLS handshake
#               each, DIALERS at once): upgrades per second and server CPU
#               per upgrade; the server's RSS (/proc/PID/status) before,
#               once open and after HOLD (past the first ping at 25 s).
#   4. latency  SUBS subscribers; EVENTS items posted one at a time every
#               INTERVAL; latency from just before POST /items/ to each
#               subscriber's read.
#   5. fanout   SUBS subscribers; POSTERS clients post items as fast as the
#               server takes them for DURATION: events and deliveries per
#               second, and sockets the feed closed as slow consumers.
#
# The bench server runs with GODEBUG=gctrace=1: after each idle phase the
# script prints the heap the last collection found live (the RSS also holds
# the garbage the GC lets grow up to GOGC=100). IDLE_ENVS repeats the idle
# phase on a fresh server per entry, with that VAR=VALUE in its environment
# (default "GOMEMLIMIT=200MiB": the Go runtime's soft memory limit).
#
# The rate limits are scaled with --rate-scale RATE_SCALE (default 10000,
# as bench/run.sh): the limiter still runs on every request and upgrade.
# No default is weakened: the per-user socket cap (8) and the global cap
# (10,000) stay, which is why setup creates many users.
#
# Usage: bench/ws.sh   (from anywhere)
#
# Environment: USERS (1250), CONNS (10000), DIALERS (32), HOLD (30s),
# SUBS (1000), EVENTS (200), INTERVAL (50ms), POSTERS (4), DURATION (10s),
# RATE_SCALE (10000), PHASES ("idle latency fanout"), IDLE_ENVS
# ("GOMEMLIMIT=200MiB"; "" for none), INSECURE_HTTP=1 (plain HTTP and ws://,
# --insecure-http: what a TLS-terminating proxy leaves), KEEP_TMP=1 keeps the
# temp dir. Every wsload run is bounded by its -timeout and timeout(1);
# the script stops the server it started, by PID.
set -euo pipefail

USERS=${USERS:-1250}
CONNS=${CONNS:-10000}
DIALERS=${DIALERS:-32}
HOLD=${HOLD:-30s}
SUBS=${SUBS:-1000}
EVENTS=${EVENTS:-200}
INTERVAL=${INTERVAL:-50ms}
POSTERS=${POSTERS:-4}
DURATION=${DURATION:-10s}
RATE_SCALE=${RATE_SCALE:-10000}
INSECURE_HTTP=${INSECURE_HTTP:-0}
tls_flags=()
[[ $INSECURE_HTTP == 1 ]] && tls_flags=(--insecure-http)
PHASES=${PHASES:-idle latency fanout}
IDLE_ENVS=${IDLE_ENVS-GOMEMLIMIT=200MiB}
KEEP_TMP=${KEEP_TMP:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() {
	echo "ws.sh: $*" >&2
	exit 1
}

for v in USERS CONNS DIALERS SUBS EVENTS POSTERS RATE_SCALE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
((CONNS <= 10000)) || die "CONNS above 10000: the feed's global cap refuses more"
if [[ " $PHASES " == *" idle "* || -n $IDLE_ENVS ]]; then
	((USERS * 8 >= CONNS)) || die "CONNS=$CONNS needs USERS >= $(((CONNS + 7) / 8)) (8 sockets per user)"
fi
((USERS * 8 >= SUBS + 8 * (POSTERS + 1))) || die "SUBS=$SUBS and POSTERS=$POSTERS need USERS >= $(((SUBS + 7) / 8 + POSTERS + 1))"
command -v go >/dev/null || die "go not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# Each process holds one descriptor per socket: raise the soft limit to
# the hard one where allowed (about 20,000 here).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > CONNS + 200)) || die "open-files limit $(ulimit -n) is too low for CONNS=$CONNS"

tmp=$(mktemp -d -t fortapi-wsbench.XXXXXX)
server_pid=

stop_server() {
	local i
	[[ -n $server_pid ]] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

cleanup() {
	local rc=$?
	trap - EXIT
	stop_server
	if [[ $KEEP_TMP == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== fortapi WebSocket feed benchmark, $(date -u '+%Y-%m-%d %H:%M:%SZ')"
echo "machine:  $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "go:       $(go version)"
echo "commit:   $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
echo "settings: USERS=$USERS CONNS=$CONNS DIALERS=$DIALERS HOLD=$HOLD SUBS=$SUBS EVENTS=$EVENTS INTERVAL=$INTERVAL POSTERS=$POSTERS DURATION=$DURATION RATE_SCALE=$RATE_SCALE, open files $(ulimit -n)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; the machine is shared)"
echo

echo "building fortapi and bench/wsload ..."
(cd "$root" && go build -o "$tmp/fortapi" ./cmd/fortapi && go build -o "$tmp/wsload" ./bench/wsload)

cert=$tmp/data/tls/cert.pem
admin_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export FORTAPI_ADMIN_PASSWORD=$admin_password
url=

# start_server NAME [VAR=VALUE...]: a fresh server on the same data dir.
start_server() {
	local log=$tmp/server-$1.log i
	shift
	server_log=$log
	env GODEBUG=gctrace=1 "$@" "$tmp/fortapi" serve --data-dir "$tmp/data" --addr 127.0.0.1:0 --http-addr "" \
		--rate-scale "$RATE_SCALE" --log-level info --log-format json "${tls_flags[@]}" 2>"$log" &
	server_pid=$!
	url=
	for ((i = 0; i < 300; i++)); do
		kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "the server exited during start-up"; }
		url=$(sed -n 's/.*"msg":"serving".*"url":"\(https\{0,1\}:[^"]*\)".*/\1/p' "$log" | head -n1)
		[[ -z $url ]] || break
		sleep 0.1
	done
	[[ -n $url ]] || die "the server did not log its URL within 30s"
	[[ $url == https://127.0.0.1:* || ($INSECURE_HTTP == 1 && $url == http://127.0.0.1:*) ]] || die "unexpected server URL $url"
	echo "  server pid $server_pid  $url  (log: $log)"
}

# wsload CMD [FLAGS]: one bounded run; its "result" lines go to the report.
wsload() {
	local cmd=$1
	shift
	echo "-- wsload $cmd $*"
	timeout 15m "$tmp/wsload" "$cmd" -url "$url" -cacert "$cert" -pid "$server_pid" \
		-tokens "$tmp/tokens" -timeout 12m "$@" | tee -a "$tmp/results" | sed 's/^result /  /'
}

# gc_live: the last garbage collection of the server, as gctrace prints
# it ("gc N @SECONDS ... A->B->C MB": heap at start, at end, live; compare
# SECONDS since the start with the phase's times: a collection after the
# hold saw the sockets closing).
gc_live() {
	echo "  last gc: $(grep -E '^gc [0-9]+ @' "$server_log" | tail -n1)"
}

start_server setup
wsload setup -users "$USERS"
stop_server
start_server bench
for phase in $PHASES; do
	case $phase in
	idle)
		wsload idle -conns "$CONNS" -dialers "$DIALERS" -hold "$HOLD"
		gc_live
		;;
	latency) wsload latency -subs "$SUBS" -events "$EVENTS" -interval "$INTERVAL" -dialers "$DIALERS" ;;
	fanout) wsload fanout -subs "$SUBS" -posters "$POSTERS" -duration "$DURATION" -dialers "$DIALERS" ;;
	*) die "unknown phase $phase" ;;
	esac
done
for e in $IDLE_ENVS; do
	stop_server
	echo "-- idle again with $e"
	start_server "idle-$e" "$e"
	wsload idle -conns "$CONNS" -dialers "$DIALERS" -hold "$HOLD"
	gc_live
done
echo
echo "server log lines above INFO (without gctrace):"
grep -hv -e '"level":"INFO"' -e '^gc [0-9]' "$tmp"/server-*.log | head -n 20 || true
