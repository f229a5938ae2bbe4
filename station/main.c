/*
 * station/main.c - the `station` command: dispatch to a subcommand. What
 * the subcommands share (printing, options, signals) is in
 * cli.c, so nothing here is called from anywhere else.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"run", cmd_run, "test a lot of parts with a sequence and record every result"},
	{"check", cmd_check, "validate a sequence file (and its fit to a station) without running it"},
	{"report", cmd_report, "write CSV yield reports from a results database"},
	{"plugins", cmd_plugins, "list driver plugins with their class, ABI version and operations"},
	{"scan", cmd_scan, "list serial ports and USBTMC instruments with their URIs"},
	{"screen", cmd_screen, "screen a sorted lot for outliers (dynamic/static PAT) and bad neighbourhoods (GDBN)"},
	{"demo", cmd_demo, "run a simulated lot on the virtual station and write its reports"},
	{"sync", cmd_sync, "send a results file to the fab's central PostgreSQL server"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: station <command> [options]\n\n"
		   "Known-good-die screening station for silicon-photonics parts.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-8s %s\n", "version",
		"print the version and build (also --version)");
	fprintf(f, "\n`station <command> --help` describes each command.\n"
		   "exit codes: 0 done, 1 error, 2 bad command line, 130 aborted\n"
		   "(SIGINT, SIGTERM, SIGHUP, SIGQUIT, or SIGPIPE: stdout closed)\n");
	cli_print_version(f);
}

/* Did the command line ask a subcommand for its --help? Then its text
 * ends with the version line, whichever command it is (one added later
 * too). "--" ends the options, as getopt has it. */
static int asks_help(int argc, char **argv)
{
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	/* A file that cannot grow (RLIMIT_FSIZE, as a full disk) must fail its
	 * write with EFBIG, which the database and reports report as "File too
	 * large" and stop cleanly on, rather than kill the station outright
	 * (SIGXFSZ's default) with the lasers on and the session 'running'. */
	signal(SIGXFSZ, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		cli_print_version(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			int rc = commands[i].fn(argc - 1, argv + 1);

			if (rc == CLI_OK && asks_help(argc, argv)) {
				printf("\n");
				cli_print_version(stdout);
			}
			return rc;
		}
	cli_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
