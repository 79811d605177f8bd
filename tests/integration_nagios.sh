#!/usr/bin/env bash
# tests/integration_nagios.sh [BUILD_DIR] - the Nagios command definitions of
# conf/nagios/mtaprobe.cfg in a real Nagios 4 (4.4), run as the calling
# user (root in CI) from a private directory (nothing under /etc/nagios4 or
# /var/lib/nagios4), with
# $USER1$ = BUILD_DIR, against the scripted SMTP server (smtpsim) on
# loopback:
#
#  1. `nagios4 -v` of a private main config (cfg_file = the conf and one
#     service per command in tests/nagios/objects.cfg.in): rc 0, "Total
#     Warnings: 0", "Total Errors: 0", every command of the conf checked;
#     and a service naming a command that does not exist (or a misspelt
#     directive) is rejected.
#  2. nagios4 in the foreground for a few seconds: status.dat (copied while
#     Nagios runs: it is removed at shutdown) must hold, for every service,
#     the expected state, plugin output and perfdata; the macro debug log
#     (debug_level=2048) must show the exact command line each command
#     expands to (-H $HOSTADDRESS$, --sni $HOSTNAME$, -M $ARG1$ $ARG2$).
#
# Ports 28631-28635 (smtpsim), 28639 (closed: a DNS server that is not
# there).  The _mx commands get a domain no DNS query can be built for, so
# they fail at once without leaving loopback.  Finally: nothing under the
# system's nagios4 directories changed.  Prints TAP
# lines; without nagios4 it prints SKIP lines.  ~5 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build/asan "$@"
# MTAPROBE_NAGIOS_CFG=/abs/path tests another copy (an installed one)
CFG=${MTAPROBE_NAGIOS_CFG:-$PWD/conf/nagios/mtaprobe.cfg}
CHECKS=(port banner starttls cert relay)

t_need nagios4 "nagios4 not installed" "nagios: nagios4 -v accepts the commands" \
	"nagios: nagios4 -v rejects a broken service" "nagios: nagios4 runs a service per command"
t_built nagios "${CHECKS[@]}"
[ -f "$CFG" ] || { t_report "nagios: $CFG exists" " missing" ""; exit 0; }
t_dirs_mark /etc/nagios4 /var/lib/nagios4 /var/log/nagios4 /var/cache/nagios4 /run/nagios4
BABS=$(cd "$B" && pwd)

P_TLS=28631 P_OK=28632 P_RELAY=28633 P_OPEN=28634 P_SMTPS=28635 P_NODNS=28639
# the -M domain: a 64-byte label, so no DNS query is ever sent (the _mx
# commands must not leave loopback even if --dns-server got lost)
MXDOM=$(printf 'x%.0s' $(seq 64)).test

N_PIDS=()
# Stop what we started, by PID: SIGTERM, up to 10 s, then SIGKILL (with the
# process's children: Nagios's workers).
cleanup() {
	t_stop 10 "${N_PIDS[@]}"
	t_stop 10 "${T_PIDS[@]}"
	t_rm_tmp
}
trap cleanup EXIT

t_pki "nagios: test PKI generated"
CA_FILE=$PKI/root.crt

# setup DIR [EXTRA-OBJECTS-TEXT]: DIR/nagios.cfg, resource.cfg, objects.cfg
setup() {
	local d=$1 f
	mkdir -p "$d/var" "$d/spool/checkresults"
	for f in nagios resource objects; do
		sed -e "s|@DIR@|$d|g" -e "s|@PLUGINDIR@|$BABS|g" -e "s|@MTAPROBE_CFG@|$CFG|g" \
			-e "s|@OBJECTS@|$d/objects.cfg|g" -e "s|@CA@|$CA_FILE|g" -e "s|@P_TLS@|$P_TLS|g" \
			-e "s|@P_OK@|$P_OK|g" -e "s|@P_RELAY@|$P_RELAY|g" -e "s|@P_OPEN@|$P_OPEN|g" \
			-e "s|@P_SMTPS@|$P_SMTPS|g" -e "s|@P_NODNS@|$P_NODNS|g" -e "s|@MXDOM@|$MXDOM|g" \
			-e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
			"tests/nagios/$f.cfg.in" >"$d/$f.cfg"
	done
	[ $# -lt 2 ] || printf '%s\n' "$2" >>"$d/objects.cfg"
}

# ---- 1. nagios4 -v -----------------------------------------------------------------
N=$T_TMP/nagios
setup "$N"
out=$(nagios4 -v "$N/nagios.cfg" 2>&1)
rc=$?
ncmd=$(grep -c '^[[:space:]]*command_name' "$CFG")
nsvc=$(grep -c '^[[:space:]]*service_description' tests/nagios/objects.cfg.in)
p=""
[ $rc = 0 ] || p+=" exit $rc;"
grep -Eq '^Total Warnings: +0$' <<<"$out" || p+=" warnings;"
grep -Eq '^Total Errors: +0$' <<<"$out" || p+=" errors;"
# the conf's commands + notify-none and host-static-ok of objects.cfg.in
grep -Eq "Checked $((ncmd + 2)) commands\." <<<"$out" || p+=" not 'Checked $((ncmd + 2)) commands';"
grep -Eq "Checked $nsvc services\." <<<"$out" || p+=" not 'Checked $nsvc services';"
t_report "nagios: nagios4 -v: ${CFG#"$PWD"/} ($ncmd commands) and $nsvc services: 0 warnings, 0 errors" \
	"$p" "$(grep -E 'Warning|Error|Checked' <<<"$out")"

# every command of the conf is used by a service (so the run below covers them all)
p=""
for c in $(awk '$1 == "command_name" { print $2 }' "$CFG"); do
	grep -Eq "check_command[[:space:]]+$c(!|$)" tests/nagios/objects.cfg.in || p+=" $c unused;"
done
t_report "nagios: every command of the conf has a service in tests/nagios/objects.cfg.in" "$p" ""

neg() { # neg NAME ERROR_RE OBJECT-TEXT
	local d=$T_TMP/neg$T_N out rc p=""
	setup "$d" "$3"
	out=$(nagios4 -v "$d/nagios.cfg" 2>&1)
	rc=$?
	[ $rc != 0 ] || p+=" exit 0, wanted a failure;"
	grep -Eq -- "$2" <<<"$out" || p+=" no /$2/;"
	grep -Eq '^Total Errors: +0$' <<<"$out" && p+=" 0 errors;"
	t_report "nagios: nagios4 -v rejects $1" "$p" "$(grep -E 'Error' <<<"$out")"
}
neg "a service naming a command that does not exist" \
	"Service check command 'check_mta_certx(!-w 21)?' specified in service 'typo-cmd' .* not defined" \
	$'define service {\n\tuse\tmtaprobe-service\n\tservice_description\ttypo-cmd\n\tcheck_command\tcheck_mta_certx!-w 21\n}'
neg "a misspelt directive" "Invalid service object directive 'check_comand'" \
	$'define service {\n\tuse\tmtaprobe-service\n\tservice_description\ttypo-dir\n\tcheck_comand\tcheck_mta_cert!-w 21\n}'

# ---- 2. a real run -----------------------------------------------------------------
t_sim tls_starttls $P_TLS -C "$PKI" || exit 1
t_sim ok $P_OK || exit 1
t_sim relay_refuse $P_RELAY || exit 1
t_sim relay_open $P_OPEN || exit 1
t_sim tls_implicit $P_SMTPS -C "$PKI" || exit 1

t0=$(date +%s%N)
nagios4 "$N/nagios.cfg" >"$N/run.out" 2>&1 &
NAG=$!
N_PIDS+=("$NAG")
# status.dat is rewritten every second and removed at shutdown: keep the
# last copy that parses (ends with a closing brace) once every service is
# checked
checked() { grep -c 'has_been_checked=1' "$N/status.snap" 2>/dev/null; }
end=$((SECONDS + 20))
while [ $SECONDS -lt $end ]; do
	if cp "$N/var/status.dat" "$N/status.tmp" 2>/dev/null && [ "$(tail -c 3 "$N/status.tmp" | tr -d '\n\t ')" = "}" ]; then
		mv "$N/status.tmp" "$N/status.snap"
		# the host and every service
		[ "$(checked)" -ge $((nsvc + 1)) ] && break
	fi
	kill -0 $NAG 2>/dev/null || break
	sleep 0.2
done
ms=$(t_ms_since "$t0")
p=""
[ "$(checked)" -ge $((nsvc + 1)) ] || p+=" $(checked) of $((nsvc + 1)) hosts and services checked after ${ms}ms;"
t_report "nagios: nagios4 in the foreground: status.dat has a result for the host and all $nsvc services (${ms}ms)" \
	"$p" "$(tail -n 20 "$N/run.out"; tail -n 5 "$N/var/nagios.log")"
t_term_ends "nagios: nagios4 ends on SIGTERM" $NAG "$N/var/nagios.log" 'Successfully shutdown'

# status NAME FIELD: FIELD of service NAME in the status.dat copy
status() {
	awk -v s="$1" -v f="$2" '
		/^servicestatus \{/ { in_s = 1; name = ""; val = ""; next }
		in_s && /^\t\}/ { if (name == s) print val; in_s = 0; next }
		in_s { k = substr($0, 2, index($0, "=") - 2); v = substr($0, index($0, "=") + 1)
			if (k == "service_description") name = v; if (k == f) val = v }' "$N/status.snap"
}
# svc NAME STATE OUTPUT_RE PERF_RE COMMAND-LINE: the state, output and perfdata
# of service NAME, and that the exact COMMAND-LINE was run (macro debug log)
svc() {
	local name=$1 want=$2 ore=$3 pre=$4 cl=$5 p="" st out perf
	local -a states=(OK WARNING CRITICAL UNKNOWN)
	st=$(status "$name" current_state)
	out=$(status "$name" plugin_output)
	perf=$(status "$name" performance_data)
	[ "$(status "$name" has_been_checked)" = 1 ] || p+=" not checked;"
	[ "${states[${st:-9}]:-none}" = "$want" ] || p+=" state ${states[${st:-9}]:-$st}, wanted $want;"
	grep -Eq -- "$ore" <<<"$out" || p+=" output lacks /$ore/;"
	grep -Eq -- "$pre" <<<"$perf" || p+=" perfdata '$perf' lacks /$pre/;"
	grep -qF "Done.  Final output: '$BABS/$cl'" "$N/var/nagios.debug" || p+=" no command line '\$USER1\$/$cl';"
	t_report "nagios: service $name: $want, output, perfdata, command line" "$p" \
		"$out | $perf"$'\n'"$(grep -F "Final output: '$BABS/${cl%% *} " "$N/var/nagios.debug" | sort -u | head -n 4)"
}
H="-H $L"
DNS="--dns-server $L:$P_NODNS -t 3"
NODNS="DNS: '$MXDOM' is not a domain name"
svc port OK '^MTA PORT OK - 127\.0\.0\.1:'$P_TLS' connected' 'connect=[0-9.]+s;2;5;' \
	"check_mta_port $H -p $P_TLS -w 2 -c 5 -t 5"
svc port-sni OK '^MTA PORT OK - .*TLSv1\.3 .*handshake' 'handshake=[0-9.]+s' \
	"check_mta_port $H --sni mail.example.test -p $P_SMTPS --tls --ca-file $CA_FILE"
svc port-mx CRITICAL "^MTA PORT CRITICAL - $MXDOM:25 $NODNS" '' "check_mta_port -M $MXDOM $DNS"
svc banner OK '^MTA BANNER OK - .*220 mail\.example\.test ESMTP smtpsim' 'banner=[0-9.]+s;' \
	"check_mta_banner $H -p $P_OK -e 'ESMTP smtpsim' --require-ext PIPELINING,SIZE"
svc banner-sni WARNING "^MTA BANNER WARNING - .*greeting does not contain 'Postfix'" 'banner=' \
	"check_mta_banner $H --sni mail.example.test -p $P_OK -e Postfix"
svc banner-mx CRITICAL "^MTA BANNER CRITICAL - $MXDOM:25 $NODNS" '' "check_mta_banner -M $MXDOM $DNS"
svc starttls OK '^MTA STARTTLS OK - .*STARTTLS: TLSv1\.3' 'handshake=[0-9.]+s' \
	"check_mta_starttls $H -p $P_TLS --min-tls 1.3 --ca-file $CA_FILE"
svc starttls-sni OK '^MTA STARTTLS OK - .*STARTTLS: TLSv1\.3' 'handshake=[0-9.]+s' \
	"check_mta_starttls $H --sni mail.example.test -p $P_TLS --ca-file $CA_FILE"
svc starttls-mx CRITICAL "^MTA STARTTLS CRITICAL - $MXDOM:25 $NODNS" '' "check_mta_starttls -M $MXDOM $DNS"
svc cert WARNING '^MTA CERT WARNING - .*expires in 36[45] days.*verified' 'days=36[45];400:;21:' \
	"check_mta_cert $H -p $P_TLS -w 400 -c 21 --ca-file $CA_FILE"
svc cert-sni OK '^MTA CERT OK - .*expires in 36[45] days.*CN=mail\.example\.test.*verified' 'days=36[45];21:;7:' \
	"check_mta_cert $H --sni mail.example.test -p $P_TLS -w 21 -c 7 --ca-file $CA_FILE"
svc cert-mx CRITICAL "^MTA CERT CRITICAL - $MXDOM:25 $NODNS" '' "check_mta_cert -M $MXDOM $DNS"
svc relay OK '^MTA RELAY OK - .* 12 of 12 relay tests refused' 'refused=12;' "check_mta_relay $H -p $P_RELAY --thorough"
svc relay-sni CRITICAL '^MTA RELAY CRITICAL - .*OPEN RELAY' 'accepted=3;' \
	"check_mta_relay $H --sni mail.example.test -p $P_OPEN"
svc relay-mx UNKNOWN "^MTA RELAY UNKNOWN - $MXDOM:25 $NODNS" '' "check_mta_relay -M $MXDOM $DNS"
svc sts CRITICAL "^MTA STS CRITICAL - $MXDOM DNS: '_mta-sts\.$MXDOM' is not a domain name" '' \
	"check_mta_sts -M $MXDOM $DNS"
# Nagios reports an exit code above 3 as "(Return code of N is out of bounds)"
bad=$(grep -h 'Return code of' "$N/status.snap" "$N/var/nagios.log")
t_report "nagios: no plugin run ended outside 0..3 (sanitizer exit 99, signals)" \
	"$([ -n "$bad" ] && echo " $(wc -l <<<"$bad") did")" "$bad"

t_dirs_unwritten nagios
