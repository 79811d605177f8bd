#!/usr/bin/env bash
# tests/integration_dovecot.sh BUILD_DIR - every plugin against a real
# Dovecot 2.3 submission server (Debian's dovecot-core and
# dovecot-submissiond, a private instance: tests/mta/dovecot.sh) on
# 127.0.0.1:27951 (plain, STARTTLS) and 27952 (implicit TLS).  Dovecot
# answers every MAIL before AUTH with 530, and advertises AUTH without
# mechanisms before TLS -- except to a client on the server's own address
# (127.0.0.1 to 127.0.0.1), which it counts as secured: the checks bind to
# 127.0.0.2 (--source) to be outsiders.  Its relay host, 127.0.0.1:27959,
# is a scripted server that nothing may connect to.  After every relay
# check Dovecot's debug log ("Received new command: ...") must show the
# MAILs and no DATA, BDAT or AUTH; nobody ever logs in.  Loopback only;
# Dovecot has no DNS.  Prints TAP lines; no Dovecot installed is one
# "ok N - ... # SKIP" line.  KEEP_TMP=1 keeps the scratch directory.
# shellcheck disable=SC2016 # the bash -c assertions expand their own "$1"
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
OUT=(--source 127.0.0.2)
P_SUB=27951 P_SUBS=27952 P_TRIP=27959
DV=$T_TMP/dovecot
DV_LOG=$DV/dovecot.log
trap t_exit EXIT

t_ports_free dovecot $P_SUB $P_SUBS $P_TRIP
t_step "" "dovecot: Dovecot submission (dovecot-core, dovecot-submissiond)" "dovecot: installed" \
	tests/mta/dovecot.sh check
ver=$T_STEP_OUT
t_pki "dovecot: test PKI"
t_sim relay_refuse $P_TRIP -T "$T_TMP/trip.transcript" || exit 1
t_step "" "dovecot: setup" "dovecot: configuration accepted (doveconf -n)" \
	tests/mta/dovecot.sh setup "$DV" "$PKI" $P_SUB $P_SUBS $P_TRIP
t0=$(date +%s%N)
if t_mta_start tests/mta/dovecot.sh "$DV" "$T_TMP/dovecot.out"; then
	t_report "dovecot: Dovecot ${ver#* } submission up in $(t_ms_since "$t0") ms (PID $T_MTA_PID)" "" ""
else
	t_report "dovecot: started" " $T_MTA_ERR" "$(cat "$T_TMP/dovecot.out"; tail -n 8 "$DV_LOG" 2>/dev/null)"
	exit 0
fi

# --- Dovecot's own log: every command it received ------------------------------------
# dv_relay NAME WANT_RC REGEX ARGS...: t_check of check_mta_relay, then
# Dovecot's log of those sessions: MAIL received, no DATA/BDAT/AUTH
dv_relay() {
	local name=$1 want=$2 re=$3
	shift 3
	t_log_mark "$DV_LOG"
	t_check "$name" "$want" "$re" 5 "$B/check_mta_relay" -H $L -t 5 "$@"
	t_log_settle ': Connection created$' ': Connection destroy$'
	t_log_check "$name; Dovecot log: MAIL seen, no DATA/BDAT/AUTH" 'Received new command: MAIL FROM:' \
		'Received new command: (DATA|BDAT|AUTH)' 'Received new command'
}

# --- port, banner ------------------------------------------------------------------------
t_check "dovecot submission: check_mta_port is OK" 0 "PORT OK - $L:$P_SUB connected" 3 \
	"$B/check_mta_port" -H $L -p $P_SUB "${OUT[@]}"
t_check "dovecot submissions: check_mta_port -s is OK" 0 "PORT OK - $L:$P_SUBS" 3 \
	"$B/check_mta_port" -H $L -p $P_SUBS -s "${OUT[@]}" "${CA[@]}"
t_check "dovecot submission: check_mta_banner is OK, greeting asserted" 0 \
	'BANNER OK - 127\.0\.0\.1:27951 220 submit\.dovecot\.test Dovecot \(Debian\) ready\.' 3 \
	"$B/check_mta_banner" -H $L -p $P_SUB "${OUT[@]}" -e Dovecot --require-ext STARTTLS,PIPELINING,CHUNKING
# the contract: an extension advertised without the parameters it needs
# (RFC 4954: AUTH mechanism...) does not count; -v says why
t_check "dovecot submission: check_mta_banner --require-ext AUTH before TLS is WARNING (AUTH without mechanisms)" 1 \
	'BANNER WARNING - 127\.0\.0\.1:27951 .*AUTH not advertised' 3 \
	"$B/check_mta_banner" -H $L -p $P_SUB "${OUT[@]}" --require-ext AUTH -vvv
BAN_OUT=$T_LAST_OUT
t_assert "dovecot submission: -v says AUTH came without a mechanism" \
	grep -qiE 'AUTH.*without (a|any) mechanism' <<<"$BAN_OUT"
t_assert "dovecot submission: -vvv shows Dovecot's bare '250-AUTH '" grep -qE '^S: 250-AUTH *$' <<<"$BAN_OUT"
t_check "dovecot submission: check_mta_banner --require-ext AUTH from 127.0.0.1 is OK (Dovecot counts same-address peers as secured)" 0 \
	'BANNER OK - 127\.0\.0\.1:27951 220 submit\.dovecot\.test' 3 \
	"$B/check_mta_banner" -H $L -p $P_SUB --require-ext AUTH -vvv
t_assert "dovecot submission: from 127.0.0.1 Dovecot offers 'AUTH PLAIN LOGIN' without TLS" \
	grep -qE '^S: 250-AUTH PLAIN LOGIN' <<<"$T_LAST_OUT"
t_check "dovecot submissions: check_mta_banner -s --require-ext AUTH is OK (mechanisms over TLS)" 0 \
	'BANNER OK - 127\.0\.0\.1:27952 220 submit\.dovecot\.test' 3 \
	"$B/check_mta_banner" -H $L -p $P_SUBS -s "${OUT[@]}" "${CA[@]}" --require-ext AUTH

# --- STARTTLS, implicit TLS, certificate ----------------------------------------------------
t_check "dovecot submission: check_mta_starttls --ca-file is OK" 0 \
	'STARTTLS OK - 127\.0\.0\.1:27951 STARTTLS: TLSv1\.[23] ' 5 \
	"$B/check_mta_starttls" -H $L -p $P_SUB "${OUT[@]}" "${CA[@]}" -vvv
t_assert "dovecot submission: after STARTTLS, EHLO offers 'AUTH PLAIN LOGIN' (none before)" \
	bash -c 'sed -n "/^C: STARTTLS/,\$p" <<<"$1" | grep -qE "^S: 250-AUTH PLAIN LOGIN" &&
		sed -n "1,/^C: STARTTLS/p" <<<"$1" | grep -qE "^S: 250-AUTH *$"' _ "$T_LAST_OUT"
t_check "dovecot submissions: check_mta_starttls -s --ca-file is OK" 0 \
	'STARTTLS OK - 127\.0\.0\.1:27952 implicit TLS: TLSv1\.[23] ' 5 \
	"$B/check_mta_starttls" -H $L -p $P_SUBS -s "${OUT[@]}" "${CA[@]}"
t_check "dovecot submission: check_mta_cert --ca-file is OK, verified for 127.0.0.1" 0 \
	'CERT OK - 127\.0\.0\.1:27951 EC-256 certificate expires in 36[45] days .*CN=mail\.example\.test.*verified' 5 \
	"$B/check_mta_cert" -H $L -p $P_SUB "${OUT[@]}" "${CA[@]}"
t_check "dovecot submission: check_mta_cert --ca-file --sni mail.example.test is OK" 0 \
	'CERT OK - 127\.0\.0\.1:27951 .*verified' 5 \
	"$B/check_mta_cert" -H $L -p $P_SUB "${OUT[@]}" "${CA[@]}" --sni mail.example.test
t_check "dovecot submissions: check_mta_cert -s --ca-file is OK" 0 \
	'CERT OK - 127\.0\.0\.1:27952 EC-256 .*verified' 5 \
	"$B/check_mta_cert" -H $L -p $P_SUBS -s "${OUT[@]}" "${CA[@]}"
t_check "dovecot submission: check_mta_cert without the test CA is CRITICAL (chain not trusted)" 2 \
	'CERT CRITICAL - 127\.0\.0\.1:27951 .*(local issuer|verif)' 5 \
	"$B/check_mta_cert" -H $L -p $P_SUB "${OUT[@]}" --ca-path "$T_TMP"

# --- relay: 530 for every MAIL, before and after TLS ----------------------------------------
# the contract: 530 on plain with STARTTLS offered -> upgrade, test over TLS,
# 530 again -> refused; the summary says "requires authentication"; OK
dv_relay "dovecot submission: check_mta_relay is OK, over TLS, requires authentication" 0 \
	'RELAY OK - 127\.0\.0\.1:27951 3 of 3 relay tests refused.*requires authentication' \
	-p $P_SUB "${OUT[@]}" "${CA[@]}" -vvv
REL_OUT=$T_LAST_OUT
t_assert "dovecot submission: the check saw 530 in plain text, then STARTTLS, then 530 over TLS" \
	bash -c 'tr -d "\r" <<<"$1" | awk "
		/^C: MAIL/ && !tls { m1 = 1 } /^S: 530/ && m1 && !tls { a1 = 1 }
		/^C: STARTTLS/ && a1 { tls = 1 } /^S: 220/ && tls { up = 1 }
		/^C: MAIL/ && up { m2 = 1 } /^S: 530/ && m2 { ok = 1 }
		END { exit !ok }"' _ "$REL_OUT"
t_assert "dovecot submission: Dovecot logged the session as TLS (rip=127.0.0.2 ... TLS)" \
	grep -qE 'Disconnected: .*rip=127\.0\.0\.2, lip=127\.0\.0\.1, TLS' <(t_log_since)
dv_relay "dovecot submission: check_mta_relay --thorough is OK, requires authentication" 0 \
	'RELAY OK - 127\.0\.0\.1:27951 12 of 12 relay tests refused.*requires authentication' \
	-p $P_SUB "${OUT[@]}" "${CA[@]}" --thorough
dv_relay "dovecot submission: check_mta_relay -S is OK, requires authentication" 0 \
	'RELAY OK - 127\.0\.0\.1:27951 3 of 3 relay tests refused.*requires authentication' \
	-p $P_SUB "${OUT[@]}" "${CA[@]}" -S
dv_relay "dovecot submissions: check_mta_relay -s is OK, requires authentication" 0 \
	'RELAY OK - 127\.0\.0\.1:27952 3 of 3 relay tests refused.*requires authentication' \
	-p $P_SUBS -s "${OUT[@]}" "${CA[@]}"
dv_relay "dovecot submission: check_mta_relay from 127.0.0.1 is OK, requires authentication" 0 \
	'RELAY OK - 127\.0\.0\.1:27951 3 of 3 relay tests refused.*requires authentication' \
	-p $P_SUB "${CA[@]}"

# --- nothing sent, nobody logged in, nothing relayed; clean stop ------------------------------
t_assert "dovecot: no DATA, BDAT or AUTH anywhere in Dovecot's log" \
	bash -c '! grep -qiE "Received new command: (DATA|BDAT|AUTH)" "$1"' _ "$DV_LOG"
t_assert "dovecot: nobody logged in (no submission(user) process, no 'Login:' line)" \
	bash -c '! grep -qE "^[A-Z][a-z]{2} [0-9]{2} [0-9:]{8} submission\(|Info: Login: " "$1"' _ "$DV_LOG"
t_assert "dovecot: nothing connected to the relay host 127.0.0.1:$P_TRIP (tripwire: only t_sim's own probe, no command)" \
	bash -c '[ "$(grep -c "^#: connect from" "$1")" = 1 ] && ! grep -q "^C: " "$1"' _ "$T_TMP/trip.transcript"
t_assert "dovecot: no errors or fatals in Dovecot's log" bash -c '! grep -qE ": (Error|Fatal|Panic): " "$1"' _ "$DV_LOG"
t_mta_stop dovecot
echo "# dovecot: $((T_N - ${T_N_START:-0})) tests in $(t_ms_since "$T_START") ms"
