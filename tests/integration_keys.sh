#!/usr/bin/env bash
# tests/integration_keys.sh [BUILD_DIR] - certificate keys and signatures
# across key types, protocol versions, key-exchange groups and signature
# schemes, against OpenSSL's own TLS server (openssl s_server, implicit
# TLS), with check_mta_cert (and the runner for a chain seen twice):
#   EC P-256 and RSA-2048 leaves over TLS 1.3 (ECDSA and RSA-PSS
#       CertificateVerify); TLS 1.2 with ECDHE on P-256 and P-384 signed
#       RSA-PSS and RSA PKCS#1, with ECDHE-ECDSA, and with RSA key transport
#       (no ServerKeyExchange); TLS 1.3 on P-521 after a HelloRetryRequest
#   a chain whose RSA root signs an RSA leaf: OK, and with one bit of the
#       leaf's signature flipped: CRITICAL "certificate signature failure";
#       the same for the EC leaf signed by the EC intermediate, and for the
#       intermediate signed by the root
#   the runner with the good and the forged EC chain in one run: verified 1
#       and 0 (a remembered verification never stands for another chain)
# Every certificate key in these handshakes is made by libcrypto's
# built-in RSA and EC methods (lib/tls_openssl.c), so these are the cases
# where that must give the verdicts OpenSSL's providers give.
# Ports 28701-28713.  Loopback only.  Prints TAP lines.
# shellcheck disable=SC2016 # the bash -c assertions expand their own "$1"
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
CERT=$B/check_mta_cert
cleanup() {
	t_stop_all
	t_exit
}
t_traps cleanup

t_built keys cert
[ -x "$B/mtaprobe" ] || { t_report "keys: $B/mtaprobe built" " missing (make check first)" ""; exit 0; }
t_need openssl "openssl not installed" "keys: openssl s_server"
t_ports_free keys $(seq 28701 28713)
t_pki "keys: test PKI"

# flip_sig IN OUT: OUT is certificate IN with the last bit of its signature
# flipped (PEM in, PEM out); everything it signs is unchanged
flip_sig() {
	local n last
	openssl x509 -in "$1" -outform DER -out "$2.der" || return 1
	n=$(stat -c %s "$2.der")
	last=$(od -An -tu1 -j $((n - 1)) -N1 "$2.der")
	{
		head -c $((n - 1)) "$2.der"
		# shellcheck disable=SC2059 # the format is the byte, as an octal escape
		printf "\\$(printf %03o $((last ^ 1)))"
	} | openssl x509 -inform DER -out "$2"
}
K=$T_TMP/keys
mkdir -p "$K"
# an RSA-2048 root that signs an RSA-2048 leaf for mail.example.test
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/rsaroot.key" -out "$K/rsaroot.crt" -days 365 \
	-subj "/CN=mtaprobe Test RSA Root" -addext basicConstraints=critical,CA:true \
	-addext keyUsage=critical,keyCertSign >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -keyout "$K/rsaleaf.key" -out "$K/rsaleaf.csr" \
		-subj "/CN=mail.example.test" >/dev/null 2>&1 &&
	openssl x509 -req -in "$K/rsaleaf.csr" -CA "$K/rsaroot.crt" -CAkey "$K/rsaroot.key" -CAcreateserial \
		-days 365 -sha256 -extfile <(echo "subjectAltName=DNS:mail.example.test") -out "$K/rsaleaf.crt" \
		>/dev/null 2>&1 &&
	flip_sig "$K/rsaleaf.crt" "$K/rsaleaf.forged.crt" &&
	flip_sig "$PKI/good.crt" "$K/good.forged.crt" &&
	flip_sig "$PKI/int.crt" "$K/int.forged.crt" ||
	{ t_report "keys: test certificates made" " openssl failed" ""; exit 0; }
t_assert "keys: a flipped signature bit leaves the certificate parseable and its body unchanged" \
	bash -c 'cmp -s <(openssl x509 -in "$1" -noout -subject -dates -pubkey) <(openssl x509 -in "$2" -noout -subject -dates -pubkey) &&
		! cmp -s "$1" "$2"' _ "$PKI/good.crt" "$K/good.forged.crt"

# serve PORT ARGS...: openssl s_server on 127.0.0.1:PORT in the background
serve() {
	local port=$1
	shift
	openssl s_server -quiet -accept "127.0.0.1:$port" "$@" </dev/null >/dev/null 2>>"$T_TMP/s_server.err" &
	T_PIDS+=($!)
	t_wait_port 127.0.0.1 "$port" || { echo "# s_server on $port did not start: $(tail -3 "$T_TMP/s_server.err")" >&2; exit 1; }
}
EC=(-cert "$PKI/good.crt" -key "$PKI/good.key" -cert_chain "$PKI/int.crt")
RSA=(-cert "$PKI/goodrsa.crt" -key "$PKI/goodrsa.key" -cert_chain "$PKI/int.crt")
serve 28701 "${EC[@]}"
serve 28702 "${RSA[@]}"
serve 28703 "${RSA[@]}" -tls1_2 -groups P-256 -sigalgs RSA-PSS+SHA256
serve 28704 "${RSA[@]}" -tls1_2 -groups P-384 -sigalgs RSA+SHA256
serve 28705 "${RSA[@]}" -tls1_2 -cipher AES128-SHA
serve 28706 "${EC[@]}" -tls1_2 -groups P-256
serve 28707 "${EC[@]}" -groups P-521
serve 28708 -cert "$K/rsaleaf.crt" -key "$K/rsaleaf.key"
serve 28709 -cert "$K/rsaleaf.forged.crt" -key "$K/rsaleaf.key"
serve 28710 -cert "$K/good.forged.crt" -key "$PKI/good.key" -cert_chain "$PKI/int.crt"
serve 28711 -cert "$PKI/good.crt" -key "$PKI/good.key" -cert_chain "$K/int.forged.crt"

# k_check NAME WANT_RC SUMMARY_ERE VERBOSE_ERE PORT [ARGS]: check_mta_cert -v
# over implicit TLS for mail.example.test against the test CA; SUMMARY_ERE
# on the first line, VERBOSE_ERE on some line of the whole output
k_check() {
	local name=$1 want=$2 re=$3 vre=$4 port=$5
	shift 5
	T_CHECK_FIRST=1 t_check "keys: $name" "$want" "$re" 5 "$CERT" -H $L -p "$port" -s --sni mail.example.test \
		"${CA[@]}" -v "$@"
	t_assert "keys: ... -v: /$vre/" grep -Eq -- "$vre" <<<"$T_LAST_OUT"
}
V='verified \|'
k_check "EC P-256 leaf, TLS 1.3 (ECDSA CertificateVerify): OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28701 EC-256 certificate expires in .*$V" '^tls: TLSv1\.3 ' 28701
k_check "RSA-2048 leaf, TLS 1.3 (RSA-PSS CertificateVerify): OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28702 RSA-2048 certificate expires in .*$V" '^tls: TLSv1\.3 ' 28702
k_check "RSA leaf, TLS 1.2, ECDHE P-256 signed RSA-PSS: OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28703 RSA-2048 .*$V" '^tls: TLSv1\.2 ECDHE-RSA-[A-Z0-9-]+ group (secp256r1|prime256v1)$' 28703
k_check "RSA leaf, TLS 1.2, ECDHE P-384 signed RSA PKCS#1: OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28704 RSA-2048 .*$V" '^tls: TLSv1\.2 ECDHE-RSA-[A-Z0-9-]+ group secp384r1$' 28704
k_check "RSA leaf, TLS 1.2, RSA key transport (AES128-SHA): OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28705 RSA-2048 .*$V" '^tls: TLSv1\.2 AES128-SHA' 28705
k_check "EC leaf, TLS 1.2, ECDHE-ECDSA on P-256: OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28706 EC-256 .*$V" '^tls: TLSv1\.2 ECDHE-ECDSA-[A-Z0-9-]+ group (secp256r1|prime256v1)$' 28706
k_check "EC leaf, TLS 1.3 on P-521 after a HelloRetryRequest: OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28707 EC-256 .*$V" '^tls: TLSv1\.3 [A-Z0-9_]+ group secp521r1$' 28707
k_check "RSA root signing an RSA leaf: OK, verified" 0 \
	"^MTA CERT OK - 127\\.0\\.0\\.1:28708 RSA-2048 .*$V" '^verification: ok$' 28708 --ca-file "$K/rsaroot.crt"
k_check "... the same leaf with one bit of its RSA signature flipped: CRITICAL, signature failure" 2 \
	'^MTA CERT CRITICAL - 127\.0\.0\.1:28709 RSA-2048 certificate verification failed: certificate signature failure' \
	'^verification: ' 28709 --ca-file "$K/rsaroot.crt"
k_check "EC leaf with one bit of its ECDSA signature flipped: CRITICAL, signature failure" 2 \
	'^MTA CERT CRITICAL - 127\.0\.0\.1:28710 EC-256 certificate verification failed: certificate signature failure' \
	'^verification: ' 28710
k_check "intermediate with one bit of the root's signature flipped: CRITICAL, signature failure" 2 \
	'^MTA CERT CRITICAL - 127\.0\.0\.1:28711 EC-256 certificate verification failed: certificate signature failure' \
	'^verification: ' 28711

# the runner: one shared TLS context, the good chain first, then the forged
# one, then the good one again
cat >"$T_TMP/keys.yaml" <<EOF
defaults: {timeout: 5, tls: true, sni: mail.example.test, ca_file: $PKI/root.crt, checks: [cert]}
concurrency: 1
output: {format: prometheus, path: $T_TMP/keys.prom}
targets:
  - {name: good1, host: 127.0.0.1, port: 28701}
  - {name: forged, host: 127.0.0.1, port: 28710}
  - {name: good2, host: 127.0.0.1, port: 28701}
  - {name: forged-int, host: 127.0.0.1, port: 28711}
EOF
"$B/mtaprobe" -q -c "$T_TMP/keys.yaml" >"$T_TMP/keys.out" 2>&1
rc=$?
t_report "keys: runner, good and forged chains in one run: exit 0, the states are in the textfile" \
	"$([ $rc = 0 ] || echo " exit $rc")" "$(cat "$T_TMP/keys.out")"
t_assert "keys: runner: the good chain verified 1 both times, the forged leaf and the forged intermediate 0" \
	bash -c 'grep -q "^mtaprobe_cert_verified{target=\"good1\",.*} 1$" "$1" &&
		grep -q "^mtaprobe_cert_verified{target=\"forged\",.*} 0$" "$1" &&
		grep -q "^mtaprobe_cert_verified{target=\"good2\",.*} 1$" "$1" &&
		grep -q "^mtaprobe_cert_verified{target=\"forged-int\",.*} 0$" "$1"' _ "$T_TMP/keys.prom"
t_assert "keys: runner: cert OK for the good chain, CRITICAL for the forged ones" \
	bash -c 'grep -q "^mtaprobe_check_state{target=\"good2\",.*check=\"cert\".*} 0$" "$1" &&
		grep -q "^mtaprobe_check_state{target=\"forged\",.*check=\"cert\".*} 2$" "$1" &&
		grep -q "^mtaprobe_check_state{target=\"forged-int\",.*check=\"cert\".*} 2$" "$1"' _ "$T_TMP/keys.prom"
