#!/usr/bin/env bash
# tests/netns_drop.sh CMD [ARGS...]
#
# Runs CMD in a throw-away network namespace (unshare -n) where only 'lo'
# exists (up, 127.0.0.1 and ::1) and nftables makes two ports misbehave:
#   TCP port 2999  dropped          -> connect() hangs until the client's
#                                      timeout: a *filtered* port
#   TCP port 2998  reset (RST)      -> connection refused at once
# (any local address: 127.0.0.1, other 127.x, ::1).  The host's firewall and
# network are not touched; the namespace vanishes when CMD exits.  CMD's
# stdout/stderr pass through and its exit code is ours.
#
# Other ports: NETNS_DROP_PORTS="2999 ..." / NETNS_RESET_PORTS="2998 ...".
# Unprivileged users get a user namespace as well (unshare -r -n), where the
# kernel allows it.
# If the namespace or the nft rules cannot be set up: prints
# "SKIP: <reason>" and exits 77 (the automake "skipped" code).
set -euo pipefail

prog=tests/netns_drop.sh
inner_flag=--netns-drop-inner

skip() { echo "SKIP: $*"; exit 77; }

ports_ok() {
    local p
    for p in $1; do
        [[ $p =~ ^[0-9]{1,5}$ ]] && ((10#$p >= 1 && 10#$p <= 65535)) || return 1
    done
}

drop_ports=${NETNS_DROP_PORTS:-2999}
reset_ports=${NETNS_RESET_PORTS:-2998}

if [[ ${1:-} != "$inner_flag" ]]; then
    if [[ $# -lt 1 ]]; then
        echo "usage: $prog CMD [ARGS...]" >&2
        exit 2
    fi
    ports_ok "$drop_ports" || { echo "$prog: bad NETNS_DROP_PORTS: $drop_ports" >&2; exit 2; }
    ports_ok "$reset_ports" || { echo "$prog: bad NETNS_RESET_PORTS: $reset_ports" >&2; exit 2; }
    command -v unshare >/dev/null 2>&1 || skip "unshare not found (util-linux)"
    command -v nft >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v nft >/dev/null 2>&1 || skip "nft not found (apt-get install nftables)"
    command -v ip >/dev/null 2>&1 || skip "ip not found (apt-get install iproute2)"
    if [[ $EUID -eq 0 ]]; then
        ns=(unshare -n)
    else
        ns=(unshare -r -n)
    fi
    err=$("${ns[@]}" true 2>&1) || skip "cannot create a network namespace (${ns[*]}): ${err:-failed}"
    self=$(readlink -f "${BASH_SOURCE[0]}")
    # the namespace lives exactly as long as this child
    exec "${ns[@]}" -- bash "$self" "$inner_flag" "$@"
fi

# ---- inside the new namespace ------------------------------------------------
shift
err=$(ip link set lo up 2>&1) || skip "ip link set lo up failed in the namespace: $err"

rules=
for p in $drop_ports; do
    rules+="        tcp dport $p drop"$'\n'
done
for p in $reset_ports; do
    rules+="        tcp dport $p reject with tcp reset"$'\n'
done
err=$(nft -f - 2>&1 <<EOF
table inet netns_drop {
    chain input {
        type filter hook input priority 0; policy accept;
$rules    }
}
EOF
) || skip "nft failed in the namespace: ${err:-no output}"

exec "$@"
