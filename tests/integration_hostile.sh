#!/usr/bin/env bash
# tests/integration_hostile.sh BUILD_DIR - every plugin against servers that
# hang up hard (RST, SO_LINGER 0) at each step of the dialogue, plain and
# over TLS, and against servers that send replies nobody asked for (answering
# twice, capabilities before EHLO, a desynchronising open relay); then the
# mtaprobe runner with healthy and resetting targets.  For every run: the
# exit code is 0..3 (never 141 = SIGPIPE, never another signal), the first
# line is a standard status line whose state matches the exit code, the
# summary names the step, and the run ends within -t + 0.5 s.  Loopback only,
# ports 27501-27560.  Prints TAP lines.  SIM=... picks another smtpsim (to
# run an older build's plugins against this one's scenarios).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"

# Stop what we started, by PID; a server that does not end in 5 s is killed.
cleanup() {
	t_stop_all
	t_rm_tmp
}
trap cleanup EXIT
TMO=3 # -t for every run; the bound is TMO + 0.5 s
BOUND=$(awk -v t=$TMO 'BEGIN{print t + 0.5}')

t_pki "hostile: test PKI generated"

P=27500
declare -A SP
for s in reset_connect reset_greeting reset_ehlo_mid reset_starttls_220 reset_tls_handshake \
	reset_tls_handshake_implicit reset_tls_ehlo reset_tls_ehlo_implicit reset_relay_rcpt \
	reset_quit reset_after_221 reset_after_221_implicit relay_twice relay_twice_late \
	relay_mail_twice_late relay_desync banner_pipelined_caps ehlo_twice; do
	P=$((P + 1))
	SP[$s]=$P
	t_sim "$s" "$P" -C "$PKI" -T "$T_TMP/$s.transcript" || exit 1
done

# h_check SCENARIO WANT_RC REGEX CHECK [ARGS...]: t_check of $B/check_mta_CHECK
# -H 127.0.0.1 -p PORT(SCENARIO) -t $TMO --ca-file ... ARGS, bound $TMO + 0.5 s.
# WANT_RC is an ERE of exit codes (2, [12], [0-3]); REGEX must match the
# first line; NOT_RE (if set in the environment of the call) must not.
h_check() {
	local scn=$1 want=$2 re=$3 chk=$4
	shift 4
	T_CHECK_FIRST=1 t_check "hostile: $scn: $chk${*:+ $*}" "$want" "$re" "$BOUND" \
		"$B/check_mta_$chk" -H $L -p "${SP[$scn]}" -t $TMO "${CA[@]}" "$@"
}

# --- hard resets (RST) before and during the plain-text dialogue ------------------
# An RST straight after accept() can reach the client before it sees its
# connect() complete: then connect itself reports the reset.
RC='connect: Connection reset'
h_check reset_connect 2 "($RC|greeting: connection reset)" banner
h_check reset_connect 2 "($RC|greeting: connection reset)" starttls
h_check reset_connect 2 "($RC|greeting: connection reset)" cert
h_check reset_connect 3 "($RC|could not test: greeting: connection reset)" relay
h_check reset_connect 2 "($RC|TLS handshake)" port --tls
h_check reset_connect 2 "($RC|TLS handshake)" banner -s
h_check reset_connect 2 "($RC|TLS handshake)" cert -s
# The RST right behind the greeting may overtake it (Linux then drops the
# unread 220): the reset is reported at connect, the greeting or EHLO,
# timing decides which, and each is the truth.
for c in banner starttls cert; do
	h_check reset_greeting 2 "($RC|(greeting|EHLO): connection (reset|closed))" $c
	h_check reset_ehlo_mid 2 'EHLO: connection (reset|closed)' $c
done
for a in "" -S; do
	h_check reset_greeting 3 "($RC|could not test: (greeting|EHLO): connection (reset|closed))" relay $a
	h_check reset_ehlo_mid 3 'could not test: EHLO: connection (reset|closed)' relay $a
done

# --- resets around STARTTLS and while TLS is up (no close_notify) -----------------
h_check reset_starttls_220 2 'during the TLS handshake' starttls
h_check reset_starttls_220 2 'during the TLS handshake' cert
h_check reset_starttls_220 3 'could not test: .*during the TLS handshake' relay -S
# After a complete STARTTLS handshake the next step is EHLO over TLS: the
# summary must say so (a bare "EHLO" reads like the plain-text one).
for s in reset_tls_handshake reset_tls_ehlo; do
	h_check $s 2 'EHLO.*over TLS|after the TLS handshake' starttls
	h_check $s 3 'could not test: .*(EHLO.*over TLS|after the TLS handshake)' relay -S
	# the certificate is fetched by then; cert's next command is QUIT
	h_check $s 0 'CERT OK .*verified' cert
done
h_check reset_tls_handshake_implicit 2 'greeting: connection (reset|closed)' banner -s
h_check reset_tls_handshake_implicit 2 'greeting: connection (reset|closed)' starttls -s
h_check reset_tls_handshake_implicit 3 'could not test: greeting: connection (reset|closed)' relay -s
h_check reset_tls_handshake_implicit 0 'CERT OK .*verified' cert -s
h_check reset_tls_handshake_implicit 0 'PORT OK .*TLSv1\.3 .*handshake in' port --tls
h_check reset_tls_ehlo_implicit 2 'EHLO: connection (reset|closed)' banner -s
h_check reset_tls_ehlo_implicit 2 'EHLO: connection (reset|closed)' starttls -s
h_check reset_tls_ehlo_implicit 3 'could not test: EHLO: connection (reset|closed)' relay -s
h_check reset_tls_ehlo_implicit 0 'CERT OK .*verified' cert -s
h_check reset_tls_ehlo_implicit 0 'PORT OK .*handshake in' port --tls

# --- a reset in the middle of the relay tests: at least WARNING, naming RCPT ------
h_check reset_relay_rcpt '[12]' 'RCPT.*reset|reset.*RCPT' relay -S
h_check reset_relay_rcpt '[12]' 'RCPT.*reset|reset.*RCPT' relay

# --- a reset at QUIT, and during the TLS shutdown after 221: the work is done,
# and a failed QUIT never changes the state (--help, -q) ---------------------------
for s in reset_quit reset_after_221; do
	h_check $s 0 'BANNER OK - .* 220 mail\.example\.test' banner
	h_check $s 0 'STARTTLS OK - .* STARTTLS: TLSv1\.3' starttls
	h_check $s 0 'CERT OK .*verified' cert
	h_check $s 0 'RELAY OK - .* 3 of 3 relay tests refused' relay
	h_check $s 0 'RELAY OK - .* 3 of 3 relay tests refused' relay -S
done
h_check reset_after_221_implicit 0 'BANNER OK' banner -s
h_check reset_after_221_implicit 0 'STARTTLS OK - .* implicit TLS: TLSv1\.3' starttls -s
h_check reset_after_221_implicit 0 'CERT OK .*verified' cert -s
h_check reset_after_221_implicit 0 'PORT OK' port --tls
h_check reset_after_221_implicit 0 'RELAY OK - .* 3 of 3 relay tests refused' relay -s
t_assert "hostile: smtpsim really sent RSTs, also while TLS was up" \
	bash -c 'grep -q "^#: reset: RST to .* (TLS up, no close_notify)$" "$1"/reset_after_221.transcript &&
		grep -q "^#: reset: RST to " "$1"/reset_greeting.transcript' _ "$T_TMP"

# --- replies nobody asked for: never OK, and the summary says so ------------------
STRAY='the server sent [0-9]+ bytes nobody asked for before'
NOT_RE='3 of 3 relay tests refused' h_check relay_twice '[12]' "$STRAY RSET" relay
# a late second reply is either still buffered before the next command or
# read as RSET's answer (RSET always succeeds): timing decides which, the
# verdict must be the same
OUT_OF_STEP="($STRAY [A-Z]+|RSET answered [0-9]{3} .*out of step)"
NOT_RE='3 of 3 relay tests refused|OPEN RELAY' h_check relay_twice_late 2 "$OUT_OF_STEP" relay
NOT_RE='3 of 3 relay tests refused|OPEN RELAY' h_check relay_mail_twice_late 2 "$OUT_OF_STEP" relay
NOT_RE='3 of 3 relay tests refused' h_check relay_desync '[12]' "$STRAY RCPT" relay
for c in banner starttls cert; do
	h_check banner_pipelined_caps 2 "$STRAY EHLO" $c
done
h_check banner_pipelined_caps '[123]' "$STRAY EHLO" relay
h_check ehlo_twice 2 "$STRAY QUIT" banner
h_check ehlo_twice 2 "$STRAY STARTTLS" starttls
h_check ehlo_twice 2 "$STRAY STARTTLS" cert
h_check ehlo_twice '[12]' "$STRAY MAIL" relay

# --- the runner: 3 healthy targets, 3 resetting after the TLS handshake -----------
for i in 1 2 3; do
	t_sim ok $((27550 + i)) || exit 1
	t_sim reset_tls_handshake $((27553 + i)) -C "$PKI" || exit 1
done
{
	echo "defaults: {timeout: $TMO, ca_file: $PKI/root.crt}"
	echo "concurrency: 6"
	echo "targets:"
	for i in 1 2 3; do
		echo "  - {name: ok$i, host: $L, port: $((27550 + i)), checks: [port, banner, starttls, cert, relay]}"
		echo "  - {name: rst$i, host: $L, port: $((27553 + i)), checks: [port, banner, starttls, cert, relay]}"
	done
} >"$T_TMP/hostile.yaml"
PROM=$T_TMP/hostile.prom
t0=$(date +%s%N)
out=$("$B/mtaprobe" -c "$T_TMP/hostile.yaml" -f prometheus -o "$PROM" 2>&1)
rc=$?
ms=$(t_ms_since "$t0")
p=""
[ "$rc" = 0 ] || p+=" exit $rc$([ "$rc" -ge 128 ] && echo " (signal $((rc - 128)))"), wanted 0;"
[ "$ms" -le $((TMO * 1000 + 500)) ] || p+=" took ${ms}ms, bound ${BOUND}s;"
t_report "hostile: runner, 3 healthy + 3 resetting targets, all checks, -f prometheus -o (${ms}ms)" "$p" "$out"
t_assert "hostile: runner: promtool check metrics accepts the file" bash -c 'promtool check metrics <"$1"' _ "$PROM"
for i in 1 2 3; do
	for c in port banner; do
		t_assert "hostile: runner: ok$i $c: mtaprobe_check_success 1" \
			grep -q "^mtaprobe_check_success{target=\"ok$i\",check=\"$c\",.*} 1$" "$PROM"
	done
	t_assert "hostile: runner: rst$i: a state for each of the 5 checks, starttls CRITICAL" bash -c '
		for c in port banner starttls cert relay; do
			grep -qE "^mtaprobe_check_state\{target=\"$2\",check=\"$c\",.*\} [0-3]$" "$1" || exit 1
		done
		grep -q "^mtaprobe_check_state{target=\"$2\",check=\"starttls\",.*} 2$" "$1"' _ "$PROM" "rst$i"
done

t_stop_all
t_assert "hostile: smtpsim stderr: no sanitizer report" \
	bash -c '! grep -qE "Sanitizer|runtime error" "$1"' _ "$T_TMP/smtpsim.err"
