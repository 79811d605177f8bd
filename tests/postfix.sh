#!/usr/bin/env bash
# tests/postfix.sh start DIR PORT [strict|open|certs] [PKIDIR]
# tests/postfix.sh stop DIR
#
# A private, throw-away Postfix instance for the integration tests.
#
# start  writes main.cf/master.cf and a hand-made queue into DIR (a fresh
#        directory from the caller, e.g. mktemp -d; created if missing),
#        starts it with 'postfix -c DIR start', waits (up to 20 s) until
#        every listening port of the instance answers (a 220 banner; on
#        STARTTLS ports the STARTTLS command must get its 220, on the SMTPS
#        port the banner must arrive over TLS) and writes the master's PID
#        to DIR/master.pid.
#          banner:   220 mail.example.test ESMTP mtaprobe-test
#          strict:   (default) relaying refused for every client, 127.0.0.0/8
#                    included: RCPT TO:<x@example.net> -> 554 5.7.1 Relay
#                    access denied; mail for @example.test is accepted.
#          open:     open relay (every client is in mynetworks).
#          certs:    relay refused as in strict; one smtpd per test
#                    certificate (needs PKIDIR, see the port map below).
#        Whatever is accepted goes to the discard transport: nothing ever
#        leaves the machine.  Log: DIR/maillog.
#
#        PKIDIR (optional for strict/open, required for certs): a directory
#        made by tests/mkcerts.sh.  Without it the instance has no TLS at all
#        (no STARTTLS, one port), exactly as before.  With it:
#          strict  PORT    STARTTLS offered (may), PKIDIR/good.full.pem
#                  PORT+1  SMTPS: implicit TLS (wrapper mode, TLS required)
#          open    PORT    STARTTLS offered (may), PKIDIR/good.full.pem
#          certs   all STARTTLS (may) unless stated; relay refused:
#                  PORT+0   good        EC P-256, valid -1 d .. +365 d
#                  PORT+1   expired     -90 d .. -1 d
#                  PORT+2   exp10d      expires in 10 d + 1 h
#                  PORT+3   exp20d      expires in 20 d + 1 h
#                  PORT+4   notyet      valid from +30 d
#                  PORT+5   selfsigned  self-signed leaf, no chain
#                  PORT+6   wronghost   CN/SAN wrong.example.invalid
#                  PORT+7   sha1        RSA-2048, ecdsa-with-SHA1 signature
#                  PORT+8   rsa1024     RSA-1024 key
#                  PORT+9   dual        dualrsa (RSA-2048, +5 d) and dualec
#                                       (EC P-256, +90 d) at the same time;
#                                       the client's sigalgs/ciphers choose
#                  PORT+10  notls       no STARTTLS at all
#                  PORT+11  tls10       goodrsa, TLS 1.0 only
#                  PORT+12  goodrsa     RSA-2048, like good
#                 Postfix runs its TLS contexts at OpenSSL security level 0
#                 and relies on its own cipher grades instead, so the sha1 and
#                 rsa1024 certificates load and TLS 1.0 works with nothing but
#                 smtpd_tls_protocols=TLSv1.  An OpenSSL 3 client needs
#                 -cipher 'DEFAULT@SECLEVEL=0' for TLS 1.0 (and to accept the
#                 sha1/rsa1024 certificates without verify errors 68/66).
#        PF_MAIN_EXTRA (environment, optional): lines appended to main.cf
#        after everything else, so that they win (Postfix keeps the last
#        setting of a parameter), e.g. PF_MAIN_EXTRA='smtpd_tls_protocols =
#        >=TLSv1.2' (tests/integration_posture.sh: Postfix 3.7's default
#        >=TLSv1 takes TLS 1.0 and 1.1 at its security level 0).  The
#        instance's ports are still the MODE's.
#        Log lines: mtaprobe-test-MODE/smtpd (the main port, as without PKI),
#        mtaprobe-test-strict/smtps/smtpd, mtaprobe-test-certs/NAME/smtpd;
#        smtpd_tls_loglevel = 1.
# stop   'postfix -c DIR stop', waits (up to 5 s) for the master to go away
#        (a zombie counts as gone), SIGKILLs that PID only if it is still
#        there, then waits briefly for the instance's ports to close.
#        Succeeds when nothing is running.
#
# Exit: 0 ok; 1 failure (Postfix did not come up: the tail of DIR/maillog is
# printed); 2 usage; 77 Postfix not installed or not root (test "skip").
# One status line on stderr per command.
set -euo pipefail

prog=tests/postfix.sh
# shellcheck source=tests/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"
START_TIMEOUT_MS=20000
STOP_TIMEOUT_MS=5000

usage() {
    echo "usage: $prog start DIR PORT [strict|open|certs] [PKIDIR]" >&2
    echo "       $prog stop DIR" >&2
    exit 2
}
die() { echo "$prog: $*" >&2; exit 1; }


find_postfix() {
    POSTFIX=$(command -v postfix 2>/dev/null || true)
    if [[ -z $POSTFIX && -x /usr/sbin/postfix ]]; then
        POSTFIX=/usr/sbin/postfix
    fi
    if [[ -z $POSTFIX ]]; then
        echo "$prog: Postfix is not installed (run: tests/deps.sh test)" >&2
        exit 77
    fi
}

need_root() {
    if [[ $EUID -ne 0 ]]; then
        echo "$prog: a private Postfix instance needs root" >&2
        exit 77
    fi
}



# connect, read the banner, EHLO, STARTTLS, hang up before the handshake.
# 0: 220 banner and "220 Ready to start TLS"; 3: 220 banner, but STARTTLS is
# not offered or refused; 1: no answer (yet).  (Postfix still advertises
# STARTTLS when its certificate did not load, then answers 454: only the
# STARTTLS reply tells.)
starttls_ok() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        line=
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == 220* ]] || exit 1
        printf 'EHLO probe.example.test\r\n' >&3 || exit 1
        tls=no
        while IFS= read -r -t 2 line <&3; do
            line=${line%$'\r'}
            [[ $line == 250?* ]] || exit 1
            [[ ${line:4} == [Ss][Tt][Aa][Rr][Tt][Tt][Ll][Ss] ]] && tls=yes
            [[ ${line:3:1} == - ]] || break
        done
        [[ $line == 250\ * ]] || exit 1
        if [[ $tls == no ]]; then
            printf 'QUIT\r\n' >&3 || true
            exit 3
        fi
        printf 'STARTTLS\r\n' >&3 || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == 220* ]] || exit 3
        exit 0
    ) 2>/dev/null
}

# implicit TLS: handshake and a 220 banner over TLS (3 s at most)
smtps_ok() {
    local out
    out=$(printf 'QUIT\r\n' | timeout 3 openssl s_client -quiet \
        -connect "127.0.0.1:$1" 2>/dev/null) || true
    [[ $out == 220* ]]
}

# PID exists, is not a zombie, and is a Postfix master
alive() {
    local pid=$1 stat comm
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    # field 3 (state) follows "(comm)", which may itself contain blanks
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == master ]]
}

read_pid() {
    local dir=$1 f pid
    for f in "$dir/master.pid" "$dir/queue/pid/master.pid"; do
        if [[ -s $f ]]; then
            pid=$(tr -d ' \n' <"$f")
            if [[ $pid =~ ^[0-9]+$ ]]; then
                echo "$pid"
                return 0
            fi
        fi
    done
    return 0
}

show_logs() {
    local dir=$1 f
    for f in "$dir/postfix-start.log" "$dir/maillog"; do
        if [[ -s $f ]]; then
            # minus postfix-script's ownership warnings about the hand-made
            # queue inside the config directory: expected, harmless
            echo "----- tail of $f -----" >&2
            grep -Ev 'warning: (not owned by|group or other writable)' "$f" |
                tail -n 25 >&2 || true
        fi
    done
}

# certs mode: NAME per port offset (index = offset from PORT)
CERTS_NAMES=(good expired exp10d exp20d notyet selfsigned wronghost sha1
    rsa1024 dual notls tls10 goodrsa)

# files a PKIDIR must hold for MODE
pki_files() {
    if [[ $1 == certs ]]; then
        echo good expired exp10d exp20d notyet selfsigned wronghost sha1 \
            rsa1024 dualrsa dualec goodrsa | sed 's/[a-z0-9]*/&.full.pem/g'
    else
        echo good.full.pem
    fi
}

# Set the instance's listeners: PORTS[i] and KINDS[i] (plain: banner only,
# starttls: banner + STARTTLS offered, smtps: implicit TLS)
plan_ports() {
    local port=$1 mode=$2 pki=$3 i
    PORTS=() KINDS=()
    if [[ -z $pki ]]; then
        PORTS=("$port") KINDS=(plain)
    elif [[ $mode == certs ]]; then
        for i in "${!CERTS_NAMES[@]}"; do
            PORTS+=($((port + i)))
            if [[ ${CERTS_NAMES[i]} == notls ]]; then
                KINDS+=(plain)
            else
                KINDS+=(starttls)
            fi
        done
    elif [[ $mode == strict ]]; then
        PORTS=("$port" $((port + 1))) KINDS=(starttls smtps)
    else
        PORTS=("$port") KINDS=(starttls)
    fi
}

# master.cf lines for the certs mode listeners
certs_services() {
    local dir=$1 port=$2 pki=$3 i name
    for i in "${!CERTS_NAMES[@]}"; do
        name=${CERTS_NAMES[i]}
        printf '127.0.0.1:%s inet n       -      n      -      -       smtpd\n' $((port + i))
        printf '  -o syslog_name=mtaprobe-test-certs/%s\n' "$name"
        case $name in
            notls)
                printf '  -o smtpd_tls_security_level=none\n' ;;
            dual)
                printf '  -o smtpd_tls_chain_files=%s/dualrsa.full.pem,%s/dualec.full.pem\n' "$pki" "$pki" ;;
            tls10)
                printf '  -o smtpd_tls_chain_files=%s/goodrsa.full.pem\n' "$pki"
                printf '  -o smtpd_tls_protocols=TLSv1\n' ;;
            *)
                printf '  -o smtpd_tls_chain_files=%s/%s.full.pem\n' "$pki" "$name" ;;
        esac
    done
}

write_config() {
    local dir=$1 port=$2 mode=$3 pki=${4-} q d
    mkdir -p "$dir/queue" "$dir/data"
    chown postfix "$dir/data"        # data_directory belongs to mail_owner
    # Queue layout made by hand: same result as
    # 'postfix -c DIR post-install create-missing', which takes seconds.
    q=$dir/queue
    for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        install -d -o postfix -g root -m 700 "$q/$d"
    done
    install -d -o postfix -g postdrop -m 730 "$q/maildrop"
    install -d -o postfix -g postdrop -m 710 "$q/public"
    install -d -o root -g root -m 755 "$q/pid"

    cat >"$dir/main.cf" <<EOF
# generated by $prog ($mode) -- private test instance, do not edit
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = mtaprobe-test-$mode
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mail.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
smtpd_banner = \$myhostname ESMTP mtaprobe-test
# no DNS: the sandbox has none, and a slow resolver must not delay the banner
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_helo_required = no
disable_vrfy_command = yes

# --- nothing may ever leave this box -------------------------------------
# every delivery goes to discard(8); master.cf also maps the smtp, relay,
# lmtp, local and virtual services onto the discard daemon.
local_transport = discard:local
virtual_transport = discard:virtual
default_transport = discard:nowhere
relay_transport = discard:nowhere
EOF

    if [[ $mode != open ]]; then
        cat >>"$dir/main.cf" <<'EOF'

# --- relay policy: strict ------------------------------------------------
# No client is trusted, not even 127.0.0.0/8 (the tests connect from there):
# mail for anything but $mydestination gets "554 5.7.1 Relay access denied".
mynetworks = 127.0.0.2/32
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
EOF
    else
        cat >>"$dir/main.cf" <<'EOF'

# --- relay policy: open ---------------------------------------------------
# Postfix refuses 'smtpd_relay_restrictions = permit' (smtpd dies at start
# and the port hangs), so the open relay trusts every client address.
mynetworks = 0.0.0.0/0 [::]/0
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
EOF
    fi

    if [[ -n $pki ]]; then
        cat >>"$dir/main.cf" <<EOF

# --- TLS ------------------------------------------------------------------
# test PKI made by tests/mkcerts.sh; master.cf overrides the chain per port
smtpd_tls_chain_files = $pki/good.full.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = none
# --- end of TLS -----------------------------------------------------------
EOF
    else
    cat >>"$dir/main.cf" <<'EOF'

# --- TLS ------------------------------------------------------------------
# Plain SMTP only for now: STARTTLS is not offered.  The STARTTLS issue puts
# its smtpd_tls_* settings here (smtpd_tls_chain_files, ...) and adds the
# tlsmgr service to master.cf (see the TLS spot there).
smtpd_tls_security_level = none
smtp_tls_security_level = none
# --- end of TLS -----------------------------------------------------------
EOF
    fi

    if [[ -z $pki ]]; then
    cat >"$dir/master.cf" <<EOF
# generated by $prog ($mode)
# service      type  private unpriv chroot wakeup maxproc command
127.0.0.1:$port inet n       -      n      -      -       smtpd
# --- TLS spot: tlsmgr unix - - n 1000? 1 tlsmgr  (with STARTTLS) ---------
EOF
    else
        {
            echo "# generated by $prog ($mode, PKI $pki)"
            echo "# service      type  private unpriv chroot wakeup maxproc command"
            if [[ $mode == certs ]]; then
                certs_services "$dir" "$port" "$pki"
            else
                # same log lines as without PKIDIR: mtaprobe-test-MODE/smtpd
                printf '127.0.0.1:%s inet n       -      n      -      -       smtpd\n' "$port"
            fi
            if [[ $mode == strict ]]; then
                printf '127.0.0.1:%s inet n       -      n      -      -       smtpd\n' $((port + 1))
                printf '  -o syslog_name=mtaprobe-test-%s/smtps\n' "$mode"
                printf '  -o smtpd_tls_wrappermode=yes\n'
                printf '  -o smtpd_tls_security_level=encrypt\n'
            fi
            # PRNG seeding (and a session cache, were one configured)
            echo "tlsmgr    unix  -       -       n       1000?   1       tlsmgr"
        } >"$dir/master.cf"
    fi
    cat >>"$dir/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# nothing leaves the box: every delivery service is the discard daemon
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       discard
relay     unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       discard
local     unix  -       -       n       -       -       discard
virtual   unix  -       -       n       -       -       discard
EOF

    if [[ -n ${PF_MAIN_EXTRA:-} ]]; then
        printf '\n# --- PF_MAIN_EXTRA (from the environment of %s) ---\n%s\n' \
            "$prog" "$PF_MAIN_EXTRA" >>"$dir/main.cf"
    fi

    # Postfix pauses ("to let the file age") when main.cf was modified within
    # the last second or two: that is 2-3 s of every fresh start.  Backdate.
    touch -d '-1 minute' "$dir/main.cf" "$dir/master.cf"
}

cmd_start() {
    [[ $# -ge 2 && $# -le 4 ]] || usage
    local dir=$1 port=$2 mode=${3:-strict} pki=${4-} t0 pid i p f rc
    if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
        die "bad port: $port"
    fi
    port=$((10#$port))
    case $mode in strict|open|certs) ;; *) die "bad mode: $mode (strict|open|certs)" ;; esac
    if [[ $mode == certs && -z $pki ]]; then
        echo "$prog: mode certs needs PKIDIR (made by tests/mkcerts.sh)" >&2
        usage
    fi
    if [[ -n $pki ]]; then
        [[ -d $pki ]] || die "no such PKI directory: $pki"
        pki=$(cd "$pki" && pwd -P)
        [[ $pki != *[[:space:],]* ]] || die "PKIDIR must not contain blanks or commas: $pki"
        for f in $(pki_files "$mode"); do
            [[ -s $pki/$f ]] || die "$pki/$f missing (run tests/mkcerts.sh $pki)"
        done
    fi
    plan_ports "$port" "$mode" "$pki"
    ((PORTS[-1] <= 65535)) || die "ports $port..${PORTS[-1]}: beyond 65535"
    find_postfix
    need_root
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    [[ $dir != *[[:space:]]* ]] || die "DIR must not contain blanks: $dir"
    # mktemp -d makes 0700; the master opens DIR/data/master.lock as the
    # postfix user, which must be able to reach it
    chmod 755 "$dir"
    if command -v runuser >/dev/null 2>&1 &&
        ! runuser -u postfix -- test -x "$dir" 2>/dev/null; then
        die "user postfix cannot reach $dir (a parent directory is not searchable)"
    fi

    pid=$(read_pid "$dir")
    if alive "$pid"; then
        die "an instance is already running in $dir (master PID $pid)"
    fi
    for p in "${PORTS[@]}"; do
        if port_open "$p"; then
            die "127.0.0.1:$p is already in use"
        fi
    done

    write_config "$dir" "$port" "$mode" "$pki"
    echo "$port" >"$dir/port"
    echo "${PORTS[*]}" >"$dir/ports"
    rm -f "$dir/master.pid"

    t0=$(now_ms)
    if ! "$POSTFIX" -c "$dir" start >"$dir/postfix-start.log" 2>&1; then
        echo "$prog: 'postfix -c $dir start' failed" >&2
        show_logs "$dir"
        cmd_stop "$dir" >/dev/null 2>&1 || true
        exit 1
    fi

    # every listener in turn; the master binds them all at once, the smtpd
    # behind each one starts on the first connection
    for i in "${!PORTS[@]}"; do
        p=${PORTS[i]}
        while :; do
            rc=0
            case ${KINDS[i]} in
                plain) banner_ok "$p" || rc=$? ;;
                starttls) starttls_ok "$p" || rc=$? ;;
                smtps) smtps_ok "$p" || rc=$? ;;
            esac
            ((rc != 0)) || break
            if ((rc == 3)); then
                # a TLS setup problem (certificate refused, ...): it will
                # not go away by waiting
                echo "$prog: Postfix ($dir) on 127.0.0.1:$p answers, but STARTTLS is not offered or refused" >&2
                show_logs "$dir"
                cmd_stop "$dir" >/dev/null 2>&1 || true
                exit 1
            fi
            if (($(now_ms) - t0 > START_TIMEOUT_MS)); then
                echo "$prog: Postfix ($dir) did not answer on 127.0.0.1:$p within $((START_TIMEOUT_MS / 1000)) s" >&2
                show_logs "$dir"
                cmd_stop "$dir" >/dev/null 2>&1 || true
                exit 1
            fi
            sleep 0.05
        done
    done

    pid=$(read_pid "$dir")
    if [[ -z $pid ]]; then
        echo "$prog: no master PID in $dir/queue/pid/master.pid" >&2
        show_logs "$dir"
        exit 1
    fi
    echo "$pid" >"$dir/master.pid"
    if ((${#PORTS[@]} > 1)); then
        p="$port..${PORTS[-1]}"
    else
        p=$port
    fi
    echo "$prog: $mode Postfix on 127.0.0.1:$p${pki:+ (TLS)} up in $(($(now_ms) - t0)) ms (master $pid, $dir)" >&2
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    local dir=$1 pid port ports t0 kids kid
    [[ -d $dir ]] || die "no such directory: $dir"
    dir=$(cd "$dir" && pwd -P)
    pid=$(read_pid "$dir")
    ports=$(cat "$dir/ports" 2>/dev/null || cat "$dir/port" 2>/dev/null || true)
    t0=$(now_ms)

    # 'postfix stop' takes ~1 s when nothing runs: skip it then
    if [[ -f $dir/main.cf ]] && { [[ -z $pid ]] || alive "$pid"; }; then
        POSTFIX=$(command -v postfix 2>/dev/null || echo /usr/sbin/postfix)
        if ! "$POSTFIX" -c "$dir" stop >"$dir/postfix-stop.log" 2>&1 && alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    fi

    while alive "$pid" && (($(now_ms) - t0 < STOP_TIMEOUT_MS)); do
        sleep 0.02
    done
    if alive "$pid"; then
        echo "$prog: master $pid still alive after $((STOP_TIMEOUT_MS / 1000)) s: SIGKILL" >&2
        kids=$(children "$pid")
        kill -KILL "$pid" 2>/dev/null || true
        # its smtpd children hold the listening socket: they would linger
        # for seconds without a master
        for kid in $kids; do
            kill -KILL "$kid" 2>/dev/null || true
        done
    fi

    # the smtpd children share the listening socket; they exit right after
    # the master, wait for that so the caller can reuse the port at once
    for port in $ports; do
        [[ $port =~ ^[0-9]+$ ]] || continue
        while port_open "$port"; do
            if (($(now_ms) - t0 > STOP_TIMEOUT_MS + 2000)); then
                echo "$prog: warning: 127.0.0.1:$port still accepts connections" >&2
                break
            fi
            sleep 0.02
        done
    done
    rm -f "$dir/master.pid"
    echo "$prog: Postfix ($dir) stopped in $(($(now_ms) - t0)) ms" >&2
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" ;;
    *) usage ;;
esac
