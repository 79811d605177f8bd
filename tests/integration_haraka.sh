#!/usr/bin/env bash
# tests/integration_haraka.sh BUILD_DIR - every plugin against a real Haraka
# (npm package, installed by tests/mta/haraka.sh into a cache that survives
# between runs) in six configurations, each its own instance:
#   refuse      relay plugin (acl, nobody allowed) + rcpt_to.in_host_list
#   open        the same, but the test's client may relay (relay_acl_allow)
#   resolvable  mail_from.is_resolvable: outside senders' domains do not
#               resolve, MAIL FROM gets 550, only <> is accepted
#   early       early_talker: 5 s before the greeting, on every connection
#   early_slow  early_talker, and every RCPT answered 0.5 s late
#   tls         the tls plugin on port 25 (STARTTLS) and 465 (SMTPS)
# Haraka skips several checks for loopback and private clients, so it runs
# in a network namespace made here (veth: 100.64.77.1 here, 100.64.77.2
# there) and the plugins connect to 100.64.77.2 as an outside client.
# After the relay runs, every instance's protocol log must show RCPT TO
# commands but never DATA or BDAT, and its queue must be empty.  Prints
# TAP lines, timings as comments, and a server x config x plugin table.
# No Node.js/npm or no registry: SKIP lines, not failures.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
H=100.64.77.2
NS=mtaprobe-hk-$$
NS_UP=""
declare -A HP=([refuse]=2525 [open]=2526 [resolvable]=2527 [early]=2528 [early_slow]=2529 [tls]=25)
SMTPS=465

# Stop what we started, by PID; anything not gone in 5 s is killed.
cleanup() {
	t_stop_all
	[ -n "$NS_UP" ] && tests/mta/haraka.sh netns-down "$NS"
	t_rm_tmp
}
t_traps cleanup

# m_check NAME WANT_RC REGEX MAX CMD... : t_check, and a row of the table
m_check() {
	t_check "$@"
	t_table_row 11 62 140 "$@"
}

# --- Haraka, the test PKI, the namespace ----------------------------------------
SKIP_ALL="haraka: every plugin against Haraka"
if [ ! -x /usr/bin/python3 ]; then	# the namespace's resolver (tests/mta/haraka/nxdns.py)
	t_skip "$SKIP_ALL" "/usr/bin/python3 not found"
	exit 0
fi
t0=$(date +%s%N)
t_step "# haraka: " "$SKIP_ALL" "haraka: installed (tests/mta/haraka.sh install)" tests/mta/haraka.sh install
if [ ! -x "$T_STEP_OUT" ]; then
	t_report "haraka: installed (tests/mta/haraka.sh install)" " install failed" "$(cat "$T_TMP/step.err")"
	exit 0
fi
echo "# haraka: install step took $(t_ms_since "$t0") ms"

t_pki "haraka: test PKI generated"

# One run at a time uses 100.64.77.0/24 (parallel checkouts wait here).
exec 8>"${TMPDIR:-/tmp}/mtaprobe-haraka-netns.lock"
if ! flock -w 120 8; then
	t_report "haraka: network namespace lock" " another run held ${TMPDIR:-/tmp}/mtaprobe-haraka-netns.lock for 120 s" ""
	exit 0
fi
t_step "" "$SKIP_ALL" "haraka: network namespace $NS" tests/mta/haraka.sh netns-up "$NS"
NS_UP=1

t0=$(date +%s%N)
HD=$T_TMP/haraka
mkdir -p "$HD"
tests/mta/haraka.sh dns "$HD" "$NS" >"$HD/dns.log" 2>&1 &
T_PIDS+=($!)
started=1
for cfg in "${!HP[@]}"; do
	smtps=""
	[ "$cfg" = tls ] && smtps=$SMTPS
	if ! tests/mta/haraka.sh setup "$HD/$cfg" "$cfg" "${HP[$cfg]}" "$PKI" $smtps 2>"$HD/$cfg.setup.err"; then
		t_report "haraka: $cfg: instance set up" " setup failed" "$(cat "$HD/$cfg.setup.err")"
		started=0
		continue
	fi
	tests/mta/haraka.sh run "$HD/$cfg" "$NS" >"$HD/$cfg.log" 2>&1 &
	T_PIDS+=($!)
done
for cfg in "${!HP[@]}"; do
	n=1
	[ "$cfg" = tls ] && n=2
	if ! tests/mta/haraka.sh ready "$HD/$cfg.log" $n 20; then
		t_report "haraka: $cfg: listening on $H:${HP[$cfg]}" " not listening after 20 s" "$(tail -n 12 "$HD/$cfg.log")"
		started=0
	fi
done
grep -q 'listening on' "$HD/dns.log" || sleep 0.5
grep -q 'listening on' "$HD/dns.log" ||
	{ t_report "haraka: the namespace's NXDOMAIN resolver started" " no 'listening on'" "$(cat "$HD/dns.log")"; started=0; }
[ $started = 1 ] || exit 0
echo "# haraka: ${#HP[@]} instances and the resolver up in $(t_ms_since "$t0") ms"

P=${HP[refuse]}
R=("$B/check_mta_relay" -H "$H")

# --- (a) refuse: relaying refused for an outside client ---------------------------
m_check "haraka: refuse: port" 0 "MTA PORT OK - $H:$P connected in [0-9.]+s" 3 "$B/check_mta_port" -H $H -p $P
m_check "haraka: refuse: banner, --expect Haraka, --require-ext" 0 \
	"MTA BANNER OK - $H:$P 220 mail\.example\.test ESMTP Haraka/[0-9.]+ ready .*size=26214400B;" 3 \
	"$B/check_mta_banner" -H $H -p $P -e Haraka --require-ext PIPELINING,8BITMIME,SMTPUTF8,SIZE
m_check "haraka: refuse: starttls without the tls plugin is CRITICAL" 2 'STARTTLS not advertised' 3 \
	"$B/check_mta_starttls" -H $H -p $P
m_check "haraka: refuse: relay quick is OK, 3 of 3 refused" 0 \
	"MTA RELAY OK - $H:$P 3 of 3 relay tests refused \|.* accepted=0;;;0; refused=3;;;0; tempfail=0;;;0; tests=3;" 3 \
	"${R[@]}" -p $P -v
t_assert "haraka: refuse: relay -v shows Haraka's 550 for the outside recipient" \
	grep -q '<mtaprobe@example\.org> -> <mtaprobe@example\.net>: refused 550 I cannot deliver mail for <mtaprobe@example\.net>' <<<"$T_LAST_OUT"
m_check "haraka: refuse: relay --thorough is OK, 12 of 12 refused" 0 \
	"MTA RELAY OK - $H:$P 12 of 12 relay tests refused \|.* accepted=0;;;0; refused=12;" 3 \
	"${R[@]}" -p $P --thorough -v
t_assert "haraka: refuse: --thorough: the catch-all control is refused (host_list is example.test only)" \
	grep -q 'control: <mtaprobe@example\.org> -> <mtaprobe-no-such-user@mail\.example\.test>: 550' <<<"$T_LAST_OUT"

# --- (b) open: the client's network may relay -------------------------------------
P=${HP[open]}
m_check "haraka: open: relay quick is OPEN RELAY CRITICAL naming the pair" 2 \
	"MTA RELAY CRITICAL - $H:$P OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 [^)]*\).*accepted=3;" 3 \
	"${R[@]}" -p $P
m_check "haraka: open: relay --thorough is OPEN RELAY CRITICAL" 2 \
	"OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net>" 3 \
	"${R[@]}" -p $P --thorough -v
t_assert "haraka: open: Haraka logged relay=Y for the client" grep -q 'relay=Y' "$HD/open.log"

# --- (c) resolvable: 550 to MAIL FROM for senders whose domain does not resolve --
# A refused sender is not a relay refusal: the pair is retried with <>, the
# summary does not claim refusals of pairs whose RCPT was never tried.
P=${HP[resolvable]}
NOT_RE='(3 of 3|12 of 12) relay tests refused( \||$)' \
	m_check "haraka: resolvable: relay quick: MAIL FROM refused is not a relay refusal" 0 \
	'^MTA RELAY OK - .*(<>|null sender)' 5 "${R[@]}" -p $P -vvv
t_assert "haraka: resolvable: Haraka answered MAIL FROM:<mtaprobe@example.org> with 550 (no MX)" \
	grep -q "S: 550 No MX for your FROM address" <<<"$T_LAST_OUT"
t_assert "haraka: resolvable: the refused pair was retried with MAIL FROM:<> and RCPT TO the outside recipient" \
	grep -Pzq 'C: MAIL FROM:<mtaprobe@example\.org>\nS: 550 [^\n]*\n(C: RSET\nS: 250[^\n]*\n)?C: MAIL FROM:<>\nS: 250[^\n]*\nC: RCPT TO:<mtaprobe@example\.net>' <<<"$T_LAST_OUT"
NOT_RE='12 of 12 relay tests refused( \||$)' \
	m_check "haraka: resolvable: relay --thorough does not claim 12 of 12 refused" 0 \
	'^MTA RELAY OK - .*(<>|null sender)' 5 "${R[@]}" -p $P --thorough

# --- (d) early_talker: 5 s before every greeting ------------------------------------
P=${HP[early]}
m_check "haraka: early: banner waits out the 5 s pause, OK" 0 \
	"MTA BANNER OK - $H:$P 220 mail\.example\.test ESMTP Haraka/[0-9.]+ ready \([0-9A-F]+\) \([5-9]\.[0-9]+s\)" 8 \
	"$B/check_mta_banner" -H $H -p $P -t 9
m_check "haraka: early: relay quick -t 10 is OK" 0 '3 of 3 relay tests refused' 10.5 "${R[@]}" -p $P -t 10
m_check "haraka: early: relay --thorough -t 10 completes all 12 tests (the pause is not paid per few tests)" 0 \
	"MTA RELAY OK - $H:$P 12 of 12 relay tests refused" 10.5 "${R[@]}" -p $P --thorough -t 10 -v
t_assert "haraka: early: Haraka saw no early talker" bash -c '! grep -q "early=Y" "$1"' _ "$HD/early.log"
P=${HP[early_slow]}
NOT_RE='^MTA RELAY OK' \
	m_check "haraka: early_slow: relay --thorough -t 8 cut short by the deadline says so, not OK" '[123]' \
	'timeout after [0-9]+ of 12 tests' 8.5 "${R[@]}" -p $P --thorough -t 8

# --- (e) tls: STARTTLS on 25, SMTPS on 465 ------------------------------------------
P=${HP[tls]}
SNI=(--sni mail.example.test)
m_check "haraka: tls: starttls OK with --ca-file" 0 \
	"MTA STARTTLS OK - $H:$P STARTTLS: TLSv1\.3 TLS_[A-Z0-9_]+ \(handshake" 5 \
	"$B/check_mta_starttls" -H $H -p $P "${CA[@]}" "${SNI[@]}" -v
t_assert "haraka: tls: starttls -v: the chain verified" grep -q 'verification: ok' <<<"$T_LAST_OUT"
m_check "haraka: tls: cert OK, verified for mail.example.test with --ca-file" 0 \
	"MTA CERT OK - $H:$P EC-256 certificate expires in 36[45] days .*CN=mail\.example\.test.*verified \|" 5 \
	"$B/check_mta_cert" -H $H -p $P "${CA[@]}" "${SNI[@]}"
m_check "haraka: tls: cert by address without --sni: the certificate has no IP $H, CRITICAL" 2 \
	'verification failed: .*(mismatch|IP address)' 5 \
	"$B/check_mta_cert" -H $H -p $P "${CA[@]}"
m_check "haraka: tls: port -s on the SMTPS port completes the handshake" 0 \
	"MTA PORT OK - $H:$SMTPS connected in [0-9.]+s, TLSv1\.3 [A-Z0-9_]+ handshake in" 5 \
	"$B/check_mta_port" -H $H -p $SMTPS -s
m_check "haraka: tls: banner -s on the SMTPS port" 0 "MTA BANNER OK - $H:$SMTPS 220 mail\.example\.test ESMTP Haraka" 5 \
	"$B/check_mta_banner" -H $H -p $SMTPS -s
m_check "haraka: tls: starttls -s on the SMTPS port: implicit TLS OK" 0 \
	"MTA STARTTLS OK - $H:$SMTPS implicit TLS: TLSv1\.3" 5 \
	"$B/check_mta_starttls" -H $H -p $SMTPS -s "${CA[@]}" "${SNI[@]}"
m_check "haraka: tls: cert -s on the SMTPS port OK, verified" 0 \
	"MTA CERT OK - $H:$SMTPS EC-256 certificate expires in 36[45] days .*verified \|" 5 \
	"$B/check_mta_cert" -H $H -p $SMTPS -s "${CA[@]}" "${SNI[@]}"
m_check "haraka: tls: relay -S (after STARTTLS) is OK" 0 \
	"MTA RELAY OK - $H:$P 3 of 3 relay tests refused \|.*starttls=.*handshake=" 5 \
	"${R[@]}" -p $P -S "${CA[@]}" "${SNI[@]}"
# Haraka answers MAIL FROM on ports 465 and 587 with "550 Authentication
# required" (no enhanced code) to every client that may not relay
# (connection.js): like 530 over TLS, the server requires a login, which is
# a refusal to relay for strangers, not a sender refused for its address.
m_check "haraka: tls: relay on 465 (implicit TLS by default): 550 Authentication required is refused, requires authentication" 0 \
	"MTA RELAY OK - $H:$SMTPS 3 of 3 relay tests refused .*requires authentication" 5 \
	"${R[@]}" -p $SMTPS "${CA[@]}" "${SNI[@]}"
m_check "haraka: tls: starttls on 465 without -s: implicit TLS by default" 0 "MTA STARTTLS OK - $H:$SMTPS implicit TLS: TLSv1\.3" 5 \
	"$B/check_mta_starttls" -H $H -p $SMTPS "${CA[@]}" "${SNI[@]}"
m_check "haraka: tls: relay --thorough: own name in host_list takes any local part: WARNING inconclusive" 1 \
	'inconclusive: [0-9]+ address tricks accepted, but the server takes any recipient in its own domain' 5 \
	"${R[@]}" -p $P --thorough -v
t_assert "haraka: tls: -v: the control <mtaprobe-no-such-user@mail.example.test> was accepted" \
	grep -q 'control: .*<mtaprobe-no-such-user@mail\.example\.test>: 250 .*any local part is taken' <<<"$T_LAST_OUT"
t_assert "haraka: tls: Haraka logged TLS sessions (tls=Y)" grep -q 'tls=Y' "$HD/tls.log"

# --- nothing was ever sent as mail, nothing queued ----------------------------------
for cfg in refuse open resolvable early early_slow tls; do
	t_assert "haraka: $cfg: the protocol log has the RCPT TO commands (it is the evidence)" \
		grep -q '\[core\] C: RCPT TO:' "$HD/$cfg.log"
	t_assert "haraka: $cfg: no DATA or BDAT ever sent (protocol log)" \
		bash -c '! grep -qiE "\[core\] C: (DATA|BDAT)" "$1"' _ "$HD/$cfg.log"
	t_assert "haraka: $cfg: no message received or queued (queue empty, msgs=0/0/0)" \
		bash -c '[ -d "$1/queue" ] && [ "$(tests/mta/haraka.sh queue "$1")" = 0 ] && ! grep -E "disconnect ip=" "$2" | grep -qv "msgs=0/0/0"' \
		_ "$HD/$cfg" "$HD/$cfg.log"
done

t_table haraka
