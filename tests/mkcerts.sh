#!/usr/bin/env bash
# tests/mkcerts.sh OUTDIR
#
# Generates a throw-away test PKI into OUTDIR (created if missing; the caller
# normally passes a fresh 'mktemp -d').  All dates are relative to now, so
# nothing in the repository can expire.  Whatever the script makes is always
# regenerated (old files of the same name are overwritten).  OpenSSL >= 3.0.
#
# CA:   root.crt/root.key   EC P-256, self-signed, -100 d .. +10 years
#       int.crt/int.key     EC P-256, by the root, -100 d .. +5 years,
#                           pathlen:0
#       ca-bundle.pem       int.crt + root.crt
# Per leaf NAME: NAME.crt, NAME.key, NAME.chain.pem (leaf + intermediate),
#       NAME.full.pem (key + leaf + intermediate: one smtpd_tls_chain_files
#       entry for Postfix).
# Leaves (CN mail.example.test, SAN DNS:mail.example.test, DNS:*.example.test
# (the MX hosts of the DNS tests), DNS:mx.insecure.test, DNS:localhost,
# IP:127.0.0.1, IP:::1; issued by the intermediate, SHA-256, unless stated):
#       good        EC P-256           -1 d .. +365 d
#       expired     EC P-256          -90 d .. -1 d
#       exp10d      EC P-256          -30 d .. +10 d +1 h
#       exp20d      EC P-256          -30 d .. +20 d +1 h
#       notyet      EC P-256          +30 d .. +400 d
#       selfsigned  EC P-256, self-signed (no CA), -1 d .. +365 d
#       wronghost   EC P-256, CN and SAN DNS:wrong.example.invalid only
#       nameonly    EC P-256, SAN DNS:mail.example.test only (no IP: as real
#                   certificates are, checked by address with --sni)
#       sha1        RSA-2048, signed with SHA-1 (ecdsa-with-SHA1)
#       rsa1024     RSA-1024
#       dualrsa     RSA-2048           -1 d .. +5 d +1 h    } one server,
#       dualec      EC P-256           -1 d .. +90 d +1 h   } both at once
#       goodrsa     RSA-2048, like good
#       dual.full.pem = dualrsa.full.pem + dualec.full.pem (Postfix
#       smtpd_tls_chain_files accepts key1,chain1,key2,chain2 in one file)
# The "+1 h" makes "N days left" stable when a checker floors the time left.
# Scratch files (openssl ca database, CSRs) live in OUTDIR/.ca while the
# script runs.  Time: ~1 s on 2 CPUs (the RSA key generation dominates and
# runs in parallel with the rest).
#
# Exit: 0 ok; 1 failure (openssl's message on stderr); 2 usage.
set -euo pipefail

prog=tests/mkcerts.sh
[[ $# -eq 1 && -n $1 && $1 != -* ]] || { echo "usage: $prog OUTDIR" >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || { echo "$prog: openssl not found" >&2; exit 1; }

mkdir -p "$1"
cd "$1"
umask 077                       # keys (and the .full.pem files holding them)

# GeneralizedTime for 'openssl ca -startdate/-enddate' (the only way OpenSSL
# 3.0 sets an arbitrary validity window; -not_before arrived in 3.4).
# One 'date' call for every date, not one process per date.
now=$(date -u +%s)
gt() { TZ=UTC printf '%(%Y%m%d%H%M%SZ)T' $((now + $1)); }
D=86400 H=3600

rm -rf .ca
mkdir .ca
trap 'rm -rf "$PWD/.ca"' EXIT
: >.ca/index.txt
# random starting serial: runs do not share issuer name + serial
printf '%04X%04X%04X01\n' $((RANDOM + 4096)) $RANDOM $RANDOM >.ca/serial

cat >.ca/ca.cnf <<'EOF'
# minimal 'openssl ca' configuration for tests/mkcerts.sh
[ ca ]
default_ca = int_ca
[ root_ca ]
database = .ca/index.txt
serial = .ca/serial
new_certs_dir = .ca
certificate = root.crt
private_key = root.key
default_md = sha256
policy = pol_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = no
[ int_ca ]
database = .ca/index.txt
serial = .ca/serial
new_certs_dir = .ca
certificate = int.crt
private_key = int.key
default_md = sha256
policy = pol_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = no
[ pol_any ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_int ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,$ENV::KU
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_self ]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
EOF
export OPENSSL_CONF=$PWD/.ca/ca.cnf
SAN_STD="DNS:mail.example.test,DNS:*.example.test,DNS:mx.insecure.test,DNS:localhost,IP:127.0.0.1,IP:::1"
export SAN=$SAN_STD KU=digitalSignature

# run openssl quietly; show its output only when it fails
ossl() {
    local out
    if ! out=$(openssl "$@" 2>&1); then
        echo "$prog: openssl $1 failed:" >&2
        echo "$out" >&2
        exit 1
    fi
}

# newkey ARGS for 'openssl req -newkey': ec | rsa2048 | rsa1024
newkey() {
    case $1 in
        ec) echo "ec -pkeyopt ec_paramgen_curve:P-256" ;;
        rsa2048) echo "rsa:2048" ;;
        rsa1024) echo "rsa:1024" ;;
    esac
}

# key + CSR in one process: csr NAME KEYTYPE CN
csr() {
    # shellcheck disable=SC2046
    ossl req -new -newkey $(newkey "$2") -nodes -keyout "$1.key" \
        -out ".ca/$1.csr" -subj "/CN=$3"
}

# sign NAME CA(root_ca|int_ca) EXT START_OFFSET END_OFFSET [extra ca args]
sign() {
    local n=$1 ca=$2 ext=$3 start=$4 end=$5
    shift 5
    ossl ca -batch -notext -config "$OPENSSL_CONF" -name "$ca" \
        -extensions "$ext" -in ".ca/$n.csr" -out "$n.crt" \
        -startdate "$(gt "$start")" -enddate "$(gt "$end")" "$@"
}

# bundle NAME [selfsigned]: NAME.chain.pem and NAME.full.pem
bundle() {
    local n=$1
    if [[ ${2-} == selfsigned ]]; then
        cat "$n.crt" >"$n.chain.pem"
    else
        cat "$n.crt" int.crt >"$n.chain.pem"
    fi
    cat "$n.key" "$n.chain.pem" >"$n.full.pem"
}

# key type of every key pair; RSA first: they take most of the time
declare -A KT=(
    [sha1]=rsa2048 [dualrsa]=rsa2048 [goodrsa]=rsa2048 [rsa1024]=rsa1024
    [root]=ec [int]=ec [good]=ec [expired]=ec [exp10d]=ec [exp20d]=ec
    [notyet]=ec [selfsigned]=ec [wronghost]=ec [dualec]=ec [nameonly]=ec
)
declare -A CN=(
    [root]="mtaprobe Test Root CA" [int]="mtaprobe Test Intermediate CA"
    [wronghost]=wrong.example.invalid
)

# leaf NAME START END [SAN] [-- extra ca args]
leaf() {
    local n=$1 start=$2 end=$3
    shift 3
    if [[ $# -gt 0 && $1 != -- ]]; then SAN=$1; shift; fi
    [[ ${1-} == -- ]] && shift
    case ${KT[$n]} in
        ec) KU=digitalSignature ;;
        *) KU=digitalSignature,keyEncipherment ;;  # RSA key exchange too
    esac
    sign "$n" int_ca v3_leaf "$start" "$end" "$@"
    bundle "$n"
    SAN=$SAN_STD
}

# --- all keys and CSRs at once (RSA key generation dominates the run time) --
pids=()
for n in sha1 dualrsa goodrsa rsa1024 root int good expired exp10d exp20d \
    notyet selfsigned wronghost dualec nameonly; do
    csr "$n" "${KT[$n]}" "${CN[$n]-mail.example.test}" &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || exit 1
done

# --- CAs --------------------------------------------------------------------
sign root root_ca v3_root $((-100 * D)) $((3650 * D)) -selfsign -keyfile root.key
sign int root_ca v3_int $((-100 * D)) $((1825 * D))
cat int.crt root.crt >ca-bundle.pem

# --- leaves -----------------------------------------------------------------
leaf good       $((-1 * D))  $((365 * D))
leaf expired    $((-90 * D)) $((-1 * D))
leaf exp10d     $((-30 * D)) $((10 * D + H))
leaf exp20d     $((-30 * D)) $((20 * D + H))
leaf notyet     $((30 * D))  $((400 * D))
leaf wronghost  $((-1 * D))  $((365 * D)) DNS:wrong.example.invalid
leaf nameonly   $((-1 * D))  $((365 * D)) DNS:mail.example.test
leaf sha1       $((-1 * D))  $((365 * D)) -- -md sha1
leaf rsa1024    $((-1 * D))  $((365 * D))
leaf dualrsa    $((-1 * D))  $((5 * D + H))
leaf dualec     $((-1 * D))  $((90 * D + H))
leaf goodrsa    $((-1 * D))  $((365 * D))
cat dualrsa.full.pem dualec.full.pem >dual.full.pem

# self-signed leaf: signed with its own key, issuer = subject, no CA involved
sign selfsigned int_ca v3_self $((-1 * D)) $((365 * D)) -selfsign -keyfile selfsigned.key
bundle selfsigned selfsigned

chmod 644 ./*.crt ./*.chain.pem ca-bundle.pem
chmod 600 ./*.key ./*.full.pem
