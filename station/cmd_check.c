/*
 * station/cmd_check.c - `station check`: validate a sequence without
 * running anything. Prints every problem as file:line:column: message so an
 * editor can jump to each, and exits non-zero if there was any.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "runner.h"

static void help(void)
{
	printf(
"usage: station check SEQUENCE [--config STATION.yaml]\n\n"
"Validate SEQUENCE: YAML syntax, keys, step names, sweeps, limits, units\n"
"and bins. With --config, also check it fits that station: every role is\n"
"configured, every driver loads with the right class, every operation and\n"
"sweep variable is known. Opens no instrument and writes nothing.\n"
"Prints each problem as FILE:LINE:COLUMN: message. Exit 0 valid, 1 not.\n");
}

static void print_problem(void *user, const char *msg)
{
	int *count = user;

	fprintf(stderr, "%s\n", msg);
	(*count)++;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *config_path = NULL;
	seq_sequence *s = NULL;
	cfg_station *c = NULL;
	kgd_err err;
	int ch, problems = 0, exit_code = CLI_ERROR;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage("check", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage("check", "give exactly one SEQUENCE file");

	kgd_err_clear(&err);
	if (seq_check(argv[optind], print_problem, &problems, &err)) {
		/* A file that cannot be read reports nothing through the
		 * callback: say why here. */
		if (!problems)
			cli_fail(&err);
		else
			fprintf(stderr, "%s: %d problem%s\n", argv[optind],
				problems, problems == 1 ? "" : "s");
		goto out;
	}
	if (config_path) {
		if (seq_load(argv[optind], &s, &err) ||
		    cfg_load(config_path, &c, &err) || run_validate(s, c, &err) ||
		    run_check_drivers(s, c, &err)) {
			exit_code = cli_fail(&err);
			goto out;
		}
	}
	printf("%s: ok\n", argv[optind]);
	exit_code = CLI_OK;
out:
	cfg_free(c);
	seq_free(s);
	return exit_code;
}
