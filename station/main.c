/*
 * station/main.c - the `station` command: dispatch to a subcommand, and the
 * few printing and signal helpers all subcommands share (cli.h). Only
 * station/ prints.
 */
#include <libgen.h>
#include <signal.h>
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
		   "exit codes: 0 done, 1 error, 2 bad command line, 130 aborted\n"
		   "(SIGINT, SIGTERM, SIGHUP, SIGQUIT, or SIGPIPE: stdout closed)\n");
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
	const char *msg = err->msg[0] ? err->msg : kgd_status_name(err->status);

	/* Say which signal: "SIGHUP" tells the operator the terminal went. */
	if (err->status == KGD_ERR_ABORTED && cli_signal_caught())
		cli_error("%s: %s", cli_signal_name(cli_signal_caught()), msg);
	else
		cli_error("%s", msg);
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

/* ---- signals ------------------------------------------------------------ */

static const int cli_sigs[CLI_N_SIGNALS] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT,
					     SIGPIPE};
static volatile sig_atomic_t *cli_abort_flag;
static volatile sig_atomic_t cli_first_signal;

/* Async-signal-safe: two stores. Repeated signals change nothing: the
 * first one is the reason, and cleanup must not be cut short by a second
 * Ctrl-C (kill -9 remains for a station that does not stop). */
static void cli_on_signal(int sig)
{
	if (!cli_first_signal)
		cli_first_signal = sig;
	if (cli_abort_flag)
		*cli_abort_flag = 1;
}

void cli_signals_catch(volatile sig_atomic_t *flag, cli_signals *saved)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_on_signal;
	sigemptyset(&sa.sa_mask);
	cli_abort_flag = flag;
	cli_first_signal = 0;
	for (int i = 0; i < CLI_N_SIGNALS; i++) {
		saved->caught[i] = 0;
		if (sigaction(cli_sigs[i], NULL, &saved->old[i]) != 0)
			continue;
		if (cli_sigs[i] == SIGHUP && saved->old[i].sa_handler == SIG_IGN)
			continue;
		saved->caught[i] = sigaction(cli_sigs[i], &sa, NULL) == 0;
	}
}

void cli_signals_restore(const cli_signals *saved)
{
	for (int i = 0; i < CLI_N_SIGNALS; i++) {
		if (!saved->caught[i])
			continue;
		if (cli_sigs[i] == SIGPIPE)
			signal(SIGPIPE, SIG_IGN);
		else
			sigaction(cli_sigs[i], &saved->old[i], NULL);
	}
	cli_abort_flag = NULL;
}

int cli_signal_caught(void)
{
	return cli_first_signal;
}

const char *cli_signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	case SIGQUIT: return "SIGQUIT";
	case SIGPIPE: return "SIGPIPE (stdout closed)";
	default: return "a signal";
	}
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
