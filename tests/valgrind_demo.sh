#!/bin/sh
# tests/valgrind_demo.sh - valgrind memcheck over two short `station demo`
# runs (ELSFP, 3 units; TeraPHY wafer sort, reduced grid): every allocation of the CLI, the sequencer, the plugins
# it dlopen()s, the transports and the result store released, no invalid
# access. Any definite or indirect leak or memcheck error fails the test.
#   valgrind_demo.sh BIN_DIR SANITIZED
# Exits 77 (ctest SKIP_RETURN_CODE) when valgrind is missing or the build
# is sanitized (ASan and valgrind cannot share a process).
set -u
bin=$1
if [ "${2:-OFF}" = ON ]; then
	echo "skipped: sanitizer build (valgrind cannot run ASan binaries)"
	exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "skipped: valgrind is not installed (.ci/deps installs it)"
	exit 77
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/kgd-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
# The simulator is a child process the demo starts: not traced, it is not
# what this test is about.
status=0
for args in "--product elsfp --units 3" "--product teraphy --units 2"; do
	# shellcheck disable=SC2086 # args is a word list on purpose
	valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --error-exitcode=1 \
		"$bin/station" demo $args --out "$out/demo" >"$out/log" 2>&1
	rc=$?
	cat "$out/log"
	rm -rf "$out/demo"
	if [ $rc -ne 0 ]; then
		echo "valgrind_demo: station demo $args under valgrind exited $rc"
		status=1
	fi
done
exit $status
