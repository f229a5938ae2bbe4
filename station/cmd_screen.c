/*
 * station/cmd_screen.c - `station screen`: the outlier screen after wafer
 * sort (dynamic and static PAT, GDBN; screen/scr.h) of one lot, from the
 * results database alone, with a YAML screen config. This file parses
 * options, brings the file to the current schema (db_open: backup,
 * migration, integrity check) and prints what the screen did.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "db.h"
#include "screen_cfg.h"
#include "screen_cli.h"

#define OPTSTRING "d:c:L:qh"

static void help(void)
{
	printf(
"usage: station screen --db RESULTS.db --lot LOT --config SCREEN.yaml [-q]\n\n"
"Screen a sorted lot for statistical outliers and bad neighbourhoods:\n"
"  dynamic PAT  per wafer and test: median +- k * IQR/1.349 of the passing\n"
"               dies, clipped to the spec limits (AEC-Q001)\n"
"  static PAT   the same limits from named earlier lots\n"
"  GDBN         a passing die with at least N failing neighbours (3x3, 5x5)\n"
"A rejected die gets the config's soft and hard bin in a screen record\n"
"(its measurements and original bins stay as they were); `station report`\n"
"then shows pre- and post-screen yield and the final bins. Rerunning the\n"
"same screen on the same data changes nothing. See docs/REPORTS.md.\n");
}

static void print_problem(void *user, const char *msg)
{
	(void)user;
	fprintf(stderr, "%s\n", msg);
}

int screen_cli(const char *db_path, const char *lot, const char *config,
	       int verbose, scr_summary *out)
{
	scr_config *cfg = NULL;
	scr_summary sum;
	kgd_err err;
	db *d = NULL;
	int status;

	struct stat sb;

	kgd_err_clear(&err);
	/* db_open would create a missing file: a screen never does */
	if (stat(db_path, &sb) != 0) {
		cli_error("%s: %s", db_path, strerror(errno));
		return CLI_ERROR;
	}
	status = screen_cfg_load(config, print_problem, NULL, &cfg, &err);
	if (status)
		/* parse problems were printed as found */
		return status == KGD_ERR_PARSE ? CLI_ERROR : cli_fail(&err);
	/* the file at the current schema (the screen tables), checked */
	status = db_open(db_path, &d, &err);
	db_close(d);
	if (!status)
		status = scr_run(db_path, lot, cfg, &sum, &err);
	scr_config_free(cfg);
	if (status)
		return cli_fail(&err);
	if (out)
		*out = sum;
	if (!verbose)
		return CLI_OK;
	printf("screened lot %s with %s (sha256 %.12s)%s\n", lot, config,
	       sum.config_sha256, sum.unchanged ? ": unchanged, nothing written"
	       : "");
	printf("  %lld dies, %lld passed, %lld rejected by the screen"
	       " (dpat %lld, static pat %lld, gdbn %lld), %lld pass after\n",
	       sum.tested, sum.passed, sum.rejected, sum.dpat_rejects,
	       sum.spat_rejects, sum.gdbn_rejects, sum.passed - sum.rejected);
	printf("  yield %.2f%% before, %.2f%% after the screen\n",
	       sum.tested ? 100.0 * (double)sum.passed / (double)sum.tested : 0,
	       sum.tested ? 100.0 * (double)(sum.passed - sum.rejected) /
	       (double)sum.tested : 0);
	printf("  %lld PAT limits, %lld not screened%s%s\n", sum.limits,
	       sum.not_screened, sum.not_screened ? ", e.g. " : "",
	       sum.first_unscreened);
	return CLI_OK;
}

int cmd_screen(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, 0, 'd'},
		{"config", required_argument, 0, 'c'},
		{"lot", required_argument, 0, 'L'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *db_path = NULL, *config = NULL, *lot = NULL;
	int ch, verbose = 1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (db_path)
				return cli_usage("screen", "--db given twice: one "
						 "database per screen");
			db_path = optarg;
			break;
		case 'c': config = optarg; break;
		case 'L': lot = optarg; break;
		case 'q': verbose = 0; break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("screen", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc)
		return cli_usage("screen", "unexpected argument '%s'", argv[optind]);
	if (!db_path || !lot || !config)
		return cli_usage("screen", "--db, --lot and --config are required");
	return screen_cli(db_path, lot, config, verbose, NULL);
}
