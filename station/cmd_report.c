/*
 * station/cmd_report.c - `station report`: yield reports from a results
 * database alone. Each CSV is written whole or not at all (reports/).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "report_cli.h"
#include "rpt.h"

static void help(void)
{
	printf(
"usage: station report --db RESULTS.db [--out DIR]\n\n"
"Write yield reports from RESULTS.db (read-only; the station may be\n"
"writing it at the same time) into DIR (default: the current folder):\n"
"  yield.csv  per lot: parts tested, passed, failed, yield %%\n"
"  tests.csv  per test step: count, pass/fail, mean, stdev, min, max, limits\n"
"CSV per RFC 4180 with a header row; see docs/REPORTS.md for the columns.\n");
}

int report_cli(const char *db_path, const char *out_dir, int verbose)
{
	static const struct {
		const char *file;
		int (*write)(const char *db_path, const char *out, kgd_err *err);
	} reports[] = {
		{"yield.csv", rpt_yield_csv},
		{"tests.csv", rpt_tests_csv},
	};
	char path[4096];
	kgd_err err;

	if (mkdir(out_dir, 0777) && errno != EEXIST) {
		cli_error("%s: cannot create folder: %s", out_dir, strerror(errno));
		return CLI_ERROR;
	}
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", out_dir, reports[i].file);
		kgd_err_clear(&err);
		if (reports[i].write(db_path, path, &err))
			return cli_fail(&err);
		if (verbose)
			printf("wrote %s\n", path);
	}
	return CLI_OK;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, 0, 'd'},
		{"out", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *db_path = NULL, *out_dir = ".";
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': db_path = optarg; break;
		case 'o': out_dir = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage("report", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("report", "unexpected argument '%s'", argv[optind]);
	if (!db_path)
		return cli_usage("report", "--db is required");
	return report_cli(db_path, out_dir, 1);
}
