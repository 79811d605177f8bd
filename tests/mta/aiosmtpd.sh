#!/usr/bin/env bash
# tests/mta/aiosmtpd.sh check
# tests/mta/aiosmtpd.sh run MODE ADDR:PORT PKI [STORE]
#
# aiosmtpd servers for tests/integration_aiosmtpd.sh (Debian python3-aiosmtpd
# 1.4, run with /usr/bin/python3: the pyenv shim 'python3' takes 0.35 s to
# start).
#
#   check   exit 0 if aiosmtpd can be imported; else "SKIP: <reason>" on
#           stdout and exit 77
#   run     exec the server in the foreground (the caller backgrounds it,
#           keeps its PID, kills it by that PID and waits for it); the
#           protocol log (aiosmtpd -d: every command it read, as
#           "INFO:mail.log:... >> b'CMD'") goes to stderr, the Debugging
#           handler's printout of any message that reached DATA to stdout.
#           Once listening, stderr has a line with "listening on".
#           PKI is a tests/mkcerts.sh directory (good.chain.pem, good.key).
#
# MODE:
#   starttls       python3 -m aiosmtpd -n -d --tlscert --tlskey: an open sink
#                  that requires STARTTLS before MAIL (its default: "530
#                  Must issue a STARTTLS command first")
#   starttls-open  the same with --no-requiretls: open without TLS too
#   smtps          --smtpscert/--smtpskey: implicit TLS on connect, open
#   refuse         tests/mta/aiosmtpd_refuse.py: STARTTLS offered (not
#                  required), 550 5.7.1 Relaying denied outside the local
#                  domain example.test; greets "220 localhost"; messages
#                  that reach DATA are appended to STORE
#   refuse-mail    the same, and every MAIL FROM (<> too) gets 550
# With -n aiosmtpd's default handler accepts every sender and recipient and
# only prints what reaches DATA: nothing is delivered or stored anywhere.
set -euo pipefail

prog=tests/mta/aiosmtpd.sh
py=/usr/bin/python3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '2,3p' "$0" | sed 's/^# /usage: /' >&2; exit 2; }

check() {
	[[ -x $py ]] || { echo "SKIP: $py not found"; exit 77; }
	"$py" -c 'import aiosmtpd.controller, aiosmtpd.main' 2>/dev/null ||
		{ echo "SKIP: aiosmtpd not installed (apt-get install python3-aiosmtpd)"; exit 77; }
}

[[ $# -ge 1 ]] || usage
case $1 in
check)
	check
	;;
run)
	[[ $# -ge 4 ]] || usage
	mode=$2 listen=$3 pki=$4 store=${5:-}
	check >/dev/null
	export PYTHONUNBUFFERED=1 # what reached DATA is on stdout at once, even if killed
	tls=(--tlscert "$pki/good.chain.pem" --tlskey "$pki/good.key")
	case $mode in
	starttls) exec "$py" -m aiosmtpd -n -d -l "$listen" "${tls[@]}" ;;
	starttls-open) exec "$py" -m aiosmtpd -n -d -l "$listen" "${tls[@]}" --no-requiretls ;;
	smtps) exec "$py" -m aiosmtpd -n -d -l "$listen" --smtpscert "$pki/good.chain.pem" --smtpskey "$pki/good.key" ;;
	refuse | refuse-mail)
		args=(--listen "$listen" --domain example.test --hostname localhost "${tls[@]}")
		[[ -n $store ]] && args+=(--store "$store")
		[[ $mode == refuse-mail ]] && args+=(--refuse-mail)
		exec "$py" "$here/aiosmtpd_refuse.py" "${args[@]}"
		;;
	*) echo "$prog: unknown mode '$mode'" >&2; exit 2 ;;
	esac
	;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
*) usage ;;
esac
