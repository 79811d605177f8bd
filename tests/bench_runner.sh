#!/usr/bin/env bash
# tests/bench_runner.sh BUILD_DIR - the runner over 200 STARTTLS targets (the
# scripted server, one port each) at -j 32, next to prometheus-blackbox-exporter
# probing the same 200 targets with an smtp_starttls module at concurrency 32.
# Prints wall time, CPU time and peak RSS of each.  Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
N=${BENCH_TARGETS:-200}
J=${BENCH_JOBS:-32}
BASE=28100
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
tests/deps.sh bench >/dev/null
tests/mkcerts.sh "$tmp/pki" >/dev/null
args=()
for i in $(seq 0 $((N - 1))); do args+=(-l "127.0.0.1:$((BASE + i))"); done
"$B/smtpsim" -s tests/scenarios/tls_starttls.scn -C "$tmp/pki" "${args[@]}" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$((BASE + N - 1))) 2>/dev/null && break; sleep 0.05; done

{
	echo "defaults: {timeout: 10, checks: [starttls], ca_file: $tmp/pki/root.crt}"
	echo "output: {format: prometheus, path: $tmp/out.prom}"
	echo "targets:"
	for i in $(seq 0 $((N - 1))); do echo "  - {name: t$i, host: 127.0.0.1, port: $((BASE + i))}"; done
} >"$tmp/starttls.yaml"
sed 's/checks: \[starttls\]/checks: [port, banner, starttls, cert, relay]/' "$tmp/starttls.yaml" >"$tmp/all.yaml"

measure() {	# measure LABEL CMD... -> "label wall cpu rss"
	local label=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >/dev/null 2>&1 || true
	read -r wall user sys rss <"$tmp/time"
	printf '%-44s %8.2f s %8.2f s %9d KiB\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$rss"
}

echo "targets: $N STARTTLS servers (smtpsim, TLS 1.3, EC P-256 chain), concurrency $J, $(nproc) CPU"
printf '%-44s %10s %10s %13s\n' "" "wall" "CPU" "peak RSS"
measure "mtaprobe -j $J, check starttls (verified)" "$B/mtaprobe" -q -j "$J" -c "$tmp/starttls.yaml"
grep -c '^mtaprobe_check_success{.*} 1$' "$tmp/out.prom" | sed 's/^/    successful: /'
measure "mtaprobe -j $J, all five checks" "$B/mtaprobe" -q -j "$J" -c "$tmp/all.yaml"

# blackbox_exporter: the same targets through its HTTP probe endpoint
if command -v prometheus-blackbox-exporter >/dev/null; then
	cat >"$tmp/bbx.yml" <<YML
modules:
  smtp_starttls:
    prober: tcp
    timeout: 10s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220 "
        - send: "EHLO prober\r"
        - expect: "^250 STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220"
        - starttls: true
        - send: "EHLO prober\r"
        - expect: "^250 STARTTLS"
        - send: "QUIT\r"
      tls_config:
        ca_file: $tmp/pki/root.crt
        server_name: mail.example.test
YML
	prometheus-blackbox-exporter --config.file="$tmp/bbx.yml" --web.listen-address=127.0.0.1:19115 \
		>"$tmp/bbx.log" 2>&1 &
	bpid=$!
	pids+=($bpid)
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/19115) 2>/dev/null && break; sleep 0.05; done
	cpu() { awk '{print $14 + $15}' "/proc/$bpid/stat"; }
	c0=$(cpu)
	t0=$(date +%s%N)
	seq 0 $((N - 1)) | xargs -P "$J" -I{} sh -c \
		"curl -s 'http://127.0.0.1:19115/probe?module=smtp_starttls&target=127.0.0.1:'\$(($BASE + {})) | grep -c '^probe_success 1'" \
		>"$tmp/bbx.out"
	t1=$(date +%s%N)
	c1=$(cpu)
	hz=$(getconf CLK_TCK)
	printf '%-44s %8.2f s %8.2f s %9d KiB\n' "blackbox_exporter 0.23, $J concurrent probes" \
		"$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)" "$(echo "scale=2; ($c1 - $c0) / $hz" | bc)" \
		"$(awk '/VmHWM/ {print $2}' "/proc/$bpid/status")"
	echo "    successful: $(grep -c '^1$' "$tmp/bbx.out") (CPU and RSS of the exporter process; curl not counted)"
else
	echo "blackbox_exporter: not installed (tests/deps.sh bench installs prometheus-blackbox-exporter)"
fi
