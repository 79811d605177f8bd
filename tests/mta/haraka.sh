#!/usr/bin/env bash
# tests/mta/haraka.sh install
# tests/mta/haraka.sh netns-up NS | netns-down NS
# tests/mta/haraka.sh setup DIR PROFILE PORT PKI [SMTPS_PORT]
# tests/mta/haraka.sh run DIR NS | dns DIR NS
# tests/mta/haraka.sh ready LOG COUNT [SECONDS] | queue DIR
#
# A private Haraka (npm package Haraka, pinned with its whole dependency tree
# by tests/mta/haraka/package-lock.json) for tests/integration_haraka.sh.
# Haraka and several of its plugins treat loopback and private peers as
# trusted (early_talker does not pause for them), so the server runs inside
# a network namespace and the checks reach it over a veth pair as an outside
# client would: 100.64.77.1/24 in the root namespace, 100.64.77.2/24 inside
# (RFC 6598 shared space, which Haraka does not count as private).  The
# namespace has no other route and its own resolver (tests/mta/haraka/
# nxdns.py on its 127.0.0.1:53, answering NXDOMAIN to everything): nothing
# inside it can reach, or look anything up on, any other network.
#
#   install     Haraka into the cache directory $MTAPROBE_HARAKA_CACHE
#               (default /var/cache/mtaprobe-tests/haraka), one
#               subdirectory per lock file (its SHA-256), with 'npm ci'
#               only when that is missing (a fresh machine installs it at
#               test time; later runs reuse it); prints the haraka program's
#               path on stdout and, on stderr, "installed Haraka V in N s"
#               or "Haraka V cached".  No node/npm, or npm fails (no
#               network): "SKIP: <reason>" on stdout, exit 77.
#   netns-up    namespace NS with the veth pair and lo up; namespaces named
#               mtaprobe-hk-PID whose PID is gone (left by a killed run) are
#               deleted first.  Exit 77 with "SKIP: ..." if it cannot.
#   netns-down  deletes NS (and so the veth pair).
#   setup       a Haraka instance in DIR (haraka -i, then config/): me
#               mail.example.test, listening on 100.64.77.2:PORT (and
#               SMTPS_PORT as implicit TLS), one process (nodes=0), log
#               level protocol (every C:/S: line) with timestamps; PKI is a
#               tests/mkcerts.sh directory.  PROFILE:
#                 refuse      relay (acl=true, nobody allowed) +
#                             rcpt_to.in_host_list; host_list example.test
#                 open        the same, relay_acl_allow 100.64.77.0/24: the
#                             test's client may relay
#                 resolvable  mail_from.is_resolvable + rcpt_to.in_host_list:
#                             no sender domain resolves in the namespace,
#                             so MAIL FROM:<x@domain> gets 550, <> passes
#                 early       early_talker (5 s pause before the greeting)
#                             + rcpt_to.in_host_list
#                 early_slow  early + slow_rcpt (every RCPT answered 0.5 s
#                             late: tests/mta/haraka/plugins/slow_rcpt.js)
#                 tls         tls (good.key, good.chain.pem) + relay (acl,
#                             nobody allowed) + rcpt_to.in_host_list;
#                             host_list mail.example.test and example.test
#                             (as 'haraka -i' makes it: its own name too)
#   run         exec Haraka for DIR inside NS in the foreground (the caller
#               backgrounds it, keeps the PID, which is node's own, kills it
#               by that PID and waits); the protocol log on stdout.
#   dns         exec the NXDOMAIN resolver inside NS (foreground, likewise);
#               DIR/resolv.conf points there (run mounts it over
#               /etc/resolv.conf in Haraka's private mount namespace).
#   ready       waits until LOG has COUNT "Listening on" lines (default
#               15 s); exit 1 on timeout.
#   queue       prints how many files DIR's queue directory holds (0 when
#               it does not exist: no queue plugin is configured, nothing
#               is ever queued).
set -euo pipefail

prog=tests/mta/haraka.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmpl=$here/haraka
cache_root=${MTAPROBE_HARAKA_CACHE:-/var/cache/mtaprobe-tests/haraka}
OUT_IP=100.64.77.1
IN_IP=100.64.77.2
NET_LEN=24

usage() { sed -n '2,6p' "$0" | sed 's/^# /usage: /' >&2; exit 2; }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "$prog: $*" >&2; exit 1; }
PATH=$PATH:/usr/sbin:/sbin

cache_dir() {
	local sum
	sum=$(sha256sum "$tmpl/package-lock.json" | cut -c1-16)
	echo "$cache_root/$sum"
}

install() {
	local d bin t0 ms ver log
	command -v node >/dev/null 2>&1 || skip "node not found (Node.js and npm are needed for Haraka)"
	command -v npm >/dev/null 2>&1 || skip "npm not found"
	d=$(cache_dir)
	bin=$d/node_modules/.bin/haraka
	mkdir -p "$cache_root" || skip "cannot create $cache_root"
	exec 9>"$cache_root/.lock"
	flock -w 600 9 || skip "could not lock $cache_root/.lock in 600 s"
	if [[ -f $d/.installed && -x $bin ]]; then
		ver=$(node -p 'require(process.argv[1]).version' "$d/node_modules/Haraka/package.json")
		echo "Haraka $ver cached in $d" >&2
		echo "$bin"
		return 0
	fi
	rm -rf "$d"
	mkdir -p "$d"
	cp "$tmpl/package.json" "$tmpl/package-lock.json" "$d/"
	log=$d/npm.log
	t0=$(date +%s%N)
	# --ignore-scripts: no native builds (Haraka's optional syslog module
	# is not used); the lock file pins every package and its integrity.
	# Bounded: a registry that does not answer must end in a SKIP, not a hang.
	if ! (cd "$d" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
		--fetch-retries=1 --fetch-timeout=30000) >"$log" 2>&1; then
		echo "$prog: npm ci failed: $(grep -m1 -E 'npm (error|ERR!) (code|network)' "$log")" >&2
		mv "$log" "$cache_root/npm-failed.log" 2>/dev/null || true
		rm -rf "$d"
		skip "npm ci of Haraka failed (no registry?): see $cache_root/npm-failed.log"
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	[[ -x $bin ]] || { rm -rf "$d"; skip "npm ci left no $bin"; }
	ver=$(node -p 'require(process.argv[1]).version' "$d/node_modules/Haraka/package.json")
	touch "$d/.installed"
	printf 'installed Haraka %s in %d.%03d s into %s\n' "$ver" $((ms / 1000)) $((ms % 1000)) "$d" >&2
	echo "$bin"
}

veth_names() {	# NS -> "outside inside" interface names (at most 15 chars)
	local id=${1##*-}
	[[ $id =~ ^[0-9]+$ ]] || id=$(printf '%s' "$1" | cksum | cut -c1-7)
	echo "mtphk${id}o mtphk${id}i"
}

netns_up() {
	local ns=$1 o i n pid err
	command -v ip >/dev/null 2>&1 || skip "ip not found (apt-get install iproute2)"
	[[ $EUID -eq 0 ]] || skip "network namespaces with a veth pair need root"
	# left behind by a run that was killed: its PID is gone
	for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $n =~ ^mtaprobe-hk-([0-9]+)$ ]] || continue
		pid=${BASH_REMATCH[1]}
		kill -0 "$pid" 2>/dev/null || ip netns del "$n" 2>/dev/null || true
	done
	read -r o i <<<"$(veth_names "$ns")"
	err=$(ip netns add "$ns" 2>&1) || skip "ip netns add failed: $err"
	if ! err=$({
		ip link add "$o" type veth peer name "$i" &&
			ip link set "$i" netns "$ns" &&
			ip addr add "$OUT_IP/$NET_LEN" dev "$o" &&
			ip link set "$o" up &&
			ip -n "$ns" link set lo up &&
			ip -n "$ns" addr add "$IN_IP/$NET_LEN" dev "$i" &&
			ip -n "$ns" link set "$i" up
	} 2>&1); then
		ip link del "$o" 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		skip "veth pair setup failed: $err"
	fi
}

netns_down() {
	local ns=$1 o i
	read -r o i <<<"$(veth_names "$ns")"
	ip netns del "$ns" 2>/dev/null || true
	ip link del "$o" 2>/dev/null || true
}

setup() {
	local dir=$1 profile=$2 port=$3 pki=$4 smtps=${5:-} bin c plugins hosts listen
	bin=$(cache_dir)/node_modules/.bin/haraka
	[[ -x $bin ]] || die "Haraka not installed: run $prog install"
	case $profile in
	refuse | open) plugins="relay rcpt_to.in_host_list" hosts="example.test" ;;
	resolvable) plugins="mail_from.is_resolvable rcpt_to.in_host_list" hosts="example.test" ;;
	early) plugins="early_talker rcpt_to.in_host_list" hosts="example.test" ;;
	early_slow) plugins="early_talker rcpt_to.in_host_list slow_rcpt" hosts="example.test" ;;
	tls) plugins="tls relay rcpt_to.in_host_list" hosts="mail.example.test example.test" ;;
	*) die "unknown profile '$profile'" ;;
	esac
	rm -rf "$dir"
	"$bin" -i "$dir" >/dev/null 2>&1 || die "haraka -i $dir failed"
	c=$dir/config
	echo mail.example.test >"$c/me"
	printf '%s\n' $hosts >"$c/host_list"
	printf '%s\n' $plugins >"$c/plugins"
	listen=$IN_IP:$port
	[[ -n $smtps ]] && listen+=",$IN_IP:$smtps"
	{
		echo "listen=$listen"
		echo "nodes=0"
		echo "smtps_port=${smtps:-465}"
		echo "inactivity_timeout=30"
		echo "force_shutdown_timeout=2"
	} >"$c/smtp.ini"
	printf '[main]\nlevel=protocol\ntimestamps=true\nformat=default\n' >"$c/log.ini"
	printf '[relay]\nacl=true\n' >"$c/relay.ini"
	: >"$c/relay_acl_allow"
	[[ $profile == open ]] && echo "${IN_IP%.*}.0/$NET_LEN" >"$c/relay_acl_allow"
	if [[ $profile == tls ]]; then
		cp "$pki/good.key" "$c/tls_key.pem"
		cp "$pki/good.chain.pem" "$c/tls_cert.pem"
		printf '[main]\nkey=tls_key.pem\ncert=tls_cert.pem\n' >"$c/tls.ini"
	fi
	if [[ $profile == early_slow ]]; then
		mkdir -p "$dir/plugins"
		cp "$tmpl/plugins/slow_rcpt.js" "$dir/plugins/"
		printf '[main]\ndelay_ms=500\n' >"$c/slow_rcpt.ini"
	fi
	echo "nameserver 127.0.0.1" >"$dir/resolv.conf"
}

run() {
	local dir=$1 ns=$2 bin
	bin=$(cache_dir)/node_modules/.bin/haraka
	[[ -x $bin ]] || die "Haraka not installed: run $prog install"
	[[ -f $dir/resolv.conf ]] || die "$dir is not set up"
	# ip netns exec gives the command a private mount namespace (slave of
	# the root one): the bind mount of resolv.conf is seen by Haraka only.
	# Both the shell and ip exec: the caller's PID ends up being node's.
	exec ip netns exec "$ns" bash -c 'mount --bind "$1/resolv.conf" /etc/resolv.conf && exec "$2" -c "$1"' \
		_ "$(cd "$dir" && pwd)" "$bin"
}

dns() {
	local dir=$1 ns=$2
	exec ip netns exec "$ns" /usr/bin/python3 -u "$tmpl/nxdns.py" 127.0.0.1 53
}

ready() {
	local log=$1 count=$2 secs=${3:-15} i n
	for ((i = 0; i < secs * 20; i++)); do
		n=$(grep -c 'Listening on' "$log" 2>/dev/null || true)
		[[ ${n:-0} -ge $count ]] && return 0
		sleep 0.05
	done
	return 1
}

queue() {
	local q=$1/queue
	if [[ -d $q ]]; then find "$q" -type f | wc -l; else echo 0; fi
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
install) [[ $# -eq 0 ]] || usage; install ;;
netns-up) [[ $# -eq 1 ]] || usage; netns_up "$1" ;;
netns-down) [[ $# -eq 1 ]] || usage; netns_down "$1" ;;
setup) [[ $# -ge 4 && $# -le 5 ]] || usage; setup "$@" ;;
run) [[ $# -eq 2 ]] || usage; run "$@" ;;
dns) [[ $# -eq 2 ]] || usage; dns "$@" ;;
ready) [[ $# -ge 2 ]] || usage; ready "$@" ;;
queue) [[ $# -eq 1 ]] || usage; queue "$1" ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
*) usage ;;
esac
