#!/bin/sh
# tests/wafer_svg_demo.sh - the wafer pictures of two `station demo` lots
# (2 and 3 wafers, each its own database and report) checked by
# tests/test_wafer_svg.py: the prober's geometry as the simulated SENTIO
# reports it, every site, bins and the fixed palette (one colour per bin
# number across both reports), retest marks, title, report.html's maps.
#   wafer_svg_demo.sh BIN_DIR SOURCE_DIR
set -u
bin=$1
src=$2
out=$(mktemp -d "${TMPDIR:-/tmp}/kgd-wsvg.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
for n in 2 3; do
	if ! "$bin/station" demo -q --wafers "$n" --out "$out/d$n" \
		>"$out/log" 2>&1; then
		cat "$out/log"
		exit 1
	fi
done
grep -q "prober map: 300 mm wafer" "$out/d3/wafermap_DEMO1_DEMO1-W03.svg" ||
	{ echo "DEMO1-W03: not drawn from the prober's geometry"; exit 1; }
exec python3 "$src/tests/test_wafer_svg.py" "$out/d2/results.db" "$out/d2" \
	"$out/d3/results.db" "$out/d3"
