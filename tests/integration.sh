#!/usr/bin/env bash
# tests/integration.sh BUILD_DIR - the real binaries against the scripted
# SMTP server (tests/smtpsim.c), a real Postfix and a filtered port in a
# network namespace.  Loopback only.  Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/asan}
PORT=$B/check_mta_port
BANNER=$B/check_mta_banner
STARTTLS=$B/check_mta_starttls
CERT=$B/check_mta_cert
SIM=$B/smtpsim
. tests/lib.sh
PF_DIR=""
PF_TLS="" PF_CERTS=""
cleanup() {
	t_cleanup
	[ -n "$PF_DIR" ] && tests/postfix.sh stop "$PF_DIR" >/dev/null 2>&1
	[ -n "$PF_TLS" ] && tests/postfix.sh stop "$PF_TLS" >/dev/null 2>&1
	[ -n "$PF_CERTS" ] && tests/postfix.sh stop "$PF_CERTS" >/dev/null 2>&1
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# --- the scripted server: one port per scenario --------------------------------
P=27000
declare -A SP
for s in ok nosize multiline greet421 greet554 delay silent drip longline endless garbage \
	ehlo502 ehlo_helo_fail badcont ctrlchars closeafter baremlf proxy1 \
	starttls_stall starttls_garbage starttls_close starttls_inject starttls_454 auth_bare size_bare; do
	P=$((P + 1))
	SP[$s]=$P
	t_sim "$s" "$P" -T "$T_TMP/$s.transcript" || exit 1
done
L=127.0.0.1

# check_mta_port
t_check "port: open port is OK with connect time" 0 'MTA PORT OK - 127\.0\.0\.1:[0-9]+ connected in [0-9.]+s \| connect=[0-9.]+s;;;0; time=' 2 \
	"$PORT" -H $L -p "${SP[ok]}"
t_check "port: closed port is CRITICAL, refused" 2 'connect: Connection refused' 2 \
	"$PORT" -H $L -p 27999
t_check "port: -w range on connect time (@0:10 alerts inside)" 1 'connect took [0-9.]+s \(warning @0:10\)' 2 \
	"$PORT" -H $L -p "${SP[ok]}" -w @0:10
t_check "port: -c beats -w" 2 'connect took [0-9.]+s \(critical @0:10\).*connect=[0-9.]+s;@0:10;@0:10;0;' 2 \
	"$PORT" -H $L -p "${SP[ok]}" -w @0:10 -c @0:10
# (a resolver of our own that does not answer: the test asks nobody outside)
# (refused at once where ICMP comes back, else the deadline: both are CRITICAL)
t_check "port: name that cannot be resolved is CRITICAL" 2 \
	'nonexistent\.invalid:25 DNS: (no DNS server gave an answer|.*timeout)' 3.5 \
	"$PORT" -H nonexistent.invalid --dns-server 127.0.0.1:27999 -t 3
t_check "port: -6 with an IPv4 literal is CRITICAL, not a silent v4 connect" 2 'not an IPv6 address' 2 \
	"$PORT" -H $L -p "${SP[ok]}" -6
t_check "port: --source binds the local address" 0 'PORT OK' 2 \
	"$PORT" -H $L -p "${SP[ok]}" --source 127.0.0.1
t_check "port: --source of the other family fails clearly" 2 '127\.0\.0\.1 is not an IPv6 address' 2 \
	"$PORT" -H $L -p "${SP[ok]}" --source ::1

# check_mta_banner: the good cases
t_check "banner: 220 greeting OK, greeting in summary, SIZE perfdata" 0 \
	'MTA BANNER OK - 127\.0\.0\.1:[0-9]+ 220 mail\.example\.test ESMTP smtpsim \([0-9.]+s\) \| connect=[0-9.]+s;;;0; banner=[0-9.]+s;;;0; ehlo=[0-9.]+s;;;0; time=[0-9.]+s;;;0; size=10240000B;;;0;$' 3 \
	"$BANNER" -H $L -p "${SP[ok]}"
t_check "banner: --require-ext PIPELINING,SIZE met" 0 'BANNER OK' 3 \
	"$BANNER" -H $L -p "${SP[ok]}" --require-ext PIPELINING,SIZE
t_check "banner: --require-ext names the missing keyword" 1 'extension CHUNKING,STARTTLS not advertised' 3 \
	"$BANNER" -H $L -p "${SP[ok]}" --require-ext pipelining,CHUNKING,STARTTLS
t_check "banner: --require-ext AUTH: 'AUTH' with no mechanism does not count" 1 'extension AUTH not advertised' 3 \
	"$BANNER" -H $L -p "${SP[auth_bare]}" --require-ext STARTTLS,AUTH -v
t_assert "banner: ... and -v says why" grep -q 'AUTH is advertised without a mechanism' <<<"$T_LAST_OUT"
t_check "banner: a bare SIZE (no limit) counts for --require-ext SIZE" 0 'BANNER OK' 3 \
	"$BANNER" -H $L -p "${SP[size_bare]}" --require-ext SIZE
t_assert "banner: ... and gives no size=0B perfdata" bash -c '! grep -q "size=" <<<"$1"' _ "$T_LAST_OUT"
t_check "banner: SIZE not advertised: no size perfdata, --require-ext SIZE warns" 1 'extension SIZE not advertised' 3 \
	"$BANNER" -H $L -p "${SP[nosize]}" --require-ext SIZE
t_assert "banner: no size perfdata without SIZE" bash -c '! grep -q "size=" <<<"$1"' _ "$T_LAST_OUT"
t_check "banner: --expect met" 0 'BANNER OK' 3 "$BANNER" -H $L -p "${SP[ok]}" -e ESMTP
t_check "banner: --expect not met is WARNING" 1 "greeting does not contain 'Exim'" 3 \
	"$BANNER" -H $L -p "${SP[ok]}" --expect Exim
t_check "banner: multi-line greeting, -v lists every line" 0 'greeting: 220-mail\.example\.test.*' 3 \
	"$BANNER" -H $L -p "${SP[multiline]}" -v
t_assert "banner: -v shows the third greeting line and extensions" \
	grep -q $'greeting: 220 third line\nextension: PIPELINING' <<<"$T_LAST_OUT"
t_check "banner: --expect matches a later greeting line" 0 'BANNER OK' 3 \
	"$BANNER" -H $L -p "${SP[multiline]}" -e "third line"
t_check "banner: EHLO 502 falls back to HELO" 0 'EHLO refused \(502 5\.5\.1 EHLO not implemented\), HELO accepted' 3 \
	"$BANNER" -H $L -p "${SP[ehlo502]}" -v
t_check "banner: EHLO and HELO refused is WARNING" 1 'EHLO and HELO .* refused: 550 5\.7\.1 go away / 550' 3 \
	"$BANNER" -H $L -p "${SP[ehlo_helo_fail]}"
t_check "banner: bare-LF server still understood" 0 'BANNER OK .*220 mail\.example\.test ESMTP bare-lf' 3 \
	"$BANNER" -H $L -p "${SP[baremlf]}"
t_check "banner: control bytes in the greeting are escaped" 0 'mail\.example\.test \\x1b\[31mred\\x07 ESMTP' 3 \
	"$BANNER" -H $L -p "${SP[ctrlchars]}"
t_assert "banner: no raw control byte reaches the output" bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" <<<"${1//$'"'"'\n'"'"'/}"' _ "$T_LAST_OUT"
t_check "banner: -F sets the EHLO name, -vvv prints the transcript" 0 'C: EHLO probe\.example\.org' 3 \
	"$BANNER" -H $L -p "${SP[ok]}" -F probe.example.org -vvv
t_assert "banner: transcript has the greeting and QUIT" \
	grep -qz 'S: 220 mail.example.test ESMTP smtpsim.*C: QUIT' <<<"$T_LAST_OUT"
t_assert "banner: the server saw EHLO then QUIT, nothing before the greeting" \
	grep -qz 'C: EHLO probe.example.org.*C: QUIT' "$T_TMP/ok.transcript"
t_check "banner: default EHLO name is never 'localhost'" 0 'C: EHLO [^l]' 3 \
	"$BANNER" -H $L -p "${SP[ok]}" -vvv
t_check "banner: --proxy-protocol 1 sends the header first" 0 'BANNER OK .*proxied' 3 \
	"$BANNER" -H $L -p "${SP[proxy1]}" --proxy-protocol 1

# check_mta_banner: thresholds and time
t_check "banner: slow greeting (1.5 s) over -w 1 is WARNING" 1 'greeting took 1\.[0-9]+s \(warning 1\).*banner=1\.[0-9]+s;1;3;0;' 4 \
	"$BANNER" -H $L -p "${SP[delay]}" -w 1 -c 3
t_check "banner: slow greeting over -c 1 is CRITICAL" 2 'greeting took 1\.[0-9]+s \(critical 1\)' 4 \
	"$BANNER" -H $L -p "${SP[delay]}" -w 0.5 -c 1
t_check "banner: silent server, -t 2: CRITICAL within 2.5 s" 2 'greeting: timeout after 2\.0s' 2.5 \
	"$BANNER" -H $L -p "${SP[silent]}" -t 2
t_check "banner: -t 1:warning maps the timeout to WARNING" 1 'greeting: timeout after 1\.0s' 1.5 \
	"$BANNER" -H $L -p "${SP[silent]}" -t 1:warning
t_check "banner: -t 1:unknown maps the timeout to UNKNOWN" 3 'greeting: timeout' 1.5 \
	"$BANNER" -H $L -p "${SP[silent]}" -t 1:unknown
t_check "banner: server dripping a byte every 0.5 s cannot outlive -t 2" 2 'greeting: timeout after 2\.0s' 2.5 \
	"$BANNER" -H $L -p "${SP[drip]}" -t 2

# check_mta_banner: hostile and failing servers
t_check "banner: 421 greeting is CRITICAL with code and text" 2 'greeting refused with 421; 421 4\.3\.2 mail\.example\.test Service not available' 3 \
	"$BANNER" -H $L -p "${SP[greet421]}"
t_check "banner: 554 greeting is CRITICAL" 2 'greeting refused with 554; 554 5\.7\.1 No SMTP service here' 3 \
	"$BANNER" -H $L -p "${SP[greet554]}"
t_check "banner: 1 MiB line without CRLF is malformed, not buffered" 2 'greeting: malformed reply: line longer than 4096 bytes' 3 \
	"$BANNER" -H $L -p "${SP[longline]}"
t_check "banner: endless 220- reply stops at 100 lines" 2 'greeting: malformed reply: reply longer than 100 lines' 3 \
	"$BANNER" -H $L -p "${SP[endless]}"
t_check "banner: binary garbage is CRITICAL" 2 'greeting: malformed reply' 3 \
	"$BANNER" -H $L -p "${SP[garbage]}"
t_check "banner: mismatched continuation codes are malformed" 2 'line 2 has code 250, the reply began with 220' 3 \
	"$BANNER" -H $L -p "${SP[badcont]}"
t_check "banner: server closing after the greeting is CRITICAL" 2 'EHLO: connection closed by the server' 3 \
	"$BANNER" -H $L -p "${SP[closeafter]}"
t_check "banner: closed port is CRITICAL" 2 'connect: Connection refused' 2 "$BANNER" -H $L -p 27999

# -A: every address of a name (localhost has 127.0.0.1 here; ::1 too where /etc/hosts says so)
t_check "banner: -A checks every address, one long-output line each" 0 \
	'MTA BANNER OK - localhost: [0-9]+ of [0-9]+ addresses OK \| localhost_127\.0\.0\.1_dns=[0-9.]+s;;;0; localhost_127\.0\.0\.1_connect=' 3 \
	"$BANNER" -H localhost -A -4 -p "${SP[ok]}"
t_assert "banner: -A long output line per address" grep -q '^\[OK\] localhost\[127\.0\.0\.1\]:' <<<"$T_LAST_OUT"

# --- network namespace: a port whose packets are dropped -------------------------
NS_SCRIPT="$T_TMP/ns.sh"
cat >"$NS_SCRIPT" <<NS
. tests/lib.sh
T_N=$T_N
t_check "port: dropped packets, -t 2: CRITICAL within 2.5 s" 2 'connect: no answer to connect after 2\.0s' 2.5 \
	"$PORT" -H 127.0.0.1 -p 2999 -t 2
t_check "banner: dropped packets, -t 2: CRITICAL within 2.5 s" 2 'connect: no answer to connect after 2\.0s' 2.5 \
	"$BANNER" -H 127.0.0.1 -p 2999 -t 2
t_check "port: TCP reset (nft reject) is CRITICAL at once" 2 'Connection refused' 1 \
	"$PORT" -H 127.0.0.1 -p 2998 -t 2
NS
ns_out=$(tests/netns_drop.sh bash "$NS_SCRIPT" 2>&1)
if [ $? = 77 ] || [[ $ns_out == SKIP* ]]; then
	T_N=$((T_N + 1))
	echo "ok $T_N - filtered port # SKIP ${ns_out#SKIP: }"
else
	printf '%s\n' "$ns_out"
	T_N=$((T_N + $(grep -c '^\(not \)\?ok ' <<<"$ns_out")))
fi

# --- a real Postfix -------------------------------------------------------------
PF_DIR=$(mktemp -d)
PFP=10025
if tests/postfix.sh start "$PF_DIR" $PFP strict >"$T_TMP/pf.log" 2>&1; then
	t_check "postfix: port OK" 0 'MTA PORT OK - 127\.0\.0\.1:10025 connected' 3 "$PORT" -H $L -p $PFP
	t_check "postfix: banner OK with Postfix's greeting" 0 \
		'MTA BANNER OK - 127\.0\.0\.1:10025 220 mail\.example\.test ESMTP mtaprobe-test' 5 \
		"$BANNER" -H $L -p $PFP -e ESMTP --require-ext PIPELINING,SIZE,8BITMIME
	t_assert "postfix: SIZE perfdata is Postfix's message_size_limit" \
		grep -q "size=$(postconf -c "$PF_DIR" -h message_size_limit)B;" <<<"$T_LAST_OUT"
	t_check "postfix: missing extension is WARNING" 1 'extension SMTPUTF9 not advertised' 5 \
		"$BANNER" -H $L -p $PFP --require-ext SMTPUTF9
	t_check "postfix: -w on greeting time (@0:30 alerts) is WARNING" 1 'greeting took [0-9.]+s \(warning @0:30\)' 5 \
		"$BANNER" -H $L -p $PFP -w @0:30
	t_check "postfix: -A on localhost" 0 'addresses OK' 5 "$BANNER" -H localhost -4 -A -p $PFP
else
	t_report "postfix: instance started" " tests/postfix.sh failed" "$(cat "$T_TMP/pf.log")"
fi

# --- TLS: test PKI made now, Postfix with STARTTLS / SMTPS / one port per certificate
PKI=$T_TMP/pki
if ! tests/mkcerts.sh "$PKI" >"$T_TMP/mkcerts.log" 2>&1; then
	t_report "tls: test PKI generated" " tests/mkcerts.sh failed" "$(cat "$T_TMP/mkcerts.log")"
	exit 0
fi
CA=(--ca-file "$PKI/root.crt")
PF_TLS=$(mktemp -d)
PF_CERTS=$(mktemp -d)
TP=10125 CP=10140
if tests/postfix.sh start "$PF_TLS" $TP strict "$PKI" >"$T_TMP/pf-tls.log" 2>&1 &&
	tests/postfix.sh start "$PF_CERTS" $CP certs "$PKI" >>"$T_TMP/pf-tls.log" 2>&1; then
	SP_=$((TP + 1))
	t_check "starttls: Postfix STARTTLS OK, protocol and cipher in the summary" 0 \
		'MTA STARTTLS OK - 127\.0\.0\.1:10125 STARTTLS: TLSv1\.3 TLS_[A-Z0-9_]+ \(handshake [0-9.]+s\) \| connect=[0-9.]+s;;;0; banner=[0-9.]+s;;;0; ehlo=[0-9.]+s;;;0; starttls=[0-9.]+s;;;0; handshake=[0-9.]+s;;;0; time=' 5 \
		"$STARTTLS" -H $L -p $TP "${CA[@]}"
	t_check "starttls: -v names group, subject, issuer" 0 'certificate 0: subject CN=mail\.example\.test; issuer CN=Envlab|certificate 0: subject CN=mail\.example\.test; issuer CN=' 5 \
		"$STARTTLS" -H $L -p $TP -v
	t_check "starttls: -vvv transcript: EHLO again after TLS" 0 'C: STARTTLS' 5 "$STARTTLS" -H $L -p $TP -vvv
	t_assert "starttls: EHLO is sent twice (RFC 3207 4.2)" bash -c '[ "$(grep -c "C: EHLO" <<<"$1")" = 2 ]' _ "$T_LAST_OUT"
	t_check "starttls: -S accepted (check_smtp habit), -w/-c on handshake time" 1 'TLS handshake took [0-9.]+s \(warning @0:10\).*handshake=[0-9.]+s;@0:10;;0;' 5 \
		"$STARTTLS" -H $L -p $TP -S -w @0:10
	t_check "starttls: SMTPS port with -s checks the implicit-TLS handshake" 0 'STARTTLS OK - 127\.0\.0\.1:10126 implicit TLS: TLSv1\.3' 5 \
		"$STARTTLS" -H $L -p $SP_ -s
	t_check "port: -s completes the TLS handshake (SMTPS)" 0 'PORT OK - .* connected in [0-9.]+s, TLSv1\.3 [A-Z0-9_]+ handshake in' 5 \
		"$PORT" -H $L -p $SP_ -s
	t_check "banner: greeting read over implicit TLS" 0 'BANNER OK - 127\.0\.0\.1:10126 220 mail\.example\.test ESMTP' 5 \
		"$BANNER" -H $L -p $SP_ --tls
	t_check "cert: SMTPS chain verified with --ca-file" 0 'CERT OK - 127\.0\.0\.1:10126 EC-256 certificate expires in 36[45] days .*verified \|.* days=36[45];30:;14:;; chain_days=' 5 \
		"$CERT" -H $L -p $SP_ -s "${CA[@]}"
	t_check "cert: good certificate over STARTTLS, host name localhost verified" 0 'CERT OK - localhost\[127\.0\.0\.1\]:10140 EC-256 certificate expires in 36[45] days' 5 \
		"$CERT" -H localhost -4 -p $CP "${CA[@]}"
	t_check "cert: no trust anchor for the private CA: CRITICAL with OpenSSL's reason" 2 'verification failed: unable to get local issuer certificate' 5 \
		"$CERT" -H $L -p $CP --ca-path "$T_TMP"
	t_check "cert: expired is CRITICAL" 2 'certificate expired 1 day ago.*days=-1;' 5 "$CERT" -H $L -p $((CP + 1)) "${CA[@]}"
	t_check "cert: 10 days left is CRITICAL under the default -c 14" 2 'certificate expires in 10 days.*days=10;30:;14:;;' 5 \
		"$CERT" -H $L -p $((CP + 2)) "${CA[@]}"
	t_check "cert: 20 days left is WARNING under the default -w 30" 1 'certificate expires in 20 days' 5 \
		"$CERT" -H $L -p $((CP + 3)) "${CA[@]}"
	t_check "cert: 20 days with -w 10 -c 5 is OK (bare N means fewer than N)" 0 'CERT OK .*expires in 20 days.*days=20;10:;5:;;' 5 \
		"$CERT" -H $L -p $((CP + 3)) "${CA[@]}" -w 10 -c 5
	t_check "cert: not yet valid is CRITICAL" 2 'certificate is not valid before' 5 "$CERT" -H $L -p $((CP + 4)) "${CA[@]}"
	t_check "cert: self-signed is CRITICAL" 2 'verification failed: self-signed certificate' 5 \
		"$CERT" -H $L -p $((CP + 5)) "${CA[@]}"
	t_check "cert: self-signed with --no-verify is OK" 0 'CERT OK' 5 "$CERT" -H $L -p $((CP + 5)) --no-verify
	t_check "cert: wrong host name is CRITICAL" 2 'verification failed: hostname mismatch' 5 \
		"$CERT" -H localhost -4 -p $((CP + 6)) "${CA[@]}"
	t_check "cert: SHA-1 signature is WARNING" 1 'weak signature ecdsa-with-SHA1 on the certificate' 5 \
		"$CERT" -H $L -p $((CP + 7)) "${CA[@]}"
	t_check "cert: RSA-1024 is WARNING" 1 'weak key RSA-1024 \(< 2048\)' 5 "$CERT" -H $L -p $((CP + 8)) "${CA[@]}"
	t_check "cert: dual RSA+ECDSA server: both fetched, the 5-day RSA one is CRITICAL" 2 \
		'RSA-2048 certificate expires in 5 days.*EC-256 certificate expires in 90 days|EC-256 certificate expires in 90 days.*RSA-2048 certificate expires in 5 days' 5 \
		"$CERT" -H $L -p $((CP + 9)) "${CA[@]}"
	t_assert "cert: dual: perfdata days is the earliest leaf" grep -q 'days=5;30:;14:;;' <<<"$T_LAST_OUT"
	t_check "cert: RSA-only server: one certificate, no false second" 0 'CERT OK .*RSA-2048 certificate expires' 5 \
		"$CERT" -H $L -p $((CP + 12)) "${CA[@]}" -v
	t_assert "cert: RSA-only: -v says no ECDSA certificate offered" grep -q 'no ECDSA certificate offered' <<<"$T_LAST_OUT"
	t_check "starttls: not advertised is CRITICAL" 2 'STARTTLS not advertised' 5 "$STARTTLS" -H $L -p $((CP + 10))
	t_check "cert: server without STARTTLS is CRITICAL" 2 'STARTTLS not advertised' 5 "$CERT" -H $L -p $((CP + 10))
	t_check "starttls: TLS 1.0-only server is WARNING under --min-tls 1.2" 1 'TLSv1 is below the minimum TLSv1\.2' 5 \
		"$STARTTLS" -H $L -p $((CP + 11))
	t_check "starttls: TLS 1.0-only server with --min-tls 1.0 is OK" 0 'STARTTLS: TLSv1 ' 5 \
		"$STARTTLS" -H $L -p $((CP + 11)) --min-tls 1.0
else
	t_report "tls: Postfix instances with TLS started" " tests/postfix.sh failed" "$(cat "$T_TMP/pf-tls.log")"
fi

# STARTTLS failure modes from the scripted server
t_check "starttls: 454 to STARTTLS is CRITICAL with the reply" 2 'STARTTLS refused: 454 4\.7\.0 TLS not available' 3 \
	"$STARTTLS" -H $L -p "${SP[starttls_454]}"
t_check "starttls: 220 then close is CRITICAL" 2 'handshake: connection closed by the server during the TLS handshake' 3 \
	"$STARTTLS" -H $L -p "${SP[starttls_close]}"
t_check "starttls: 220 then plaintext garbage is CRITICAL" 2 'handshake: TLS error during the TLS handshake' 3 \
	"$STARTTLS" -H $L -p "${SP[starttls_garbage]}"
t_check "starttls: stalled handshake cannot outlive -t 2" 2 'handshake: timeout after 2\.0s during the TLS handshake' 2.5 \
	"$STARTTLS" -H $L -p "${SP[starttls_stall]}" -t 2
t_check "starttls: reply injected behind the 220 is CRITICAL" 2 'after its 220 to STARTTLS, before TLS \(response injection\)' 3 \
	"$STARTTLS" -H $L -p "${SP[starttls_inject]}"
t_check "cert: stalled implicit-TLS handshake cannot outlive -t 2" 2 'handshake: timeout after 2\.0s' 2.5 \
	"$CERT" -H $L -p "${SP[silent]}" -s -t 2
t_check "starttls: server without STARTTLS (scripted) is CRITICAL" 2 'STARTTLS not advertised' 3 \
	"$STARTTLS" -H $L -p "${SP[ok]}"

# Port 465 means implicit TLS unless --no-tls (RFC 8314)
if command -v openssl >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/465) 2>/dev/null; then
	openssl s_server -accept 127.0.0.1:465 -cert "$PKI/good.crt" -cert_chain "$PKI/int.crt" -key "$PKI/good.key" -quiet \
		</dev/null >/dev/null 2>&1 &
	T_PIDS+=($!)
	if t_wait_port 127.0.0.1 465; then
		t_check "port: port 465 implies the TLS handshake" 0 'PORT OK - 127\.0\.0\.1:465 connected in [0-9.]+s, TLSv1\.3' 5 \
			"$PORT" -H $L -p 465
		t_check "port: --no-tls on 465 is a plain connect" 0 'PORT OK - 127\.0\.0\.1:465 connected in [0-9.]+s \|' 5 \
			"$PORT" -H $L -p 465 --no-tls
		t_check "cert: port 465 implies implicit TLS" 0 'CERT OK - 127\.0\.0\.1:465 ' 5 "$CERT" -H $L -p 465 "${CA[@]}"
	fi
fi

# --- TLS from the scripted server (smtpsim tls step) ----------------------------
# Implicit TLS and STARTTLS with certificates from $PKI, no Postfix involved.
declare -A TS
P=27100
for s in tls_implicit tls_starttls tls_noehlo tls_tls10 tls_expired_implicit tls_nameonly; do
	TS[$s]=$P
	t_sim "$s" "$P" -C "$PKI" -T "$T_TMP/$s.transcript" || exit 1
	P=$((P + 1))
done
t_check "tls sim: banner -s reads the 220 greeting over implicit TLS" 0 \
	"MTA BANNER OK - 127\\.0\\.0\\.1:${TS[tls_implicit]} 220 mail\\.example\\.test ESMTP smtpsim .*handshake=[0-9.]+s;;;0; .*size=10240000B;" 3 \
	"$BANNER" -H $L -p "${TS[tls_implicit]}" -s
t_assert "tls sim: the greeting was sent after the handshake" \
	grep -Pzq '#: TLS handshake \(good, line \d+\) done: TLSv1\.3 [^\n]*\nS: 220 mail\.example\.test ESMTP smtpsim\n' \
	"$T_TMP/tls_implicit.transcript"
t_check "tls sim: port -s completes the implicit-TLS handshake" 0 \
	"MTA PORT OK - 127\\.0\\.0\\.1:${TS[tls_implicit]} connected in [0-9.]+s, TLSv1\\.3 TLS_[A-Z0-9_]+ handshake in" 3 \
	"$PORT" -H $L -p "${TS[tls_implicit]}" -s
t_check "tls sim: starttls -s on SMTPS is OK, implicit TLS: TLSv1.3" 0 \
	"MTA STARTTLS OK - 127\\.0\\.0\\.1:${TS[tls_implicit]} implicit TLS: TLSv1\\.3 TLS_" 3 \
	"$STARTTLS" -H $L -p "${TS[tls_implicit]}" -s
t_check "tls sim: starttls in serve mode (on STARTTLS tls good) is OK" 0 \
	"MTA STARTTLS OK - 127\\.0\\.0\\.1:${TS[tls_starttls]} STARTTLS: TLSv1\\.3 TLS_[A-Z0-9_]+ \\(handshake" 3 \
	"$STARTTLS" -H $L -p "${TS[tls_starttls]}"
t_check "tls sim: starttls -vvv transcript has STARTTLS and its 220" 0 \
	'^S: 220 2\.0\.0 Ready to start TLS$' 3 \
	"$STARTTLS" -H $L -p "${TS[tls_starttls]}" -vvv
t_assert "tls sim: -vvv: EHLO, STARTTLS, 220, then EHLO again" \
	grep -Pzq '\nC: EHLO [^\n]+\n(S: 250[^\n]*\n)+C: STARTTLS\nS: 220 2\.0\.0 Ready to start TLS\nC: EHLO ' <<<"$T_LAST_OUT"
t_assert "tls sim: the plugin sent EHLO twice (before and over TLS)" \
	bash -c '[ "$(grep -c "^C: EHLO " <<<"$1")" = 2 ]' _ "$T_LAST_OUT"
t_assert "tls sim: smtpsim saw STARTTLS, the handshake, then the second EHLO and QUIT over TLS" \
	grep -Pzq 'C: STARTTLS\nS: 220 2\.0\.0 Ready to start TLS\n#: TLS handshake \(good, line \d+\) done: TLSv1\.3 [^\n]*\nC: EHLO [^\n]+\nS: 250-mail\.example\.test\n[^#]*C: QUIT\nS: 221 ' \
	"$T_TMP/tls_starttls.transcript"
t_check "tls sim: EHLO refused after STARTTLS is CRITICAL" 2 \
	'STARTTLS CRITICAL - .*EHLO over TLS was not accepted.*503 5\.5\.1 no EHLO for you' 3 \
	"$STARTTLS" -H $L -p "${TS[tls_noehlo]}"
t_check "tls sim: TLS 1.0-only STARTTLS is WARNING under the default --min-tls 1.2" 1 \
	'TLSv1 is below the minimum TLSv1\.2; STARTTLS: TLSv1 ' 3 \
	"$STARTTLS" -H $L -p "${TS[tls_tls10]}"
t_check "tls sim: TLS 1.0-only STARTTLS with --min-tls 1.0 is OK" 0 \
	'STARTTLS OK - .* STARTTLS: TLSv1 [A-Z0-9-]+ \(handshake' 3 \
	"$STARTTLS" -H $L -p "${TS[tls_tls10]}" --min-tls 1.0
t_assert "tls sim: smtpsim pinned the handshake to TLS 1.0" \
	grep -Eq '^#: TLS handshake \(goodrsa 1\.0, line [0-9]+\) done: TLSv1 ' "$T_TMP/tls_tls10.transcript"
t_check "tls sim: cert -s on an expired certificate is CRITICAL" 2 \
	'CERT CRITICAL - .*certificate expired 1 day ago.*days=-1;' 3 \
	"$CERT" -H $L -p "${TS[tls_expired_implicit]}" -s --ca-file "$PKI/root.crt"
# Checked by address, as Icinga and Nagios pass $address$: a certificate for
# the name alone (no IP SAN, as real ones are) verifies for --sni NAME.
t_check "tls sim: cert -H ADDRESS on a name-only certificate: IP address mismatch" 2 \
	'CERT CRITICAL - 127\.0\.0\.1:[0-9]+ EC-256 certificate verification failed: IP address mismatch' 3 \
	"$CERT" -H $L -p "${TS[tls_nameonly]}" --ca-file "$PKI/root.crt"
t_check "tls sim: cert -H ADDRESS --sni NAME verifies the certificate for NAME" 0 \
	'CERT OK - 127\.0\.0\.1:[0-9]+ EC-256 certificate expires in 36[45] days .*verified' 3 \
	"$CERT" -H $L -p "${TS[tls_nameonly]}" --ca-file "$PKI/root.crt" --sni mail.example.test
t_check "tls sim: cert -H ADDRESS --sni OTHER: hostname mismatch" 2 \
	'verification failed: hostname mismatch' 3 \
	"$CERT" -H $L -p "${TS[tls_nameonly]}" --ca-file "$PKI/root.crt" --sni other.example.test
t_check "tls sim: starttls -H ADDRESS --sni NAME on a name-only certificate is OK" 0 \
	'STARTTLS OK - 127\.0\.0\.1:[0-9]+ STARTTLS: TLSv1\.3' 3 \
	"$STARTTLS" -H $L -p "${TS[tls_nameonly]}" --sni mail.example.test
t_assert "tls sim: smtpsim stderr: no complaint about a TLS scenario, no sanitizer report" \
	bash -c '! grep -qE "tls_|Sanitizer|runtime error" "$1"' _ "$T_TMP/smtpsim.err"
