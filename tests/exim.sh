#!/usr/bin/env bash
# tests/exim.sh start DIR PORT open|refuse
# tests/exim.sh stop DIR
# tests/exim.sh queue DIR
#
# A private, throw-away Exim 4 instance for the integration tests, next to
# the Postfix ones (tests/postfix.sh).  Debian's Exim package conflicts with
# the installed Postfix (both are the system MTA), so the binary is taken
# from the package without installing it: 'apt-get download
# exim4-daemon-light' + 'dpkg-deb -x', cached under $MTAPROBE_CACHE
# (default: build/exim-pkg in the repository, so 'make clean' removes it).
# The first start needs Debian's mirror (~1.5 s; if the download fails, one
# 'apt-get update' and a second try, for a stale package list); later ones
# use the cache and are up in ~40-70 ms.  The runtime libraries
# (libgnutls-dane0 libidn12 libnsl2) come from 'tests/deps.sh test'.
# Only exim4-daemon-light is needed: exim4-base holds helper scripts, the
# init script and cron jobs, nothing the daemon uses.
#
# start  writes DIR/exim.conf (DIR: a fresh directory from the caller, e.g.
#        mktemp -d; created if missing), runs 'exim4 -C DIR/exim.conf -bdf
#        -q30m' detached in the background (setsid; the daemon outlives this
#        script), writes the daemon's PID to DIR/exim.pid and waits (up to
#        10 s) for a 220 banner on 127.0.0.1:PORT.
#          banner:   220 exim.example.test ESMTP Exim-test
#          open:     open relay: RCPT TO any domain is accepted.
#          refuse:   RCPT TO a domain other than exim.example.test gets
#                    "550 relay not permitted"; at exim.example.test only
#                    postmaster and mtaprobe are accepted, local parts with
#                    @ % ! / | get "550 restricted characters in address"
#                    (as in Debian's stock configuration), others "550
#                    unknown user".
#        Whatever is accepted is routed to :blackhole: (there is no transport
#        at all in the configuration): nothing ever leaves the machine.
#        Listens on 127.0.0.1:PORT only, IPv6 off, no STARTTLS, no DNS or
#        ident lookups.  Spool DIR/spool, logs DIR/log/{main,reject,panic}log,
#        daemon output DIR/exim.out.
# stop   SIGTERM to the PID in DIR/exim.pid and to its children (connection
#        handlers: a client still connected gets "421 exim.example.test:
#        Service not available - closing connection"), waits up to 5 s (a
#        zombie counts as gone), then SIGKILL to whichever of these PIDs is
#        still there; waits for the port to close.  A PID counts only while
#        it is an exim process started with -C DIR/exim.conf.  Succeeds when
#        nothing is running (also when DIR does not exist).
# queue  prints the number of messages in the instance's queue
#        ('exim4 -C DIR/exim.conf -bpc'), e.g. to assert that nothing was
#        accepted for delivery.
#
# System changes: the Debian binary refuses to run without the system user
# 'Debian-exim' (compiled in, even though the configuration here runs
# everything as root), so start creates it when it is missing
# (useradd --system --no-create-home --shell /usr/sbin/nologin Debian-exim)
# and leaves it in place: it owns no files and has no login shell.
#
# Exit: 0 ok; 1 failure (Exim did not come up: the log tail is printed);
# 2 usage; 77 test "skip": not root, the package could not be downloaded or
# extracted, or runtime libraries are missing (one line "SKIP: <reason>" on
# stderr).  One status line on stderr per command.
set -euo pipefail

prog=tests/exim.sh
# shellcheck source=tests/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"
START_TIMEOUT_MS=10000
STOP_TIMEOUT_MS=5000
PKG=exim4-daemon-light
USER_NAME=Debian-exim

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

usage() {
    echo "usage: $prog start DIR PORT open|refuse" >&2
    echo "       $prog stop DIR" >&2
    echo "       $prog queue DIR" >&2
    exit 2
}
die() { echo "$prog: $*" >&2; exit 1; }
skip() { echo "SKIP: $prog: $*" >&2; exit 77; }


cache_dir() {
    local c=${MTAPROBE_CACHE:-$repo/build/exim-pkg}
    [[ $c == /* ]] || c=$repo/$c
    echo "$c"
}



# PID exists and is not a zombie (whatever it runs).  Builtins only, like
# the next two: they run in polling loops.
running() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
    IFS= read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    # field 3 (state) follows "(comm)", which may itself contain blanks
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# alive PID CONF: PID is running an Exim process started with -C CONF (a
# recycled PID or another instance's Exim does not count)
alive() {
    local pid=$1 conf=$2 comm arg args=()
    running "$pid" || return 1
    IFS= read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
    [[ $comm == exim* ]] || return 1
    # empty while the process is exiting: counts as gone
    mapfile -t -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do
        [[ $arg != "$conf" ]] || return 0
    done
    return 1
}

read_pid() {
    local f=$1/exim.pid pid
    if [[ -s $f ]]; then
        pid=$(tr -d ' \n' <"$f")
        if [[ $pid =~ ^[0-9]+$ ]]; then
            echo "$pid"
        fi
    fi
    return 0
}

show_logs() {
    local dir=$1 f
    for f in "$dir/exim.out" "$dir/log/paniclog" "$dir/log/mainlog"; do
        if [[ -s $f ]]; then
            echo "----- tail of $f -----" >&2
            tail -n 25 "$f" >&2 || true
        fi
    done
}

need_root() {
    if [[ $EUID -ne 0 ]]; then
        skip "a private Exim instance needs root (the Debian binary, the $USER_NAME user)"
    fi
}

# Set EXIM to the cached binary; download and extract the package first if
# needed.  Parallel starts share the cache: the first one fetches, the others
# wait on the lock.
get_exim() {
    local cache tmp deb missing
    cache=$(cache_dir)
    EXIM=$cache/root/usr/sbin/exim4
    if [[ ! -x $EXIM ]]; then
        command -v apt-get >/dev/null 2>&1 || skip "no apt-get (not Debian?): cannot fetch $PKG"
        command -v dpkg-deb >/dev/null 2>&1 || skip "no dpkg-deb (not Debian?): cannot extract $PKG"
        mkdir -p "$cache" || skip "cannot create $cache"
        exec 8>"$cache/.lock"
        if command -v flock >/dev/null 2>&1; then
            flock -w 300 8 || skip "could not get the lock $cache/.lock"
        fi
        if [[ ! -x $EXIM ]]; then
            echo "$prog: fetching $PKG into $cache (first use)" >&2
            tmp=$(mktemp -d "$cache/tmp.XXXXXX")
            # root downloading into a directory the _apt user cannot reach
            # makes apt print a harmless warning: the log is shown on failure
            # only.  A stale package list (the version was replaced on the
            # mirror) is refreshed once.
            if ! (cd "$tmp" && apt-get -q download "$PKG") >"$tmp/apt.log" 2>&1; then
                if ! { apt-get -q update && (cd "$tmp" && apt-get -q download "$PKG"); } >>"$tmp/apt.log" 2>&1; then
                    tail -n 5 "$tmp/apt.log" >&2 || true
                    rm -rf "$tmp"
                    skip "'apt-get download $PKG' failed (no network to the Debian mirror?)"
                fi
            fi
            deb=$(find "$tmp" -maxdepth 1 -name "${PKG}_*.deb" -print -quit)
            if [[ -z $deb ]] || ! dpkg-deb -x "$deb" "$tmp/root" 2>>"$tmp/apt.log" ||
                [[ ! -x $tmp/root/usr/sbin/exim4 ]]; then
                tail -n 5 "$tmp/apt.log" >&2 || true
                rm -rf "$tmp"
                skip "could not extract ${deb:-$PKG} (dpkg-deb -x)"
            fi
            # the package's binary is setuid root; we always run it as root,
            # and a setuid MTA in a build directory helps nobody
            chmod u-s "$tmp/root/usr/sbin/exim4"
            rm -rf "$cache/root" "$cache"/"${PKG}"_*.deb
            mv "$deb" "$cache/"
            mv "$tmp/root" "$cache/root"
            rm -rf "$tmp"
        fi
        exec 8>&-
    fi
    if command -v ldd >/dev/null 2>&1; then
        missing=$({ ldd "$EXIM" 2>/dev/null || true; } | awk '/not found/ { printf "%s ", $1 }')
        if [[ -n $missing ]]; then
            skip "runtime libraries missing for $EXIM: ${missing% } (run: tests/deps.sh test)"
        fi
    fi
}

ensure_user() {
    if ! getent passwd "$USER_NAME" >/dev/null 2>&1; then
        command -v useradd >/dev/null 2>&1 || skip "no useradd: cannot create the $USER_NAME user"
        # a parallel start may have created it meanwhile: check again
        if ! useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" 2>/dev/null &&
            ! getent passwd "$USER_NAME" >/dev/null 2>&1; then
            skip "could not create the system user $USER_NAME"
        fi
        echo "$prog: created the system user $USER_NAME (left in place)" >&2
    fi
}

write_config() {
    local dir=$1 port=$2 mode=$3
    mkdir -p "$dir/spool" "$dir/log"
    {
        cat <<EOF
# generated by $prog ($mode) -- private test instance, do not edit
keep_environment =
exim_path = $EXIM
# everything runs as root: no spool ownership games, and no dependence on
# the Debian-exim user beyond its mere existence (the binary insists)
exim_user = root
exim_group = root
never_users =
primary_hostname = exim.example.test
qualify_domain = exim.example.test
spool_directory = $dir/spool
log_file_path = $dir/log/%slog
pid_file_path = $dir/exim-daemon.pid
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error +smtp_no_mail
daemon_smtp_ports = $port
local_interfaces = 127.0.0.1
disable_ipv6 = true
smtp_banner = \$smtp_active_hostname ESMTP Exim-test
# no DNS (the sandbox may have none) and no ident callbacks
host_lookup =
rfc1413_hosts =
# no TLS: STARTTLS is not offered (4.96 would otherwise advertise it with a
# self-made certificate).  Without a tls_certificate the daemon still makes
# that self-signed key and certificate at start-up (0.1-1 s of CPU), and it
# preloads the system CA bundle: a certificate path that needs expanding
# (never expanded: nothing uses TLS) and no CA bundle skip both.
tls_advertise_hosts =
tls_certificate = \$spool_directory/no-tls.pem
tls_verify_certificates =
# nothing may stay queued forever
timeout_frozen_after = 1h

domainlist local_domains = exim.example.test
acl_smtp_rcpt = acl_rcpt

begin acl
acl_rcpt:
EOF
        if [[ $mode == open ]]; then
            cat <<'EOF'
  # open relay: every recipient, any domain
  accept
EOF
        else
            cat <<'EOF'
  # relaying refused for every client, 127.0.0.0/8 included; local parts
  # with routing characters refused as Debian's stock configuration does;
  # only known local users accepted (no catch-all)
  deny   domains = +local_domains
         local_parts = ^[.] : ^.*[@%!/|]
         message = restricted characters in address
  accept domains = +local_domains
         local_parts = postmaster : mtaprobe
  deny   domains = +local_domains
         message = unknown user
  deny   message = relay not permitted
EOF
        fi
        cat <<'EOF'

# --- nothing may ever leave this box ------------------------------------
# one router for every address, to :blackhole:; there are no transports
begin routers
blackhole:
  driver = redirect
  data = :blackhole:
EOF
    } >"$dir/exim.conf"
    # Exim refuses a configuration file that is writable by others
    chmod 644 "$dir/exim.conf"
}

cmd_start() {
    [[ $# -eq 3 ]] || usage
    local dir=$1 port=$2 mode=$3 t0 pid daemon_pid
    if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
        die "bad port: $port"
    fi
    port=$((10#$port))
    case $mode in open|refuse) ;; *) die "bad mode: $mode (open|refuse)" ;; esac
    need_root
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    [[ $dir != *[[:space:]:]* ]] || die "DIR must not contain blanks or colons: $dir"

    pid=$(read_pid "$dir")
    if alive "$pid" "$dir/exim.conf"; then
        die "an instance is already running in $dir (PID $pid)"
    fi
    if port_open "$port"; then
        die "127.0.0.1:$port is already in use"
    fi
    get_exim
    ensure_user

    write_config "$dir" "$port" "$mode"
    echo "$port" >"$dir/port"
    rm -f "$dir/exim.pid" "$dir/exim-daemon.pid"

    t0=$(now_ms)
    # Detached: own session, no terminal, stdio to a file and every other
    # inherited descriptor closed, so that a caller's $(...) or pipe does not
    # wait for the daemon.  setsid does not fork here (a background job of a
    # non-interactive shell is no process group leader), so $! is Exim.
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then
                eval "exec $fd>&-"
            fi
        done
        exec setsid "$EXIM" -C "$dir/exim.conf" -bdf -q30m
    ) </dev/null >"$dir/exim.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/exim.pid"

    # (for the first few milliseconds $! is still the subshell, not Exim)
    while ! banner_ok "$port"; do
        if ! running "$pid"; then
            echo "$prog: Exim ($dir) exited during start-up" >&2
            show_logs "$dir"
            exit 1
        fi
        if (($(now_ms) - t0 > START_TIMEOUT_MS)); then
            echo "$prog: Exim ($dir) did not answer on 127.0.0.1:$port within $((START_TIMEOUT_MS / 1000)) s" >&2
            show_logs "$dir"
            cmd_stop "$dir" >/dev/null 2>&1 || true
            # still our child (not reaped), so the PID is still ours even
            # if it is not recognisably Exim
            if running "$pid"; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
            exit 1
        fi
        sleep 0.02
    done
    # the banner must come from the daemon we started (its own PID file
    # names it), not from someone who grabbed the port meanwhile
    daemon_pid=$(tr -d ' \n' <"$dir/exim-daemon.pid" 2>/dev/null || true)
    if ! alive "$pid" "$dir/exim.conf" || [[ $daemon_pid != "$pid" ]]; then
        echo "$prog: 127.0.0.1:$port answers, but Exim PID $pid (PID file: ${daemon_pid:-none}) is not the daemon" >&2
        show_logs "$dir"
        cmd_stop "$dir" >/dev/null 2>&1 || true
        exit 1
    fi
    echo "$prog: $mode Exim on 127.0.0.1:$port up in $(($(now_ms) - t0)) ms (PID $pid, $dir)" >&2
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    local dir=$1 conf pid port t0 kids kid left
    if [[ ! -d $dir ]]; then
        echo "$prog: no such directory: $dir (nothing running)" >&2
        return 0
    fi
    dir=$(cd "$dir" && pwd -P)
    conf=$dir/exim.conf
    pid=$(read_pid "$dir")
    port=$(cat "$dir/port" 2>/dev/null || true)
    t0=$(now_ms)
    if ! alive "$pid" "$conf"; then
        rm -f "$dir/exim.pid"
        echo "$prog: Exim ($dir) not running" >&2
        return 0
    fi

    # The daemon's children (one per open SMTP connection, a queue runner)
    # outlive it: a connection handler waits for its client for up to
    # smtp_receive_timeout (5 min).  Note them now, before they are
    # re-parented, and end them too.
    kids=$(children "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for kid in $kids; do
        if alive "$kid" "$conf"; then
            kill -TERM "$kid" 2>/dev/null || true
        fi
    done
    while (($(now_ms) - t0 < STOP_TIMEOUT_MS)); do
        left=0
        for kid in "$pid" $kids; do
            if alive "$kid" "$conf"; then
                left=1
                break
            fi
        done
        ((left)) || break
        sleep 0.02
    done
    for kid in "$pid" $kids; do
        if alive "$kid" "$conf"; then
            echo "$prog: Exim $kid still alive after $((STOP_TIMEOUT_MS / 1000)) s: SIGKILL" >&2
            kill -KILL "$kid" 2>/dev/null || true
        fi
    done

    # the caller may reuse the port at once
    if [[ $port =~ ^[0-9]+$ ]]; then
        while port_open "$port"; do
            if (($(now_ms) - t0 > STOP_TIMEOUT_MS + 2000)); then
                echo "$prog: warning: 127.0.0.1:$port still accepts connections" >&2
                break
            fi
            sleep 0.02
        done
    fi
    rm -f "$dir/exim.pid"
    echo "$prog: Exim ($dir) stopped in $(($(now_ms) - t0)) ms" >&2
}

cmd_queue() {
    [[ $# -eq 1 ]] || usage
    local dir=$1
    [[ -f $dir/exim.conf ]] || die "no Exim instance in $dir (no exim.conf)"
    dir=$(cd "$dir" && pwd -P)
    need_root
    EXIM=$(sed -n 's/^exim_path = //p' "$dir/exim.conf")
    [[ -x $EXIM ]] || die "Exim binary $EXIM is gone (cache removed?)"
    "$EXIM" -C "$dir/exim.conf" -bpc
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    queue) cmd_queue "$@" ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" ;;
    *) usage ;;
esac

# ---------------------------------------------------------------------------
# Replies recorded 2026-11-28, Exim 4.96-15+deb12u11 with the configuration
# above, 'open' on 127.0.0.1:10325 and 'refuse' on :10326 side by side,
# client waiting for every reply (no pipelining), RSET after each case.
# Identical in both modes:
#   greeting  220 exim.example.test ESMTP Exim-test
#   EHLO probe.example.org
#             250-exim.example.test Hello probe.example.org [127.0.0.1]
#             250-SIZE 52428800
#             250-8BITMIME
#             250-PIPELINING
#             250-PIPECONNECT
#             250-CHUNKING
#             250-SMTPUTF8
#             250 HELP
#   MAIL FROM (every sender below, <> included)   250 OK
#   RSET      250 Reset OK
#   QUIT      221 exim.example.test closing connection
#             (~200 ms late: Exim waits up to 200 ms for the client to close
#             or send more before it writes the 221)
#   STARTTLS  503 STARTTLS command used when not advertised
#
# MAIL FROM                     RCPT TO                                     open          refuse
# <mtaprobe@example.org>        <mtaprobe@example.net>                      250 Accepted  550 relay not permitted
# <>                            <mtaprobe@example.net>                      250 Accepted  550 relay not permitted
# <mtaprobe@example.org>        <mtaprobe%example.net@exim.example.test>    250 Accepted  250 Accepted (*)
# <mtaprobe@example.org>        <"mtaprobe@example.net">                    501 (a)       501 (a)
# <mtaprobe@example.org>        <"mtaprobe@example.net"@exim.example.test>  250 Accepted  250 Accepted (*)
# <mtaprobe@example.org>        <mtaprobe@example.net@exim.example.test>    501 (b)       501 (b)
# <mtaprobe@example.org>        <@exim.example.test:mtaprobe@example.net>   250 Accepted  550 relay not permitted (c)
# <mtaprobe@example.org>        <example.net!mtaprobe>                      501 (d)       501 (d)
# <mtaprobe@example.org>        <example.net!mtaprobe@exim.example.test>    250 Accepted  250 Accepted (*)
# <mtaprobe@example.org>        <mtaprobe%example.net@[127.0.0.1]>          501 (e)       501 (e)
# <mtaprobe@exim.example.test>  <mtaprobe@example.net>                      250 Accepted  550 relay not permitted
#
# (a) 501 <"mtaprobe@example.net">: recipient address must contain a domain
#     (rejectlog: "unqualified recipient rejected")
# (b) 501 <mtaprobe@example.net@exim.example.test>: malformed address: @exim.example.test> may not follow <mtaprobe@example.net
# (c) the source route is ignored (RFC 1123 allows that): the relay check
#     sees mtaprobe@example.net (the rejectlog shows the address as sent)
# (d) 501 <example.net!mtaprobe>: recipient address must contain a domain
#     (rejectlog: "unqualified recipient rejected")
# (e) 501 <mtaprobe%example.net@[127.0.0.1]>: domain literals not allowed
# (*) not relaying: Exim does no percent hack (percent_hack_domains is
#     empty) and no bang paths, so the whole local part
#     ("mtaprobe%example.net", "mtaprobe@example.net", "example.net!mtaprobe")
#     belongs to the local domain and is routed to :blackhole:.  An SMTP
#     client cannot tell this 250 from a real percent-hack relay.  This
#     table was taken with an earlier catch-all 'refuse' configuration; the
#     'refuse' mode now rejects such local parts as Debian's stock exim4
#     configuration does ("550 restricted characters in address") and
#     unknown local parts ("550 unknown user"), so the (*) rows are 550.
#     check_mta_relay --thorough sends a control recipient first and calls
#     accepted tricks at a catch-all domain inconclusive (WARNING).
# 'tests/exim.sh queue' afterwards: 0 for both.
