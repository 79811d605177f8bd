#!/usr/bin/env bash
# tests/integration_opensmtpd.sh BUILD_DIR - every plugin against a real
# OpenSMTPD 6.8 (Debian 12's package, unpacked, not installed:
# tests/mta/opensmtpd.sh) with four policies in one daemon, one listener
# each (tests/mta/opensmtpd/smtpd.conf.in):
#   refuse      27851  stock policy: own domain's known users only, relaying
#                      for local clients; STARTTLS offered (and broken: the
#                      build's key engine fails under OpenSSL 3)
#   open        27852  relays for anybody
#   catchall    27853  any local part at mx.osmtpd.test and [127.0.0.1]
#   catchlocal  27854  any local part at OpenSMTPD's own "local" names
#                      ([127.0.0.1], not the greeting's mx.osmtpd.test)
# OpenSMTPD relays for local clients (127.0.0.1), so the checks bind to
# 127.0.0.2 (--source) to be outsiders.  The relay action's next hop,
# 127.0.0.1:27859, is a scripted server whose transcript must stay empty.
# After every relay check the daemon's own trace (-T smtp) must show the
# RCPTs and no DATA/BDAT; at the end its queue and maildirs are empty.
# Loopback only; the daemon has no DNS (tests/mta/opensmtpd.sh).  Prints
# TAP lines; a server that cannot be had is one "ok N - ... # SKIP" line.
# KEEP_TMP=1 keeps the scratch directory (the daemon's log, its spool).
# shellcheck disable=SC2016 # the bash -c assertions expand their own "$1"
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
OUT=(--source 127.0.0.2)
P_REFUSE=27851 P_OPEN=27852 P_CATCH=27853 P_LOCAL=27854 P_TRIP=27859
OS=$T_TMP/opensmtpd
OS_LOG=$T_TMP/opensmtpd.log
trap t_exit EXIT

t_ports_free opensmtpd $P_REFUSE $P_OPEN $P_CATCH $P_LOCAL $P_TRIP
t0=$(date +%s%N)
t_step "# " "opensmtpd: OpenSMTPD from Debian's opensmtpd package" "opensmtpd: package fetched and unpacked" \
	tests/mta/opensmtpd.sh fetch
echo "# fetch: $(t_ms_since "$t0") ms"
t_pki "opensmtpd: test PKI"
t_sim relay_refuse $P_TRIP -T "$T_TMP/trip.transcript" || exit 1
t_step "" "opensmtpd: setup" "opensmtpd: configuration accepted (smtpd -n)" \
	tests/mta/opensmtpd.sh setup "$OS" "$PKI" $P_REFUSE $P_OPEN $P_CATCH $P_LOCAL $P_TRIP
t0=$(date +%s%N)
if t_mta_start tests/mta/opensmtpd.sh "$OS" "$OS_LOG"; then
	t_report "opensmtpd: $(grep -m1 -o 'OpenSMTPD [0-9][^ ]*' "$OS_LOG") up with 4 listeners in $(t_ms_since "$t0") ms (PID $T_MTA_PID, private mount namespace)" "" ""
else
	t_report "opensmtpd: daemon started" " $T_MTA_ERR" "$(tail -n 12 "$OS_LOG")"
	exit 0
fi

# --- the daemon's own trace: every relay check sends RCPTs, never DATA/BDAT --------
# wait (up to 2 s) until every session since the mark has ended in the log
os_settle() { t_log_settle ' smtp connected address=' ' smtp disconnected reason='; }
# os_relay NAME WANT_RC REGEX ARGS...: t_check of check_mta_relay, then
# the server's trace of exactly those sessions: RCPTs seen, no DATA/BDAT
os_relay() {
	local name=$1 want=$2 re=$3
	shift 3
	t_log_mark "$OS_LOG"
	t_check "$name" "$want" "$re" 5 "$B/check_mta_relay" -H $L -t 5 "$@"
	os_settle
	t_log_check "$name; server trace: RCPT TO seen, no DATA/BDAT" ' <<< RCPT TO:' ' <<< (DATA|BDAT)' ' <<< '
}

# --- port, banner: every listener ---------------------------------------------------
for pc in refuse:$P_REFUSE open:$P_OPEN catchall:$P_CATCH catchlocal:$P_LOCAL; do
	t_check "opensmtpd ${pc%%:*}: check_mta_port is OK" 0 "PORT OK - $L:${pc#*:} connected" 3 \
		"$B/check_mta_port" -H $L -p "${pc#*:}" "${OUT[@]}"
done
t_check "opensmtpd refuse: check_mta_banner is OK, greeting and STARTTLS asserted" 0 \
	'BANNER OK - 127\.0\.0\.1:27851 220 mx\.osmtpd\.test ESMTP OpenSMTPD' 3 \
	"$B/check_mta_banner" -H $L -p $P_REFUSE "${OUT[@]}" -e OpenSMTPD --require-ext STARTTLS,SIZE,8BITMIME
t_check "opensmtpd open: check_mta_banner --require-ext STARTTLS is WARNING (not offered there)" 1 \
	'STARTTLS not advertised; 220 mx\.osmtpd\.test ESMTP OpenSMTPD' 3 \
	"$B/check_mta_banner" -H $L -p $P_OPEN "${OUT[@]}" --require-ext STARTTLS

# --- STARTTLS: OpenSMTPD 6.8's own failure under OpenSSL 3 ---------------------------
t_log_mark "$OS_LOG"
t_check "opensmtpd refuse: check_mta_starttls is CRITICAL naming the handshake failure" 2 \
	'STARTTLS CRITICAL - 127\.0\.0\.1:27851 handshake: TLS error during the TLS handshake: tlsv1 alert internal error' 5 \
	"$B/check_mta_starttls" -H $L -p $P_REFUSE "${OUT[@]}" "${CA[@]}" -t 5
os_settle
t_assert "opensmtpd refuse: the server logs its own OpenSSL failure (io-error ... EVP lib)" \
	grep -q 'disconnected reason="io-error: error:0A080006:SSL routines::EVP lib"' <(t_log_since)
t_check "opensmtpd refuse: check_mta_cert is CRITICAL naming the handshake failure" 2 \
	'CERT CRITICAL - 127\.0\.0\.1:27851 handshake: TLS error during the TLS handshake: tlsv1 alert internal error' 5 \
	"$B/check_mta_cert" -H $L -p $P_REFUSE "${OUT[@]}" "${CA[@]}" -t 5
t_check "opensmtpd refuse: check_mta_relay -S is UNKNOWN (could not test), naming the TLS handshake" 3 \
	'RELAY UNKNOWN - 127\.0\.0\.1:27851 could not test: handshake: TLS error during the TLS handshake: tlsv1 alert internal error' 5 \
	"$B/check_mta_relay" -H $L -p $P_REFUSE "${OUT[@]}" "${CA[@]}" -S -t 5
t_check "opensmtpd open: check_mta_starttls is CRITICAL (STARTTLS not offered)" 2 \
	'STARTTLS CRITICAL - 127\.0\.0\.1:27852 .*STARTTLS' 5 \
	"$B/check_mta_starttls" -H $L -p $P_OPEN "${OUT[@]}" "${CA[@]}" -t 5

# --- relay ------------------------------------------------------------------------------
os_relay "opensmtpd refuse: check_mta_relay from 127.0.0.2 is OK" 0 \
	'RELAY OK - 127\.0\.0\.1:27851 3 of 3 relay tests refused' -p $P_REFUSE "${OUT[@]}"
os_relay "opensmtpd refuse: check_mta_relay --thorough from 127.0.0.2 is OK" 0 \
	'RELAY OK - 127\.0\.0\.1:27851 12 of 12 relay tests refused' -p $P_REFUSE "${OUT[@]}" --thorough -v
t_assert "opensmtpd refuse: -v shows OpenSMTPD's refusal (550 Invalid recipient) and the control" \
	grep -qz 'control: .*550 Invalid recipient.*<mtaprobe@example\.net>: refused 550 Invalid recipient' <<<"$T_LAST_OUT"
os_relay "opensmtpd refuse: check_mta_relay from 127.0.0.1 is OPEN RELAY (stock policy relays for local clients)" 2 \
	'OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 2\.1\.5 Destination address valid: Recipient ok\)' \
	-p $P_REFUSE
os_relay "opensmtpd open: check_mta_relay is OPEN RELAY naming the accepted pairs" 2 \
	'RELAY CRITICAL - 127\.0\.0\.1:27852 OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net> \(250 2\.1\.5 Destination address valid: Recipient ok\); <> -> <mtaprobe@example\.net> \(250 .*\); <mtaprobe@mx\.osmtpd\.test> -> <mtaprobe@example\.net> .*accepted=3;' \
	-p $P_OPEN "${OUT[@]}"
os_relay "opensmtpd open: check_mta_relay --thorough is OPEN RELAY" 2 \
	'RELAY CRITICAL - 127\.0\.0\.1:27852 OPEN RELAY: RCPT accepted for <mtaprobe@example\.org> -> <mtaprobe@example\.net>' \
	-p $P_OPEN "${OUT[@]}" --thorough -v
os_relay "opensmtpd catchall: check_mta_relay (quick set) is OK" 0 \
	'RELAY OK - 127\.0\.0\.1:27853 3 of 3 relay tests refused' -p $P_CATCH "${OUT[@]}"
# the contract: tricks the server may rewrite into a local address (no
# domain: "user@outside", outside!user -- OpenSMTPD appends its own domain)
# and every form addressed to its own domain or address literal, accepted
# under a catch-all, are inconclusive, never OPEN RELAY
os_relay "opensmtpd catchall: check_mta_relay --thorough is WARNING inconclusive, not OPEN RELAY" 1 \
	'RELAY WARNING - 127\.0\.0\.1:27853 inconclusive' -p $P_CATCH "${OUT[@]}" --thorough -v
CATCH_OUT=$T_LAST_OUT
t_assert "opensmtpd catchall: --thorough names no OPEN RELAY and counts accepted=0" \
	bash -c '! grep -q "OPEN RELAY" <<<"$1" && grep -q " accepted=0;" <<<"$1"' _ "$CATCH_OUT"
for trick in 'example\.net!mtaprobe' 'mtaprobe%example\.net@mx\.osmtpd\.test' 'example\.net!mtaprobe@mx\.osmtpd\.test' \
	'mtaprobe%example\.net@\[127\.0\.0\.1\]'; do
	t_assert "opensmtpd catchall: -v: <${trick//\\/}> accepted and called inconclusive" \
		grep -qE "<$trick>: accepted, inconclusive" <<<"$CATCH_OUT"
done
t_assert "opensmtpd catchall: the server expanded <example.net!mtaprobe> into its own domain (-T expand)" \
	grep -q 'lka_expand: address: example.net!mtaprobe@mx.osmtpd.test' "$OS_LOG"
os_relay "opensmtpd catchlocal: check_mta_relay (quick set) is OK" 0 \
	'RELAY OK - 127\.0\.0\.1:27854 3 of 3 relay tests refused' -p $P_LOCAL "${OUT[@]}"
# a catch-all at the address literal only (OpenSMTPD's "for local"): the
# control at the greeting's name is refused, user%outside@[127.0.0.1] is
# taken for local delivery -- by the contract, a form addressed to the
# server's own IP under a catch-all is inconclusive, never OPEN RELAY
os_relay "opensmtpd catchlocal: check_mta_relay --thorough is not OPEN RELAY for <user%outside@[127.0.0.1]> (catch-all at the IP)" 1 \
	'RELAY WARNING - 127\.0\.0\.1:27854 inconclusive' -p $P_LOCAL "${OUT[@]}" --thorough -v

# --- nothing was queued, delivered or relayed; no DATA ever; clean stop ---------------
t_assert "opensmtpd: no DATA or BDAT anywhere in the server's trace" \
	bash -c '! grep -qiE " <<< (DATA|BDAT)" "$1"' _ "$OS_LOG"
t_assert "opensmtpd: queue and maildirs empty (tests/mta/opensmtpd.sh queue = 0)" \
	bash -c '[ "$(tests/mta/opensmtpd.sh queue "$1")" = 0 ]' _ "$OS"
t_assert "opensmtpd: nothing connected to the relay host 127.0.0.1:$P_TRIP (tripwire: only t_sim's own probe, no command)" \
	bash -c '[ "$(grep -c "^#: connect from" "$1")" = 1 ] && ! grep -q "^C: " "$1"' _ "$T_TMP/trip.transcript"
t_assert "opensmtpd: the private mounts are not visible outside the daemon's namespace" \
	bash -c '! grep -qF "$1" /proc/self/mountinfo' _ "$OS"
t_mta_stop opensmtpd
echo "# opensmtpd: $((T_N - ${T_N_START:-0})) tests in $(t_ms_since "$T_START") ms"
