/*
 * station/cli.h - what the station's subcommands share: each is an
 * int cmd_<name>(int argc, char **argv) returning the process exit code,
 * and prints only through these helpers (cli.c) so every error line looks
 * alike. main.c only dispatches to the cmd_* functions.
 *
 * Exit codes: 0 done, 1 error (file, instrument, database), 2 bad command
 * line, 130 aborted by a signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE;
 * see cli_signals_catch).
 */
#ifndef KGD_CLI_H
#define KGD_CLI_H

#include <signal.h>
#include <stdio.h>
#include "kgd/status.h"

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2, CLI_ABORTED = 130 };

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_screen(int argc, char **argv);
int cmd_sync(int argc, char **argv);

/* "station: <msg>" on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print err->msg as one error line; returns CLI_ABORTED for an abort,
 * CLI_ERROR otherwise. */
int cli_fail(const kgd_err *err);
/* Usage error for subcommand cmd: message plus a pointer to --help. */
int cli_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The default: branch of every subcommand's getopt_long loop (each sets
 * opterr = 0 so getopt prints nothing of its own): one usage line naming
 * the option, "needs a value" when it takes one. Returns CLI_USAGE. */
struct option;
int cli_bad_option(const char *cmd, const char *optstring,
		   const struct option *longopts, char **argv);

/* Parse a non-negative decimal integer option; 0 on success. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* Folder holding the running executable (for finding kgd-vstation). */
const char *cli_exe_dir(void);

/* ---- deployment (README "Deploying to a station PC") ------------------ */

#ifndef KGD_SYSTEM_CONFIG
#define KGD_SYSTEM_CONFIG "/etc/kgd-station/station.yaml"
#endif

/* The station config a command uses, first found: given (--config), then
 * $KGD_STATION_CONFIG when set and not empty, then KGD_SYSTEM_CONFIG when
 * that file exists - for an installed station only: a program of the build
 * tree (tests) never picks up the PC's own config. NULL: none. */
const char *cli_config_path(const char *given);

/* The folder holding the example sequences/ (and their limits/): the
 * source tree's for a build-tree station, else the installed data folder
 * beside the program (<bin>/../share/kgd-station). */
const char *cli_data_dir(void);

/* "station 0.1.0 (build 44fa0c4-dirty)\n" on f: `station --version`, and
 * the last line of every --help. */
void cli_print_version(FILE *f);

/* ---- signals (docs/SEQUENCES.md, "Signals") ----------------------------
 *
 * Every signal that ends a run on a factory floor takes the path of an
 * abort: SIGINT (Ctrl-C), SIGTERM (kill, shutdown), SIGHUP (the operator's
 * terminal or ssh session closed), SIGQUIT (Ctrl-\) and SIGPIPE (stdout
 * closed: whoever watched or logged the run is gone). The handler only
 * sets *flag; the lot stops at the next safe point, cleanup runs, the
 * session is marked aborted and the command exits 130. SIGXFSZ is ignored
 * for the whole process (main), so a file that cannot grow fails its
 * write with EFBIG and is reported, never a silent death. */
#define CLI_N_SIGNALS 5

typedef struct cli_signals {
	struct sigaction old[CLI_N_SIGNALS];
	unsigned char caught[CLI_N_SIGNALS]; /* installed by us */
} cli_signals;

/* Catch the signals above into *flag, saving the dispositions they had.
 * A SIGHUP already ignored when the station started (nohup) stays ignored:
 * the operator asked the run to outlive the terminal. No SA_RESTART: a
 * signal cuts a blocking wait short. */
void cli_signals_catch(volatile sig_atomic_t *flag, cli_signals *saved);

/* Put back what cli_signals_catch saved, except SIGPIPE, which stays
 * ignored: the summary line still to be written must not kill the station
 * (exit 141) when stdout is already closed. */
void cli_signals_restore(const cli_signals *saved);

/* The first signal caught since cli_signals_catch, 0 if none, and its name
 * ("SIGHUP"). */
int cli_signal_caught(void);
const char *cli_signal_name(int sig);

/* ---- the instrument trace (kgd/xport.h; docs/SEQUENCES.md, "Instrument
 * trace") --------------------------------------------------------------
 *
 * One line per write and per read of every instrument, to a file. */

/* Trace to path or, when path is NULL, to $KGD_TRACE when that is set and
 * not empty; neither (or an empty path): no trace, CLI_OK. The file is
 * created, or truncated: one file holds one run (mode 0644 less the
 * umask). A file that cannot be created is one error line naming it,
 * CLI_ERROR. Until cli_trace_stop, every transport of the process traces
 * to it. */
int cli_trace_start(const char *path);

/* Stop tracing and close the file (nothing when no trace runs). A line
 * that could not be written is reported on stderr, one line, but changes
 * no exit code: the trace is a diagnosis, not the record. */
void cli_trace_stop(void);

#endif
