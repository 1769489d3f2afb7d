#!/usr/bin/env bash
# bench/run.sh: HTTP load test of the fortapi reference server against a bare
# net/http baseline (bench/baseline) with the same endpoints, over HTTPS on
# 127.0.0.1 only. For each scenario (GET /healthz, GET /protected,
# POST /items/, GET /items/{id}) it runs wrk against both servers, one after
# the other, then prints a side-by-side table. Both servers check a bearer
# token on every authenticated request: fortapi its own EdDSA access token
# (from POST /token as the bootstrap admin), the baseline an HS256 token
# verified with golang-jwt on every request (DESIGN.md §8's reference).
# Last, a login flood (64 connections of wrong-password logins for random
# unknown users) runs beside GET /protected on fortapi, whose p99 latency
# is compared with the idle run. Every wrk run is bounded by its --duration
# and by timeout(1); the script stops by itself.
#
# Usage: bench/run.sh            (from anywhere; root for the wrk install)
#
# Environment:
#   DURATION     wrk --duration per scenario and server (default 10s)
#   CONNECTIONS  wrk --connections (default 32)
#   THREADS      wrk --threads (default 2)
#   LOG_LEVEL    fortapi --log-level (default info: one access-log line per
#                request, like production; the log goes to a file)
#   QUIET_WAIT   before each run, wait up to this many seconds for other
#                processes to leave the CPUs idle (default 60; 0: don't wait)
#   KEEP_TMP=1   keep the temp dir (binaries, fortapi log, wrk outputs)
#
# wrk and the server under test share the machine. Next to req/s and
# latency the table shows the server's CPU time per request (less sensitive
# to contention than req/s) and "other load": CPU cores that processes other
# than the server and wrk used during the run (builds, tests); rows with
# other load above 0.2 cores are noisy and marked "~".
#
# It exits non-zero, after printing the table, if a server answered anything
# but 2xx (wrk's "Non-2xx or 3xx responses", or a non-2xx status in fortapi's
# access log) or if wrk saw socket errors: such numbers would be lies.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
LOG_LEVEL=${LOG_LEVEL:-info}
QUIET_WAIT=${QUIET_WAIT:-60}
KEEP_TMP=${KEEP_TMP:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() {
	echo "run.sh: $*" >&2
	exit 1
}

# --- arguments -------------------------------------------------------------

if [[ $DURATION =~ ^([0-9]+)([smh]?)$ ]]; then
	case ${BASH_REMATCH[2]} in
	m) dur_s=$((BASH_REMATCH[1] * 60)) ;;
	h) dur_s=$((BASH_REMATCH[1] * 3600)) ;;
	*) dur_s=${BASH_REMATCH[1]} ;;
	esac
else
	die "DURATION must look like 10s, 2m or 1h (got '$DURATION')"
fi
((dur_s >= 1 && dur_s <= 3600)) || die "DURATION must be 1s to 1h (got '$DURATION')"
[[ $CONNECTIONS =~ ^[0-9]+$ && $THREADS =~ ^[0-9]+$ ]] || die "CONNECTIONS and THREADS must be integers"
((THREADS >= 1 && CONNECTIONS >= THREADS)) || die "need THREADS >= 1 and CONNECTIONS >= THREADS"
if ! [[ $QUIET_WAIT =~ ^[0-9]+$ ]] || ((QUIET_WAIT > 600)); then
	die "QUIET_WAIT must be 0 to 600 seconds"
fi
# The hard limit of one wrk run: its duration plus start-up and the done hook.
wrk_limit=$((dur_s + 30))

# --- tools -----------------------------------------------------------------

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
	((EUID == 0)) || die "${missing[*]} missing; install with: apt-get install -y ${missing[*]}"
	echo "installing ${missing[*]} (apt-get) ..."
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || die "go not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# --- temp dir and cleanup --------------------------------------------------

tmp=$(mktemp -d -t fortapi-bench.XXXXXX)
pids=()

stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid
	trap - EXIT
	for pid in "${pids[@]}"; do
		stop_pid "$pid"
	done
	if [[ $KEEP_TMP == 1 ]]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- machine ---------------------------------------------------------------

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
echo "== fortapi load test, $(date -u '+%Y-%m-%d %H:%M:%SZ')"
echo "machine:  $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(awk '/^MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "kernel:   $(uname -srm)"
echo "go:       $(go version)"
echo "wrk:      $(wrk -v 2>&1 | head -n1 || true)"
echo "commit:   $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
echo "settings: DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS LOG_LEVEL=$LOG_LEVEL (client and servers share this machine)"
echo

# --- build -----------------------------------------------------------------

echo "building fortapi and bench/baseline ..."
(cd "$root" && go build -o "$tmp/fortapi" ./cmd/fortapi)
(cd "$root" && go build -o "$tmp/baseline" ./bench/baseline)

# --- servers ---------------------------------------------------------------

cert=$tmp/data/tls/cert.pem
key=$tmp/data/tls/key.pem
flog=$tmp/fortapi.log
blog=$tmp/baseline.log

# listen_url PID: https://127.0.0.1:PORT for the IPv4 TCP socket that PID
# listens on, or nothing yet (found through /proc, no log needed).
listen_url() {
	local pid=$1 f l inodes=" " hex
	for f in "/proc/$pid/fd/"*; do
		l=$(readlink "$f" 2>/dev/null) || continue
		[[ $l == socket:\[*\] ]] && inodes+="${l//[^0-9]/} "
	done
	# /proc/net/tcp: local_address is HEXIP:HEXPORT, st 0A is LISTEN.
	hex=$(awk -v ino="$inodes" '$4 == "0A" && index(ino, " " $10 " ") { split($2, a, ":"); print a[2]; exit }' /proc/net/tcp)
	[[ -z $hex ]] || echo "https://127.0.0.1:$((16#$hex))"
}

# wait_url PID LOG SED-EXPR: print the URL the server logs once it listens
# (SED-EXPR "-": find the port through /proc instead).
wait_url() {
	local pid=$1 log=$2 expr=$3 url i
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$log" >&2
			die "server (pid $pid) exited during start-up; its log is above"
		fi
		if [[ $expr == - ]]; then
			url=$(listen_url "$pid")
		else
			url=$(sed -n "$expr" "$log" | head -n1)
		fi
		if [[ -n $url ]]; then
			echo "$url"
			return 0
		fi
		sleep 0.1
	done
	cat "$log" >&2
	die "server (pid $pid) did not log its URL within 30s"
}

# wait_healthy URL: wait until GET URL/healthz answers 200 (cert verified).
wait_healthy() {
	local url=$1 i
	for ((i = 0; i < 100; i++)); do
		if curl -fsS --max-time 2 --cacert "$cert" -o /dev/null "$url/healthz" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	die "$url/healthz did not answer 200 within ~10s"
}

echo "starting fortapi ..."
# Port 0: the server picks a free port and logs it ("msg":"serving"). Every
# setting is a flag, so stray FORTAPI_* variables cannot change the run.
admin_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
FORTAPI_ADMIN_PASSWORD=$admin_password "$tmp/fortapi" serve \
	--data-dir "$tmp/data" --addr 127.0.0.1:0 --http-addr "" --rate-scale 10000 \
	--log-level "$LOG_LEVEL" --log-format json --insecure-http=false \
	2>"$flog" &
pids+=("$!")
fortapi_pid=$!
serving='s/.*"msg":"serving".*"url":"\(https:[^"]*\)".*/\1/p'
case $LOG_LEVEL in
debug | info) ;;
*) serving=- ;; # the INFO "serving" line is filtered out
esac
fortapi_url=$(wait_url "$fortapi_pid" "$flog" "$serving")
wait_healthy "$fortapi_url"
echo "  fortapi  pid $fortapi_pid  $fortapi_url  (log: $flog)"

echo "starting baseline with fortapi's development certificate ..."
"$tmp/baseline" --addr 127.0.0.1:0 --cert "$cert" --key "$key" 2>"$blog" &
pids+=("$!")
baseline_pid=$!
baseline_url=$(wait_url "$baseline_pid" "$blog" 's/^serving \(https:.*\)$/\1/p')
wait_healthy "$baseline_url"
echo "  baseline pid $baseline_pid  $baseline_url"
baseline_token=$(sed -n 's/^token \(.*\)$/\1/p' "$blog" | head -n1)
[[ -n $baseline_token ]] || die "the baseline printed no token"

# Log in to fortapi as the bootstrap administrator (password grant).
code=$(curl -sS --max-time 10 --cacert "$cert" -o "$tmp/login.json" -w '%{http_code}' \
	--data-urlencode grant_type=password --data-urlencode username=admin \
	--data-urlencode "password=$admin_password" "$fortapi_url/token")
[[ $code == 200 ]] || die "logging in to fortapi: HTTP $code: $(cat "$tmp/login.json")"
fortapi_token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$tmp/login.json")
[[ -n $fortapi_token ]] || die "no access_token in $(cat "$tmp/login.json")"
# The access token lives 15 minutes: the whole run must fit.
((dur_s * 9 + 120 < 900)) || die "DURATION too long for one 15-minute access token"

# seed BASE-URL TOKEN: create one item; print its path.
item_body='{"name":"bench item","description":"a description","price":12.5,"tax":2.5}'
seed() {
	local url=$1 tok=$2 code loc
	code=$(curl -sS --max-time 10 --cacert "$cert" -o "$tmp/seed.body" -D "$tmp/seed.headers" \
		-w '%{http_code}' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		--data "$item_body" "$url/items/")
	[[ $code == 201 ]] || die "seeding $url/items/: HTTP $code: $(cat "$tmp/seed.body")"
	loc=$(tr -d '\r' <"$tmp/seed.headers" | awk 'tolower($1) == "location:" { print $2 }')
	[[ $loc == /items/* ]] || die "seeding $url/items/: no Location /items/... (got '$loc')"
	code=$(curl -sS --max-time 10 --cacert "$cert" -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer $tok" "$url$loc")
	[[ $code == 200 ]] || die "GET $url$loc after seeding: HTTP $code"
	echo "$loc"
}
fortapi_item=$(seed "$fortapi_url" "$fortapi_token")
baseline_item=$(seed "$baseline_url" "$baseline_token")
echo "seeded fortapi $fortapi_item, baseline $baseline_item"
echo

# --- CPU accounting --------------------------------------------------------

clk_tck=$(getconf CLK_TCK)

# proc_ticks PID: user+system CPU ticks of one process.
proc_ticks() {
	local s f
	s=$(<"/proc/$1/stat")
	read -r -a f <<<"${s##*) }" # fields from the state on: utime is f[11]
	echo $((f[11] + f[12]))
}

# busy_ticks: CPU ticks the whole machine spent not idle.
busy_ticks() {
	local user nice sys irq softirq steal _
	# cpu user nice system idle iowait irq softirq steal ...
	read -r _ user nice sys _ _ irq softirq steal _ </proc/stat
	echo $((user + nice + sys + irq + softirq + steal))
}

# wait_quiet: wait up to QUIET_WAIT seconds until the machine is nearly idle
# (under 0.25 busy cores over one second); proceed anyway after that.
wait_quiet() {
	local deadline=$((SECONDS + QUIET_WAIT)) b0 b1 said=0
	while ((SECONDS < deadline)); do
		b0=$(busy_ticks)
		sleep 1
		b1=$(busy_ticks)
		if (((b1 - b0) * 4 < clk_tck)); then
			return 0
		fi
		if ((!said)); then
			echo "    (waiting up to ${QUIET_WAIT}s for other processes to leave the CPUs idle: $(awk -v t="$((b1 - b0))" -v c="$clk_tck" 'BEGIN { printf "%.2f", t / c }') cores busy)"
			said=1
		fi
	done
	((QUIET_WAIT == 0)) || echo "    (still busy after ${QUIET_WAIT}s; running anyway, see 'other load')"
}

# --- load ------------------------------------------------------------------

scenarios=("GET /healthz" "GET /protected" "POST /items/" "GET /items/{id}")
scripts=(healthz.lua protected.lua post_item.lua get_item.lua)
servers=(fortapi baseline)

# Results, one entry per run, in run order.
r_scen=() r_srv=() r_rps=() r_p50=() r_p99=() r_non2xx=() r_sock=() r_logbad=() r_logcanc=() r_cpu=() r_other=()

TIMEFORMAT='%3U %3S' # the time keyword prints user and system seconds

# field NAME LINE: the value of NAME=... in a wrk-result line.
field() {
	local kv
	for kv in $2; do
		if [[ $kv == "$1="* ]]; then
			echo "${kv#*=}"
			return 0
		fi
	done
	die "wrk-result has no $1"
}

total=$((${#scenarios[@]} * ${#servers[@]}))
n=0
for i in "${!scenarios[@]}"; do
	scen=${scenarios[$i]}
	for srv in "${servers[@]}"; do
		n=$((n + 1))
		if [[ $srv == fortapi ]]; then
			base=$fortapi_url item=$fortapi_item token=$fortapi_token
		else
			base=$baseline_url item=$baseline_item token=$baseline_token
		fi
		case $scen in
		"GET /healthz") url=$base/healthz ;;
		"GET /protected") url=$base/protected ;;
		"POST /items/") url=$base/items/ ;;
		*) url=$base$item ;;
		esac
		echo "[$n/$total] $scen on $srv ($url, $DURATION, $CONNECTIONS connections, $THREADS threads) ..."
		if [[ $srv == fortapi ]]; then pid=$fortapi_pid; else pid=$baseline_pid; fi
		wait_quiet
		log_start=$(wc -l <"$flog")
		out=$tmp/wrk-$n.txt
		t0=$EPOCHREALTIME s0=$(proc_ticks "$pid") b0=$(busy_ticks)
		# The time keyword reports wrk's CPU (user and system seconds).
		if ! { time BENCH_TOKEN=$token LUA_PATH="$here/lua/?.lua;;" timeout --kill-after=5 "$wrk_limit" \
			wrk --threads "$THREADS" --connections "$CONNECTIONS" --duration "$DURATION" \
			--timeout 10s --script "$here/lua/${scripts[$i]}" "$url" >"$out" 2>&1; } 2>"$tmp/time"; then
			cat "$out" >&2
			die "wrk failed or exceeded ${wrk_limit}s on $scen ($srv); its output is above"
		fi
		t1=$EPOCHREALTIME s1=$(proc_ticks "$pid") b1=$(busy_ticks)
		sed 's/^/    /' "$out"
		line=$(grep '^wrk-result ' "$out" || true)
		[[ -n $line ]] || die "no wrk-result line in wrk's output (bench/lua/report.lua not loaded?)"
		logbad=- logcanc=0
		if [[ $srv == fortapi && $serving != - ]]; then
			# Cross-check with the server's own access log: requests logged
			# with a non-2xx status in this run's window. When wrk stops it
			# closes its connections with requests in flight; fortapi logs
			# those as 499 (client closed request), which no client saw.
			# They are counted apart (at most one per connection); every
			# other non-2xx fails the run.
			sleep 0.5 # let the requests cut off at the stop reach the log
			read -r logbad logcanc < <(tail -n +"$((log_start + 1))" "$flog" | awk '
				/"msg":"request"/ && /"status":499,/ { nc++; next }
				/"msg":"request"/ && !/"status":2[0-9][0-9],/ { nb++ }
				END { print nb + 0, nc + 0 }')
		fi
		r_scen+=("$scen") r_srv+=("$srv") r_logbad+=("$logbad") r_logcanc+=("$logcanc")
		r_rps+=("$(field rps "$line")")
		r_p50+=("$(field p50_us "$line")")
		r_p99+=("$(field p99_us "$line")")
		r_non2xx+=("$(field non2xx "$line")")
		r_sock+=($(($(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line"))))
		read -r wrk_user wrk_sys <"$tmp/time"
		# Server CPU microseconds per request, and the cores that everything
		# else (not the server, not wrk) kept busy during the run.
		r_cpu+=("$(awk -v d="$((s1 - s0))" -v c="$clk_tck" -v n="$(field requests "$line")" \
			'BEGIN { if (n > 0) printf "%.0f", d / c * 1e6 / n; else print "-" }')")
		r_other+=("$(awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" -v c="$clk_tck" -v u="$wrk_user" -v y="$wrk_sys" \
			-v t0="$t0" -v t1="$t1" 'BEGIN { o = (b - s) / c - u - y; if (o < 0) o = 0; printf "%.2f", o / (t1 - t0) }')")
		echo "    server CPU ${r_cpu[-1]} us/req, wrk CPU $(awk -v u="$wrk_user" -v y="$wrk_sys" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (u + y) / (t1 - t0) }') cores, other load ${r_other[-1]} cores"
	done
done

# --- login flood -------------------------------------------------------------
# 64 connections of wrong-password logins for random unknown usernames (each
# costs a full argon2id verification; no per-account throttle applies),
# while GET /protected runs with the usual connections. Its p99 is compared
# with the idle run above (target: within 3x).

idle_p99=
for k in "${!r_scen[@]}"; do
	if [[ ${r_scen[$k]} == "GET /protected" && ${r_srv[$k]} == fortapi ]]; then idle_p99=${r_p99[$k]}; fi
done
echo "[flood] GET /protected on fortapi during a login flood (64 connections of POST /token) ..."
wait_quiet
flood_start=$(wc -l <"$flog")
LUA_PATH="$here/lua/?.lua;;" timeout --kill-after=5 "$((wrk_limit + 6))" \
	wrk --threads 1 --connections 64 --duration "$((dur_s + 4))s" --timeout 10s \
	--script "$here/lua/login_flood.lua" "$fortapi_url/token" >"$tmp/flood.txt" 2>&1 &
flood_pid=$!
pids+=("$flood_pid")
sleep 2 # let the flood fill the hasher's queue
BENCH_TOKEN=$fortapi_token LUA_PATH="$here/lua/?.lua;;" timeout --kill-after=5 "$wrk_limit" \
	wrk --threads "$THREADS" --connections "$CONNECTIONS" --duration "$DURATION" --timeout 10s \
	--script "$here/lua/protected.lua" "$fortapi_url/protected" >"$tmp/under.txt" 2>&1 ||
	die "wrk failed on GET /protected under the flood: $(cat "$tmp/under.txt")"
wait "$flood_pid" || die "the flood's wrk failed: $(cat "$tmp/flood.txt")"
sed 's/^/    /' "$tmp/under.txt"
under=$(grep '^wrk-result ' "$tmp/under.txt") || die "no wrk-result for GET /protected under the flood"
floodr=$(grep '^wrk-result ' "$tmp/flood.txt") || die "no wrk-result for the flood"
sleep 0.5
read -r f400 f429 f503 fother < <(tail -n +"$((flood_start + 1))" "$flog" | awk '
	/"msg":"request"/ && /"path":"\/token"/ {
		if (/"status":400,/) a++; else if (/"status":429,/) b++; else if (/"status":503,/) c++; else d++ }
	END { print a + 0, b + 0, c + 0, d + 0 }')
under_p99=$(field p99_us "$under")
under_bad=$(($(field non2xx "$under") + $(field connect "$under") + $(field read "$under") + $(field write "$under") + $(field timeout "$under")))

# --- report ----------------------------------------------------------------

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

echo
echo "== results: $DURATION per run, $CONNECTIONS connections, $THREADS wrk threads, HTTPS (HTTP/1.1 keep-alive), 127.0.0.1"
echo
echo "| scenario | server | req/s | p50 ms | p99 ms | non-2xx | socket errors | server CPU µs/req | other load (cores) | fortapi/baseline req/s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
bad=0 noisy=0 cutoff=0
for k in "${!r_scen[@]}"; do
	ratio=""
	if [[ ${r_srv[$k]} == fortapi ]]; then
		# The baseline run of the same scenario is the next entry.
		ratio=$(awk -v f="${r_rps[$k]}" -v b="${r_rps[$((k + 1))]}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * f / b }')
	fi
	non2xx=${r_non2xx[$k]}
	if [[ ${r_logbad[$k]} != - ]]; then
		non2xx="$non2xx (log: ${r_logbad[$k]})"
	fi
	if ((r_logcanc[k] > 0)); then
		non2xx="$non2xx, ${r_logcanc[$k]} cut off at stop"
		cutoff=1
	fi
	flag=""
	if ((r_non2xx[k] > 0 || r_sock[k] > 0 || r_logcanc[k] > CONNECTIONS)) ||
		[[ ${r_logbad[$k]} != - && ${r_logbad[$k]} != 0 ]]; then
		flag=" **!!**"
		bad=1
	fi
	other=${r_other[$k]}
	if awk -v o="$other" 'BEGIN { exit !(o > 0.2) }'; then
		other="~$other"
		noisy=1
	fi
	printf '| %s | %s%s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n' \
		"${r_scen[$k]}" "${r_srv[$k]}" "$flag" "${r_rps[$k]}" "$(ms "${r_p50[$k]}")" "$(ms "${r_p99[$k]}")" \
		"$non2xx" "${r_sock[$k]}" "${r_cpu[$k]}" "$other" "$ratio"
done
echo

echo "== login flood: POST /token at $(printf '%.0f' "$(field rps "$floodr")") req/s (fortapi log: $f400 answered 400 invalid_grant, $f503 answered 503 hasher busy, $f429 answered 429, $fother other)"
echo
echo "| GET /protected on fortapi | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|"
printf '| idle (above) | | | %s | |\n' "$(ms "$idle_p99")"
printf '| during the login flood | %.0f | %s | %s | %s |\n' "$(field rps "$under")" "$(ms "$(field p50_us "$under")")" "$(ms "$under_p99")" "$under_bad"
echo
echo "p99 during the flood / idle p99: $(awk -v a="$under_p99" -v b="$idle_p99" 'BEGIN { if (b > 0) printf "%.2fx", a / b }') (target: at most 3x)"
if ((under_bad > 0)); then
	bad=1
fi
echo

if ((cutoff)); then
	echo "NOTE: \"cut off at stop\": requests in flight when wrk closed its connections, which fortapi logged as 499 (client closed request); no client received them."
fi
if ((noisy)); then
	echo "NOTE: rows with other load marked ~ ran while other processes used over 0.2 cores: their req/s and latency are noisy."
fi
warns=$(grep -c '"level":"\(WARN\|ERROR\)"' "$flog" || true)
echo "fortapi log: $(wc -l <"$flog") lines, $(du -h "$flog" | cut -f1), $warns at WARN/ERROR (start-up warnings included)"

if ((bad)); then
	echo >&2
	echo "FAIL: a server answered non-2xx or wrk saw socket errors (rows marked !!); these numbers are not valid." >&2
	echo "fortapi access log, non-2xx statuses (count status):" >&2
	{ grep '"msg":"request"' "$flog" | grep -v '"status":2[0-9][0-9],' | grep -o '"status":[0-9]*' || true; } |
		sort | uniq -c >&2
	echo "fortapi log lines with a non-2xx status or at ERROR level (first 10):" >&2
	{ grep '"msg":"request"' "$flog" | grep -v '"status":2[0-9][0-9],' || true; grep '"level":"ERROR"' "$flog" || true; } |
		head -n 10 >&2
	exit 1
fi
echo "OK: every response counted was 2xx on both servers."
