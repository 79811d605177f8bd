#!/usr/bin/env bash
# tests/run_tests.sh BUILD_DIR - every unit test (cmocka, TAP output) and the
# integration tests; the last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/asan}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$B"/test_*; do
	[ -x "$t" ] || continue
	echo "# unit: ${t##*/}"
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1 | tee -a "$log"
	# a crash before the TAP plan completes must count as a failure
	[ "${PIPESTATUS[0]}" -lt 128 ] || echo "not ok - ${t##*/} crashed" | tee -a "$log"
done
echo "# integration"
tests/integration.sh "$B" 2>&1 | tee -a "$log"

pass=$(grep -c '^ok ' "$log")
fail=$(grep -c '^not ok' "$log")
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
