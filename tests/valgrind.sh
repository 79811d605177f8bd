#!/usr/bin/env bash
# tests/valgrind.sh BUILD_DIR - check_mta_starttls, check_mta_cert,
# check_mta_relay and the runner, once each under valgrind (memcheck,
# --leak-check=full, definite leaks are errors) against the scripted server
# (the STARTTLS scenario for starttls, cert and the runner; relay_refuse for
# relay).  One TAP line each: "ok - valgrind check_mta_cert: 0 errors,
# 0 definite leaks", from valgrind's ERROR SUMMARY and "definitely lost".
# Valgrind and ASan do not mix: given an ASan build, the release build
# build/ is used (and said so).  Ports 27806-27808 on 127.0.0.1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${1:-build}
B=${B%/}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "not ok - valgrind is not installed (apt-get install valgrind)"
	exit 1
fi
if ldd "$B/check_mta_cert" 2>/dev/null | grep -q libasan; then
	echo "# $B is an ASan build; valgrind runs the release build build/ instead"
	B=build
fi
for f in check_mta_starttls check_mta_cert check_mta_relay mtaprobe smtpsim; do
	[ -x "$B/$f" ] || { echo "not ok - valgrind: $B/$f is missing (make)"; exit 1; }
done
SIM=$B/smtpsim

. tests/lib.sh
TMP=$T_TMP
cleanup() {
	t_cleanup
	rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sim() {	# sim SCENARIO PORT [args]: the scripted server, or the run ends
	t_sim "$@" || { echo "not ok - valgrind: smtpsim $1 did not start on $2"; exit 1; }
}

tests/mkcerts.sh "$TMP/pki" >/dev/null || { echo "not ok - valgrind: tests/mkcerts.sh failed"; exit 1; }
P_TLS=27806 P_RELAY=27807
sim tls_starttls $P_TLS -C "$TMP/pki"
sim relay_refuse $P_RELAY
L=127.0.0.1
FAILED=0

# vg NAME WANT_RC_REGEX CMD...: one run under valgrind, one TAP line
vg() {
	local name=$1 want=$2 log=$TMP/$1.vg out rc errors definite p=""
	shift 2
	out=$(timeout 120 valgrind --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --log-file="$log" "$@" 2>&1)
	rc=$?
	errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n1)
	definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\2/p' "$log" | tail -n1)
	definite=${definite//,/}
	: "${definite:=0}"
	[ -n "$errors" ] || p+=" no ERROR SUMMARY from valgrind;"
	[ "${errors:-0}" -eq 0 ] || p+=" valgrind errors;"
	[ "$definite" -eq 0 ] || p+=" definite leaks;"
	[[ $rc =~ ^($want)$ ]] || p+=" exit $rc, wanted $want;"
	if [ -z "$p" ]; then
		echo "ok - valgrind $name: ${errors} errors, $definite definite leaks"
	else
		FAILED=1
		echo "not ok - valgrind $name: ${errors:-?} errors, $definite definite leaks;$p"
		printf '%s\n' "$out" | head -n 3 | sed 's/^/#   | /'
		# the first error or leak record, with its stack
		grep -E -A14 'Invalid|uninitialised|Mismatched|definitely lost in|Syscall param|Source and destination' "$log" |
			sed 's/^==[0-9]*== //' | head -n 30 | sed 's/^/#   /'
	fi
}

# exit codes: 0 expected from each against these servers (99 = valgrind error)
vg check_mta_starttls 0 "$B/check_mta_starttls" -H $L -p $P_TLS -t 60
vg check_mta_cert 0 "$B/check_mta_cert" -H $L -p $P_TLS -t 60 --ca-file "$TMP/pki/root.crt"
vg check_mta_relay 0 "$B/check_mta_relay" -H $L -p $P_RELAY -t 60
# (the terminal mode exits with the worst state: cert is CRITICAL without --ca-file;
# two hosts, so the checks run as fibers of the scheduler, not on threads)
vg mtaprobe '[0-2]' "$B/mtaprobe" -q -4 -p $P_TLS -t 60 --checks port,banner,starttls,cert,relay $L localhost
exit $FAILED
