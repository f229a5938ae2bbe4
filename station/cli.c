/*
 * station/cli.c - the helpers every subcommand shares (cli.h): one way to
 * print an error or a usage line, option parsing chores, the signals that
 * abort a run and the instrument trace file. main.c only dispatches; a
 * cmd_*.c file calls down into this file, never into main.c or another
 * cmd_*.c. Only station/ prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kgd/xport.h"
#include "plugin.h"
#include "version.h"

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

/* ---- deployment ------------------------------------------------------- */

#ifndef KGD_SOURCE_DIR
#define KGD_SOURCE_DIR "."
#endif
#ifndef KGD_BIN_TO_DATA
#define KGD_BIN_TO_DATA "../share/kgd-station"
#endif

const char *cli_config_path(const char *given)
{
	const char *env = getenv("KGD_STATION_CONFIG");

	if (given)
		return given;
	if (env && *env)
		return env;
	if (!drv_plugin_build_tree() && access(KGD_SYSTEM_CONFIG, F_OK) == 0)
		return KGD_SYSTEM_CONFIG;
	return NULL;
}

const char *cli_data_dir(void)
{
	static char dir[PATH_MAX];
	char joined[PATH_MAX];

	if (drv_plugin_build_tree())
		return KGD_SOURCE_DIR;
	if (dir[0])
		return dir;
	if (snprintf(joined, sizeof(joined), "%s/%s", cli_exe_dir(),
		     KGD_BIN_TO_DATA) >= (int)sizeof(joined))
		joined[0] = '\0';
	if (!realpath(joined, dir))
		snprintf(dir, sizeof(dir), "%s", joined);
	return dir;
}

void cli_print_version(FILE *f)
{
	fprintf(f, "station %s (build %s)\n", kgd_version_number,
		kgd_version_build);
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
	/* Atomic stores (lock-free: async-signal-safe): the parallel branches'
	 * threads read the flag while the handler runs on another. */
	if (!__atomic_load_n(&cli_first_signal, __ATOMIC_RELAXED))
		__atomic_store_n(&cli_first_signal, sig, __ATOMIC_RELAXED);
	if (cli_abort_flag)
		__atomic_store_n(cli_abort_flag, 1, __ATOMIC_RELAXED);
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

/* ---- the instrument trace ----------------------------------------------- */

static FILE *cli_trace_file;
static char cli_trace_path[4096];
static int cli_trace_errno;   /* the first failed line's, under the lock */

/* The sink (kgd/xport.h): called on whichever thread did the I/O. The
 * stream's lock holds the line and its flush together, so two roles
 * tracing at once never mix within a line, and each line is on disk when
 * the call returns: a station that hangs or is killed leaves its trace
 * complete up to the exchange it was in. */
static void cli_trace_line(void *user, const char *line, size_t len)
{
	FILE *f = user;

	flockfile(f);
	errno = 0;
	if ((fwrite(line, 1, len, f) != len || fflush(f) != 0) && !cli_trace_errno)
		cli_trace_errno = errno ? errno : EIO;
	funlockfile(f);
}

int cli_trace_start(const char *path)
{
	int fd;

	if (!path)
		path = getenv("KGD_TRACE");
	if (!path || !*path)
		return CLI_OK;
	cli_trace_errno = 0;
	snprintf(cli_trace_path, sizeof(cli_trace_path), "%s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(cli_trace_file = fdopen(fd, "w"))) {
		cli_error("cannot create trace file '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CLI_ERROR;
	}
	xport_set_trace(cli_trace_line, cli_trace_file);
	return CLI_OK;
}

void cli_trace_stop(void)
{
	if (!cli_trace_file)
		return;
	xport_set_trace(NULL, NULL);
	if (fclose(cli_trace_file) != 0 && !cli_trace_errno)
		cli_trace_errno = errno;
	if (cli_trace_errno)
		cli_error("trace file '%s': not every line was written: %s",
			  cli_trace_path, strerror(cli_trace_errno));
	cli_trace_file = NULL;
}
