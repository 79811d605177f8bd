#!/usr/bin/env bash
# tests/integration_dns_hostile.sh BUILD_DIR - hostile names from DNS must
# never forge output.  The private DNS of tests/dns.sh (NSD with the signed
# example.test behind a validating unbound) serves MX hosts and PTR targets
# whose labels hold '|', LF, ESC, NUL, DEL or a '.' inside a label (each with
# an A record at 127.0.0.1, where a bait smtpsim listens: a client copying
# label bytes raw would connect), a PTR that is an IP literal as a name, a
# domain with 20 MX records (most preferred served last) and one whose MX
# hosts have 75 addresses.  For check_mta_banner / check_mta_port -M, the
# runner's table (mtaprobe --mx -q) and its JSON and Prometheus output (-c):
#   - one status line, first (^MTA CHECK STATE - ), no '|' but the " | "
#     before the perfdata, perfdata that parses, no raw control byte
#     (< 0x20 but LF, 0x7f) anywhere on stdout
#   - the hostile name refused as a bad name: the state a failed lookup gives
#     (CRITICAL for -M), a message saying the name is not a valid host name,
#     and no connection to the bait
#   - more than 16 MX: the cap stated, the most preferred MX checked;
#     more than 64 addresses: the cap stated
#   - --fcrdns: a PTR naming an IP literal or a hostile name is not
#     "confirmed" (WARNING, saying why)
# Prints TAP lines.  KEEP=1 keeps the scratch directory (outputs out.N).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${1:-build/asan}
# PORT is used as ${!plugin}
# shellcheck disable=SC2034
BANNER=$B/check_mta_banner PORT=$B/check_mta_port RUNNER=$B/mtaprobe
SIM=$B/smtpsim
. tests/lib.sh
DNSDIR=$T_TMP/dns
cleanup() {
	t_cleanup
	tests/dns.sh stop "$DNSDIR" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T_TMP"
}
trap cleanup EXIT

t_dns_start "hostile dns" "$DNSDIR"
RES=127.0.0.1:5354          # the validating unbound: what the checks use
NSD=127.0.0.1:5353          # NSD itself: answers in zone-file order (unbound rotates)
D=(--dns-server "$RES")
P=2625 FP=2626

# --- servers -------------------------------------------------------------------------
# sim NAME SCENARIO-FILE PORT ADDR... : one smtpsim on ADDR:PORT for each ADDR,
# transcript in $T_TMP/NAME.transcript
sim() {
	local name=$1 scn=$2 port=$3 a
	shift 3
	local args=()
	for a in "$@"; do args+=(-l "$a:$port"); done
	: >"$T_TMP/$name.transcript"
	"$SIM" -s "$scn" "${args[@]}" -T "$T_TMP/$name.transcript" \
		>/dev/null 2>>"$T_TMP/smtpsim.err" &
	T_PIDS+=($!)
	t_wait_port "$1" "$port" || echo "# smtpsim $name did not start" >&2
}
# greeter NAME: a scenario file greeting (and answering EHLO) as NAME
greeter() {
	printf '# greets as %s\nline 220 %s ESMTP smtpsim\nserve\non EHLO send "250-%s\\r\\n250 PIPELINING\\r\\n"\non HELO line 250 %s\n' \
		"$1" "$1" "$1" "$1" >"$T_TMP/greet_$1.scn"
	echo "$T_TMP/greet_$1.scn"
}
OK_SCN=tests/scenarios/ok.scn
sim bait "$OK_SCN" $P 127.0.0.1          # every hostile MX host's A record
sim mx2 "$OK_SCN" $P 127.0.0.12          # the good MX of hmixed
many=() wide=()
for i in $(seq 101 120); do many+=("127.0.0.$i"); done
for i in $(seq 1 75); do wide+=("127.0.1.$i"); done
sim many "$OK_SCN" $P "${many[@]}"
sim wide "$OK_SCN" $P "${wide[@]}"
# --fcrdns: 127.0.0.18 PTR ptr\.dot (raw copy ptr.dot.example.test, A
# 127.0.0.18) greets as the raw copy, 127.0.0.19 PTR "127.0.0.19." greets as
# 127.0.0.19: a naive client would confirm both and be OK
sim ptrdot "$(greeter ptr.dot.example.test)" $FP 127.0.0.18
sim ptrip "$(greeter 127.0.0.19)" $FP 127.0.0.19
sim ptrmx1 tests/scenarios/fcrdns_mx1.scn $FP 127.0.0.20 127.0.0.30

# --- assertions ------------------------------------------------------------------------
# "not a valid host name" and the like: the word "name" next to a refusal
BADNAME='((no|without)[^;]{0,40} valid (host ?)?name|not an? (valid |legal |permitted |usable )?(host ?|dns |mx |ptr )?name|(invalid|bad|illegal|malformed|unsafe|forbidden|hostile)( host| dns| mx| ptr)? ?name|name[^;]{0,40}(invalid|not valid|refused|rejected|not allowed|forbidden))'
STATES='(OK|WARNING|CRITICAL|UNKNOWN)'
H_N=0

# ctl_bytes FILE: the raw control bytes (< 0x20 but LF, 0x7f) in FILE, as
# octal escapes, at most 8 of them; empty when there are none
ctl_bytes() {
	LC_ALL=C tr -d '\n\040-\176\200-\377' <"$1" | head -c 8 | od -An -c | tr -s ' \n' ' '
}

# h_run MAX CMD... : runs CMD (stdout to a file, stderr apart) and sets H_RC,
# H_MS, H_FILE, H_OUT (stdout, NUL bytes dropped) and H_ERR
h_run() {
	local max=$1 t0
	shift
	H_N=$((H_N + 1))
	H_FILE=$T_TMP/out.$H_N
	t0=$(date +%s%N)
	timeout -k 2 30 "$@" >"$H_FILE" 2>"$H_FILE.err"
	H_RC=$?
	H_MS=$((($(date +%s%N) - t0) / 1000000))
	H_OUT=$(tr -d '\0' <"$H_FILE")
	H_ERR=$(tr -d '\0' <"$H_FILE.err")
	H_MAX=$max
}

# h_common: the problems every output can have (time, stderr, control bytes)
h_common() {
	local p="" c
	[ "$H_MS" -le "$(awk -v m="$H_MAX" 'BEGIN{printf "%d", m*1000}')" ] || p+=" took ${H_MS}ms, bound ${H_MAX}s;"
	[ "$H_RC" -ne 99 ] || p+=" sanitizer finding (exit 99);"
	[ -z "$H_ERR" ] || p+=" wrote to stderr: $(head -c 200 <<<"$H_ERR");"
	c=$(ctl_bytes "$H_FILE")
	[ -z "$c" ] || p+=" raw control bytes on stdout:$c;"
	printf '%s' "$p"
}

# h_plugin_form NAME : the plugin output of the last h_run is well-formed
h_plugin_form() {
	local p first n perf
	p=$(h_common)
	first=${H_OUT%%$'\n'*}
	[[ $first =~ ^MTA\ [A-Z]+\ $STATES\ -\  ]] || p+=" first line is not a status line;"
	if [ "$H_RC" -le 3 ]; then
		local -a st=(OK WARNING CRITICAL UNKNOWN)
		[[ $first =~ ^MTA\ [A-Z]+\ ${st[$H_RC]}\  ]] || p+=" first line does not say ${st[$H_RC]} (exit $H_RC);"
	else
		p+=" exit $H_RC;"
	fi
	n=$(grep -Eic "^MTA [A-Z]+ $STATES - " <<<"$H_OUT")
	[ "$n" = 1 ] || p+=" $n status lines;"
	n=${first//[^|]/}
	if [ ${#n} -gt 1 ] || { [ ${#n} = 1 ] && [[ $first != *" | "* ]]; }; then
		p+=" '|' in the first line besides the perfdata separator;"
	fi
	p+=$(t_perf_ok "$first")
	t_report "$1: one status line, perfdata parses, no stray '|', no control byte (${H_MS}ms)" "$p" "$(cat -A <<<"$H_OUT")"
}

# h_expect NAME WANT_RC REGEX : exit code and a regex (ERE, case-insensitive)
h_expect() {
	local p=""
	[ "$H_RC" = "$2" ] || p+=" exit $H_RC, wanted $2;"
	grep -Eiq -- "$3" <<<"$H_OUT" || p+=" output lacks /$3/;"
	t_report "$1" "$p" "$(cat -A <<<"$H_OUT")"
}

# h_grep NAME REGEX / h_nogrep NAME REGEX: on the output of the last h_run
h_grep() {
	if grep -Eq -- "$2" <<<"$H_OUT"; then t_report "$1" "" ""; else t_report "$1" " output lacks /$2/" "$(cat -A <<<"$H_OUT")"; fi
}
h_nogrep() {
	local m
	if ! m=$(grep -E -- "$2" <<<"$H_OUT"); then t_report "$1" "" ""; else t_report "$1" " output has /$2/" "$(cat -A <<<"$m")"; fi
}

# bait_mark / bait_none NAME: nothing connected to the bait at 127.0.0.1
# since the mark (a connection writes the greeting to its transcript)
bait_mark() { BAIT_AT=$(wc -c <"$T_TMP/bait.transcript"); }
bait_none() {
	local now
	sleep 0.1
	now=$(wc -c <"$T_TMP/bait.transcript")
	if [ "$now" = "$BAIT_AT" ]; then
		t_report "$1: nothing connected to the hostile name's address" "" ""
	else
		t_report "$1: nothing connected to the hostile name's address" " the bait at 127.0.0.1:$P was connected to" \
			"$(tail -c +$((BAIT_AT + 1)) "$T_TMP/bait.transcript" | head -n 4)"
	fi
}

# --- -M: hostile MX host names ---------------------------------------------------------
# domain:what, one hostile MX host each (tests/dns.sh hostile_records)
HOSTILE=(hpipe:"'|'" hnl:"a newline" hesc:"ESC" hnul:"NUL" hdot:"'.' inside a label" hdel:"DEL")
for hw in "${HOSTILE[@]}"; do
	h=${hw%%:*} what=${hw#*:}
	for plugin in BANNER PORT; do
		prog=${!plugin}
		name="${plugin,,} -M $h.example.test (MX host with $what)"
		bait_mark
		h_run 5 "$prog" -M "$h.example.test" -p $P "${D[@]}" -v
		h_plugin_form "$name"
		h_expect "$name: refused as a bad name, CRITICAL as a failed lookup" 2 "$BADNAME"
		bait_none "$name"
	done
done
name="banner -M hmixed.example.test (mx2 and the six hostile hosts)"
bait_mark
h_run 5 "$BANNER" -M hmixed.example.test -p $P "${D[@]}" -v
h_plugin_form "$name"
h_expect "$name: CRITICAL, the hostile hosts refused as bad names" 2 "$BADNAME"
h_grep "$name: the good MX is still checked" '^\[OK\] mx2\.example\.test\[127\.0\.0\.12\]:2625 220 '
bait_none "$name"

# --- more than 16 MX, more than 64 addresses -------------------------------------------
# many.insecure.test: MX 20 p20 ... MX 1 p1; NSD serves them in this order
# (the most preferred last), unbound rotates the RRset
for srv in NSD RES; do
	for plugin in BANNER PORT; do
		prog=${!plugin}
		name="${plugin,,} -M many.insecure.test (20 MX) via ${srv/RES/unbound}"
		h_run 5 "$prog" -M many.insecure.test -p $P --dns-server "${!srv}" -v
		h_plugin_form "$name"
		h_expect "$name: OK, the cap on MX hosts stated" 0 '16 (of|out of) 20'
		h_grep "$name: the most preferred MX (1, p1) is checked" '^\[OK\] p1\.insecure\.test\[127\.0\.0\.101\]:2625'
		h_nogrep "$name: the four least preferred (17-20) are not" '^\[[A-Z]+\] p(17|18|19|20)\.insecure\.test\['
	done
done
for plugin in BANNER PORT; do
	prog=${!plugin}
	name="${plugin,,} -M wide.example.test (5 MX hosts, 75 addresses)"
	h_run 5 "$prog" -M wide.example.test -p $P "${D[@]}"
	h_plugin_form "$name"
	h_expect "$name: OK, the cap on addresses stated" 0 '64 (of|out of) 75'
	n=$(grep -c '^\[OK\] w[1-5]\.example\.test\[127\.0\.1\.[0-9]*\]:2625' <<<"$H_OUT")
	t_report "$name: 64 addresses checked" "$([ "$n" = 64 ] || echo " $n long-output lines")" ""
done

# --- --fcrdns: hostile PTR targets -----------------------------------------------------
name="fcrdns 127.0.0.19 (PTR 127.0.0.19., an IP literal as a name; greets as 127.0.0.19)"
h_run 5 "$BANNER" -H 127.0.0.19 -p $FP --fcrdns "${D[@]}" -v
h_plugin_form "$name"
h_expect "$name: not confirmed, WARNING, says the PTR is an address, not a host name" 1 \
	'(IP|address) literal|is an( IP)? address|not an? (valid )?host ?name'
h_nogrep "$name: never 'is 127.0.0.19' / 'resolves back'" 'is 127\.0\.0\.19, as the greeting|resolves back'
name="fcrdns 127.0.0.18 (PTR ptr\\.dot.example.test, one label 'ptr.dot'; greets as ptr.dot.example.test)"
h_run 5 "$BANNER" -H 127.0.0.18 -p $FP --fcrdns "${D[@]}" -v
h_plugin_form "$name"
h_expect "$name: not confirmed, WARNING, the PTR name refused as a bad name" 1 "$BADNAME"
h_nogrep "$name: never 'resolves back' / 'as the greeting says'" 'resolves back|as the greeting says'
for aw in 20:"a newline" 30:"'|'"; do
	a=${aw%%:*} what=${aw#*:}
	name="fcrdns 127.0.0.$a (PTR name with $what)"
	h_run 5 "$BANNER" -H "127.0.0.$a" -p $FP --fcrdns "${D[@]}" -v
	h_plugin_form "$name"
	h_expect "$name: not confirmed, WARNING, the PTR name refused as a bad name" 1 "$BADNAME"
	h_nogrep "$name: never 'resolves back'" 'resolves back'
done

# --- the runner: mtaprobe --mx DOMAIN -q (a table) ------------------------------------
# h_table_form NAME DOMAIN [RC]: header first, then rows of DOMAIN only (a
# name cannot split a row), a blank line, "N checks in ..."; no '|' at all;
# the exit code RC (default 0): the worst state, as the terminal mode says
h_table_form() {
	local p dom=${2:0:12} l i=0 last want=${3:-0}
	p=$(h_common)
	[ "$H_RC" = "$want" ] || p+=" exit $H_RC, wanted $want;"
	last=$(grep -v '^$' <<<"$H_OUT" | tail -n 1)
	[[ $last =~ ^[0-9]+\ checks\ in\  ]] || p+=" the last line is not the 'N checks in' summary;"
	while IFS= read -r l; do
		i=$((i + 1))
		if [ $i = 1 ]; then
			[[ $l == TARGET* ]] || p+=" the first line is not the header;"
		elif [ -n "$l" ] && [ "$l" != "$last" ] && [[ $l != "$dom"* ]]; then
			p+=" line $i is not a row of $2;"
		fi
	done <<<"$H_OUT"
	[[ $H_OUT != *'|'* ]] || p+=" a '|' in the table;"
	t_report "$1: header, one line per row, no stray '|', no control byte (${H_MS}ms)" "$p" "$(cat -A <<<"$H_OUT")"
}
for hw in "${HOSTILE[@]}" hmixed:"mx2 and the six"; do
	h=${hw%%:*} what=${hw#*:}
	name="runner --mx $h.example.test -q (MX host with $what)"
	bait_mark
	h_run 5 "$RUNNER" --mx "$h.example.test" -p $P --checks port,banner "${D[@]}" -q
	h_table_form "$name" "$h.example.test" 2
	h_expect "$name: refused as a bad name (CRITICAL rows, exit 2)" 2 "CRITICAL .*$BADNAME"
	h_nogrep "$name: no OK row for the hostile host" '^[^ ]+ +(port|banner) +[^ ]+ +127\.0\.0\.1 +OK '
	bait_none "$name"
done
for srv in NSD RES; do
	name="runner --mx many.insecure.test -q via ${srv/RES/unbound}"
	h_run 5 "$RUNNER" --mx many.insecure.test -p $P --checks port --dns-server "${!srv}" -q
	h_table_form "$name" many.insecure.test
	h_grep "$name: the most preferred MX (p1) is checked" '^many\.insecure\.[^ ]* +port +p1\.insecure\.test +127\.0\.0\.101 +OK '
	h_nogrep "$name: the four least preferred (17-20) are not" ' p(17|18|19|20)\.insecure\.test '
	h_grep "$name: the cap on MX hosts stated" '16 (of|out of) 20'
done
name="runner --mx wide.example.test -q"
h_run 5 "$RUNNER" --mx wide.example.test -p $P --checks port "${D[@]}" -q
h_table_form "$name" wide.example.test
n=$(grep -Ec '^wide\.example\.[^ ]* +port +w[1-5]\.example\.test' <<<"$H_OUT")
t_report "$name: 64 address rows" "$([ "$n" = 64 ] || echo " $n rows")" ""
h_grep "$name: the cap on addresses stated" '64 (of|out of) 75'

# --- the runner: -c, JSON and Prometheus ----------------------------------------------
CONF=$T_TMP/hostile.yaml
{
	echo "defaults: {port: $P, timeout: 5, checks: [port, banner], dns_server: \"$RES\"}"
	echo "targets:"
	for hw in "${HOSTILE[@]}" hmixed:x; do echo "  - {name: ${hw%%:*}, mx: ${hw%%:*}.example.test}"; done
	echo "  - {name: many, mx: many.insecure.test, checks: [port], dns_server: \"$NSD\"}"
	echo "  - {name: wide, mx: wide.example.test, checks: [port]}"
} >"$CONF"
HT='["hpipe","hnl","hesc","hnul","hdot","hdel","hmixed"]'
BADNAME_JQ=${BADNAME//\\/\\\\}

bait_mark
h_run 10 "$RUNNER" -c "$CONF" -f json -q
p=$(h_common)
[ "$H_RC" = 0 ] || p+=" exit $H_RC;"
jq -e . "$H_FILE" >/dev/null 2>&1 || p+=" not JSON (jq);"
t_report "runner -c -f json: exit 0, parses, no raw control byte (${H_MS}ms)" "$p" "$(cat -A <<<"$H_OUT")"
JSON=$H_FILE
# jqt NAME FILTER: jq -e FILTER on the JSON is true
jqt() {
	local v
	if v=$(jq -e "$2" "$JSON" 2>&1); then t_report "$1" "" ""; else t_report "$1" " jq: $2 gave $v" ""; fi
}
jqt "runner json: no string holds a control byte, DEL or '|' (decoded)" \
	'[.. | strings | explode[] | select(. < 32 or . == 127 or . == 124)] | length == 0'
jqt "runner json: every hostile-host child CRITICAL, refused as a bad name" \
	"[.results[] | select(.target as \$t | $HT | index(\$t)) | .children[] | select(.host | test(\"^mx2\\\\.\") | not)
	  | select(.state != \"CRITICAL\" or ((.summary + \" \" + (.error.message // \"\")) | test(\"$BADNAME_JQ\"; \"i\") | not))] | length == 0"
jqt "runner json: no hostile-host child connected (no address)" \
	"[.results[] | select(.target as \$t | $HT | index(\$t)) | .children[] | select(.host | test(\"^mx2\\\\.\") | not)
	  | select(.address != \"\")] | length == 0"
jqt "runner json: hmixed's mx2 still checked (OK)" \
	'[.results[] | select(.target == "hmixed") | .children[] | select(.host == "mx2.example.test" and .state == "OK")] | length == 2'
jqt "runner json: many: p1 (MX 1) checked, 17-20 not" \
	'[.results[] | select(.target == "many") | .children[] | .host] | (index("p1.insecure.test") != null) and (map(select(test("^p(17|18|19|20)\\."))) | length == 0)'
jqt "runner json: many: the cap on MX hosts stated" \
	'[.results[] | select(.target == "many") | .summary | test("16 (of|out of) 20")] | all and length > 0'
jqt "runner json: wide: 64 children" '[.results[] | select(.target == "wide") | .children | length] == [64]'
jqt "runner json: wide: the cap on addresses stated" \
	'[.results[] | select(.target == "wide") | .summary | test("64 (of|out of) 75")] | all and length > 0'
bait_none "runner -c -f json"

bait_mark
h_run 10 "$RUNNER" -c "$CONF" -f prometheus -q
PROM=$H_FILE
p=$(h_common)
[ "$H_RC" = 0 ] || p+=" exit $H_RC;"
if command -v promtool >/dev/null 2>&1; then
	v=$(promtool check metrics <"$PROM" 2>&1) || p+=" promtool: $(head -c 300 <<<"$v");"
else
	p+=" (promtool missing: not checked);"
fi
t_report "runner -c -f prometheus: exit 0, promtool check metrics, no raw control byte (${H_MS}ms)" "$p" "$(cat -A <<<"$H_OUT")"
# an escaped LF (odd number of backslashes before n) or '|' in a label value
m=$(grep -v '^#' "$PROM" | grep -nE '(^|[^\\])(\\\\)*\\n|\|')
t_report "runner prometheus: no label value holds an escaped newline or a '|'" "$([ -z "$m" ] || echo " found")" "$(cat -A <<<"$m")"
m=$(grep -E '^mtaprobe_check_state\{target="(hpipe|hnl|hesc|hnul|hdot|hdel|hmixed)"' "$PROM" | grep -v 'host="mx2\.example\.test"' | grep -v ' 2$')
t_report "runner prometheus: every hostile-host series has state 2" "$([ -z "$m" ] || echo " not CRITICAL")" "$(cat -A <<<"$m")"
for h in hpipe hnl hesc hnul hdot hdel; do
	n=$(grep -cE "^mtaprobe_check_error_info\{target=\"$h\",.*kind=\"dns\"" "$PROM")
	t_report "runner prometheus: $h: error_info kind=\"dns\" for both checks" "$([ "$n" = 2 ] || echo " $n series")" ""
done
m=$(grep -E '^mtaprobe_check_state\{target="(hpipe|hnl|hesc|hnul|hdot|hdel|hmixed)".*address="127\.0\.0\.1"' "$PROM")
t_report "runner prometheus: no hostile-host series with the bait's address" "$([ -z "$m" ] || echo " found")" "$(cat -A <<<"$m")"
n=$(grep -c '^mtaprobe_check_state{target="many",.*host="p1\.insecure\.test"' "$PROM")
t_report "runner prometheus: many: p1 (MX 1) checked" "$([ "$n" = 1 ] || echo " $n series")" ""
n=$(grep -cE '^mtaprobe_check_state\{target="wide",' "$PROM")
t_report "runner prometheus: wide: 64 series" "$([ "$n" = 64 ] || echo " $n series")" ""
bait_none "runner -c -f prometheus"

t_assert "hostile dns: no smtpsim complained" bash -c '! grep -qiE "error|sanitizer" "$1"' _ "$T_TMP/smtpsim.err"
