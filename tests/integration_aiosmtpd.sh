#!/usr/bin/env bash
# tests/integration_aiosmtpd.sh BUILD_DIR - every plugin against real aiosmtpd
# servers (Debian python3-aiosmtpd, tests/mta/aiosmtpd.sh), loopback only,
# ports 27701-27705:
#   starttls       python3 -m aiosmtpd -n: an open sink that requires
#                  STARTTLS before MAIL (530 until then; RSET too)
#   starttls-open  the same with --no-requiretls
#   refuse         tests/mta/aiosmtpd_refuse.py: 550 5.7.1 Relaying denied
#                  outside example.test; greets "220 localhost"
#   refuse-mail    the same, and 550 to every MAIL FROM (<> too)
#   smtps          aiosmtpd -n --smtpscert: implicit TLS, open sink
# After the relay runs, every server's debug log must show the RCPT TO
# commands it read but never DATA or BDAT, and nothing may have been
# stored (the -n sink prints what reaches DATA; the Controller appends it
# to a file).  Prints TAP lines, timings as comments, and a server x config
# x plugin table.  No aiosmtpd: one SKIP line, not a failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
declare -A AP=([starttls]=27701 [starttls-open]=27702 [refuse]=27703 [refuse-mail]=27704 [smtps]=27705)

# Stop what we started, by PID; anything not gone in 5 s is killed.
cleanup() {
	t_stop_all
	t_rm_tmp
}
t_traps cleanup

# m_check NAME WANT_RC REGEX MAX CMD... : t_check, and a row of the table
m_check() {
	t_check "$@"
	t_table_row 13 48 150 "$@"
}

if ! SKIP_WHY=$(tests/mta/aiosmtpd.sh check); then
	t_skip "aiosmtpd: every plugin against aiosmtpd" "${SKIP_WHY#SKIP: }"
	exit 0
fi
t_pki "aiosmtpd: test PKI generated"

t0=$(date +%s%N)
AD=$T_TMP/aiosmtpd
mkdir -p "$AD"
for m in "${!AP[@]}"; do
	tests/mta/aiosmtpd.sh run "$m" "$L:${AP[$m]}" "$PKI" "$AD/$m.store" >"$AD/$m.out" 2>"$AD/$m.log" &
	T_PIDS+=($!)
done
up=1
for m in "${!AP[@]}"; do
	for _ in $(seq 200); do
		grep -q 'listening on' "$AD/$m.log" 2>/dev/null && break
		sleep 0.05
	done
	grep -q 'listening on' "$AD/$m.log" ||
		{ t_report "aiosmtpd: $m: listening on $L:${AP[$m]}" " not listening after 10 s" "$(cat "$AD/$m.log")"; up=0; }
done
[ $up = 1 ] || exit 0
echo "# aiosmtpd: ${#AP[@]} servers up in $(t_ms_since "$t0") ms"
R=("$B/check_mta_relay" -H "$L")

# --- (a) open sink, STARTTLS required (aiosmtpd's default) -----------------------
P=${AP[starttls]}
m_check "aiosmtpd: starttls: port" 0 "MTA PORT OK - $L:$P connected" 3 "$B/check_mta_port" -H $L -p $P
m_check "aiosmtpd: starttls: banner" 0 "MTA BANNER OK - $L:$P 220 [^ ]+ Python SMTP 1\.[0-9.]+" 3 \
	"$B/check_mta_banner" -H $L -p $P --require-ext STARTTLS,8BITMIME
m_check "aiosmtpd: starttls: starttls OK with --ca-file" 0 \
	"MTA STARTTLS OK - $L:$P STARTTLS: TLSv1\.[23] [A-Z0-9_-]+ \(handshake" 3 \
	"$B/check_mta_starttls" -H $L -p $P "${CA[@]}"
m_check "aiosmtpd: starttls: cert OK, verified for 127.0.0.1 with --ca-file" 0 \
	"MTA CERT OK - $L:$P EC-256 certificate expires in 36[45] days .*verified \|" 3 \
	"$B/check_mta_cert" -H $L -p $P "${CA[@]}"
# 530 to MAIL (and RSET) on the plain session while STARTTLS is advertised:
# not a refusal; the check upgrades, tests over TLS and says so.
NOT_RE='3 of 3 relay tests refused|RSET answered 530' \
	m_check "aiosmtpd: starttls: relay (no -S) upgrades on 530, tests over TLS: OPEN RELAY" 2 \
	"^MTA RELAY CRITICAL - $L:$P .*OPEN RELAY( over TLS)?: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net>" 3 \
	"${R[@]}" -p $P -vvv
t_assert "aiosmtpd: starttls: relay (no -S): summary says TLS; -vvv: 530, then STARTTLS, then RCPT TO over TLS" \
	bash -c 'o=$(cat); head -n 1 <<<"$o" | grep -qE "over TLS|STARTTLS" && grep -Pzq "S: 530 [^\n]*\n(.*\n)*C: STARTTLS\n(.*\n)*C: RCPT TO:<mtaprobe@example\.net>" <<<"$o"' <<<"$T_LAST_OUT"
m_check "aiosmtpd: starttls: relay -S is OPEN RELAY CRITICAL, all 3 pairs accepted" 2 \
	"MTA RELAY CRITICAL - $L:$P OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 OK\); <> -> <mtaprobe@example\.net> \(250 OK\).*accepted=3;" 3 \
	"${R[@]}" -p $P -S "${CA[@]}" -vvv
S_OUT=$T_LAST_OUT
m_check "aiosmtpd: starttls: relay -S --thorough is OPEN RELAY CRITICAL" 2 'OPEN RELAY: RCPT accepted for .*tests=10;' 3 \
	"${R[@]}" -p $P -S --thorough "${CA[@]}"

# --- (b) open sink without the STARTTLS requirement -------------------------------
P=${AP[starttls-open]}
m_check "aiosmtpd: starttls-open: relay is OPEN RELAY CRITICAL" 2 \
	"MTA RELAY CRITICAL - $L:$P OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 OK\).*accepted=3;" 3 \
	"${R[@]}" -p $P
m_check "aiosmtpd: starttls-open: relay --thorough is OPEN RELAY CRITICAL" 2 'OPEN RELAY: RCPT accepted for .*tests=10;' 3 \
	"${R[@]}" -p $P --thorough

# --- (c) the refusing Controller ---------------------------------------------------
P=${AP[refuse]}
m_check "aiosmtpd: refuse: banner greets 220 localhost" 0 "MTA BANNER OK - $L:$P 220 localhost " 3 \
	"$B/check_mta_banner" -H $L -p $P
m_check "aiosmtpd: refuse: relay quick is OK, 3 of 3 refused" 0 \
	"MTA RELAY OK - $L:$P 3 of 3 relay tests refused \|.* accepted=0;;;0; refused=3;" 3 "${R[@]}" -p $P -vvv
A_OUT=$T_LAST_OUT
t_assert "aiosmtpd: refuse: -vvv: 550 5.7.1 Relaying denied for the outside recipient" \
	grep -q 'S: 550 5\.7\.1 Relaying denied' <<<"$A_OUT"
m_check "aiosmtpd: refuse: relay --thorough is OK, 10 of 10 refused (own domain [127.0.0.1]: the two address-literal tricks are made once)" 0 \
	"MTA RELAY OK - $L:$P 10 of 10 relay tests refused \|.*refused=10;" 3 "${R[@]}" -p $P --thorough -v
m_check "aiosmtpd: refuse: relay -S (after STARTTLS) is OK" 0 \
	"MTA RELAY OK - $L:$P 3 of 3 relay tests refused \|.*handshake=" 3 "${R[@]}" -p $P -S "${CA[@]}"
# (e) "220 localhost" is no domain: the own-domain sender is the address
# literal of the server, as RFC 5321 4.1.3 writes it.
t_assert "aiosmtpd: refuse: -vvv: the own-domain spoof is MAIL FROM:<mtaprobe@[127.0.0.1]>" \
	grep -q 'C: MAIL FROM:<mtaprobe@\[127\.0\.0\.1\]>' <<<"$A_OUT"
t_assert "aiosmtpd: refuse: -vvv: never mtaprobe@127.0.0.1 nor mtaprobe@localhost" \
	bash -c '! grep -qE "MAIL FROM:<mtaprobe@(127\.0\.0\.1|localhost)>"' <<<"$A_OUT"
t_assert "aiosmtpd: refuse: -v names the own domain [127.0.0.1]" grep -q 'own domain \[127\.0\.0\.1\]' <<<"$A_OUT"
t_assert "aiosmtpd: refuse: the Controller read MAIL FROM:<mtaprobe@[127.0.0.1]>" \
	grep -q ">> b'MAIL FROM:<mtaprobe@\[127\.0\.0\.1\]>'" "$AD/refuse.log"
if grep -q '^S: 220 localhost ' <<<"$S_OUT"; then
	t_assert "aiosmtpd: starttls: greets 220 localhost: -vvv -S sends MAIL FROM:<mtaprobe@[127.0.0.1]>" \
		grep -q 'C: MAIL FROM:<mtaprobe@\[127\.0\.0\.1\]>' <<<"$S_OUT"
else
	t_skip "aiosmtpd: starttls: own-domain sender for 220 localhost" "aiosmtpd greets '$(grep -m1 '^S: 220' <<<"$S_OUT")' here (socket.getfqdn())"
fi

# --- every sender refused at MAIL FROM: nothing about relaying is known -----------
P=${AP[refuse-mail]}
m_check "aiosmtpd: refuse-mail: relay with every MAIL FROM refused (<> too) is WARNING relay not tested" 1 \
	"MTA RELAY WARNING - $L:$P relay not tested" 3 "${R[@]}" -p $P -v
m_check "aiosmtpd: refuse-mail: relay --thorough likewise" 1 "MTA RELAY WARNING - $L:$P relay not tested" 3 \
	"${R[@]}" -p $P --thorough

# --- (d) SMTPS ----------------------------------------------------------------------
P=${AP[smtps]}
m_check "aiosmtpd: smtps: port -s completes the TLS handshake" 0 \
	"MTA PORT OK - $L:$P connected in [0-9.]+s, TLSv1\.[23] [A-Z0-9_-]+ handshake in" 3 \
	"$B/check_mta_port" -H $L -p $P -s
m_check "aiosmtpd: smtps: banner -s" 0 "MTA BANNER OK - $L:$P 220 [^ ]+ Python SMTP" 3 \
	"$B/check_mta_banner" -H $L -p $P -s
m_check "aiosmtpd: smtps: starttls -s: implicit TLS OK" 0 "MTA STARTTLS OK - $L:$P implicit TLS: TLSv1\.[23]" 3 \
	"$B/check_mta_starttls" -H $L -p $P -s "${CA[@]}"
m_check "aiosmtpd: smtps: cert -s OK, verified" 0 \
	"MTA CERT OK - $L:$P EC-256 certificate expires in 36[45] days .*verified \|" 3 \
	"$B/check_mta_cert" -H $L -p $P -s "${CA[@]}"
m_check "aiosmtpd: smtps: relay -s is OPEN RELAY CRITICAL" 2 \
	"MTA RELAY CRITICAL - $L:$P OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net>" 3 \
	"${R[@]}" -p $P -s "${CA[@]}"
m_check "aiosmtpd: smtps: starttls without -s on the SMTPS port fails, naming the greeting" 2 'greeting' 3 \
	"$B/check_mta_starttls" -H $L -p $P -t 2

# --- nothing was ever sent as mail, nothing stored -----------------------------------
for m in starttls starttls-open refuse refuse-mail smtps; do
	t_assert "aiosmtpd: $m: the debug log has the commands read (it is the evidence)" \
		grep -q ">> b'MAIL FROM:" "$AD/$m.log"
	t_assert "aiosmtpd: $m: no DATA or BDAT ever sent (debug log)" \
		bash -c '! grep -qiE ">> b.(DATA|BDAT)" "$1"' _ "$AD/$m.log"
	t_assert "aiosmtpd: $m: nothing stored (no message printed, no store file)" \
		bash -c '! grep -q "MESSAGE FOLLOWS" "$1" && ! [ -s "$2" ]' _ "$AD/$m.out" "$AD/$m.store"
done
for m in starttls starttls-open refuse smtps; do
	t_assert "aiosmtpd: $m: the debug log has RCPT TO commands" grep -q ">> b'RCPT TO:" "$AD/$m.log"
done

t_table aiosmtpd
