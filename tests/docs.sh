#!/usr/bin/env bash
# tests/docs.sh BUILD_DIR - what users read and configure cannot drift from
# the option table: each man page renders without a warning and names every
# option of --help; conf/icinga2/mtaprobe.conf and conf/nagios/mtaprobe.cfg
# are what tools/mkdoc.c makes of the table (make conf), and every option of
# each plugin's --help is an argument of its CheckCommand.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${1:-build/asan}
. tests/lib.sh
MKDOC=$B/mkdoc
PLUGINS="check_mta_port check_mta_banner check_mta_starttls check_mta_cert check_mta_relay check_mta_sts"

# the long options a binary's --help lists ("  -H, --hostname HOST", "      --sni NAME")
help_options() {
	"$B/$1" --help | sed -nE 's/^ +(-[A-Za-z0-9], )?(--[a-z0-9-]+).*/\2/p' | sort -u
}

for p in $PLUGINS mtaprobe; do
	page=$T_TMP/$p.1
	if ! "$MKDOC" man "$p" >"$page" 2>"$T_TMP/mkdoc.err"; then
		t_report "docs: mkdoc man $p" " exit $?" "$(cat "$T_TMP/mkdoc.err")"
		continue
	fi
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$T_TMP/$p.txt")
	t_report "docs: man --warnings -l $p.1 renders without a warning" \
		"$([ -n "$warn" ] && echo " groff said:")" "$warn"
	missing=""
	n=0
	for o in $(help_options "$p"); do
		n=$((n + 1))
		grep -qE -- "(^|[ ,])$o( |,|$)" "$T_TMP/$p.txt" || missing+=" $o"
	done
	t_report "docs: $p.1 describes all $n options of $p --help" \
		"$([ -n "$missing" ] && echo " missing:$missing")" ""
	[ "$p" = mtaprobe ] && continue
	miss=""
	# nothing in check_smtp or check_ssl_cert does MTA-STS: no migration rows
	mig="MIGRATING FROM CHECK_SMTP"
	[ "$p" = check_mta_sts ] && mig=""
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS THRESHOLDS "PERFORMANCE DATA" "EXIT STATUS" \
		EXAMPLES ${mig:+"$mig"}; do
		grep -q "^$s" "$T_TMP/$p.txt" || miss+=" '$s'"
	done
	t_report "docs: $p.1 has states, perfdata, examples and the check_smtp migration" \
		"$([ -n "$miss" ] && echo " no section$miss")" ""
done

for f in icinga2:conf/icinga2/mtaprobe.conf nagios:conf/nagios/mtaprobe.cfg; do
	kind=${f%%:*} file=${f#*:}
	d=$("$MKDOC" "$kind" | diff -u "$file" - 2>&1)
	t_report "docs: $file is what the option table gives (make conf)" \
		"$([ -n "$d" ] && echo " differs:")" "$d"
done

# Every --help option of a plugin is an argument of its CheckCommand, with
# the ITL-style variable (checked from --help, not from the generator).
conf=conf/icinga2/mtaprobe.conf
for p in $PLUGINS; do
	cmd=mtaprobe_${p#check_mta_}
	block=$(awk -v c="object CheckCommand \"$cmd\" {" '$0 == c { on = 1 } on { print } on && /^}/ { exit }' "$conf")
	missing=""
	n=0
	while IFS= read -r line; do
		short=$(sed -nE 's/^  -([A-Za-z0-9]), --.*/\1/p' <<<"$line")
		long=$(sed -nE 's/^ +(-[A-Za-z0-9], )?--([a-z0-9-]+).*/\2/p' <<<"$line")
		[ -n "$long" ] || continue
		case $long in help | version) continue ;; esac
		n=$((n + 1))
		key=${short:+-$short}
		key=${key:---$long}
		var=${cmd}_${long//-/_}
		[ "$long" = hostname ] && var=${cmd}_address
		grep -qF "\"$key\" = {" <<<"$block" && grep -qF "\$$var\$" <<<"$block" ||
			missing+=" $key(\$$var\$)"
	done < <("$B/$p" --help | grep -E '^  (-[A-Za-z0-9], |    )--')
	t_report "docs: CheckCommand $cmd has all $n options of $p --help" \
		"$([ -n "$missing" ] && echo " missing:$missing")" ""
done
mig=$("$MKDOC" migration)
[[ $(<README.md) == *"$mig"* ]]
t_report "docs: README's migration table is the man pages' (mkdoc migration)" \
	"$([ $? -ne 0 ] && echo ' README.md does not hold mkdoc migration output')" ""
grep -q 'vars.mtaprobe_cert_address = "$check_address$"' "$conf"
t_report "docs: -H defaults to \$check_address\$" "$([ $? -ne 0 ] && echo ' no')" ""
t_cleanup
