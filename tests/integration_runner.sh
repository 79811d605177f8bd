#!/usr/bin/env bash
# tests/integration_runner.sh BUILD_DIR - the mtaprobe runner against the
# scripted server and a real Postfix: Prometheus textfile checked by promtool
# and scraped through a real node_exporter, JSON checked with jq, the time
# bound with silent servers, SIGKILL mid-run never leaving a partial file,
# configuration errors.  Loopback only.  Prints TAP lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
MP=$B/mtaprobe
PF=""
cleanup() {
	[ -n "$PF" ] && tests/postfix.sh stop "$PF" >/dev/null 2>&1
	t_exit
}
trap cleanup EXIT

# t_run NAME WANT_RC MAX_SECONDS CMD... : exit code and time bound only
t_run() {
	local name=$1 want=$2 max=$3 t0 rc ms p=""
	shift 3
	t0=$(date +%s%N)
	T_LAST_OUT=$("$@" 2>&1)
	rc=$?
	ms=$(t_ms_since "$t0")
	[ "$rc" = "$want" ] || p+=" exit $rc, wanted $want;"
	[ "$ms" -le "$(awk -v m="$max" 'BEGIN{printf "%d", m*1000}')" ] || p+=" took ${ms}ms, bound ${max}s;"
	t_report "$name (${ms}ms)" "$p" "$T_LAST_OUT"
}

PKI=$T_TMP/pki
tests/mkcerts.sh "$PKI" >/dev/null 2>&1
t_sim ok 27301
t_sim silent 27302
t_sim relay_refuse 27303
t_sim delay 27304
"$SIM" -s tests/scenarios/tls_starttls.scn -C "$PKI" -l 127.0.0.1:27305 >/dev/null 2>>"$T_TMP/smtpsim.err" &
T_PIDS+=($!)
t_wait_port $L 27305
PF=$(mktemp -d)
tests/postfix.sh start "$PF" 10525 strict "$PKI" >"$T_TMP/pf.log" 2>&1 || echo "# postfix did not start" >&2

cat >"$T_TMP/main.yaml" <<YAML
defaults:
  timeout: 5
  ehlo: monitor.example.test
  ca_file: $PKI/root.crt
  labels: {site: lab}
output: {format: prometheus, path: $T_TMP/out/mtaprobe.prom}
concurrency: 8
targets:
  - {name: postfix, host: 127.0.0.1, port: 10525}
  - {name: postfix-smtps, host: 127.0.0.1, port: 10526, tls: true, checks: [port, banner, cert]}
  - {name: scripted-tls, host: 127.0.0.1, port: 27305, checks: [starttls, cert], labels: {role: "backup \"mx\""}}
  - {name: scripted-plain, host: 127.0.0.1, port: 27301, checks: [port, banner, starttls]}
  - {name: scripted-relay, host: 127.0.0.1, port: 27303, checks: [relay]}
  - {name: closed, host: 127.0.0.1, port: 27399, checks: [port, banner]}
  - {name: by-name, host: localhost, ipv4: true, port: 27301, checks: [port]}
  - {name: chain-name-ok, host: 127.0.0.1, port: 27305, sni: mail.example.test, checks: [cert]}
  - {name: chain-name-other, host: 127.0.0.1, port: 27305, sni: mail.other.test, checks: [cert]}
YAML
mkdir -p "$T_TMP/out"
t_run "runner: a config of several targets runs, exit 0" 0 8 "$MP" -c "$T_TMP/main.yaml"
PROM=$T_TMP/out/mtaprobe.prom
t_assert "runner: the textfile was written, no .tmp left" bash -c '[ -s "$1" ] && [ ! -e "$1.tmp" ]' _ "$PROM"
t_assert "runner: promtool check metrics accepts it" bash -c 'promtool check metrics <"$1"' _ "$PROM"
t_assert "runner: no sample carries a timestamp (node_exporter would drop the file)" \
	bash -c '! grep -vE "^#" "$1" | grep -qE "\} [^ ]+ [0-9]+$"' _ "$PROM"
t_assert "runner: no duplicate series" bash -c '[ -z "$(grep -v "^#" "$1" | sed "s/ [^ ]*$//" | sort | uniq -d)" ]' _ "$PROM"
t_assert "runner: HELP and TYPE for every family" \
	bash -c 'for m in $(grep -v "^#" "$1" | sed "s/[{ ].*//" | sort -u); do grep -q "^# HELP $m " "$1" && grep -q "^# TYPE $m gauge" "$1" || exit 1; done' _ "$PROM"
t_assert "runner: Postfix banner OK with labels target/check/host/address/port/site" \
	grep -q '^mtaprobe_check_state{target="postfix",check="banner",host="127.0.0.1",address="127.0.0.1",port="10525",site="lab"} 0$' "$PROM"
t_assert "runner: Postfix relay refused: relay tests accepted 0, refused 3, per address" \
	bash -c 'grep -q "^mtaprobe_relay_tests{target=\"postfix\",host=\"127.0.0.1\",address=\"127.0.0.1\",port=\"10525\",site=\"lab\",outcome=\"accepted\"} 0$" "$1" &&
		grep -q "^mtaprobe_relay_tests{target=\"postfix\",.*,outcome=\"refused\"} 3$" "$1"' _ "$PROM"
t_assert "runner: certificate expiry as a timestamp, chain verified" \
	bash -c 'grep -qE "^mtaprobe_cert_not_after_timestamp_seconds\{target=\"postfix\",host=.*\} [0-9]{10}$" "$1" && grep -q "^mtaprobe_cert_verified{target=\"postfix\",host=.*} 1$" "$1"' _ "$PROM"
t_assert "runner: implicit TLS target: handshake duration and TLS version" \
	bash -c 'grep -q "^mtaprobe_tls_version_info{target=\"postfix-smtps\",host=.*,version=\"TLSv1.3\"} 1$" "$1" && grep -q "^mtaprobe_phase_duration_seconds{target=\"postfix-smtps\",.*,phase=\"handshake\"} " "$1"' _ "$PROM"
t_assert "runner: STARTTLS not offered is state 2, starttls_offered 0" \
	bash -c 'grep -q "^mtaprobe_check_state{target=\"scripted-plain\",check=\"starttls\".*} 2$" "$1" && grep -q "^mtaprobe_starttls_offered{target=\"scripted-plain\",host=.*} 0$" "$1"' _ "$PROM"
t_assert "runner: label values are escaped" grep -q 'role="backup \\"mx\\""' "$PROM"
t_assert "runner: one series per phase per target address, not per check (Postfix: 5 checks, 1 connect)" \
	bash -c '[ "$(grep -c "^mtaprobe_phase_duration_seconds{target=\"postfix\",.*,phase=\"connect\"} " "$1")" = 1 ] &&
		! grep -q "^mtaprobe_phase_duration_seconds{[^}]*check=" "$1"' _ "$PROM"
t_assert "runner: EHLO, STARTTLS and handshake timings per address" \
	bash -c 'for p in banner ehlo starttls handshake; do grep -qE "^mtaprobe_phase_duration_seconds\{target=\"postfix\",.*,phase=\"$p\"\} [0-9.e-]+$" "$1" || exit 1; done' _ "$PROM"
t_assert "runner: one chain verified for two names: verified for the one it names, not for the other (the remembered verification keys on the name)" \
	bash -c 'grep -q "^mtaprobe_cert_verified{target=\"chain-name-ok\",.*} 1$" "$1" &&
		grep -q "^mtaprobe_cert_verified{target=\"chain-name-other\",.*} 0$" "$1" &&
		grep -q "^mtaprobe_cert_verified{target=\"scripted-tls\",.*} 1$" "$1"' _ "$PROM"
t_assert "runner: a host name gets its DNS timing (localhost)" \
	bash -c 'grep -qE "^mtaprobe_phase_duration_seconds\{target=\"by-name\",host=\"localhost\",address=\"127.0.0.1\",.*,phase=\"dns\"\} [0-9.e-]+$" "$1"' _ "$PROM"
t_assert "runner: the old per-check series are gone (renamed, see the README)" \
	bash -c '! grep -qE "^mtaprobe_(connect|banner|tls_handshake)_duration_seconds|^mtaprobe_relay_accepted" "$1"' _ "$PROM"
t_assert "runner: closed port: success 0" grep -q '^mtaprobe_check_success{target="closed",check="port",.*} 0$' "$PROM"
t_assert "runner: run timestamp and duration" \
	bash -c 'grep -qE "^mtaprobe_run_timestamp_seconds\{config=\"main\"\} [0-9]{10}$" "$1" && grep -qE "^mtaprobe_run_duration_seconds\{config=\"main\"\} [0-9.]+$" "$1"' _ "$PROM"

# node_exporter's textfile collector exports it
NE_PORT=19199
prometheus-node-exporter --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$T_TMP/out" --web.listen-address=127.0.0.1:$NE_PORT \
	>"$T_TMP/ne.log" 2>&1 &
T_PIDS+=($!)
t_wait_port $L $NE_PORT
curl -s "http://127.0.0.1:$NE_PORT/metrics" >"$T_TMP/scrape.txt"
t_assert "runner: node_exporter scrapes the file without error" grep -q '^node_textfile_scrape_error 0$' "$T_TMP/scrape.txt"
t_assert "runner: node_exporter exports our series" \
	grep -q '^mtaprobe_check_state{address="127.0.0.1",check="banner",host="127.0.0.1",port="10525",\(role="",\)\?site="lab",target="postfix"} 0$' "$T_TMP/scrape.txt"

# JSON
t_run "runner: -f json -o FILE" 0 8 "$MP" -c "$T_TMP/main.yaml" -f json -o "$T_TMP/out/run.json"
t_assert "runner: JSON parses and has the documented shape" jq -e '
	(.version | type == "string") and (.run.timestamp | type == "number") and
	(.run.duration_seconds | type == "number") and (.results | length == 19) and
	all(.results[]; (.target | type == "string") and (.check | IN("port","banner","starttls","cert","relay"))
	    and (.state | IN("OK","WARNING","CRITICAL","UNKNOWN")) and (.exit_code | type == "number")
	    and (.summary | type == "string") and (.timings | type == "object"))' "$T_TMP/out/run.json"
t_assert "runner: JSON carries the certificate chain and relay counts" jq -e '
	([.results[] | select(.target == "postfix" and .check == "cert") | .tls[0].chain[0].not_after] | .[0] > 1700000000) and
	([.results[] | select(.target == "postfix" and .check == "relay") | .relay.refused] | .[0] == 3)' "$T_TMP/out/run.json"

# text, and the quick report for a person
t_run "runner: -f text prints a table" 0 8 "$MP" -c "$T_TMP/main.yaml" -f text -o "$T_TMP/out/run.txt"
t_run "runner: -f text without -o goes to the terminal, not the config's textfile" 0 8 "$MP" -q -c "$T_TMP/main.yaml" -f text
t_assert "runner: ... the table is on stdout and the textfile is still Prometheus" \
	bash -c 'grep -q "^TARGET " <<<"$1" && grep -q "^# HELP mtaprobe_check_state" "$2"' _ "$T_LAST_OUT" "$PROM"
t_assert "runner: the table has a row per check with the deciding fact" \
	grep -qE '^scripted-plain +starttls +127\.0\.0\.1 +127\.0\.0\.1 +CRITICAL +STARTTLS not advertised' "$T_TMP/out/run.txt"
# the terminal mode exits like a plugin: the worst state (Postfix's test
# certificate is not trusted without --ca-file: CRITICAL)
t_run "runner: quick report: mtaprobe -p PORT HOST, exit 2 (the worst state: cert CRITICAL)" 2 8 "$MP" -q -p 10525 $L
t_assert "runner: quick report shows every check and a total" \
	bash -c 'for c in port banner starttls cert relay; do grep -qE "^127\.0\.0\.1 +$c " <<<"$1" || exit 1; done; grep -q "^5 checks in " <<<"$1"' _ "$T_LAST_OUT"
t_run "runner: quick report with --ca-file: the certificate verifies, every check OK: exit 0" 0 8 \
	"$MP" -q -p 10525 --ca-file "$PKI/root.crt" $L
t_assert "runner: ... the cert row says verified" grep -qE '^127\.0\.0\.1 +cert .*verified' <<<"$T_LAST_OUT"
t_run "runner: --ca-file with -c is refused (the config says it per target)" 3 2 \
	"$MP" -c "$T_TMP/main.yaml" --ca-file "$PKI/root.crt"
t_run "runner: quick report of several HOSTs: a row each, their options shared" 0 8 \
	"$MP" -q -p 27301 --checks port $L 127.0.0.1 localhost -4
t_assert "runner: ... three port rows and '3 checks in'" \
	bash -c '[ "$(grep -cE "^(127\.0\.0\.1|localhost) +port .* OK " <<<"$1")" = 3 ] && grep -q "^3 checks in " <<<"$1"' _ "$T_LAST_OUT"
t_run "runner: a bad second HOST is a usage error naming it" 3 2 "$MP" -q -p 27301 $L 'bad host'
t_run "runner: quick report with --checks, all OK: exit 0" 0 8 "$MP" -q -p 27301 --checks port,banner $L
t_assert "runner: --checks limits the checks" bash -c 'grep -q "^2 checks in " <<<"$1" && ! grep -q " relay " <<<"$1"' _ "$T_LAST_OUT"

# the time bound: 30 targets, 10 of them silent, timeout 2 -> within 4 s
{
	echo "defaults: {timeout: 2}"
	echo "output: {format: prometheus, path: $T_TMP/out/bound.prom}"
	echo "targets:"
	for i in $(seq 1 20); do echo "  - {name: ok$i, host: 127.0.0.1, port: 27301}"; done
	for i in $(seq 1 10); do echo "  - {name: silent$i, host: 127.0.0.1, port: 27302}"; done
} >"$T_TMP/bound.yaml"
t_run "runner: 30 targets, 10 silent, timeout 2: done within 4 s" 0 4 "$MP" -c "$T_TMP/bound.yaml"
# fewer descriptors than -j needs: fewer targets in flight, said on stderr,
# never checks failing with "too many open files"
out=$(bash -c 'ulimit -n 200 && exec "$0" -q -c "$1" -o "$2"' "$MP" "$T_TMP/bound.yaml" "$T_TMP/out/fds.prom" 2>&1)
rc=$?
t_report "runner: with 200 open files allowed, 30 targets in flight become 5, said on stderr (exit 0)" \
	"$([ $rc = 0 ] && grep -q "the limit is 200: running 5 at once" <<<"$out" || echo " exit $rc")" "$out"
t_assert "runner: ... and every healthy check is OK, none failed for want of a descriptor" \
	bash -c '[ "$(grep -c "^mtaprobe_check_state{target=\"ok[0-9]*\",check=\"banner\".*} 0$" "$1")" = 20 ] &&
		! grep -qi "open files" "$1"' _ "$T_TMP/out/fds.prom"

# at scale, on the fibers: 300 targets (100 healthy, 100 silent, 100 dripping
# a byte every 0.5 s) at the default concurrency (256 targets in flight),
# timeout 3: one timeout and a little, not a wave per -j of them
t_sim drip 27306
{
	echo "defaults: {timeout: 3, checks: [port, banner]}"
	echo "output: {format: prometheus, path: $T_TMP/out/scale.prom}"
	echo "targets:"
	for i in $(seq 1 100); do
		echo "  - {name: ok$i, host: 127.0.0.1, port: 27301}"
		echo "  - {name: silent$i, host: 127.0.0.1, port: 27302}"
		echo "  - {name: drip$i, host: 127.0.0.1, port: 27306}"
	done
} >"$T_TMP/scale.yaml"
t_run "runner: 300 targets (100 silent, 100 dripping), 600 checks, timeout 3, default concurrency: within 6 s" \
	0 6 "$MP" -q -c "$T_TMP/scale.yaml"

scale=$T_TMP/out/scale.prom
n_ok=$(grep -c "^mtaprobe_check_state{target=\"ok[0-9]*\",.*} 0$" "$scale")
n_to=$(grep -c "^mtaprobe_check_error_info{target=\"\(silent\|drip\)[0-9]*\",check=\"banner\",.*kind=\"timeout\",step=\"greeting\"} 1$" "$scale")
t_report "runner: at scale every healthy check OK, every silent and dripping banner a timeout at the greeting" \
	"$([ "$n_ok" = 200 ] && [ "$n_to" = 200 ] || echo " $n_ok of 200 healthy checks OK, $n_to of 200 greeting timeouts")" \
	"$(grep -v '^#' "$scale" | grep -E 'check_state\{target="ok[0-9]*".* [1-3]$|error_info' | grep -v 'step="greeting"' | head -5)"
t_assert "runner: the silent targets' banner checks are CRITICAL (timeout)" \
	bash -c '[ "$(grep -c "^mtaprobe_check_state{target=\"silent[0-9]*\",check=\"banner\".*} 2$" "$1")" = 10 ]' _ "$T_TMP/out/bound.prom"
t_assert "runner: the healthy targets' banner checks are OK" \
	bash -c '[ "$(grep -c "^mtaprobe_check_state{target=\"ok[0-9]*\",check=\"banner\".*} 0$" "$1")" = 20 ]' _ "$T_TMP/out/bound.prom"
t_assert "runner: a failed check names its kind and step (timeout at the greeting)" \
	bash -c '[ "$(grep -c "^mtaprobe_check_error_info{target=\"silent[0-9]*\",check=\"banner\".*,kind=\"timeout\",step=\"greeting\"} 1$" "$1")" = 10 ]' _ "$T_TMP/out/bound.prom"
t_assert "runner: a check that did not fail has no error series (STARTTLS not offered is one)" \
	bash -c '! grep -q "^mtaprobe_check_error_info{target=\"ok[0-9]*\",check=\"banner\"" "$1" &&
		[ "$(grep -c "^mtaprobe_check_error_info{target=\"ok[0-9]*\",check=\"starttls\".*,kind=\"refused\",step=\"EHLO\"} 1$" "$1")" = 20 ]' _ "$T_TMP/out/bound.prom"
"$MP" -q -c "$T_TMP/bound.yaml" -f json -o "$T_TMP/out/bound.json" >/dev/null 2>&1
t_assert "runner: JSON carries the failure as error {kind, step, message}" \
	jq -e '[.results[] | select(.target == "silent1" and .check == "banner") | .error] | .[0] | .kind == "timeout" and .step == "greeting" and (.message | test("timeout"))' "$T_TMP/out/bound.json"

# -j given on the command line wins over the config's concurrency: 4 silent
# targets one at a time would take 4 timeouts, all at once one
{
	echo "defaults: {timeout: 1, checks: [banner]}"
	echo "concurrency: 1"
	echo "output: {format: prometheus, path: $T_TMP/out/jobs.prom}"
	echo "targets:"
	for i in 1 2 3 4; do echo "  - {name: silent$i, host: 127.0.0.1, port: 27302}"; done
} >"$T_TMP/jobs.yaml"
t_run "runner: -j 32 (the default value) still beats concurrency: 1 (4 silent, timeout 1: within 2.5 s)" 0 2.5 \
	"$MP" -q -j 32 -c "$T_TMP/jobs.yaml"

# on a terminal (a pseudo-terminal from script(1)), progress on stderr
if command -v script >/dev/null; then
	script -qec "$MP -c $T_TMP/bound.yaml -o $T_TMP/out/tty.prom" /dev/null >"$T_TMP/tty.out" 2>&1
	t_assert "runner: on a terminal it shows progress (targets done / total)" grep -q '30/30 targets' "$T_TMP/tty.out"
	# a silent server: no target ends for 2 s, yet the line moves on
	script -qec "$MP -t 2 --checks banner -p 27302 $L" /dev/null >"$T_TMP/tty5.out" 2>&1
	t_assert "runner: while a check hangs, progress still moves (in flight, seconds)" \
		bash -c '[ "$(tr "\r" "\n" <"$1" | grep -E "^0/1 targets done, 1 in flight, [0-9.]+s" | sed "s/.*flight, //" | sort -u | wc -l)" -ge 3 ]' _ "$T_TMP/tty5.out"
	script -qec "$MP -q -p 27301 --checks port $L" /dev/null >"$T_TMP/tty2.out" 2>&1
	t_assert "runner: on a terminal the state is coloured" grep -q $'\033\[32mOK' "$T_TMP/tty2.out"
	NO_COLOR=1 script -qec "$MP -q -p 27301 --checks port $L" /dev/null >"$T_TMP/tty3.out" 2>&1
	t_assert "runner: NO_COLOR=1: no colour on a terminal" bash -c '! grep -q $'"'"'\033\['"'"' "$1" && grep -q " OK " "$1"' _ "$T_TMP/tty3.out"
	TERM=dumb script -qec "$MP -q -p 27301 --checks port $L" /dev/null >"$T_TMP/tty4.out" 2>&1
	t_assert "runner: TERM=dumb: no colour either" bash -c '! grep -q $'"'"'\033\['"'"' "$1"' _ "$T_TMP/tty4.out"
fi

# SIGKILL mid-run: the file is the old one or the new one, never partial
{
	echo "defaults: {timeout: 3, checks: [banner]}"
	echo "output: {format: prometheus, path: $T_TMP/out/kill.prom}"
	echo "targets:"
	for i in $(seq 1 40); do echo "  - {name: slow$i, host: 127.0.0.1, port: 27304}"; done
} >"$T_TMP/kill.yaml"
"$MP" -q -c "$T_TMP/kill.yaml" >/dev/null 2>&1
cp "$T_TMP/out/kill.prom" "$T_TMP/kill.first"
complete() { tail -n 1 "$1" | grep -qE '^mtaprobe_run_duration_seconds\{config="kill"\} [0-9.]+$'; }
ok_runs=0
for i in 1 2 3 4 5 6; do
	"$MP" -q -c "$T_TMP/kill.yaml" >/dev/null 2>&1 &
	pid=$!
	sleep "0.$((RANDOM % 9 + 1))"
	[ $((i % 2)) = 0 ] && sleep 1.3	# every other one dies near the rename
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if complete "$T_TMP/out/kill.prom" && promtool check metrics <"$T_TMP/out/kill.prom" >/dev/null 2>&1; then
		ok_runs=$((ok_runs + 1))
	fi
done
t_assert "runner: SIGKILL mid-run (6 times) always leaves a complete, valid file" [ $ok_runs = 6 ]

# configuration errors: exit 3, file:line:column, nothing written
cp "$PROM" "$T_TMP/before.prom"
printf 'output: {path: %s}\ntargets:\n  - {name: a, hots: 127.0.0.1}\n' "$PROM" >"$T_TMP/bad.yaml"
t_run "runner: unknown key is a config error, exit 3" 3 3 "$MP" -c "$T_TMP/bad.yaml"
t_assert "runner: the message names file:line:column" grep -q "bad.yaml:3:[0-9]*: .*hots" <<<"$T_LAST_OUT"
t_assert "runner: the previous textfile is untouched" cmp -s "$PROM" "$T_TMP/before.prom"
printf 'targets: [\n' >"$T_TMP/syntax.yaml"
t_run "runner: YAML syntax error, exit 3" 3 3 "$MP" -c "$T_TMP/syntax.yaml"
t_assert "runner: syntax error located" grep -q "syntax.yaml:[0-9]*:[0-9]*:" <<<"$T_LAST_OUT"
printf 'output: {path: /nonexistent-dir/x.prom}\ntargets:\n  - {host: 127.0.0.1, port: 27301, checks: [port]}\n' >"$T_TMP/nodir.yaml"
t_run "runner: unwritable output is exit 3" 3 5 "$MP" -c "$T_TMP/nodir.yaml"
t_assert "runner: and says so" grep -q "cannot create /nonexistent-dir/x.prom.tmp" <<<"$T_LAST_OUT"
# found before any check runs: a silent target would take its timeout first
printf 'defaults: {timeout: 5}\noutput: {path: /nonexistent-dir/x.prom}\ntargets:\n  - {host: 127.0.0.1, port: 27302, checks: [banner]}\n' >"$T_TMP/nodir2.yaml"
t_run "runner: unwritable output is found before the checks run (a 5 s silent target: within 1 s)" 3 1 \
	"$MP" -c "$T_TMP/nodir2.yaml"
t_assert "runner: ... and says nothing was run" grep -q "nothing was run" <<<"$T_LAST_OUT"
t_run "runner: bad option is exit 3" 3 2 "$MP" -j 0 -c "$T_TMP/main.yaml"
