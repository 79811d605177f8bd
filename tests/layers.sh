#!/usr/bin/env bash
# tests/layers.sh BUILD_DIR - the layering rules (Makefile, "Layers"), as TAP
# lines like the "# source rules" block of tests/run_tests.sh:
#   1. includes go down only: lib -> lib; checks -> checks, lib;
#      cli -> cli, checks, lib; runner -> runner, cli, checks, lib;
#      plugins -> cli, checks, lib; always spelled "layer/x.h"
#   2. no cycles between objects at the symbol level (nm on BUILD/obj), and
#      no object that uses a symbol of a layer it may not include
#   3. every header has an include guard and compiles on its own
# Exits 0 when every line is "ok".  Needs the objects: make BUILD=... first.
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.." || exit 1
B=${1:-build}
B=${B%/}
CC=${CC:-cc}
LAYERS="lib checks cli runner plugins"
# who may use whom (layer: layers it may include / reference)
ALLOW="lib:lib checks:checks,lib cli:cli,checks,lib runner:runner,cli,checks,lib plugins:cli,checks,lib"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# result MESSAGE DETAILS: "ok - MESSAGE", or "not ok - MESSAGE:" and the
# details below it, one "#   " line each.
result() {
	if [ -z "$2" ]; then echo "ok - $1"; else
		echo "not ok - $1:"; printf '%s\n' "$2" | sed 's/^/#   /'
		failed=1
	fi
}

# ---- 1. include direction ---------------------------------------------------
srcs=(lib/*.[ch] checks/*.[ch] cli/*.[ch] runner/*.[ch] plugins/*.[ch])
projfiles=$(printf '%s\n' lib/* checks/* cli/* runner/* plugins/*)
awk -v allow="$ALLOW" -v files="$projfiles" '
BEGIN {
	n = split(allow, a, " ")
	for (i = 1; i <= n; i++) {
		split(a[i], kv, ":"); ok[kv[1]] = kv[2]
		m = split(kv[2], l, ","); for (j = 1; j <= m; j++) may[kv[1], l[j]] = 1
	}
	n = split(files, f, "\n")
	for (i = 1; i <= n; i++) { have[f[i]] = 1; b = f[i]; sub(/.*\//, "", b); base[b] = f[i] }
}
FNR == 1 { layer = FILENAME; sub(/\/.*/, "", layer) }
/^[ \t]*#[ \t]*include[ \t]*</ {
	inc = $0; sub(/^[^<]*</, "", inc); sub(/>.*/, "", inc)
	top = inc; sub(/\/.*/, "", top)
	if (inc ~ /\// && (top in ok))
		print "S\t" FILENAME ":" FNR ": <" inc "> (project headers are included with quotes)"
	next
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
	where = FILENAME ":" FNR ": \"" inc "\""
	top = inc; sub(/\/.*/, "", top)
	if (inc ~ /(^|\/)\.\.?\// || inc ~ /(^|\/)common\//)
		print "S\t" where " (relative, old style: write \"layer/x.h\")"
	else if (inc !~ /\//)
		print "S\t" where ((inc in base) ? " (bare, old style: write \"" base[inc] "\")" \
		                                 : " (no such project header; system headers take <>)")
	else if (!(top in ok))
		print "S\t" where " (" top "/ is no layer)"
	else if (!(inc in have))
		print "S\t" where " (no such file)"
	else if (!((layer, top) in may))
		print "D\t" where " (" layer "/ may include only " ok[layer] ")"
}' "${srcs[@]}" >"$tmp/inc"
result "includes go down the layers only (lib <- checks <- cli <- runner; plugins -> cli)" \
	"$(sed -n 's/^D\t//p' "$tmp/inc")"
result "every project include is written \"layer/x.h\"" "$(sed -n 's/^S\t//p' "$tmp/inc")"

# ---- 2. symbol graph between objects ----------------------------------------
objs=()
for l in $LAYERS; do objs+=("$B"/obj/"$l"/*.o); done
if [ ${#objs[@]} -eq 0 ]; then
	result "objects to check the symbol graph on" "no $B/obj/{${LAYERS// /,}}/*.o: run make BUILD=$B first"
else
	# edges "A<TAB>B<TAB>symbol": A has symbol undefined, B defines it
	# (global definitions only; symbols no object of ours defines are
	# libc, OpenSSL, c-ares, libyaml, the sanitizers: no edge)
	nm -A -P "${objs[@]}" 2>"$tmp/nm.err" | awk -v pre="$B/obj/" '
	{
		f = $1; sub(/:$/, "", f)
		if (substr(f, 1, length(pre)) == pre) f = substr(f, length(pre) + 1)
		sub(/\.o$/, ".c", f)
		if ($3 == "U" || $3 == "w" || $3 == "v") { nu++; uf[nu] = f; us[nu] = $2 }
		else if ($3 ~ /^[A-TV-Z]$/ || $3 == "i" || $3 == "u") def[$2] = def[$2] " " f
	}
	END {
		for (k = 1; k <= nu; k++) {
			if (!(us[k] in def)) continue
			m = split(def[us[k]], d, " ")
			for (j = 1; j <= m; j++) if (d[j] != uf[k]) print uf[k] "\t" d[j] "\t" us[k]
		}
	}' | sort -u >"$tmp/edges"
	[ -s "$tmp/nm.err" ] && result "nm reads every object" "$(cat "$tmp/nm.err")"

	awk -F'\t' -v allow="$ALLOW" '
	function node(x) { if (!(x in id)) { id[x] = ++n; nm[n] = x }; return id[x] }
	function lay(x,  y) { y = x; sub(/\/.*/, "", y); return y }
	BEGIN {
		c = split(allow, a, " ")
		for (i = 1; i <= c; i++) {
			split(a[i], kv, ":"); ok[kv[1]] = kv[2]
			m = split(kv[2], l, ","); for (j = 1; j <= m; j++) may[kv[1], l[j]] = 1
		}
	}
	{
		i = node($1); j = node($2)
		if ((i, j) in reach) syms[i, j] = syms[i, j] " " $3
		else syms[i, j] = $3
		reach[i, j] = 1
	}
	END {
		# layer rule on every edge
		for (i = 1; i <= n; i++) for (j = 1; j <= n; j++) if ((i, j) in syms) {
			li = lay(nm[i]); lj = lay(nm[j])
			if ((li in ok) && !((li, lj) in may))
				print "L\t" nm[i] " -> " nm[j] " (" li "/ may use only " ok[li] "): " syms[i, j]
		}
		# transitive closure (a few dozen objects: n^3 is nothing)
		for (k = 1; k <= n; k++) for (i = 1; i <= n; i++) if ((i, k) in reach)
			for (j = 1; j <= n; j++) if ((k, j) in reach) reach[i, j] = 1
		# strongly connected components of more than one object
		for (i = 1; i <= n; i++) {
			if (i in done) continue
			cnt = 0
			for (j = 1; j <= n; j++)
				if (j == i || (((i, j) in reach) && ((j, i) in reach))) { mem[++cnt] = j; done[j] = 1 }
			if (cnt < 2) continue
			# members by name
			for (p = 2; p <= cnt; p++) for (q = p; q > 1 && nm[mem[q]] < nm[mem[q-1]]; q--) {
				t = mem[q]; mem[q] = mem[q-1]; mem[q-1] = t
			}
			delete in_c
			list = ""
			for (p = 1; p <= cnt; p++) { in_c[mem[p]] = 1; list = list (p > 1 ? ", " : "") nm[mem[p]] }
			print "C\t" list
			# one cycle through the first member: breadth first, inside the component
			s = mem[1]; delete par; delete seen; head = 1; tail = 1; qu[1] = s; seen[s] = 1; last = 0
			while (head <= tail && !last) {
				u = qu[head++]
				for (p = 1; p <= cnt && !last; p++) {
					v = mem[p]
					if (!((u, v) in syms)) continue
					if (v == s) last = u
					else if (!(v in seen)) { seen[v] = 1; par[v] = u; qu[++tail] = v }
				}
			}
			for (v = last; v != s; v = par[v]) path2 = nm[v] " -> " path2
			print "C\t  cycle: " nm[s] " -> " path2 nm[s]; path2 = ""
			for (p = 1; p <= cnt; p++) for (q = 1; q <= cnt; q++)
				if ((mem[p], mem[q]) in syms)
					print "C\t  " nm[mem[p]] " -> " nm[mem[q]] ": " syms[mem[p], mem[q]]
		}
	}' "$tmp/edges" >"$tmp/graph"
	result "no cycles between objects at the symbol level (nm, ${#objs[@]} objects in $B/obj)" \
		"$(sed -n 's/^C\t//p' "$tmp/graph")"
	result "objects use symbols of their own or a lower layer only" "$(sed -n 's/^L\t//p' "$tmp/graph")"
fi

# ---- 3. one header per module: guard, compiles on its own --------------------
hdrs=(lib/*.h checks/*.h cli/*.h runner/*.h)
# the guard: the first code line is #ifndef G (or #if !defined G), the next
# #define G, and the #endif that closes it is the last code line; no two
# headers share a guard
awk '
function finish() {
	if (FILENAME_prev == "") return
	if (g == "") print FILENAME_prev ": no include guard (#ifndef G / #define G first)"
	else if (d != g) print FILENAME_prev ": guard #ifndef " g " but #define " (d == "" ? "none" : d)
	else if (closed != lastcode) print FILENAME_prev ": the guard #endif (line " closed ") is not the last code line (" lastcode ")"
	else if (g in owner) print FILENAME_prev ": guard " g " is taken (" owner[g] ")"
	else owner[g] = FILENAME_prev
}
FNR == 1 { finish(); FILENAME_prev = FILENAME; incom = 0; ncode = 0; g = ""; d = ""; depth = 0; closed = 0; lastcode = 0 }
{
	s = $0; out = ""
	while (s != "") {
		if (incom) { p = index(s, "*/"); if (!p) { s = ""; break }; s = substr(s, p + 2); incom = 0; continue }
		p = index(s, "/*"); q = index(s, "//")
		if (q && (!p || q < p)) { out = out substr(s, 1, q - 1); s = ""; break }
		if (!p) { out = out s; s = ""; break }
		out = out substr(s, 1, p - 1) " "; s = substr(s, p + 2); incom = 1
	}
	if (out ~ /^[ \t]*$/) next
	ncode++; lastcode = FNR
	gsub(/^[ \t]*#[ \t]*/, "#", out); gsub(/[ \t]+$/, "", out)
	if (ncode == 1) {
		if (out ~ /^#ifndef[ \t]/) { g = out; sub(/^#ifndef[ \t]+/, "", g) }
		else if (out ~ /^#if[ \t]+!/) { g = out; sub(/^#if[ \t]+![ \t]*defined[ \t]*\(?[ \t]*/, "", g); sub(/[ \t)]*$/, "", g) }
	}
	if (ncode == 2 && out ~ /^#define[ \t]/) { d = out; sub(/^#define[ \t]+/, "", d); sub(/[ \t].*/, "", d) }
	if (out ~ /^#if/) depth++
	else if (out ~ /^#endif/ && --depth == 0 && !closed) closed = FNR
}
END { finish() }' "${hdrs[@]}" >"$tmp/guards"
result "every header has an include guard" "$(cat "$tmp/guards")"

# each header alone, as the first and only thing a file includes; all at
# once in the background (a few dozen cc -fsyntax-only runs)
pkgflags=$(pkg-config --cflags openssl libcares yaml-0.1 2>/dev/null || true)
k=0
for h in "${hdrs[@]}"; do
	k=$((k + 1))
	# shellcheck disable=SC2086
	( "$CC" -std=gnu11 -D_GNU_SOURCE -I. $pkgflags -fsyntax-only -x c "$h" >"$tmp/h$k.out" 2>&1
	  echo $? >"$tmp/h$k.rc" ) &
done
wait
hbad=""
k=0
for h in "${hdrs[@]}"; do
	k=$((k + 1))
	rc=$(cat "$tmp/h$k.rc" 2>/dev/null || echo 1)
	# a warning counts too: an implicit declaration is a missing include
	if [ "$rc" != 0 ] || [ -s "$tmp/h$k.out" ]; then
		[ "$rc" = 0 ] && why="cc warns" || why="cc exit $rc"
		hbad+="$h ($why):"$'\n'"$(head -n 6 "$tmp/h$k.out" | sed 's/^/  /')"$'\n'
	fi
done
result "every header compiles on its own ($CC -std=gnu11 -D_GNU_SOURCE -I. -fsyntax-only, ${#hdrs[@]} headers)" \
	"${hbad%$'\n'}"

exit "$failed"
