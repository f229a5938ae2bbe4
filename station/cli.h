/*
 * station/cli.h - what the station's subcommands share: each is an
 * int cmd_<name>(int argc, char **argv) returning the process exit code,
 * and prints only through these helpers so every error line looks alike.
 *
 * Exit codes: 0 done, 1 error (file, instrument, database), 2 bad command
 * line, 130 aborted by SIGINT/SIGTERM.
 */
#ifndef KGD_CLI_H
#define KGD_CLI_H

#include "kgd/status.h"

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2, CLI_ABORTED = 130 };

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_demo(int argc, char **argv);

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

#endif
