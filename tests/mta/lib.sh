# shellcheck shell=bash disable=SC2154 # prog, pidfile, conf: set by the script
# tests/mta/lib.sh - what the scripts that run a private MTA from a
# directory share (tests/mta/dovecot.sh, tests/mta/opensmtpd.sh; sourced,
# bash, under set -euo pipefail).  The script sets, before sourcing it:
#   prog     its name, for messages
#   pidfile  the file in DIR where run writes the daemon's PID (run's own,
#            kept down to the daemon by exec)
#   conf     the daemon's configuration file in DIR
# and its setup writes DIR/ports: what ready waits for, "PORT:220" for a
# 220 greeting, a bare PORT for a TCP connect (an implicit-TLS port).
# It provides usage, skip, die, show_help (the script's head comment: line 2-4
# its usage, the rest its help), running, ours, ready and stop.

# port_open, banner_ok, children
# shellcheck source=tests/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/../daemon.sh"

usage() { sed -n '2,4p' "$0" | sed 's/^# /usage: /' >&2; exit 2; }
skip() { echo "SKIP: $prog: $*"; exit 77; }
die() { echo "$prog: $*" >&2; exit 1; }
show_help() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

# PID exists and is not a zombie
running() {
	local st
	[[ $1 =~ ^[0-9]+$ && -r /proc/$1/stat ]] || return 1
	IFS= read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# ours PID DIR: PID runs the daemon with DIR's configuration (a recycled
# PID or another instance does not count); its children are recognised by
# their parent.
ours() {
	local pid=$1 dir=$2 args=() a
	running "$pid" || return 1
	mapfile -t -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
	# the daemon's DIR/$conf, or DIR itself while run's sh has not exec'd
	# the daemon yet
	for a in "${args[@]}"; do
		[[ $a != "$dir/$conf" && $a != "$dir" ]] || return 0
	done
	return 1
}

# ready DIR [SECONDS]: waits (default 10 s) until every port of DIR/ports
# answers; exit 1 if the daemon died or did not answer in time.
ready() {
	[[ $# -ge 1 ]] || usage
	local dir=$1 secs=${2:-10} pid="" p t0=$SECONDS
	for p in $(<"$dir/ports"); do
		until if [[ $p == *:220 ]]; then banner_ok "${p%:220}"; else port_open "$p"; fi; do
			# (run writes the PID file first thing; until then, no verdict)
			[[ -n $pid ]] || pid=$(cat "$dir/$pidfile" 2>/dev/null || true)
			[[ -z $pid ]] || running "$pid" || die "${pidfile%.pid} (PID $pid) is not running"
			if ((SECONDS - t0 >= secs)); then
				[[ $p == *:220 ]] && die "no 220 on 127.0.0.1:${p%:220} within $secs s"
				die "127.0.0.1:$p did not answer within $secs s"
			fi
			sleep 0.05
		done
	done
}

# stop DIR: SIGTERM to the daemon (it ends its children), up to 5 s, then
# SIGKILL to whichever of it and its children is left; exit 0 when nothing
# runs.
stop() {
	[[ $# -eq 1 ]] || usage
	local dir pid kids k left
	[[ -d $1 ]] || return 0
	dir=$(cd "$1" && pwd -P)
	pid=$(cat "$dir/$pidfile" 2>/dev/null || true)
	ours "$pid" "$dir" || return 0
	kids=$(children "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		left=""
		for k in $pid $kids; do running "$k" && left+=" $k"; done
		[[ -n $left ]] || break
		sleep 0.05
	done
	for k in $left; do
		echo "$prog: PID $k still running 5 s after SIGTERM: SIGKILL" >&2
		kill -KILL "$k" 2>/dev/null || true
	done
	rm -f "$dir/$pidfile"
	return 0
}
