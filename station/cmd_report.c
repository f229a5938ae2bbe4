/*
 * station/cmd_report.c - `station report`: yield reports, wafer maps and
 * STDF from a results database alone. Each file is written whole or not at
 * all (reports/), and the set of them whole or not at all (report_set.h);
 * this file only parses options and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "report_cli.h"
#include "report_set.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "d:o:qh"

static void help(void)
{
	printf(
"usage: station report --db RESULTS.db [--out DIR] [--stdf DIR] [--html]\n"
"                      [--only FILES] [filters]\n"
"       station report --from-db SERVER [--out DIR] [--stdf DIR] [--html]\n"
"                      [--only FILES] [filters]\n\n"
"Write yield reports from RESULTS.db (read-only; the station may be\n"
"writing it at the same time). With --out (default: the current folder,\n"
"unless only --stdf is given):\n"
"  yield.csv      per lot and wafer: tested, passed, yield %%, first-pass\n"
"                 yield, retests\n"
"  bins.csv       hard and soft bin counts and %% per lot and wafer\n"
"  pareto.csv     failing steps ranked by parts failed (first / any)\n"
"  tests.csv      per step and limits: n, pass/fail, mean, stdev, min, max\n"
"  teststats.csv  per test: n, mean, stdev, min, max, percentiles, Cp, Cpk\n"
"  wafermap.csv   one row per die; wafermap_<lot>_<wafer>.svg per wafer\n"
"  parts.csv      one row per part, one column per measurement\n"
"  testtime.csv   per step: mean, p50, p95, max seconds and share of the\n"
"                 part's time (where a die's seconds go)\n"
"  instruments.csv  per session and role: driver, ABI, plugin SHA-256 and\n"
"                 the instrument's identity (what produced the values)\n"
"  pat_limits.csv the PAT limits of each lot's latest `station screen`\n"
"With --html also report.html: yield, bins, Pareto, wafer maps, test\n"
"statistics with histograms and the PAT summary in one standalone file.\n"
"yield.csv has pre- and post-screen yield; maps, bins and STDF show the\n"
"final bins (after the screen).\n"
"With --only FILES (comma-separated, e.g. tests.csv,yield.csv): only those\n"
"CSVs in the set (wafermap.csv brings its SVGs).\n"
"With --stdf DIR: one STDF V4 wafer-sort file per wafer, <lot>_<wafer>.stdf.\n"
"Each set is swapped in whole; its manifest, report.sha256 (stdf.sha256),\n"
"comes last and lists its files: without it the folder is incomplete.\n\n"
"Filters (a part counts through one run, see --first-pass):\n"
"  --lot NAME  --wafer NAME  --product NAME  --station NAME\n"
"  --seq-version N  --from DATE  --to DATE   (ISO-8601, inclusive, UTC)\n"
"  --final        each part's latest run (default)\n"
"  --first-pass   each part's first run (retest 0)\n"
"  --by-coords    teststats.csv: one row per sweep point\n"
"  -q, --quiet    do not list the files written\n"
"A filter that matches nothing is an error (exit 1). See docs/REPORTS.md.\n\n"
"--from-db SERVER: the same set from the fab's central PostgreSQL server\n"
"(a postgresql:// URL or a libpq service name; `station sync` fills it),\n"
"across every station that sent its results: the selected parts are\n"
"pulled into a scratch station file and reported by the same code, so\n"
"the CSVs are the same bytes as from the station files. With --only\n"
"tests.csv nothing is pulled: the server picks the runs and streams their\n"
"measurements straight into the same arithmetic (fast across the whole\n"
"fab; the same bytes). A part tested in several station files is one\n"
"part: its latest run is in the file last in uuid order, then the\n"
"filters apply to that run. docs/CENTRAL_DB.md.\n");
}

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0777) && errno != EEXIST) {
		cli_error("%s: cannot create folder: %s", dir, strerror(errno));
		return CLI_ERROR;
	}
	return CLI_OK;
}

static void list_files(const char *dir, int stdf)
{
	printf("wrote %s reports into %s\n", stdf ? "STDF" : "CSV", dir);
}

/* The reports in which, written into a stage in dir and swapped in whole
 * with manifest written last (report_set.h): whenever it stops, dir holds
 * the old complete set, the new complete set, or no manifest. */
static int write_set(const char *db_path, const char *dir, const char *manifest,
		     const rpt_options *opt, unsigned which, rpt_summary *sum)
{
	kgd_err err;
	rset set;
	int status;

	if (make_dir(dir))
		return CLI_ERROR;
	kgd_err_clear(&err);
	status = rset_begin(&set, dir, manifest, &err);
	if (!status)
		status = rpt_write(db_path, set.stage, opt, which, sum, &err);
	if (!status)
		status = rset_commit(&set, &err);
	rset_end(&set);
	return status ? cli_fail(&err) : CLI_OK;
}

int report_cli_opts(const char *db_path, const char *out_dir,
		    const char *stdf_dir, const rpt_options *opt, int verbose)
{
	return report_cli_html(db_path, out_dir, stdf_dir, opt, 0, verbose);
}

int report_cli_html(const char *db_path, const char *out_dir,
		    const char *stdf_dir, const rpt_options *opt, int html,
		    int verbose)
{
	return report_cli_which(db_path, out_dir, stdf_dir, opt,
				RPT_ALL_CSV | (html ? RPT_HTML : 0u), verbose);
}

int report_cli_which(const char *db_path, const char *out_dir,
		     const char *stdf_dir, const rpt_options *opt,
		     unsigned which, int verbose)
{
	rpt_summary sum = { 0, 0 };
	int rc, html = (which & RPT_HTML) != 0;

	if (out_dir) {
		/* report.html is one more file of the set: in its manifest */
		rc = write_set(db_path, out_dir, "report.sha256", opt, which,
			       &sum);
		if (rc)
			return rc;
		if (sum.parts == 0)
			fprintf(stderr, "station: note: %s holds no tested part; "
				"the reports have header rows only\n", db_path);
		if (verbose) {
			list_files(out_dir, 0);
			printf("  %lld parts, %d files\n", sum.parts, sum.files);
			if (html)
				printf("  lot report: %s/report.html\n", out_dir);
		}
	}
	if (stdf_dir) {
		rc = write_set(db_path, stdf_dir, "stdf.sha256", opt, RPT_STDF,
			       &sum);
		if (rc)
			return rc;
		if (sum.files == 0)
			fprintf(stderr, "station: note: no selected part was "
				"tested on a wafer; STDF is written per wafer\n");
		if (verbose) {
			list_files(stdf_dir, 1);
			printf("  %lld parts, %d files\n", sum.parts, sum.files);
		}
	}
	return CLI_OK;
}

int report_cli(const char *db_path, const char *out_dir, int verbose)
{
	return report_cli_opts(db_path, out_dir, NULL, NULL, verbose);
}

/* --only: report file names, comma-separated, into rpt_write's bits. */
static int parse_only(const char *list, unsigned *which)
{
	static const struct {
		const char *name;
		unsigned bit;
	} files[] = {
		{"yield.csv", RPT_YIELD}, {"tests.csv", RPT_TESTS},
		{"bins.csv", RPT_BINS}, {"pareto.csv", RPT_PARETO},
		{"teststats.csv", RPT_TESTSTATS}, {"wafermap.csv", RPT_WAFERMAP},
		{"parts.csv", RPT_PARTS}, {"testtime.csv", RPT_TESTTIME},
		{"instruments.csv", RPT_INSTRUMENTS},
		{"pat_limits.csv", RPT_PAT}, {"trend.csv", RPT_TREND},
	};
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if (strlen(files[i].name) == n &&
			    !strncmp(files[i].name, p, n))
				break;
		if (i == sizeof(files) / sizeof(files[0])) {
			cli_usage("report", "--only: no report named '%.*s' (one"
				  " of yield.csv, tests.csv, bins.csv, pareto.csv,"
				  " teststats.csv, wafermap.csv, parts.csv,"
				  " testtime.csv, instruments.csv, pat_limits.csv,"
				  " trend.csv)", (int)n, p);
			return -1;
		}
		*which |= files[i].bit;
		p += n + (p[n] == ',');
	}
	if (!*which) {
		cli_usage("report", "--only: no report named");
		return -1;
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	enum { O_LOT = 256, O_WAFER, O_PRODUCT, O_STATION, O_SEQV, O_FROM,
	       O_TO, O_FIRST, O_FINAL, O_COORDS, O_STDF, O_HTML, O_FROM_DB,
	       O_ONLY };
	static const struct option opts[] = {
		{"db", required_argument, 0, 'd'},
		{"out", required_argument, 0, 'o'},
		{"stdf", required_argument, 0, O_STDF},
		{"html", no_argument, 0, O_HTML},
		{"from-db", required_argument, 0, O_FROM_DB},
		{"only", required_argument, 0, O_ONLY},
		{"lot", required_argument, 0, O_LOT},
		{"wafer", required_argument, 0, O_WAFER},
		{"product", required_argument, 0, O_PRODUCT},
		{"station", required_argument, 0, O_STATION},
		{"seq-version", required_argument, 0, O_SEQV},
		{"from", required_argument, 0, O_FROM},
		{"to", required_argument, 0, O_TO},
		{"first-pass", no_argument, 0, O_FIRST},
		{"final", no_argument, 0, O_FINAL},
		{"by-coords", no_argument, 0, O_COORDS},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *db_path = NULL, *out_dir = NULL, *stdf_dir = NULL;
	const char *from_db = NULL;
	rpt_options opt = { 0 };
	unsigned long v;
	int ch, verbose = 1, first = 0, final = 0, html = 0;
	unsigned only = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			/* Two files used to mean the last one, silently: the
			 * report of one file under the name of two. */
			if (db_path && strcmp(db_path, optarg) != 0)
				return cli_usage("report", "--db given twice "
						 "('%s', '%s'): a report reads one "
						 "database; report each file on its "
						 "own, or copy the lots into one "
						 "file first", db_path, optarg);
			db_path = optarg;
			break;
		case O_HTML: html = 1; break;
		case 'o': out_dir = optarg; break;
		case O_STDF: stdf_dir = optarg; break;
		case O_FROM_DB: from_db = optarg; break;
		case O_ONLY:
			if (parse_only(optarg, &only))
				return CLI_USAGE;
			break;
		case O_LOT: opt.lot = optarg; break;
		case O_WAFER: opt.wafer = optarg; break;
		case O_PRODUCT: opt.product = optarg; break;
		case O_STATION: opt.station = optarg; break;
		case O_SEQV:
			if (cli_parse_uint(optarg, 2147483647ul, &v))
				return cli_usage("report", "--seq-version: not a "
						 "version number: '%s'", optarg);
			opt.seq_version = (int)v;
			opt.has_seq_version = 1;
			break;
		case O_FROM: opt.from = optarg; break;
		case O_TO: opt.to = optarg; break;
		case O_FIRST: first = 1; break;
		case O_FINAL: final = 1; break;
		case O_COORDS: opt.by_coords = 1; break;
		case 'q': verbose = 0; break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("report", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc)
		return cli_usage("report", "unexpected argument '%s'", argv[optind]);
	if (db_path && from_db)
		return cli_usage("report", "--db and --from-db exclude each other");
	if (!db_path && !from_db)
		return cli_usage("report", "--db or --from-db is required");
	if (first && final)
		return cli_usage("report", "--first-pass and --final exclude "
				 "each other");
	opt.first_pass = first;
	if (!out_dir && (!stdf_dir || html))
		out_dir = ".";
	if (only && stdf_dir)
		return cli_usage("report", "--only picks CSVs of the report set;"
				 " --stdf writes another set: give them in two"
				 " runs");
	if (!only)
		only = RPT_ALL_CSV;
	if (html)
		only |= RPT_HTML;
	if (from_db)
		return sync_report_from_db(from_db, out_dir, stdf_dir, &opt,
					   only, verbose);
	return report_cli_which(db_path, out_dir, stdf_dir, &opt, only, verbose);
}
