#!/usr/bin/env bash
# tests/soak_exporter.sh [BUILD_DIR] [N] - mtaprobe --listen over many probes
# (N, default 20000, through curl --parallel, 32 at a time) against the
# scripted server, to show that a long-running exporter does not grow: its
# resident memory, descriptors and threads after a warm-up, after N probes
# on kept-alive connections and N/2 on a new connection each, and after N
# more; then sequential probes for the latency (median, 90th and 99th
# percentile, as curl saw them).  Three kinds of probe: "smtp" (port and
# banner, ok.scn), "all" (the five checks, ok.scn: no STARTTLS, no relay)
# and "tls" (starttls and cert against a STARTTLS server, the shared TLS
# context).  The release build by default.  Loopback only, ports
# 29010-29014.  Prints TAP lines and the numbers as comments.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build "$@"
N=${2:-20000}
MP=$B/mtaprobe
EXP=29010 OK=29011 TLS=29012
X=""
cleanup() {
	[ -n "$X" ] && kill -TERM "$X" 2>/dev/null && wait "$X" 2>/dev/null
	t_exit
}
t_traps cleanup
t_ports_free "soak" $EXP $OK $TLS
t_pki "soak: test PKI"
t_sim ok $OK
"$SIM" -s tests/scenarios/tls_starttls.scn -C "$PKI" -l 127.0.0.1:$TLS >/dev/null 2>>"$T_TMP/smtpsim.err" &
T_PIDS+=($!)
t_wait_port 127.0.0.1 $TLS
cat >"$T_TMP/soak.yaml" <<YAML
defaults: {timeout: 5, ehlo: monitor.example.test, ca_file: $PKI/root.crt}
modules:
  smtp: {checks: [port, banner]}
  all: {}
  tls: {checks: [starttls, cert], port: $TLS}
YAML
"$MP" --listen 127.0.0.1:$EXP -c "$T_TMP/soak.yaml" 2>"$T_TMP/x.err" &
X=$!
t_wait_port 127.0.0.1 $EXP

# probes COUNT [CURL ARGS...]: COUNT probes, a third of each module, 32 at
# once; "CODE COUNT" lines into $T_TMP/codes
probes() {
	local n=$1 i m
	local -a mods=("smtp&target=127.0.0.1:$OK" "all&target=127.0.0.1:$OK" "tls&target=127.0.0.1")
	shift
	for ((i = 0; i < n; i++)); do
		m=${mods[i % 3]}
		printf 'url = "http://127.0.0.1:%d/probe?module=%s"\noutput = "/dev/null"\n' $EXP "$m"
	done >"$T_TMP/curl.cfg"
	curl -s --no-progress-meter -Z --parallel-max 32 -K "$T_TMP/curl.cfg" -w '%{http_code}\n' "$@" | sort | uniq -c >"$T_TMP/codes"
}
# snap: "RSS_KB FDS THREADS" of the exporter
snap() {
	echo "$(awk '/^VmRSS/ { print $2 }' /proc/$X/status) $(find /proc/$X/fd -mindepth 1 | wc -l) $(awk '/^Threads/ { print $2 }' /proc/$X/status)"
}
all200() { [ "$(awk '$2 != 200 { bad += $1 } END { print bad + 0 }' "$T_TMP/codes")" = 0 ]; }

t0=$(date +%s%N)
probes 3000 && probes 1000 -H 'Connection: close'
t_assert "soak: warm-up, 4000 probes, every answer 200" all200
read -r rss0 fd0 th0 <<<"$(snap)"
echo "# after the warm-up: RSS ${rss0} kB, $fd0 descriptors, $th0 threads"
t1=$(date +%s%N)
probes "$N"
ok1=$(all200 && echo y)
probes $((N / 2)) -H 'Connection: close'
ok2=$(all200 && echo y)
ms=$(t_ms_since "$t1")
t_report "soak: $N probes kept-alive and $((N / 2)) on new connections, every answer 200 (${ms}ms, $((N * 3 / 2 * 1000 / ms)) probes/s)" \
	"$([ "$ok1$ok2" = yy ] || echo " not all 200:")" "$(cat "$T_TMP/codes")"
read -r rss1 fd1 th1 <<<"$(snap)"
echo "# after $((N * 3 / 2)) more: RSS ${rss1} kB, $fd1 descriptors, $th1 threads"
probes "$N"
read -r rss2 fd2 th2 <<<"$(snap)"
echo "# after $N more: RSS ${rss2} kB, $fd2 descriptors, $th2 threads"
total=$((4000 + N * 5 / 2))
t_report "soak: descriptors and threads back where they were ($fd0/$th0, $fd1/$th1, $fd2/$th2)" \
	"$([ "$fd0" = "$fd1" ] && [ "$fd1" = "$fd2" ] || echo " descriptors $fd0 -> $fd1 -> $fd2;")$([ "$th0" = "$th1" ] && [ "$th1" = "$th2" ] || echo " threads $th0 -> $th1 -> $th2;")" ""
# glibc's arenas and cached thread stacks settle during the warm-up; past
# it, what is left over is growth
t_report "soak: resident memory flat over the last $N probes (${rss1} -> ${rss2} kB; warm-up ${rss0} kB)" \
	"$([ $((rss2 - rss1)) -le 1024 ] || echo " grew $((rss2 - rss1)) kB;")" ""

# latency: sequential probes, one connection
for m in "smtp&target=127.0.0.1:$OK" "all&target=127.0.0.1:$OK" "tls&target=127.0.0.1"; do
	for ((i = 0; i < 300; i++)); do
		printf 'url = "http://127.0.0.1:%d/probe?module=%s"\noutput = "/dev/null"\n' $EXP "$m"
	done >"$T_TMP/curl.cfg"
	curl -s -K "$T_TMP/curl.cfg" -w '%{time_total}\n' | sort -n >"$T_TMP/lat"
	echo "# latency, module ${m%%&*}, 300 sequential probes: $(awk '{ v[NR] = $1 } END { printf "median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms", v[int(NR * 0.5)] * 1000, v[int(NR * 0.9)] * 1000, v[int(NR * 0.99)] * 1000, v[NR] * 1000 }' "$T_TMP/lat")"
done
curl -s "http://127.0.0.1:$EXP/metrics" | grep -E '^(mtaprobe_exporter_probes_total|process_cpu)' | sed 's/^/# /'
echo "# $total probes (+900 for the latency) in $(t_ms_since "$t0") ms"
kill -TERM "$X"
wait "$X"
rc=$?
X=""
t_report "soak: SIGTERM: exit 0" "$([ $rc = 0 ] || echo " exit $rc")" "$(cat "$T_TMP/x.err")"
