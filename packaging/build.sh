#!/usr/bin/env bash
# packaging/build.sh deb|rpm OUTDIR - build the Debian or RPM package of this
# tree (its committed and untracked, not ignored, files) in a scratch copy,
# offline, and put the packages into OUTDIR.  make deb / make rpm call it
# with OUTDIR build/packages.  Needs dpkg-dev and debhelper (deb) or rpm
# (rpm), and the build dependencies (tests/deps.sh build).
# packaging/build.sh tree DIR - only that copy of the tree, into DIR
# (tests/packaging.sh builds and installs from one).  A relative OUTDIR or
# DIR is taken from the top of the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] && { [ "$1" = deb ] || [ "$1" = rpm ] || [ "$1" = tree ]; } || {
	echo "usage: packaging/build.sh deb|rpm OUTDIR | tree DIR" >&2
	exit 2
}
kind=$1

copy_tree() { # the tree as git sees it (no build/, no .git), else all but those
	mkdir -p "$1"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
			{ [ -e "$f" ] || [ -L "$f" ]; } && printf '%s\0' "$f"
		done | tar --null -T - -cf - | tar -C "$1" -xf -
	else
		tar --exclude=./build --exclude=./.git -cf - . | tar -C "$1" -xf -
	fi
}
if [ "$kind" = tree ]; then
	copy_tree "$2"
	exit 0
fi

mkdir -p "$2"
out=$(cd "$2" && pwd)
version=$(sed -n 's/^#define MTAPROBE_VERSION "\(.*\)"/\1/p' cli/options.h)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$kind" = deb ]; then
	src=$work/mtaprobe-$version
	copy_tree "$src"
	cp -r "$src/packaging/debian" "$src/debian"
	(cd "$src" && dpkg-buildpackage -us -uc -b -Jauto)
	cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
	ls "$out"/*.deb
else
	mkdir -p "$work/SOURCES" "$work/src" "$work/tmp"
	copy_tree "$work/src/mtaprobe-$version"
	tar -C "$work/src" -czf "$work/SOURCES/mtaprobe-$version.tar.gz" "mtaprobe-$version"
	rpmbuild -bb --nodeps --define "_topdir $work" --define "_tmppath $work/tmp" \
		"$work/src/mtaprobe-$version/packaging/rpm/mtaprobe.spec"
	cp "$work"/RPMS/*/*.rpm "$out"/
	ls "$out"/*.rpm
fi
