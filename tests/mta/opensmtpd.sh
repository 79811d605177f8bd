#!/usr/bin/env bash
# tests/mta/opensmtpd.sh fetch
# tests/mta/opensmtpd.sh setup DIR PKI P_REFUSE P_OPEN P_CATCH P_LOCAL P_TRIP
# tests/mta/opensmtpd.sh run DIR | ready DIR [SECONDS] | stop DIR | queue DIR
#
# A private OpenSMTPD 6.8 (Debian 12's opensmtpd package) for
# tests/integration_opensmtpd.sh.  The package conflicts with the installed
# Postfix (both are the system MTA), so it is not installed: 'apt-get
# download opensmtpd' + 'dpkg-deb -x' into the cache $MTAPROBE_OPENSMTPD_CACHE
# (default /var/cache/mtaprobe-tests/opensmtpd: the .deb and root/, the
# unpacked tree; a second run is offline).  Its libraries (libevent-2.1-7,
# libdb5.3, libpam0g, libssl3, libcrypt1, zlib1g) are Debian packages that
# tests/deps.sh installs; a missing one is a SKIP naming it.
#
# smtpd hard-codes /var/spool/smtpd, /var/run/smtpd.sock (and .pid) and
# /etc/resolv.conf, so every instance runs in a private mount namespace
# (unshare -m, propagation private: nothing is mounted in the caller's
# namespace, and the mounts go away with the last process) where DIR/spool
# is /var/spool, DIR/run is /run and DIR/resolv.conf ("lookup file": no DNS
# query ever leaves the daemon; OpenSMTPD looks up every client's PTR name)
# is /etc/resolv.conf.  So several instances can run at once.
#
#   fetch   the unpacked package in the cache (download on first use; a
#           stale package list gets one 'apt-get update'), the system users
#           opensmtpd and opensmtpq (compiled into the Debian build) and the
#           chroot directory /var/lib/opensmtpd/empty if missing (left in
#           place: the users own no files and have no login shell); prints
#           the smtpd path on stdout, a note on stderr.  Not root, no
#           apt-get/dpkg-deb/unshare, no network, a missing library: one
#           line "SKIP: <reason>" on stdout, exit 77.
#   setup   DIR/smtpd.conf from tests/mta/opensmtpd/smtpd.conf.in (PKI is a
#           tests/mkcerts.sh directory), the tables, spool/run/maildir
#           directories, then 'smtpd -n' (configuration check).  Listeners,
#           all on 127.0.0.1, greeting "220 mx.osmtpd.test ESMTP OpenSMTPD":
#             P_REFUSE  stock policy: own domain local users only, relaying
#                       for local clients (127.0.0.1) only; STARTTLS offered
#             P_OPEN    relays for anybody
#             P_CATCH   catch-all at mx.osmtpd.test and [127.0.0.1]
#             P_LOCAL   catch-all at OpenSMTPD's "local" names ([127.0.0.1],
#                       localhost, the host name -- not mx.osmtpd.test)
#           P_TRIP is the relay action's next hop: the caller may listen
#           there to prove that nothing ever connects.
#   run     exec smtpd -d -v -T smtp -T expand (foreground, every SMTP line
#           and every address expansion on stderr) in its namespace; the
#           PID (written to DIR/smtpd.pid) stays the daemon's: the caller
#           backgrounds it, keeps $!, stops it (stop, or SIGTERM) and waits.
#   ready   waits (default 10 s) until every listener answers 220; exit 1 if
#           the daemon died or did not answer in time.
#   stop    SIGTERM to the daemon (it ends its children), up to 5 s, then
#           SIGKILL to whichever of it and its children is left; exit 0
#           when nothing runs.
#   queue   prints how many files the spool's queue directories and the
#           maildirs hold (0: nothing was ever accepted for delivery).
#
# STARTTLS is broken in this build against Debian 12's OpenSSL 3 (its
# privilege-separated key engine): the server logs "io-error:
# error:0A080006:SSL routines::EVP lib" (after "elliptic curve
# routines::missing private key", or "Provider routines::RSA lib" with an
# RSA key) and the client gets "tlsv1 alert internal error".  The tests
# assert that our plugins report exactly that.
set -euo pipefail

prog=tests/mta/opensmtpd.sh
pidfile=smtpd.pid conf=smtpd.conf
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmpl=$here/opensmtpd/smtpd.conf.in
cache=${MTAPROBE_OPENSMTPD_CACHE:-/var/cache/mtaprobe-tests/opensmtpd}
SMTPD=$cache/root/usr/sbin/smtpd
PKG=opensmtpd
CHROOT=/var/lib/opensmtpd/empty
PATH=$PATH:/usr/sbin:/sbin

# shellcheck source=tests/mta/lib.sh
. "$here/lib.sh" # usage skip die show_help running ours ready stop, children

ensure_user() {
	getent passwd "$1" >/dev/null 2>&1 && return 0
	command -v useradd >/dev/null 2>&1 || skip "no useradd: cannot create the system user $1"
	useradd --system --no-create-home --home-dir "$CHROOT" --shell /usr/sbin/nologin "$1" 2>/dev/null ||
		getent passwd "$1" >/dev/null 2>&1 || skip "could not create the system user $1"
	echo "$prog: created the system user $1 (left in place)" >&2
}

fetch() {
	local tmp deb missing t0=$SECONDS
	[[ $EUID -eq 0 ]] || skip "a private OpenSMTPD needs root (its users, a mount namespace)"
	command -v unshare >/dev/null 2>&1 || skip "no unshare (util-linux)"
	mkdir -p "$cache" || skip "cannot create $cache"
	exec 8>"$cache/.lock"
	flock -w 300 8 || skip "could not lock $cache/.lock in 300 s"
	if [[ ! -x $SMTPD ]]; then
		command -v apt-get >/dev/null 2>&1 || skip "no apt-get: cannot fetch $PKG"
		command -v dpkg-deb >/dev/null 2>&1 || skip "no dpkg-deb: cannot extract $PKG"
		tmp=$(mktemp -d "$cache/tmp.XXXXXX")
		deb=$(find "$cache" -maxdepth 1 -name "${PKG}_*.deb" -print -quit)
		if [[ -z $deb ]]; then
			# root downloading into a directory _apt cannot reach: a harmless
			# warning, shown on failure only.  Bounded: no mirror, no hang.
			if ! (cd "$tmp" && timeout 120 apt-get -q download "$PKG") >"$tmp/apt.log" 2>&1; then
				if ! { timeout 300 apt-get -q update &&
					(cd "$tmp" && timeout 120 apt-get -q download "$PKG"); } >>"$tmp/apt.log" 2>&1; then
					tail -n 3 "$tmp/apt.log" >&2 || true
					rm -rf "$tmp"
					skip "'apt-get download $PKG' failed (no network to the Debian mirror?)"
				fi
			fi
			deb=$(find "$tmp" -maxdepth 1 -name "${PKG}_*.deb" -print -quit)
			[[ -n $deb ]] || { rm -rf "$tmp"; skip "apt-get download left no ${PKG}_*.deb"; }
			mv "$deb" "$cache/"
			deb=$cache/${deb##*/}
		fi
		if ! dpkg-deb -x "$deb" "$tmp/root" 2>"$tmp/dpkg.log" || [[ ! -x $tmp/root/usr/sbin/smtpd ]]; then
			tail -n 3 "$tmp/dpkg.log" >&2 || true
			rm -rf "$tmp"
			skip "could not extract $deb (dpkg-deb -x)"
		fi
		# no set-id programs in a cache directory
		find "$tmp/root" -type f -perm /6000 -exec chmod ug-s {} + 2>/dev/null || true
		rm -rf "$cache/root"
		mv "$tmp/root" "$cache/root"
		rm -rf "$tmp"
		echo "$prog: unpacked ${deb##*/} into $cache/root in $((SECONDS - t0)) s" >&2
	else
		echo "$prog: $(find "$cache" -maxdepth 1 -name "${PKG}_*.deb" -printf '%f' -quit) cached in $cache" >&2
	fi
	exec 8>&-
	missing=$({ ldd "$SMTPD" 2>/dev/null || true; } | awk '/not found/ { printf "%s ", $1 }')
	[[ -z $missing ]] || skip "libraries missing for smtpd: ${missing% } (tests/deps.sh test installs them)"
	ensure_user opensmtpd
	ensure_user opensmtpq
	mkdir -p "$CHROOT" || skip "cannot create $CHROOT"
	echo "$SMTPD"
}

setup() {
	[[ $# -eq 7 ]] || usage
	local dir=$1 pki=$2 p out
	shift 2
	for p in "$@"; do
		[[ $p =~ ^[0-9]{1,5}$ ]] || die "bad port: $p"
	done
	[[ -x $SMTPD ]] || die "OpenSMTPD not unpacked: run $prog fetch"
	[[ -r $pki/good.chain.pem && -r $pki/good.key ]] || die "no test PKI in $pki (tests/mkcerts.sh)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	pki=$(cd "$pki" && pwd -P)
	[[ $dir$pki != *[[:space:]\"\|@]* ]] || die "DIR and PKI must not contain blanks, quotes, | or @"
	rm -rf "$dir/spool" "$dir/run" "$dir/maildir" "$dir/smtpd.pid"
	mkdir -p "$dir/spool" "$dir/run" "$dir/maildir"
	chmod 755 "$dir/spool" "$dir/run"
	printf '@ root\n' >"$dir/catchall"
	printf 'postmaster: root\nabuse: root\n' >"$dir/aliases"
	# libasr (inside smtpd) reads OpenBSD's "lookup": files only, no DNS
	printf 'lookup file\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
	sed -e "s|@DIR@|$dir|g" -e "s|@PKI@|$pki|g" -e "s|@P_REFUSE@|$1|g" -e "s|@P_OPEN@|$2|g" \
		-e "s|@P_CATCH@|$3|g" -e "s|@P_LOCAL@|$4|g" -e "s|@P_TRIP@|$5|g" -e "s|@TRIP@|127.0.0.1:$5|g" \
		"$tmpl" >"$dir/smtpd.conf"
	echo "$1:220 $2:220 $3:220 $4:220" >"$dir/ports" # ready: a 220 on each
	out=$("$SMTPD" -n -f "$dir/smtpd.conf" 2>&1) || die "smtpd -n: $out"
}

run() {
	[[ $# -eq 1 ]] || usage
	local dir rc target rel
	dir=$(cd "$1" && pwd -P)
	[[ -f $dir/smtpd.conf ]] || die "no $dir/smtpd.conf: run $prog setup first"
	# With /etc/resolv.conf a symlink into /run (systemd-resolved), the
	# private /run simply holds our copy under that name.
	target=$(readlink -f /etc/resolv.conf || echo /etc/resolv.conf)
	rc=$target
	if [[ $target == /run/* ]]; then
		rel=${target#/run/}
		mkdir -p "$dir/run/$(dirname "$rel")"
		cp "$dir/resolv.conf" "$dir/run/$rel"
		rc=""
	fi
	echo $$ >"$dir/smtpd.pid"
	# unshare and sh exec: the PID stays the same down to smtpd
	# shellcheck disable=SC2016 # sh expands its own "$1".."$3"
	exec unshare --mount --propagation private -- /bin/sh -ec '
		mount --bind "$1/spool" /var/spool
		mount --bind "$1/run" /run
		[ -z "$2" ] || mount --bind "$1/resolv.conf" "$2"
		exec "$3" -d -v -T smtp -T expand -f "$1/smtpd.conf"' sh "$dir" "$rc" "$SMTPD"
}

queue() {
	[[ $# -eq 1 ]] || usage
	local d=$1/spool/smtpd n=0 s
	for s in queue incoming temporary corrupt offline; do
		[[ -d $d/$s ]] && n=$((n + $(find "$d/$s" -type f | wc -l)))
	done
	[[ -d $1/maildir ]] && n=$((n + $(find "$1/maildir" -type f | wc -l)))
	echo "$n"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
fetch) fetch ;;
setup) setup "$@" ;;
run) run "$@" ;;
ready) ready "$@" ;;
stop) stop "$@" ;;
queue) queue "$@" ;;
-h | --help) show_help ;;
*) usage ;;
esac
