#!/usr/bin/env bash
# tests/integration_icinga.sh [BUILD_DIR] - the Icinga 2 CheckCommands of
# conf/icinga2/mtaprobe.conf in a real Icinga 2 (2.13), run in the
# foreground as the calling user (root in CI) from private directories
# (nothing under /etc/icinga2, /var/lib/icinga2 or /var/log/icinga2 is read
# or written), against the scripted SMTP server (smtpsim) on loopback:
#
#  1. validation: `icinga2 daemon -C` accepts a config that includes <itl>,
#     <plugins> and the conf with PluginDir = BUILD_DIR; the object dump shows
#     every mtaprobe_* CheckCommand with its command under PluginDir, the
#     ipv4-or-ipv6 import, and arguments that are exactly the plugin's
#     options (--help) with ITL-style variable names and set_if for flags;
#     and broken configs are rejected (an undefined variable, a misspelt
#     attribute, a CheckCommand that does not exist).
#  2. a standalone icinga2 in the foreground runs one service or more per
#     CheckCommand with non-default variables; the PerfdataWriter output
#     gives state, output and perfdata, the notice log (-x notice) the exact
#     command lines, which must carry those variables (and not a set_if
#     false flag).
#  3. a two-node cluster (master + agent, API on 127.0.0.1, certificates by
#     `icinga2 pki new-ca/new-cert/sign-csr` into private directories): the
#     master schedules mtaprobe_banner with command_endpoint = the agent; the
#     master must record the agent's result (check_source = the agent) within
#     30 s.
#
# Finally: nothing under the system's icinga2 directories changed.
#
# Ports 28611-28615 (smtpsim), 28619 (closed: a DNS server that is not
# there), 28621 (master API), 28622 (agent API).  The -M test uses a domain
# no DNS query can be built for: nothing leaves loopback.  Prints TAP
# lines; without icinga2 it prints SKIP lines.  ~6 s (the RSA-4096 API keys
# of `icinga2 pki` are made in the background meanwhile).  The config
# templates are tests/icinga/*.in.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
# MTAPROBE_ICINGA_CONF=/abs/path tests another copy (an installed one)
CONF=${MTAPROBE_ICINGA_CONF:-$PWD/conf/icinga2/mtaprobe.conf}
CHECKS=(port banner starttls cert relay)

t_need icinga2 "icinga2 not installed" "icinga: validation (icinga2 daemon -C)" \
	"icinga: standalone icinga2 runs every CheckCommand" "icinga: two-node cluster, command_endpoint on the agent"
t_built icinga "${CHECKS[@]}"
BABS=$(cd "$B" && pwd)
# IPv6 loopback (for the _ipv6 / address6 service)?
NO_V6=
ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' || NO_V6=1

P_TLS=28611 P_OK=28612 P_RELAY=28613 P_OPEN=28614 P_V6=28615 P_NODNS=28619
P_MASTER=28621 P_AGENT=28622
# the -M domain: a 64-byte label, so no DNS query is ever sent
MXDOM=$(printf 'x%.0s' $(seq 64)).test
MASTER=mtaprobe-master.test AGENT=mtaprobe-agent.test

I_PIDS=() # icinga2 processes we started (umbrella processes, each with one worker)
BG_PIDS=()
# Stop what we started, by PID: SIGTERM, up to 10 s, then SIGKILL for the
# process and its children (the icinga2 worker).
cleanup() {
	t_stop 10 "${I_PIDS[@]}" "${BG_PIDS[@]}"
	t_stop 10 "${T_PIDS[@]}"
	t_rm_tmp
}
trap cleanup EXIT

# fill TEMPLATE > OUT with the @NAMES@ replaced
fill() {
	sed -e "s|@DIR@|$3|g" -e "s|@PLUGINDIR@|$BABS|g" -e "s|@MTAPROBE_CONF@|$CONF|g" \
		-e "s|@CA@|$PKI/root.crt|g" -e "s|@MASTER@|$MASTER|g" -e "s|@AGENT@|$AGENT|g" \
		-e "s|@MASTER_PORT@|$P_MASTER|g" -e "s|@AGENT_PORT@|$P_AGENT|g" \
		-e "s|@P_TLS@|$P_TLS|g" -e "s|@P_OK@|$P_OK|g" -e "s|@P_RELAY@|$P_RELAY|g" \
		-e "s|@P_OPEN@|$P_OPEN|g" -e "s|@P_V6@|$P_V6|g" -e "s|@P_NODNS@|$P_NODNS|g" -e "s|@MXDOM@|$MXDOM|g" \
		-e "${NO_V6:+/IPV6-BEGIN/,/IPV6-END/d}" "$1" >"$2"
}

# icinga_args DIR: IARGS = the options that put every icinga2 path inside
# DIR (config DIR/etc/icinga2.conf); run as `$ICINGA ... "${IARGS[@]}"`
# (a plain command, so that $! of a background run is icinga2's PID).
ICINGA=(env ICINGA2_USER="$(id -un)" ICINGA2_GROUP="$(id -gn)" icinga2)
icinga_args() {
	local d=$1
	mkdir -p "$d"/{etc,state,log,cache,spool,run,perfdata}
	IARGS=(-c "$d/etc/icinga2.conf"
		-DConfiguration.RunAsUser="$(id -un)" -DConfiguration.RunAsGroup="$(id -gn)"
		-DConfiguration.ConfigDir="$d/etc" -DConfiguration.DataDir="$d/state"
		-DConfiguration.LogDir="$d/log" -DConfiguration.CacheDir="$d/cache"
		-DConfiguration.SpoolDir="$d/spool" -DConfiguration.InitRunDir="$d/run"
		-DConfiguration.ZonesDir="$d/etc/zones.d"
		-DConfiguration.PidPath="$d/run/icinga2.pid" -DConfiguration.VarsPath="$d/cache/icinga2.vars"
		-DConfiguration.ObjectsPath="$d/cache/icinga2.debug"
		-DConfiguration.ModAttrPath="$d/state/modified-attributes.conf"
		-DConfiguration.StatePath="$d/state/icinga2.state")
}
# icinga2 pki with the private paths of DIR (the CA lives in DIR/state/ca)
ipki() {
	local d=$1
	shift
	mkdir -p "$d"/{state,log,cache,run}
	"${ICINGA[@]}" pki "$@" \
		-DConfiguration.RunAsUser="$(id -un)" -DConfiguration.RunAsGroup="$(id -gn)" \
		-DConfiguration.DataDir="$d/state" -DConfiguration.LogDir="$d/log" \
		-DConfiguration.CacheDir="$d/cache" -DConfiguration.InitRunDir="$d/run" \
		-DConfiguration.ConfigDir="$d/etc" -DConfiguration.SpoolDir="$d/spool"
}

# The objects of an `icinga2 daemon -C` dump (netstrings of JSON), one a line
objects() { perl -0777 -ne 'while (/\G(\d+):/gc) { print substr($_, pos, $1), "\n"; pos($_) += $1 + 1 }' "$1"; }

[ -f "$CONF" ] || { t_report "icinga: $CONF exists" " missing" ""; exit 0; }
t_dirs_mark /etc/icinga2 /var/lib/icinga2 /var/log/icinga2 /var/cache/icinga2 /var/spool/icinga2 /run/icinga2

t_pki "icinga: test PKI generated"

# The cluster's API certificates take a few seconds (RSA 4096): make them
# while the other parts run.  The CA is the master's (DIR/state/ca).
MD=$T_TMP/master AD=$T_TMP/agent
(
	set -e
	ipki "$MD" new-ca
	for n in "$MASTER:$MD" "$AGENT:$AD"; do
		cn=${n%%:*} d=${n#*:}
		mkdir -p "$d/state/certs"
		ipki "$d" new-cert --cn "$cn" --key "$d/state/certs/$cn.key" --csr "$d/state/certs/$cn.csr" &
	done
	wait
	for n in "$MASTER:$MD" "$AGENT:$AD"; do
		cn=${n%%:*} d=${n#*:}
		ipki "$MD" sign-csr --csr "$d/state/certs/$cn.csr" --cert "$d/state/certs/$cn.crt"
		cp "$MD/state/ca/ca.crt" "$d/state/certs/ca.crt"
	done
) >"$T_TMP/icinga-pki.log" 2>&1 &
PKI_PID=$!
BG_PIDS+=("$PKI_PID")

# validates NAME DIR: `icinga2 daemon -C` accepts DIR/etc/icinga2.conf
validates() {
	local out rc p=""
	icinga_args "$2"
	out=$("${ICINGA[@]}" daemon -C "${IARGS[@]}" 2>&1)
	rc=$?
	[ $rc = 0 ] || p+=" exit $rc;"
	grep -q 'Finished validating the configuration' <<<"$out" || p+=" no 'Finished validating';"
	t_report "$1" "$p" "$out"
}

# ---- 1. validation ---------------------------------------------------------------
V=$T_TMP/validate
mkdir -p "$V/etc"
fill tests/icinga/standalone.conf.in "$V/etc/icinga2.conf" "$V"
validates "icinga: icinga2 daemon -C accepts <itl>, <plugins>, ${CONF#"$PWD"/} and services using every CheckCommand" "$V"

objects "$V/cache/icinga2.debug" >"$V/objects.json" 2>/dev/null
# options of a plugin from its --help: SHORT LONG arg|flag
help_opts() {
	"$B/check_mta_$1" --help | awk 'match($0, /^ +-/) && RLENGTH >= 3 && RLENGTH <= 7 {
		n = split($0, w, / +/); i = 2; s = ""; l = ""; a = "flag"
		if (w[i] ~ /^-[A-Za-z0-9],$/) { s = substr(w[i], 1, 2); i++ }
		if (w[i] ~ /^--/) { l = w[i]; i++ }
		if (i <= n && w[i] ~ /^[A-Z0-9]/) a = "arg"
		print (s == "" ? "-" : s) "\t" l "\t" a }'
}
for c in "${CHECKS[@]}"; do
	cmd=mtaprobe_$c
	obj=$(jq -c --arg n "$cmd" 'select(.type == "CheckCommand" and .name == $n) | .properties' "$V/objects.json" 2>/dev/null)
	p=""
	if [ -z "$obj" ]; then
		t_report "icinga: $cmd defined" " no CheckCommand '$cmd' in the object dump" "$(jq -r 'select(.type == "CheckCommand") | .name' "$V/objects.json" | grep mtaprobe)"
		continue
	fi
	[ "$(jq -c .command <<<"$obj")" = "[\"$BABS/check_mta_$c\"]" ] ||
		p+=" command is $(jq -c .command <<<"$obj"), wanted [PluginDir + \"/check_mta_$c\"];"
	jq -e '.templates | index("ipv4-or-ipv6")' <<<"$obj" >/dev/null || p+=" does not import ipv4-or-ipv6;"
	# shellcheck disable=SC2016 # an Icinga macro, not a shell expansion
	[ "$(jq -r ".vars.${cmd}_address" <<<"$obj")" = '$check_address$' ] ||
		p+=" vars.${cmd}_address is $(jq -c ".vars.${cmd}_address" <<<"$obj"), wanted \$check_address\$;"
	declare -A kind=() long=() seen=()
	while IFS=$'\t' read -r s l a; do
		[ "$s" != - ] && { kind[$s]=$a; long[$s]=$l; }
		kind[$l]=$a
		long[$l]=$l
	done < <(help_opts "$c")
	# KEY MACRO set_if|value per argument (an argument's own "key" wins)
	while IFS=$'\t' read -r k m how; do
		if [ -z "${kind[$k]:-}" ]; then
			p+=" argument $k is not an option of check_mta_$c;"
			continue
		fi
		l=${long[$k]}
		[ -n "${seen[$l]:-}" ] && p+=" $l given twice ($k, ${seen[$l]});"
		seen[$l]=$k
		want=${l#--}
		want=${want//-/_}
		[ "$want" = hostname ] && want=address
		[ "$m" = "\$${cmd}_$want\$" ] || p+=" $k uses '$m', ITL style wants '\$${cmd}_$want\$';"
		if [ "${kind[$k]}" = flag ] && [ "$how" != set_if ]; then p+=" flag $k without set_if;"; fi
		if [ "${kind[$k]}" = arg ] && [ "$how" = set_if ]; then p+=" $k takes a value but uses set_if only;"; fi
	done < <(jq -r '.arguments // {} | to_entries[] |
		[ (if (.value | type) == "object" and .value.key then .value.key else .key end),
		  (if (.value | type) == "string" then .value
		   elif .value.set_if != null and .value.value == null then (.value.set_if | tostring)
		   else (.value.value // "" | tostring) end),
		  (if (.value | type) == "object" and .value.set_if != null and .value.value == null then "set_if" else "value" end)
		] | @tsv' <<<"$obj")
	for l in $(printf '%s\n' "${!long[@]}" | sort); do
		[[ $l == --* ]] || continue
		case $l in --help | --version) continue ;; esac
		[ -n "${seen[$l]:-}" ] || p+=" option $l is not reachable;"
	done
	unset kind long seen
	t_report "icinga: $cmd: command PluginDir/check_mta_$c, imports ipv4-or-ipv6, -H = \$check_address\$, arguments = the options of --help (ITL names, set_if for flags)" "$p" "$(jq . <<<"$obj" | head -40)"
done

# Broken configs must be rejected (else the validation above proves nothing).
neg() { # neg NAME ERROR_RE CONFIG-TEXT: the standalone config plus TEXT
	local d=$T_TMP/neg$T_N out rc p=""
	mkdir -p "$d/etc"
	fill tests/icinga/standalone.conf.in "$d/etc/icinga2.conf" "$d"
	printf '%s\n' "$3" >>"$d/etc/icinga2.conf"
	icinga_args "$d"
	out=$("${ICINGA[@]}" daemon -C "${IARGS[@]}" 2>&1)
	rc=$?
	[ $rc != 0 ] || p+=" exit 0, wanted a failure;"
	grep -Eq -- "$2" <<<"$out" || p+=" no /$2/;"
	t_report "icinga: daemon -C rejects $1" "$p" "$(grep -E 'critical|Error' <<<"$out")"
}
neg "an undefined variable (typo)" "undefined script variable 'warn_days'" \
	'object Service "typo-var" { host_name = "mail.example.test"; check_command = "mtaprobe_cert"; vars.mtaprobe_cert_warning = warn_days }'
neg "a misspelt attribute" "Attribute 'chek_command' does not exist" \
	'object Service "typo-attr" { host_name = "mail.example.test"; chek_command = "mtaprobe_cert" }'
neg "a CheckCommand that does not exist" "Object 'mtaprobe_bannr' of type 'CheckCommand' does not exist" \
	'object Service "typo-cmd" { host_name = "mail.example.test"; check_command = "mtaprobe_bannr" }'

# ---- 2. a standalone icinga2 runs the checks ---------------------------------------------
t_sim tls_starttls $P_TLS -C "$PKI" || exit 1
t_sim ok $P_OK || exit 1
t_sim relay_refuse $P_RELAY || exit 1
t_sim relay_open $P_OPEN || exit 1
if [ -z "$NO_V6" ]; then t_sim ok $P_V6 -l "[::1]:$P_V6" || exit 1; fi

S=$T_TMP/standalone
mkdir -p "$S/etc"
fill tests/icinga/standalone.conf.in "$S/etc/icinga2.conf" "$S"
SVCS=(port banner banner-expect-missing banner-ext-array banner-mx starttls cert cert-warning-days relay relay-open)
[ -n "$NO_V6" ] || SVCS+=(banner-ipv6)
t0=$(date +%s%N)
icinga_args "$S"
"${ICINGA[@]}" daemon -x notice "${IARGS[@]}" >"$S/run.out" 2>&1 &
SA_PID=$!
I_PIDS+=("$SA_PID")

# The PerfdataWriter renames its temp file to service-perfdata.<epoch
# seconds>; a rotation at shutdown in the same second replaces the file of
# the previous one.  So every poll copies each rotated file it has not seen
# (by name, mtime, size) to DIR/seen/.
collect() {
	local f
	mkdir -p "$1/seen"
	for f in "$1"/perfdata/service-perfdata.[0-9]*; do
		[ -f "$f" ] && cp -n "$f" "$1/seen/${f##*/}.$(stat -c %Y.%s "$f")"
	done
}
# result NAME DIR: the latest collected PerfdataWriter line of service NAME
# (a multi-line output continues on the next lines: fields 1-5 are on the first)
result() {
	cat "$2"/seen/* 2>/dev/null | awk -F'\t' -v s="$1" '$1 == "RESULT" && $2 == s && NF >= 5' | tail -n 1
}
all_results() {
	local s
	for s in "${SVCS[@]}"; do [ -n "$(result "$s" "$S")" ] || return 1; done
}
end=$((SECONDS + 15))
while [ $SECONDS -lt $end ]; do
	collect "$S"
	all_results && break
	kill -0 $SA_PID 2>/dev/null || break
	sleep 0.1
done
ms=$(t_ms_since "$t0")
p=""
all_results || p+=" not every service has a result after ${ms}ms;"
t_report "icinga: standalone icinga2 in the foreground: a result for each of ${#SVCS[@]} services (${ms}ms)" "$p" "$(tail -n 20 "$S/run.out")"
t_term_ends "icinga: icinga2 ends on SIGTERM" $SA_PID "$S/run.out" 'Icinga has shut down'

# o SHORT|- LONG [VALUE]: the ERE of an option (either spelling) and its
# value on a notice-log command line
o() {
	local k="($1|$2)" v
	[ "$1" = - ] && k=$2
	if [ $# = 3 ]; then
		v=$(sed 's/[][\.*^$+?(){}|/]/\\&/g' <<<"$3")
		echo "'$k' '$v'"
	else
		echo "'$k'"
	fi
}
# svc NAME STATE OUTPUT_RE PERF_RE CHECK [+RE|-RE]...: the service's last
# result has STATE, OUTPUT_RE in the output, PERF_RE in the perfdata; one
# command line of check_mta_CHECK in the notice log has every +RE, and that
# line has no -RE.
svc() {
	local name=$1 state=$2 ore=$3 pre=$4 chk=$5 r line f p="" cl
	shift 5
	line=$(result "$name" "$S")
	IFS=$'\t' read -r -a f <<<"$line"
	[ "${f[2]:-}" = "$state" ] || p+=" state ${f[2]:-none}, wanted $state;"
	grep -Eq -- "$ore" <<<"${f[4]:-}" || p+=" output lacks /$ore/;"
	grep -Eq -- "$pre" <<<"${f[5]:-}" || p+=" perfdata '${f[5]:-}' lacks /$pre/;"
	cl=$(grep -F "notice/Process: Running command '$BABS/check_mta_$chk'" "$S/run.out")
	for r in "$@"; do
		[ "${r:0:1}" = + ] && cl=$(grep -E -- "${r:1}" <<<"$cl")
	done
	if [ -z "$cl" ]; then
		p+=" no command line of check_mta_$chk with all of:"
		for r in "$@"; do [ "${r:0:1}" = + ] && p+=" ${r:1}"; done
		p+=";"
	else
		cl=$(head -n 1 <<<"$cl")
		for r in "$@"; do
			[ "${r:0:1}" = - ] && grep -Eq -- "${r:1}" <<<"$cl" && p+=" command line has /${r:1}/;"
		done
	fi
	t_report "icinga: service $name: $state, perfdata, and the variables on the command line" "$p" \
		"$line"$'\n'"${cl:-$(grep -F "Running command '$BABS/check_mta_$chk'" "$S/run.out" | head -n 3)}"
}
H="+$(o -H --hostname $L)"
svc port OK '^MTA PORT OK - ' 'connect=[0-9.]+s;2;5;' port "$H" "+$(o -p --port $P_TLS)" \
	"+$(o -w --warning 2)" "+$(o -c --critical 5)" "+$(o -t --timeout 5)" "+$(o -4 --ipv4)" \
	"-$(o -s --tls)" "-$(o -6 --ipv6)"
svc banner OK '^MTA BANNER OK - .*ESMTP smtpsim' 'banner=[0-9.]+s' banner "$H" "+$(o -p --port $P_OK)" \
	"+$(o -e --expect 'ESMTP smtpsim')" "+$(o - --require-ext PIPELINING,SIZE)" "+$(o -t --timeout 6)"
svc banner-expect-missing WARNING "^MTA BANNER WARNING - .*greeting does not contain 'Postfix'" 'banner=' banner \
	"$H" "+$(o -p --port $P_OK)" "+$(o -e --expect Postfix)"
svc banner-ext-array WARNING "^MTA BANNER WARNING - .*extension FOO not advertised" 'banner=' banner \
	"$H" "+$(o - --require-ext FOO)" "+$(o - --require-ext PIPELINING)"
svc banner-mx CRITICAL "^MTA BANNER CRITICAL - $MXDOM:25 DNS: '$MXDOM' is not a domain name" '' banner "+$(o -M --mx "$MXDOM")" \
	"+$(o - --dns-server 127.0.0.1:$P_NODNS)" "+$(o -t --timeout 3)" "-$(o -H --hostname)"
if [ -z "$NO_V6" ]; then
	svc banner-ipv6 OK '^MTA BANNER OK - \[::1\]:'"$P_V6"' 220 ' 'banner=[0-9.]+s' banner "+$(o -H --hostname ::1)" \
		"+$(o -p --port $P_V6)" "+$(o -6 --ipv6)" "-$(o -4 --ipv4)"
else
	t_skip "icinga: service banner-ipv6" "no IPv6 loopback (::1)"
fi
svc starttls OK '^MTA STARTTLS OK - .*TLSv1\.3' 'handshake=[0-9.]+s' starttls "$H" "+$(o -p --port $P_TLS)" \
	"+$(o - --min-tls 1.3)" "+$(o - --ca-file "$PKI/root.crt")"
svc cert OK '^MTA CERT OK - .* expires in 36[45] days.*verified' 'days=36[45];21:;7:' cert "$H" \
	"+$(o -p --port $P_TLS)" "+$(o -w --warning 21)" "+$(o -c --critical 7)" \
	"+$(o - --ca-file "$PKI/root.crt")" "+$(o - --sni mail.example.test)" "-$(o - --no-verify)"
svc cert-warning-days WARNING '^MTA CERT WARNING - .* expires in 36[45] days' 'days=36[45];400:;21:' cert "$H" \
	"+$(o -p --port $P_TLS)" "+$(o -w --warning 400)" "+$(o -c --critical 21)"
svc relay OK '^MTA RELAY OK - .* 12 of 12 relay tests refused' 'tests=12' relay "$H" \
	"+$(o -p --port $P_RELAY)" "+$(o - --thorough)" "-$(o -S --starttls)"
svc relay-open CRITICAL '^MTA RELAY CRITICAL - .*OPEN RELAY' 'accepted=3' relay "$H" "+$(o -p --port $P_OPEN)" \
	"-$(o - --thorough)"
bad=$(grep -E 'terminated with exit code' "$S/run.out" | grep -Ev 'exit code [0-3]$')
t_report "icinga: every plugin run ended with exit code 0..3 (no sanitizer exit 99, no signal)" \
	"$([ -n "$bad" ] && echo " $(wc -l <<<"$bad") runs did not")" "$bad"

# ---- 3. a two-node cluster: master + agent, command_endpoint --------------------
wait $PKI_PID
rc=$?
p=""
[ $rc = 0 ] || p+=" icinga2 pki failed (exit $rc);"
for n in "$MASTER:$MD" "$AGENT:$AD"; do
	cn=${n%%:*} d=${n#*:}/state/certs
	openssl verify -CAfile "$d/ca.crt" "$d/$cn.crt" >/dev/null 2>&1 || p+=" $cn.crt does not verify against the CA;"
	[ "$(openssl x509 -in "$d/$cn.crt" -noout -subject -nameopt multiline 2>/dev/null | sed -n 's/^ *commonName *= *//p')" = "$cn" ] ||
		p+=" $cn.crt has the wrong CN;"
	[ -s "$d/$cn.key" ] || p+=" no $cn.key;"
done
t_report "icinga: cluster: API certificates by icinga2 pki new-ca, new-cert, sign-csr in private directories" "$p" "$(cat "$T_TMP/icinga-pki.log")"

for n in "master:$MD" "agent:$AD"; do
	role=${n%%:*} d=${n#*:}
	mkdir -p "$d/etc"
	fill tests/icinga/zones.conf.in "$d/etc/zones.conf" "$d"
	fill "tests/icinga/$role.conf.in" "$d/etc/icinga2.conf" "$d"
	validates "icinga: cluster: the $role's config validates" "$d"
done

t0=$(date +%s%N)
icinga_args "$AD"
"${ICINGA[@]}" daemon -x notice "${IARGS[@]}" >"$AD/run.out" 2>&1 &
AG_PID=$!
I_PIDS+=("$AG_PID")
t_wait_port $L $P_AGENT || echo "# the agent does not listen on $P_AGENT" >&2
icinga_args "$MD"
"${ICINGA[@]}" daemon -x notice "${IARGS[@]}" >"$MD/run.out" 2>&1 &
MA_PID=$!
I_PIDS+=("$MA_PID")
cluster_result() { result banner-via-agent "$MD" | awk -F'\t' -v a="$AGENT" '$4 == a'; }
end=$((SECONDS + 30))
while [ $SECONDS -lt $end ]; do
	collect "$MD"
	[ -n "$(cluster_result)" ] && break
	if ! kill -0 "$MA_PID" 2>/dev/null || ! kill -0 "$AG_PID" 2>/dev/null; then break; fi
	sleep 0.1
done
ms=$(t_ms_since "$t0")
line=$(cluster_result)
IFS=$'\t' read -r -a f <<<"$line"
p=""
[ -n "$line" ] || p+=" no result with check_source $AGENT after ${ms}ms (last: '$(result banner-via-agent "$MD")');"
[ "${f[2]:-}" = OK ] || p+=" state ${f[2]:-none}, wanted OK;"
grep -Eq '^MTA BANNER OK - .*ESMTP smtpsim' <<<"${f[4]:-}" || p+=" output lacks the plugin's line;"
grep -Eq 'banner=[0-9.]+s' <<<"${f[5]:-}" || p+=" no perfdata;"
t_report "icinga: cluster: the master records the agent's mtaprobe_banner result (check_source $AGENT, ${ms}ms)" "$p" \
	"$line"$'\n'"$(grep -E 'ApiListener|JsonRpc|critical' "$MD/run.out" | tail -n 8)"
cl=$(grep -F "notice/Process: Running command '$BABS/check_mta_banner'" "$AD/run.out" | head -n 1)
p=""
[ -n "$cl" ] || p+=" the agent ran no check_mta_banner;"
for r in "$(o -H --hostname $L)" "$(o -p --port $P_OK)" "$(o -e --expect 'ESMTP smtpsim')" "$(o -t --timeout 5)"; do
	[ -n "$cl" ] && ! grep -Eq -- "$r" <<<"$cl" && p+=" command line lacks /$r/;"
done
grep -q "Running command" "$MD/run.out" && p+=" the master ran a plugin itself;"
t_report "icinga: cluster: the agent ran check_mta_banner from its PluginDir with the master's variables" "$p" \
	"${cl:-$(tail -n 10 "$AD/run.out")}"
t_stop 10 $MA_PID $AG_PID

t_dirs_unwritten icinga
