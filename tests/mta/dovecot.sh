#!/usr/bin/env bash
# tests/mta/dovecot.sh check [lmtp]
# tests/mta/dovecot.sh setup DIR PKI P_SUB P_SUBS P_TRIP | setup-lmtp DIR PKI P_LMTP
# tests/mta/dovecot.sh run DIR | ready DIR [SECONDS] | stop DIR
#
# A private Dovecot 2.3 submission server (Debian 12's dovecot-core and
# dovecot-submissiond, installed by tests/deps.sh; the packages' own
# system service is never started by these tests, and policy-rc.d keeps
# apt from starting it) for tests/integration_dovecot.sh, or a private
# Dovecot LMTP server (dovecot-lmtpd) for tests/integration_posture.sh.
# Configuration: tests/mta/dovecot/dovecot.conf.in (submission) or
# dovecot_lmtp.conf.in (LMTP), standalone (nothing from /etc/dovecot).
#
#   check   prints the dovecot binary's path and version on stdout; not
#           installed or not root: one line "SKIP: <reason>", exit 77.
#           "check lmtp" wants dovecot-lmtpd instead of dovecot-submissiond.
#   setup   DIR/dovecot.conf (PKI: a tests/mkcerts.sh directory), the
#           passwd-file (user mtaprobe; no test authenticates), base and
#           state directories, then 'doveconf -n' (configuration check).
#           Greeting "220 submit.dovecot.test Dovecot (Debian) ready.";
#           P_SUB plain with STARTTLS, P_SUBS implicit TLS, both 127.0.0.1;
#           P_TRIP is the relay host's port (a tripwire for the caller).
#           DIR (and the directories above it) must be searchable by the
#           dovenull and dovecot users (chmod 755): setup makes DIR so.
#   setup-lmtp  the same for LMTP only: greeting "220 lmtp.dovecot.test
#           Dovecot (Debian) ready.", LHLO, STARTTLS offered, on
#           127.0.0.1:P_LMTP (TCP); mail would be delivered to DIR/mail
#           (no test delivers).
#   run     exec 'dovecot -F -c DIR/dovecot.conf' (foreground) in a private
#           mount namespace where DIR/resolv.conf ("nameserver 127.0.0.1")
#           is /etc/resolv.conf: no DNS query can leave the machine.  The
#           PID (DIR/dovecot.pid) stays the master's: the caller
#           backgrounds it, keeps $!, stops it and waits.  The log (every
#           SMTP command received, at debug level) is DIR/dovecot.log.
#   ready   waits (default 10 s) until both listeners answer (P_SUB a 220);
#           exit 1 if the master died or nothing answered in time.
#   stop    SIGTERM to the master (it ends its children: ~1 s), up to 5 s,
#           then SIGKILL to whichever of it and its children is left.
set -euo pipefail

prog=tests/mta/dovecot.sh
pidfile=dovecot.pid conf=dovecot.conf
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH=$PATH:/usr/sbin:/sbin

# shellcheck source=tests/mta/lib.sh
. "$here/lib.sh" # usage skip die show_help running ours ready stop, children

check() {
	local v
	[[ $# -le 1 && ${1:-submission} == @(submission|lmtp) ]] || usage
	[[ $EUID -eq 0 ]] || skip "a private Dovecot needs root"
	if [[ ${1:-} == lmtp ]]; then
		if ! command -v dovecot >/dev/null 2>&1 || [[ ! -x /usr/lib/dovecot/lmtp ]]; then
			skip "dovecot-core and dovecot-lmtpd are not installed (apt-get install dovecot-lmtpd)"
		fi
	elif ! command -v dovecot >/dev/null 2>&1 || [[ ! -x /usr/lib/dovecot/submission-login ]]; then
		skip "dovecot-core and dovecot-submissiond are not installed (tests/deps.sh test installs them)"
	fi
	command -v unshare >/dev/null 2>&1 || skip "no unshare (util-linux)"
	if ! getent passwd dovecot >/dev/null || ! getent passwd dovenull >/dev/null; then
		skip "the users dovecot and dovenull are missing (reinstall dovecot-core)"
	fi
	v=$(dovecot --version 2>/dev/null) || skip "dovecot --version failed"
	echo "$(command -v dovecot) $v"
}

# setup TEMPLATE READY DIR PKI PORT...: DIR/dovecot.conf from TEMPLATE
# (@P_SUB@ @P_SUBS@ @P_TRIP@ or @P_LMTP@: the PORTs in that order), DIR/ports
# from READY ("@1@:220 @2@": the first PORT answers 220, the second connects).
setup() {
	local tmpl=$here/dovecot/$1 ready=$2 dir=$3 pki=$4 p out name
	shift 4
	for p in "$@"; do
		[[ $p =~ ^[0-9]{1,5}$ ]] || die "bad port: $p"
	done
	[[ -r $pki/good.chain.pem && -r $pki/good.key ]] || die "no test PKI in $pki (tests/mkcerts.sh)"
	mkdir -p "$dir"
	chmod 755 "$dir"
	dir=$(cd "$dir" && pwd -P)
	pki=$(cd "$pki" && pwd -P)
	[[ $dir$pki != *[[:space:]\"\|]* ]] || die "DIR and PKI must not contain blanks, quotes or |"
	rm -rf "$dir/base" "$dir/state" "$dir/dovecot.pid"
	mkdir -p "$dir/base" "$dir/state"
	printf 'mtaprobe:{PLAIN}not-used-by-any-test::::::\n' >"$dir/passwd"
	chmod 644 "$dir/passwd" # read by auth as the dovecot user; a dummy password
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
	# process titles dovecot-NAME/...: tells our instances from a system one
	name=mtaprobe-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
	sed -e "s|@DIR@|$dir|g" -e "s|@PKI@|$pki|g" -e "s|@NAME@|$name|g" -e "s|@P_SUB@|${1-}|g" \
		-e "s|@P_SUBS@|${2-}|g" -e "s|@P_TRIP@|${3-}|g" -e "s|@P_LMTP@|${1-}|g" "$tmpl" >"$dir/dovecot.conf"
	# ready: a 220 on P_SUB (P_LMTP), a connect to P_SUBS
	sed -e "s/@1@/${1-}/" -e "s/@2@/${2-}/" <<<"$ready" >"$dir/ports"
	out=$(doveconf -c "$dir/dovecot.conf" -n 2>&1 >/dev/null) || die "doveconf: $out"
}

run() {
	[[ $# -eq 1 ]] || usage
	local dir target
	dir=$(cd "$1" && pwd -P)
	[[ -f $dir/dovecot.conf ]] || die "no $dir/dovecot.conf: run $prog setup first"
	target=$(readlink -f /etc/resolv.conf || echo /etc/resolv.conf)
	echo $$ >"$dir/dovecot.pid"
	# shellcheck disable=SC2016 # sh expands its own "$1".."$3"
	exec unshare --mount --propagation private -- /bin/sh -ec '
		mount --bind "$1/resolv.conf" "$2"
		exec dovecot -F -c "$1/dovecot.conf"' sh "$dir" "$target"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
check) check "$@" ;;
setup) [[ $# -eq 5 ]] || usage; setup dovecot.conf.in "@1@:220 @2@" "$@" ;;
setup-lmtp) [[ $# -eq 3 ]] || usage; setup dovecot_lmtp.conf.in "@1@:220" "$@" ;;
run) run "$@" ;;
ready) ready "$@" ;;
stop) stop "$@" ;;
-h | --help) show_help ;;
*) usage ;;
esac
