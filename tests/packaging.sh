#!/usr/bin/env bash
# tests/packaging.sh [BUILD_DIR] - the installed layouts: make install and
# make uninstall (DESTDIR, PREFIX=/usr/local, then for real into /usr/local
# and out again), the Debian package (dpkg-buildpackage offline, lintian,
# its file list, dpkg -i, the installed plugins against the scripted server,
# man, remove and purge) and the RPM (rpmbuild -bb --nodeps, rpm -qlp).
# Every build happens in a copy of the work tree (packaging/build.sh: tracked
# and untracked-but-not-ignored files; build/ and .git left out), so the
# tree's own build/ is never touched.  BUILD_DIR (default build) only provides
# smtpsim; without one the copy's is used.  Needs root (dpkg -i, /usr/local)
# and dpkg-dev debhelper lintian rpm file man-db; SKIPs naming what is
# missing.  Whatever it installs it removes again (a package called
# mtaprobe installed before is purged first).  Loopback only, ports
# 28691-28692.  Prints TAP lines; the lintian output, the package file
# lists and each phase's time as # lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
t_args build "$@"
PLUGINS="check_mta_port check_mta_banner check_mta_starttls check_mta_cert check_mta_relay check_mta_sts"

missing=""
for c in dpkg-buildpackage dpkg-deb dpkg-parsechangelog dh lintian rpmbuild rpm rpm2archive file man readelf strings git tar; do
	command -v "$c" >/dev/null 2>&1 || missing+=" $c"
done
if [ -n "$missing" ]; then
	t_skip packaging "missing:$missing (tests/deps.sh: dpkg-dev debhelper lintian rpm file man-db)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	t_skip packaging "not root (dpkg -i and the /usr/local install need it)"
	exit 0
fi

# --- bookkeeping: phases, cleanup -------------------------------------------------
PH_NAME="" PH_T0=0
phase() {	# phase NAME: ends the running phase (prints its time), starts NAME
	local now
	now=$(date +%s%N)
	[ -n "$PH_NAME" ] && echo "# time: $PH_NAME $(awk -v n=$((now - PH_T0)) 'BEGIN{printf "%.1f", n/1e9}') s"
	PH_NAME=$1 PH_T0=$now
}
DEB_INSTALLED=0 LOCAL_INSTALLED=0
LOCAL_NEWDIRS=() PROM_NEWDIRS=() PROM_MARK=""
local_uninstall() {	# make uninstall from /usr/local, the config, the directories we made
	local d
	(cd "$SRC_MK" && make --no-print-directory uninstall DESTDIR= PREFIX=/usr/local) >>"$T_TMP/local-uninstall.log" 2>&1
	rm -f /usr/local/etc/mtaprobe/mtaprobe.yaml
	for d in "${LOCAL_NEWDIRS[@]}"; do rmdir "$d" 2>/dev/null; done
	LOCAL_INSTALLED=0
}
cleanup() {
	local d
	if [ "$DEB_INSTALLED" = 1 ] && dpkg-query -W mtaprobe >/dev/null 2>&1; then
		dpkg --purge mtaprobe >/dev/null 2>&1
	fi
	[ "$LOCAL_INSTALLED" = 1 ] && local_uninstall
	[ -n "$PROM_MARK" ] && rm -f "$PROM_MARK"
	for d in "${PROM_NEWDIRS[@]}"; do rmdir "$d" 2>/dev/null; done
	t_exit
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# expected_files PREFIX SYSCONFDIR UNITDIR MANSUFFIX: what make install puts
# where, one absolute path a line.
expected_files() {
	local p=$1 etc=$2 unit=$3 z=$4 c
	for c in $PLUGINS; do echo "$p/lib/nagios/plugins/$c"; done
	echo "$p/bin/mtaprobe"
	echo "$p/lib/mtaprobe/mtaprobe-tls.so"
	for c in $PLUGINS mtaprobe; do echo "$p/share/man/man1/$c.1$z"; done
	echo "$p/share/icinga2/include/plugins-contrib.d/mtaprobe.conf"
	echo "$p/share/mtaprobe/prometheus/mtaprobe.rules.yml"
	echo "$etc/nagios-plugins/config/mtaprobe.cfg"
	echo "$etc/mtaprobe/mtaprobe.yaml"
	echo "$unit/mtaprobe.service"
	echo "$unit/mtaprobe.timer"
	echo "$unit/mtaprobe-exporter.service"
	echo "$p/lib/tmpfiles.d/mtaprobe.conf"
}

# t_same_list NAME WANT GOT: the two files hold the same lines (any order).
t_same_list() {
	local d
	d=$(diff <(sort -u "$2") <(sort -u "$3") | grep '^[<>]' | sed -e 's/^</missing:/' -e 's/^>/extra:  /')
	if [ -z "$d" ]; then t_report "$1" "" ""; else t_report "$1" " file lists differ" "$d"; fi
}

# t_run NAME WANT_RC_ERE REGEX CMD...: exit code and output (ERE) only.
t_run() {
	local name=$1 want=$2 re=$3 out rc p=""
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	[[ $rc =~ ^($want)$ ]] || p+=" exit $rc, wanted $want;"
	grep -Eq -- "$re" <<<"$out" || p+=" output lacks /$re/;"
	t_report "$name" "$p" "$out"
}

# t_tls_module NAME WANT CMD...: CMD loads the TLS module from WANT
# (ld.so's own account: LD_DEBUG=files into a file per process).
t_tls_module() {
	local name=$1 want=$2 got
	shift 2
	rm -f "$T_TMP/lddebug".*
	LD_DEBUG=files LD_DEBUG_OUTPUT=$T_TMP/lddebug "$@" >/dev/null 2>&1
	got=$(grep -ho 'file=[^ ]*mtaprobe-tls\.so' "$T_TMP/lddebug".* 2>/dev/null | sort -u | sed 's/^file=//')
	if [ "$got" = "$want" ]; then t_report "$name" "" ""; else
		t_report "$name" " loaded '${got:-no module}', wanted $want" "$(cat "$T_TMP/lddebug".* 2>/dev/null | grep -i tls)"
	fi
}

unstripped() {	# unstripped FILE...: names those that still have a symbol table
	local f
	for f in "$@"; do readelf -S "$f" 2>/dev/null | grep '\.symtab' >/dev/null && echo "${f##*/}"; done
}

VERSION=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version 2>/dev/null)
SPEC_VERSION=$(awk '$1 == "Version:" { print $2; exit }' packaging/rpm/mtaprobe.spec 2>/dev/null)
SRC_VERSION=$(sed -n 's/^#define MTAPROBE_VERSION "\(.*\)"$/\1/p' cli/options.h)
t_assert "packaging: debian/changelog, mtaprobe.spec and cli/options.h say the same version ($VERSION)" \
	test -n "$VERSION" -a "$VERSION" = "$SPEC_VERSION" -a "$VERSION" = "$SRC_VERSION"

# --- make install / make uninstall into DESTDIR, PREFIX=/usr/local ---------------
phase "make install/uninstall (DESTDIR)"
SRC_MK=$T_TMP/src-make
# the work tree as git sees it (tracked and untracked files, not the
# ignored ones: no build/), or without git everything but build/ and .git
packaging/build.sh tree "$SRC_MK"
D=$T_TMP/dest
# As a user does it: make, then make install with another PREFIX (the TLS
# module's path and the units must follow the PREFIX of the install).
if ! (cd "$SRC_MK" && make --no-print-directory -j"$(nproc)" all &&
	make --no-print-directory install DESTDIR="$D" PREFIX=/usr/local) >"$T_TMP/make-install.log" 2>&1; then
	t_report "make install DESTDIR=... PREFIX=/usr/local" " make failed" "$(tail -n 12 "$T_TMP/make-install.log")"
	exit 0
fi
t_report "make install DESTDIR=... PREFIX=/usr/local" "" ""
expected_files /usr/local /usr/local/etc /usr/local/lib/systemd/system "" >"$T_TMP/want-local"
(cd "$D" && find . ! -type d | sed 's|^\.||') >"$T_TMP/got-local"
t_same_list "make install: exactly the expected files under DESTDIR/usr/local (config in usr/local/etc/mtaprobe)" \
	"$T_TMP/want-local" "$T_TMP/got-local"
LP=$D/usr/local/lib/nagios/plugins
bins=("$LP"/check_mta_* "$D/usr/local/bin/mtaprobe" "$D/usr/local/lib/mtaprobe/mtaprobe-tls.so")
u=$(unstripped "${bins[@]}")
t_report "make install: binaries and the TLS module are stripped (no .symtab)" "${u:+ not stripped: $u}" ""
modes=$(cd "$D/usr/local" && stat -c '%a %n' lib/nagios/plugins/* bin/mtaprobe lib/mtaprobe/mtaprobe-tls.so \
	share/man/man1/* etc/mtaprobe/mtaprobe.yaml lib/systemd/system/* | grep -Ev '^(755 (lib/nagios|bin)|644 (lib/mtaprobe|share|etc|lib/systemd))/')
t_report "make install: modes 755 for programs, 644 for the rest" "${modes:+ wrong modes}" "$modes"
t_assert "make install: check_mta_port looks for the module in /usr/local/lib/mtaprobe" \
	bash -c 's=$(strings "$1"); grep -qx /usr/local/lib/mtaprobe/mtaprobe-tls.so <<<"$s" && ! grep -q "^/usr/lib/mtaprobe/" <<<"$s"' _ "$LP/check_mta_port"
svc=$D/usr/local/lib/systemd/system/mtaprobe.service
t_run "make install: the service runs /usr/local/bin/mtaprobe with /usr/local/etc's config (no @VAR@, no /usr/bin, /etc)" \
	0 '^ok$' bash -c 'bad="@[A-Z]+@|(^|[= ])(/usr/bin/mtaprobe|/etc/mtaprobe)"
		grep -q "/usr/local/bin/mtaprobe" "$1" && ! grep -Eq "$bad" "$1" && echo ok ||
			grep -nE "$bad|^ExecStart=" "$1"' _ "$svc"
echo "# edited" >>"$D/usr/local/etc/mtaprobe/mtaprobe.yaml"
(cd "$SRC_MK" && make --no-print-directory install DESTDIR="$D" PREFIX=/usr/local) >>"$T_TMP/make-install.log" 2>&1
t_assert "make install again: an edited mtaprobe.yaml is kept" grep -qx '# edited' "$D/usr/local/etc/mtaprobe/mtaprobe.yaml"
if (cd "$SRC_MK" && make --no-print-directory uninstall DESTDIR="$D" PREFIX=/usr/local) >"$T_TMP/make-uninstall.log" 2>&1; then
	left=$(cd "$D" && find . ! -type d | sed 's|^\.||')
	p=""
	[ "$left" = /usr/local/etc/mtaprobe/mtaprobe.yaml ] || p=" files left behind"
	t_report "make uninstall: no file left but the configuration" "$p" "$left"
	echo "# make uninstall leaves these (empty) directories: $(cd "$D" && find . -mindepth 1 -type d -empty | sed 's|^\.||' | sort | paste -sd' ')"
else
	t_report "make uninstall: no file left but the configuration" " make uninstall failed" "$(tail -n 12 "$T_TMP/make-uninstall.log")"
fi

# --- make install into the real /usr/local, the plugin against smtpsim, out again --
phase "make install/uninstall (/usr/local)"
t_pki "packaging: test PKI generated"
[ -x "$SIM" ] || SIM=$SRC_MK/build/smtpsim
P_TLS=28691 P_STARTTLS=28692
t_sim tls_implicit $P_TLS -C "$PKI" || exit 1
t_sim tls_starttls $P_STARTTLS -C "$PKI" || exit 1
clash=""
while read -r f; do [ -e "$f" ] && clash+=" $f"; done <"$T_TMP/want-local"
if [ -n "$clash" ]; then
	t_skip "make install into /usr/local" "these exist already:$clash"
else
	for d in $(sed 's|/[^/]*$||' "$T_TMP/want-local" | sort -u); do
		while [ "$d" != /usr/local ] && [ ! -d "$d" ]; do LOCAL_NEWDIRS+=("$d") && d=${d%/*}; done
	done
	# deepest first, for rmdir
	[ ${#LOCAL_NEWDIRS[@]} = 0 ] || mapfile -t LOCAL_NEWDIRS < <(printf '%s\n' "${LOCAL_NEWDIRS[@]}" | sort -ru)
	LOCAL_INSTALLED=1
	if (cd "$SRC_MK" && make --no-print-directory install DESTDIR= PREFIX=/usr/local) >"$T_TMP/local-install.log" 2>&1; then
		t_report "make install PREFIX=/usr/local (for real)" "" ""
		t_check "/usr/local: check_mta_port --tls is OK with perfdata" 0 \
			'^MTA PORT OK - .*TLSv1\.[23] .*handshake in .* \| .*handshake=' 5 \
			/usr/local/lib/nagios/plugins/check_mta_port -H $L -p $P_TLS --tls "${CA[@]}"
		t_tls_module "/usr/local: check_mta_port --tls loads /usr/local/lib/mtaprobe/mtaprobe-tls.so" \
			/usr/local/lib/mtaprobe/mtaprobe-tls.so \
			/usr/local/lib/nagios/plugins/check_mta_port -H $L -p $P_TLS --tls "${CA[@]}"
	else
		t_report "make install PREFIX=/usr/local (for real)" " make install failed" "$(tail -n 12 "$T_TMP/local-install.log")"
	fi
	local_uninstall
	left=""
	while read -r f; do [ -e "$f" ] && left+=" $f"; done <"$T_TMP/want-local"
	for d in "${LOCAL_NEWDIRS[@]}"; do [ -e "$d" ] && left+=" $d/"; done
	t_report "/usr/local: make uninstall (and removing the config) leaves nothing behind" "${left:+ left:$left}" ""
fi

# --- the Debian package ----------------------------------------------------------
phase "dpkg-buildpackage"
DEBDIR=$T_TMP/deb
# packaging/build.sh, as make deb runs it: a scratch copy of the tree,
# dpkg-buildpackage -us -uc -b -Jauto; nothing here needs the network.
if packaging/build.sh deb "$DEBDIR" >"$T_TMP/dpkg-buildpackage.log" 2>&1; then
	t_report "deb: dpkg-buildpackage -us -uc -b" "" ""
else
	t_report "deb: dpkg-buildpackage -us -uc -b" " failed" "$(tail -n 12 "$T_TMP/dpkg-buildpackage.log")"
	exit 0
fi
ARCH=$(dpkg --print-architecture)
DEB=$DEBDIR/mtaprobe_${VERSION}_$ARCH.deb
CHANGES=$DEBDIR/mtaprobe_${VERSION}_$ARCH.changes
DBGSYM=$DEBDIR/mtaprobe-dbgsym_${VERSION}_$ARCH.deb

phase lintian
# (lintian's own "running with root privileges is not recommended!" is left out)
lintian -I -E --pedantic --show-overrides --tag-display-limit 0 "$CHANGES" 2>&1 |
	grep -v '^running with root privileges is not recommended!$' >"$T_TMP/lintian.txt"
echo "# lintian -I -E --pedantic --show-overrides $(basename "$CHANGES"): $(wc -l <"$T_TMP/lintian.txt") lines"
sed 's/^/#   lintian: /' "$T_TMP/lintian.txt"
errs=$(grep '^E: ' "$T_TMP/lintian.txt")
t_report "deb: lintian reports no errors ($(grep -c '^W: ' "$T_TMP/lintian.txt") warnings)" "${errs:+ lintian errors}" "$errs"

phase "deb contents"
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T_TMP/deb-all"
grep -v '/$' "$T_TMP/deb-all" >"$T_TMP/got-deb"
echo "# dpkg-deb -c $(basename "$DEB") (files):"
sed 's/^/#   /' "$T_TMP/got-deb"
{
	expected_files /usr /etc /lib/systemd/system .gz
	printf '/usr/share/doc/mtaprobe/%s\n' README.md.gz changelog.gz copyright
	echo /usr/share/lintian/overrides/mtaprobe
} >"$T_TMP/want-deb"
t_same_list "deb: exactly the expected files (plugins, runner, module, man, Icinga, Nagios, config, units, docs)" \
	"$T_TMP/want-deb" "$T_TMP/got-deb"
mkdir -p "$T_TMP/deb-control"
dpkg-deb -e "$DEB" "$T_TMP/deb-control"
printf '%s\n' /etc/mtaprobe/mtaprobe.yaml /etc/nagios-plugins/config/mtaprobe.cfg >"$T_TMP/want-conffiles"
t_same_list "deb: conffiles are the two files in /etc" "$T_TMP/want-conffiles" "$T_TMP/deb-control/conffiles"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "# Depends: $depends"
t_run "deb: Depends (from dpkg-shlibdeps) name libssl3, libc-ares2, libyaml" 0 'libssl3.*' \
	bash -c '[[ $1 == *libssl3* && $1 == *libc-ares2* && $1 == *libyaml* ]] && echo "$1"' _ "$depends"
NELF=$(($(wc -w <<<"$PLUGINS") + 2)) # the plugins, mtaprobe, the TLS module
t_run "deb: the dbgsym package holds the debug info of all $NELF ELF files (INSTALL_STRIP= honoured)" 0 "^$NELF\$" \
	bash -c 'dpkg-deb -c "$1" | grep -c "/usr/lib/debug/\.build-id/.*\.debug$"' _ "$DBGSYM"
# hardening=+all: -z now (BIND_NOW) and RELRO at link time, _FORTIFY_SOURCE
# (the *_chk functions) at compile time: the build flags reached the Makefile
X=$T_TMP/deb-x
dpkg-deb -x "$DEB" "$X"
weak=""
for f in "$X"/usr/lib/nagios/plugins/* "$X/usr/bin/mtaprobe" "$X/usr/lib/mtaprobe/mtaprobe-tls.so"; do
	readelf -d "$f" | grep 'BIND_NOW\|FLAGS.*NOW' >/dev/null || weak+=" ${f##*/}(no BIND_NOW)"
	readelf -lW "$f" | grep GNU_RELRO >/dev/null || weak+=" ${f##*/}(no RELRO)"
	readelf --dyn-syms -W "$f" | grep '__[a-z_]*_chk' >/dev/null || weak+=" ${f##*/}(no _chk: not fortified)"
done
t_report "deb: binaries are hardened (full RELRO, _FORTIFY_SOURCE)" "${weak:+$weak}" ""

phase "dpkg -i, installed plugins"
st=$(dpkg-query -W -f='${Status}' mtaprobe 2>/dev/null)
if [ -n "$st" ] && [[ $st != *not-installed ]]; then
	echo "# mtaprobe was installed ($(dpkg-query -W -f='${Version} ${Status}' mtaprobe)): purging it first"
	dpkg --purge mtaprobe >"$T_TMP/dpkg-prepurge.log" 2>&1
fi
# a Docker-style dpkg.cfg.d that drops /usr/share/man would drop the pages
DPKG_OPTS=()
if grep -qs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/*; then
	echo "# dpkg is configured to leave out /usr/share/man: installing with --path-include for our pages"
	DPKG_OPTS=(--path-include='/usr/share/man/man1/check_mta_*' --path-include='/usr/share/man/man1/mtaprobe.1.gz')
fi
# directories the package brings that were not there before must go on purge
: >"$T_TMP/deb-newdirs"
grep '/$' "$T_TMP/deb-all" | sed 's|/$||' | while read -r d; do
	[ -n "$d" ] && [ ! -e "$d" ] && echo "$d"
done >"$T_TMP/deb-newdirs"
DEB_INSTALLED=1
if dpkg "${DPKG_OPTS[@]}" -i "$DEB" </dev/null >"$T_TMP/dpkg-i.log" 2>&1; then
	t_report "deb: dpkg -i" "" ""
else
	t_report "deb: dpkg -i" " failed" "$(cat "$T_TMP/dpkg-i.log")"
fi
missing=""
while read -r f; do [ -e "$f" ] || missing+=" $f"; done <"$T_TMP/want-deb"
t_report "deb: every file is in place after dpkg -i" "${missing:+ missing:$missing}" ""
PD=/usr/lib/nagios/plugins
t_check "deb: installed check_mta_port --tls is OK with perfdata" 0 \
	'^MTA PORT OK - .*TLSv1\.[23] .*handshake in .* \| .*handshake=' 5 \
	$PD/check_mta_port -H $L -p $P_TLS --tls "${CA[@]}"
t_tls_module "deb: installed check_mta_port --tls loads /usr/lib/mtaprobe/mtaprobe-tls.so" \
	/usr/lib/mtaprobe/mtaprobe-tls.so $PD/check_mta_port -H $L -p $P_TLS --tls "${CA[@]}"
t_check "deb: installed check_mta_starttls is OK with perfdata" 0 \
	'^MTA STARTTLS OK - .*STARTTLS: TLSv1\.[23] .* \| .*handshake=' 5 \
	$PD/check_mta_starttls -H $L -p $P_STARTTLS "${CA[@]}"
t_run "deb: mtaprobe --version" '0|3' "^mtaprobe $VERSION " /usr/bin/mtaprobe --version
t_run "deb: the installed runner checks the scripted server (Prometheus format)" 0 \
	'mtaprobe_check_success\{[^}]*check="starttls"[^}]*\} 1' \
	/usr/bin/mtaprobe -q -p $P_STARTTLS --checks port,banner,starttls -f prometheus $L
export MANPAGER=cat MANWIDTH=80
for pg in check_mta_port mtaprobe; do
	t_run "deb: man finds $pg(1) at its installed path" 0 "^/usr/share/man/man1/$pg\.1\.gz$" man -w "$pg"
	t_run "deb: man -l renders $pg.1.gz, man --warnings has nothing to say" 0 '^ok$' \
		bash -c 'out=$(man -l "$1" 2>/dev/null) && [ -n "$out" ] && w=$(man --warnings -l "$1" 2>&1 >/dev/null) && [ -z "$w" ] && echo ok || { echo "$w"; echo "$out" | head -5; }' \
		_ /usr/share/man/man1/$pg.1.gz
done
en=$(ls /etc/systemd/system/*.wants/mtaprobe.* 2>/dev/null)
t_report "deb: the timer is not enabled by dpkg -i (packaging/README.md)" "${en:+ enabled: $en}" ""
# The service's dynamic user writes into node_exporter's directory through
# the group prometheus: the package's tmpfiles.d line makes the directory
# group-writable and setgid (on systemd machines at install and at boot;
# this machine runs no systemd, so it is applied to a scratch root here).
t_run "deb: postinst applies the tmpfiles.d line (systemd-tmpfiles --create mtaprobe.conf)" 0 \
	'systemd-tmpfiles .*--create mtaprobe\.conf' cat /var/lib/dpkg/info/mtaprobe.postinst
TR=$T_TMP/tmpfiles-root
mkdir -p "$TR/var/lib/prometheus/node-exporter" "$TR/etc"
printf 'root:x:0:0::/root:/bin/sh\n' >"$TR/etc/passwd"
printf 'root:x:0:\nprometheus:x:105:\n' >"$TR/etc/group"
t_run "deb: the installed tmpfiles.d line makes the textfile directory 2775 root:prometheus" 0 \
	'^2775 root:prometheus$' bash -c 'systemd-tmpfiles --root="$1" --create /usr/lib/tmpfiles.d/mtaprobe.conf &&
		stat -c "%a %U:%G" "$1/var/lib/prometheus/node-exporter"' _ "$TR"
echo "# edited by tests/packaging.sh" >>/etc/mtaprobe/mtaprobe.yaml
dpkg "${DPKG_OPTS[@]}" -i "$DEB" </dev/null >>"$T_TMP/dpkg-i.log" 2>&1
t_assert "deb: reinstalling keeps an edited /etc/mtaprobe/mtaprobe.yaml (conffile)" \
	grep -qx '# edited by tests/packaging.sh' /etc/mtaprobe/mtaprobe.yaml

phase "dpkg -r, dpkg --purge"
# the stale-textfile clean-up in postrm: a results file, if none is there
PROM_DIR=/var/lib/prometheus/node-exporter
if [ ! -e "$PROM_DIR/mtaprobe.prom" ]; then
	d=$PROM_DIR
	while [ ! -d "$d" ]; do PROM_NEWDIRS+=("$d") && d=${d%/*}; done
	mkdir -p "$PROM_DIR" && echo "mtaprobe_test 1" >"$PROM_DIR/mtaprobe.prom" && PROM_MARK=$PROM_DIR/mtaprobe.prom
fi
if dpkg -r mtaprobe >"$T_TMP/dpkg-r.log" 2>&1; then t_report "deb: dpkg -r" "" ""; else
	t_report "deb: dpkg -r" " failed" "$(cat "$T_TMP/dpkg-r.log")"; fi
left=""
while read -r f; do case $f in /etc/*) ;; *) [ -e "$f" ] && left+=" $f" ;; esac; done <"$T_TMP/want-deb"
t_report "deb: after dpkg -r no file is left but the conffiles" "${left:+ left:$left}" ""
t_assert "deb: after dpkg -r the conffiles are still there" \
	test -f /etc/mtaprobe/mtaprobe.yaml -a -f /etc/nagios-plugins/config/mtaprobe.cfg
if [ -n "$PROM_MARK" ]; then
	t_assert "deb: dpkg -r removed the stale $PROM_DIR/mtaprobe.prom" test ! -e "$PROM_MARK"
	rm -f "$PROM_MARK"
	PROM_MARK=""
fi
if dpkg --purge mtaprobe >"$T_TMP/dpkg-purge.log" 2>&1; then t_report "deb: dpkg --purge" "" ""; else
	t_report "deb: dpkg --purge" " failed" "$(cat "$T_TMP/dpkg-purge.log")"; fi
DEB_INSTALLED=0
left=""
while read -r f; do [ -e "$f" ] && left+=" $f"; done <"$T_TMP/want-deb"
while read -r d; do [ -e "$d" ] && left+=" $d/"; done <"$T_TMP/deb-newdirs"
t_report "deb: after dpkg --purge no file or new directory is left (/etc/mtaprobe gone)" "${left:+ left:$left}" ""
t_run "deb: dpkg knows nothing of mtaprobe after the purge" 0 '^(gone|unknown ok not-installed)$' \
	bash -c 'dpkg-query -W mtaprobe >/dev/null 2>&1 && dpkg-query -W -f="\${Status}\n" mtaprobe || echo gone'
for d in "${PROM_NEWDIRS[@]}"; do rmdir "$d" 2>/dev/null; done
PROM_NEWDIRS=()

# --- the RPM ---------------------------------------------------------------------
phase rpmbuild
R=$T_TMP/rpm
# packaging/build.sh, as make rpm runs it: a scratch copy of the tree, its
# tarball in SOURCES, rpmbuild -bb --nodeps
if packaging/build.sh rpm "$R" >"$T_TMP/rpmbuild.log" 2>&1; then
	t_report "rpm: rpmbuild -bb --nodeps" "" ""
else
	t_report "rpm: rpmbuild -bb --nodeps" " failed" "$(grep -E 'error|Error|RPM build errors' -A3 "$T_TMP/rpmbuild.log" | head -n 12)"
	exit 0
fi
RPM=""
for f in "$R"/mtaprobe-"$VERSION"-*.rpm; do [ -f "$f" ] && RPM=$f; done
rpm -qlp "$RPM" >"$T_TMP/rpm-all" 2>"$T_TMP/rpm-ql.err"
echo "# rpm -qlp $(basename "$RPM") (build-id links left out):"
grep -v '^/usr/lib/\.build-id' "$T_TMP/rpm-all" | sed 's/^/#   /'
# man pages as compressed by this rpm's brp-compress (if at all), the doc
# directory as its %_docdir_fmt names it, the build-id links left out
grep -v '^/usr/lib/\.build-id' "$T_TMP/rpm-all" |
	sed -E -e 's#^(/usr/share/man/man1/[^/]*\.1)\.(gz|xz|bz2|zst)$#\1#' \
		-e "s#^/usr/share/doc/mtaprobe-$VERSION(/|$)#/usr/share/doc/mtaprobe\\1#" >"$T_TMP/got-rpm"
{
	expected_files /usr /etc /usr/lib/systemd/system ""
	printf '%s\n' /usr/share/doc/mtaprobe /usr/share/doc/mtaprobe/README.md \
		/usr/lib/nagios /usr/lib/nagios/plugins /usr/lib/mtaprobe \
		/usr/share/icinga2 /usr/share/icinga2/include /usr/share/icinga2/include/plugins-contrib.d \
		/usr/share/mtaprobe /usr/share/mtaprobe/prometheus \
		/etc/nagios-plugins /etc/nagios-plugins/config /etc/mtaprobe
} >"$T_TMP/want-rpm"
t_same_list "rpm: rpm -qlp is exactly the expected list (files and owned directories)" "$T_TMP/want-rpm" "$T_TMP/got-rpm"
rpm -qcp "$RPM" >"$T_TMP/rpm-conf" 2>/dev/null
t_same_list "rpm: %config files are the two files in /etc" "$T_TMP/want-conffiles" "$T_TMP/rpm-conf"
mkdir -p "$R/x"
rpm2archive - <"$RPM" | tar -C "$R/x" -xzf - 2>/dev/null
t_assert "rpm: check_mta_port looks for the module in /usr/lib/mtaprobe" \
	bash -c 's=$(strings "$1") && grep -qx /usr/lib/mtaprobe/mtaprobe-tls.so <<<"$s"' _ "$R/x/usr/lib/nagios/plugins/check_mta_port"
t_run "rpm: the service unit runs /usr/bin/mtaprobe" 0 '/usr/bin/mtaprobe' \
	grep -h ExecStart "$R/x/usr/lib/systemd/system/mtaprobe.service"

phase ""
echo "# time: total $(awk -v n=$(($(date +%s%N) - T_START)) 'BEGIN{printf "%.1f", n/1e9}') s"
