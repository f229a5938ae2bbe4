/*
 * station/cmd_run.c - `station run`: test a lot, part by part, recording
 * every measurement. In the unit process parts come from --serial, --units
 * or, for an operator with a barcode scanner, one serial per line on stdin;
 * in the wafer process from the prober: the wafers in --wafers/--slots, each
 * die of its test map or of --dies.
 *
 * Nothing is written for a part that does not finish: SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT and SIGPIPE stop the lot at the next safe point (an
 * instrument wait is cut within a slice whatever its timeout), cleanup
 * runs, the part in flight is rolled back, and the command exits 130 with
 * a summary of what was committed (signal handling: cli.h, run_cli.c).
 * --resume continues a lot at the first part without a committed run.
 * --trace FILE (or KGD_TRACE) records every instrument exchange of the
 * run, opening and close included (cli_trace_start, kgd/xport.h).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run_cli.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "c:d:l:s:n:o:L:w:S:D:rqhE:C:T:y"
/* Long-only options. */
#define OPT_CONDITION 1001
#define OPT_DRY_RUN 1002

static void help(void)
{
	printf(
"usage: station run SEQUENCE [--config STATION.yaml] --db RESULTS.db --lot LOT\n"
"                   [--limits LIMITS.yaml] [--operator NAME] [--resume] [--quiet]\n"
"                   [--max-errors N] [--contact-retries N] [--trace FILE]\n"
"                   [--condition VAR=VALUE]\n"
"                   [--ui [ADDR:]PORT [--ui-control]] [--yes] [--sync SERVER]\n"
"       station run SEQUENCE --config STATION.yaml --dry-run [--limits L] [--condition C]\n"
"                   unit process:  [--serial SN]... | [--units N]\n"
"                   wafer process: [--wafers N | --slots S,S,...] [--dies X,Y;X,Y...]\n\n"
"Test a lot of parts with SEQUENCE on the instruments STATION.yaml names,\n"
"writing every measurement, limit and verdict to RESULTS.db (created if\n"
"missing). Each part is committed when its verdict is known.\n\n"
"  -c, --config FILE    station config: role -> driver + URI (default:\n"
"                       $KGD_STATION_CONFIG, else " KGD_SYSTEM_CONFIG ")\n"
"  -d, --db FILE        results database (SQLite)\n"
"  -l, --lot LOT        lot name\n"
"  -L, --limits FILE    limits file overriding the sequence's limits\n"
"  -s, --serial SN      a part's serial number (repeat for each part)\n"
"  -n, --units N        test N parts named LOT-0001, LOT-0002, ...\n"
"  -w, --wafers N       wafers in cassette slots 1..N (default: slot 1)\n"
"  -S, --slots LIST     cassette slots, e.g. 1,3,4\n"
"  -D, --dies LIST      only these dies of each wafer, e.g. \"3,4;-2,7\" (retest)\n"
"  -r, --resume         skip parts the lot already has a committed run for\n"
"      --max-errors N   stop the lot after N parts in a row in the error bin\n"
"                       (instrument errors; default 3, 0: never stop)\n"
"      --contact-retries N  wafer: contact again N times after the prober\n"
"                       refuses contact (default 1); then the die gets the\n"
"                       error bin and the lot goes on\n"
"  -T, --trace FILE     write every command and reply of every instrument to\n"
"                       FILE (created or truncated), one line each: time,\n"
"                       role, URI, > or <, the bytes (default: $KGD_TRACE;\n"
"                       --trace '' turns that off)\n"
"      --sync SERVER    send each committed part to the fab's central\n"
"                       PostgreSQL server in the background (`station sync`\n"
"                       --help; a postgresql:// URL or a service name, no\n"
"                       password). A slow or absent server never slows the\n"
"                       lot: it is said once, retried, caught up; the end of\n"
"                       the lot says what is still waiting\n"
"      --ui [ADDR:]PORT serve the station page (live wafer map, bins, yield,\n"
"                       prompts, why the lot stopped) on ADDR (default\n"
"                       127.0.0.1) port PORT (0: any free); the URL is printed\n"
"      --ui-control     the page may also answer prompts and abort the lot,\n"
"                       with the token printed at start (as SIGINT)\n"
"  -y, --yes            test wafers whose prober id names another lot without\n"
"                       asking (a warning is still printed)\n"
"  -o, --operator NAME  operator id; on a terminal it is asked for when not\n"
"                       given ($USER the default answer), elsewhere $USER\n"
"  -q, --quiet          no progress lines, no prompt texts\n"
"      --condition VAR=VALUE  the test condition (e.g. temperature_c=85):\n"
"                       picks the limits file's limit set for it and is\n"
"                       stored with every run\n"
"      --dry-run        walk the sequence for one part against the configured\n"
"                       drivers without opening any instrument or writing\n"
"                       anything: each step, its driver, sweep size and\n"
"                       estimated time (drivers' declared timing), the total\n"
"  -h, --help           this text\n\n"
"Unit process without --serial or --units: serials are read from stdin, one\n"
"per line (a barcode scanner works); an empty line or end of input ends the\n"
"lot.\n"
"SIGINT, SIGTERM, SIGHUP (terminal closed), SIGQUIT and SIGPIPE (stdout\n"
"closed) abort at the next safe point, within about a second even while an\n"
"instrument is waited on: cleanup steps still run, the part in flight leaves\n"
"no rows, the session is marked aborted, exit 130. A full results file\n"
"(SIGXFSZ is ignored: the write fails, 'File too large') stops the lot\n"
"with exit 1, as any database error.\n"
"An instrument error gives the part the error bin (99), never a pass; an\n"
"instrument whose connection was lost is reopened before the next part, and\n"
"the lot stops (exit 1, session 'error') when that fails, at a prober error\n"
"or after --max-errors error parts in a row.\n"
"Exit: 0 lot done, 1 error, 2 usage, 130 aborted (by any of the signals above).\n");
}

/* "1,3,4" -> slots. 0 on success. */
static int parse_slots(const char *text, int **out, size_t *n)
{
	const char *p = text;
	int *v = NULL;

	*n = 0;
	while (*p) {
		char *end;
		long s = strtol(p, &end, 10);
		int *grown;

		if (end == p || s < 1 || s > 1000 || (*end && *end != ','))
			goto bad;
		grown = realloc(v, (*n + 1) * sizeof(*v));
		if (!grown)
			goto bad;
		v = grown;
		v[(*n)++] = (int)s;
		p = *end ? end + 1 : end;
	}
	if (*n == 0)
		goto bad;
	*out = v;
	return 0;
bad:
	free(v);
	return -1;
}

/* "3,4;-2,7" -> dies. 0 on success. */
static int parse_dies(const char *text, run_die **out, size_t *n)
{
	const char *p = text;
	run_die *v = NULL;

	*n = 0;
	while (*p) {
		char *end;
		long x, y;
		run_die *grown;

		x = strtol(p, &end, 10);
		if (end == p || *end != ',')
			goto bad;
		p = end + 1;
		y = strtol(p, &end, 10);
		if (end == p || (*end && *end != ';') || x < -100000 || x > 100000 ||
		    y < -100000 || y > 100000)
			goto bad;
		grown = realloc(v, (*n + 1) * sizeof(*v));
		if (!grown)
			goto bad;
		v = grown;
		v[*n].x = (int)x;
		v[(*n)++].y = (int)y;
		p = *end ? end + 1 : end;
	}
	if (*n == 0)
		goto bad;
	*out = v;
	return 0;
bad:
	free(v);
	return -1;
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
		{"limits", required_argument, 0, 'L'},
		{"wafers", required_argument, 0, 'w'},
		{"slots", required_argument, 0, 'S'},
		{"dies", required_argument, 0, 'D'},
		{"resume", no_argument, 0, 'r'},
		{"max-errors", required_argument, 0, 'E'},
		{"contact-retries", required_argument, 0, 'C'},
		{"quiet", no_argument, 0, 'q'},
		{"trace", required_argument, 0, 'T'},
		{"sync", required_argument, 0, 300},
		{"help", no_argument, 0, 'h'},
		/* long only (issue 18) */
		{"condition", required_argument, 0, OPT_CONDITION},
		{"dry-run", no_argument, 0, OPT_DRY_RUN},
		{"ui", required_argument, 0, 'U'},
		{"ui-control", no_argument, 0, 'K'},
		{"yes", no_argument, 0, 'y'},
		{0, 0, 0, 0},
	};
	run_cli_args a = {0};
	const char **serials = NULL;
	size_t n_serials = 0;
	unsigned long units = 0, wafers = 0;
	int *slots = NULL;
	size_t n_slots = 0, n_dies = 0;
	run_die *dies = NULL;
	const char *trace_path = NULL;   /* NULL: $KGD_TRACE */
	int c, rc = CLI_USAGE;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (c) {
		case 'c': a.config_path = optarg; break;
		case 'd': a.db_path = optarg; break;
		case 'l': a.lot = optarg; break;
		case 's': {
			const char **grown = realloc(serials, (n_serials + 1) * sizeof(*serials));

			if (!grown) {
				cli_error("out of memory");
				rc = CLI_ERROR;
				goto out;
			}
			serials = grown;
			serials[n_serials++] = optarg;
			break;
		}
		case 'n':
			if (cli_parse_uint(optarg, 1000000, &units) || units == 0) {
				cli_usage("run", "--units wants a number from 1 to 1000000, not '%s'", optarg);
				goto out;
			}
			break;
		case 'o': a.operator_name = optarg; break;
		case 'L': a.limits_path = optarg; break;
		case 'w':
			if (cli_parse_uint(optarg, 1000, &wafers) || wafers == 0) {
				cli_usage("run", "--wafers wants a number from 1 to 1000, not '%s'", optarg);
				goto out;
			}
			break;
		case 'S':
			free(slots);
			if (parse_slots(optarg, &slots, &n_slots)) {
				slots = NULL;
				cli_usage("run", "--slots wants slot numbers like 1,3,4, not '%s'", optarg);
				goto out;
			}
			break;
		case 'D':
			free(dies);
			if (parse_dies(optarg, &dies, &n_dies)) {
				dies = NULL;
				cli_usage("run", "--dies wants x,y pairs like \"3,4;-2,7\", not '%s'", optarg);
				goto out;
			}
			break;
		case 'r': a.resume = 1; break;
		case 'E': {
			unsigned long v;

			if (cli_parse_uint(optarg, 1000000, &v)) {
				cli_usage("run", "--max-errors wants a number from 0 to 1000000, not '%s'", optarg);
				goto out;
			}
			a.max_errors = (unsigned)v;
			a.max_errors_given = 1;
			break;
		}
		case 'C': {
			unsigned long v;

			if (cli_parse_uint(optarg, 10, &v)) {
				cli_usage("run", "--contact-retries wants a number from 0 to 10, not '%s'", optarg);
				goto out;
			}
			a.contact_retries = (unsigned)v;
			a.contact_retries_given = 1;
			break;
		}
		case 'q': a.quiet = 1; break;
		case 'T': trace_path = optarg; break;
		case 300: a.sync_target = optarg; break;
		case 'U': a.ui_spec = optarg; break;
		case 'K': a.ui_control = 1; break;
		case 'y': a.assume_yes = 1; break;
		case 'h': rc = CLI_OK; help(); goto out;
		case OPT_CONDITION:
			if (seq_condition_ok(optarg) || strlen(optarg) > 64) {
				cli_usage("run", "--condition wants VAR=VALUE (e.g. temperature_c=85), not '%s'",
					  optarg);
				goto out;
			}
			a.condition = optarg;
			break;
		case OPT_DRY_RUN: a.dry_run = 1; break;
		default:
			cli_bad_option("run", OPTSTRING, opts, argv);
			goto out;
		}
	}
	if (wafers && !slots) {
		slots = malloc(wafers * sizeof(*slots));
		if (!slots) {
			rc = CLI_ERROR;
			goto out;
		}
		for (unsigned long i = 0; i < wafers; i++)
			slots[i] = (int)i + 1;
		n_slots = wafers;
	} else if (wafers) {
		cli_usage("run", "give --wafers or --slots, not both");
		goto out;
	}
	if (a.ui_control && !a.ui_spec)
		cli_usage("run", "--ui-control needs --ui [ADDR:]PORT");
	else if (optind != argc - 1)
		cli_usage("run", "give exactly one SEQUENCE file");
	else if (a.dry_run && !(a.config_path = cli_config_path(a.config_path)))
		cli_usage("run", "--dry-run needs --config (the drivers it walks against)");
	else if (!a.dry_run && (!a.db_path || !a.lot))
		cli_usage("run", "--db and --lot are required");
	else if (!a.dry_run && !(a.config_path = cli_config_path(a.config_path)))
		cli_usage("run", "no station config: give --config, set "
			  "$KGD_STATION_CONFIG or install " KGD_SYSTEM_CONFIG);
	else if (units && n_serials)
		cli_usage("run", "give --serial or --units, not both");
	else {
		a.seq_path = argv[optind];
		a.serials = serials;
		a.n_serials = n_serials;
		a.units = units;
		a.serials_from_stdin = !units && !n_serials;
		a.slots = slots;
		a.n_slots = n_slots;
		a.dies = dies;
		a.n_dies = n_dies;
		a.argc = argc;
		a.argv = argv;
		/* Around the whole run, so the opening exchanges and the close's
		 * (outputs off) are traced too; a file that cannot be created
		 * stops the run before anything is opened. */
		rc = cli_trace_start(trace_path);
		if (rc == CLI_OK) {
			rc = run_cli(&a);
			cli_trace_stop();
		}
	}
out:
	free(serials);
	free(slots);
	free(dies);
	return rc;
}
