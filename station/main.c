/*
 * station/main.c - the `station` command: dispatch to a subcommand, and the
 * few printing helpers all subcommands share (cli.h). Only station/ prints.
 */
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

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
	{"demo", cmd_demo, "run a simulated lot on the virtual station and write its reports"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: station <command> [options]\n\n"
		   "Known-good-die screening station for silicon-photonics parts.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`station <command> --help` describes each command.\n"
		   "exit codes: 0 done, 1 error, 2 bad command line, 130 aborted\n");
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("station: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_fail(const kgd_err *err)
{
	cli_error("%s", err->msg[0] ? err->msg : kgd_status_name(err->status));
	return err->status == KGD_ERR_ABORTED ? CLI_ABORTED : CLI_ERROR;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "station %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see `station %s --help`)\n", cmd);
	return CLI_USAGE;
}

int cli_bad_option(const char *cmd, const char *optstring,
		   const struct option *longopts, char **argv)
{
	int needs_value = 0;

	/* getopt sets optopt to the short option, or the long option's val,
	 * that lacked its argument; an unknown option leaves it 0 or names a
	 * character not in optstring. */
	if (optopt > 0 && optopt < 256) {
		const char *o = strchr(optstring, optopt);

		needs_value = o && o[1] == ':';
	}
	for (const struct option *l = longopts; !needs_value && optopt && l->name; l++)
		needs_value = l->val == optopt && l->has_arg == required_argument;
	if (needs_value)
		return cli_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
	return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
}

int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return -1;
	*out = v;
	return 0;
}

const char *cli_exe_dir(void)
{
	static char dir[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0)
		return ".";
	dir[n] = '\0';
	return dirname(dir);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
