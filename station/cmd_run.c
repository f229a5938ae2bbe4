/*
 * station/cmd_run.c - `station run`: test a lot, part by part, recording
 * every measurement. Parts come from --serial, --units or, for an operator
 * with a barcode scanner, one serial per line on stdin.
 *
 * Nothing is written for a part that does not finish: SIGINT/SIGTERM stop
 * the lot between measurements, the part in flight is rolled back, and the
 * command exits 130 with a summary of what was committed.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run_cli.h"

static void help(void)
{
	printf(
"usage: station run SEQUENCE --config STATION.yaml --db RESULTS.db --lot LOT\n"
"                   [--serial SN]... [--units N] [--operator NAME] [--quiet]\n\n"
"Test a lot of parts with SEQUENCE on the instruments STATION.yaml names,\n"
"writing every measurement, limit and verdict to RESULTS.db (created if\n"
"missing). Each part is committed when its verdict is known.\n\n"
"  -c, --config FILE    station config: role -> driver + URI\n"
"  -d, --db FILE        results database (SQLite)\n"
"  -l, --lot LOT        lot name\n"
"  -s, --serial SN      a part's serial number (repeat for each part)\n"
"  -n, --units N        test N parts named LOT-0001, LOT-0002, ...\n"
"  -o, --operator NAME  operator (default: $USER)\n"
"  -q, --quiet          no progress lines\n"
"  -h, --help           this text\n\n"
"Without --serial or --units, serials are read from stdin, one per line\n"
"(a barcode scanner works); an empty line or end of input ends the lot.\n"
"SIGINT/SIGTERM abort between measurements: the part in flight leaves no\n"
"rows, cleanup steps still run. Exit: 0 lot done, 1 error, 2 usage, 130 aborted.\n");
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'},
		{"db", required_argument, 0, 'd'},
		{"lot", required_argument, 0, 'l'},
		{"serial", required_argument, 0, 's'},
		{"units", required_argument, 0, 'n'},
		{"operator", required_argument, 0, 'o'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	run_cli_args a = {0};
	const char **serials = NULL;
	size_t n_serials = 0;
	unsigned long units = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:l:s:n:o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a.config_path = optarg; break;
		case 'd': a.db_path = optarg; break;
		case 'l': a.lot = optarg; break;
		case 's': {
			const char **grown = realloc(serials, (n_serials + 1) * sizeof(*serials));

			if (!grown) {
				free(serials);
				cli_error("out of memory");
				return CLI_ERROR;
			}
			serials = grown;
			serials[n_serials++] = optarg;
			break;
		}
		case 'n':
			if (cli_parse_uint(optarg, 1000000, &units) || units == 0) {
				free(serials);
				return cli_usage("run", "--units wants a number from 1 to 1000000, not '%s'", optarg);
			}
			break;
		case 'o': a.operator_name = optarg; break;
		case 'q': a.quiet = 1; break;
		case 'h': free(serials); help(); return CLI_OK;
		default: free(serials); return cli_usage("run", "unknown option");
		}
	}
	rc = CLI_USAGE;
	if (optind != argc - 1)
		cli_usage("run", "give exactly one SEQUENCE file");
	else if (!a.config_path || !a.db_path || !a.lot)
		cli_usage("run", "--config, --db and --lot are required");
	else if (units && n_serials)
		cli_usage("run", "give --serial or --units, not both");
	else {
		a.seq_path = argv[optind];
		a.serials = serials;
		a.n_serials = n_serials;
		a.units = units;
		a.serials_from_stdin = !units && !n_serials;
		rc = run_cli(&a);
	}
	free(serials);
	return rc;
}
