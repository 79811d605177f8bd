#!/usr/bin/env bash
# tests/deps.sh build|demo|packaging|test|bench
#
# Makes sure the Debian packages needed to build / test / benchmark mtaprobe
# are installed.  Each package is checked with dpkg-query; apt-get runs only
# when something is missing (one 'apt-get update', then one install).
#
#   build  compiler, make, pkg-config and the -dev libraries
#   demo   build + Postfix (make demo runs it on loopback), openssl (the
#          test certificates), man (the pages it builds), NSD and nginx
#          (the MTA-STS test bed: DNS and policy hosts)
#   packaging  build + what make deb / make rpm need
#   test   demo + the servers and tools of the tests: NSD, unbound, promtool,
#          node_exporter, icinga2, nagios4, systemd-analyze, the Debian and
#          RPM packaging tools and lintian, aiosmtpd, Dovecot's submission
#          service, OpenSMTPD's libraries (OpenSMTPD itself is unpacked at
#          test time: it conflicts with Postfix), Node.js (Haraka comes
#          from the npm registry at test time, pinned by
#          tests/mta/haraka/package-lock.json), clang-format
#          (make format-check), clang (the fuzz smoke), valgrind, iproute2 and nftables for the
#          network-namespace tests (tests/netns_drop.sh)
#   bench  test + valgrind (callgrind), the monitoring-plugins peers
#          (check_smtp, check_tcp) and GNU time (peak RSS)
#
# Quiet when nothing is missing.  When something is missing and we are not
# root, prints what is missing and the command to run, and exits 1.
# On a system without dpkg-query (not Debian-like) it prints one note and
# exits 0: install the equivalents by hand.  MTAPROBE_SKIP_DEPS=1 skips
# everything (for developers who manage packages themselves).
set -euo pipefail

prog=tests/deps.sh
usage() { echo "usage: $prog build|demo|packaging|test|bench" >&2; exit 2; }

build_pkgs=(gcc make pkg-config libssl-dev libc-ares-dev libyaml-dev libcmocka-dev libcurl4-openssl-dev
    libmicrohttpd-dev)
demo_pkgs=("${build_pkgs[@]}" postfix openssl man-db groff-base nsd nginx)
packaging_pkgs=("${build_pkgs[@]}" dpkg-dev debhelper fakeroot rpm git)
test_pkgs=("${demo_pkgs[@]}" iproute2 nftables libgnutls-dane0 libidn12 libnsl2
    nsd unbound bind9-dnsutils bind9-utils prometheus prometheus-node-exporter curl jq clang-format clang valgrind
    systemd icinga2-bin icinga2-common nagios4-core
    dpkg-dev debhelper lintian rpm fakeroot file binutils git
    python3-aiosmtpd nodejs dovecot-core dovecot-submissiond dovecot-lmtpd libevent-2.1-7 libdb5.3 nginx)
bench_pkgs=("${test_pkgs[@]}" monitoring-plugins-standard nagios-plugins-contrib bind9-host time bc prometheus-blackbox-exporter)

[[ $# -eq 1 ]] || usage
case $1 in
    build) want=("${build_pkgs[@]}") ;;
    demo)  want=("${demo_pkgs[@]}") ;;
    packaging) want=("${packaging_pkgs[@]}") ;;
    test)  want=("${test_pkgs[@]}") ;;
    bench) want=("${bench_pkgs[@]}") ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) usage ;;
esac

if [[ ${MTAPROBE_SKIP_DEPS:-0} == 1 ]]; then
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "$prog: no dpkg-query (not Debian?): make sure these are installed: ${want[*]}" >&2
    exit 0
fi

installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

missing_pkgs() {
    local p
    missing=()
    for p in "${want[@]}"; do
        installed "$p" || missing+=("$p")
    done
}

missing_pkgs
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

apt_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $EUID -ne 0 ]]; then
    {
        echo "$prog: missing packages for '$1': ${missing[*]}"
        echo "$prog: as root run:"
        for p in "${missing[@]}"; do
            if [[ $p == postfix ]]; then
                echo "  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"
                break
            fi
        done
        echo "  apt-get update && $apt_cmd"
    } >&2
    exit 1
fi

# Serialise concurrent runs (parallel make targets, several checkouts):
# the second one waits, then finds everything installed.
lock=${TMPDIR:-/tmp}/mtaprobe-deps.lock
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock -w 900 9 || { echo "$prog: could not get $lock" >&2; exit 1; }
    missing_pkgs
    if [[ ${#missing[@]} -eq 0 ]]; then
        exit 0
    fi
fi

echo "$prog: installing for '$1': ${missing[*]}" >&2
for p in "${missing[@]}"; do
    if [[ $p == postfix ]]; then
        # No /etc/postfix/main.cf, no system instance: the tests run private
        # instances (tests/postfix.sh).
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    fi
done

export DEBIAN_FRONTEND=noninteractive
apt-get -q update
apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"

missing_pkgs
if [[ ${#missing[@]} -ne 0 ]]; then
    echo "$prog: still missing after apt-get: ${missing[*]}" >&2
    exit 1
fi
