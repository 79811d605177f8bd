#!/usr/bin/env bash
# tests/integration_dns.sh BUILD_DIR - -M, --fcrdns and --dane against a real
# DNS on loopback (tests/dns.sh: NSD with a DNSSEC-signed zone behind a
# validating unbound) and the scripted SMTP server on 127.0.0.x and ::1.
# Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/asan}
BANNER=$B/check_mta_banner STARTTLS=$B/check_mta_starttls CERT=$B/check_mta_cert
PORT=$B/check_mta_port RELAY=$B/check_mta_relay
SIM=$B/smtpsim
. tests/lib.sh
DNSDIR=$T_TMP/dns
cleanup() {
	t_cleanup
	tests/dns.sh stop "$DNSDIR" >/dev/null 2>&1
	rm -rf "$T_TMP"
}
trap cleanup EXIT

t_dns_start "dns" "$DNSDIR"
D=(--dns-server 127.0.0.1:5354)
CA=(--ca-file "$PKI/root.crt")
P=2625

# sim NAME SCENARIO ADDR... : one smtpsim on ADDR:2625 for each ADDR
sim() {
	local name=$1 scn=$2 a
	shift 2
	local args=()
	for a in "$@"; do args+=(-l "$a:$P"); done
	"$SIM" -s "tests/scenarios/$scn.scn" -C "$PKI" "${args[@]}" -T "$T_TMP/$name.transcript" \
		>/dev/null 2>>"$T_TMP/smtpsim.err" &
	T_PIDS+=($!)
	eval "PID_$name=$!"
	t_wait_port "${1//[\[\]]/}" $P || echo "# smtpsim $name did not start" >&2
}
sim mx1 tls_starttls 127.0.0.11 '[::1]'
sim mx2 ok 127.0.0.12                      # the failing MX: no STARTTLS at all
sim nomx tls_starttls 127.0.0.13
sim ta tls_starttls 127.0.0.14
sim insecure tls_starttls 127.0.0.15
sim full tls_starttls 127.0.0.16
sim eight delay 127.0.0.21 127.0.0.22 127.0.0.23 127.0.0.24 127.0.0.25 127.0.0.26 127.0.0.27 127.0.0.28

# --- -M: every MX host, every address --------------------------------------------
t_check "mx: -M checks every address of every MX; one failing MX is CRITICAL with the count" 2 \
	'MTA STARTTLS CRITICAL - example\.test: 1 of 3 addresses failed: mx2\.example\.test\[127\.0\.0\.12\]:2625 STARTTLS not advertised' 5 \
	"$STARTTLS" -M example.test -p $P "${D[@]}" "${CA[@]}"
MX_OUT=$T_LAST_OUT
t_assert "mx: long-output line for mx1's IPv4 address" grep -q '^\[OK\] mx1\.example\.test\[127\.0\.0\.11\]:2625 STARTTLS: TLSv1\.3' <<<"$MX_OUT"
t_assert "mx: long-output line for mx1's IPv6 address" grep -q '^\[OK\] mx1\.example\.test\[::1\]:2625 STARTTLS: TLSv1\.3' <<<"$MX_OUT"
t_assert "mx: long-output line for the failing mx2" grep -q '^\[CRITICAL\] mx2\.example\.test\[127\.0\.0\.12\]:2625 STARTTLS not advertised' <<<"$MX_OUT"
t_assert "mx: perfdata labels prefixed host_address_ (quoted for IPv6)" \
	bash -c 'grep -q " mx1\.example\.test_127\.0\.0\.11_handshake=" <<<"$1" && grep -q " '"'"'mx1\.example\.test_::1_handshake'"'"'=" <<<"$1" && grep -q " mx2\.example\.test_127\.0\.0\.12_time=" <<<"$1"' _ "$MX_OUT"
t_check "mx: -M -4 leaves out the IPv6 address" 2 '1 of 2 addresses failed' 5 \
	"$STARTTLS" -M example.test -4 -p $P "${D[@]}"
t_check "mx: -M -6: only mx1's ::1 (mx2 has no IPv6 address)" 2 'mx2\.example\.test.* DNS: ' 5 \
	"$STARTTLS" -M example.test -6 -p $P "${D[@]}"
t_check "mx: cert -M verifies each certificate against the MX host name" 2 \
	'MTA CERT CRITICAL - example\.test: 1 of 2 addresses failed: mx2\.example\.test\[127\.0\.0\.12\]:2625 STARTTLS not advertised' 5 \
	"$CERT" -M example.test -4 -p $P "${D[@]}" "${CA[@]}" -v
t_assert "mx: cert -M: mx1's certificate verified for the name mx1.example.test" \
	grep -q '^\[OK\] mx1\.example\.test\[127\.0\.0\.11\]:2625 EC-256 certificate expires in .*, verified$' <<<"$T_LAST_OUT"
t_assert "mx: cert -M: -v shows the MX set with preferences" grep -q '^MX 10 mx1\.example\.test: 127\.0\.0\.11$' <<<"$T_LAST_OUT"
t_check "mx: a domain without MX falls back to its own address" 0 'BANNER OK - nomx\.example\.test: 1 of 1 addresses OK' 5 \
	"$BANNER" -M nomx.example.test -p $P "${D[@]}" -v
t_assert "mx: -v says there is no MX" grep -q 'no MX records: the domain.s own addresses are used' <<<"$T_LAST_OUT"
t_check "mx: Null MX is reported as such" 2 'Null MX \(RFC 7505\): nullmx\.example\.test accepts no mail' 5 \
	"$BANNER" -M nullmx.example.test -p $P "${D[@]}"
t_check "mx: NXDOMAIN domain is CRITICAL" 2 'DNS: nope\.example\.test does not exist \(NXDOMAIN\)' 5 \
	"$BANNER" -M nope.example.test -p $P "${D[@]}"
t_check "mx: an MX host that does not exist is CRITICAL for that host" 2 'missing\.example\.test.* DNS: name does not exist \(NXDOMAIN\)' 5 \
	"$BANNER" -M nxhost.example.test -p $P "${D[@]}"
t_check "mx: relay -M: an unresolvable MX host is UNKNOWN, not CRITICAL" 3 'missing\.example\.test' 5 \
	"$RELAY" -M nxhost.example.test -p $P "${D[@]}"
t_check "mx: no DNS server answering is CRITICAL, and says so" 2 'no DNS server gave an answer|timeout' 5 \
	"$BANNER" -M example.test -p $P --dns-server 127.0.0.1:5399
t_check "mx: a resolver that refuses the query: said so (c-ares cannot tell refused from unreachable)" 2 'DNS: outside\.example: no DNS server gave an answer \(unreachable, or REFUSED\)' 5 \
	"$BANNER" -M outside.example -p $P "${D[@]}"
t_check "mx: a host name the resolver refuses, for -H" 2 'DNS: no DNS server gave an answer' 5 \
	"$BANNER" -H mx.outside.example -p $P "${D[@]}"
t_check "mx: 8 addresses each greeting after 1.5 s are checked at once (not 12 s)" 0 \
	'BANNER OK - eight\.example\.test: 8 of 8 addresses OK' 3 "$BANNER" -M eight.example.test -p $P "${D[@]}"
t_check "mx: -H with a name uses the same resolver (--dns-server)" 0 'BANNER OK - mx1\.example\.test\[127\.0\.0\.11\]:2625' 5 \
	"$BANNER" -H mx1.example.test -4 -p $P "${D[@]}"
t_check "mx: -A on a name with IPv4 and IPv6 checks both" 0 'both\.example\.test: 2 of 2 addresses OK' 5 \
	"$BANNER" -H both.example.test -A -p $P "${D[@]}"

# --- --fcrdns ----------------------------------------------------------------------
FP=2626
"$SIM" -s tests/scenarios/fcrdns_mx1.scn -l 127.0.0.11:$FP -l 127.0.0.12:$FP -l 127.0.0.13:$FP \
	-l 127.0.0.15:$FP -l 127.0.0.17:$FP -l "[::1]:$FP" >/dev/null 2>>"$T_TMP/smtpsim.err" &
T_PIDS+=($!)
t_wait_port 127.0.0.11 $FP
t_check "fcrdns: PTR resolves back and equals the greeting name: OK" 0 'FCrDNS: 127\.0\.0\.11 is mx1\.example\.test, as the greeting says' 5 \
	"$BANNER" -H 127.0.0.11 -p $FP --fcrdns "${D[@]}"
t_check "fcrdns: IPv6 ::1 confirmed through ip6.arpa" 0 'FCrDNS: ::1 is mx1\.example\.test' 5 \
	"$BANNER" -H ::1 -p $FP --fcrdns "${D[@]}"
t_check "fcrdns: greeting name differs from the PTR name: WARNING with both names" 1 \
	"FCrDNS: greeting name 'mx1\.example\.test' differs from the PTR name mx2\.example\.test" 5 \
	"$BANNER" -H 127.0.0.12 -p $FP --fcrdns "${D[@]}"
t_check "fcrdns: PTR name that does not exist forward: WARNING" 1 'FCrDNS: PTR elsewhere\.example\.test does not resolve back to 127\.0\.0\.13' 5 \
	"$BANNER" -H 127.0.0.13 -p $FP --fcrdns "${D[@]}"
t_check "fcrdns: PTR name resolving to another address: WARNING" 1 'FCrDNS: PTR mx1\.example\.test does not resolve back to 127\.0\.0\.15' 5 \
	"$BANNER" -H 127.0.0.15 -p $FP --fcrdns "${D[@]}"
t_check "fcrdns: no PTR at all: WARNING" 1 'FCrDNS: 127\.0\.0\.17 has no PTR record' 5 \
	"$BANNER" -H 127.0.0.17 -p $FP --fcrdns "${D[@]}"

# --- --dane ------------------------------------------------------------------------
t_check "dane: DANE-EE 3 1 1 matched, DNSSEC-authenticated: OK" 0 'DANE: TLSA 3 1 1 matched the certificate \(DNSSEC-authenticated\)' 5 \
	"$CERT" -H mx1.example.test -4 -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: -H ADDRESS --sni NAME looks up _PORT._tcp.NAME and matches" 0 'DANE: TLSA 3 1 1 matched the certificate \(DNSSEC-authenticated\)' 5 \
	"$CERT" -H 127.0.0.11 --sni mx1.example.test -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: DANE-EE match authenticates even without the CA (PKIX not judged)" 0 'CERT OK .*DANE: TLSA 3 1 1 matched' 5 \
	"$CERT" -H mx1.example.test -4 -p $P --dane "${D[@]}" -v
t_assert "dane: -v says PKIX verification was not judged" grep -q 'PKIX verification (unable to get local issuer certificate) not judged: DANE-EE matched' <<<"$T_LAST_OUT"
t_check "dane: DANE-TA 2 0 1 on the intermediate matched" 0 'DANE: TLSA 2 0 1 matched the issuer' 5 \
	"$CERT" -H ta.example.test -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: selector 0, matching type 2 (SHA-512) matched" 0 'DANE: TLSA 3 0 2 matched' 5 \
	"$CERT" -H both.example.test -4 -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: matching type 0 (full SPKI) matched" 0 'DANE: TLSA 3 1 0 matched' 5 \
	"$CERT" -H full.example.test -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: records present but not DNSSEC-authenticated: WARNING" 1 'TLSA 3 1 1 matched, but the records are not DNSSEC-authenticated \(AD bit not set by the resolver\)' 5 \
	"$CERT" -H mx.insecure.test -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: no TLSA records: said, state unaffected" 0 'CERT OK' 5 \
	"$CERT" -H nomx.example.test -p $P --dane "${D[@]}" "${CA[@]}" -v
t_assert "dane: -v says there were no records" grep -q 'DANE: no TLSA records, nothing to match' <<<"$T_LAST_OUT"
# mx2's TLSA matches nothing: give it a TLS server now
kill -TERM "$PID_mx2" 2>/dev/null
wait "$PID_mx2" 2>/dev/null
sim mx2tls tls_starttls 127.0.0.12
t_check "dane: records present, none matches: CRITICAL" 2 'DANE: none of 1 TLSA records matches the EC chain' 5 \
	"$CERT" -H mx2.example.test -p $P --dane "${D[@]}" "${CA[@]}"
t_check "dane: an IP literal has no TLSA name: UNKNOWN" 3 '--dane needs a host name' 5 \
	"$CERT" -H 127.0.0.11 -p $P --dane "${D[@]}" --no-verify
t_assert "dns: no smtpsim complained" bash -c '! grep -qiE "error|sanitizer" "$1"' _ "$T_TMP/smtpsim.err"
