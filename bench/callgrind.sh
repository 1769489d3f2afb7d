#!/usr/bin/env bash
# bench/callgrind.sh: instructions per request of fortapi serve and of
# bench/baseline, counted by valgrind's callgrind: repeatable whatever else
# the machine is doing, unlike req/s. Each server runs under
#   valgrind --tool=callgrind --instr-atstart=no
# on 127.0.0.1; bench/irload opens 4 keep-alive connections, sends 300
# warm-up requests, switches counting on (callgrind_control -i on), sends
# exactly N requests and dumps the counts. The table gives the user-space
# instructions of the whole server process (net/http, GC and the log
# included; the kernel not) divided by N, and fortapi's ratio to the
# baseline's. fortapi runs as bench/run.sh runs it: --rate-scale 10000, the
# JSON access log at info into a file, every protection on.
#
# Usage: bench/callgrind.sh
#
# Environment:
#   N          counted requests per scenario (default 4000)
#   PROTOCOLS  "http https" (default both)
#   SCENARIOS  of "protected post get healthz" (default "protected post get")
#   SERVERS    of "fortapi baseline baseline-headers" (default "fortapi
#              baseline"; baseline-headers is bench/baseline
#              --fortapi-headers, the baseline sending fortapi's header
#              fields with fixed values)
#   KEEP_TMP=1 keep the temp dir (callgrind.out.* files for callgrind_annotate)
#
# Needs valgrind (Debian's package). Every load run is bounded by timeout(1); the
# servers are stopped at exit.
set -euo pipefail
# valgrind 3.19 does not know RDTSCP, which the Go runtime uses when the CPU
# has it, and callgrind asserts on the signals of asynchronous preemption.
export GODEBUG=${GODEBUG:+$GODEBUG,}cpu.rdtscp=off,asyncpreemptoff=1

N=${N:-4000}
PROTOCOLS=${PROTOCOLS:-http https}
SCENARIOS=${SCENARIOS:-protected post get}
SERVERS=${SERVERS:-fortapi baseline}
KEEP_TMP=${KEEP_TMP:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
die() {
	echo "callgrind.sh: $*" >&2
	exit 1
}
for srv in $SERVERS; do
	case $srv in fortapi | baseline | baseline-headers) ;; *) die "SERVERS: fortapi, baseline or baseline-headers, not '$srv'" ;; esac
done
[[ $N =~ ^[0-9]+$ ]] && ((N >= 100 && N <= 100000)) || die "N must be 100 to 100000 (got '$N')"
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
	die "needs valgrind: apt-get install -y valgrind"

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ $KEEP_TMP == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

echo "building fortapi, bench/baseline and bench/irload ..."
(cd "$root" && go build -o "$tmp/fortapi" ./cmd/fortapi && go build -o "$tmp/baseline" ./bench/baseline &&
	go build -o "$tmp/irload" ./bench/irload)

# wait_line LOG SED-EXPR PID: the first match of SED-EXPR in LOG, waiting up to 120 s.
wait_line() {
	local i v
	for ((i = 0; i < 1200; i++)); do
		v=$(sed -n "$2" "$1" | head -n1 || true)
		if [[ -n $v ]]; then
			echo "$v"
			return 0
		fi
		kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "server exited during start-up"; }
		sleep 0.1
	done
	cat "$1" >&2
	die "no match for $2 in $1 within 120 s"
}

declare -A ir
# measure SERVER PROTO: start SERVER under callgrind, count every scenario.
measure() {
	local srv=$1 proto=$2 log=$tmp/$1-$2.log url tok item="" pid sc out ca=() curlca=() pw ins=false
	[[ $proto == https ]] || ins=true
	if [[ $srv == fortapi ]]; then
		pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
		FORTAPI_ADMIN_PASSWORD=$pw valgrind --tool=callgrind --instr-atstart=no \
			--callgrind-out-file="$tmp/cg.$srv.$proto.%p" "$tmp/fortapi" serve \
			--data-dir "$tmp/data-$proto" --addr 127.0.0.1:0 --http-addr "" --admin-addr "" --rate-scale 10000 \
			--log-level info --log-format json --insecure-http="$ins" 2>"$log" &
	else
		local tls=(--insecure-http)
		[[ $proto == https ]] && tls=(--cert "$tmp/data-https/tls/cert.pem" --key "$tmp/data-https/tls/key.pem")
		[[ $proto == http || -f $tmp/data-https/tls/cert.pem ]] || die "baseline over HTTPS needs fortapi's certificate: run fortapi first"
		[[ $srv == baseline-headers ]] && tls+=(--fortapi-headers)
		valgrind --tool=callgrind --instr-atstart=no \
			--callgrind-out-file="$tmp/cg.$srv.$proto.%p" "$tmp/baseline" --addr 127.0.0.1:0 "${tls[@]}" 2>"$log" &
	fi
	pid=$!
	pids+=("$pid")
	if [[ $srv == fortapi ]]; then
		url=$(wait_line "$log" 's/.*"msg":"serving".*"url":"\(https\{0,1\}:[^"]*\)".*/\1/p' "$pid")
	else
		url=$(wait_line "$log" 's/^serving \(https\{0,1\}:[^ ]*\).*/\1/p' "$pid")
	fi
	if [[ $proto == https ]]; then
		ca=(-cacert "$tmp/data-https/tls/cert.pem")
		curlca=(--cacert "$tmp/data-https/tls/cert.pem")
	fi
	if [[ $srv == fortapi ]]; then
		tok=$(curl -sS --retry 50 --retry-all-errors --retry-delay 1 --max-time 60 "${curlca[@]}" \
			--data-urlencode grant_type=password --data-urlencode username=admin \
			--data-urlencode "password=$pw" "$url/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
	else
		tok=$(wait_line "$log" 's/^token \(.*\)/\1/p' "$pid")
	fi
	[[ -n $tok ]] || die "$srv: no token"
	item=$(curl -sS --max-time 60 "${curlca[@]}" -D - -o /dev/null -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' \
		--data '{"name":"bench item","description":"a description","price":12.5,"tax":2.5}' "$url/items/" |
		tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
	[[ $item == /items/* ]] || die "$srv: seeding an item gave no Location"
	for sc in $SCENARIOS; do
		rm -f "$tmp"/cg."$srv.$proto".*
		timeout 20m "$tmp/irload" -url "$url" "${ca[@]}" -token "$tok" -scenario "$sc" -item "$item" -n "$N" \
			-on "callgrind_control -i on $pid >/dev/null" -off "callgrind_control -d $pid >/dev/null && callgrind_control -i off $pid >/dev/null" >/dev/null
		sleep 0.5
		out=$(ls "$tmp"/cg."$srv.$proto".*.* 2>/dev/null | head -n1 || true)
		[[ -n $out ]] || die "$srv $proto $sc: no callgrind dump"
		ir[$srv.$proto.$sc]=$(awk -v n="$N" '/^(summary|totals):/ { t = $2 } END { printf "%.0f", t / n }' "$out")
		[[ $KEEP_TMP == 1 ]] && mv "$out" "$tmp/callgrind.out.$srv.$proto.$sc"
		rm -f "$tmp"/cg."$srv.$proto".*.*
		echo "  $srv $proto $sc: ${ir[$srv.$proto.$sc]} instructions/request"
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

for proto in $PROTOCOLS; do
	for srv in $SERVERS; do
		echo "[$proto] $srv under callgrind ..."
		measure "$srv" "$proto"
	done
done

echo
echo "| protocol | scenario | fortapi Ir/req | baseline Ir/req | fortapi ÷ baseline | baseline-headers Ir/req | fortapi ÷ baseline-headers |"
echo "|---|---|---:|---:|---:|---:|---:|"
ratio() { if [[ -n $1 && -n $2 ]]; then awk -v f="$1" -v b="$2" 'BEGIN { printf "%.2f", f / b }'; else echo -; fi; }
for proto in $PROTOCOLS; do
	for sc in $SCENARIOS; do
		f=${ir[fortapi.$proto.$sc]:-} b=${ir[baseline.$proto.$sc]:-} h=${ir[baseline-headers.$proto.$sc]:-}
		echo "| $proto | $sc | ${f:--} | ${b:--} | $(ratio "$f" "$b") | ${h:--} | $(ratio "$f" "$h") |"
	done
done
