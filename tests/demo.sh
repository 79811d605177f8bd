#!/usr/bin/env bash
# tests/demo.sh BUILD_DIR - start real Postfix instances on loopback (one with
# STARTTLS and SMTPS, one port per test certificate), run every plugin
# against them (passing and failing cases), print what they say, stop them.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
PORT=${DEMO_PORT:-10025}
CPORT=$((PORT + 40))
TMP=$(mktemp -d)
chmod 755 "$TMP"
DIR=$TMP/strict CDIR=$TMP/certs ODIR=$TMP/open PKI=$TMP/pki
OPORT=$((PORT + 60))
cleanup() {
	tests/postfix.sh stop "$DIR" >/dev/null 2>&1
	tests/postfix.sh stop "$ODIR" >/dev/null 2>&1
	tests/postfix.sh stop "$CDIR" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

tests/mkcerts.sh "$PKI" >/dev/null || { echo "demo: test certificates could not be made" >&2; exit 1; }
tests/postfix.sh start "$DIR" "$PORT" strict "$PKI" || { echo "demo: Postfix did not start" >&2; exit 1; }
tests/postfix.sh start "$CDIR" "$CPORT" certs "$PKI" || { echo "demo: Postfix (certs) did not start" >&2; exit 1; }
tests/postfix.sh start "$ODIR" "$OPORT" open || { echo "demo: Postfix (open relay) did not start" >&2; exit 1; }
run() {
	printf '\n$ %s\n' "${*#"$B/"}" | sed "s|$PKI|PKI|g"
	"$@"
	echo "[exit $?]"
}
CA=(--ca-file "$PKI/root.crt")
echo "== a real Postfix 3 on 127.0.0.1:$PORT (STARTTLS) and :$((PORT + 1)) (SMTPS); test CA in PKI/root.crt =="
run "$B/check_mta_port" -H 127.0.0.1 -p "$PORT" -w 1 -c 3
run "$B/check_mta_banner" -H 127.0.0.1 -p "$PORT" --expect ESMTP --require-ext PIPELINING,SIZE,STARTTLS
run "$B/check_mta_banner" -H localhost -A -4 -p "$PORT" -v
run "$B/check_mta_starttls" -H 127.0.0.1 -p "$PORT" "${CA[@]}" -v
run "$B/check_mta_cert" -H 127.0.0.1 -p "$PORT" "${CA[@]}"
run "$B/check_mta_port" -H 127.0.0.1 -p "$((PORT + 1))" --tls
run "$B/check_mta_cert" -H localhost -4 -p "$((PORT + 1))" --tls "${CA[@]}"
run "$B/check_mta_relay" -H 127.0.0.1 -p "$PORT" --thorough -v
run "$B/check_mta_relay" -H 127.0.0.1 -p "$PORT" -S "${CA[@]}"
echo
echo "== failing cases =="
run "$B/check_mta_banner" -H 127.0.0.1 -p "$PORT" --require-ext SMTPUTF8,CHUNKING,XCLIENT
run "$B/check_mta_banner" -H 127.0.0.1 -p "$PORT" --expect "Microsoft ESMTP"
run "$B/check_mta_port" -H 127.0.0.1 -p 1 -t 3
run "$B/check_mta_banner" -H mx.nonexistent.invalid -t 3
run "$B/check_mta_cert" -H 127.0.0.1 -p "$PORT"
run "$B/check_mta_cert" -H 127.0.0.1 -p "$((CPORT + 1))" "${CA[@]}"
run "$B/check_mta_cert" -H 127.0.0.1 -p "$((CPORT + 3))" "${CA[@]}"
run "$B/check_mta_cert" -H localhost -4 -p "$((CPORT + 6))" "${CA[@]}"
run "$B/check_mta_cert" -H 127.0.0.1 -p "$((CPORT + 7))" "${CA[@]}"
run "$B/check_mta_cert" -H 127.0.0.1 -p "$((CPORT + 9))" "${CA[@]}" -v
run "$B/check_mta_starttls" -H 127.0.0.1 -p "$((CPORT + 10))"
run "$B/check_mta_starttls" -H 127.0.0.1 -p "$((CPORT + 11))"
echo
echo "== a Postfix configured as an open relay on 127.0.0.1:$OPORT (everything to discard:) =="
run "$B/check_mta_relay" -H 127.0.0.1 -p "$OPORT"
printf '\n$ postqueue -p    # the relay check never sends DATA: nothing queued\n'
postqueue -c "$ODIR" -p
echo
echo "== the batch runner over all of them =="
cat >"$TMP/demo.yaml" <<YAML
defaults: {timeout: 5, ca_file: $PKI/root.crt, labels: {env: demo}}
output: {format: prometheus, path: $TMP/mtaprobe.prom}
targets:
  - {name: strict, host: 127.0.0.1, port: $PORT}
  - {name: smtps, host: 127.0.0.1, port: $((PORT + 1)), tls: true, checks: [port, banner, cert]}
  - {name: expired, host: 127.0.0.1, port: $((CPORT + 1)), checks: [starttls, cert]}
  - {name: dual, host: 127.0.0.1, port: $((CPORT + 9)), checks: [cert]}
  - {name: open-relay, host: 127.0.0.1, port: $OPORT, checks: [banner, relay]}
YAML
run "$B/mtaprobe" -q -c "$TMP/demo.yaml" -f text
run "$B/mtaprobe" -q -c "$TMP/demo.yaml"
printf '\n$ grep -E "check_state|relay_tests|cert_not_after|phase_duration.*strict" mtaprobe.prom\n'
grep -E '^mtaprobe_(check_state|relay_tests|cert_not_after)|^mtaprobe_phase_duration_seconds\{target="strict"' "$TMP/mtaprobe.prom"
run "$B/mtaprobe" -q -p "$PORT" 127.0.0.1
echo
echo "== check_mta_sts against the MTA-STS test bed (tests/sts/bed.sh: NSD, nginx policy hosts on 127.0.0.60-94:443, scripted MX servers) =="
if [ "$(id -u)" != 0 ]; then
	echo "(skipped: the policy hosts listen on port 443, which needs root)"
elif STSD=$TMP/sts && tests/sts/bed.sh start "$STSD" "$B/smtpsim" 2>/dev/null; then
	S=("$B/check_mta_sts" --dns-server 127.0.0.1:5363 --ca-file "$STSD/pki/root.crt" -p 2725)
	run "${S[@]}" -M good.test
	run "${S[@]}" -M uncovered.test
	run "${S[@]}" -M notls.test
	run "${S[@]}" -M testing.test
	run "${S[@]}" -M redirect.test
	run "${S[@]}" -M nopolicy.test --require
	tests/sts/bed.sh stop "$STSD"
else
	echo "(skipped: the MTA-STS test bed did not start)"
fi
