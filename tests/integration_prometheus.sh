#!/usr/bin/env bash
# tests/integration_prometheus.sh [BUILD_DIR] - the Prometheus and systemd
# side of the runner: the alerting rules (promtool check rules, promtool
# test rules, every alert tested firing and quiet), the systemd units
# (systemd-analyze verify, the hardening keys, systemd-analyze security),
# and two runners writing two textfiles into one node_exporter directory
# the way mtaprobe.service does (a UID of the dynamic range with the
# prometheus group, into a directory made group-writable for it), scraped
# together by a real node_exporter without a duplicate series.  Loopback
# only, ports 27601-27602.  Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
MP=$B/mtaprobe
trap t_exit EXIT
RULES=conf/prometheus/mtaprobe.rules.yml
RTEST=tests/prometheus/mtaprobe.rules.test.yml
SIM_PORT=27601
NE_PORT=27602

# t_quiet NAME CMD... : exit 0 and nothing printed
t_quiet() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ -z "$out" ]; then t_report "$name" "" ""; else
		t_report "$name" " exit $rc, or it printed something" "$out"; fi
}

# ---- the alerting rules ------------------------------------------------
out=$(promtool check rules "$RULES" 2>&1)
rc=$?
p=""
[ $rc = 0 ] || p+=" exit $rc;"
grep -q "SUCCESS: [0-9]* rules found" <<<"$out" || p+=" no SUCCESS;"
! grep -qiE "warn|error|fail" <<<"$out" || p+=" warnings;"
t_report "prometheus: promtool check rules $RULES is clean" "$p" "$out"

out=$(promtool test rules "$RTEST" 2>&1)
rc=$?
p=""
[ $rc = 0 ] || p+=" exit $rc;"
grep -q "SUCCESS" <<<"$out" || p+=" no SUCCESS;"
t_report "prometheus: promtool test rules $RTEST passes" "$p" "$out"

# every alert has a for:, a severity label, a summary and a description
problems=$(awk '
	function done() { if (name != "" && (!f || !sev || !sum || !desc)) print name ": for " f ", severity " sev ", summary " sum ", description " desc }
	/^ *- alert: / { done(); name = $3; f = sev = sum = desc = 0 }
	/^ *for: [0-9]+[smh]$/ { f = 1 }
	/^ *severity: (warning|critical)$/ { sev = 1 }
	/^ *summary: / { sum = 1 }
	/^ *description: / { desc = 1 }
	END { done() }' "$RULES")
t_assert "prometheus: every alert has for:, severity, summary and description" [ -z "$problems" ]
[ -z "$problems" ] || printf '#   %s\n' "$problems"

# every alert is tested firing (exp_alerts: with entries) and quiet (exp_alerts: [])
untested=$(awk '
	FNR == NR && /^ *- alert: / { alerts[$3] = 1; next }
	FNR != NR && /^ *alertname: / { cur = $2 }
	FNR != NR && /^ *exp_alerts: \[\]$/ { quiet[cur] = 1 }
	FNR != NR && /^ *exp_alerts:$/ { fires[cur] = 1 }
	END { for (a in alerts) { if (!fires[a]) print a " never fires"; if (!quiet[a]) print a " never quiet" } }' \
	"$RULES" "$RTEST")
t_assert "prometheus: every alert is tested firing and not firing" [ -z "$untested" ]
[ -z "$untested" ] || printf '#   %s\n' "$untested"
nalerts=$(grep -c '^ *- alert: ' "$RULES")
t_assert "prometheus: the alerts asked for are there ($nalerts)" bash -c '
	for a in MtaprobeCheckFailing MtaprobeCertificateExpiringSoon MtaprobeCertificateExpiring \
		MtaprobeOpenRelay MtaprobeStarttlsNotOffered MtaprobeMtaStsPolicyInvalid \
		MtaprobeTextfileStale MtaprobeTextfileMissing; do
		grep -q "^ *- alert: $a$" "$1" || exit 1
	done
	grep -q "expr: time() - mtaprobe_run_timestamp_seconds > 180$" "$1" &&
	grep -q "expr: absent(mtaprobe_run_timestamp_seconds)$" "$1" &&
	grep -q "expr: mtaprobe_sts_policy_valid == 0$" "$1"' _ "$RULES"

# ---- the systemd units -------------------------------------------------
SVC=$B/systemd/mtaprobe.service
TMR=$B/systemd/mtaprobe.timer
if [ ! -s "$SVC" ] || [ ! -s "$TMR" ]; then
	make --no-print-directory BUILD="$B" "$SVC" "$TMR" >"$T_TMP/make.log" 2>&1
fi
t_assert "systemd: make built $SVC and $TMR, no @VARIABLE@ left" \
	bash -c '[ -s "$1" ] && [ -s "$2" ] && ! grep -q "@[A-Z]*@" "$1" "$2"' _ "$SVC" "$TMR"
if ! command -v systemd-analyze >/dev/null; then
	echo "ok $((T_N += 1)) - systemd: systemd-analyze # SKIP systemd-analyze is not installed"
else
	# verify wants ExecStart's binary to exist: the one just built stands
	# in for the installed one; the man page is installed by make install
	mkdir -p "$T_TMP/units"
	bindir=$(sed -n 's|^ExecStart=\(.*\)/mtaprobe .*|\1|p' "$SVC")
	sed "s|^ExecStart=$bindir/mtaprobe |ExecStart=$PWD/$MP |" "$SVC" >"$T_TMP/units/mtaprobe.service"
	cp "$TMR" "$T_TMP/units/mtaprobe.timer"
	t_quiet "systemd: systemd-analyze verify of the service and the timer is clean" \
		systemd-analyze verify --man=no "$T_TMP/units/mtaprobe.service" "$T_TMP/units/mtaprobe.timer"
	sec=$(systemd-analyze security --offline=yes --threshold=20 "$T_TMP/units/mtaprobe.service" 2>&1)
	rc=$?
	score=$(sed -n 's/.*Overall exposure level for mtaprobe.service: \([0-9.]*\).*/\1/p' <<<"$sec")
	t_report "systemd: systemd-analyze security --offline: exposure ${score:-?} (at most 2.0)" \
		"$([ $rc = 0 ] && [ -n "$score" ] || echo " exit $rc")" "$sec"
	grep '✗' <<<"$sec" | sed -E 's/  +/ /g; s/^/#   /'
fi
missing=""
for kv in Type=oneshot DynamicUser=yes SupplementaryGroups=prometheus \
	ReadWritePaths=/var/lib/prometheus/node-exporter ProtectSystem=strict ProtectHome=yes \
	PrivateTmp=yes PrivateDevices=yes NoNewPrivileges=yes PrivateUsers=yes \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" CapabilityBoundingSet= \
	SystemCallFilter=@system-service ProtectKernelTunables=yes ProtectKernelModules=yes \
	ProtectKernelLogs=yes ProtectControlGroups=yes RestrictNamespaces=yes LockPersonality=yes \
	MemoryDenyWriteExecute=yes RestrictRealtime=yes UMask=0022; do
	grep -qxF "$kv" "$SVC" || missing+=" $kv"
done
grep -qE '^TimeoutStartSec=[0-9]+(s|min)?$' "$SVC" || missing+=" TimeoutStartSec"
[ "$(grep -c '^ReadWritePaths=' "$SVC")" = 1 ] || missing+=" (one ReadWritePaths= only)"
grep -qE '^ExecStart=/.*/mtaprobe -c /.*/mtaprobe/mtaprobe\.yaml -o /var/lib/prometheus/node-exporter/mtaprobe\.prom$' "$SVC" ||
	missing+=" ExecStart"
t_report "systemd: the service has the hardening keys" "${missing:+ missing:$missing}" ""
missing=""
for kv in OnUnitActiveSec=1min AccuracySec=1s WantedBy=timers.target; do
	grep -qxF "$kv" "$TMR" || missing+=" $kv"
done
grep -qE '^OnBootSec=' "$TMR" || missing+=" OnBootSec"
t_report "systemd: the timer runs it every minute, to the second" "${missing:+ missing:$missing}" ""

# ---- two runners, two textfiles, one node_exporter ---------------------
# The directory as mtaprobe.service documents it: group prometheus, 2775.
# Each run as a UID of systemd's dynamic range with the prometheus group
# (SupplementaryGroups=), umask 0022, in a user namespace of its own when
# the kernel lets us (PrivateUsers=).
PGID=$(getent group prometheus | cut -d: -f3)
if [ -z "$PGID" ] || ! command -v setpriv >/dev/null; then
	echo "ok $((T_N += 1)) - textfiles: two runners # SKIP no prometheus group or no setpriv"
	exit 0
fi
TF=$T_TMP/textfile
mkdir -p "$TF" "$T_TMP/etc/mtaprobe" "$T_TMP/other"
chgrp prometheus "$TF"
chmod 2775 "$TF"
t_sim ok $SIM_PORT
cat >"$T_TMP/etc/mtaprobe/edge.yaml" <<YAML
name: edge
defaults: {timeout: 5, ehlo: monitor.example.test}
output: {path: $TF/edge.prom}
targets:
  - {name: edge-mx, host: 127.0.0.1, port: $SIM_PORT, checks: [port, banner]}
YAML
# no name: the file's name, "mtaprobe"
cat >"$T_TMP/etc/mtaprobe/mtaprobe.yaml" <<YAML
defaults: {timeout: 5, ehlo: monitor.example.test}
targets:
  - {name: main-mx, host: 127.0.0.1, port: $SIM_PORT, checks: [port, banner, starttls]}
YAML
chmod 644 "$T_TMP"/etc/mtaprobe/*.yaml
# the runs' UIDs may not reach the build directory (a clone below /root)
cp "$MP" "$T_TMP/mtaprobe"
MP=$T_TMP/mtaprobe
userns=(unshare --user)
setpriv --reuid=61184 --regid=61184 --groups="$PGID" "${userns[@]}" true 2>/dev/null || userns=()
[ ${#userns[@]} -gt 0 ] || echo "# no unprivileged user namespaces here: the runs go without PrivateUsers="
as_dynamic() {	# as_dynamic UID CMD...
	local uid=$1
	shift
	(umask 022 && setpriv --reuid="$uid" --regid="$uid" --groups="$PGID" "${userns[@]}" "$@")
}
out=$(as_dynamic 61184 "$MP" -q -c "$T_TMP/etc/mtaprobe/edge.yaml" 2>&1)
t_report "textfiles: config 'edge' (name: edge) as a dynamic UID writes into the group's directory" \
	"$([ $? = 0 ] || echo " exit code")" "$out"
out=$(as_dynamic 61185 "$MP" -q -c "$T_TMP/etc/mtaprobe/mtaprobe.yaml" -o "$TF/mtaprobe.prom" 2>&1)
t_report "textfiles: config 'mtaprobe.yaml' (no name:) as another dynamic UID" \
	"$([ $? = 0 ] || echo " exit code")" "$out"
t_assert "textfiles: the run series carry config=\"edge\" and config=\"mtaprobe\" (the file's name)" \
	bash -c 'grep -qE "^mtaprobe_run_timestamp_seconds\{config=\"edge\"\} [0-9]{10}$" "$1/edge.prom" &&
		grep -qE "^mtaprobe_run_duration_seconds\{config=\"edge\"\} [0-9.]+$" "$1/edge.prom" &&
		grep -qE "^mtaprobe_run_timestamp_seconds\{config=\"mtaprobe\"\} [0-9]{10}$" "$1/mtaprobe.prom"' _ "$TF"
t_assert "textfiles: promtool check metrics accepts both" \
	bash -c 'promtool check metrics <"$1/edge.prom" && promtool check metrics <"$1/mtaprobe.prom"' _ "$TF"
t_assert "textfiles: mode 0644 (node_exporter's user reads them), no .tmp left" \
	bash -c '[ "$(stat -c %a "$1/edge.prom")" = 644 ] && [ "$(stat -c %a "$1/mtaprobe.prom")" = 644 ] &&
		! ls "$1"/*.tmp >/dev/null 2>&1' _ "$TF"
# the next boot's dynamic UID may differ: it must replace the old file and
# remove a .tmp the old UID left behind (a run killed mid-write)
as_dynamic 61184 sh -c "echo partial >'$TF/edge.prom.tmp'"
out=$(as_dynamic 61190 "$MP" -q -c "$T_TMP/etc/mtaprobe/edge.yaml" 2>&1)
t_report "textfiles: a run under a new UID replaces the old UID's file and leftover .tmp" \
	"$([ $? = 0 ] && [ "$(stat -c %u "$TF/edge.prom")" = 61190 ] && [ ! -e "$TF/edge.prom.tmp" ] ||
		echo " exit code, owner or .tmp")" "$out"
t_assert "textfiles: without the group the runner cannot write there (exit 3, old file kept)" \
	bash -c 'cp "$1/edge.prom" "$3/before"; (umask 022 && setpriv --reuid=61191 --regid=61191 --clear-groups "$2" -q -c "$3/etc/mtaprobe/edge.yaml"); [ $? = 3 ] && cmp -s "$1/edge.prom" "$3/before"' \
	_ "$TF" "$MP" "$T_TMP"

# node_exporter as Debian runs it (user prometheus), both files at once
ne_user=()
getent passwd prometheus >/dev/null && ne_user=(setpriv --reuid=prometheus --regid=prometheus --init-groups)
"${ne_user[@]}" prometheus-node-exporter --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$TF" --web.listen-address=127.0.0.1:$NE_PORT \
	>"$T_TMP/ne.log" 2>&1 &
T_PIDS+=($!)
t_wait_port 127.0.0.1 $NE_PORT || echo "# node_exporter did not start on $NE_PORT" >&2
scrape() { curl -s "http://127.0.0.1:$NE_PORT/metrics" >"$1"; }
scrape "$T_TMP/scrape1.txt"
scrape "$T_TMP/scrape2.txt" # the gathering error counter counts the scrapes before
S=$T_TMP/scrape2.txt
t_assert "textfiles: node_exporter reads both files (node_textfile_scrape_error 0)" \
	bash -c 'grep -q "^node_textfile_scrape_error 0$" "$1" &&
		[ "$(grep -c "^node_textfile_mtime_seconds{file=" "$1")" = 2 ]' _ "$S"
t_assert "textfiles: both configs' mtaprobe_run_timestamp_seconds are exported" \
	bash -c 'grep -qE "^mtaprobe_run_timestamp_seconds\{config=\"edge\"\} " "$1" &&
		grep -qE "^mtaprobe_run_timestamp_seconds\{config=\"mtaprobe\"\} " "$1" &&
		grep -qE "^mtaprobe_run_duration_seconds\{config=\"edge\"\} " "$1" &&
		grep -qE "^mtaprobe_run_duration_seconds\{config=\"mtaprobe\"\} " "$1"' _ "$S"
t_assert "textfiles: and both configs' check series" \
	bash -c 'grep -q "^mtaprobe_check_success{.*target=\"edge-mx\"} 1$" "$1" &&
		grep -q "^mtaprobe_check_success{.*check=\"starttls\".*target=\"main-mx\"} 0$" "$1"' _ "$S"
t_assert "textfiles: no duplicate series (no gathering error, nothing 'collected before' in the log)" \
	bash -c 'grep -q "^promhttp_metric_handler_errors_total{cause=\"gathering\"} 0$" "$1" &&
		! grep -q "collected before with the same name and label values" "$2"' _ "$S" "$T_TMP/ne.log"

# The control: a third config whose file is also called mtaprobe.yaml has
# the same name, so its run series collide with the second's, and the
# checks above see it.
cp "$T_TMP/etc/mtaprobe/mtaprobe.yaml" "$T_TMP/other/mtaprobe.yaml"
sed -i 's/main-mx/other-mx/' "$T_TMP/other/mtaprobe.yaml"
as_dynamic 61186 "$MP" -q -c "$T_TMP/other/mtaprobe.yaml" -o "$TF/other.prom" >/dev/null 2>&1
scrape "$T_TMP/scrape3.txt"
scrape "$T_TMP/scrape4.txt"
t_assert "textfiles: control: two configs of one name collide, and that is seen" \
	bash -c 'grep -q "collected before with the same name and label values" "$2" &&
		! grep -q "^promhttp_metric_handler_errors_total{cause=\"gathering\"} 0$" "$1" &&
		[ "$(grep -c "^mtaprobe_run_timestamp_seconds{config=\"mtaprobe\"}" "$1")" = 1 ]' \
	_ "$T_TMP/scrape4.txt" "$T_TMP/ne.log"
t_assert "textfiles: control: ... while name: tells them apart" \
	bash -c 'sed -i "1i name: other" "$1" &&
		(umask 022 && setpriv --reuid=61186 --regid=61186 --groups="$4" "$2" -q -c "$1" -o "$3/other.prom") &&
		grep -q "^mtaprobe_run_timestamp_seconds{config=\"other\"}" "$3/other.prom" &&
		curl -s "http://127.0.0.1:$5/metrics" >/dev/null &&
		curl -s "http://127.0.0.1:$5/metrics" >"$3/../scrape5.txt" &&
		grep -q "^mtaprobe_run_timestamp_seconds{config=\"other\"}" "$3/../scrape5.txt" &&
		grep -q "^mtaprobe_run_timestamp_seconds{config=\"mtaprobe\"}" "$3/../scrape5.txt"' \
	_ "$T_TMP/other/mtaprobe.yaml" "$MP" "$TF" "$PGID" "$NE_PORT"
