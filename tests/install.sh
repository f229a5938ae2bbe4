#!/bin/sh
# tests/install.sh BUILD SRC - the installed station on its own (issue 21).
# Installs the build into a scratch prefix, then moves that tree to another
# folder (relocatable: nothing may point back at the prefix or the build)
# and runs the moved tree's programs: --version, plugins (only its own
# folder, $KGD_PLUGIN_PATH ignored, a third-party folder from the config),
# check on an installed example sequence, a short lot against the moved
# kgd-vstation (config from $KGD_STATION_CONFIG, the session's version),
# and demo (installed sequences, installed simulator). Run by ctest as
# test_install; every simulator it starts has a lifetime and is killed on
# exit.
set -eu
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
# Another umask must not make an installed folder group-writable (the
# station would refuse its own plugins).
umask 002
T=$(mktemp -d "${TMPDIR:-/tmp}/kgd-install.XXXXXX")
VS_PID=
cleanup() {
	[ -n "$VS_PID" ] && kill "$VS_PID" 2>/dev/null && wait "$VS_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" ||
	fail "cmake --install: $(cat "$T/install.log")"
# Only what a prefix holds: nothing written outside it (/etc is the
# package's, component kgd_etc).
grep -q '/etc/kgd-station' "$T/install.log" && fail "plain install wrote /etc"
mv "$T/prefix" "$T/moved"
P=$T/moved
PLUG=$P/lib/kgd-station/plugins

for f in bin/station bin/kgd-vstation include/kgd/driver.h \
	share/kgd-station/sequences/elsfp-module.yaml \
	share/kgd-station/sequences/limits/elsfp-8-std.yaml \
	share/kgd-station/station.yaml.example share/doc/kgd-station/README.md \
	share/doc/kgd-station/SEQUENCES.md; do
	[ -e "$P/$f" ] || fail "not installed: $f"
done
ls "$P"/lib/libkgd_instruments.so.* >/dev/null 2>&1 || fail "no libkgd_instruments"
# Every driver the build made is installed (a new plugin needs no rule).
for so in "$BUILD"/plugins/*.so; do
	[ -f "$PLUG/$(basename "$so")" ] || fail "plugin not installed: $so"
done
# The RPATHs are relative to the file: nothing of the build or the prefix.
for f in "$P"/bin/station "$P"/bin/kgd-vstation "$PLUG"/*.so; do
	rp=$(readelf -d "$f" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
	case "$rp" in
	*"$BUILD"*|*"$T/prefix"*) fail "$f: RPATH $rp points back" ;;
	esac
done
readelf -d "$P/bin/station" | grep -q 'R.*PATH.*\$ORIGIN/\.\./lib' ||
	fail "station has no \$ORIGIN RPATH"

# The library the moved station loads is the moved tree's.
lib=$(LD_TRACE_LOADED_OBJECTS=1 "$P/bin/station" | grep libkgd_instruments)
case "$lib" in
*"$P/bin/../lib/"*|*"$P/lib/"*) ;;
*) fail "station loads $lib" ;;
esac

# --version: the build's version and description, the same in the build.
v=$("$P/bin/station" --version)
[ "$v" = "$("$BUILD/bin/station" --version)" ] || fail "version: $v"
case "$v" in "station "[0-9]*.[0-9]*" (build "?*")") ;; *) fail "version: $v" ;; esac
[ "$("$P/bin/station" version)" = "$v" ] || fail "station version"
"$P/bin/station" --help | grep -q "^  version " || fail "--help lists no version"
# Every command's --help ends with it.
for c in $("$P/bin/station" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
	[ "$c" = version ] && continue
	[ "$("$P/bin/station" "$c" --help | tail -n 1)" = "$v" ] ||
		fail "station $c --help does not end with '$v'"
done

# plugins: the moved tree's own folder and nothing else, even when
# $KGD_PLUGIN_PATH offers the build's test plugins.
KGD_PLUGIN_PATH=$BUILD/test-plugins:$BUILD/plugins \
	"$P/bin/station" plugins >"$T/plugins.out" 2>&1 ||
	fail "station plugins: $(cat "$T/plugins.out")"
n_ok=$(grep -c '^OK ' "$T/plugins.out")
n_so=$(ls "$BUILD"/plugins/*.so | wc -l)
[ "$n_ok" -eq "$n_so" ] || fail "$n_ok of $n_so plugins OK: $(cat "$T/plugins.out")"
grep '^OK ' "$T/plugins.out" | grep -v " $PLUG/" && fail "a plugin not from $PLUG"
grep -q "$BUILD" "$T/plugins.out" && fail "plugins mention the build tree"
"$P/bin/station" plugins --help | grep -q "$PLUG" ||
	fail "plugins --help does not name $PLUG"

# A third-party driver: a folder of its own in the config's plugin_path
# (searched after the installed ones).
mkdir -m 755 "$T/vendor"
cp "$BUILD/test-plugins/abi-good.so" "$T/vendor/"
chmod 644 "$T/vendor/abi-good.so"
printf 'station: s1\nplugin_path: [%s]\ninstruments: {}\n' "$T/vendor" >"$T/cfg.yaml"
KGD_STATION_CONFIG=$T/cfg.yaml "$P/bin/station" plugins >"$T/p2.out" 2>&1 ||
	fail "plugins with \$KGD_STATION_CONFIG: $(cat "$T/p2.out")"
grep -q "^OK .*abi-good .*$T/vendor/abi-good.so" "$T/p2.out" ||
	fail "third-party plugin not listed: $(cat "$T/p2.out")"
# --config comes before $KGD_STATION_CONFIG.
KGD_STATION_CONFIG=$T/none.yaml "$P/bin/station" plugins --config "$T/cfg.yaml" \
	>/dev/null 2>&1 || fail "--config did not win over \$KGD_STATION_CONFIG"
KGD_STATION_CONFIG=$T/none.yaml "$P/bin/station" plugins >"$T/p3.out" 2>&1 &&
	fail "a missing \$KGD_STATION_CONFIG was ignored"
grep -q "$T/none.yaml" "$T/p3.out" || fail "not named: $(cat "$T/p3.out")"
# The same folder writable by its group: refused, not loaded.
chmod 775 "$T/vendor"
KGD_STATION_CONFIG=$T/cfg.yaml "$P/bin/station" plugins >"$T/p4.out" 2>&1
grep -q "^REJECTED .*abi-good.*writable by its group" "$T/p4.out" ||
	fail "group-writable folder not refused: $(cat "$T/p4.out")"

# check on an installed example sequence and its limits.
SEQ=$P/share/kgd-station/sequences
"$P/bin/station" check "$SEQ/elsfp-module.yaml" --limits \
	"$SEQ/limits/elsfp-8-std.yaml" >"$T/check.out" 2>&1 ||
	fail "station check: $(cat "$T/check.out")"

# A short lot on the moved kgd-vstation, the config from the environment.
"$P/bin/kgd-vstation" --product elsfp --units 3 --time-scale 0.0002 \
	--lifetime-s 120 --config-out "$T/vs.yaml" >"$T/vs.log" 2>&1 &
VS_PID=$!
i=0
while [ ! -f "$T/vs.yaml" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "kgd-vstation did not start: $(cat "$T/vs.log")"
	sleep 0.05
done
KGD_STATION_CONFIG=$T/vs.yaml "$P/bin/station" run "$SEQ/elsfp-module.yaml" \
	--limits "$SEQ/limits/elsfp-8-std.yaml" --db "$T/r.db" --lot INST1 \
	--units 3 --quiet >"$T/run.out" 2>&1 ||
	fail "station run: $(cat "$T/run.out")"
kill "$VS_PID"; wait "$VS_PID" 2>/dev/null || true; VS_PID=
[ "$(sqlite3 "$T/r.db" 'SELECT count(*) FROM run')" = 3 ] || fail "not 3 runs"
# The session says which build recorded it: what --version says.
sv=$(sqlite3 "$T/r.db" "SELECT 'station ' || software_version || ' (build ' ||
	software_build || ')' FROM session")
[ "$sv" = "$v" ] || fail "session software '$sv', station says '$v'"
sqlite3 "$T/r.db" 'SELECT plugin_file FROM session_instrument' | grep -v "^$PLUG/" &&
	fail "the lot used a plugin outside $PLUG"

# demo: the installed sequences and the kgd-vstation beside the station.
"$P/bin/station" demo --product teraphy --wafers 1 --quiet --out "$T/demo" \
	>"$T/demo.out" 2>&1 || fail "station demo: $(cat "$T/demo.out")"
[ -f "$T/demo/yield.csv" ] || fail "demo wrote no yield.csv"
[ "$(sqlite3 "$T/demo/results.db" 'SELECT count(*) FROM run')" -gt 0 ] ||
	fail "demo tested no die"

# No config anywhere: an installed station names the three places (unless
# this PC really has /etc/kgd-station/station.yaml, which it would use).
if [ ! -e /etc/kgd-station/station.yaml ]; then
	env -u KGD_STATION_CONFIG "$P/bin/station" run "$SEQ/elsfp-module.yaml" \
		--db "$T/x.db" --lot X >/dev/null 2>"$T/nocfg.err" && fail "ran without config"
	grep -q 'no station config: give --config, set \$KGD_STATION_CONFIG or install /etc/kgd-station/station.yaml' \
		"$T/nocfg.err" || fail "no-config message: $(cat "$T/nocfg.err")"
	[ -e "$T/x.db" ] && fail "a results file without a config"
fi
echo "installed tree in another folder: ok"
