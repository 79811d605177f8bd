#!/usr/bin/env bash
# tests/run_tests.sh BUILD_DIR - every unit test (cmocka, TAP output) and the
# integration tests; the last line is "N passed, N failed" (CI parses it), the
# one before it "N skipped" or "N skipped: name, name".  A skip is neither a
# pass nor a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/asan}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { "$@" 2>&1 | tee -a "$log"; }	# run CMD...: its output shown, and kept for the count

for t in "$B"/test_*; do
	[ -x "$t" ] || continue
	echo "# unit: ${t##*/}"
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1 | tee -a "$log"
	# a crash before the TAP plan completes must count as a failure
	[ "${PIPESTATUS[0]}" -lt 128 ] || echo "not ok - ${t##*/} crashed" | tee -a "$log"
done
echo "# source rules"
# Banned calls (STYLE.md): unbounded string functions, atoi, signals and
# alarms as timeouts, shells.
banned=$(grep -nE '\b(atoi|atol|sprintf|vsprintf|strcpy|strcat|gets|alarm|signal|system|popen)[[:space:]]*\(' \
	lib/*.[ch] checks/*.[ch] cli/*.[ch] runner/*.[ch] plugins/*.c tools/*.c)
if [ -z "$banned" ]; then echo "ok - no banned calls in the sources"; else
	echo "not ok - banned calls:"; echo "$banned" | sed 's/^/#   /'; fi | tee -a "$log"
# Nothing in plugins/ touches a socket: a plugin is options and one call.
sock=$(grep -nE '\b(socket|connect|send|recv|poll|SSL_[a-z_]+|ares_[a-z_]+)[[:space:]]*\(' plugins/*.c)
if [ -z "$sock" ]; then echo "ok - plugins/ holds no network code"; else
	echo "not ok - network calls in plugins/:"; echo "$sock" | sed 's/^/#   /'; fi | tee -a "$log"
# The layers: includes and symbols point down only, no cycles, headers
# stand alone.  The style: what .clang-format describes (make format).
run tests/layers.sh "$B"
run tests/format_check.sh
echo "# docs: man pages and the Icinga 2 / Nagios definitions against the option table"
run tests/docs.sh "$B"
echo "# fuzz (smoke: 10 s a parser; make fuzz for the long run)"
run tests/fuzz.sh 10
echo "# integration"
run tests/integration.sh "$B"
echo "# integration: hostile and broken SMTP peers (resets at every step, replies nobody asked for)"
run tests/integration_hostile.sh "$B"
echo "# integration: relay"
run tests/integration_relay.sh "$B"
echo "# integration: relay and every plugin against real Haraka and aiosmtpd servers"
run tests/integration_haraka.sh "$B"
run tests/integration_aiosmtpd.sh "$B"
echo "# integration: relay and every plugin against real OpenSMTPD and Dovecot (submission) servers"
run tests/integration_opensmtpd.sh "$B"
run tests/integration_dovecot.sh "$B"
echo "# integration: DNS (-M, --fcrdns, --dane)"
run tests/integration_dns.sh "$B"
echo "# integration: hostile names from DNS (|, newline, ESC, NUL, dots in labels; caps)"
run tests/integration_dns_hostile.sh "$B"
echo "# integration: TLS posture (--scan-versions, --injection, AUTH before TLS, LMTP, check_smtp aliases; real Postfix and Dovecot LMTP)"
run tests/integration_posture.sh "$B"
echo "# integration: certificate keys and signatures (RSA and EC; TLS 1.2 and 1.3; P-256/384/521, RSA-PSS, PKCS#1, RSA key transport; forged signatures)"
run tests/integration_keys.sh "$B"
echo "# integration: check_mta_sts (NSD, nginx policy hosts on 127.0.0.60-94:443, scripted MX servers)"
run tests/integration_sts.sh "$B"
echo "# fault injection: the N-th socket, poll, recv, send, read, write or allocation fails"
run tests/fault_sweep.sh "$B"
echo "# valgrind memcheck (the release build)"
run tests/valgrind.sh "$B"
echo "# integration: the mtaprobe runner"
run tests/integration_runner.sh "$B"
echo "# integration: Prometheus rules (promtool), the systemd units, two runners in one textfile directory"
run tests/integration_prometheus.sh "$B"
echo "# integration: the runner as an exporter (--listen; a real Prometheus scraping it)"
run tests/integration_exporter.sh "$B"
run tests/integration_hashmod.sh "$B"
echo "# integration: Icinga 2 (the CheckCommands validated and run; a master and an agent)"
run tests/integration_icinga.sh "$B"
echo "# integration: Nagios 4 (the command definitions validated and run)"
run tests/integration_nagios.sh "$B"
echo "# packaging: make install/uninstall, the .deb (lintian, dpkg -i, run, purge) and the .rpm (root only)"
run tests/packaging.sh "$B"

# Skips come in two spellings: our shell tests' "ok N - name # SKIP reason"
# (TAP), and cmocka 1.1's skip(), which prints "not ok N # SKIP name" -- no
# " - ", so a failure whose reason happens to start with "skip" (t_report:
# "not ok N - name # why") is still a failure.
skip_ok='^ok .*# [Ss][Kk][Ii][Pp]'
skip_cmocka='^not ok [0-9]+ # [Ss][Kk][Ii][Pp]'
skipped=$(grep -E "$skip_ok|$skip_cmocka" "$log" |
	sed -E -e "s/^ok [0-9]* *-? *(.*[^ ]) *# [Ss][Kk][Ii][Pp].*/\1/" \
		-e "s/^not ok [0-9]+ # [Ss][Kk][Ii][Pp] *//")
nskip=$(grep -cE "$skip_ok|$skip_cmocka" "$log")
pass=$(($(grep -c '^ok ' "$log") - $(grep -cE "$skip_ok" "$log")))
fail=$(($(grep -c '^not ok' "$log") - $(grep -cE "$skip_cmocka" "$log")))
if [ "$nskip" -eq 0 ]; then echo "0 skipped"; else
	echo "$nskip skipped: $(printf '%s\n' "$skipped" | paste -sd, - | sed 's/,/, /g')"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
