#!/usr/bin/env bash
# tests/integration_hashmod.sh [BUILD_DIR] - the exporter's scale-out
# (README, "Exporter mode"): two mtaprobe --listen exporters and one real
# Prometheus that spreads nine targets (eight scripted healthy servers, one
# silent) over them by a hashmod of the target, in both forms: the README's
# own snippet (one job, __tmp_shard picks the exporter's __address__; taken
# from README.md itself, only the modulus and the exporters' addresses put
# in) and one job per exporter that keeps its half (hashmod into __tmp_hash,
# action keep).  Through the Prometheus HTTP API: every target is probed by
# exactly one exporter, both get a share, the union is every target, the
# healthy ones probe_success 1, the silent one 0, up 1 for all, both forms
# agree on the split; each exporter's own mtaprobe_exporter_probes_total
# (scraped by Prometheus, and read from /metrics once the probe jobs are
# reloaded away) counts only the probes of its share.  Loopback only, ports
# 29100-29119.  Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
MP=$B/mtaprobe
EXPS=(29100 29101) PROM=29102                             # the exporters (shard 0, 1), Prometheus
OKS=(29110 29111 29112 29113 29114 29115 29116 29117) SILENT=29119 # the scripted servers
TARGETS=()
for p in "${OKS[@]}" $SILENT; do TARGETS+=("127.0.0.1:$p"); done
ALL=$(printf '%s\n' "${TARGETS[@]}" | sort)
XP=() PP="" # the exporters' and Prometheus' PIDs (T_PIDS: the scripted servers)
cleanup() {
	local p
	[ -z "$PP" ] || t_stop 5 "$PP"
	for p in "${XP[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${XP[@]}"; do wait "$p" 2>/dev/null; done
	echo "# hashmod: the whole script took $(t_ms_since "$T_START") ms"
	t_exit
}
t_traps cleanup
trap 'exec >/dev/null 2>&1; exit 141' PIPE # a reader gone (| head): still clean up

t_ports_free "hashmod" "${EXPS[@]}" $PROM "${OKS[@]}" $SILENT
[ -x "$MP" ] || { t_report "hashmod: $MP built" " missing (make check first)" ""; exit 0; }
for prog in curl jq prometheus promtool; do
	t_need $prog "$prog is not installed" "hashmod: Prometheus spreads the targets over two exporters"
done

# ---- the README's snippet, as written -------------------------------------------
# The relabel_configs block after "More targets than one exporter": the
# indented lines up to the first unindented one.
awk '/^More targets than one exporter/ { on = 1; next }
	on && /^[^ \t]/ && seen { exit }
	on && /^ +relabel_configs:/ { seen = 1 }
	seen && /^ / { print }' README.md >"$T_TMP/readme.relabel"
t_assert "hashmod: README.md has the hashmod snippet (relabel_configs with action: hashmod)" \
	grep -q 'action: hashmod' "$T_TMP/readme.relabel"
# job (the first snippet's, blackbox style) + README relabel_configs [+ sed]
readme_job() {
	local ind
	ind=$(head -1 "$T_TMP/readme.relabel" | sed -E 's/^( *).*/\1/')
	printf '  - job_name: mta\n    metrics_path: /probe\n    params:\n      module: [smtp]\n'
	printf '    static_configs:\n      - targets: [%s]\n' "$(printf "'%s', " "${TARGETS[@]}" | sed 's/, $//')"
	# re-indented to 4 spaces (a job's keys)
	sed -E "s/^$ind/    /" "$T_TMP/readme.relabel" | sed -E "$@"
}
{
	echo "scrape_configs:"
	readme_job -e ''
} >"$T_TMP/readme.yml"
out=$(promtool check config "$T_TMP/readme.yml" 2>&1)
t_report "hashmod: promtool check config: the README's hashmod job is valid" \
	"$([ $? = 0 ] || echo " promtool said:")" "$out"$'\n'"$(cat "$T_TMP/readme.yml")"

# ---- the scripted servers and two exporters ----------------------------------------
l=()
for p in "${OKS[@]}"; do l+=(-l "127.0.0.1:$p"); done
t_sim ok "${OKS[0]}" "${l[@]:2}"
for p in "${OKS[@]}"; do t_wait_port 127.0.0.1 "$p"; done
t_sim silent $SILENT

cat >"$T_TMP/exporter.yaml" <<YAML
defaults:
  timeout: 5
  ehlo: monitor.example.test
modules:
  smtp:
    checks: [port, banner]
  smtp_keep:
    checks: [port, banner]
YAML
for i in 0 1; do
	"$MP" --listen "127.0.0.1:${EXPS[$i]}" -c "$T_TMP/exporter.yaml" 2>"$T_TMP/x$i.err" &
	XP+=($!)
done
up=""
for i in 0 1; do t_wait_port 127.0.0.1 "${EXPS[$i]}" && kill -0 "${XP[$i]}" && up+=" $i"; done
t_assert "hashmod: both exporters listen (127.0.0.1:${EXPS[0]}, :${EXPS[1]})" [ "$up" = " 0 1" ]

# ---- Prometheus ---------------------------------------------------------------------
# keep_job N: the job of exporter N, hashmod into __tmp_hash, keep N
keep_job() {
	cat <<YAML
  - job_name: mta_$1
    metrics_path: /probe
    params:
      module: [smtp_keep]
    static_configs:
      - targets: [$(printf "'%s', " "${TARGETS[@]}" | sed 's/, $//')]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - source_labels: [__param_target]
        modulus: 2
        target_label: __tmp_hash
        action: hashmod
      - source_labels: [__tmp_hash]
        regex: '$1'
        action: keep
      - target_label: __address__
        replacement: 127.0.0.1:${EXPS[$1]}
YAML
}
exporter_job() {
	cat <<YAML
  - job_name: mtaprobe_exporter
    static_configs:
      - targets: ['127.0.0.1:${EXPS[0]}', '127.0.0.1:${EXPS[1]}']
YAML
}
# The README's job with modulus 2 and its replacement
# mtaprobe-$1.example.org:9125 made 127.0.0.1:2910$1: shard N is exporter N
# (the two ports differ in the last digit only).
readme_job -e 's/modulus: 3/modulus: 2/' \
	-e "s/replacement: mtaprobe-\\\$1\\.example\\.org:9125/replacement: 127.0.0.1:${EXPS[0]%0}\$1/" >"$T_TMP/readme_live.yml"
t_report "hashmod: the README's job, modulus 2, shard \$1 to 127.0.0.1:${EXPS[0]%0}\$1" \
	"$(grep -q 'modulus: 2$' "$T_TMP/readme_live.yml" && grep -qF "replacement: 127.0.0.1:${EXPS[0]%0}\$1" "$T_TMP/readme_live.yml" ||
		echo " the README's modulus or replacement was not found:")" "$(cat "$T_TMP/readme_live.yml")"
{
	printf 'global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n'
	cat "$T_TMP/readme_live.yml"
	keep_job 0
	keep_job 1
	exporter_job
} >"$T_TMP/prometheus.yml"
out=$(promtool check config "$T_TMP/prometheus.yml" 2>&1)
t_report "hashmod: promtool check config: the test's Prometheus config is valid" \
	"$([ $? = 0 ] || echo " promtool said:")" "$out"

prometheus --config.file="$T_TMP/prometheus.yml" --storage.tsdb.path="$T_TMP/tsdb" \
	--web.listen-address=127.0.0.1:$PROM >"$T_TMP/prometheus.log" 2>&1 &
PP=$!
API=http://127.0.0.1:$PROM/api/v1
ready=""
if t_wait_port 127.0.0.1 $PROM; then
	for _ in $(seq 40); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROM/-/ready")" = 200 ] && ready=1 && break
		sleep 0.25
	done
fi
t_report "hashmod: Prometheus ready on 127.0.0.1:$PROM" "$([ -n "$ready" ] || echo " not ready:")" "$(tail -n 5 "$T_TMP/prometheus.log")"
[ -n "$ready" ] || exit 0

q() { curl -s --data-urlencode "query=$1" "$API/query"; }
# vals QUERY LABEL...: "LABEL... value" a series, sorted
vals() {
	local query=$1 f="" l
	shift
	for l in "$@"; do f+="\(.metric.$l) "; done
	q "$query" | jq -r ".data.result[] | \"$f\(.value[1])\"" 2>/dev/null | sort
}
num() { q "$1" | jq -r '.data.result[0].value[1] // "none"' 2>/dev/null; } # num QUERY: a scalar-ish value
# the scrape URL of each active target: "job instance url"
targets() {
	curl -s "$API/targets?state=active" |
		jq -r '.data.activeTargets[] | "\(.labels.job) \(.labels.instance) \(.scrapeUrl)"' 2>/dev/null | sort
}

# settle WANT QUERY LABEL...: vals until they are WANT (a scrape that a
# loaded machine made fail is done again 2 s later), at most 6 s; in GOT
settle() {
	local want=$1
	shift
	for _ in $(seq 24); do
		GOT=$(vals "$@")
		[ "$GOT" = "$want" ] && return 0
		sleep 0.25
	done
}
HEALTH=$(for t in "${TARGETS[@]}"; do echo "$t $([ "$t" = "127.0.0.1:$SILENT" ] && echo 0 || echo 1)"; done | sort)
UP1=$(sed 's/$/ 1/' <<<"$ALL")

# Converged: 9 targets up in each form, both exporters' /metrics up, and
# those scraped after each exporter counted probes of both modules.
conv='count(up{job=~"mta|mta_0|mta_1"} == 1) == 18 and on() count(up{job="mtaprobe_exporter"} == 1) == 2
	and on() count(sum by (instance, module) (mtaprobe_exporter_probes_total{job="mtaprobe_exporter"}) > 2) == 4'
t0=$(date +%s%N)
for _ in $(seq 80); do
	[ "$(num "$conv")" != none ] && break
	sleep 0.25
done
ms=$(t_ms_since "$t0")
t_report "hashmod: Prometheus scrapes all 9 targets in both forms, and both exporters (${ms}ms)" \
	"$([ "$(num "$conv")" != none ] || echo " not after ${ms}ms; up:")" \
	"$(vals 'up' job instance)"$'\n'"$(tail -n 3 "$T_TMP/prometheus.log")"
sleep 2 # a few more scrapes each

# ---- one job per exporter, keep ------------------------------------------------------
got=$(vals 'count by (instance) (probe_success{job=~"mta_0|mta_1"})' instance)
t_report "hashmod: keep: every target has exactly one probe_success series over mta_0 and mta_1" \
	"$([ "$got" = "$UP1" ] || echo " count by instance:")" "$got"
share() { vals "probe_success{job=\"mta_$1\"}" instance | cut -d' ' -f1; } # share N: exporter N's targets
S0=$(share 0) S1=$(share 1)
n0=$(grep -c . <<<"$S0") n1=$(grep -c . <<<"$S1")
echo "# hashmod: exporter 0 (${EXPS[0]}): $(tr '\n' ' ' <<<"$S0")"
echo "# hashmod: exporter 1 (${EXPS[1]}): $(tr '\n' ' ' <<<"$S1")"
t_assert "hashmod: keep: both exporters get a share ($n0 and $n1 targets)" [ "$n0" -gt 0 -a "$n1" -gt 0 ]
t_report "hashmod: keep: the shares are disjoint and their union is all 9 targets" \
	"$([ "$(sort <<<"$S0"$'\n'"$S1")" = "$ALL" ] || echo " union:")" "$S0"$'\n--\n'"$S1"
settle "$HEALTH" 'probe_success{job=~"mta_0|mta_1"}' instance
t_report "hashmod: keep: probe_success 1 for the 8 healthy targets, 0 for the silent one" \
	"$([ "$GOT" = "$HEALTH" ] || echo " got:")" "$GOT"
settle "$UP1" 'up{job=~"mta_0|mta_1"}' instance
t_report "hashmod: keep: up 1 for all 9 (the silent one answered within the 2 s scrape timeout)" \
	"$([ "$GOT" = "$UP1" ] || echo " got:")" "$GOT"
T=$(targets)
p=""
for i in 0 1; do
	while read -r job inst url; do
		[[ $url == "http://127.0.0.1:${EXPS[$i]}/probe?"*"target=${inst/:/%3A}" ]] || p+=" $job $inst scraped at $url;"
	done < <(grep "^mta_$i " <<<"$T")
done
t_report "hashmod: keep: job mta_N scrapes exporter N only, /probe?target=its instance" "$p" "$T"
dropped=$(curl -s "$API/targets?state=dropped" | jq -r '.data.droppedTargets[].discoveredLabels | "\(.job) \(.__address__)"' 2>/dev/null | sort)
want=$( (sed 's/^/mta_0 /' <<<"$S1"; sed 's/^/mta_1 /' <<<"$S0") | sort)
t_report "hashmod: keep: each job dropped exactly the other exporter's share" \
	"$([ "$dropped" = "$want" ] || echo " dropped:")" "$dropped"

# ---- the README's form: one job, the shard picks __address__ -----------------------
got=$(vals 'count by (instance) (probe_success{job="mta"})' instance)
t_report "hashmod: README: job mta has one probe_success series a target, all 9 targets" \
	"$([ "$got" = "$UP1" ] || echo " count by instance:")" "$got"
settle "$HEALTH" 'probe_success{job="mta"}' instance
t_report "hashmod: README: probe_success 1 for the healthy targets, 0 for the silent one" \
	"$([ "$GOT" = "$HEALTH" ] || echo " got:")" "$GOT"
settle "$UP1" 'up{job="mta"}' instance
t_report "hashmod: README: up 1 for all 9" "$([ "$GOT" = "$UP1" ] || echo " got:")" "$GOT"
R0=$(awk -v u="http://127.0.0.1:${EXPS[0]}/probe?" '$1 == "mta" && index($3, u) == 1 { print $2 }' <<<"$T" | sort)
R1=$(awk -v u="http://127.0.0.1:${EXPS[1]}/probe?" '$1 == "mta" && index($3, u) == 1 { print $2 }' <<<"$T" | sort)
t_report "hashmod: README: shard 0 goes to exporter 0, shard 1 to exporter 1, the same split as keep" \
	"$([ "$R0" = "$S0" ] && [ "$R1" = "$S1" ] || echo " README split differs:")" \
	"$(grep '^mta ' <<<"$T")"

# ---- each exporter's own counters, through Prometheus (instance = the exporter) ------
silent_on=0
grep -qx "127.0.0.1:$SILENT" <<<"$S1" && silent_on=1
pc() { # pc N MODULE RESULT: exporter N's counter as Prometheus scraped it
	num "mtaprobe_exporter_probes_total{job=\"mtaprobe_exporter\",instance=\"127.0.0.1:${EXPS[$1]}\",module=\"$2\",result=\"$3\"}"
}
p=""
for m in smtp smtp_keep; do
	for i in 0 1; do
		s=$(pc $i $m success) f=$(pc $i $m failure) o=$(pc $i $m overloaded)
		echo "# hashmod: Prometheus: exporter $i $m: success $s, failure $f, overloaded $o"
		awk -v s="$s" 'BEGIN { exit !(s > 0) }' || p+=" exporter $i $m: success $s;"
		[ "$o" = 0 ] || p+=" exporter $i $m: overloaded $o;"
		[ $i != $silent_on ] || awk -v f="$f" 'BEGIN { exit !(f > 0) }' || p+=" exporter $i (has the silent target) $m: failure $f;"
	done
done
t_report "hashmod: Prometheus (instance = the exporter): both count successes, exporter $silent_on (the silent target's) failures, none overloaded" "$p" \
	"$(vals 'mtaprobe_exporter_probes_total' instance module result)"

# ---- stop the probe jobs; then each exporter's /metrics against the scrapes ----------------
{
	printf 'global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n'
	exporter_job
} >"$T_TMP/prometheus.yml"
kill -HUP "$PP"
reloaded=""
for _ in $(seq 40); do
	[ "$(grep -c 'Completed loading of configuration file' "$T_TMP/prometheus.log")" -ge 2 ] &&
		! targets | grep -qE '^mta(_[01])? ' && reloaded=1 && break
	sleep 0.25
done
t_report "hashmod: Prometheus reloaded without the probe jobs (SIGHUP)" "$([ -n "$reloaded" ] || echo " still:")" \
	"$(targets)"$'\n'"$(tail -n 3 "$T_TMP/prometheus.log")"
# the probes Prometheus gave up on end within their 1.5 s budget
mcurl() { curl -s "http://127.0.0.1:${EXPS[$1]}/metrics"; }
metric() { awk -v s="$2" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }' <<<"$1"; } # metric TEXT SERIES: its value, 0 if absent
for _ in $(seq 40); do
	[ "$(metric "$(mcurl 0)" mtaprobe_exporter_probes_in_flight)$(metric "$(mcurl 1)" mtaprobe_exporter_probes_in_flight)" = 00 ] && break
	sleep 0.1
done
# instance regex of a share
re() { paste -sd'|' <<<"$1" | sed 's/\./\\\\./g'; }
# Exporter N's counters against what Prometheus recorded of its share: the
# scrapes (up samples), their successes and failures (probe_success 1 and
# 0).  The slack: a probe the reload cut short (one a target at most) and a
# scrape that timed out (up 0, no probe_success) are counted by the
# exporter only.
sumq() { local v; v=$(num "$1"); echo "${v/none/0}"; }
p="" notes=""
for i in 0 1; do
	M=$(mcurl $i)
	[ $i = 0 ] && share=$S0 n=$n0 || share=$S1 n=$n1
	for m in smtp smtp_keep; do
		s=$(metric "$M" "mtaprobe_exporter_probes_total{module=\"$m\",result=\"success\"}")
		f=$(metric "$M" "mtaprobe_exporter_probes_total{module=\"$m\",result=\"failure\"}")
		o=$(metric "$M" "mtaprobe_exporter_probes_total{module=\"$m\",result=\"overloaded\"}")
		[ $m = smtp ] && sel="job=\"mta\",instance=~\"$(re "$share")\"" || sel="job=\"mta_$i\""
		ps=$(sumq "sum(count_over_time(up{$sel}[10m]))")
		pdown=$(sumq "sum(count_over_time(up{$sel}[10m])) - sum(sum_over_time(up{$sel}[10m]))")
		pok=$(sumq "sum(sum_over_time(probe_success{$sel}[10m]))")
		pfail=$(sumq "sum(count_over_time(probe_success{$sel}[10m])) - sum(sum_over_time(probe_success{$sel}[10m]))")
		notes+=" $i/$m: exporter $s ok, $f failed, $o overloaded; Prometheus $ps scrapes ($pdown down), $pok ok, $pfail failed;"
		awk -v es="$s" -v ef="$f" -v eo="$o" -v ps="$ps" -v pd="$pdown" -v pok="$pok" -v pf="$pfail" -v n="$n" '
			function near(a, b, d) { return a - b <= d && b - a <= d }
			BEGIN { exit !(ps > 0 && near(es + ef + eo, ps, n) && near(es, pok, n + pd) && near(ef, pf, n + pd)) }' ||
			p+=" exporter $i $m: $s ok + $f failed + $o overloaded, Prometheus scraped its $n targets $ps times ($pok ok, $pfail failed, $pdown down);"
	done
done
echo "# hashmod: probes (success+failure+overloaded) against scrapes:$notes"
t_report "hashmod: each exporter's /metrics counts the probes of its own share only (both modules)" "$p" "$notes"

# ---- the ends ---------------------------------------------------------------------------------
t_stop 5 "$PP"
t_assert "hashmod: Prometheus stopped (SIGTERM)" bash -c '! kill -0 "$1"' _ "$PP"
PP=""
for i in 0 1; do
	t0=$(date +%s%N)
	kill -TERM "${XP[$i]}" 2>/dev/null
	wait "${XP[$i]}"
	rc=$?
	ms=$(t_ms_since "$t0")
	t_report "hashmod: SIGTERM ends exporter $i: exit 0, within 2 s, stderr only its own lines (${ms}ms)" \
		"$([ "$rc" = 0 ] || echo " exit $rc;")$([ "$ms" -le 2000 ] || echo " took ${ms}ms;")$(grep -qv '^mtaprobe: ' "$T_TMP/x$i.err" && echo ' stderr:')" \
		"$(cat "$T_TMP/x$i.err")"
done
XP=()
