#!/usr/bin/env bash
# tests/fuzz.sh SECONDS [NAME...] - build the libFuzzer harnesses
# tests/fuzz/fuzz_NAME.c with clang (ASan, UBSan, LeakSanitizer) into
# build/fuzz/, run each for SECONDS on a writable copy of its seed corpus
# (tests/fuzz/corpus/NAME -> build/fuzz/corpus/NAME, which keeps what
# earlier runs found), two at a time, and print one TAP line per harness:
#   ok - fuzz NAME: N executions in S s, no crash
#   not ok - fuzz NAME: SUMMARY: AddressSanitizer: ... (reproducer: build/fuzz/crashes/NAME-crash-...)
# Lines starting with "# " are comments; libFuzzer's own output goes to
# build/fuzz/NAME.log.  Exits 0 when every line is "ok".
#   make fuzz                       tests/fuzz.sh $${FUZZ_SECONDS:-60}
#   tests/run_tests.sh              tests/fuzz.sh 10 (a smoke)
#   build/fuzz/fuzz_NAME build/fuzz/crashes/NAME-crash-...   replays a crash
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.." || exit 1

usage() {
	echo "usage: tests/fuzz.sh SECONDS [NAME...]  (NAME: ${ALL[*]})" >&2
	exit 2
}

# Each harness and the sources it links (compiled here, not the archives).
# The option table (cli/options.c) names the checks, whose dialogues pull in
# the whole engine, so options and config link nearly everything.
ENGINE="lib/conn.c lib/deadline.c lib/dns.c lib/dnsmsg.c lib/err.c lib/nagios.c lib/net.c
	lib/range.c lib/result.c lib/sanitize.c lib/sched.c lib/smtp.c lib/strbuf.c lib/tls.c
	lib/tls_lazy.c"
CHECKS="checks/banner.c checks/cert.c checks/check.c checks/port.c checks/probe.c
	checks/relay.c checks/session.c checks/starttls.c"
CLI="cli/binaries.c cli/options.c"
declare -A SRC LIBS MAXLEN
SRC[smtp]="lib/smtp.c lib/strbuf.c"
SRC[dnsmsg]="lib/dnsmsg.c"
SRC[config]="runner/config.c $CLI $CHECKS $ENGINE"
SRC[range]="lib/range.c"
SRC[sanitize]="lib/sanitize.c"
SRC[der]="lib/tls.c lib/tls_openssl.c lib/net.c lib/sched.c lib/deadline.c lib/err.c lib/strbuf.c
	lib/sanitize.c"
# (binaries[] names check_mta_sts too: its check, the policy parser, libcurl)
SRC[options]="$CLI cli/binary_list.c cli/binary_sts.c $CHECKS checks/sts.c $ENGINE lib/sts.c
	lib/https_curl.c lib/tls_openssl.c"
SRC[sts]="lib/sts.c lib/sanitize.c"
FULL_LIBS="-lcares -lyaml -lssl -lcrypto -lpthread -lm"
LIBS[smtp]=""
LIBS[dnsmsg]=""
LIBS[config]="$FULL_LIBS"
LIBS[range]="-lm"
LIBS[sanitize]=""
LIBS[der]="-lssl -lcrypto -lpthread -ldl"
LIBS[options]="$FULL_LIBS -lcurl"
LIBS[sts]=""
# Longest input: a reply may be 64 KiB (SMTP_REPLY_MAX_BYTES), a config
# a few KiB, a range is cut at 64 bytes.
MAXLEN[smtp]=70000
MAXLEN[dnsmsg]=4096
MAXLEN[config]=8192
MAXLEN[range]=80
MAXLEN[sanitize]=4096
MAXLEN[der]=8192
MAXLEN[options]=1024
MAXLEN[sts]=70000
ALL=(smtp dnsmsg config range sanitize der options sts)

[ $# -ge 1 ] || usage
SECONDS_EACH=$1
shift
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] && [ "$SECONDS_EACH" -ge 1 ] || usage
if [ $# -eq 0 ]; then NAMES=("${ALL[@]}"); else NAMES=("$@"); fi
for n in "${NAMES[@]}"; do
	[ -n "${SRC[$n]+x}" ] || { echo "tests/fuzz.sh: no harness '$n'" >&2; usage; }
done

CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "not ok - fuzz: clang is not installed (apt-get install clang)"
	exit 1
fi

F=build/fuzz
mkdir -p "$F/obj" "$F/crashes" "$F/corpus"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. $(pkg-config --cflags openssl libcares yaml-0.1 2>/dev/null)"
CFLAGS="$CFLAGS -DMTAPROBE_LIBDIR=\"/nonexistent\" $SAN"

# Compile every source any chosen harness needs, once, with coverage
# (fuzzer-no-link); again only when it or a header changed.
declare -A need
for n in "${NAMES[@]}"; do for s in ${SRC[$n]}; do need[$s]=1; done; done
newest_hdr=$(ls -t lib/*.h checks/*.h cli/*.h runner/*.h | head -1)
compile() { # SRC -> build/fuzz/obj/SRC.o; prints the error on failure
	local o=$F/obj/${1%.c}.o
	if [ -f "$o" ] && [ "$o" -nt "$1" ] && [ "$o" -nt "$newest_hdr" ]; then return 0; fi
	mkdir -p "$(dirname "$o")"
	# shellcheck disable=SC2086
	$CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$o" "$1" 2>"$o.err" || {
		echo "# cannot compile $1:"
		sed 's/^/#   /' "$o.err" | head -20
		return 1
	}
}
export -f compile
export CC CFLAGS F newest_hdr
if ! printf '%s\n' "${!need[@]}" | xargs -P 2 -I{} bash -c 'compile {}'; then
	for n in "${NAMES[@]}"; do echo "not ok - fuzz $n: the library does not compile"; done
	exit 1
fi

# Link the harnesses; one that does not build is a failure of its own.
declare -A BUILT
fail=0
for n in "${NAMES[@]}"; do
	objs=()
	for s in ${SRC[$n]}; do objs+=("$F/obj/${s%.c}.o"); done
	# shellcheck disable=SC2086
	if $CC $CFLAGS -fsanitize=fuzzer -o "$F/fuzz_$n" "tests/fuzz/fuzz_$n.c" "${objs[@]}" \
		${LIBS[$n]} 2>"$F/fuzz_$n.err"; then
		BUILT[$n]=1
	else
		echo "not ok - fuzz $n: does not build"
		sed 's/^/#   /' "$F/fuzz_$n.err" | head -20
		fail=1
	fi
done

run_one() { # NAME SECONDS -> build/fuzz/NAME.log, build/fuzz/NAME.tap
	local n=$1 secs=$2
	local log=$F/$n.log corpus=$F/corpus/$n
	mkdir -p "$corpus"
	# a writable copy of the seeds; what earlier runs found stays
	[ -d "tests/fuzz/corpus/$n" ] && cp -n "tests/fuzz/corpus/$n"/* "$corpus"/ 2>/dev/null
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$F/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$3" -print_final_stats=1 -artifact_prefix="$F/crashes/$n-" \
		"$corpus" >"$log" 2>&1
	local rc=$? runs time_s summary artifact
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
	[ -n "$runs" ] || runs=$(sed -nE 's/^Done ([0-9]+) runs.*/\1/p' "$log" | tail -1)
	time_s=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
		echo "ok - fuzz $n: ${runs:-0} executions in ${time_s:-$secs} s, no crash" >"$F/$n.tap"
		return
	fi
	summary=$(grep -m1 -E '^fuzz: invariant broken at ' "$log" | sed 's/^fuzz: //')
	[ -n "$summary" ] || summary=$(grep -m1 -E '^SUMMARY: ' "$log")
	[ -n "$summary" ] || summary=$(grep -m1 -E '==[0-9]+==ERROR: |ERROR: libFuzzer|runtime error' "$log" |
		sed -E 's/^==[0-9]+==//')
	[ -n "$summary" ] || summary="exit status $rc, see $log"
	summary=$(printf '%s' "$summary" | sed -E 's/ \(BuildId: [0-9a-f]+\)//')
	artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -1)
	{
		echo "not ok - fuzz $n: $summary${artifact:+ (reproducer: $artifact)}"
		[ -n "$artifact" ] && [ -f "$artifact" ] &&
			echo "#   input (hex): $(head -c 256 "$artifact" | od -An -tx1 | tr -d ' \n')"
		# the stack without libFuzzer's and the sanitizers' own frames
		grep -E '^ +#[0-9]+ ' "$log" |
			grep -vE ' in (fuzzer::|__sanitizer|__asan|__ubsan|__interceptor|abort|raise|gsignal|__pthread_kill|main |_start )|libc\.so|__libc_start' |
			head -12 | sed -E -e 's/^ */#   /' -e 's/ \(BuildId: [0-9a-f]+\)//'
		echo "#   log: $log"
	} >"$F/$n.tap"
}
export -f run_one

# Two at a time (CI machines have 2 CPUs); lines in the order asked for.
todo=()
for n in "${NAMES[@]}"; do
	[ -n "${BUILT[$n]+x}" ] || continue
	rm -f "$F/$n.tap"
	todo+=("$n ${MAXLEN[$n]}")
done
printf '%s\n' "${todo[@]}" | xargs -r -P 2 -L 1 bash -c 'run_one "$1" '"$SECONDS_EACH"' "$2"' _
for n in "${NAMES[@]}"; do
	[ -n "${BUILT[$n]+x}" ] || continue
	if [ -f "$F/$n.tap" ]; then cat "$F/$n.tap"; else echo "not ok - fuzz $n: did not run"; fi
	grep -q '^ok ' "$F/$n.tap" 2>/dev/null || fail=1
done
exit "$fail"
