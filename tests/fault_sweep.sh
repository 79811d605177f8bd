#!/usr/bin/env bash
# tests/fault_sweep.sh BUILD_DIR - fault injection over every plugin and the
# runner: each of the process's calls to socket, connect, poll, recv, send,
# read, write, malloc, calloc and realloc is made to fail in turn
# (tests/faultinject.c, LD_PRELOAD), one failure per run, and every run must
# still end in a verdict:
#   - exit code 0..3 (never a signal, a timeout (124) or a sanitizer's 99);
#   - plugins: the first line is "MTA <CHECK> <STATE> - " with STATE the one
#     the exit code says; the runner: exit 0 with its whole table (all five
#     checks and the summary line), or 3;
#   - no AddressSanitizer/UBSan report on stderr (ASan builds);
#   - a failed allocation gives UNKNOWN or the state of the undisturbed run
#     (never a false CRITICAL/WARNING/OK).
# Leaks on an injected-failure path (ASan builds: LeakSanitizer's recoverable
# check when main returns, exit code untouched) are counted and the first few
# listed, but do not fail the sweep.
#
# Size: a discovery run (FAULT_REPORT=1, FAULT_TRACE=1, no fault) gives the
# number C of counted calls and which function each is.  C <= 400: N = 1..C.
# Otherwise 400 values of N: the first 20 calls (option parsing), every call
# that is not an allocator (the network and TLS I/O paths, up to 200), and the
# rest spread evenly over 1..C (with threads, the runner's, the trace's
# numbering is approximate).  Runs go two at a time, each under
# 'timeout 15'.  One TAP line per binary; details of each failure (N, the
# failed call, exit code, stdout and stderr excerpts) in BUILD_DIR/fault_sweep.log.
#
# Ports 27801-27810 on 127.0.0.1.  Environment: FAULT_SWEEP_MAX (default 400),
# FAULT_SWEEP_JOBS (default 2).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${1:-build/asan}
B=${B%/}
MAX=${FAULT_SWEEP_MAX:-400}
JOBS=${FAULT_SWEEP_JOBS:-2}
SHIM=$B/faultinject.so
SIM=$B/smtpsim
LOG=$B/fault_sweep.log
T0=$(date +%s)

for f in check_mta_port check_mta_banner check_mta_starttls check_mta_cert check_mta_relay mtaprobe smtpsim; do
	[ -x "$B/$f" ] || { echo "not ok - fault sweep: $B/$f is missing (make)"; exit 1; }
done
if [ ! -f "$SHIM" ] || [ tests/faultinject.c -nt "$SHIM" ]; then
	cc -shared -fPIC -O2 -o "$SHIM" tests/faultinject.c -ldl ||
		{ echo "not ok - fault sweep: cannot build $SHIM"; exit 1; }
fi
SHIM=$(realpath "$SHIM")

ASAN=0
if ldd "$B/check_mta_banner" 2>/dev/null | grep -q libasan; then ASAN=1; fi
# The shim must come before libasan in the link order to see the program's
# allocations; leaks are checked by the shim (recoverable, exit code kept),
# not at exit.
export ASAN_OPTIONS="detect_leaks=$ASAN:leak_check_at_exit=0:verify_asan_link_order=0:abort_on_error=0:exitcode=99:handle_abort=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"

. tests/lib.sh
TMP=$T_TMP
WORKERS=()
cleanup() {
	local p
	for p in "${WORKERS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	t_cleanup
	rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sim() {	# sim SCENARIO PORT [args]: the scripted server, or the sweep ends
	t_sim "$@" || { echo "not ok - fault sweep: smtpsim $1 did not start on $2"; exit 1; }
}

tests/mkcerts.sh "$TMP/pki" >/dev/null || { echo "not ok - fault sweep: tests/mkcerts.sh failed"; exit 1; }
P_OK=27801 P_TLS=27802 P_RELAY=27803
sim ok $P_OK
sim tls_starttls $P_TLS -C "$TMP/pki"
sim relay_refuse $P_RELAY
CA=$TMP/pki/root.crt
L=127.0.0.1

: >"$LOG"
echo "# fault sweep of $B ($([ $ASAN = 1 ] && echo ASan+UBSan || echo release)), shim $SHIM" >>"$LOG"

# --- one run: FAULT_N=$1 -------------------------------------------------------
# Prints "N<TAB>failed call<TAB>exit<TAB>leak(0/1)<TAB>class<TAB>caller<TAB>ms<TAB>problems",
# class S (crash, hang, sanitizer, bad output), A (a failed allocation
# reported as a server state) or "-"; keeps $FS_DIR/detail.N for runs with a
# problem or a leak.  Plain bash: no process but the run itself.
sweep_one() {
	local n=$1 out rc name="-" from="-" prob="" aprob="" leak=0 first state l cls="-" san="" t0 ms
	local -a errl rows
	local err=$FS_DIR/err.$n
	t0=${EPOCHREALTIME/./}
	# the shim goes into the program only, not into timeout(1)
	out=$(timeout -k 2 15 env FAULT_N="$n" FAULT_REPORT=1 FAULT_LEAKCHECK="$FS_ASAN" \
		LD_PRELOAD="$FS_SHIM" "${FS_CMD[@]}" 2>"$err")
	rc=$?
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	mapfile -t -n 400 errl <"$err"
	for l in "${errl[@]}"; do
		case $l in
		"faultinject: failed call "*)
			name=${l#*(} name=${name%%)*}
			[[ $l == *") from "* ]] && from=${l#*) from } ;;
		*"ERROR: LeakSanitizer"*) leak=1 ;;
		*"ERROR: AddressSanitizer"* | *"AddressSanitizer:DEADLYSIGNAL"* | *"runtime error:"* | \
			*"UndefinedBehaviorSanitizer"* | *"AddressSanitizer: CHECK failed"*)
			[ -n "$san" ] || san=${l:0:160} ;;
		esac
	done
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		prob+=" killed by timeout 15;"
	elif [ "$rc" -gt 128 ]; then
		prob+=" killed by signal $((rc - 128));"
	elif [ "$rc" -gt 3 ]; then
		prob+=" exit code above 3;"
	fi
	if [ "$FS_KIND" = plugin ]; then
		first=${out%%$'\n'*}
		if ! [[ $first =~ ^MTA\ $FS_CHECK\ (OK|WARNING|CRITICAL|UNKNOWN)\ -\  ]]; then
			prob+=" first line '${first:0:100}' is not 'MTA $FS_CHECK <STATE> - ';"
		else
			state=${BASH_REMATCH[1]}
			[ "$rc" -le 3 ] && [ "$state" != "${FS_STATES[$rc]}" ] &&
				prob+=" says $state but exits $rc;"
			case $name in malloc | calloc | realloc)
				[ "$state" = UNKNOWN ] || [ "$state" = "$FS_BASE" ] ||
					aprob+=" failed $name gave $state (undisturbed: $FS_BASE; want UNKNOWN);" ;;
			esac
		fi
	elif [ "$rc" -le 2 ]; then # the runner: its whole table (worst state 0-2), or exit 3
		mapfile -t rows < <(table_states "$out")
		[[ $'\n'$out =~ $'\n'[0-9]+\ checks\ in\  ]] || prob+=" exit $rc without the summary line;"
		[ "${#rows[@]}" -eq 5 ] || prob+=" exit $rc but the table has '${rows[*]}';"
		case $name in malloc | calloc | realloc)
			for l in "${rows[@]}"; do
				[[ " $FS_BASE " == *" $l "* ]] || [ "${l#*=}" = UNKNOWN ] ||
					aprob+=" failed $name gave ${l/=/ } (undisturbed: $FS_BASE; want UNKNOWN);"
			done ;;
		esac
	fi
	[ -n "$san" ] && prob+=" sanitizer: $san;"
	if [ -n "$prob" ]; then cls=S; elif [ -n "$aprob" ]; then cls=A; fi
	prob+=$aprob
	if [ -n "$prob" ] || [ "$leak" = 1 ]; then
		{
			echo "N=$n ($name from $from) exit $rc after ${ms}ms:$prob"
			printf '%s\n' "$out" | head -n 6 | sed 's/^/  stdout| /'
			grep -v '^faultinject: counted' "$err" | head -n 40 | sed 's/^/  stderr| /'
		} >"$FS_DIR/detail.$n"
	fi
	rm -f "$err"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$name" "$rc" "$leak" "$cls" "$from" "$ms" "$prob"
}

# the runner's table: "check=STATE" per row, sorted (bash only)
table_states() {
	local l
	local -a f
	while IFS= read -r l; do
		read -r -a f <<<"$l"
		[[ ${f[1]:-} =~ ^(port|banner|starttls|cert|relay)$ ]] && echo "${f[1]}=${f[4]:-}"
	done <<<"$1" | sort
}

# "check_mta_cert+0x76f4d (sym)" -> "strbuf_append lib/strbuf.c:41" for our
# own binaries (addr2line, when installed); other objects as they are
where() {
	local obj=${1%%+*} off=${1#*+} loc
	off=${off%% *}
	if [ -x "$B/$obj" ] && [[ $off == 0x* ]] && command -v addr2line >/dev/null; then
		loc=$(addr2line -f -e "$B/$obj" "$(printf '0x%x' $((off - 1)))" 2>/dev/null | paste -sd' ')
		loc=${loc/$PWD\//}
		[[ $loc == *"??"* ]] || { echo "$loc"; return; }
	fi
	echo "${1%% *}"
}

# --- one binary ------------------------------------------------------------------
# sweep LABEL KIND(plugin|runner) CHECK CMD...
sweep() {
	local label=$1 kind=$2 check=$3 dir base out rc c t1 nruns nfail nleak
	shift 3
	dir=$TMP/$label
	mkdir -p "$dir"
	printf '%s\0' "$@" >"$dir/cmd"
	t1=$(date +%s%N)
	# discovery: no fault, every counted call traced
	out=$(timeout 15 env FAULT_REPORT=1 FAULT_TRACE=1 LD_PRELOAD="$SHIM" "$@" 2>"$dir/trace")
	rc=$?
	c=$(sed -n 's/^faultinject: counted \([0-9]*\) calls.*/\1/p' "$dir/trace" | tail -n1)
	# (the runner's terminal mode exits with the worst state, as a plugin:
	# 0-2 with its whole table, 3 for an error or an UNKNOWN check)
	if [ -z "$c" ] || [ "$rc" -gt 3 ] || { [ "$kind" = runner ] && [ "$rc" -gt 2 ]; }; then
		echo "not ok - fault sweep $label: the undisturbed run failed (exit $rc, ${c:-no} count)"
		printf '%s\n' "$out" | head -n 5 | sed 's/^/#   | /'
		grep -v '^faultinject: call' "$dir/trace" | head -n 10 | sed 's/^/#   | /'
		return
	fi
	if [ "$kind" = plugin ]; then
		base=$(sed -nE "1s/^MTA $check (OK|WARNING|CRITICAL|UNKNOWN) - .*/\1/p" <<<"$out")
		[ -n "$base" ] || { echo "not ok - fault sweep $label: undisturbed first line '${out%%$'\n'*}'"; return; }
	else
		base=$(table_states "$out" | paste -sd' ')
	fi
	# which values of N
	if [ "$c" -le "$MAX" ]; then
		seq 1 "$c" >"$dir/ns"
	else
		{
			seq 1 $((MAX / 20))
			sed -n 's/^faultinject: call \([0-9]*\) (\(socket\|connect\|poll\|recv\|send\|read\|write\))$/\1/p' \
				"$dir/trace" | head -n $((MAX / 2))
		} | sort -n -u >"$dir/ns.fixed"
		awk -v c="$c" -v max="$MAX" -v have="$(wc -l <"$dir/ns.fixed")" '
			BEGIN { k = max - have; for (i = 0; i < k; i++) print 1 + int(i * (c - 1) / (k > 1 ? k - 1 : 1)) }' \
			>"$dir/ns.spread"
		sort -n -u "$dir/ns.fixed" "$dir/ns.spread" >"$dir/ns"
		# duplicates between the two sets: top up with the gaps' midpoints
		while [ "$(wc -l <"$dir/ns")" -lt "$MAX" ]; do
			awk -v c="$c" 'NR > 1 && $1 - p > 1 { print int((p + $1) / 2) } { p = $1 } END { if (p < c) print c }' \
				"$dir/ns" | head -n $((MAX - $(wc -l <"$dir/ns"))) >"$dir/ns.more"
			[ -s "$dir/ns.more" ] || break
			sort -n -u "$dir/ns" "$dir/ns.more" -o "$dir/ns"
		done
	fi
	# $JOBS workers, each taking every JOBS-th value of N
	local k
	FS_DIR=$dir FS_KIND=$kind FS_CHECK=$check FS_BASE=$base FS_SHIM=$SHIM FS_ASAN=$ASAN
	FS_CMD=("$@") FS_STATES=(OK WARNING CRITICAL UNKNOWN)
	for ((k = 0; k < JOBS; k++)); do
		awk -v j="$JOBS" -v k="$k" 'NR % j == k' "$dir/ns" | while read -r n; do sweep_one "$n"; done \
			>"$dir/results.$k" &
		WORKERS+=($!)
	done
	wait "${WORKERS[@]}"
	WORKERS=()
	sort -n "$dir"/results.* >"$dir/results"
	nruns=$(wc -l <"$dir/results")
	# An allocation failing inside OpenSSL often surfaces as an ordinary TLS
	# or verification error (OpenSSL does not always say it ran out of
	# memory): a verdict, so not a failure here, but counted and shown.
	nfail=$(awk -F'\t' '$5 == "S" || ($5 == "A" && $6 !~ /^lib(crypto|ssl)\./)' "$dir/results" | wc -l)
	local nsev nassl nalib
	nsev=$(awk -F'\t' '$5 == "S"' "$dir/results" | wc -l)
	nassl=$(awk -F'\t' '$5 == "A" && $6 ~ /^lib(crypto|ssl)\./' "$dir/results" | wc -l)
	nalib=$(awk -F'\t' '$5 == "A" && $6 !~ /^lib(crypto|ssl)\./' "$dir/results" | wc -l)
	nleak=$(awk -F'\t' '$4 == 1' "$dir/results" | wc -l)
	local secs
	secs=$(awk -v t="$(( $(date +%s%N) - t1 ))" 'BEGIN { printf "%.1f", t / 1e9 }')
	{
		echo "## $label: C=$c calls, $nruns runs, $nfail failing, $nleak leaking, ${secs}s; undisturbed: $base"
		echo "## command: $*"
		echo "## $(grep '^faultinject: counted' "$dir/trace" | tail -n1)"
		for f in $(awk -F'\t' '$5 != "-" || $4 == 1 { print $1 }' "$dir/results"); do
			cat "$dir/detail.$f"
		done
	} >>"$LOG"
	[ "$nassl" -gt 0 ] && echo "# $label: $nassl allocations failed inside OpenSSL gave its own error as the verdict"
	if [ "$nfail" -eq 0 ]; then
		echo "ok - fault sweep $label: $nruns runs, every failure a verdict (C=$c calls, ${secs}s)"
	else
		echo "not ok - fault sweep $label: $nfail of $nruns runs failed: $nsev crash/hang/sanitizer/bad output, $nalib failed allocations of our code reported as a server state (C=$c calls, ${secs}s)"
		# the worst first: crashes and bad output, then our own allocations
		{
			awk -F'\t' '$5 == "S"' "$dir/results"
			awk -F'\t' '$5 == "A" && $6 !~ /^lib(crypto|ssl)\./' "$dir/results"
			awk -F'\t' '$5 == "A" && $6 ~ /^lib(crypto|ssl)\./' "$dir/results"
		} | head -n 10 | while IFS=$'\t' read -r n name rc _ _ from _ prob; do
			echo "#   N=$n ($name from $(where "$from")): exit $rc:$prob"
		done
	fi
	local slow
	slow=$(awk -F'\t' '$7 > 3000 { printf "%sN=%s (%s) %.1fs", s, $1, $2, $7 / 1000; s = ", " }' "$dir/results")
	[ -n "$slow" ] && echo "# $label: runs that took over 3 s (-t 5 is the deadline): $(cut -d, -f1-5 <<<"$slow")"
	if [ "$nleak" -gt 0 ]; then
		echo "# $label: $nleak runs leaked (not a failure); first: $(awk -F'\t' '$4 == 1 { printf "%sN=%s (%s)", s, $1, $2; s = ", " }' "$dir/results" | cut -d, -f1-5)"
	fi
}

sweep check_mta_port plugin PORT "$B/check_mta_port" -H $L -p $P_OK -t 5
sweep check_mta_banner plugin BANNER "$B/check_mta_banner" -H $L -p $P_OK -t 5
sweep check_mta_starttls plugin STARTTLS "$B/check_mta_starttls" -H $L -p $P_TLS -t 5
sweep check_mta_cert plugin CERT "$B/check_mta_cert" -H $L -p $P_TLS -t 5 --ca-file "$CA"
sweep check_mta_relay plugin RELAY "$B/check_mta_relay" -H $L -p $P_RELAY -t 5
sweep mtaprobe runner - "$B/mtaprobe" -q -p $P_TLS -t 5 --checks port,banner,starttls,cert,relay $L
echo "# fault sweep: $(($(date +%s) - T0))s in all; details in $LOG"
