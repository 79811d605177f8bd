#!/usr/bin/env bash
# tests/dns.sh start DIR PKIDIR
# tests/dns.sh stop DIR
#
# A private DNS for the tests, on loopback only (tests/dns.md has the record
# list and verified dig outputs):
#   NSD      authoritative, 127.0.0.1:5353 and [::1]:5353, zones
#            example.test (DNSSEC-signed, ECDSAP256SHA256, NSEC),
#            insecure.test, 0.0.127.in-addr.arpa and the ::1 reverse zone
#            (all unsigned but example.test)
#   unbound  validating resolver, 127.0.0.1:5354 and [::1]:5354, stub zones
#            to the NSD for those four zones, trust anchor for example.test
#            only (an island of trust), REFUSED for any other name; it never
#            sends a query anywhere but to the NSD
# Hostile names (bytes no host name may hold, 20 MX, 75 addresses) for
# tests/integration_dns_hostile.sh: see hostile_records below.
# The TLSA records (port 2625) are computed from PKIDIR (tests/mkcerts.sh):
# good.crt and int.crt.
#
# start  writes keys, zone files and configs into DIR (created if missing),
#        signs example.test, starts 'nsd -d' and 'unbound -d' in the
#        background (PIDs in DIR/nsd.pid and DIR/unbound.pid, logs in
#        DIR/nsd.log, DIR/unbound.log, stdout/stderr in DIR/*.out), waits
#        until both answer (unbound with a validated answer) and prints one
#        status line on stderr.  Refuses to start over servers still running
#        from DIR.
# stop   SIGTERM to both PIDs (and only those), waits until they are gone,
#        SIGKILL by PID only when one is still there after 5 s.  Quiet; a
#        no-op when nothing runs.
#
# Programs: nsd, unbound, dig, dnssec-keygen, dnssec-signzone, openssl (see
# tests/deps.sh test).  When one is missing, start installs them with
# tests/deps.sh test as root, otherwise exits 77 with 'SKIP: reason'.
#
# Exit: 0 ok; 1 failure (log tails on stderr); 2 usage; 77 skip.
set -euo pipefail

prog=tests/dns.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=$PATH:/usr/sbin:/sbin

NSD_PORT=5353
UB_PORT=5354
ZONE=example.test
REV6=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa
ZONES=("$ZONE" insecure.test 0.0.127.in-addr.arpa "$REV6")
WAIT_S=10       # start: give up when not answering after this
STOP_S=5        # stop: SIGKILL after this

usage() {
    echo "usage: $prog start DIR PKIDIR | $prog stop DIR" >&2
    exit 2
}
die() { echo "$prog: $*" >&2; exit 1; }

# --- processes -----------------------------------------------------------

# pstate, alive, is_prog, descendants, wait_gone, stop_pid
# shellcheck source=tests/daemon.sh
. "$here/daemon.sh"

# stop_one NAME PIDFILE: stop program NAME whose PID is in PIDFILE
stop_one() {
    local name=$1 pf=$2 pid
    [[ -f $pf ]] || return 0
    { read -r pid <"$pf"; } 2>/dev/null || pid=
    stop_pid "$name" "$pid" "$STOP_S"
    rm -f "$pf"
}

stop_all() {
    stop_one unbound "$1/unbound.pid"
    stop_one nsd "$1/nsd.pid"
}

# --- programs ------------------------------------------------------------

PROGS=(nsd unbound dig dnssec-keygen dnssec-signzone openssl)

missing_progs() {
    local p
    missing=()
    for p in "${PROGS[@]}"; do
        command -v "$p" >/dev/null 2>&1 || missing+=("$p")
    done
}

# need_progs DIR: install what is missing (root) or exit 77
need_progs() {
    missing_progs
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $EUID -ne 0 ]]; then
        echo "SKIP: $prog needs ${missing[*]} (as root: tests/deps.sh test)" >&2
        exit 77
    fi
    if ! "$here/deps.sh" test >"$1/deps.log" 2>&1; then
        echo "SKIP: $prog needs ${missing[*]}; tests/deps.sh test failed:" >&2
        tail -n 5 "$1/deps.log" >&2
        exit 77
    fi
    missing_progs
    if [[ ${#missing[@]} -ne 0 ]]; then
        echo "SKIP: $prog needs ${missing[*]} (not installed by tests/deps.sh test)" >&2
        exit 77
    fi
}

# --- data ----------------------------------------------------------------

# pem2der FILE: the DER of the first PEM block in FILE, on stdout
pem2der() {
    sed -n '/^-----BEGIN /,/^-----END /{/^-----/!p;/^-----END /q}' "$1" | base64 -d
}

# hash ALG FILE: lower-case hex digest (sha256 | sha512)
hash() {
    local out
    out=$("${1}sum" "$2") || return 1
    echo "${out%% *}"
}

# compute the TLSA data from PKIDIR into the T_* variables.  openssl (one
# run: it takes ~40 ms to start) extracts the SubjectPublicKeyInfo; PEM is
# decoded and hashed with coreutils.  DIR keeps the DER files.
tlsa_data() {
    local pki=$1 d=$2
    pem2der "$pki/good.crt" >"$d/good.der"
    pem2der "$pki/int.crt" >"$d/int.der"
    openssl x509 -in "$pki/good.crt" -noout -pubkey >"$d/good.spki.pem"
    pem2der "$d/good.spki.pem" >"$d/good.spki.der"
    T_SPKI256=$(hash sha256 "$d/good.spki.der")     # 3 1 1
    T_INT256=$(hash sha256 "$d/int.der")            # 2 0 1
    T_CERT512=$(hash sha512 "$d/good.der")          # 3 0 2
    T_SPKIHEX=$(od -An -v -tx1 "$d/good.spki.der" | tr -d ' \n')  # 3 1 0
    # 3 1 1 that matches nothing: a fixed value, not a hash of anything
    T_NOMATCH=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    [[ ${#T_SPKI256} -eq 64 && ${#T_INT256} -eq 64 && ${#T_CERT512} -eq 128 &&
        ${#T_SPKIHEX} -gt 100 ]] || die "could not compute the TLSA data from $pki"
}

# soa SERIAL: SOA + NS lines for the zone at $ORIGIN
soa() {
    cat <<EOF
\$TTL 300
@ IN SOA ns.example.test. hostmaster.example.test. $1 3600 600 86400 300
@ IN NS ns.example.test.
EOF
}

# Hostile names for tests/integration_dns_hostile.sh: labels holding bytes
# that no host name may hold (RFC 952/1123: letters, digits, '-'), written
# with the zone file's \DDD (decimal) and \. escapes.  Each such name also
# has an A record, so that a client copying label bytes raw would connect.
# Domains (MX):
#   hpipe   MX 10 ok|forged=1.example.test          ('|' = \124)
#   hnl     MX 10 x<LF>MTA BANNER OK - forged...    (LF = \010, ' ' = \032)
#   hesc    MX 10 esc<ESC>[31m.example.test         (ESC = \027, '[' = \091)
#   hnul    MX 10 nul<NUL>x.example.test            (NUL = \000)
#   hdot    MX 10 dot\.x.example.test: one label "dot.x" (raw copy:
#           dot.x.example.test, which exists too, A 127.0.0.1)
#   hdel    MX 10 del<DEL>x.example.test            (DEL = \127)
#   hmixed  MX 10 mx2.example.test and the six hostile hosts at MX 20
#   wide    MX 10 w1..w5, each 15 A records: 127.0.1.1 .. 127.0.1.75 (75
#           addresses in all)
# insecure.test (hostile_insecure):
#   many    MX 20 p20 ... MX 1 p1 (20 MX, the most preferred listed last;
#           NSD answers in this order, unbound rotates it), pN A
#           127.0.0.(100+N)
# Reverse (0.0.127.in-addr.arpa, hostile_ptrs): 18 PTR ptr\.dot.example.test
# (one label "ptr.dot"; it and the raw copy ptr.dot.example.test both A
# 127.0.0.18), 19 PTR 127.0.0.19. (an IP literal as a name), 20 PTR
# ptr<LF>nl.example.test (A 127.0.0.20), 30 PTR ptr|pipe.example.test (A
# 127.0.0.30).
HOSTILE_NL='x\010MTA\032BANNER\032OK\032-\032forged'
hostile_records() {
    local k j
    cat <<EOF
hpipe IN MX 10 ok\\124forged=1.example.test.
ok\\124forged=1 IN A 127.0.0.1
hnl IN MX 10 $HOSTILE_NL.example.test.
$HOSTILE_NL IN A 127.0.0.1
hesc IN MX 10 esc\\027\\09131m.example.test.
esc\\027\\09131m IN A 127.0.0.1
hnul IN MX 10 nul\\000x.example.test.
nul\\000x IN A 127.0.0.1
hdot IN MX 10 dot\\.x.example.test.
dot\\.x IN A 127.0.0.1
dot.x IN A 127.0.0.1
hdel IN MX 10 del\\127x.example.test.
del\\127x IN A 127.0.0.1
hmixed IN MX 10 mx2.example.test.
hmixed IN MX 20 ok\\124forged=1.example.test.
hmixed IN MX 20 $HOSTILE_NL.example.test.
hmixed IN MX 20 esc\\027\\09131m.example.test.
hmixed IN MX 20 nul\\000x.example.test.
hmixed IN MX 20 dot\\.x.example.test.
hmixed IN MX 20 del\\127x.example.test.
ptr\\.dot IN A 127.0.0.18
ptr.dot IN A 127.0.0.18
ptr\\010nl IN A 127.0.0.20
ptr\\124pipe IN A 127.0.0.30
EOF
    for ((k = 1; k <= 5; k++)); do
        echo "wide IN MX 10 w$k.example.test."
        for ((j = 1; j <= 15; j++)); do
            echo "w$k IN A 127.0.1.$((15 * (k - 1) + j))"
        done
    done
}

# many.insecure.test: in the unsigned zone, where NSD serves the RRset in
# the file's order (dnssec-signzone would sort it by RDATA, MX 1 first)
hostile_insecure() {
    local p
    for ((p = 20; p >= 1; p--)); do
        echo "many IN MX $p p$p.insecure.test."
    done
    for ((p = 1; p <= 20; p++)); do
        echo "p$p IN A 127.0.0.$((100 + p))"
    done
}

hostile_ptrs() {
    cat <<'EOF'
18 IN PTR ptr\.dot.example.test.
19 IN PTR 127.0.0.19.
20 IN PTR ptr\010nl.example.test.
30 IN PTR ptr\124pipe.example.test.
EOF
}

write_zones() {
    local d=$1 serial=$2 i
    {
        echo "\$ORIGIN $ZONE."
        soa "$serial"
        cat <<EOF
ns IN A 127.0.0.1
@ IN MX 10 mx1.example.test.
@ IN MX 20 mx2.example.test.
mx1 IN A 127.0.0.11
mx1 IN AAAA ::1
mx2 IN A 127.0.0.12
ta IN A 127.0.0.14
both IN A 127.0.0.11
both IN AAAA ::1
full IN A 127.0.0.16
nomx IN A 127.0.0.13
nullmx IN MX 0 .
nxhost IN MX 10 missing.example.test.
_2625._tcp.mx1 IN TLSA 3 1 1 $T_SPKI256
_2625._tcp.mx2 IN TLSA 3 1 1 $T_NOMATCH
_2625._tcp.ta IN TLSA 2 0 1 $T_INT256
_2625._tcp.both IN TLSA 3 0 2 $T_CERT512
_2625._tcp.full IN TLSA 3 1 0 $T_SPKIHEX
EOF
        for i in 1 2 3 4 5 6 7 8; do
            echo "eight IN MX 10 e$i.example.test."
        done
        for i in 1 2 3 4 5 6 7 8; do
            echo "e$i IN A 127.0.0.2$i"
        done
        hostile_records
    } >"$d/$ZONE.zone"
    {
        echo "\$ORIGIN insecure.test."
        soa "$serial"
        cat <<EOF
@ IN MX 10 mx.insecure.test.
mx IN A 127.0.0.15
_2625._tcp.mx IN TLSA 3 1 1 $T_SPKI256
EOF
        hostile_insecure
    } >"$d/insecure.test.zone"
    {
        echo "\$ORIGIN 0.0.127.in-addr.arpa."
        soa "$serial"
        cat <<EOF
11 IN PTR mx1.example.test.
12 IN PTR mx2.example.test.
13 IN PTR elsewhere.example.test.
15 IN PTR mx1.example.test.
EOF
        hostile_ptrs
    } >"$d/0.0.127.in-addr.arpa.zone"
    {
        echo "\$ORIGIN $REV6."
        soa "$serial"
        echo "@ IN PTR mx1.example.test."
    } >"$d/$REV6.zone"
}

# sign DIR: key + signed zone DIR/example.test.zone.signed, trust anchor
# DIR/example.test.anchor (the DNSKEY); sets KEYTAG
sign_zone() {
    local d=$1 key
    rm -f "$d"/K"$ZONE".+*
    # one key with the SEP (KSK) flag that signs everything (-z): a CSK
    key=$(dnssec-keygen -q -K "$d" -a ECDSAP256SHA256 -f KSK -L 300 -n ZONE "$ZONE" \
        2>"$d/sign.log") || { cat "$d/sign.log" >&2; die "dnssec-keygen failed"; }
    KEYTAG=${key##*+}
    KEYTAG=$((10#$KEYTAG))
    grep -v '^;' "$d/$key.key" >"$d/$ZONE.anchor"
    # -S: find the key in -K and add its DNSKEY; NSEC; RRSIGs valid from
    # now - 1 h to now + 30 d (the defaults); the result is verified
    if ! dnssec-signzone -q -S -z -K "$d" -d "$d" -o "$ZONE" -N keep \
        -f "$d/$ZONE.zone.signed" "$d/$ZONE.zone" >>"$d/sign.log" 2>&1; then
        cat "$d/sign.log" >&2
        die "dnssec-signzone failed"
    fi
}

write_configs() {
    local d=$1 z
    {
        cat <<EOF
# written by $prog
server:
    ip-address: 127.0.0.1@$NSD_PORT
EOF
        if [[ $HAVE6 == 1 ]]; then echo "    ip-address: ::1@$NSD_PORT"; fi
        cat <<EOF
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    pidfile: ""
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    zonelistfile: "$d/zone.list"
    logfile: "$d/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
EOF
        echo "zone:"
        echo "    name: \"$ZONE\""
        echo "    zonefile: \"$ZONE.zone.signed\""
        for z in "${ZONES[@]:1}"; do
            echo "zone:"
            echo "    name: \"$z\""
            echo "    zonefile: \"$z.zone\""
        done
    } >"$d/nsd.conf"

    {
        cat <<EOF
# written by $prog
server:
    interface: 127.0.0.1@$UB_PORT
EOF
        if [[ $HAVE6 == 1 ]]; then echo "    interface: ::1@$UB_PORT"; fi
        cat <<EOF
    port: $UB_PORT
    do-ip6: $([[ $HAVE6 == 1 ]] && echo yes || echo no)
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$d"
    pidfile: ""
    use-syslog: no
    logfile: "$d/unbound.log"
    log-time-ascii: yes
    verbosity: 1
    val-log-level: 2
    log-servfail: yes
    num-threads: 1
    module-config: "validator iterator"
    trust-anchor-file: "$d/$ZONE.anchor"
    # no RFC 8145 key tag query (_ta-XXXX.example.test) at start
    trust-anchor-signaling: no
    do-not-query-localhost: no
    # answer only for our zones, REFUSED for every other name
    local-zone: "." refuse
    # drop the built-in defaults (test. and the localhost reverse zones are
    # among them) that would shadow the NSD's data
    local-zone: "test." nodefault
    local-zone: "127.in-addr.arpa." nodefault
    local-zone: "$REV6." nodefault
EOF
        for z in "${ZONES[@]}"; do
            echo "    local-zone: \"$z.\" transparent"
        done
        echo "remote-control:"
        echo "    control-enable: no"
        # the root too goes to the NSD (which refuses it): no query of
        # unbound's own (priming, a name outside our zones) leaves loopback
        for z in "${ZONES[@]}" .; do
            echo "stub-zone:"
            echo "    name: \"${z%.}.\""
            echo "    stub-addr: 127.0.0.1@$NSD_PORT"
            if [[ $HAVE6 == 1 ]]; then echo "    stub-addr: ::1@$NSD_PORT"; fi
        done
    } >"$d/unbound.conf"
}

# --- start ---------------------------------------------------------------

tails() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        echo "--- tail $f" >&2
        tail -n 20 "$f" >&2
    done
}

# qdig ARGS...: dig, 1 s timeout, one try
qdig() { dig +time=1 +tries=1 "$@" 2>&1; }

# one dig, 1 s timeout, one try, several queries: nsd answers for every
# zone (and on ::1 too)
nsd_ready() {
    local z args=() out n
    for z in "${ZONES[@]}"; do
        args+=("$z" SOA)
    done
    if [[ $HAVE6 == 1 ]]; then args+=(@::1 -p "$NSD_PORT" +norec "$ZONE" SOA); fi
    out=$(qdig @127.0.0.1 -p "$NSD_PORT" +norec "${args[@]}") || return 1
    n=$(grep -c 'status: NOERROR' <<<"$out") || return 1
    [[ $n -eq $((${#ZONES[@]} + HAVE6)) ]]
}

# 0 validated answer (AD set; and an answer on ::1); 1 not yet; 2 answered
# but not validated (bogus signatures or trust anchor)
ub_ready() {
    local out args=()
    if [[ $HAVE6 == 1 ]]; then args=(@::1 -p "$UB_PORT" "$ZONE" SOA); fi
    out=$(qdig @127.0.0.1 -p "$UB_PORT" +dnssec "$ZONE" SOA "${args[@]}") || return 1
    [[ $out == *'status: '* ]] || return 1
    [[ $(grep -c 'status: NOERROR' <<<"$out") -eq $((1 + HAVE6)) ]] || return 2
    grep -q '^;; flags:[^;]* ad[ ;]' <<<"$out" || return 2
}

# addrs PORT: the listening addresses, for the status line
addrs() {
    if [[ $HAVE6 == 1 ]]; then
        echo "127.0.0.1:$1,[::1]:$1"
    else
        echo "127.0.0.1:$1"
    fi
}

start_ok=0
started_dir=
on_exit() {
    if [[ $start_ok == 0 && -n $started_dir ]]; then
        stop_all "$started_dir"
    fi
}

start() {
    local d=$1 pki=$2 t0 nsd_pid ub_pid n rc ms
    t0=${EPOCHREALTIME/[.,]/}
    [[ -r $pki/good.crt && -r $pki/int.crt ]] ||
        die "$pki/good.crt or $pki/int.crt missing (tests/mkcerts.sh makes them)"
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    pki=$(cd "$pki" && pwd)
    need_progs "$d"
    if [[ -f $d/nsd.pid || -f $d/unbound.pid ]]; then
        local p
        for n in nsd unbound; do
            { read -r p <"$d/$n.pid"; } 2>/dev/null || continue
            if [[ $p =~ ^[0-9]+$ ]] && is_prog "$p" "$n"; then
                die "$n (pid $p) still runs from $d: '$prog stop $d' first"
            fi
        done
        rm -f "$d/nsd.pid" "$d/unbound.pid"
    fi
    HAVE6=0
    if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then
        HAVE6=1
    fi

    tlsa_data "$pki" "$d"
    write_zones "$d" "$(date -u +%s)"
    sign_zone "$d"
    write_configs "$d"
    rm -f "$d/nsd.log" "$d/unbound.log" "$d/xfrd.state" "$d/zone.list"

    trap on_exit EXIT
    trap 'exit 1' INT TERM HUP
    started_dir=$d
    nsd -d -c "$d/nsd.conf" </dev/null >"$d/nsd.out" 2>&1 &
    nsd_pid=$!
    echo "$nsd_pid" >"$d/nsd.pid"
    unbound -d -c "$d/unbound.conf" </dev/null >"$d/unbound.out" 2>&1 &
    ub_pid=$!
    echo "$ub_pid" >"$d/unbound.pid"

    n=$((WAIT_S * 20))
    while :; do
        if ! alive "$nsd_pid"; then
            echo "$prog: nsd exited" >&2
            tails "$d/nsd.out" "$d/nsd.log"
            exit 1
        fi
        nsd_ready && break
        if ((n-- <= 0)); then
            echo "$prog: nsd not answering on port $NSD_PORT after $WAIT_S s" >&2
            tails "$d/nsd.out" "$d/nsd.log"
            exit 1
        fi
        sleep 0.05
    done
    while :; do
        if ! alive "$ub_pid"; then
            echo "$prog: unbound exited" >&2
            tails "$d/unbound.out" "$d/unbound.log"
            exit 1
        fi
        rc=0
        ub_ready || rc=$?
        [[ $rc == 0 ]] && break
        if [[ $rc == 2 ]]; then
            echo "$prog: unbound answers but not with a validated answer for $ZONE SOA:" >&2
            qdig @127.0.0.1 -p "$UB_PORT" +dnssec "$ZONE" SOA >&2 || true
            tails "$d/unbound.out" "$d/unbound.log" "$d/sign.log"
            exit 1
        fi
        if ((n-- <= 0)); then
            echo "$prog: unbound not answering on port $UB_PORT after $WAIT_S s" >&2
            tails "$d/unbound.out" "$d/unbound.log"
            exit 1
        fi
        sleep 0.05
    done
    start_ok=1

    ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
    printf '%s: up in %d.%03d s: nsd pid %s on %s, validating unbound pid %s on %s (trust anchor %s, key tag %s), dir %s\n' \
        "$prog" $((ms / 1000)) $((ms % 1000)) "$nsd_pid" "$(addrs "$NSD_PORT")" \
        "$ub_pid" "$(addrs "$UB_PORT")" "$ZONE" "$KEYTAG" "$d" >&2
}

case ${1-} in
    start)
        [[ $# -eq 3 && -n $2 && -n $3 ]] || usage
        start "$2" "$3"
        ;;
    stop)
        [[ $# -eq 2 && -n $2 ]] || usage
        [[ -d $2 ]] || exit 0
        stop_all "$2"
        ;;
    -h|--help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
        ;;
    *) usage ;;
esac
