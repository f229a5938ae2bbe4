#!/bin/sh
# tests/callgraph.sh BUILD_DIR - calls inside db/, reports/, sync/ and station/'s
# core library go one way, and code outside db/ and reports/ enters each
# only through its front file.
#
# The layers below are the pictures in docs/ARCHITECTURE.md ("db/,
# reports/ and sync/: one front file, calls one way"); change both together. The
# check reads the compiled objects (nm), not the sources, so it sees every
# real call and nothing else: a file may call only files in layers below
# its own (never one beside it or above it), every object of the folder
# must sit in a layer, and an object outside the folder (station, tests,
# benchmarks) may use only symbols its front file defines.
set -eu
build=${1:?usage: callgraph.sh BUILD_DIR}
NM=${NM:-nm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# symbols OBJECT... : "<object's name> <symbol> <nm type>" per line
symbols() {
	[ $# -gt 0 ] || return 0
	"$NM" -A -P -g "$@" | awk '{ sub(/:$/, "", $1); n = split($1, p, "/");
		sub(/\.o$/, "", p[n]); print p[n], $2, $3 }'
}

# check FOLDER TARGET "LAYER 1 FILES" "LAYER 2 FILES" ...; layer 1 is the
# front and holds exactly one file.
check() {
	folder=$1 target=$2
	shift 2
	dir="$build/$folder/CMakeFiles/$target.dir"
	if ! ls "$dir"/*.o >/dev/null 2>&1; then
		echo "callgraph: no objects in $dir (build $target first)" >&2
		status=1
		return
	fi
	symbols "$dir"/*.o >"$tmp/in"
	find "$build" -name '*.o' ! -path "$dir/*" >"$tmp/outside.list"
	# shellcheck disable=SC2046
	symbols $(cat "$tmp/outside.list") | awk '$3 == "U"' >"$tmp/out"
	layers=""
	for l in "$@"; do
		layers="$layers$l|"
	done
	echo "$folder/ (front ${1%% *}):"
	awk -v layers="$layers" -v folder="$folder" '
		BEGIN {
			n = split(layers, L, "|")
			for (i = 1; i < n; i++) {
				m = split(L[i], F, " ")
				for (j = 1; j <= m; j++)
					layer[F[j]] = i
				if (i == 1)
					front = F[1]
			}
		}
		FILENAME == ARGV[1] {
			if ($3 == "U")
				use[$1, $2] = 1
			else
				def[$2] = $1
			files[$1] = 1
			next
		}
		# outside objects: only the front may serve them ("-": a folder
		# whose library several CLI files enter, checked for layers only)
		$3 == "U" && front != "-" && ($2 in def) && def[$2] != front {
			printf "  FAIL %s (outside %s/) calls %s in %s, not in the front %s\n",
			       $1, folder, $2, def[$2], front
			bad = 1
		}
		END {
			for (f in files)
				if (!(f in layer)) {
					printf "  FAIL %s is in no layer (tests/callgraph.sh, docs/ARCHITECTURE.md)\n", f
					bad = 1
				}
			for (k in use) {
				split(k, p, SUBSEP)
				a = p[1]; s = p[2]
				if (!(s in def) || def[s] == a)
					continue
				b = def[s]
				edge[a " -> " b] = edge[a " -> " b] " " s
				if (layer[b] <= layer[a]) {
					printf "  FAIL %s calls %s in %s, which is not below it\n", a, s, b
					bad = 1
				}
			}
			for (e in edge)
				printf "  %s:%s\n", e, edge[e] | "sort"
			close("sort")
			exit bad
		}' "$tmp/in" "$tmp/out" || status=1
}

check db kgd_db "db.c" "schema.c db_lease.c" "db_check.c" "db_core.c"
# station/'s sequencer and loaders (kgd_station_core): the layers of
# docs/ARCHITECTURE.md, "The sequencer's layers". The subcommands enter it
# at several files (seq_load, cfg_load, run_lint, run_lot, ...), so no front.
check station kgd_station_core "-" "lot.c run_dry.c" \
	"proc_unit.c proc_wafer.c lint.c" "part.c" "step.c" "rig.c" \
	"ops_table.c" "ops_pm.c ops_bert.c ops_laser.c ops_misc.c ops_smu.c ops_align.c" "ops.c analysis.c" \
	"run_commit.c progress.c live_json.c cfg.c screen_cfg.c" "live_tally.c" "plugin.c" "seq.c" "seq_include.c" "seq_steps.c" \
	"seq_limits.c" "seq_core.c" "yaml_scalar.c ident.c" "yaml_util.c" \
	"diag.c"
check reports kgd_reports "rpt.c" \
	"rpt_yield.c rpt_tests.c rpt_pareto.c rpt_wafer.c rpt_parts.c rpt_time.c rpt_stdf.c rpt_instruments.c rpt_screen.c rpt_html.c" \
	"rpt_wafer_svg.c" "rpt_wafer_load.c" \
	"rpt_common.c"
# screen/ (issue 16): the front scr.c over the arithmetic
check screen kgd_screen "scr.c" "scr_stat.c"
# sync/ (issue 13): the front, the upload and the pull, the screens (sent
# by version), the central schema, rows COPY'd in, the bottom (connections,
# errors, COPY text decoded).
check sync kgd_sync "pgs.c" "pgs_up.c pgs_pull.c pgs_tests.c" "pgs_screen.c" \
	"pgs_schema.c" "pgs_copy.c" "pgs_core.c"
exit $status
