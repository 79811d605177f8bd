# shellcheck shell=bash
# tests/lib.sh - helpers for the integration tests (sourced, bash).
# Every test prints one TAP line: "ok N - name" or "not ok N - name # why".
# A script begins
#	set -uo pipefail
#	cd "$(dirname "$0")/.." || exit 1
#	. tests/lib.sh
#	t_args build/asan "$@"
# and ends with an EXIT trap: t_exit, or a cleanup that calls it.

T_N=0
T_PIDS=()
T_START=$(date +%s%N)
TABLE=()
L=127.0.0.1 # where the tests' servers listen
# A scratch directory the postfix user can reach, removed by each script's
# cleanup; sanitizer findings make a binary exit 99, which the tests see.
if [ -z "${T_TMP:-}" ]; then
	T_TMP=$(mktemp -d)
	chmod 755 "$T_TMP"
	export T_TMP
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}

# t_args DEFAULT_BUILD_DIR [BUILD_DIR]: B is BUILD_DIR (else the default),
# SIM the scripted server ($SIM of the environment, else $B/smtpsim), and
# the TAP numbers go on from $T_N_START (0 by default).
t_args() {
	B=${2:-$1}
	SIM=${SIM:-$B/smtpsim}
	T_N=${T_N_START:-0}
}

t_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }	# t_ms_since T0 (date +%s%N)

t_report() {	# t_report NAME PROBLEMS OUTPUT
	T_N=$((T_N + 1))
	if [ -z "$2" ]; then
		echo "ok $T_N - $1"
	else
		echo "not ok $T_N - $1 #$2"
		printf '%s\n' "$3" | head -n 12 | sed 's/^/#   | /'
	fi
}

t_skip() {	# t_skip NAME REASON: "ok N - NAME # SKIP REASON"
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}
# t_need PROGRAM REASON NAME...: without PROGRAM, a SKIP line (REASON) for
# each NAME, and the script ends.
t_need() {
	local prog=$1 why=$2 n
	shift 2
	command -v "$prog" >/dev/null 2>&1 && return 0
	for n in "$@"; do t_skip "$n" "$why"; done
	exit 0
}

# t_traps CLEANUP: CLEANUP on exit, also on SIGINT (exit 130) and SIGTERM (143)
t_traps() {
	# shellcheck disable=SC2064 # CLEANUP is meant to be expanded now
	trap "$1" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Perfdata grammar (Monitoring Plugins guidelines): 'label'=value[UOM];[warn];[crit];[min];[max]
PERF_ITEM="('[^'=]+'|[^' =]+)=-?[0-9]+(\.[0-9]+)?(s|ms|us|%|B|KB|MB|TB|c)?(;[^; ]*){0,4}"

t_perf_ok() {	# t_perf_ok FIRST_LINE -> empty if fine, else a problem
	local line=$1 perf
	case $line in *" | "*) ;; *) return 0 ;; esac
	perf=${line#* | }
	[[ $perf =~ ^$PERF_ITEM(\ $PERF_ITEM)*$ ]] || echo " bad perfdata '$perf';"
}

# t_check NAME WANT_RC REGEX MAX_SECONDS CMD... : runs CMD, asserts that the
# exit code matches WANT_RC (an ERE of exit codes: 2, [12], [0-3]), that the
# first line is "MTA <CHECK> <STATE> - " with STATE that of the exit code,
# that REGEX (ERE) matches the output (only its first line with
# T_CHECK_FIRST=1), that NOT_RE (if set in the environment of the call) does
# not match the first line, valid perfdata, and that it ended within
# MAX_SECONDS.  Leaves T_LAST_OUT, T_LAST_STATE (OK... or "exit N"), T_LAST_MS.
t_check() {
	local name=$1 want=$2 re=$3 max=$4 t0 out rc ms p="" first state
	local -a states=(OK WARNING CRITICAL UNKNOWN)
	shift 4
	t0=$(date +%s%N)
	out=$("$@" 2>&1)
	rc=$?
	ms=$(t_ms_since "$t0")
	first=${out%%$'\n'*}
	state="exit $rc"
	if [ "$rc" -ge 128 ]; then
		p+=" killed by signal $((rc - 128))$([ "$rc" = 141 ] && echo ' (SIGPIPE)') (exit $rc);"
	elif [ "$rc" -gt 3 ]; then
		p+=" exit $rc is not a plugin state (sanitizer?);"
	else
		state=${states[$rc]}
		[[ $first =~ ^MTA\ [A-Z]+\ $state\ -\  ]] || p+=" first line does not say $state;"
	fi
	[[ $rc =~ ^($want)$ ]] || p+=" exit $rc ($state), wanted $want;"
	if [ -n "${T_CHECK_FIRST:-}" ]; then
		grep -Eq -- "$re" <<<"$first" || p+=" summary lacks /$re/;"
	else
		grep -Eq -- "$re" <<<"$out" || p+=" output lacks /$re/;"
	fi
	[ -n "${NOT_RE:-}" ] && grep -Eq -- "$NOT_RE" <<<"$first" && p+=" summary says /$NOT_RE/;"
	p+=$(t_perf_ok "$first")
	[ "$ms" -le "$(awk -v m="$max" 'BEGIN{printf "%d", m*1000}')" ] || p+=" took ${ms}ms, bound ${max}s;"
	t_report "$name (${ms}ms)" "$p" "$out"
	T_LAST_OUT=$out T_LAST_STATE=$state T_LAST_MS=$ms
}

# t_table_row CONFIG_WIDTH ARGS_WIDTH SUMMARY_WIDTH NAME WANT_RC REGEX MAX CMD...:
# after the t_check of NAME ("SERVER: CONFIG: ...") and CMD, a row of TABLE:
# server, config, the plugin and its arguments (-H and the CA file left
# out), the state, the time and the summary (t_table prints them).
t_table_row() {
	local cw=$1 aw=$2 sw=$3 name=$4 srv cfg args
	shift 7
	srv=${name%%:*} cfg=${name#*: }
	cfg=${cfg%%:*}
	args=$(sed -E "s#--ca-file [^ ]+#--ca-file CA#; s# -H [^ ]+##" <<<"${1##*/} ${*:2}")
	TABLE+=("$(printf '%-8s %-*s %-*s %-8s %6s ms  %s' "$srv" "$cw" "$cfg" "$aw" "$args" "$T_LAST_STATE" "$T_LAST_MS" \
		"$(sed -E 's/^MTA [A-Z]+ [A-Z]+ - //; s/ \|.*//' <<<"${T_LAST_OUT%%$'\n'*}" | cut -c1-"$sw")")")
}
t_table() {	# t_table NAME: the rows, and how long the whole script took
	echo "# $1: server x config x plugin -> verdict (time):"
	printf '#   %s\n' "${TABLE[@]}"
	echo "# $1: the whole script took $(t_ms_since "$T_START") ms"
}

# t_assert NAME CONDITION-COMMAND... : a plain assertion.
t_assert() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then t_report "$name" "" ""; else t_report "$name" " assertion failed: $*" ""; fi
}

t_wait_port() {	# t_wait_port HOST PORT: up to 10 s
	local i
	for i in $(seq 200); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# t_sim SCENARIO PORT [extra smtpsim args]: start the scripted server on
# 127.0.0.1:PORT in the background; its PID is remembered for t_cleanup.
t_sim() {
	local scn=$1 port=$2
	shift 2
	"$SIM" -s "tests/scenarios/$scn.scn" -l "127.0.0.1:$port" "$@" >/dev/null 2>>"$T_TMP/smtpsim.err" &
	T_PIDS+=($!)
	t_wait_port 127.0.0.1 "$port" || { echo "# smtpsim $scn did not start on $port" >&2; return 1; }
}

t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	T_PIDS=()
}

# t_stop SECONDS PID...: SIGTERM to each PID; those still there after
# SECONDS get SIGKILL, and so do their children; all are reaped.
t_stop() {
	local secs=$1 p alive="" kids
	shift
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq $((secs * 10))); do
		alive=""
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	for p in $alive; do
		kids=$(pgrep -P "$p")
		# shellcheck disable=SC2086 # one PID a word
		kill -KILL "$p" $kids 2>/dev/null
	done
	for p in "$@"; do wait "$p" 2>/dev/null; done
}
# t_stop_all: t_stop 5 of what T_PIDS holds, which is emptied
t_stop_all() {
	t_stop 5 "${T_PIDS[@]}"
	T_PIDS=()
}

# t_rm_tmp: removes $T_TMP; with KEEP_TMP=1 keeps it, and says where.
t_rm_tmp() {
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T_TMP"; else rm -rf "$T_TMP"; fi
}
# t_exit: the EXIT trap's work: the MTA of t_mta_start, the scripted
# servers (t_cleanup), $T_TMP.
t_exit() {
	t_mta_cleanup
	t_cleanup
	t_rm_tmp
}

# t_pki NAME: the test PKI in $T_TMP/pki: PKI, and CA=(--ca-file ROOT); if
# tests/mkcerts.sh fails, the TAP line NAME says so and the script ends.
t_pki() {
	PKI=$T_TMP/pki
	if ! tests/mkcerts.sh "$PKI" >"$T_TMP/mkcerts.log" 2>&1; then
		t_report "$1" " tests/mkcerts.sh failed" "$(cat "$T_TMP/mkcerts.log")"
		exit 0
	fi
	# shellcheck disable=SC2034 # for the script
	CA=(--ca-file "$PKI/root.crt")
}

# t_ports_free NAME PORT...: nothing listens on 127.0.0.1:PORT; else the
# TAP line "NAME: port PORT is free" fails and the script ends.
t_ports_free() {
	local name=$1 p
	shift
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			t_report "$name: port $p is free" " something already listens on 127.0.0.1:$p" ""
			exit 0
		fi
	done
}

# t_built NAME CHECK...: $B/check_mta_CHECK is there for each; else the TAP
# line "NAME: $B/check_mta_CHECK built" fails and the script ends.
t_built() {
	local name=$1 c
	shift
	for c in "$@"; do
		[ -x "$B/check_mta_$c" ] || { t_report "$name: $B/check_mta_$c built" " missing (make check first)" ""; exit 0; }
	done
}

# t_step NOTE SKIP_NAME FAIL_NAME CMD...: a step that a test needs (a
# tests/mta/*.sh install, fetch, check or setup): stdout in T_STEP_OUT,
# stderr in $T_TMP/step.err, shown as comment lines "NOTE..." unless NOTE
# is empty.  Exit 77 (CMD printed "SKIP: reason") is the line "ok N -
# SKIP_NAME # SKIP reason", another failure the failing TAP line FAIL_NAME;
# either ends the script.
t_step() {
	local note=$1 skip=$2 fail=$3 rc
	shift 3
	T_STEP_OUT=$("$@" 2>"$T_TMP/step.err")
	rc=$?
	[ -z "$note" ] || awk -v n="$note" '{ print n $0 }' "$T_TMP/step.err"
	if [ $rc = 77 ]; then
		t_skip "$skip" "${T_STEP_OUT#SKIP: }"
		exit 0
	elif [ $rc != 0 ]; then
		t_report "$fail" " $1 ${2:-} failed" "$(cat "$T_TMP/step.err"; printf '%s' "$T_STEP_OUT")"
		exit 0
	fi
}

# An MTA of tests/mta/NAME.sh that runs from a directory: "run DIR" in the
# foreground, "ready DIR SECONDS", "stop DIR" (dovecot.sh, opensmtpd.sh).
# t_mta_start SCRIPT DIR OUT: runs it in the background (its output into
# OUT, its PID in T_MTA_PID) and waits up to 10 s until it is ready; false
# if it is not, with ready's reason in T_MTA_ERR.  t_mta_stop NAME: stops
# it; the TAP line "NAME: stopped in N ms, no process left" (its children
# included).  t_mta_cleanup: stops it, if it still runs (t_exit does).
T_MTA=() T_MTA_PID="" T_MTA_ERR=""
t_mta_start() {
	T_MTA=("$1" "$2")
	"$1" run "$2" >"$3" 2>&1 &
	T_MTA_PID=$!
	# shellcheck disable=SC2034 # for the script
	T_MTA_ERR=$("$1" ready "$2" 10 2>&1)
}
t_mta_stop() {
	local t0 kids k left=""
	t0=$(date +%s%N)
	kids=$(ps -o pid= --ppid "$T_MTA_PID" 2>/dev/null)
	"${T_MTA[0]}" stop "${T_MTA[1]}" 2>"$T_TMP/stop.err"
	wait "$T_MTA_PID" 2>/dev/null
	for k in $kids; do # a zombie (not yet reaped by init) counts as gone
		[ -r "/proc/$k/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$k/stat" 2>/dev/null && left+=" $k"
	done
	t_report "$1: stopped in $(t_ms_since "$t0") ms, no process left" \
		"$([ -n "$left" ] && echo " still running:$left")$([ -s "$T_TMP/stop.err" ] && echo " $(cat "$T_TMP/stop.err")")" ""
	T_MTA_PID=""
}
t_mta_cleanup() {
	[ -n "$T_MTA_PID" ] || return 0
	"${T_MTA[0]}" stop "${T_MTA[1]}" 2>/dev/null
	wait "$T_MTA_PID" 2>/dev/null
}

# A server's log, read by what each check added to it: t_log_mark FILE
# remembers where FILE ends, t_log_since prints what came after that,
# t_log_settle OPENED CLOSED waits (up to 2 s) until there are as many lines
# matching CLOSED (a BRE) as lines matching OPENED since the mark, at least
# one, t_log_check NAME SEEN NEVER SHOW asserts that what came has a line
# matching SEEN and none matching NEVER (EREs, NEVER in either case); on
# failure the last 5 lines matching SHOW are shown.
T_LOG="" T_LOG_MARK=0
t_log_mark() {
	T_LOG=$1
	T_LOG_MARK=$(wc -l <"$1")
}
t_log_since() { tail -n +"$((T_LOG_MARK + 1))" "$T_LOG"; }
t_log_settle() {
	local c d log
	for _ in $(seq 40); do
		log=$(t_log_since)
		c=$(grep -c -- "$1" <<<"$log")
		d=$(grep -c -- "$2" <<<"$log")
		[ "$c" -gt 0 ] && [ "$c" = "$d" ] && return 0
		sleep 0.05
	done
}
t_log_check() {
	local log p=""
	log=$(t_log_since)
	grep -Eq -- "$2" <<<"$log" || p+=" the log shows no /$2/;"
	grep -qiE -- "$3" <<<"$log" && p+=" the log shows /$3/;"
	t_report "$1" "$p" "$(grep -E -- "$4" <<<"$log" | tail -n 5)"
}

# t_term_ends NAME PID LOG RE: SIGTERM (t_stop 10) ends PID within 10 s,
# and LOG then has a line matching RE; the TAP line "NAME (N ms)".
t_term_ends() {
	local name=$1 pid=$2 log=$3 re=$4 t0 ms p=""
	t0=$(date +%s%N)
	t_stop 10 "$pid"
	ms=$(t_ms_since "$t0")
	[ "$ms" -le 10000 ] || p+=" took ${ms}ms;"
	grep -q -- "$re" "$log" || p+=" no '$re' in ${log##*/};"
	t_report "$name (${ms}ms)" "$p" "$(tail -n 5 "$log")"
}

# t_dirs_mark DIR...: remembers the system directories that a test must not
# write to; t_dirs_unwritten NAME: the TAP line "NAME: nothing under DIR...
# was written" (nothing there is newer than the mark).
T_DIRS=()
t_dirs_mark() {
	T_DIRS=("$@")
	touch "$T_TMP/dirs.mark"
}
t_dirs_unwritten() {
	local changed
	changed=$(find "${T_DIRS[@]}" -newer "$T_TMP/dirs.mark" 2>/dev/null)
	t_report "$1: nothing under ${T_DIRS[*]} was written" "$([ -n "$changed" ] && echo " written:")" "$changed"
}
# t_dns_start NAME DNSDIR: the test PKI in $T_TMP/pki (PKI) and NSD behind a
# validating unbound (tests/dns.sh); on failure one TAP line and the
# script ends, on a missing component (dns.sh's exit 77) a SKIP naming it.
t_dns_start() {
	local name=$1 dir=$2 rc
	PKI=$T_TMP/pki
	tests/mkcerts.sh "$PKI" >/dev/null 2>"$T_TMP/mkcerts.err" ||
		{ t_report "$name: test PKI" " mkcerts failed" "$(cat "$T_TMP/mkcerts.err")"; exit 0; }
	tests/dns.sh start "$dir" "$PKI" 2>"$T_TMP/dns.err"
	rc=$?
	if [ $rc = 77 ]; then
		echo "ok 1 - $name # SKIP $(grep -m1 SKIP "$T_TMP/dns.err")"
		exit 0
	elif [ $rc != 0 ]; then
		t_report "$name: NSD and unbound started" " tests/dns.sh failed" "$(cat "$T_TMP/dns.err")"
		exit 0
	fi
}
