#!/usr/bin/env bash
# tests/integration_exporter.sh [BUILD_DIR] - mtaprobe --listen, the
# Prometheus multi-target exporter, against the scripted server: /-/healthy,
# /probe of a healthy and of a silent target (within the scrape timeout's
# budget), the 400s, /metrics counting, --max-probes 2 with five slow probes
# (the rest wait in line and still end within their budgets) and a 503 when
# no slot frees in time, a real Prometheus server scraping it with the
# blackbox relabelling (probe_success and up through its HTTP API), and
# SIGTERM ending it cleanly (exit 0, no sanitizer finding).  Loopback only,
# ports 29000-29009.  Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
MP=$B/mtaprobe
EXP=29000 EXP2=29004 PROM=29005 # the exporters, Prometheus
OK=29001 SILENT=29002 SLOW=29003 # the scripted servers
X1="" X2=""                      # the exporters' PIDs (T_PIDS: the rest)
cleanup() {
	local p
	for p in $X1 $X2; do kill -TERM "$p" 2>/dev/null; done
	for p in $X1 $X2; do wait "$p" 2>/dev/null; done
	t_exit
}
t_traps cleanup

t_ports_free "exporter" $EXP $OK $SILENT $SLOW $EXP2 $PROM
[ -x "$MP" ] || { t_report "exporter: $MP built" " missing (make check first)" ""; exit 0; }
t_need curl "curl is not installed" "exporter: curl"
t_sim ok $OK
t_sim silent $SILENT
t_sim delay $SLOW # the greeting after 1.5 s

cat >"$T_TMP/exporter.yaml" <<YAML
defaults:
  timeout: 5
  ehlo: monitor.example.test
modules:
  smtp:
    checks: [port, banner]
    labels: {site: lab}
  slow:
    checks: [banner]
    timeout: 10
YAML

# usage errors: exit 3 and why, before anything listens
usage() { # usage NAME REGEX ARGS...
	local name=$1 re=$2 out rc
	shift 2
	out=$("$MP" "$@" 2>&1)
	rc=$?
	t_report "exporter: $name: exit 3, '$re'" "$([ $rc = 3 ] || echo " exit $rc;")$(grep -q -- "$re" <<<"$out" || echo " no '$re';")" "$out"
}
usage "--listen takes an address, not a name" "is not IP:PORT" --listen localhost:$EXP -c "$T_TMP/exporter.yaml"
usage "--listen needs a port" "is not IP:PORT" --listen 127.0.0.1 -c "$T_TMP/exporter.yaml"
usage "--listen and -j" "are for one run, not --listen" --listen 127.0.0.1:$EXP -c "$T_TMP/exporter.yaml" -j 4
usage "--max-probes without --listen" "is for --listen" --max-probes 4 -c "$T_TMP/exporter.yaml"
usage "a config of modules alone is not for a run" "has no targets (its modules: are for --listen)" -c "$T_TMP/exporter.yaml"
usage "an address of another host" "cannot listen on 192.0.2.1:$EXP: " --listen 192.0.2.1:$EXP -c "$T_TMP/exporter.yaml"

# start_exporter PORT ERRFILE [ARGS...]: in the background, its PID in XPID
start_exporter() {
	local port=$1 err=$2
	shift 2
	"$MP" --listen "127.0.0.1:$port" -c "$T_TMP/exporter.yaml" "$@" 2>"$err" &
	XPID=$!
	t_wait_port 127.0.0.1 "$port"
}
start_exporter $EXP "$T_TMP/x1.err"
X1=$XPID
t_assert "exporter: listens on 127.0.0.1:$EXP" kill -0 "$X1"
U=http://127.0.0.1:$EXP

# get NAME URL [CURL ARGS...]: body into $T_TMP/NAME.body, "CODE SECONDS
# CONTENT-TYPE" into GET
get() {
	local name=$1 url=$2
	shift 2
	GET=$(curl -s -o "$T_TMP/$name.body" -w '%{http_code} %{time_total} %{content_type}' "$@" "$url")
}
# metric FILE SERIES: the value of SERIES (name and labels as written) in FILE
metric() { awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1"; }
export -f metric

get healthy "$U/-/healthy"
t_assert "exporter: /-/healthy is 200 OK" bash -c '[ "${1%% *}" = 200 ] && [ "$(cat "$2")" = OK ]' _ "$GET" "$T_TMP/healthy.body"
get metrics0 "$U/metrics"

# ---- a healthy target ------------------------------------------------------
get ok "$U/probe?target=127.0.0.1:$OK&module=smtp" -H 'X-Prometheus-Scrape-Timeout-Seconds: 5'
read -r code secs ctype <<<"$GET"
t_report "exporter: /probe of a healthy target: 200, text/plain; version=0.0.4 (${secs}s)" \
	"$([ "$code" = 200 ] || echo " HTTP $code;")$([[ $ctype == "text/plain; version=0.0.4"* ]] || echo " Content-Type '$ctype';")" \
	"$(cat "$T_TMP/ok.body")"
t_assert "exporter: healthy target: probe_success 1" grep -qx 'probe_success 1' "$T_TMP/ok.body"
t_assert "exporter: healthy target: probe_duration_seconds, and our series with target/check/.../site labels" \
	bash -c 'grep -qE "^probe_duration_seconds [0-9.]+$" "$1" &&
		grep -qxF "mtaprobe_check_state{target=\"127.0.0.1:$2\",check=\"banner\",host=\"127.0.0.1\",address=\"127.0.0.1\",port=\"$2\",site=\"lab\"} 0" "$1" &&
		grep -q "^mtaprobe_phase_duration_seconds{target=\"127.0.0.1:$2\",.*,phase=\"banner\"}" "$1"' _ "$T_TMP/ok.body" $OK
out=$(promtool check metrics <"$T_TMP/ok.body" 2>&1)
t_report "exporter: promtool check metrics: the /probe answer is clean" "$([ $? = 0 ] && [ -z "$out" ] || echo " promtool said:")" "$out"
t_assert "exporter: no run-level series in a probe (mtaprobe_run_*)" bash -c '! grep -q "^mtaprobe_run_" "$1"' _ "$T_TMP/ok.body"

# ---- a silent target: probe_success 0 within the header's budget -------------
get silent "$U/probe?target=127.0.0.1:$SILENT&module=smtp" -H 'X-Prometheus-Scrape-Timeout-Seconds: 2'
read -r code secs ctype <<<"$GET"
t_report "exporter: silent target: 200 within the 2 s scrape timeout (${secs}s)" \
	"$([ "$code" = 200 ] || echo " HTTP $code;")$(awk -v s="$secs" 'BEGIN { if (s < 1.4 || s > 1.9) print " took " s " s, wanted 1.5 (2 less the margin);" }')" \
	"$(cat "$T_TMP/silent.body")"
t_assert "exporter: silent target: probe_success 0, a greeting timeout, budget 1.5 s" \
	bash -c 'grep -qx "probe_success 0" "$1" && grep -q "^mtaprobe_check_error_info{.*check=\"banner\".*kind=\"timeout\",step=\"greeting\"} 1$" "$1" &&
		grep -qx "mtaprobe_probe_timeout_seconds 1.500000" "$1"' _ "$T_TMP/silent.body"

# ---- bad requests: 400 and one line --------------------------------------------
get badmod "$U/probe?target=127.0.0.1:$OK&module=nope"
t_assert "exporter: an unknown module is 400 'unknown module'" \
	bash -c '[ "${1%% *}" = 400 ] && [ "$(cat "$2")" = "unknown module '"'nope'"'" ]' _ "$GET" "$T_TMP/badmod.body"
get notarget "$U/probe?module=smtp"
t_assert "exporter: no target= is 400" bash -c '[ "${1%% *}" = 400 ] && grep -q "^no target=" "$2"' _ "$GET" "$T_TMP/notarget.body"
get badtarget "$U/probe?target=x%0d%0aSet-Cookie:%20a%1b%5b2J&module=smtp"
t_assert "exporter: a target with CR, LF and ESC is 400, one line, no control bytes" \
	bash -c '[ "${1%% *}" = 400 ] && [ "$(wc -l <"$2")" = 1 ] && ! LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d "\n" <"$2") && grep -q "not a host name\|must be a host name" "$2"' \
	_ "$GET" "$T_TMP/badtarget.body"
get badhdr "$U/probe?target=127.0.0.1:$OK&module=smtp" -H 'X-Prometheus-Scrape-Timeout-Seconds: soon'
t_assert "exporter: a bad timeout header is 400" bash -c '[ "${1%% *}" = 400 ]' _ "$GET"
get post "$U/probe?target=127.0.0.1:$OK" -X POST -d x=1
t_assert "exporter: POST is 405" bash -c '[ "${1%% *}" = 405 ]' _ "$GET"
get nope "$U/nope"
t_assert "exporter: an unknown path is 404" bash -c '[ "${1%% *}" = 404 ]' _ "$GET"

# ---- /metrics ----------------------------------------------------------------------
get metrics1 "$U/metrics"
s='mtaprobe_exporter_probes_total{module="smtp",result="success"}'
f='mtaprobe_exporter_probes_total{module="smtp",result="failure"}'
t_assert "exporter: /metrics: probes counted by module and result (1 success, 1 failure), 4 bad requests" \
	bash -c '[ "$(metric "$1" "$3")" = 0 ] && [ "$(metric "$2" "$3")" = 1 ] && [ "$(metric "$2" "$4")" = 1 ] &&
		[ "$(metric "$2" mtaprobe_exporter_bad_requests_total)" = 4 ] && [ "$(metric "$2" mtaprobe_exporter_probes_in_flight)" = 0 ]' \
	_ "$T_TMP/metrics0.body" "$T_TMP/metrics1.body" "$s" "$f"
t_assert "exporter: /metrics: process_start_time_seconds, open fds, resident memory" \
	bash -c 'metric "$1" process_start_time_seconds && metric "$1" process_open_fds && metric "$1" process_resident_memory_bytes' _ "$T_TMP/metrics1.body"
out=$(promtool check metrics <"$T_TMP/metrics1.body" 2>&1)
t_report "exporter: promtool check metrics: /metrics is clean" "$([ $? = 0 ] && [ -z "$out" ] || echo " promtool said:")" "$out"

# ---- --max-probes 2: five slow probes, three waves -------------------------------
start_exporter $EXP2 "$T_TMP/x2.err" --max-probes 2
X2=$XPID
U2=http://127.0.0.1:$EXP2
t0=$(date +%s%N)
kids=()
for i in 1 2 3 4 5; do
	# budget 6.5 s: each may wait 3.25 s; the fifth waits 3 s (two waves of 1.5 s)
	get "slow$i" "$U2/probe?target=127.0.0.1:$SLOW&module=slow" -H 'X-Prometheus-Scrape-Timeout-Seconds: 7' &
	kids+=($!)
done
sleep 0.7
get during "$U2/metrics"
for k in "${kids[@]}"; do wait "$k"; done
ms=$(t_ms_since "$t0")
p=""
for i in 1 2 3 4 5; do
	grep -qx 'probe_success 1' "$T_TMP/slow$i.body" || p+=" probe $i: no probe_success 1;"
done
[ "$ms" -ge 4300 ] && [ "$ms" -le 6500 ] || p+=" took ${ms}ms, wanted three waves of 1.5 s (4.5 s) within the 6.5 s budget;"
t_report "exporter: --max-probes 2, five probes of 1.5 s: all succeed, in three waves (${ms}ms)" "$p" "$(cat "$T_TMP/slow1.body" | grep -v '^#' | head -5)"
waits=$(awk '$1 == "mtaprobe_probe_wait_seconds" { print $2 }' "$T_TMP"/slow?.body | sort -n | tr '\n' ' ')
t_assert "exporter: the waits were 0, 0, 1.5, 1.5 and 3 s (in line, in turn): $waits" \
	awk -v w="$waits" 'BEGIN { n = split(w, v, " "); exit !(n == 5 && v[2] < 0.2 && v[3] > 1.4 && v[4] < 2 && v[5] > 2.9 && v[5] < 3.5) }'
t_assert "exporter: while they ran, /metrics said 2 in flight and 3 waiting" \
	bash -c '[ "$(metric "$1" mtaprobe_exporter_probes_in_flight)" = 2 ] && [ "$(metric "$1" mtaprobe_exporter_probes_waiting)" = 3 ]' _ "$T_TMP/during.body"

# two probes hold both slots for 3.5 s; a third with a 1 s scrape timeout
# (budget 0.5 s) waits 0.25 s at most, then 503
kids=()
for i in 1 2; do
	get "hold$i" "$U2/probe?target=127.0.0.1:$SILENT&module=slow" -H 'X-Prometheus-Scrape-Timeout-Seconds: 4' &
	kids+=($!)
done
sleep 0.3
get over "$U2/probe?target=127.0.0.1:$OK&module=smtp" -H 'X-Prometheus-Scrape-Timeout-Seconds: 1'
read -r code secs ctype <<<"$GET"
t_report "exporter: no slot within half the budget: 503 (${secs}s)" \
	"$([ "$code" = 503 ] || echo " HTTP $code;")$(awk -v s="$secs" 'BEGIN { if (s < 0.2 || s > 0.5) print " took " s " s, wanted 0.25;" }')" \
	"$(cat "$T_TMP/over.body")"
for k in "${kids[@]}"; do wait "$k"; done
get metrics2 "$U2/metrics"
t_assert "exporter: the 503 counted as result=\"overloaded\"" \
	bash -c '[ "$(metric "$1" "mtaprobe_exporter_probes_total{module=\"smtp\",result=\"overloaded\"}")" = 1 ] &&
		[ "$(metric "$1" "mtaprobe_exporter_probes_total{module=\"slow\",result=\"success\"}")" = 5 ] &&
		[ "$(metric "$1" "mtaprobe_exporter_probes_total{module=\"slow\",result=\"failure\"}")" = 2 ]' _ "$T_TMP/metrics2.body"

# ---- a real Prometheus, blackbox-style ----------------------------------------------
if ! command -v prometheus >/dev/null || ! command -v jq >/dev/null; then
	t_skip "exporter: Prometheus scrapes it" "prometheus or jq is not installed"
else
	cat >"$T_TMP/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: mta
    metrics_path: /probe
    params:
      module: [smtp]
    static_configs:
      - targets: ['127.0.0.1:$OK', '127.0.0.1:$SILENT']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:$EXP
  - job_name: mtaprobe_exporter
    static_configs:
      - targets: ['127.0.0.1:$EXP']
YAML
	prometheus --config.file="$T_TMP/prometheus.yml" --storage.tsdb.path="$T_TMP/tsdb" \
		--web.listen-address=127.0.0.1:$PROM >"$T_TMP/prometheus.log" 2>&1 &
	T_PIDS+=($!)
	t_wait_port 127.0.0.1 $PROM
	q() { curl -s --data-urlencode "query=$1" "http://127.0.0.1:$PROM/api/v1/query"; }
	# a value per series: "instance value" lines
	vals() { q "$1" | jq -r '.data.result[] | "\(.metric.instance) \(.value[1])"' 2>/dev/null | sort; }
	want="127.0.0.1:$OK 1
127.0.0.1:$SILENT 0"
	for _ in $(seq 60); do
		[ "$(vals 'probe_success{job="mta"}')" = "$want" ] && break
		sleep 0.25
	done
	got=$(vals 'probe_success{job="mta"}')
	t_report "exporter: Prometheus: probe_success 1 for the healthy, 0 for the silent target" \
		"$([ "$got" = "$want" ] || echo " got:")" "$got"$'\n'"$(tail -n 5 "$T_TMP/prometheus.log")"
	got=$(vals 'up{job="mta"}')
	t_report "exporter: Prometheus: up 1 for both (the silent one answered within the 1 s scrape timeout)" \
		"$([ "$got" = "127.0.0.1:$OK 1"$'\n'"127.0.0.1:$SILENT 1" ] || echo " got:")" "$got"
	got=$(vals 'mtaprobe_check_success{job="mta",check="banner"}')
	t_assert "exporter: Prometheus: our series under the instance label ($(tr '\n' ',' <<<"$got"))" \
		[ "$got" = "$want" ]
	for _ in $(seq 20); do
		[ "$(vals 'up{job="mtaprobe_exporter"}')" = "127.0.0.1:$EXP 1" ] && break
		sleep 0.25
	done
	t_assert "exporter: Prometheus: the exporter's /metrics scraped (up 1)" \
		[ "$(vals 'up{job="mtaprobe_exporter"}')" = "127.0.0.1:$EXP 1" ]
fi

# ---- SIGTERM -------------------------------------------------------------------------
# stop_exporter NAME PID ERRFILE: SIGTERM ends it within 2 s, exit 0 (a
# sanitizer finding would be 99), its stderr only its own lines
stop_exporter() {
	local t0 rc ms
	t0=$(date +%s%N)
	kill -TERM "$2"
	wait "$2"
	rc=$?
	ms=$(t_ms_since "$t0")
	t_report "exporter: SIGTERM ends $1: exit 0, within 2 s, stderr only its own lines (${ms}ms)" \
		"$([ "$rc" = 0 ] || echo " exit $rc;")$([ "$ms" -le 2000 ] || echo " took ${ms}ms;")$(grep -qv '^mtaprobe: ' "$3" && echo ' stderr:')" \
		"$(cat "$3")"
}
stop_exporter "the exporter" "$X1" "$T_TMP/x1.err"
X1=""
stop_exporter "the --max-probes 2 exporter" "$X2" "$T_TMP/x2.err"
X2=""
