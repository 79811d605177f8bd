# tests/lib.sh - helpers for the integration tests (sourced, bash).
# Every test prints one TAP line: "ok N - name" or "not ok N - name # why".

T_N=0
T_PIDS=()
# A scratch directory the postfix user can reach, removed by each script's
# cleanup; sanitizer findings make a binary exit 99, which the tests see.
if [ -z "${T_TMP:-}" ]; then
	T_TMP=$(mktemp -d)
	chmod 755 "$T_TMP"
	export T_TMP
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}

t_report() {	# t_report NAME PROBLEMS OUTPUT
	T_N=$((T_N + 1))
	if [ -z "$2" ]; then
		echo "ok $T_N - $1"
	else
		echo "not ok $T_N - $1 #$2"
		printf '%s\n' "$3" | head -n 12 | sed 's/^/#   | /'
	fi
}

# Perfdata grammar (Monitoring Plugins guidelines): 'label'=value[UOM];[warn];[crit];[min];[max]
PERF_ITEM="('[^'=]+'|[^' =]+)=-?[0-9]+(\.[0-9]+)?(s|ms|us|%|B|KB|MB|TB|c)?(;[^; ]*){0,4}"

t_perf_ok() {	# t_perf_ok FIRST_LINE -> empty if fine, else a problem
	local line=$1 perf
	case $line in *" | "*) ;; *) return 0 ;; esac
	perf=${line#* | }
	[[ $perf =~ ^$PERF_ITEM(\ $PERF_ITEM)*$ ]] || echo " bad perfdata '$perf';"
}

# t_check NAME WANT_RC REGEX MAX_SECONDS CMD... : runs CMD, asserts the exit
# code, that the first line is "MTA <CHECK> <STATE> - " with STATE matching
# the exit code, that REGEX (ERE) matches the output, valid perfdata, and
# that it ended within MAX_SECONDS.
t_check() {
	local name=$1 want=$2 re=$3 max=$4 t0 out rc ms p="" first
	local -a states=(OK WARNING CRITICAL UNKNOWN)
	shift 4
	t0=$(date +%s%N)
	out=$("$@" 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	first=${out%%$'\n'*}
	[ "$rc" = "$want" ] || p+=" exit $rc, wanted $want;"
	if [ "$rc" -le 3 ] && ! [[ $first =~ ^MTA\ [A-Z]+\ ${states[$rc]}\ -\  ]]; then
		p+=" first line does not say ${states[$rc]};"
	fi
	grep -Eq -- "$re" <<<"$out" || p+=" output lacks /$re/;"
	p+=$(t_perf_ok "$first")
	[ "$ms" -le "$(awk -v m="$max" 'BEGIN{printf "%d", m*1000}')" ] || p+=" took ${ms}ms, bound ${max}s;"
	t_report "$name (${ms}ms)" "$p" "$out"
	T_LAST_OUT=$out
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
