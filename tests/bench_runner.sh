#!/usr/bin/env bash
# tests/bench_runner.sh [BUILD_DIR] - mtaprobe at scale next to
# prometheus-blackbox-exporter, against the scripted server (smtpsim,
# tests/bench/starttls_mx.scn: tests/scenarios/tls_starttls.scn, TLS 1.3 with
# an EC P-256 chain by the test CA, that also refuses relaying).  For each
# N in BENCH_SIZES (default "1000 10000"; BENCH_QUICK=1: 1000 only), at J
# targets in flight (BENCH_JOBS, default 256), every timeout 10 s:
#   1. the runner, textfile mode, check starttls verified against the CA:
#      mtaprobe -q -j J -c CFG under /usr/bin/time (wall, user+sys, max RSS)
#   2. the same with all five checks (port, banner, starttls, cert, relay)
#   3. the exporter, mtaprobe --listen ... --max-probes J, sent N
#      /probe?module=starttls requests J at a time by curl --parallel
#      (Prometheus' X-Prometheus-Scrape-Timeout-Seconds: 10 on each); CPU
#      from /proc/PID/stat (utime+stime+cutime+cstime), peak RSS = VmHWM of
#      the exporter process (curl is not counted)
#   4. prometheus-blackbox-exporter, the same N requests at J with an
#      equivalent STARTTLS query_response module, measured the same way
#   5. ratios: CPU per probe and peak RSS, mtaprobe / blackbox
# and once, with the default concurrency (no -j):
#   6. 1000 targets of which 100 (every tenth) accept TCP and never greet
#      (tests/scenarios/silent.scn), check starttls, timeout 10: the wall time
#      and whether it is within 2 * timeout + 5 = 25 s.
# Targets are config entries with distinct names spread over 1000 listeners
# (127.0.0.1-4, ports 28100-28349, two smtpsim processes), target i on
# listener i mod 1000, so 10000 targets share each listener 10 ways and
# never crowd one accept queue.  Every server runs on this machine's CPUs
# too: wall times include the servers' work, CPU and RSS are the measured
# process's alone.  Loopback only; ports 28100-28349 (127.0.0.1-4),
# 28400-28409 (127.0.0.5), 19115 and 19125.  Run it in a private network
# namespace to keep clear of other tests:
#   unshare -n sh -c 'ip link set lo up && tests/bench_runner.sh build'
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
J=${BENCH_JOBS:-256}
if [[ ${BENCH_QUICK:-0} = 1 ]]; then SIZES=${BENCH_SIZES:-1000}; else SIZES=${BENCH_SIZES:-"1000 10000"}; fi
TIMEOUT=10
NADDR=4 NPORT=250 BASE=28100 # the STARTTLS listeners: 127.0.0.1-4 x 28100-28349
SBASE=28400 NSILENT_L=10     # the silent listeners: 127.0.0.5:28400-28409
XPORT=19125 BPORT=19115      # mtaprobe --listen, blackbox_exporter
NL=$((NADDR * NPORT))
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
t_start=$(date +%s)

if [[ ! -x $B/mtaprobe || ! -x $B/smtpsim ]]; then
	[[ $B = build ]] || { echo "bench: $B/mtaprobe or $B/smtpsim missing" >&2; exit 1; }
	make -j2 all >/dev/null
fi
[[ $J =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_JOBS '$J' is not a number" >&2; exit 1; }
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_SIZES: '$n' is not a number" >&2; exit 1; }; done
# sockets: J targets x up to 5 checks, the exporters' connections, 1000 listeners
NOFILE=65536
[[ $(ulimit -Hn) = unlimited ]] || (($(ulimit -Hn) >= NOFILE)) || ulimit -Hn $NOFILE 2>/dev/null || true
ulimit -Sn $NOFILE 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tests/deps.sh bench >/dev/null
tests/mkcerts.sh "$tmp/pki" >/dev/null

# start_sim NAME SCENARIO LISTEN...: smtpsim in the background, until "ready"
start_sim() {
	local name=$1 scn=$2 i
	shift 2
	local args=()
	for i in "$@"; do args+=(-l "$i"); done
	"$B/smtpsim" -s "$scn" -C "$tmp/pki" "${args[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	for i in $(seq 200); do
		grep -q '^ready$' "$tmp/$name.out" 2>/dev/null && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench: smtpsim $name did not start: $(head -3 "$tmp/$name.err")" >&2
	exit 1
}
# wait_port PORT: up to 10 s for something to listen on 127.0.0.1:PORT
wait_port() {
	local i
	for i in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
# stop PID: SIGTERM, wait, and forget it
stop() {
	local p keep=()
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in "${pids[@]}"; do [[ $p = "$1" ]] || keep+=("$p"); done
	pids=("${keep[@]}")
}

half=$((NADDR / 2))
l1=() l2=()
for a in $(seq 1 "$NADDR"); do
	for p in $(seq "$BASE" $((BASE + NPORT - 1))); do
		if ((a <= half)); then l1+=("127.0.0.$a:$p"); else l2+=("127.0.0.$a:$p"); fi
	done
done
start_sim tls1 tests/bench/starttls_mx.scn "${l1[@]}"
start_sim tls2 tests/bench/starttls_mx.scn "${l2[@]}"
sl=()
for p in $(seq "$SBASE" $((SBASE + NSILENT_L - 1))); do sl+=("127.0.0.5:$p"); done
start_sim silent tests/scenarios/silent.scn "${sl[@]}"

# the targets: "HOST PORT" a line, target i on listener i mod 1000
maxn=1000
for n in $SIZES; do ((n > maxn)) && maxn=$n; done
awk -v n="$maxn" -v nl=$NL -v np=$NPORT -v base=$BASE \
	'BEGIN { for (i = 0; i < n; i++) { l = i % nl; print "127.0.0." int(l / np) + 1, base + l % np } }' >"$tmp/targets"

DEFAULTS="timeout: $TIMEOUT, ehlo: prober.example.test, ca_file: $tmp/pki/root.crt, sni: mail.example.test"
# config FILE N CHECKS [SILENT]: a runner config of the first N targets;
# with SILENT, every tenth target is one of the silent listeners instead
config() {
	{
		echo "defaults: {$DEFAULTS, checks: [$3]}"
		echo "output: {format: prometheus, path: $1.prom}"
		echo "targets:"
		head -n "$2" "$tmp/targets" | awk -v silent="${4:-}" -v sb=$SBASE -v ns=$NSILENT_L '{
			if (silent != "" && NR % 10 == 0) { $1 = "127.0.0.5"; $2 = sb + (NR / 10) % ns }
			printf "  - {name: t%d, host: %s, port: %d}\n", NR - 1, $1, $2 }'
	} >"$1"
}
# ok_count PROMFILE CHECK: targets whose CHECK succeeded
ok_count() { grep -c "^mtaprobe_check_success{.*check=\"$2\".*} 1\$" "$1" || true; }

declare -A WALL CPU RSS NOTE
# run_runner KEY N CHECKS: runner textfile mode under /usr/bin/time
run_runner() {
	local key=$1 n=$2 checks=$3 cfg="$tmp/$1.$2.yaml" wall user sys rss rc=0 c
	config "$cfg" "$n" "$checks"
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$B/mtaprobe" -q -j "$J" -c "$cfg" >/dev/null 2>"$tmp/runner.err" || rc=$?
	read -r wall user sys rss < <(tail -n 1 "$tmp/time")
	WALL[$key.$n]=$wall CPU[$key.$n]=$(echo "$user + $sys" | bc) RSS[$key.$n]=$rss
	local s=""
	for c in ${checks//,/ }; do s+=" $c $(ok_count "$cfg.prom" "$c"),"; done
	NOTE[$key.$n]="OK of $n:${s%,}$( ((rc == 0)) || echo "; exit $rc: $(head -c 200 "$tmp/runner.err")")"
	rm -f "$cfg" "$cfg.prom"
}

# proc_cpu PID: user+sys clock ticks of PID and its waited-for children
proc_cpu() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }
proc_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# scrape KEY N PID PORT MODULE: N /probe requests at J in flight (curl
# --parallel, at most 300 each, so ceil(J/300) curls share the load) to the
# exporter PID on PORT; CPU and VmHWM of PID
scrape() {
	local key=$1 n=$2 pid=$3 xport=$4 module=$5 k per c0 c1 t0 t1 i
	k=$(((J + 299) / 300))
	rm -rf "$tmp/bodies" && mkdir "$tmp/bodies"
	head -n "$n" "$tmp/targets" | awk -v k="$k" -v d="$tmp" -v u="http://127.0.0.1:$xport/probe?module=$module&target=" \
		'{ f = d "/urls." ((NR - 1) % k); printf("url = \"%s%s:%s\"\noutput = \"%s/bodies/%d\"\n", u, $1, $2, d, NR - 1) > f }'
	per=$((J / k))
	c0=$(proc_cpu "$pid")
	t0=$(date +%s%N)
	local cp=()
	for i in $(seq 0 $((k - 1))); do
		curl -s --parallel --parallel-immediate --parallel-max $((i < J % k ? per + 1 : per)) \
			-H "X-Prometheus-Scrape-Timeout-Seconds: $TIMEOUT" -w '%{http_code}\n' \
			-K "$tmp/urls.$i" >"$tmp/codes.$i" 2>/dev/null &
		cp+=($!)
	done
	for i in "${cp[@]}"; do wait "$i" || true; done
	t1=$(date +%s%N)
	c1=$(proc_cpu "$pid")
	WALL[$key.$n]=$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)
	CPU[$key.$n]=$(echo "scale=2; ($c1 - $c0) / $HZ" | bc)
	RSS[$key.$n]=$(proc_hwm "$pid")
	local ok http
	ok=$(grep -lx 'probe_success 1' -r "$tmp/bodies" | wc -l)
	http=$(cat "$tmp"/codes.* | sort | uniq -c | awk '{ printf("%s%s x%s", (NR > 1 ? ", " : ""), $2, $1) }')
	NOTE[$key.$n]="probe_success 1: $ok of $n (HTTP $http)"
	rm -rf "$tmp/bodies" "$tmp"/urls.* "$tmp"/codes.*
}

# the exporter's config: one module, the starttls check
{
	echo "defaults: {$DEFAULTS}"
	echo "modules:"
	echo "  starttls: {checks: [starttls]}"
} >"$tmp/exporter.yaml"
# blackbox: the same conversation (greeting, EHLO, STARTTLS, handshake
# verified against the CA for mail.example.test, EHLO over TLS, QUIT)
cat >"$tmp/bbx.yml" <<YML
modules:
  smtp_starttls:
    prober: tcp
    timeout: ${TIMEOUT}s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220 "
        - send: "EHLO prober.example.test\r"
        - expect: "^250 STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO prober.example.test\r"
        - expect: "^250 STARTTLS"
        - send: "QUIT\r"
      tls_config:
        ca_file: $tmp/pki/root.crt
        server_name: mail.example.test
YML
BBX=$(command -v prometheus-blackbox-exporter || true)
BBXV=$([[ -n $BBX ]] && "$BBX" --version 2>&1 | awk 'NR == 1 { print $3 }' || true)

for n in $SIZES; do
	echo "# N=$n: runner, starttls" >&2
	run_runner starttls "$n" starttls
	echo "# N=$n: runner, all five checks" >&2
	run_runner all "$n" "port, banner, starttls, cert, relay"

	echo "# N=$n: exporter" >&2
	"$B/mtaprobe" --listen "127.0.0.1:$XPORT" -c "$tmp/exporter.yaml" --max-probes "$J" >/dev/null 2>"$tmp/exporter.err" &
	xpid=$!
	pids+=($xpid)
	wait_port $XPORT || { echo "bench: mtaprobe --listen did not start: $(head -3 "$tmp/exporter.err")" >&2; exit 1; }
	scrape exporter "$n" "$xpid" $XPORT starttls
	stop "$xpid"

	if [[ -n $BBX ]]; then
		echo "# N=$n: blackbox_exporter" >&2
		"$BBX" --config.file="$tmp/bbx.yml" --web.listen-address="127.0.0.1:$BPORT" >"$tmp/bbx.log" 2>&1 &
		bpid=$!
		pids+=($bpid)
		wait_port $BPORT || { echo "bench: blackbox_exporter did not start: $(tail -3 "$tmp/bbx.log")" >&2; exit 1; }
		scrape blackbox "$n" "$bpid" $BPORT smtp_starttls
		stop "$bpid"
	fi
done

echo "# 1000 targets, 100 silent, default concurrency" >&2
config "$tmp/silent.yaml" 1000 starttls silent
/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$B/mtaprobe" -q -c "$tmp/silent.yaml" >/dev/null 2>"$tmp/runner.err" || true
read -r s_wall s_user s_sys s_rss < <(tail -n 1 "$tmp/time")
s_ok=$(ok_count "$tmp/silent.yaml.prom" starttls)
s_to=$(grep -c '^mtaprobe_check_error_info{.*kind="timeout".*} 1$' "$tmp/silent.yaml.prom" || true)

# ---- the table ---------------------------------------------------------------
LW=50
cell() { # cell KEY N: "wall CPU CPU/probe RSS" or blanks
	local k=$1.$2
	if [[ -n ${WALL[$k]:-} ]]; then
		printf '%7.2fs %7.2fs %6.3fms %7.1fM' "${WALL[$k]}" "${CPU[$k]}" \
			"$(echo "scale=6; ${CPU[$k]} * 1000 / $2" | bc)" "$(echo "scale=1; ${RSS[$k]} / 1024" | bc)"
	else
		printf '%35s' "(not run)"
	fi
}
ratio() { # ratio A B: A/B with two decimals, or "-"
	if [[ -n ${1:-} && -n ${2:-} ]] && [[ $(echo "$2 > 0" | bc) = 1 ]]; then printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; else echo "-"; fi
}
row() { # row LABEL KEY
	local n
	printf "%-${LW}s" "$1"
	for n in $SIZES; do printf ' | %s' "$(cell "$2" "$n")"; done
	echo
}
notes() { # notes KEY: the success counts, one line per N
	local n
	for n in $SIZES; do [[ -n ${NOTE[$1.$n]:-} ]] && echo "      N=$n: ${NOTE[$1.$n]}"; done
	return 0
}
rrow() { # rrow LABEL A B: the ratios CPU/probe and RSS of A over B
	local n
	printf "%-${LW}s" "$1"
	for n in $SIZES; do
		printf ' | CPU/probe %6sx  peak RSS %6sx' "$(ratio "${CPU[$2.$n]:-}" "${CPU[$3.$n]:-}")" \
			"$(ratio "${RSS[$2.$n]:-}" "${RSS[$3.$n]:-}")"
	done
	echo
}

echo
echo "mtaprobe bench: N = ${SIZES// /, } targets, J = $J in flight, $NCPU CPUs, timeout ${TIMEOUT} s"
echo "targets: smtpsim tests/bench/starttls_mx.scn (STARTTLS, TLS 1.3, EC P-256 chain verified against the test CA,"
echo "         relaying refused), $NL listeners on 127.0.0.1-$NADDR, target i on listener i mod $NL; open files limit $(ulimit -n)"
printf "%-${LW}s" ""
for n in $SIZES; do printf ' | %-35s' "N=$n targets"; done
echo
printf "%-${LW}s" ""
for n in $SIZES; do printf ' | %8s %8s %8s %8s' wall CPU CPU/probe "peak RSS"; done
echo
sep=$(printf "%-${LW}s" "" | tr ' ' -)
for n in $SIZES; do sep+="-+-$(printf "%35s" "" | tr " " -)"; done
echo "$sep"
row "1. mtaprobe -j $J, starttls (textfile)" starttls
notes starttls
row "2. mtaprobe -j $J, all five checks (textfile)" all
notes all
row "3. mtaprobe --listen --max-probes $J, /probe" exporter
notes exporter
if [[ -n $BBX ]]; then
	row "4. blackbox_exporter $BBXV, smtp_starttls /probe" blackbox
	notes blackbox
else
	echo "4. blackbox_exporter: not installed (tests/deps.sh bench installs prometheus-blackbox-exporter)"
fi
echo "$sep"
rrow "5. mtaprobe --listen / blackbox_exporter" exporter blackbox
rrow "   mtaprobe -j $J starttls / blackbox_exporter" starttls blackbox
echo "$sep"
echo "(3, 4: $J concurrent curl requests, X-Prometheus-Scrape-Timeout-Seconds: $TIMEOUT; CPU = the exporter's"
echo " utime+stime from /proc/PID/stat, peak RSS its VmHWM; curl and the servers not counted; M = MiB)"
echo
within=$([[ $(echo "$s_wall <= 2 * $TIMEOUT + 5" | bc) = 1 ]] && echo "yes" || echo "NO")
printf '6. 1000 targets, 100 silent (every tenth), starttls, timeout %d, default concurrency:\n' $TIMEOUT
printf '   wall %.2f s, CPU %.2f s, peak RSS %.1f M; within 2*timeout+5 = %d s: %s\n' "$s_wall" \
	"$(echo "$s_user + $s_sys" | bc)" "$(echo "scale=1; $s_rss / 1024" | bc)" $((2 * TIMEOUT + 5)) "$within"
echo "   starttls OK: $s_ok of 900 responsive, timeouts: $s_to of 100 silent"
echo
echo "bench run time: $(($(date +%s) - t_start)) s"
