#!/usr/bin/env bash
# tests/integration_relay.sh BUILD_DIR - check_mta_relay against the scripted
# server (refusing, open, tempfailing, spoof-open, percent-hack-open, dropping
# with 421), a real Postfix refusing and open, and a real Exim 4 refusing and
# open.  After every run against the scripted server, its transcript must
# show that no DATA or BDAT was ever sent.  Loopback only.  Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
RELAY=$B/check_mta_relay
PF_S="" PF_O="" EX_O="" EX_R=""
cleanup() {
	[ -n "$PF_S" ] && tests/postfix.sh stop "$PF_S" >/dev/null 2>&1
	[ -n "$PF_O" ] && tests/postfix.sh stop "$PF_O" >/dev/null 2>&1
	[ -n "$EX_O" ] && tests/exim.sh stop "$EX_O" >/dev/null 2>&1
	[ -n "$EX_R" ] && tests/exim.sh stop "$EX_R" >/dev/null 2>&1
	t_exit
}
trap cleanup EXIT

P=27200
declare -A SP
PKI=$T_TMP/pki
tests/mkcerts.sh "$PKI" >/dev/null || exit 1
for s in relay_refuse relay_open relay_tempfail relay_spoof relay_percent relay_drop421 silent \
	relay_tls_first_open relay_tls_first_auth relay_auth_notls relay_sender_refused \
	relay_sender_refused_all relay_slow_greeting relay_slow_rcpt relay_catchall relay_localhost relay_auth_550 relay_catchall_ip; do
	P=$((P + 1))
	SP[$s]=$P
	t_sim "$s" "$P" -C "$PKI" -T "$T_TMP/$s.transcript" || exit 1
done
no_data() {	# no_data SCENARIO: the server never saw DATA, BDAT or a body
	t_assert "relay: $1: no DATA/BDAT ever sent" bash -c '! grep -qE "^C: (DATA|BDAT)" "$1"' _ "$T_TMP/$1.transcript"
}

t_check "relay: refusing server is OK, perfdata counts" 0 \
	'MTA RELAY OK - 127\.0\.0\.1:[0-9]+ 3 of 3 relay tests refused \|.* accepted=0;;;0; refused=3;;;0; tempfail=0;;;0; tests=3;;;0;' 3 \
	"$RELAY" -H $L -p "${SP[relay_refuse]}"
t_check "relay: --thorough against a refusing server is OK" 0 '12 of 12 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_refuse]}" --thorough
no_data relay_refuse
t_check "relay: open relay is CRITICAL, naming each accepted pair" 2 \
	'OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 2\.1\.5 Ok\); <> -> <mtaprobe@example\.net> \(250 2\.1\.5 Ok\); <mtaprobe@mail\.example\.test> -> .*accepted=3;' 3 \
	"$RELAY" -H $L -p "${SP[relay_open]}"
t_check "relay: -f/-r choose the addresses" 2 'RCPT accepted for <me@example\.com> -> <you@example\.net>' 3 \
	"$RELAY" -H $L -p "${SP[relay_open]}" -f me@example.com -r you@example.net
t_check "relay: --thorough against an open relay, -v lists every pair" 2 'RCPT accepted for .* and 1 more \(-v lists them\).*accepted=4;;;0; refused=0;;;0; tempfail=0;;;0; tests=12;;;0; inconclusive=8;' 3 \
	"$RELAY" -H $L -p "${SP[relay_open]}" --thorough -v
t_assert "relay: -v names the domain's source, the catch-all control and every pair's reply" \
	grep -qz 'own domain mail\.example\.test (from the greeting).*control: .*mtaprobe-no-such-user@mail\.example\.test>: 250 2\.1\.5 Ok (any local part.*<mtaprobe%example\.net@mail\.example\.test>: accepted, inconclusive.*<mtaprobe@example\.org> -> <@mail\.example\.test:mtaprobe@example\.net>: ACCEPTED 250 2\.1\.5 Ok' <<<"$T_LAST_OUT"
no_data relay_open
t_check "relay: 4xx and no 2xx is WARNING (inconclusive)" 1 'inconclusive: 3 of 3 relay tests temporarily refused.*tempfail=3;' 3 \
	"$RELAY" -H $L -p "${SP[relay_tempfail]}"
no_data relay_tempfail
t_check "relay: open only for a spoofed local sender is CRITICAL" 2 'RCPT accepted for <mtaprobe@mail\.example\.test> -> <mtaprobe@example\.net>' 3 \
	"$RELAY" -H $L -p "${SP[relay_spoof]}"
no_data relay_spoof
t_check "relay: --domain sets the spoofed sender's domain" 0 '3 of 3 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_refuse]}" --domain example.test -v
t_assert "relay: -v says the domain came from --domain, spoofed sender uses it" \
	grep -qz 'own domain example\.test (from --domain).*<mtaprobe@example\.test> -> <mtaprobe@example\.net>: refused' <<<"$T_LAST_OUT"
t_check "relay: percent hack open: quick set is OK" 0 '3 of 3 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_percent]}"
t_check "relay: percent hack open: --thorough is CRITICAL" 2 'RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe%example\.net@mail\.example\.test>' 3 \
	"$RELAY" -H $L -p "${SP[relay_percent]}" --thorough
no_data relay_percent
t_check "relay: 421 after two RCPTs: reconnects and finishes the quick set" 0 '3 of 3 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_drop421]}" -v
t_assert "relay: -v shows the drop and the reconnect" grep -q 'dropped (421 4\.7\.0 .*), reconnecting' <<<"$T_LAST_OUT"
t_check "relay: 421 after two RCPTs: --thorough still ends with a verdict inside -t 5" 0 '12 of 12 relay tests refused' 5 \
	"$RELAY" -H $L -p "${SP[relay_drop421]}" --thorough -t 5
no_data relay_drop421
# --- what other MTAs do: STARTTLS first, logins, refused senders, pauses --------------
t_check "relay: 530 'STARTTLS first' on plain: tests over TLS, and an open relay there is CRITICAL" 2 \
	'OPEN RELAY over TLS: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 2\.1\.5 Ok\)' 3 \
	"$RELAY" -H $L -p "${SP[relay_tls_first_open]}" -v
t_assert "relay: ... -v says the server wanted STARTTLS first" grep -q 'the server wants STARTTLS first: testing over TLS' <<<"$T_LAST_OUT"
t_assert "relay: ... smtpsim saw STARTTLS, then MAIL over TLS" \
	grep -Pzq 'S: 530 5\.7\.0 Must issue a STARTTLS command first\n(C: RSET\nS: 250[^\n]*\n)?C: STARTTLS\nS: 220 [^\n]*\n#: TLS handshake[^\n]*\nC: EHLO [^\n]*\n(S: 250[^\n]*\n)+C: MAIL FROM:<mtaprobe@example\.org>\nS: 250' \
	"$T_TMP/relay_tls_first_open.transcript"
t_check "relay: ... and with -S the same verdict" 2 'OPEN RELAY: RCPT accepted' 3 \
	"$RELAY" -H $L -p "${SP[relay_tls_first_open]}" -S
no_data relay_tls_first_open
t_check "relay: 530 before TLS and a login wanted over TLS: refused, requires authentication" 0 \
	'RELAY OK - .* 3 of 3 relay tests refused over TLS \(requires authentication\)' 3 \
	"$RELAY" -H $L -p "${SP[relay_tls_first_auth]}"
t_check "relay: ... --thorough too" 0 '12 of 12 relay tests refused over TLS \(requires authentication\)' 3 \
	"$RELAY" -H $L -p "${SP[relay_tls_first_auth]}" --thorough
no_data relay_tls_first_auth
t_check "relay: 530 and no STARTTLS offered: refused, requires authentication" 0 \
	'RELAY OK - .* 3 of 3 relay tests refused \(requires authentication\)' 3 \
	"$RELAY" -H $L -p "${SP[relay_auth_notls]}"
t_check "relay: '550 Authentication required' (no enhanced code) is a login wanted too" 0 \
	'RELAY OK - .* 3 of 3 relay tests refused \(requires authentication\)' 3 \
	"$RELAY" -H $L -p "${SP[relay_auth_550]}"
t_check "relay: senders refused at MAIL FROM are retried with <>, and the summary says so" 0 \
	'RELAY OK - .* 3 of 3 relay tests refused \(2 with the null sender <>, the sender being refused\)' 3 \
	"$RELAY" -H $L -p "${SP[relay_sender_refused]}" -v
t_assert "relay: ... -v names the refused sender and the retry" \
	grep -q '<mtaprobe@example\.org> refused at MAIL FROM (550 5\.1\.8 No MX for your FROM address): retrying with <>' <<<"$T_LAST_OUT"
t_assert "relay: ... and shows the retried test with the sender it was made with" \
	grep -q '^<> -> <mtaprobe@example\.net>: refused 554' <<<"$T_LAST_OUT"
t_check "relay: --thorough: the catch-all control's retry is not counted as a test's" 0 \
	'12 of 12 relay tests refused \(11 with the null sender <>' 3 \
	"$RELAY" -H $L -p "${SP[relay_sender_refused]}" --thorough
t_check "relay: every sender refused at MAIL FROM: not tested, WARNING (not OK)" 1 \
	'relay not tested: every sender was refused at MAIL FROM \(550 5\.7\.1 Sender rejected\).* tests=0;' 3 \
	"$RELAY" -H $L -p "${SP[relay_sender_refused_all]}"
no_data relay_sender_refused_all
t_check "relay: a 1.5 s greeting pause is paid once: --thorough completes within -t 4" 0 \
	'12 of 12 relay tests refused' 4.5 "$RELAY" -H $L -p "${SP[relay_slow_greeting]}" --thorough -t 4
t_assert "relay: ... in one session (one EHLO)" \
	bash -c '[ "$(grep -c "^C: EHLO" "$1")" -eq 1 ]' _ "$T_TMP/relay_slow_greeting.transcript"
t_check "relay: the deadline cuts --thorough short: said, and CRITICAL (-t's state)" 2 \
	'RELAY CRITICAL - .*timeout after [0-9]+ of 12 tests' 2.5 "$RELAY" -H $L -p "${SP[relay_slow_rcpt]}" --thorough -t 2
t_check "relay: ... with -t 2:warning it is WARNING" 1 'RELAY WARNING - .*timeout after [0-9]+ of 12 tests' 2.5 \
	"$RELAY" -H $L -p "${SP[relay_slow_rcpt]}" --thorough -t 2:warning
no_data relay_slow_rcpt
t_check "relay: catch-all: tricks the server may take as local are inconclusive, never OPEN RELAY" 1 \
	'RELAY WARNING - .*inconclusive: 8 address tricks accepted, but the server takes any recipient in its own domain' 3 \
	"$RELAY" -H $L -p "${SP[relay_catchall]}" --thorough -v
t_assert "relay: ... \"user@outside\" and outside!user among them" \
	grep -qz '<"mtaprobe@example\.net">: accepted, inconclusive.*<example\.net!mtaprobe>: accepted, inconclusive' <<<"$T_LAST_OUT"
t_check "relay: catch-all: the quick set stays OK" 0 '3 of 3 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_catchall]}"
no_data relay_catchall
t_check "relay: a catch-all at the address literal makes the [IP] tricks inconclusive too" 1 \
	'RELAY WARNING - .*inconclusive: 1 address tricks accepted' 3 \
	"$RELAY" -H $L -p "${SP[relay_catchall_ip]}" --thorough -v
t_assert "relay: ... the control at [127.0.0.1] was asked" \
	grep -q 'control: <mtaprobe@example\.org> -> <mtaprobe-no-such-user@\[127\.0\.0\.1\]>: 250' <<<"$T_LAST_OUT"
t_check "relay: greeting 'localhost': the spoofed sender is an address literal" 0 '3 of 3 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_localhost]}" -vvv
t_assert "relay: ... MAIL FROM:<mtaprobe@[127.0.0.1]>" grep -q '^C: MAIL FROM:<mtaprobe@\[127\.0\.0\.1\]>$' <<<"$T_LAST_OUT"
t_check "relay: ... --thorough makes each test once (the own domain is the address)" 0 '10 of 10 relay tests refused' 3 \
	"$RELAY" -H $L -p "${SP[relay_localhost]}" --thorough

t_check "relay: unreachable server is UNKNOWN" 3 'RELAY UNKNOWN - 127\.0\.0\.1:27299 connect: Connection refused' 3 \
	"$RELAY" -H $L -p 27299
t_check "relay: silent server is UNKNOWN within -t 2" 3 'could not test: greeting: timeout after 2\.0s' 2.5 \
	"$RELAY" -H $L -p "${SP[silent]}" -t 2
t_check "relay: a bad --from is a usage error naming the option" 3 "-f/--from: 'not an address' is not a mail address" 1 \
	"$RELAY" -H $L -f "not an address"

# --- real Postfix: relaying refused for the loopback client, and open -------------
PF_S=$(mktemp -d)
PF_O=$(mktemp -d)
if tests/postfix.sh start "$PF_S" 10425 strict >"$T_TMP/pf.log" 2>&1 &&
	tests/postfix.sh start "$PF_O" 10426 open >>"$T_TMP/pf.log" 2>&1; then
	t_check "relay: Postfix refusing (127.0.0.1 not trusted) is OK" 0 '3 of 3 relay tests refused' 5 \
		"$RELAY" -H $L -p 10425 -v
	t_assert "relay: Postfix says Relay access denied" grep -q '554 5\.7\.1 <mtaprobe@example\.net>: Relay access denied' <<<"$T_LAST_OUT"
	t_check "relay: Postfix refusing, --thorough, fast despite error delays" 0 '12 of 12 relay tests refused' 2 \
		"$RELAY" -H $L -p 10425 --thorough -v
	PF_THOROUGH=$T_LAST_OUT
	t_check "relay: Postfix open relay is CRITICAL" 2 'OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 2\.1\.5 Ok\)' 5 \
		"$RELAY" -H $L -p 10426 --thorough -v
	PF_OPEN=$T_LAST_OUT
	for d in "$PF_S" "$PF_O"; do
		t_assert "relay: Postfix queue ${d##*/} is empty afterwards (postqueue -p)" \
			bash -c 'postqueue -c "$1" -p 2>&1 | grep -q "Mail queue is empty"' _ "$d"
	done
	t_assert "relay: Postfix logged no message (no cleanup/queue activity)" \
		bash -c '! grep -qE "cleanup\[|qmgr\[.*from=" "$1"/maillog "$2"/maillog' _ "$PF_S" "$PF_O"
	printf '%s\n' "# Postfix refusing, --thorough:" "$PF_THOROUGH" "# Postfix open, --thorough:" "$PF_OPEN" |
		sed 's/^/#   /' >"$T_TMP/postfix-replies.txt"
	[ -n "${RELAY_REPLIES:-}" ] && cp "$T_TMP/postfix-replies.txt" "$RELAY_REPLIES.postfix"
else
	t_report "relay: Postfix instances started" " tests/postfix.sh failed" "$(cat "$T_TMP/pf.log")"
fi

# --- real Exim 4, run from its extracted Debian package ---------------------------
if [ -x tests/exim.sh ]; then
	EX_R=$(mktemp -d)
	EX_O=$(mktemp -d)
	chmod 755 "$EX_R" "$EX_O"
	tests/exim.sh start "$EX_R" 10427 refuse >"$T_TMP/exim.log" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		T_N=$((T_N + 1))
		echo "ok $T_N - relay: Exim # SKIP $(grep -m1 SKIP "$T_TMP/exim.log")"
	elif [ $rc = 0 ] && tests/exim.sh start "$EX_O" 10428 open >>"$T_TMP/exim.log" 2>&1; then
		t_check "relay: Exim refusing is OK" 0 'relay tests refused' 5 "$RELAY" -H $L -p 10427 --thorough -v
		EX_REFUSE=$T_LAST_OUT
		t_check "relay: Exim open relay is CRITICAL" 2 'OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net>' 5 \
			"$RELAY" -H $L -p 10428 --thorough -v
		EX_OPEN=$T_LAST_OUT
		for d in "$EX_R" "$EX_O"; do
			t_assert "relay: Exim queue ${d##*/} is empty afterwards" bash -c '[ "$(tests/exim.sh queue "$1")" = 0 ]' _ "$d"
		done
		[ -n "${RELAY_REPLIES:-}" ] && printf '%s\n' "# Exim refusing:" "$EX_REFUSE" "# Exim open:" "$EX_OPEN" >"$RELAY_REPLIES.exim"
	else
		t_report "relay: Exim instances started" " tests/exim.sh failed" "$(cat "$T_TMP/exim.log")"
	fi
fi
