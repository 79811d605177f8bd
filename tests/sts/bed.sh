#!/usr/bin/env bash
# tests/sts/bed.sh start DIR SMTPSIM
# tests/sts/bed.sh stop DIR
# tests/sts/bed.sh list
#
# The MTA-STS (RFC 8461) / TLS-RPT (RFC 8460) test bed of
# tests/integration_sts.sh, on loopback only:
#   NSD      authoritative, unsigned, 127.0.0.1:5363: one zone per test
#            domain (X.test), queried directly (--dns-server 127.0.0.1:5363)
#   nginx    the policy hosts: one server block per domain on its own
#            address, mta-sts.X.test -> 127.0.0.60 ... 127.0.0.94 port 443
#            (the URL's port is fixed by the RFC), serving
#            /.well-known/mta-sts.txt right or wrong (status, media type,
#            size, redirect, chunked, certificate)
#   smtpsim  the MX hosts on port 2725 (the plugin's -p):
#              127.0.0.41, .42  STARTTLS, certificate "sts" (valid)
#              127.0.0.43       no STARTTLS
#              127.0.0.44       STARTTLS, certificate for another name
#              127.0.0.45       nothing listens (connection refused)
#              127.0.0.46-.48   as .41, but the greeting comes after 1.5 s
#            and the stalling policy host mta-sts.stall.test on
#            127.0.0.76:443 (TLS handshake, then silence)
# 'list' prints the domain table (domain, policy address, what it tests).
#
# start  makes the test PKI (tests/mkcerts.sh DIR/pki) plus the leaves of
#        this bed (issued by its intermediate, into DIR/pki too: smtpsim -C
#        takes NAME.chain.pem + NAME.key from there):
#          sts          SAN every mta-sts.X.test (but the four below) and
#                       every MX host name; -1 d .. +365 d
#          stsexpired   SAN mta-sts.expired.test; -90 d .. -1 d
#          sts10d       SAN mta-sts.exp10d.test; -30 d .. +10 d +1 h
#          stswrong     SAN mta-sts.other.test (served for wrongname.test)
#          stsself      SAN mta-sts.selfsigned.test, self-signed
#        writes zones, nsd.conf, nginx.conf and the policy files, starts
#        'nsd -d', 'nginx -g "daemon off;"' and the smtpsims in the
#        background (PIDs in DIR/*.pid), waits until all answer and prints
#        one status line on stderr.  Root only (port 443).
# stop   SIGTERM to every PID of DIR/*.pid (checked against the program
#        name first: no recycled PID is hit), SIGKILL by PID after 5 s.
#
# Exit: 0 ok; 1 failure (log tails on stderr); 2 usage; 77 skip (not root,
# nsd or nginx missing).
set -euo pipefail

prog=tests/sts/bed.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tests=$(cd "$here/.." && pwd)
export PATH=$PATH:/usr/sbin:/sbin

NSD_PORT=5363
MX_PORT=2725
MX_OK1=127.0.0.41 MX_OK2=127.0.0.42 MX_NOTLS=127.0.0.43 MX_BADCERT=127.0.0.44 MX_DOWN=127.0.0.45
MX_SLOW1=127.0.0.46 MX_SLOW2=127.0.0.47 MX_SLOW3=127.0.0.48
WAIT_S=10
STOP_S=5

usage() {
    echo "usage: $prog start DIR SMTPSIM | $prog stop DIR | $prog list" >&2
    exit 2
}
die() { echo "$prog: $*" >&2; exit 1; }

# --- the domains -------------------------------------------------------------
# dom NAME ADDR|- WEB DESCRIPTION: a test domain; ADDR is mta-sts.NAME's
# address (- none).  WEB: ok | 404 | redirect | type:MEDIA-TYPE | chunked |
# stall | refused | cert:NAME (ok with another certificate) | sni (ok, behind
# a default server with certificate stswrong that only SNI gets past).  Then the
# records (rr) and the policy (policy / policy_crlf / policy_file) follow.
DOMAINS=()
declare -A ADDR WEB DESC
CUR=
dom() {
    CUR=$1
    DOMAINS+=("$1")
    ADDR[$1]=$2 WEB[$1]=$3 DESC[$1]=$4
    {
        echo "\$ORIGIN $1."
        echo "\$TTL 300"
        echo "@ IN SOA ns.$1. hostmaster.$1. $SERIAL 3600 600 86400 300"
        echo "@ IN NS ns.$1."
        echo "ns IN A 127.0.0.1"
        [[ $2 == - ]] || echo "mta-sts IN A $2"
    } >"$ZDIR/$1.zone"
    mkdir -p "$WWW/$1"
}
rr() {
    local l
    for l in "$@"; do echo "$l" >>"$ZDIR/$CUR.zone"; done
}
sts() { rr "_mta-sts IN TXT \"$1\""; }
rpt() { rr "_smtp._tls IN TXT \"$1\""; }
rpt_ok() { rpt "v=TLSRPTv1; rua=mailto:tlsrpt@$CUR"; }
# MX 10 mx1, MX 20 mx2, by default on the two good MX servers
mx2() { rr "@ IN MX 10 mx1" "@ IN MX 20 mx2" "mx1 IN A ${1:-$MX_OK1}" "mx2 IN A ${2:-$MX_OK2}"; }
mx1() { rr "@ IN MX 10 mx1" "mx1 IN A ${1:-$MX_OK1}"; }
# the policy file, LF or CRLF line ends
policy_file() { echo "$WWW/$CUR/mta-sts.txt"; }
policy() { printf '%s\n' "$@" >"$(policy_file)"; }
policy_crlf() { printf '%s\r\n' "$@" >"$(policy_file)"; }
# the usual enforce policy covering mx1 and mx2 of the current domain
policy_std() { policy "version: STSv1" "mode: ${1:-enforce}" "mx: mx1.$CUR" "mx: mx2.$CUR" "max_age: 604800"; }

domains() {
    dom good.test 127.0.0.60 ok "enforce, mx1+mx2 covered, valid TLS-RPT: OK"
    sts "v=STSv1; id=20261201T0000"
    mx2; rpt_ok; policy_std

    dom testing.test 127.0.0.61 ok "testing, mx2 not covered: WARNING"
    sts "v=STSv1; id=testing1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: testing" "mx: mx1.testing.test" "max_age: 604800"

    dom uncovered.test 127.0.0.62 ok "enforce, mx2 not covered: CRITICAL"
    sts "v=STSv1; id=uncovered1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: mx1.uncovered.test" "max_age: 604800"

    # (NSD answers MX2.WILD.TEST. in lower case: the case test is the policy's)
    dom wild.test 127.0.0.63 ok "mx: *.Wild.TEST covers mx1 and mx2; https: rua; a non-STS TXT beside: OK"
    sts "v=STSv1; id=wild1"
    rr "_mta-sts IN TXT \"some unrelated text\""
    rr "@ IN MX 10 mx1" "@ IN MX 20 MX2.WILD.TEST." "mx1 IN A $MX_OK1" "mx2 IN A $MX_OK2"
    rpt "v=TLSRPTv1; rua=https://reports.wild.test/tlsrpt"
    policy "version: STSv1" "mode: enforce" "mx: *.Wild.TEST" "max_age: 604800"

    dom wilddeep.test 127.0.0.64 ok "mx: *.wilddeep.test does not cover a.b.wilddeep.test: CRITICAL"
    sts "v=STSv1; id=wilddeep1"
    rr "@ IN MX 10 mx1" "@ IN MX 20 a.b" "mx1 IN A $MX_OK1" "a.b IN A $MX_OK2"
    rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: *.wilddeep.test" "max_age: 604800"

    dom none.test 127.0.0.65 ok "mode none, MX without STARTTLS (not checked): OK"
    sts "v=STSv1; id=none1"
    mx1 "$MX_NOTLS"; rpt_ok
    policy "version: STSv1" "mode: none" "max_age: 86400"

    dom twotxt.test 127.0.0.66 ok "two v=STSv1 TXT records: WARNING"
    sts "v=STSv1; id=first1"
    sts "v=STSv1; id=second2"
    mx2; rpt_ok; policy_std

    dom badid.test 127.0.0.67 ok "id with a '-': WARNING"
    sts "v=STSv1; id=2026-12-01"
    mx2; rpt_ok; policy_std

    dom short.test 127.0.0.68 ok "max_age 3600: WARNING"
    sts "v=STSv1; id=short1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: mx1.short.test" "mx: mx2.short.test" "max_age: 3600"

    dom badmode.test 127.0.0.69 ok "mode: strict: CRITICAL"
    sts "v=STSv1; id=badmode1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: strict" "mx: mx1.badmode.test" "mx: mx2.badmode.test" "max_age: 604800"

    dom nomx.test 127.0.0.70 ok "enforce without mx: lines: CRITICAL"
    sts "v=STSv1; id=nomx1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: enforce" "max_age: 604800"

    dom crlf.test 127.0.0.71 "type:text/plain; charset=utf-8" "CRLF policy with an unknown key, text/plain; charset=utf-8: OK"
    sts "v=STSv1; id=crlf1"
    mx2; rpt_ok
    policy_crlf "version: STSv1" "mode: enforce" "mx: mx1.crlf.test" "x-comment: unknown keys are ignored" \
        "mx: mx2.crlf.test" "max_age: 604800"

    dom http404.test 127.0.0.72 404 "policy URL answers 404: CRITICAL"
    sts "v=STSv1; id=http404"
    mx2; rpt_ok

    dom redirect.test 127.0.0.73 redirect "policy URL answers 301 (not to be followed): CRITICAL"
    sts "v=STSv1; id=redirect1"
    mx2; rpt_ok

    dom html.test 127.0.0.74 type:text/html "policy served as text/html: CRITICAL"
    sts "v=STSv1; id=html1"
    mx2; rpt_ok; policy_std

    dom big.test 127.0.0.75 ok "policy of 70000 bytes (> 64 KiB): CRITICAL"
    sts "v=STSv1; id=big1"
    mx2; rpt_ok; policy_std
    { local i; for ((i = 0; i < 1000; i++)); do printf 'x-pad%04d: %062d\n' "$i" 0; done; } >>"$(policy_file)"

    dom stall.test 127.0.0.76 stall "policy host: TLS handshake, then silence: CRITICAL timeout"
    sts "v=STSv1; id=stall1"
    mx2; rpt_ok

    dom expired.test 127.0.0.77 cert:stsexpired "policy host certificate expired: CRITICAL"
    sts "v=STSv1; id=expired1"
    mx2; rpt_ok; policy_std

    dom wrongname.test 127.0.0.78 cert:stswrong "policy host certificate for mta-sts.other.test: CRITICAL"
    sts "v=STSv1; id=wrongname1"
    mx2; rpt_ok; policy_std

    dom selfsigned.test 127.0.0.79 cert:stsself "policy host certificate self-signed: CRITICAL"
    sts "v=STSv1; id=selfsigned1"
    mx2; rpt_ok; policy_std

    dom exp10d.test 127.0.0.80 cert:sts10d "policy host certificate with 10 days left: WARNING (-w 30)"
    sts "v=STSv1; id=exp10d1"
    mx2; rpt_ok; policy_std

    dom notls.test 127.0.0.81 ok "enforce, mx2 offers no STARTTLS: CRITICAL"
    sts "v=STSv1; id=notls1"
    mx2 "$MX_OK1" "$MX_NOTLS"; rpt_ok; policy_std

    dom notlstesting.test 127.0.0.82 ok "testing, mx2 offers no STARTTLS: WARNING"
    sts "v=STSv1; id=notlstesting1"
    mx2 "$MX_OK1" "$MX_NOTLS"; rpt_ok; policy_std testing

    dom badmxcert.test 127.0.0.83 ok "enforce, mx1's certificate is for another name: CRITICAL"
    sts "v=STSv1; id=badmxcert1"
    mx1 "$MX_BADCERT"; rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: mx1.badmxcert.test" "max_age: 604800"

    dom tlsrpt-bad.test 127.0.0.84 ok "TLS-RPT with an ftp: rua: WARNING"
    sts "v=STSv1; id=tlsrptbad1"
    mx2; policy_std
    rpt "v=TLSRPTv1; rua=ftp://reports.tlsrpt-bad.test/"

    dom notlsrpt.test 127.0.0.85 ok "no TLS-RPT record: OK (--require-tlsrpt: WARNING)"
    sts "v=STSv1; id=notlsrpt1"
    mx2; policy_std

    dom refused.test 127.0.0.86 refused "nothing listens on mta-sts:443: CRITICAL"
    sts "v=STSv1; id=refused1"
    mx2; rpt_ok

    dom chunked.test 127.0.0.87 chunked "policy sent with Transfer-Encoding: chunked (HTTP/1.1): OK"
    sts "v=STSv1; id=chunked1"
    mx2; rpt_ok; policy_std

    dom badage.test 127.0.0.88 ok "max_age 31557601 (above the RFC's maximum): CRITICAL"
    sts "v=STSv1; id=badage1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: mx1.badage.test" "mx: mx2.badage.test" "max_age: 31557601"

    dom nover.test 127.0.0.89 ok "policy without version: CRITICAL"
    sts "v=STSv1; id=nover1"
    mx2; rpt_ok
    policy "mode: enforce" "mx: mx1.nover.test" "mx: mx2.nover.test" "max_age: 604800"

    dom mxdown.test 127.0.0.90 ok "enforce, mx2 refuses connections: CRITICAL"
    sts "v=STSv1; id=mxdown1"
    mx2 "$MX_OK1" "$MX_DOWN"; rpt_ok; policy_std

    dom dot.test 127.0.0.91 ok "mx: mx1.dot.test. (trailing dot) and mx: MX2.DOT.TEST (case): OK"
    sts "v=STSv1; id=dot1"
    mx2; rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: mx1.dot.test." "mx: MX2.DOT.TEST" "max_age: 604800"

    dom split.test 127.0.0.92 ok "STS TXT in two character-strings (concatenated, RFC 8461 3.1): OK"
    rr "_mta-sts IN TXT \"v=STSv1; \" \"id=split1\""
    mx2; rpt_ok; policy_std

    dom slow.test 127.0.0.93 ok "three MX whose greeting takes 1.5 s: OK in well under 4.5 s (concurrent)"
    sts "v=STSv1; id=slow1"
    mx2 "$MX_SLOW1" "$MX_SLOW2"; rr "@ IN MX 30 mx3" "mx3 IN A $MX_SLOW3"; rpt_ok
    policy "version: STSv1" "mode: enforce" "mx: *.slow.test" "max_age: 604800"

    dom sni.test 127.0.0.94 sni "the policy host's address has a default server with another certificate: SNI picks the right one: OK"
    sts "v=STSv1; id=sni1"
    mx2; rpt_ok; policy_std

    dom nopolicy.test - - "no _mta-sts TXT: OK (--require: CRITICAL)"
    mx2; rpt_ok

    dom nohost.test - - "TXT present, mta-sts.nohost.test does not exist: CRITICAL"
    sts "v=STSv1; id=nohost1"
    mx2; rpt_ok
}

# --- processes: alive, is_prog, wait_gone, stop_pid (tests/daemon.sh) -----------
# shellcheck source=tests/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/../daemon.sh"

# stop_pf PIDFILE: the file holds "PID NAME"
stop_pf() {
    local pf=$1 pid name
    { read -r pid name <"$pf"; } 2>/dev/null || { rm -f "$pf"; return 0; }
    stop_pid "$name" "$pid" "$STOP_S"
    rm -f "$pf"
}
stop_all() {
    local pf
    for pf in "$1"/*.pid; do
        [[ -e $pf ]] && stop_pf "$pf"
    done
    return 0
}

tails() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        echo "--- tail $f" >&2
        tail -n 20 "$f" >&2
    done
}

# wait_tcp ADDR PORT PID NAME LOG: until ADDR:PORT accepts, PID alive
wait_tcp() {
    local n=$((WAIT_S * 20))
    while ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        alive "$3" || { echo "$prog: $4 exited" >&2; tails "$5"; exit 1; }
        ((n-- > 0)) || { echo "$prog: $4 not listening on $1:$2 after $WAIT_S s" >&2; tails "$5"; exit 1; }
        sleep 0.05
    done
}

# --- certificates -------------------------------------------------------------

gt() { TZ=UTC printf '%(%Y%m%d%H%M%SZ)T' $((NOW + $1)); }
ossl() {
    local out
    out=$(openssl "$@" 2>&1) || { echo "$prog: openssl $1 failed:" >&2; echo "$out" >&2; exit 1; }
}
# leaf NAME START END SAN [self]: NAME.key, NAME.crt, NAME.chain.pem in PKI
leaf() {
    local n=$1 start=$2 end=$3 cn=${4%%,*}
    export SAN=$4
    cn=${cn#DNS:}
    ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$n.key" \
        -out "$CADIR/$n.csr" -subj "/CN=$cn"
    if [[ ${5-} == self ]]; then
        ossl ca -batch -notext -config "$CADIR/ca.cnf" -name int_ca -extensions v3_self \
            -in "$CADIR/$n.csr" -out "$PKI/$n.crt" -startdate "$(gt "$start")" \
            -enddate "$(gt "$end")" -selfsign -keyfile "$PKI/$n.key"
        cp "$PKI/$n.crt" "$PKI/$n.chain.pem"
    else
        ossl ca -batch -notext -config "$CADIR/ca.cnf" -name int_ca -extensions v3_leaf \
            -in "$CADIR/$n.csr" -out "$PKI/$n.crt" -startdate "$(gt "$start")" \
            -enddate "$(gt "$end")"
        cat "$PKI/$n.crt" "$PKI/int.crt" >"$PKI/$n.chain.pem"
    fi
    chmod 600 "$PKI/$n.key"
}

make_certs() {
    local d san="" D=86400 H=3600
    NOW=$(date -u +%s)
    CADIR=$PKI/.stsca
    rm -rf "$CADIR"
    mkdir -p "$CADIR"
    : >"$CADIR/index.txt"
    printf '%04X%04X%04X02\n' $((RANDOM + 4096)) $RANDOM $RANDOM >"$CADIR/serial"
    cat >"$CADIR/ca.cnf" <<EOF
# written by $prog
[ int_ca ]
database = $CADIR/index.txt
serial = $CADIR/serial
new_certs_dir = $CADIR
certificate = $PKI/int.crt
private_key = $PKI/int.key
default_md = sha256
policy = pol_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = no
[ pol_any ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_self ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::SAN
subjectKeyIdentifier = hash
EOF
    export OPENSSL_CONF=$CADIR/ca.cnf
    for d in "${DOMAINS[@]}"; do
        case $d in
            expired.test | wrongname.test | selfsigned.test | exp10d.test) ;;
            *) san+=",DNS:mta-sts.$d" ;;
        esac
        san+=",DNS:mx1.$d,DNS:mx2.$d"
    done
    san+=",DNS:a.b.wilddeep.test,DNS:mx3.slow.test"
    leaf sts $((-1 * D)) $((365 * D)) "${san#,}"
    leaf stsexpired $((-90 * D)) $((-1 * D)) DNS:mta-sts.expired.test
    leaf sts10d $((-30 * D)) $((10 * D + H)) DNS:mta-sts.exp10d.test
    leaf stswrong $((-1 * D)) $((365 * D)) DNS:mta-sts.other.test
    leaf stsself $((-1 * D)) $((365 * D)) DNS:mta-sts.selfsigned.test self
    unset OPENSSL_CONF
    rm -rf "$CADIR"
}

# --- configs ------------------------------------------------------------------

write_nsd_conf() {
    local d
    {
        cat <<EOF
# written by $prog
server:
    ip-address: 127.0.0.1@$NSD_PORT
    username: ""
    chroot: ""
    zonesdir: "$ZDIR"
    database: ""
    pidfile: ""
    xfrdfile: "$ZDIR/xfrd.state"
    xfrdir: "$ZDIR"
    zonelistfile: "$ZDIR/zone.list"
    logfile: "$ZDIR/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
EOF
        for d in "${DOMAINS[@]}"; do
            printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' "$d" "$d"
        done
    } >"$ZDIR/nsd.conf"
}

write_nginx_conf() {
    local d a w cert type
    mkdir -p "$NGX/logs" "$NGX/tmp"
    {
        cat <<EOF
# written by $prog; run as: nginx -p $NGX -c $NGX/nginx.conf -e $NGX/logs/error.log -g 'daemon off;'
user root;
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log $NGX/logs/access.log;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    types { }
    default_type text/plain;
    server_tokens off;
    keepalive_timeout 5;
    ssl_protocols TLSv1.2 TLSv1.3;
EOF
        for d in "${DOMAINS[@]}"; do
            a=${ADDR[$d]} w=${WEB[$d]}
            [[ $a == - || $w == stall || $w == refused ]] && continue
            cert=sts type=
            if [[ $w == sni ]]; then
                cat <<EOF
    server {    # $d: the default server of $a:443, for clients without SNI
        listen $a:443 ssl default_server;
        server_name _;
        ssl_certificate $PKI/stswrong.chain.pem;
        ssl_certificate_key $PKI/stswrong.key;
        location / { return 404; }
    }
EOF
            fi
            case $w in
                cert:*) cert=${w#cert:} ;;
                type:*) type=${w#type:} ;;
            esac
            cat <<EOF
    server {    # $d: ${DESC[$d]}
        listen $a:443 ssl;
        server_name mta-sts.$d;
        ssl_certificate $PKI/$cert.chain.pem;
        ssl_certificate_key $PKI/$cert.key;
        root $WWW/$d;
EOF
            case $w in
                redirect)
                    echo "        location / { return 301 https://mta-sts.good.test/.well-known/mta-sts.txt; }" ;;
                404)
                    echo "        location / { return 404; }" ;;
                chunked)
                    # sub_filter drops Content-Length: HTTP/1.1 answers chunked
                    echo "        location = /.well-known/mta-sts.txt { alias $WWW/$d/mta-sts.txt; sub_filter_types *; sub_filter 'max_age' 'max_age'; sub_filter_once off; }" ;;
                *)
                    echo "        location = /.well-known/mta-sts.txt { alias $WWW/$d/mta-sts.txt;${type:+ default_type \"$type\";} }"
                    echo "        location / { return 404; }" ;;
            esac
            echo "    }"
        done
        echo "}"
    } >"$NGX/nginx.conf"
}

# --- start / stop -------------------------------------------------------------

start() {
    local dir=$1 sim=$2 t0 pid d p pf
    t0=${EPOCHREALTIME/[.,]/}
    [[ $EUID -eq 0 ]] || { echo "SKIP: $prog needs root (nginx on port 443)" >&2; exit 77; }
    for p in nsd nginx openssl; do
        command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $prog needs $p (apt-get install nsd nginx)" >&2; exit 77; }
    done
    [[ -x $sim ]] || die "no smtpsim at $sim"
    sim=$(cd "$(dirname "$sim")" && pwd)/$(basename "$sim")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for pf in "$dir"/*.pid; do
        [[ -e $pf ]] || continue
        read -r pid d <"$pf" || true
        if [[ $pid =~ ^[0-9]+$ ]] && is_prog "$pid" "$d"; then
            die "$d (pid $pid) still runs from $dir: '$prog stop $dir' first"
        fi
        rm -f "$pf"
    done
    PKI=$dir/pki ZDIR=$dir/nsd NGX=$dir/nginx WWW=$dir/nginx/www
    rm -rf "$ZDIR" "$NGX"
    mkdir -p "$ZDIR" "$WWW" "$dir/sim"
    SERIAL=$(date -u +%s)
    domains
    "$tests/mkcerts.sh" "$PKI" >/dev/null
    make_certs
    write_nsd_conf
    write_nginx_conf

    trap 'stop_all "$dir"' EXIT
    trap 'exit 1' INT TERM HUP
    nsd -d -c "$ZDIR/nsd.conf" </dev/null >"$ZDIR/nsd.out" 2>&1 &
    echo "$! nsd" >"$dir/nsd.pid"
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" -g 'daemon off;' \
        </dev/null >"$NGX/nginx.out" 2>&1 &
    echo "$! nginx" >"$dir/nginx.pid"
    # sim NAME SCENARIO ADDR:PORT...
    sim() {
        local name=$1 scn=$2 a args=()
        shift 2
        for a in "$@"; do args+=(-l "$a"); done
        "$sim" -s "$here/$scn.scn" -C "$PKI" "${args[@]}" -T "$dir/sim/$name.transcript" \
            </dev/null >"$dir/sim/$name.out" 2>&1 &
        echo "$! smtpsim" >"$dir/sim_$name.pid"
    }
    sim mx_ok mx_starttls "$MX_OK1:$MX_PORT" "$MX_OK2:$MX_PORT"
    sim mx_notls mx_notls "$MX_NOTLS:$MX_PORT"
    sim mx_badcert mx_badcert "$MX_BADCERT:$MX_PORT"
    sim mx_slow mx_slow "$MX_SLOW1:$MX_PORT" "$MX_SLOW2:$MX_PORT" "$MX_SLOW3:$MX_PORT"
    sim https_stall https_stall "${ADDR[stall.test]}:443"

    # NSD: every zone answers
    read -r pid d <"$dir/nsd.pid"
    local n=$((WAIT_S * 20)) out
    while :; do
        alive "$pid" || { echo "$prog: nsd exited" >&2; tails "$ZDIR/nsd.out" "$ZDIR/nsd.log"; exit 1; }
        out=$(dig +time=1 +tries=1 @127.0.0.1 -p "$NSD_PORT" +norec good.test SOA 2>&1) || true
        [[ $out == *'status: NOERROR'* ]] && break
        ((n-- > 0)) || { echo "$prog: nsd not answering on $NSD_PORT" >&2; tails "$ZDIR/nsd.out" "$ZDIR/nsd.log"; exit 1; }
        sleep 0.05
    done
    local q=()
    for d in "${DOMAINS[@]}"; do q+=("$d" SOA); done
    out=$(dig +time=1 +tries=1 @127.0.0.1 -p "$NSD_PORT" +norec "${q[@]}" 2>&1 | grep -c 'status: NOERROR') || true
    [[ $out == "${#DOMAINS[@]}" ]] || { echo "$prog: nsd answers NOERROR for $out of ${#DOMAINS[@]} zones" >&2; tails "$ZDIR/nsd.log"; exit 1; }
    read -r pid d <"$dir/nginx.pid"
    for d in "${DOMAINS[@]}"; do
        [[ ${ADDR[$d]} == - || ${WEB[$d]} == stall || ${WEB[$d]} == refused ]] && continue
        wait_tcp "${ADDR[$d]}" 443 "$pid" nginx "$NGX/logs/error.log"
    done
    local s
    for s in mx_ok:$MX_OK1 mx_ok:$MX_OK2 mx_notls:$MX_NOTLS mx_badcert:$MX_BADCERT \
        mx_slow:$MX_SLOW1 mx_slow:$MX_SLOW2 mx_slow:$MX_SLOW3; do
        read -r pid d <"$dir/sim_${s%%:*}.pid"
        wait_tcp "${s#*:}" "$MX_PORT" "$pid" "smtpsim ${s%%:*}" "$dir/sim/${s%%:*}.out"
    done
    read -r pid d <"$dir/sim_https_stall.pid"
    wait_tcp "${ADDR[stall.test]}" 443 "$pid" "smtpsim https_stall" "$dir/sim/https_stall.out"
    trap - EXIT
    local ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
    printf '%s: up in %d.%03d s: nsd 127.0.0.1:%s (%d zones), nginx 127.0.0.60-94:443, smtpsim MX %s-%s:%s, dir %s\n' \
        "$prog" $((ms / 1000)) $((ms % 1000)) "$NSD_PORT" "${#DOMAINS[@]}" "$MX_OK1" "${MX_SLOW3##*.}" "$MX_PORT" "$dir" >&2
}

list() {
    local d
    ZDIR=$(mktemp -d) WWW=$ZDIR/www SERIAL=1
    domains
    rm -rf "$ZDIR"
    for d in "${DOMAINS[@]}"; do
        printf '%-18s %-12s %s\n' "$d" "${ADDR[$d]}" "${DESC[$d]}"
    done
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
    list) list ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" ;;
    *) usage ;;
esac
