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
B=${1:-build/asan}
SIM=${SIM:-$B/smtpsim}
. tests/lib.sh
T_N=${T_N_START:-0}
T_START=$(date +%s%N)
L=127.0.0.1
OUT=(--source 127.0.0.2)
P_SUB=27951 P_SUBS=27952 P_TRIP=27959
DV=$T_TMP/dovecot
DV_LOG=$DV/dovecot.log
DV_PID=""
cleanup() {
	if [ -n "$DV_PID" ]; then
		tests/mta/dovecot.sh stop "$DV" 2>/dev/null
		wait "$DV_PID" 2>/dev/null
	fi
	t_cleanup
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T_TMP"; else rm -rf "$T_TMP"; fi
}
trap cleanup EXIT
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

for p in $P_SUB $P_SUBS $P_TRIP; do
	if (exec 3<>"/dev/tcp/$L/$p") 2>/dev/null; then
		t_report "dovecot: port $p is free" " something already listens on $L:$p" ""
		exit 0
	fi
done
ver=$(tests/mta/dovecot.sh check 2>&1)
rc=$?
if [ $rc = 77 ]; then
	T_N=$((T_N + 1))
	echo "ok $T_N - dovecot: Dovecot submission (dovecot-core, dovecot-submissiond) # SKIP ${ver#SKIP: }"
	exit 0
elif [ $rc != 0 ]; then
	t_report "dovecot: installed" " tests/mta/dovecot.sh check failed" "$ver"
	exit 0
fi
PKI=$T_TMP/pki
tests/mkcerts.sh "$PKI" >/dev/null 2>"$T_TMP/mkcerts.err" ||
	{ t_report "dovecot: test PKI" " mkcerts failed" "$(cat "$T_TMP/mkcerts.err")"; exit 0; }
CA=(--ca-file "$PKI/root.crt")
t_sim relay_refuse $P_TRIP -T "$T_TMP/trip.transcript" || exit 1
if ! out=$(tests/mta/dovecot.sh setup "$DV" "$PKI" $P_SUB $P_SUBS $P_TRIP 2>&1); then
	t_report "dovecot: configuration accepted (doveconf -n)" " setup failed" "$out"
	exit 0
fi
t0=$(date +%s%N)
tests/mta/dovecot.sh run "$DV" >"$T_TMP/dovecot.out" 2>&1 &
DV_PID=$!
if out=$(tests/mta/dovecot.sh ready "$DV" 10 2>&1); then
	t_report "dovecot: Dovecot ${ver#* } submission up in $(ms_since "$t0") ms (PID $DV_PID)" "" ""
else
	t_report "dovecot: started" " $out" "$(cat "$T_TMP/dovecot.out"; tail -n 8 "$DV_LOG" 2>/dev/null)"
	exit 0
fi

# --- Dovecot's own log: every command it received ------------------------------------
MARK=0
dv_mark() { MARK=$(wc -l <"$DV_LOG"); }
dv_since() { tail -n +"$((MARK + 1))" "$DV_LOG"; }
dv_settle() {	# until every connection since the mark was destroyed (2 s)
	local c d log
	for _ in $(seq 40); do
		log=$(dv_since)
		c=$(grep -c ': Connection created$' <<<"$log")
		d=$(grep -c ': Connection destroy$' <<<"$log")
		[ "$c" -gt 0 ] && [ "$c" = "$d" ] && return 0
		sleep 0.05
	done
}
# dv_relay NAME WANT_RC REGEX ARGS...: t_check of check_mta_relay, then
# Dovecot's log of those sessions: MAIL received, no DATA/BDAT/AUTH
dv_relay() {
	local name=$1 want=$2 re=$3 p="" log
	shift 3
	dv_mark
	t_check "$name" "$want" "$re" 5 "$B/check_mta_relay" -H $L -t 5 "$@"
	dv_settle
	log=$(dv_since)
	grep -q 'Received new command: MAIL FROM:' <<<"$log" || p+=" Dovecot's log shows no MAIL FROM;"
	grep -qiE 'Received new command: (DATA|BDAT|AUTH)' <<<"$log" && p+=" Dovecot received DATA/BDAT/AUTH;"
	t_report "$name; Dovecot log: MAIL seen, no DATA/BDAT/AUTH" "$p" "$(grep 'Received new command' <<<"$log" | tail -n 5)"
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
	grep -qE 'Disconnected: .*rip=127\.0\.0\.2, lip=127\.0\.0\.1, TLS' <(dv_since)
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
t0=$(date +%s%N)
kids=$(ps -o pid= --ppid "$DV_PID" 2>/dev/null)
tests/mta/dovecot.sh stop "$DV" 2>"$T_TMP/stop.err"
wait "$DV_PID" 2>/dev/null
left=""
for k in $kids; do # a zombie (not yet reaped by init) counts as gone
	[ -r "/proc/$k/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$k/stat" 2>/dev/null && left+=" $k"
done
t_report "dovecot: stopped in $(ms_since "$t0") ms, no process left" \
	"$([ -n "$left" ] && echo " still running:$left")$([ -s "$T_TMP/stop.err" ] && echo " $(cat "$T_TMP/stop.err")")" ""
DV_PID=""
echo "# dovecot: $((T_N - ${T_N_START:-0})) tests in $(ms_since "$T_START") ms"
