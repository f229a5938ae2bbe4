/*
 * station/cmd_check.c - `station check`: validate a sequence (and its
 * limits file, and its fit to a station) without running anything. Prints
 * every problem as file:line:column: message so an editor can jump to
 * each, and exits non-zero if there was any.
 *
 * Checks run in layers, each reporting all it finds: the YAML of the
 * sequence, of the limits file and of the config; then, when those could
 * be read, the limits applied to the sequence; then the sequence against
 * the operations the sequencer implements and (with --config) against the
 * station's roles and drivers. A layer that cannot be read stops the layers
 * that need it, never the others.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "runner.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "c:L:h"

static void help(void)
{
	printf(
"usage: station check SEQUENCE [--limits LIMITS.yaml] [--config STATION.yaml]\n\n"
"Validate SEQUENCE: YAML syntax, keys, step kinds and operations, sweep\n"
"variables and params of each operation, limits (low <= high, units the\n"
"value converts to), bins, roles, skip_if references. With --limits, also\n"
"the limits file and how it applies to SEQUENCE. With a station config\n"
"(--config, else $KGD_STATION_CONFIG, else " KGD_SYSTEM_CONFIG "\n"
"for an installed station), also the fit to that station: every role configured, every driver found in the\n"
"plugin folders and trusted (its name, owner and permissions; checked\n"
"without loading it), and loaded - only then - to confirm the class the\n"
"sequence needs. Opens no instrument and writes nothing.\n"
"Prints each problem as FILE:LINE:COLUMN: message. Exit 0 valid, 1 not.\n");
}

static void print_problem(void *user, const char *msg)
{
	int *count = user;

	fprintf(stderr, "%s\n", msg);
	(*count)++;
}

/* A file-level failure (missing file) reports nothing through the
 * callback: say it here so it counts as a problem too. */
static int checked(int rc, int before, int *problems, const kgd_err *err)
{
	if (rc && *problems == before) {
		cli_fail(err);
		(*problems)++;
	}
	return rc;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'},
		{"limits", required_argument, 0, 'L'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *config_path = NULL, *limits_path = NULL, *path;
	seq_sequence *s = NULL;
	seq_limset *lim = NULL;
	cfg_station *c = NULL;
	kgd_err err;
	int ch, problems = 0, before, seq_ok, lim_ok = 1, cfg_ok = 1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'L': limits_path = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("check", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage("check", "give exactly one SEQUENCE file");
	path = argv[optind];

	kgd_err_clear(&err);
	before = problems;
	seq_ok = !checked(seq_check(path, print_problem, &problems, &err), before,
			  &problems, &err);
	if (limits_path) {
		before = problems;
		lim_ok = !checked(seq_limset_check(limits_path, print_problem,
						   &problems, &err),
				  before, &problems, &err);
	}
	config_path = cli_config_path(config_path);
	if (config_path) {
		before = problems;
		cfg_ok = !checked(cfg_check(config_path, print_problem, &problems,
					    &err), before, &problems, &err);
	}
	if (seq_ok && lim_ok && seq_load(path, &s, &err) == KGD_OK) {
		if (limits_path && seq_limset_load(limits_path, &lim, &err) == KGD_OK)
			seq_limset_apply(s, lim, print_problem, &problems, &err);
		if (cfg_ok && config_path)
			cfg_load(config_path, &c, &err);
		run_lint(s, c, print_problem, &problems, &err);
	}
	cfg_free(c);
	seq_limset_free(lim);
	seq_free(s);
	if (problems) {
		fprintf(stderr, "%s: %d problem%s\n", path, problems,
			problems == 1 ? "" : "s");
		return CLI_ERROR;
	}
	printf("%s: ok\n", path);
	return CLI_OK;
}
