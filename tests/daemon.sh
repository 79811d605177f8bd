# shellcheck shell=bash
# tests/daemon.sh - helpers shared by the scripts that start test daemons
# (tests/postfix.sh, tests/exim.sh); sourced, bash.

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
