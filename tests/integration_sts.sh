#!/usr/bin/env bash
# tests/integration_sts.sh [BUILD_DIR] - check_mta_sts (MTA-STS, RFC 8461;
# TLS-RPT, RFC 8460) against a real test bed on loopback (tests/sts/bed.sh:
# NSD with one zone per test domain on 127.0.0.1:5363, nginx serving the
# policies on 127.0.0.60-94:443, smtpsim as the MX hosts on 127.0.0.41-48
# port 2725; `tests/sts/bed.sh list` shows the domains).  Prints TAP lines;
# one SKIP line when check_mta_sts is not built, or the bed cannot run (not
# root, nsd or nginx missing).  Root: nginx listens on port 443.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${1:-build/asan}
STS=$B/check_mta_sts
SIM=$B/smtpsim
NAME="sts: MTA-STS and TLS-RPT against NSD, nginx and smtpsim"
if [ ! -x "$STS" ]; then
	echo "ok 1 - $NAME # SKIP check_mta_sts not built"
	exit 0
fi
. tests/lib.sh
T0=$(date +%s%N)
BED=$T_TMP/sts
cleanup() {
	t_cleanup
	tests/sts/bed.sh stop "$BED" >/dev/null 2>&1
	rm -rf "$T_TMP"
}
trap cleanup EXIT

tests/sts/bed.sh start "$BED" "$SIM" 2>"$T_TMP/bed.err"
rc=$?
if [ $rc = 77 ]; then
	echo "ok 1 - $NAME # SKIP $(grep -m1 SKIP "$T_TMP/bed.err")"
	exit 0
elif [ $rc != 0 ]; then
	t_report "sts: test bed started" " tests/sts/bed.sh failed" "$(cat "$T_TMP/bed.err")"
	exit 0
fi
echo "# $(tail -n 1 "$T_TMP/bed.err")"
PKI=$BED/pki
P=2725
C=("$STS" --dns-server 127.0.0.1:5363 --ca-file "$PKI/root.crt" -p "$P")

# sts NAME WANT_RC REGEX DOMAIN [ARGS...]: check_mta_sts -M DOMAIN -t 5
# ARGS (a later -t wins), bound -t + 0.5 s
sts() {
	local name=$1 want=$2 re=$3 dom=$4
	shift 4
	t_check "sts: $name" "$want" "$re" 5.5 "${C[@]}" -M "$dom" -t 5 "$@"
}
# perf LABEL REGEX: the perfdata of the last check holds LABEL=VALUE...
perf() {
	local first=${T_LAST_OUT%%$'\n'*} p="" re=" '?$1'?=$2[; ]"
	[[ $first == *" | "* ]] || p=" no perfdata;"
	[[ " ${first#* | } " =~ $re ]] || p+=" no $1=$2 in '${first#* | }';"
	t_report "sts: perfdata $1=$2" "$p" "$first"
}
# has NAME REGEX: the output of the last check matches REGEX (ERE, per line)
has() {
	if grep -Eq -- "$2" <<<"$T_LAST_OUT"; then t_report "sts: $1" "" ""; else
		t_report "sts: $1" " output lacks /$2/" "$T_LAST_OUT"; fi
}
# lacks NAME REGEX: ... does not match
lacks() {
	if grep -Eq -- "$2" <<<"$T_LAST_OUT"; then t_report "sts: $1" " output has /$2/" "$T_LAST_OUT"; else
		t_report "sts: $1" "" ""; fi
}
# keep NAME: save the last output (printed at the end as # lines)
KEPT=()
keep() { KEPT+=("$1" "$T_LAST_OUT"); }

# the coverage as a fact: in the summary, or in the perfdata
cov() { echo "$1 of $2 MX covered|mx_covered=$1;[^ ]* mx_total=$2;"; }
COV2=$(cov 2 2)

# --- a good policy -------------------------------------------------------------
sts "good: enforce, 2 of 2 MX covered, id and max_age in the summary" 0 \
	'^MTA STS OK - good\.test.*enforce.*2 of 2 MX covered.*20261201T0000.*604800' good.test -v
keep good.test
perf max_age 604800s?
perf mx_covered 2
perf mx_total 2
perf days '36[45]'
perf policy '[0-9.]+s'
perf dns '[0-9.]+s'
perf time '[0-9.]+s'
has "good: -v: one line for mx1's address" '^\[OK\] mx1\.good\.test\[127\.0\.0\.41\]:2725'
has "good: -v: one line for mx2's address" '^\[OK\] mx2\.good\.test\[127\.0\.0\.42\]:2725'
has "good: -v: the TLS-RPT record is named" 'TLSRPTv1|TLS-RPT.*mailto:tlsrpt@good\.test'
t_check "sts: good: -H is -M" 0 '^MTA STS OK - good\.test' 5.5 "${C[@]}" -H good.test -t 5
sts "good: --require and --require-tlsrpt change nothing when all is there" 0 \
	"$COV2" good.test --require --require-tlsrpt
sts "good: --no-mx-tls: coverage only, the summary as with the MX checks" 0 \
	'^MTA STS OK - good\.test.*enforce.*2 of 2 MX covered.*20261201T0000.*604800' good.test --no-mx-tls
sts "sni: the policy host is asked with SNI mta-sts.sni.test (its address's default server has another certificate)" 0 \
	"$COV2" sni.test
t_check "sts: good: https_proxy, HTTPS_PROXY and ALL_PROXY in the environment are ignored" 0 "$COV2" 5.5 \
	env https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
	"${C[@]}" -M good.test -t 5
t_check "sts: good: without --ca-file the test root is not trusted: CRITICAL, policy step" 2 \
	'policy:.*(certificate|issuer|verif)' 5.5 "$STS" --dns-server 127.0.0.1:5363 -p "$P" -M good.test -t 5
mkdir -p "$T_TMP/capath" && cp "$PKI/root.crt" "$T_TMP/capath/" && openssl rehash "$T_TMP/capath" 2>/dev/null
t_check "sts: good: --ca-path (a hashed directory) for the policy host and the MX hosts" 0 "$COV2" 5.5 \
	"$STS" --dns-server 127.0.0.1:5363 --ca-path "$T_TMP/capath" -p "$P" -M good.test -t 5 -v
has "good: --ca-path: the MX certificates verified" '^\[OK\] mx2\.good\.test\[127\.0\.0\.42\]:2725.*verified'
sts "crlf: CRLF line ends, an unknown key, text/plain; charset=utf-8" 0 "$COV2" crlf.test
sts "chunked: a policy sent chunked (Transfer-Encoding: chunked)" 0 "$COV2" chunked.test
sts "split: the STS TXT in two character-strings is one record" 0 'id split1' split.test -v
sts "wild: mx: *.Wild.TEST covers mx1 and mx2 (case-insensitive); a non-STS TXT is ignored" 0 \
	"$COV2" wild.test
sts "dot: mx: with a trailing dot and in upper case still covers" 0 "$COV2" dot.test
sts "none: mode none is OK, the MX (no STARTTLS) is not checked" 0 'mode none' none.test -v
lacks "none: no MX address checked" '^\[(OK|WARNING|CRITICAL)\] mx1\.none\.test\['
# 3 addresses x 1.5 s: 4.5 s one after the other; at once 1.5 s, or 3 s with
# a second connection per address (check_mta_cert's RSA probe)
t_check "sts: slow: three MX whose greeting takes 1.5 s, checked at once (bound 4 s)" 0 \
	"$(cov 3 3)" 4 "${C[@]}" -M slow.test -t 8

# --- the TXT record --------------------------------------------------------------
sts "nopolicy: no _mta-sts TXT is OK and says so" 0 'no MTA-STS policy' nopolicy.test
sts "nopolicy: --require makes it CRITICAL" 2 'no MTA-STS policy' nopolicy.test --require
sts "twotxt: two v=STSv1 records are a WARNING naming the count" 1 '2 STSv1 records' twotxt.test
sts "badid: an id with a '-' is a WARNING" 1 'invalid.*id|id.*invalid' badid.test

# --- the policy fetch -------------------------------------------------------------
sts "http404: CRITICAL, HTTP 404" 2 'policy: HTTP 404' http404.test
sts "redirect: a 301 is not followed" 2 'policy:.*(redirect|301)' redirect.test
keep redirect.test
sts "html: text/html is CRITICAL" 2 'policy:.*text/html' html.test
sts "big: a policy over 64 KiB is CRITICAL" 2 'policy:.*(64 KiB|larger|too (large|big|long))' big.test
t_check "sts: stall: TLS then silence: CRITICAL timeout within -t 2 (bound 2.5 s)" 2 \
	'policy:.*(timeout|timed out)' 2.5 "${C[@]}" -M stall.test -t 2
keep stall.test
sts "refused: nothing on mta-sts:443 is CRITICAL" 2 'policy:.*(refused|connect)' refused.test
sts "nohost: mta-sts.nohost.test does not exist: CRITICAL" 2 \
	'policy:.*(mta-sts\.nohost\.test|NXDOMAIN|does not exist|DNS)' nohost.test
sts "expired: the policy host's expired certificate is CRITICAL" 2 'policy:.*expired' expired.test
sts "wrongname: a certificate for another name is CRITICAL" 2 'policy:.*(hostname|name).*(mismatch|match)|policy:.*mismatch' wrongname.test
keep wrongname.test
sts "selfsigned: a self-signed certificate is CRITICAL" 2 'policy:.*self.signed' selfsigned.test
sts "exp10d: 10 days left on the policy host's certificate: CRITICAL under -c 14 (default)" 2 \
	'policy host.*10 days|10 days.*policy' exp10d.test
keep exp10d.test
perf days 10
sts "exp10d: -w 30 -c 5: WARNING" 1 'policy host.*10 days|10 days.*policy' exp10d.test -w 30 -c 5
sts "exp10d: -w 5 -c 3: OK" 0 "$COV2" exp10d.test -w 5 -c 3

# --- the policy's syntax -----------------------------------------------------------
sts "short: max_age 3600 is a WARNING" 1 'max_age' short.test
perf max_age 3600s?
sts "badmode: mode: strict is CRITICAL naming mode" 2 'mode' badmode.test
keep badmode.test
sts "nomx: enforce without mx: is CRITICAL naming mx" 2 '\bmx\b' nomx.test
keep nomx.test
sts "badage: max_age 31557601 is CRITICAL naming max_age" 2 'max_age' badage.test
sts "nover: a policy without version is CRITICAL naming version" 2 'version' nover.test

# --- MX coverage ------------------------------------------------------------------
sts "testing: an uncovered MX in mode testing is a WARNING" 1 'testing.*1 of 2 MX covered|mx2\.testing\.test' testing.test
perf mx_covered 1
perf mx_total 2
sts "uncovered: an uncovered MX in mode enforce is CRITICAL naming it" 2 \
	'mx2\.uncovered\.test' uncovered.test -v
keep uncovered.test
perf mx_covered 1
perf mx_total 2
sts "wilddeep: *.wilddeep.test does not cover a.b.wilddeep.test" 2 'a\.b\.wilddeep\.test' wilddeep.test

# --- the MX hosts' TLS -----------------------------------------------------------
sts "notls: enforce, an MX without STARTTLS is CRITICAL" 2 'mx2\.notls\.test\[127\.0\.0\.43\]:2725.*STARTTLS' notls.test -v
keep notls.test
has "notls: -v: mx1 OK" '^\[OK\] mx1\.notls\.test\[127\.0\.0\.41\]:2725'
has "notls: -v: mx2 CRITICAL" '^\[CRITICAL\] mx2\.notls\.test\[127\.0\.0\.43\]:2725'
sts "notls: --no-mx-tls skips the STARTTLS check" 0 "$COV2" notls.test --no-mx-tls
sts "notlstesting: mode testing, an MX without STARTTLS is a WARNING" 1 'mx2\.notlstesting\.test\[127\.0\.0\.43\]' notlstesting.test
sts "badmxcert: an MX certificate for another name is CRITICAL" 2 \
	'mx1\.badmxcert\.test\[127\.0\.0\.44\]:2725.*(hostname|name|mismatch)' badmxcert.test
sts "mxdown: an MX that refuses the connection is CRITICAL" 2 \
	'mx2\.mxdown\.test\[127\.0\.0\.45\]:2725.*(refused|connect)' mxdown.test

# --- TLS-RPT -------------------------------------------------------------------------
sts "notlsrpt: no TLS-RPT record: stated (-v), still OK" 0 'TLS-?RPT' notlsrpt.test -v
sts "notlsrpt: --require-tlsrpt: WARNING" 1 'TLS-?RPT' notlsrpt.test --require-tlsrpt
sts "tlsrpt-bad: an ftp: rua is a WARNING" 1 'TLS-?RPT' tlsrpt-bad.test
keep tlsrpt-bad.test
sts "wild: an https: rua is valid" 0 "$COV2" wild.test --require-tlsrpt

# --- DNS ---------------------------------------------------------------------------
t_check "sts: no DNS server answering: CRITICAL within -t 2" 2 'DNS|timeout|no DNS server' 2.5 \
	"$STS" --dns-server 127.0.0.1:5399 --ca-file "$PKI/root.crt" -p $P -M good.test -t 2

# --- the runner: checks: [sts] on mx: targets, Prometheus series and JSON ----------
RUNNER=$B/mtaprobe
if [ -x "$RUNNER" ]; then
	{
		echo "defaults: {port: $P, timeout: 5, dns_server: 127.0.0.1:5363, ca_file: $PKI/root.crt}"
		echo "targets:"
		echo "  - {name: good, mx: good.test, checks: [sts]}"
		echo "  - {name: uncovered, mx: uncovered.test, checks: [sts]}"
		echo "  - {name: html, mx: html.test, checks: [sts]}"
		echo "  - {name: nopolicy, mx: nopolicy.test, checks: [sts]}"
	} >"$T_TMP/sts.yaml"
	PROM=$("$RUNNER" -q -c "$T_TMP/sts.yaml" -f prometheus 2>&1)
	rc=$?
	t_report "sts: runner, checks: [sts] on mx: targets, -f prometheus: exit 0" \
		"$([ $rc = 0 ] || echo " exit $rc")" "$PROM"
	t_assert "sts: runner: good: policy valid, mode enforce, max_age 604800, 0 MX uncovered" \
		bash -c 'grep -Eq "^mtaprobe_sts_policy_valid\{target=\"good\".*\} 1$" <<<"$1" &&
			grep -Eq "^mtaprobe_sts_mode_info\{target=\"good\".*mode=\"enforce\"\} 1$" <<<"$1" &&
			grep -Eq "^mtaprobe_sts_max_age_seconds\{target=\"good\".*\} 604800$" <<<"$1" &&
			grep -Eq "^mtaprobe_sts_mx_uncovered\{target=\"good\".*\} 0$" <<<"$1"' _ "$PROM"
	t_assert "sts: runner: uncovered: 1 MX uncovered, check CRITICAL" \
		bash -c 'grep -Eq "^mtaprobe_sts_mx_uncovered\{target=\"uncovered\".*\} 1$" <<<"$1" &&
			grep -Eq "^mtaprobe_check_state\{target=\"uncovered\",check=\"sts\",host=\"uncovered\.test\".*\} 2$" <<<"$1"' _ "$PROM"
	t_assert "sts: runner: html: the announced policy is not valid (0)" \
		bash -c 'grep -Eq "^mtaprobe_sts_policy_valid\{target=\"html\".*\} 0$" <<<"$1"' _ "$PROM"
	t_assert "sts: runner: nopolicy: no sts series at all (nothing announced), the check OK" \
		bash -c '! grep -Eq "^mtaprobe_sts_[a-z_]+\{target=\"nopolicy\"" <<<"$1" &&
			grep -Eq "^mtaprobe_check_state\{target=\"nopolicy\",check=\"sts\".*\} 0$" <<<"$1"' _ "$PROM"
	if command -v promtool >/dev/null; then
		t_assert "sts: runner: promtool check metrics accepts it" \
			bash -c 'promtool check metrics <<<"$1" >/dev/null 2>&1' _ "$PROM"
	fi
	JSON=$("$RUNNER" -q -c "$T_TMP/sts.yaml" -f json 2>&1)
	t_assert "sts: runner, -f json: the sts fields" \
		grep -q '"sts": {"policy": "valid", "id": "20261201T0000", "mode": "enforce", "max_age": 604800, "mx_total": 2, "mx_covered": 2' <<<"$JSON"
	if command -v jq >/dev/null; then
		t_assert "sts: runner: the JSON parses, nopolicy's policy is none" \
			bash -c '[ "$(jq -r ".results[] | select(.target == \"nopolicy\") | .sts.policy" <<<"$1")" = none ]' _ "$JSON"
	fi
fi

# --- the outputs the lead's notes quote --------------------------------------------
for ((i = 0; i < ${#KEPT[@]}; i += 2)); do
	echo "# --- ${KEPT[i]}:"
	printf '%s\n' "${KEPT[i + 1]}" | head -n 12 | sed 's/^/#   /'
done
ms=$((($(date +%s%N) - T0) / 1000000))
printf '# sts: %d tests in %d.%03d s\n' "$T_N" $((ms / 1000)) $((ms % 1000))
