#!/usr/bin/env bash
# tests/demo.sh BUILD_DIR - start a real Postfix on loopback, run every
# plugin against it (passing and failing cases), print what they say, stop it.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
PORT=${DEMO_PORT:-10025}
DIR=$(mktemp -d)
trap 'tests/postfix.sh stop "$DIR" >/dev/null 2>&1; rm -rf "$DIR"' EXIT

tests/postfix.sh start "$DIR" "$PORT" strict || { echo "demo: Postfix did not start" >&2; exit 1; }
run() {
	printf '\n$ %s\n' "${*#"$B/"}"
	"$@"
	echo "[exit $?]"
}
echo "== a real Postfix 3 on 127.0.0.1:$PORT =="
run "$B/check_mta_port" -H 127.0.0.1 -p "$PORT" -w 1 -c 3
run "$B/check_mta_banner" -H 127.0.0.1 -p "$PORT" --expect ESMTP --require-ext PIPELINING,SIZE
run "$B/check_mta_banner" -H localhost -A -4 -p "$PORT" -v
echo
echo "== failing cases =="
run "$B/check_mta_banner" -H 127.0.0.1 -p "$PORT" --require-ext SMTPUTF8,CHUNKING,XCLIENT
run "$B/check_mta_banner" -H 127.0.0.1 -p "$PORT" --expect "Microsoft ESMTP"
run "$B/check_mta_port" -H 127.0.0.1 -p 1 -t 3
run "$B/check_mta_banner" -H mx.nonexistent.invalid -t 3
