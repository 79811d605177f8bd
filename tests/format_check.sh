#!/usr/bin/env bash
# tests/format_check.sh - the C sources follow .clang-format, as one TAP line
# like the "# source rules" block of tests/run_tests.sh:
#   ok - sources follow .clang-format
#   not ok - N files differ from .clang-format (make format)
#   #   lib/foo.c
# Run from anywhere; it works on the repository the script lives in.  The
# files are lib/ checks/ cli/ runner/ plugins/ tests/ *.c and *.h, found by
# glob, so new files are checked too.  CLANG_FORMAT=clang-format-14 picks
# another binary.  Exits 0 when the line is "ok".
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.." || exit 1
CF=${CLANG_FORMAT:-clang-format}

files=(lib/*.[ch] checks/*.[ch] cli/*.[ch] runner/*.[ch] plugins/*.[ch] tools/*.c tests/*.[ch] tests/fuzz/*.c)

if ! command -v "$CF" >/dev/null 2>&1; then
	echo "not ok - clang-format is not installed (apt-get install clang-format)"
	exit 1
fi
# The config was tuned with clang-format 14; others may differ in details.
ver=$("$CF" --version 2>/dev/null | sed -nE 's/.*version ([0-9]+)\..*/\1/p')
[ "$ver" = 14 ] || echo "# $("$CF" --version 2>/dev/null) (.clang-format is tuned for 14)"
# A config this clang-format cannot read would fail every file: say so once.
if ! why=$("$CF" --style=file --dump-config "${files[0]}" 2>&1 >/dev/null); then
	echo "not ok - $CF cannot use .clang-format:"
	printf '%s\n' "$why" | head -5 | sed 's/^/#   /'
	exit 1
fi

bad=()
for f in "${files[@]}"; do
	"$CF" --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -eq 0 ]; then
	echo "ok - sources follow .clang-format"
	exit 0
fi
echo "not ok - ${#bad[@]} files differ from .clang-format (make format)"
printf '#   %s\n' "${bad[@]}"
exit 1
