# shellcheck shell=bash
# tests/daemon.sh - helpers shared by the scripts that start test daemons
# (tests/postfix.sh, tests/exim.sh, tests/dns.sh, tests/sts/bed.sh,
# tests/mta/*.sh); sourced, bash.

now_ms() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo $((t / 1000))
    else
        date +%s%3N
    fi
}

# TCP connect to 127.0.0.1:PORT succeeds (something listens)
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# connect, read one line (2 s), say QUIT; true if the line is a 220 banner
banner_ok() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        line=
        IFS= read -r -t 2 line <&3 || true
        printf 'QUIT\r\n' >&3 || true
        [[ $line == 220* ]]
    ) 2>/dev/null
}

# PIDs whose parent is $1
children() {
    local f st rest
    for f in /proc/[0-9]*/stat; do
        IFS= read -r st 2>/dev/null <"$f" || continue
        rest=${st##*) }          # "S PPID ..."
        rest=${rest#* }
        if [[ ${rest%% *} == "$1" ]]; then
            st=${f#/proc/}
            echo "${st%/stat}"
        fi
    done
}

# state letter of PID (R, S, Z ...); fails when there is no such process
pstate() {
    local s
    { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
    s=${s##*) }
    echo "${s%% *}"
}

# PID exists and is not a zombie
alive() {
    local s
    s=$(pstate "$1") || return 1
    [[ $s != Z && $s != X ]]
}

# PID is alive and is program NAME (guards against a recycled PID).  NSD
# renames its processes: "nsd: xfrd", "nsd: main", "nsd: server 1".
is_prog() {
    local c
    alive "$1" || return 1
    { read -r c <"/proc/$1/comm"; } 2>/dev/null || return 1
    [[ $c == "$2" || $c == "$2: "* ]]
}

# descendants PID: the PIDs of its children, grandchildren ...
descendants() {
    local f s pid ppid
    local -A kids=()
    for f in /proc/[0-9]*/stat; do
        { read -r s <"$f"; } 2>/dev/null || continue
        s=${s##*) }
        s=${s#* }
        pid=${f#/proc/}
        pid=${pid%/stat}
        ppid=${s%% *}
        kids[$ppid]+=" $pid"
    done
    local queue=("$1") p k
    while [[ ${#queue[@]} -gt 0 ]]; do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        for k in ${kids[$p]-}; do
            echo "$k"
            queue+=("$k")
        done
    done
}

# wait_gone SECONDS PID...: until none of the PIDs is alive; fails on timeout
wait_gone() {
    local n=$(($1 * 20)) p left
    shift
    while :; do
        left=0
        for p in "$@"; do
            alive "$p" && left=1
        done
        [[ $left == 0 ]] && return 0
        ((n-- > 0)) || return 1
        sleep 0.05
    done
}

# stop_pid NAME PID [SECONDS]: SIGTERM to PID if it is still program NAME,
# then wait (SECONDS, default 5); SIGKILL by PID only when it or one of its
# descendants of the same name is still there.  Messages name ${prog:-}.
stop_pid() {
    local name=$1 pid=$2 secs=${3:-5} kids=() k
    [[ $pid =~ ^[0-9]+$ ]] && is_prog "$pid" "$name" || return 0
    mapfile -t kids < <(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$secs" "$pid"; then
        echo "${prog:-daemon}: $name (pid $pid) still there $secs s after SIGTERM: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone 2 "$pid" || true
    fi
    if [[ ${#kids[@]} -gt 0 ]] && ! wait_gone 2 "${kids[@]}"; then
        for k in "${kids[@]}"; do
            if is_prog "$k" "$name"; then
                echo "${prog:-daemon}: $name child (pid $k) left behind: SIGKILL" >&2
                kill -KILL "$k" 2>/dev/null || true
            fi
        done
        wait_gone 2 "${kids[@]}" || true
    fi
}
