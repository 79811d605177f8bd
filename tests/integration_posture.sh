#!/usr/bin/env bash
# tests/integration_posture.sh [BUILD_DIR] - the security-posture options of
# the plugins against the scripted server (tests/smtpsim.c, the posture_*
# scenarios), a real Postfix (tests/postfix.sh) and a real Dovecot LMTP
# server (tests/mta/dovecot.sh setup-lmtp):
#   check_mta_starttls --scan-versions  TLS 1.0 ... 1.3 server (WARNING,
#       versions_below_min=2, =3 with --min-tls 1.3), TLS 1.2+ server (OK,
#       =0), TLS 1.0-only, Postfix 3.7 as shipped (>=TLSv1: WARNING) and
#       with smtpd_tls_protocols = >=TLSv1.2 (OK), Dovecot (hangs up on old
#       versions: "not known", OK)
#   check_mta_starttls --injection  a server that drops what was pipelined
#       behind STARTTLS (OK), keeps it and answers it over TLS
#       (CVE-2011-0411: CRITICAL), feeds it to TLS (WARNING), answers it in
#       plain text before TLS (OK; late: what the plugin makes of it);
#       never sent without --injection, never on implicit TLS
#   AUTH before TLS  on 127.0.0.7-9:587 (the WARNING keys on port 587) and
#       with --no-plain-auth: AUTH PLAIN LOGIN in the clear (WARNING), only
#       over TLS (OK), "250-AUTH " with no mechanism (OK, not counted)
#   -L/--lmtp  LHLO on check_mta_banner and check_mta_starttls, scripted
#       and Dovecot 2.3 lmtp (dovecot-lmtpd); without -L, and -L to SMTP
#   aliases  --use-ipv4/--use-ipv6 (= -4/-6) on every plugin, -q,
#       check_mta_cert -D W[,C], check_mta_banner -C CMD -R REGEX
# Ports 28001-28026, [::1]:28019, 127.0.0.7-9:587, Postfix 28030-28033,
# Dovecot 28040.  Loopback only.  Prints TAP lines; Postfix or Dovecot
# missing is a SKIP line for that part.  KEEP_TMP=1 keeps the scratch
# directory (transcripts, logs).
# shellcheck disable=SC2016 # the bash -c assertions expand their own "$1"
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
STARTTLS=$B/check_mta_starttls BANNER=$B/check_mta_banner CERT=$B/check_mta_cert
PF_A=$T_TMP/pf-default PF_B=$T_TMP/pf-tls12
PF_AP=28030 PF_BP=28032
DV=$T_TMP/dovecot DV_P=28040
SUB=(127.0.0.7 127.0.0.8 127.0.0.9) # port 587 each, one scenario each
cleanup() {
	t_stop_all
	tests/postfix.sh stop "$PF_A" >/dev/null 2>&1
	tests/postfix.sh stop "$PF_B" >/dev/null 2>&1
	t_exit
}
t_traps cleanup

t_built posture starttls banner cert port relay sts
t_ports_free posture $(seq 28001 28026) $PF_AP $((PF_AP + 1)) $PF_BP $((PF_BP + 1)) $DV_P
t_pki "posture: test PKI"

declare -A SP
P=28000
for s in posture_tls_any posture_tls12plus tls_starttls tls_tls10 posture_inject_keep posture_inject_feed \
	posture_inject_answer posture_inject_answer_late tls_implicit posture_auth_plain posture_auth_tls_only \
	posture_auth_bare posture_lmtp ok posture_command posture_cert10d posture_cert20d posture_cert_expired; do
	P=$((P + 1))
	[ $P = 28019 ] && P=28020 # 28019: [::1] below
	SP[$s]=$P
	t_sim "$s" "$P" -C "$PKI" -T "$T_TMP/$s.transcript" || exit 1
done
TR=$T_TMP # the transcripts: $TR/SCENARIO.transcript

# p_check NAME WANT_RC REGEX PLUGIN SCENARIO ARGS...: t_check (bound 4 s)
# of $B/check_mta_PLUGIN -H 127.0.0.1 -p PORT(SCENARIO) ARGS; REGEX on the
# first line only (T_CHECK_FIRST), NOT_RE from the environment.
p_check() {
	local name=$1 want=$2 re=$3 plugin=$4 scn=$5
	shift 5
	T_CHECK_FIRST=1 t_check "posture: $name" "$want" "$re" 4 "$B/check_mta_$plugin" -H $L -p "${SP[$scn]}" "$@"
}
# p_has NAME ERE: the last check's whole output (-v lines) has a line matching ERE
p_has() { t_assert "posture: $1" grep -Eq -- "$2" <<<"$T_LAST_OUT"; }
# p_lacks NAME ERE: ... and no line matching ERE
p_lacks() { t_assert "posture: $1" bash -c '! grep -Eq -- "$1" <<<"$2"' _ "$2" "$T_LAST_OUT"; }
# p_log SCENARIO: mark its transcript (p_since then prints what came since,
# once every connection since has closed)
p_log() { t_log_mark "$TR/$1.transcript"; }
p_since() {
	t_log_settle '^#: connect from' '^#: closed'
	t_log_since
}
# p_saw NAME ERE: since p_log, the server's transcript has a line matching
# ERE; p_not_saw NAME ERE: none (on failure the transcript is shown)
p_saw() {
	local log
	log=$(p_since)
	t_report "posture: $1" "$(grep -Eq -- "$2" <<<"$log" || echo " the server's transcript has no /$2/")" "$log"
}
p_not_saw() {
	local log
	log=$(p_since)
	t_report "posture: $1" "$(grep -Eq -- "$2" <<<"$log" && echo " the server's transcript has /$2/")" "$log"
}

ANY='[A-Z0-9_-]+'
# --- --scan-versions: one pinned handshake per version below --min-tls ------------------
p_log posture_tls_any
p_check "scan: TLS 1.0-1.3 server: WARNING names TLSv1 and TLSv1.1, versions_below_min=2" 1 \
	"^MTA STARTTLS WARNING - 127\\.0\\.0\\.1:${SP[posture_tls_any]} still accepts TLSv1, TLSv1\\.1; STARTTLS: TLSv1\\.3 $ANY \\(handshake [0-9.]+s\\) \\|.* versions_below_min=2;;;0;\$" \
	starttls posture_tls_any --scan-versions -v
p_has "scan: -v: scan TLSv1: accepted (TLSv1 CIPHER)" "^scan TLSv1: accepted \\(TLSv1 $ANY\\)\$"
p_has "scan: -v: scan TLSv1.1: accepted (TLSv1.1 CIPHER)" "^scan TLSv1\\.1: accepted \\(TLSv1\\.1 $ANY\\)\$"
p_lacks "scan: -v: TLSv1.2 (not below --min-tls 1.2) is not scanned" '^scan TLSv1\.2'
t_assert "posture: scan: smtpsim did a TLS 1.0 and a TLS 1.1 handshake besides the check's TLS 1.3" \
	bash -c 'grep -Eq "^#: TLS handshake \(goodrsa, line [0-9]+\) done: TLSv1 " <<<"$1" &&
		grep -Eq "^#: TLS handshake \(goodrsa, line [0-9]+\) done: TLSv1\.1 " <<<"$1" &&
		[ "$(grep -c "^#: TLS handshake .* done: TLSv1\.3 " <<<"$1")" = 1 ]' _ "$(p_since)"
p_check "scan: --min-tls 1.3 also names TLSv1.2, versions_below_min=3" 1 \
	'still accepts TLSv1, TLSv1\.1, TLSv1\.2; STARTTLS: TLSv1\.3 .* versions_below_min=3;;;0;$' \
	starttls posture_tls_any --scan-versions --min-tls 1.3
p_check "scan: --min-tls 1.1 scans TLSv1 only, versions_below_min=1" 1 \
	'still accepts TLSv1; STARTTLS: TLSv1\.3 .* versions_below_min=1;;;0;$' \
	starttls posture_tls_any --scan-versions --min-tls 1.1
p_check "scan: ECDSA certificate (tls_starttls): TLSv1 and TLSv1.1 taken too" 1 \
	'still accepts TLSv1, TLSv1\.1; .* versions_below_min=2;;;0;$' starttls tls_starttls --scan-versions
p_check "scan: TLS 1.2+ server is OK, versions_below_min=0" 0 \
	"^MTA STARTTLS OK - 127\\.0\\.0\\.1:${SP[posture_tls12plus]} STARTTLS: TLSv1\\.3 $ANY \\(handshake [0-9.]+s\\) \\|.* versions_below_min=0;;;0;\$" \
	starttls posture_tls12plus --scan-versions -v
p_has "scan: -v: scan TLSv1: refused (the server's protocol_version alert)" \
	'^scan TLSv1: refused \(handshake: TLS error during the TLS handshake: tlsv1 alert protocol version\)$'
p_has "scan: -v: scan TLSv1.1: refused" '^scan TLSv1\.1: refused \('
p_check "scan: TLS 1.2+ server with --min-tls 1.3: TLSv1.2 taken, versions_below_min=1" 1 \
	'still accepts TLSv1\.2; STARTTLS: TLSv1\.3 .* versions_below_min=1;;;0;$' \
	starttls posture_tls12plus --scan-versions --min-tls 1.3
p_check "scan: TLS 1.0-only server: below the minimum and still accepts TLSv1 (TLSv1.1 refused)" 1 \
	'TLSv1 is below the minimum TLSv1\.2; still accepts TLSv1; STARTTLS: TLSv1 .* versions_below_min=1;;;0;$' \
	starttls tls_tls10 --scan-versions -v
p_has "scan: TLS 1.0-only: -v: scan TLSv1.1: refused" '^scan TLSv1\.1: refused \(.*unsupported protocol\)$'
p_check "scan: --min-tls 1.0 scans nothing: OK, versions_below_min=0" 0 \
	'STARTTLS OK .* versions_below_min=0;;;0;$' starttls posture_tls_any --scan-versions --min-tls 1.0
p_log posture_tls_any
NOT_RE='versions_below_min|still accepts' p_check "scan: not by default: no scan, no versions_below_min perfdata" 0 \
	'STARTTLS OK - .* time=[0-9.]+s;;;0;$' starttls posture_tls_any
t_assert "posture: scan: ... and the server saw exactly one handshake (TLSv1.3)" \
	bash -c '[ "$(grep -c "^#: TLS handshake" <<<"$1")" = 1 ] && grep -q "done: TLSv1\.3 " <<<"$1"' _ "$(p_since)"
p_check "scan: implicit TLS (-s): scanned on the SMTPS connection too" 1 \
	'still accepts TLSv1, TLSv1\.1; implicit TLS: TLSv1\.3 .* versions_below_min=2;;;0;$' \
	starttls tls_implicit -s --scan-versions

# --- --injection: STARTTLS and NOOP in one write ------------------------------------
p_log posture_tls_any
NOT_RE='inject' p_check "injection: a server that drops the pipelined NOOP is OK" 0 \
	"^MTA STARTTLS OK - 127\\.0\\.0\\.1:${SP[posture_tls_any]} STARTTLS: TLSv1\\.3 " starttls posture_tls_any --injection -v
p_has "injection: -v: plain text after STARTTLS discarded (not vulnerable)" \
	'^injection probe: plain text after STARTTLS discarded \(not vulnerable\)$'
p_saw "injection: the server got STARTTLS and NOOP in one packet, dropped 6 bytes" \
	'^#: 6 plaintext bytes received before TLS discarded$'
p_not_saw "injection: ... and never read a NOOP" '^C: NOOP'
p_log posture_tls_any
p_check "injection: not by default: OK" 0 'STARTTLS OK' starttls posture_tls_any -v
p_lacks "injection: not by default: no probe line" 'injection probe'
p_not_saw "injection: not by default: the server got no NOOP, nothing pipelined" \
	'^C: NOOP|plaintext bytes received before TLS'
t_assert "posture: injection: not by default: one connection, one STARTTLS" \
	bash -c '[ "$(grep -c "^#: connect from" <<<"$1")" = 1 ] && [ "$(grep -c "^C: STARTTLS$" <<<"$1")" = 1 ]' _ "$(p_since)"
p_log posture_inject_keep
p_check "injection: CVE-2011-0411 server (keeps and answers it over TLS) is CRITICAL" 2 \
	"^MTA STARTTLS CRITICAL - 127\\.0\\.0\\.1:${SP[posture_inject_keep]} executes plaintext commands injected before TLS: the NOOP sent with STARTTLS was answered over TLS \\(250 2\\.0\\.0 Ok \\(executed over TLS\\)\\); STARTTLS: TLSv1\\.3 " \
	starttls posture_inject_keep --injection
p_saw "injection: CVE-2011-0411: the server kept the 6 bytes and answered NOOP over TLS" \
	'^#: 6 plaintext bytes received before TLS kept: read as if they came over TLS$'
p_check "injection: CVE-2011-0411 server without --injection: OK (the plain check cannot see it)" 0 \
	'STARTTLS OK - .* STARTTLS: TLSv1\.3 ' starttls posture_inject_keep
p_log posture_inject_feed
p_check "injection: a server that feeds the plain text to TLS: WARNING, handshake failed" 1 \
	"^MTA STARTTLS WARNING - 127\\.0\\.0\\.1:${SP[posture_inject_feed]} injection probe: the TLS handshake failed after STARTTLS and an injected NOOP \\(the server fed the plain text to TLS\\?\\): handshake: connection closed by the server during the TLS handshake; STARTTLS: TLSv1\\.3 " \
	starttls posture_inject_feed --injection
p_saw "injection: feed: smtpsim's handshake read NOOP as a record (wrong version number)" \
	'^#: TLS handshake \(good feed, line [0-9]+\) failed: wrong version number$'
NOT_RE='inject|after its 220' p_check "injection: a server that answers the NOOP in plain text with the 220: OK" 0 \
	"^MTA STARTTLS OK - 127\\.0\\.0\\.1:${SP[posture_inject_answer]} STARTTLS: TLSv1\\.3 " starttls posture_inject_answer --injection -v
p_has "injection: answer: -v: the server answered the NOOP before TLS, in plain text" \
	'^injection probe: the server answered the NOOP before TLS \(it read past STARTTLS, but in plain text\)$'
# What the plugin makes of a plain-text answer that comes after its
# ClientHello went out: the 250 is read where the ServerHello should be.
p_check "injection: plain-text answer 0.3 s after the 220: WARNING, the 250 read as TLS (wrong version number)" 1 \
	'injection probe: the TLS handshake failed after STARTTLS and an injected NOOP .*: handshake: TLS error during the TLS handshake: wrong version number' \
	starttls posture_inject_answer_late --injection
p_log tls_implicit
p_check "injection: implicit TLS (-s): no probe (nothing to inject into)" 0 'implicit TLS: TLSv1\.3' \
	starttls tls_implicit -s --injection -v
p_lacks "injection: -s: no probe line" 'injection probe'
t_assert "posture: injection: -s: one connection only" \
	bash -c '[ "$(grep -c "^#: connect from" <<<"$1")" = 1 ]' _ "$(p_since)"

# --- AUTH before TLS: the WARNING keys on port 587 (and --no-plain-auth) ----------------
sub_ok=1
for i in 0 1 2; do
	scn=(posture_auth_plain posture_auth_tls_only posture_auth_bare)
	if (exec 3<>"/dev/tcp/${SUB[i]}/587") 2>/dev/null; then
		sub_ok=0
		break
	fi
	"$SIM" -s "tests/scenarios/${scn[i]}.scn" -l "${SUB[i]}:587" -C "$PKI" >/dev/null 2>>"$T_TMP/smtpsim.err" &
	T_PIDS+=($!)
	t_wait_port "${SUB[i]}" 587 || sub_ok=0
done
if [ $sub_ok = 1 ]; then
	T_CHECK_FIRST=1 t_check "posture: auth: 587, AUTH PLAIN LOGIN before TLS is WARNING" 1 \
		'^MTA STARTTLS WARNING - 127\.0\.0\.7:587 offers AUTH PLAIN LOGIN before TLS; STARTTLS: TLSv1\.3 ' 4 \
		"$STARTTLS" -H "${SUB[0]}" -p 587 -v
	p_has "auth: 587: -v: AUTH before TLS: PLAIN LOGIN; over TLS: PLAIN LOGIN" '^AUTH before TLS: PLAIN LOGIN; over TLS: PLAIN LOGIN$'
	NOT_RE=AUTH T_CHECK_FIRST=1 t_check "posture: auth: 587, AUTH only over TLS is OK" 0 \
		'^MTA STARTTLS OK - 127\.0\.0\.8:587 STARTTLS: TLSv1\.3 ' 4 "$STARTTLS" -H "${SUB[1]}" -p 587 -v
	p_has "auth: 587: -v: AUTH before TLS: none; over TLS: PLAIN LOGIN" '^AUTH before TLS: none; over TLS: PLAIN LOGIN$'
	NOT_RE=AUTH T_CHECK_FIRST=1 t_check "posture: auth: 587, '250-AUTH ' (no mechanism) before TLS is OK" 0 \
		'^MTA STARTTLS OK - 127\.0\.0\.9:587 STARTTLS: TLSv1\.3 ' 4 "$STARTTLS" -H "${SUB[2]}" -p 587 -v
	p_has "auth: 587: bare AUTH: -v: AUTH before TLS: none" '^AUTH before TLS: none; over TLS: PLAIN LOGIN$'
	T_CHECK_FIRST=1 t_check "posture: auth: 587 with -s (implicit TLS): no plain text, no AUTH verdict" 2 \
		'^MTA STARTTLS CRITICAL - 127\.0\.0\.7:587 handshake: ' 4 "$STARTTLS" -H "${SUB[0]}" -p 587 -s -t 2
else
	t_skip "posture: auth: port 587 on 127.0.0.7-9" "cannot listen there (taken, or not root)"
fi
NOT_RE=AUTH p_check "auth: port ${SP[posture_auth_plain]} (not 587), AUTH PLAIN LOGIN before TLS: OK without --no-plain-auth" 0 \
	'^MTA STARTTLS OK - .* STARTTLS: TLSv1\.3 ' starttls posture_auth_plain -v
p_has "auth: -v says it anyway: AUTH before TLS: PLAIN LOGIN" '^AUTH before TLS: PLAIN LOGIN; over TLS: PLAIN LOGIN$'
p_check "auth: --no-plain-auth: AUTH PLAIN LOGIN before TLS is WARNING on any port" 1 \
	'^MTA STARTTLS WARNING - .* offers AUTH PLAIN LOGIN before TLS; STARTTLS: TLSv1\.3 ' starttls posture_auth_plain --no-plain-auth
NOT_RE=AUTH p_check "auth: --no-plain-auth, AUTH only over TLS: OK" 0 'STARTTLS OK' starttls posture_auth_tls_only --no-plain-auth
NOT_RE=AUTH p_check "auth: --no-plain-auth, '250-AUTH ' before TLS: OK (not counted)" 0 'STARTTLS OK' \
	starttls posture_auth_bare --no-plain-auth -v
p_has "auth: bare: -v: AUTH before TLS: none" '^AUTH before TLS: none; over TLS: PLAIN LOGIN$'

# --- -L/--lmtp: LHLO (RFC 2033), scripted --------------------------------------------------
p_check "lmtp: banner -L: LHLO accepted, OK" 0 \
	"^MTA BANNER OK - 127\\.0\\.0\\.1:${SP[posture_lmtp]} 220 lmtp\\.example\\.test LMTP smtpsim \\([0-9.]+s\\) \\|" \
	banner posture_lmtp -L -vvv --require-ext STARTTLS,PIPELINING
p_has "lmtp: banner -L: -vvv: C: LHLO" '^C: LHLO '
p_lacks "lmtp: banner -L: no EHLO, no HELO sent" '^C: (EHLO|HELO)'
p_check "lmtp: banner without -L to LMTP: EHLO and HELO refused is WARNING" 1 \
	'^MTA BANNER WARNING - .* EHLO and HELO \[127\.0\.0\.1\] refused: 500 5\.5\.1 Unknown command / 500 5\.5\.1 Unknown command; 220 lmtp\.example\.test' \
	banner posture_lmtp
p_check "lmtp: starttls --lmtp: LHLO, STARTTLS, LHLO again over TLS: OK" 0 \
	"^MTA STARTTLS OK - 127\\.0\\.0\\.1:${SP[posture_lmtp]} STARTTLS: TLSv1\\.3 " starttls posture_lmtp --lmtp -vvv
t_assert "posture: lmtp: starttls -L: -vvv: LHLO twice, no EHLO" \
	bash -c '[ "$(grep -c "^C: LHLO " <<<"$1")" = 2 ] && ! grep -q "^C: EHLO" <<<"$1"' _ "$T_LAST_OUT"
p_check "lmtp: starttls without -L to LMTP: CRITICAL (EHLO and HELO refused, so no STARTTLS)" 2 \
	'^MTA STARTTLS CRITICAL - .*STARTTLS not advertised.*EHLO and HELO \[127\.0\.0\.1\] refused' starttls posture_lmtp
p_check "lmtp: banner -L to an SMTP server: LHLO refused is CRITICAL" 2 \
	"^MTA BANNER CRITICAL - 127\\.0\\.0\\.1:${SP[ok]} LHLO \\[127\\.0\\.0\\.1\\] refused: 500 5\\.5\\.2 unrecognized command; 220 mail\\.example\\.test" \
	banner ok -L -vvv
p_lacks "lmtp: banner -L: no HELO fallback" '^C: HELO'
p_check "lmtp: starttls -L to an SMTP server: LHLO refused is CRITICAL" 2 \
	'^MTA STARTTLS CRITICAL - .* LHLO \[127\.0\.0\.1\] refused: 500 5\.5\.2 unrecognized command' starttls ok -L

# --- aliases: --use-ipv4/--use-ipv6, -q -----------------------------------------------------
T_CHECK_FIRST=1 t_check "posture: alias: banner -H localhost --use-ipv4 connects to 127.0.0.1" 0 \
	"^MTA BANNER OK - localhost\\[127\\.0\\.0\\.1\\]:${SP[ok]} 220 " 4 "$BANNER" -H localhost --use-ipv4 -p "${SP[ok]}"
for c in port banner starttls cert relay; do
	T_CHECK_FIRST=1 t_check "posture: alias: $c --use-ipv6 -H 127.0.0.1: not an IPv6 address (as -6)" '[23]' \
		'DNS: 127\.0\.0\.1 is not an IPv6 address' 4 "$B/check_mta_$c" -H $L -p "${SP[ok]}" --use-ipv6
	six=$T_LAST_OUT
	"$B/check_mta_$c" -H $L -p "${SP[ok]}" -6 >"$T_TMP/six" 2>&1
	t_assert "posture: alias: $c --use-ipv6 says what -6 says (perfdata aside)" \
		bash -c '[ "${1%% |*}" = "$(sed -n "1s/ |.*//p" "$2")" ]' _ "${six%%$'\n'*}" "$T_TMP/six"
done
t_assert "posture: alias: check_mta_sts --help lists --use-ipv4 and --use-ipv6" \
	bash -c '"$1" --help | grep -q -- "--use-ipv4" && "$1" --help | grep -q -- "--use-ipv6"' _ "$B/check_mta_sts"
if "$SIM" -s tests/scenarios/ok.scn -l '[::1]:28019' >/dev/null 2>>"$T_TMP/smtpsim.err" &
	T_PIDS+=($!) && sleep 0.2 && (exec 3<>/dev/tcp/::1/28019) 2>/dev/null; then
	T_CHECK_FIRST=1 t_check "posture: alias: banner -H ::1 --use-ipv6 is OK over IPv6" 0 \
		'^MTA BANNER OK - \[::1\]:28019 220 ' 4 "$BANNER" -H ::1 -p 28019 --use-ipv6
	T_CHECK_FIRST=1 t_check "posture: alias: banner -H ::1 --use-ipv4: not an IPv4 address (as -4)" 2 \
		'DNS: ::1 is not an IPv4 address' 4 "$BANNER" -H ::1 -p 28019 --use-ipv4
else
	t_skip "posture: alias: --use-ipv6 over [::1]" "no IPv6 loopback"
fi
p_check "alias: banner -q (--ignore-quit-failure) accepted" 0 'BANNER OK' banner ok -q
p_check "alias: starttls --ignore-quit-failure accepted" 0 'STARTTLS OK' starttls posture_tls_any --ignore-quit-failure

# --- check_mta_cert -D W[,C] (check_smtp's spelling of -w/-c) -----------------------------------
p_check "cert -D 30: 20 days left is WARNING, no critical threshold" 1 \
	'CERT WARNING - .* certificate expires in 20 days .* days=20;30:;;;' cert posture_cert20d "${CA[@]}" -D 30
p_check "cert -D 30: 10 days left is WARNING too (CRITICAL only when expired)" 1 \
	'CERT WARNING - .* certificate expires in 10 days .* days=10;30:;;;' cert posture_cert10d "${CA[@]}" -D 30
p_check "cert -D 30,14: 10 days left is CRITICAL" 2 \
	'CERT CRITICAL - .* certificate expires in 10 days .* days=10;30:;14:;;' cert posture_cert10d "${CA[@]}" -D 30,14
p_check "cert -D 30,14: 20 days left is WARNING" 1 \
	'CERT WARNING - .* certificate expires in 20 days .* days=20;30:;14:;;' cert posture_cert20d "${CA[@]}" -D 30,14
p_check "cert -D 15: 20 days left is OK" 0 'CERT OK - .* expires in 20 days .* days=20;15:;;;' cert posture_cert20d "${CA[@]}" -D 15
p_check "cert -D 30: expired is CRITICAL" 2 'CERT CRITICAL - .* certificate expired 1 day ago' \
	cert posture_cert_expired "${CA[@]}" -D 30
d=$T_LAST_OUT
p_check "cert --certificate 30,14 is -w 30 -c 14 (same perfdata)" 2 'days=10;30:;14:;;' cert posture_cert10d "${CA[@]}" --certificate 30,14
t_assert "posture: cert: -w 30 -c 14 gives the same days perfdata" \
	bash -c '"$@" | grep -q " days=10;30:;14:;; "' _ "$CERT" -H $L -p "${SP[posture_cert10d]}" "${CA[@]}" -w 30 -c 14
for bad in x '30,' ',14' 30,14,7; do
	p_check "cert -D '$bad' is a usage error" 3 "^MTA CERT UNKNOWN - -D/--certificate: '$bad' is not W or W,C" cert posture_cert10d -D "$bad"
done

# --- check_mta_banner -C CMD -R REGEX ---------------------------------------------------------
p_log posture_command
p_check "banner -C NOOP -R '^250 2\\.0\\.0': reply matches, OK" 0 'BANNER OK' banner posture_command -C NOOP -R '^250 2\.0\.0' -v
p_has "banner -C: -v: NOOP: 250 2.0.0 Ok" '^NOOP: 250 2\.0\.0 Ok$'
p_saw "banner -C: the server got EHLO, NOOP, QUIT in that order" '^C: NOOP$'
t_assert "posture: banner -C: ... NOOP between EHLO and QUIT" \
	bash -c 'grep -E "^C: " <<<"$1" | tr "\n" " " | grep -Eq "C: EHLO [^ ]+ C: NOOP C: QUIT"' _ "$(p_since)"
p_check "banner -C NOOP -R '^2.0.0': the reply is 'CODE text', no match: WARNING" 1 \
	"^MTA BANNER WARNING - .* reply to NOOP does not match '\\^2\\.0\\.0': 250 2\\.0\\.0 Ok; 220 mail\\.example\\.test" \
	banner posture_command -C NOOP -R '^2.0.0'
p_check "banner -C 'VRFY postmaster' -R '^252 ': OK" 0 'BANNER OK' banner posture_command -C 'VRFY postmaster' -R '^252 '
p_check "banner -C HELP -R: any line of a multi-line reply may match" 0 'BANNER OK' \
	banner posture_command -C HELP -R 'End of HELP'
p_check "banner -C HELP -R: no line matches: WARNING naming the first" 1 \
	"reply to HELP does not match 'Nowhere': 214 2\\.0\\.0 This is smtpsim" banner posture_command -C HELP -R 'Nowhere'
p_check "banner -C NOOP without -R: sent, OK" 0 'BANNER OK' banner posture_command -C NOOP
p_log posture_command
for cmd in DATA data BDAT 'BDAT 10 LAST' QUIT; do
	p_check "banner -C '$cmd' is refused (usage error)" 3 "^MTA BANNER UNKNOWN - -C/--command: '$cmd' cannot be sent" \
		banner posture_command -C "$cmd"
done
p_check "banner -C with CR LF inside is refused" 3 'control characters are not allowed' banner posture_command -C $'NOOP\r\nDATA'
p_check "banner -R that is not an ERE is a usage error" 3 "^MTA BANNER UNKNOWN - -R/--response: '\\(' is not an extended regular expression" \
	banner posture_command -C NOOP -R '('
p_check "banner -C '  DATA' (leading blanks) is refused too" 3 "cannot be sent" banner posture_command -C '  DATA'
p_not_saw "banner -C: the server never got DATA or BDAT in any spelling" '^C: *(DATA|BDAT)'

# --- Dovecot LMTP (dovecot-lmtpd), a private instance ----------------------------------------
dovecot_lmtp() {
	local ver t0 rc
	ver=$(tests/mta/dovecot.sh check lmtp 2>"$T_TMP/dv.err")
	rc=$?
	if [ $rc = 77 ]; then
		t_skip "posture: dovecot lmtp" "${ver#SKIP: }"
		return
	elif [ $rc != 0 ]; then
		t_report "posture: dovecot lmtp: installed" " tests/mta/dovecot.sh check lmtp failed" "$(cat "$T_TMP/dv.err")"
		return
	fi
	if ! tests/mta/dovecot.sh setup-lmtp "$DV" "$PKI" $DV_P 2>"$T_TMP/dv.err"; then
		t_report "posture: dovecot lmtp: configuration accepted (doveconf -n)" " setup-lmtp failed" "$(cat "$T_TMP/dv.err")"
		return
	fi
	t0=$(date +%s%N)
	if ! t_mta_start tests/mta/dovecot.sh "$DV" "$T_TMP/dovecot.out"; then
		t_report "posture: dovecot lmtp: started" " $T_MTA_ERR" "$(cat "$T_TMP/dovecot.out"; tail -n 8 "$DV/dovecot.log" 2>/dev/null)"
		return
	fi
	t_report "posture: dovecot lmtp: Dovecot ${ver#* } LMTP up in $(t_ms_since "$t0") ms (PID $T_MTA_PID)" "" ""
	t_log_mark "$DV/dovecot.log"
	T_CHECK_FIRST=1 t_check "posture: dovecot lmtp: banner -L is OK (LHLO)" 0 \
		"^MTA BANNER OK - 127\\.0\\.0\\.1:$DV_P 220 lmtp\\.dovecot\\.test Dovecot \\(Debian\\) ready\\. " 4 \
		"$BANNER" -H $L -p $DV_P -L --require-ext STARTTLS,PIPELINING,ENHANCEDSTATUSCODES
	T_CHECK_FIRST=1 t_check "posture: dovecot lmtp: banner without -L: EHLO and HELO refused (500) is WARNING" 1 \
		'^MTA BANNER WARNING - .* EHLO and HELO \[127\.0\.0\.1\] refused: 500 5\.5\.1 Unknown command / 500 5\.5\.1 Unknown command; 220 lmtp\.dovecot\.test' 4 \
		"$BANNER" -H $L -p $DV_P
	T_CHECK_FIRST=1 t_check "posture: dovecot lmtp: starttls -L --ca-file is OK (STARTTLS over LHLO, verified)" 0 \
		"^MTA STARTTLS OK - 127\\.0\\.0\\.1:$DV_P STARTTLS: TLSv1\\.3 $ANY \\(handshake" 4 \
		"$STARTTLS" -H $L -p $DV_P -L "${CA[@]}" -vvv
	t_assert "posture: dovecot lmtp: starttls -L: -vvv: LHLO, STARTTLS, LHLO; Dovecot's 220 2.0.0 Begin TLS negotiation now." \
		bash -c 'tr "\n" " " <<<"$1" | grep -Eq "C: LHLO .*C: STARTTLS S: 220 2\.0\.0 Begin TLS negotiation now\. .*C: LHLO "' _ "$T_LAST_OUT"
	T_CHECK_FIRST=1 t_check "posture: dovecot lmtp: starttls without -L: CRITICAL" 2 \
		'^MTA STARTTLS CRITICAL - .*STARTTLS not advertised.*EHLO and HELO .* refused' 4 "$STARTTLS" -H $L -p $DV_P
	# ssl_min_protocol = TLSv1.2: Dovecot hangs up on a TLS 1.0/1.1 ClientHello,
	# no alert (its log: "unsupported protocol"); the scan cannot tell
	T_CHECK_FIRST=1 t_check "posture: dovecot lmtp: starttls -L --scan-versions: OK, versions_below_min=0" 0 \
		'^MTA STARTTLS OK - .* versions_below_min=0;;;0;$' 4 "$STARTTLS" -H $L -p $DV_P -L --scan-versions -v
	p_has "dovecot lmtp: scan TLSv1: not known (Dovecot closes without an alert)" \
		'^scan TLSv1: not known \(handshake: connection closed by the server during the TLS handshake\)$'
	# Dovecot's lib-smtp hands what it read past STARTTLS to OpenSSL
	T_CHECK_FIRST=1 t_check "posture: dovecot lmtp: starttls -L --injection: handshake fails after the NOOP: WARNING" 1 \
		'^MTA STARTTLS WARNING - .* injection probe: the TLS handshake failed after STARTTLS and an injected NOOP' 4 \
		"$STARTTLS" -H $L -p $DV_P -L --injection
	t_log_settle 'Info: Connect from' 'Info: Disconnect from'
	# (whether Dovecot logs the scan's refused ClientHellos as "unsupported
	# protocol" depends on how far it read before the client hung up)
	t_log_check "posture: dovecot lmtp: its log: TLS refused by Dovecot, no MAIL/RCPT/DATA, no NOOP read as a command" \
		'SSL_accept\(\) (syscall )?failed' 'Received new command: (MAIL|RCPT|DATA|BDAT|NOOP)' 'SSL_accept|Received new command'
	t_assert "posture: dovecot lmtp: the injection's NOOP went to SSL_accept (syscall failed), never read as a command" \
		grep -q 'Disconnect from 127.0.0.1: Connection closed: SSL_accept() syscall failed' <(t_log_since)
	t_assert "posture: dovecot lmtp: no errors or fatals in Dovecot's log" bash -c '! grep -qE ": (Error|Fatal|Panic): " "$1"' _ "$DV/dovecot.log"
	t_mta_stop "posture: dovecot lmtp"
}
dovecot_lmtp

# --- a real Postfix 3.7: as shipped (>=TLSv1), and >=TLSv1.2 ---------------------------------
postfix_scan() {
	local rc
	tests/postfix.sh start "$PF_A" $PF_AP strict "$PKI" >"$T_TMP/pf.log" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		t_skip "posture: postfix" "$(tail -n 1 "$T_TMP/pf.log")"
		return
	elif [ $rc != 0 ]; then
		t_report "posture: postfix (default TLS protocols) started" " tests/postfix.sh failed" "$(cat "$T_TMP/pf.log")"
		return
	fi
	PF_MAIN_EXTRA='smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2' tests/postfix.sh start "$PF_B" $PF_BP strict "$PKI" >>"$T_TMP/pf.log" 2>&1 ||
		t_report "posture: postfix (>=TLSv1.2) started" " tests/postfix.sh failed" "$(cat "$T_TMP/pf.log")"
	T_CHECK_FIRST=1 t_check "posture: postfix: as shipped (smtpd_tls_protocols >=TLSv1): --scan-versions WARNING, TLSv1 and TLSv1.1" 1 \
		"^MTA STARTTLS WARNING - 127\\.0\\.0\\.1:$PF_AP still accepts TLSv1, TLSv1\\.1; STARTTLS: TLSv1\\.3 .* versions_below_min=2;;;0;\$" 5 \
		"$STARTTLS" -H $L -p $PF_AP "${CA[@]}" --scan-versions -v
	p_has "postfix: as shipped: -v: scan TLSv1: accepted (TLSv1 ECDHE-ECDSA-...)" '^scan TLSv1: accepted \(TLSv1 ECDHE-ECDSA-[A-Z0-9-]+\)$'
	NOT_RE='inject|AUTH' T_CHECK_FIRST=1 t_check "posture: postfix: --injection: OK, the pipelined NOOP is discarded" 0 \
		"^MTA STARTTLS OK - 127\\.0\\.0\\.1:$PF_AP STARTTLS: TLSv1\\.3 " 5 "$STARTTLS" -H $L -p $PF_AP "${CA[@]}" --injection -v
	p_has "postfix: --injection: -v: plain text after STARTTLS discarded (not vulnerable)" \
		'^injection probe: plain text after STARTTLS discarded \(not vulnerable\)$'
	T_CHECK_FIRST=1 t_check "posture: postfix: SMTPS port, -s --scan-versions: TLSv1 and TLSv1.1 taken there too" 1 \
		"still accepts TLSv1, TLSv1\\.1; implicit TLS: TLSv1\\.3 .* versions_below_min=2;;;0;\$" 5 \
		"$STARTTLS" -H $L -p $((PF_AP + 1)) -s "${CA[@]}" --scan-versions
	[ -s "$PF_B/master.pid" ] || return
	T_CHECK_FIRST=1 t_check "posture: postfix: smtpd_tls_protocols = >=TLSv1.2: --scan-versions OK, versions_below_min=0" 0 \
		"^MTA STARTTLS OK - 127\\.0\\.0\\.1:$PF_BP STARTTLS: TLSv1\\.3 .* versions_below_min=0;;;0;\$" 5 \
		"$STARTTLS" -H $L -p $PF_BP "${CA[@]}" --scan-versions -v
	p_has "postfix: >=TLSv1.2: -v: scan TLSv1: refused" '^scan TLSv1: refused \('
	p_has "postfix: >=TLSv1.2: -v: scan TLSv1.1: refused" '^scan TLSv1\.1: refused \('
	T_CHECK_FIRST=1 t_check "posture: postfix: >=TLSv1.2, --min-tls 1.3: TLSv1.2 still taken" 1 \
		'still accepts TLSv1\.2; STARTTLS: TLSv1\.3 .* versions_below_min=1;;;0;$' 5 \
		"$STARTTLS" -H $L -p $PF_BP "${CA[@]}" --scan-versions --min-tls 1.3
	T_CHECK_FIRST=1 t_check "posture: postfix: >=TLSv1.2 SMTPS port (mandatory protocols): -s --scan-versions OK" 0 \
		'implicit TLS: TLSv1\.3 .* versions_below_min=0;;;0;$' 5 \
		"$STARTTLS" -H $L -p $((PF_BP + 1)) -s "${CA[@]}" --scan-versions
	t_assert "posture: postfix: >=TLSv1.2: Postfix logged the refused handshakes" \
		grep -qE 'SSL_accept error from .*(unsupported protocol|version)|TLS library problem.*(unsupported protocol|version)' "$PF_B/maillog"
}
postfix_scan
t_assert "posture: postfix instances stopped" bash -c 'tests/postfix.sh stop "$1" && tests/postfix.sh stop "$2"' _ "$PF_A" "$PF_B"

# --- smtpsim's new tls forms: load-time errors ----------------------------------------------
for bad in "tls good bogus" "tls good 1.4" "tls good 1.2+ 1.3" "tls good keep feed" "tls good 1.2++"; do
	printf 'line 220 x\nexpect STARTTLS\n%s\n' "$bad" >"$T_TMP/bad.scn"
	err=$("$SIM" -s "$T_TMP/bad.scn" -l 127.0.0.1:28019 -C "$PKI" 2>&1 >/dev/null)
	t_assert "posture: smtpsim: '$bad' is a load-time error (exit 2, file:line)" \
		bash -c '[ "$1" = 2 ] && grep -q "bad.scn:3: " <<<"$2"' _ "$?" "$err"
done
t_assert "posture: smtpsim stderr: no complaint, no sanitizer report" \
	bash -c '! grep -qE "Sanitizer|runtime error|posture_" "$1"' _ "$T_TMP/smtpsim.err"
t_stop_all
echo "# posture: $((T_N - ${T_N_START:-0})) tests in $(t_ms_since "$T_START") ms"
