#!/usr/bin/env bash
# tests/bench.sh BUILD_DIR
#
# Compares our plugins with the monitoring-plugins peers against a private
# strict Postfix (tests/postfix.sh, 127.0.0.1:$BENCH_PORT, default 10025)
# that it starts and stops.  For every row of ROWS below it prints:
#   rc            exit code of one plain run (a check that fails measures a
#                 different code path: look at the legend under the table)
#   instructions  total Ir from valgrind --tool=callgrind (nothing excluded:
#                 dynamic loader, libc, children with --trace-children)
#   vs BASELINE   instructions / instructions of the baseline row
#   wall ms       median of $BENCH_RUNS (11) runs, output to /dev/null
#   peak RSS KiB  /usr/bin/time -f %M of one run
# A peer row whose binary is missing is skipped with a note; a missing
# binary of ours (under BUILD_DIR) is an error.
#
# Runs 'tests/deps.sh bench' first.  Environment: BENCH_PORT, BENCH_RUNS.
set -euo pipefail

prog=tests/bench.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { echo "usage: $prog BUILD_DIR" >&2; exit 2; }
die() { echo "$prog: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || usage
[[ -d $1 ]] || die "no such directory: $1"
B=$(cd "$1" && pwd)                 # our binaries
# shellcheck disable=SC2034   # used by the rows, through eval
P=/usr/lib/nagios/plugins           # monitoring-plugins peers
PORT=${BENCH_PORT:-10025}
SPORT=$((PORT + 1))
tmp=$(mktemp -d)
chmod 755 "$tmp"                    # the postfix user must reach $pfdir
PKI=$tmp/pki
RUNS=${BENCH_RUNS:-11}
[[ $PORT =~ ^[0-9]+$ ]] || die "bad BENCH_PORT: $PORT"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_RUNS: $RUNS"

# ---- the rows ------------------------------------------------------------------
# "label|command", one per line.  The command is split like a shell command
# line (quotes work) after expanding $B (BUILD_DIR), $P (the
# monitoring-plugins directory) and $PORT.  No pipes or redirections: the
# first word is the program that is measured.
# shellcheck disable=SC2016   # expanded later, per row
# $PKI is the test PKI (tests/mkcerts.sh); the Postfix instance offers
# STARTTLS on $PORT and implicit TLS (SMTPS) on $SPORT.  Our TLS rows verify
# chain and host name (the certificate has IP:127.0.0.1); check_smtp -S -D
# verifies nothing.
ROWS='
check_mta_port|$B/check_mta_port -H 127.0.0.1 -p $PORT
check_mta_banner|$B/check_mta_banner -H 127.0.0.1 -p $PORT
check_smtp|$P/check_smtp -H 127.0.0.1 -p $PORT
check_tcp|$P/check_tcp -H 127.0.0.1 -p $PORT
check_mta_starttls|$B/check_mta_starttls -H 127.0.0.1 -p $PORT --ca-file $PKI/root.crt
check_mta_cert|$B/check_mta_cert -H 127.0.0.1 -p $PORT --ca-file $PKI/root.crt
check_mta_cert -s|$B/check_mta_cert -H 127.0.0.1 -p $SPORT -s --ca-file $PKI/root.crt
check_mta_port -s|$B/check_mta_port -H 127.0.0.1 -p $SPORT -s
check_smtp -S -D|$P/check_smtp -H 127.0.0.1 -p $PORT -S -D 30,14
check_ssl_cert|$P/check_ssl_cert -H 127.0.0.1 -p $PORT -P smtp -r $PKI/root.crt --ignore-sct -w 30 -c 14
openssl s_client|/usr/bin/openssl s_client -starttls smtp -connect 127.0.0.1:$PORT -CAfile $PKI/root.crt -verify_ip 127.0.0.1 -brief
'
# The "vs" column divides by check_smtp for plain rows, by check_smtp -S -D
# for rows after it in the list that do TLS.
BASELINE=check_smtp
BASELINE_TLS="check_smtp -S -D"
TLS_ROWS="|check_mta_starttls|check_mta_cert|check_mta_cert -s|check_mta_port -s|check_ssl_cert|openssl s_client|"

# ---- clock -----------------------------------------------------------------------
# $EPOCHREALTIME (bash >= 5) costs no fork; 'date +%s%N' costs ~1 ms per call,
# which would be half of what a check against a local Postfix takes.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    clock="bash \$EPOCHREALTIME"
    start_us() { T0=${EPOCHREALTIME/[.,]/}; }
    elapsed_us() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t - 10#$T0)); }
else
    clock="date +%s%N"
    start_us() { T0=$(date +%s%N); }
    elapsed_us() { local t; t=$(date +%s%N); echo $(((t - T0) / 1000)); }
fi

"$here/deps.sh" bench

# ---- parse the rows, check the binaries before starting anything ----------------
labels=() cmds=() notes=()
while IFS= read -r line; do
    [[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
    [[ $line == *'|'* ]] || die "bad row (want label|command): $line"
    labels+=("${line%%|*}")
    cmds+=("${line#*|}")
done <<<"$ROWS"

argv=()
row_argv() {   # row_argv INDEX -> argv=(...)
    eval "argv=(${cmds[$1]})"
}

skip=()
for i in "${!labels[@]}"; do
    row_argv "$i"
    skip[i]=
    if [[ ! -x ${argv[0]} ]]; then
        if [[ ${argv[0]} == "$B"/* ]]; then
            die "${argv[0]} missing: build first (make)"
        fi
        skip[i]="skipped: ${argv[0]} not installed"
    fi
done

have_valgrind=1
command -v valgrind >/dev/null 2>&1 || have_valgrind=
have_time=1
[[ -x /usr/bin/time ]] || have_time=

# ---- the server ------------------------------------------------------------------
pfdir=$tmp/postfix
cleanup() {
    local rc=$?
    if [[ -f $pfdir/main.cf ]]; then
        "$here/postfix.sh" stop "$pfdir" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$pfdir"
"$here/mkcerts.sh" "$PKI" >/dev/null
"$here/postfix.sh" start "$pfdir" "$PORT" strict "$PKI"

# ---- measure ---------------------------------------------------------------------
ir=() rcs=() walls=() rss=() firsts=()
for i in "${!labels[@]}"; do
    [[ -z ${skip[i]} ]] || continue
    row_argv "$i"

    # one plain run: exit code, first output line, and a warm-up
    rc=0
    out=$("${argv[@]}" 2>&1 </dev/null) || rc=$?
    rcs[i]=$rc
    firsts[i]=${out%%$'\n'*}

    # instructions
    ir[i]=n/a
    if [[ -n $have_valgrind ]]; then
        cg=$tmp/cg.$i
        mkdir "$cg"
        valgrind --tool=callgrind --trace-children=yes \
            --callgrind-out-file="$cg/callgrind.out.%p" \
            "${argv[@]}" </dev/null >/dev/null 2>"$cg/valgrind.log" || true
        total=0 files=0
        for f in "$cg"/callgrind.out.*; do
            [[ -f $f ]] || continue
            n=$(awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 }
                     END { print (t != "" ? t : (s != "" ? s : 0)) }' "$f")
            total=$((total + n))
            files=$((files + 1))
        done
        if ((files > 0)); then
            ir[i]=$total
        else
            notes+=("${labels[i]}: callgrind wrote nothing, see below")
            notes+=("$(tail -n 3 "$cg/valgrind.log")")
        fi
    fi

    # wall clock: median of $RUNS
    times=()
    for ((r = 0; r < RUNS; r++)); do
        start_us
        "${argv[@]}" </dev/null >/dev/null 2>&1 || true
        times+=("$(elapsed_us)")
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$((RUNS / 2 + 1))p")
    walls[i]=$(printf '%d.%02d' $((median / 1000)) $((median % 1000 / 10)))

    # peak RSS
    rss[i]=n/a
    if [[ -n $have_time ]]; then
        /usr/bin/time -f %M -o "$tmp/rss" "${argv[@]}" </dev/null >/dev/null 2>&1 || true
        v=$(tail -n 1 "$tmp/rss" 2>/dev/null || true)
        [[ $v =~ ^[0-9]+$ ]] && rss[i]=$v
    fi
done

# ---- report ----------------------------------------------------------------------
base= base_tls=
for i in "${!labels[@]}"; do
    if [[ -z ${skip[i]} && ${ir[i]:-n/a} =~ ^[0-9]+$ ]]; then
        [[ ${labels[i]} == "$BASELINE" ]] && base=${ir[i]}
        [[ ${labels[i]} == "$BASELINE_TLS" ]] && base_tls=${ir[i]}
    fi
done

ratio() {   # ratio N LABEL -> N/base with two decimals
    local b=$base
    [[ $TLS_ROWS == *"|$2|"* || $2 == "$BASELINE_TLS" ]] && b=$base_tls
    if [[ -n $b && $1 =~ ^[0-9]+$ ]] && ((b > 0)); then
        local x=$(($1 * 100 / b))
        printf '%d.%02dx' $((x / 100)) $((x % 100))
    else
        printf -- '-'
    fi
}

w=7
for l in "${labels[@]}"; do ((${#l} > w)) && w=${#l}; done
fmt="%-${w}s  %3s  %14s  %13s  %9s  %12s\n"
echo
echo "mtaprobe bench: against Postfix (strict) on 127.0.0.1:$PORT, $(nproc 2>/dev/null || echo '?') CPU, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
# shellcheck disable=SC2059   # fmt is ours
printf "$fmt" command rc instructions "vs check_smtp*" "wall ms" "peak RSS KiB"
# shellcheck disable=SC2059
printf "$fmt" "$(printf '%*s' "$w" '' | tr ' ' -)" --- -------------- ------------- --------- ------------
for i in "${!labels[@]}"; do
    if [[ -n ${skip[i]} ]]; then
        # shellcheck disable=SC2059
        printf "$fmt" "${labels[i]}" - - - - -
        continue
    fi
    # shellcheck disable=SC2059
    printf "$fmt" "${labels[i]}" "${rcs[i]}" "${ir[i]}" "$(ratio "${ir[i]}" "${labels[i]}")" "${walls[i]}" "${rss[i]}"
done
echo
echo "*: TLS rows are divided by check_smtp -S -D, plain rows by check_smtp"
echo "instructions: valgrind --tool=callgrind --trace-children=yes, total Ir$([[ -n $have_valgrind ]] || echo ' (valgrind not installed)')"
echo "wall ms: median of $RUNS runs ($clock); peak RSS: $([[ -n $have_time ]] && echo '/usr/bin/time -f %M' || echo 'n/a, /usr/bin/time not installed')"
echo
for i in "${!labels[@]}"; do
    if [[ -n ${skip[i]} ]]; then
        echo "${labels[i]}: ${skip[i]}"
    else
        row_argv "$i"
        echo "${labels[i]}: ${argv[*]}"
        echo "    rc=${rcs[i]}: ${firsts[i]}"
    fi
done
for n in "${notes[@]}"; do
    echo "note: $n"
done
echo
