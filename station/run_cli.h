/*
 * station/run_cli.h - one lot, from files on disk to committed results:
 * shared by `station run` and `station demo`.
 */
#ifndef KGD_RUN_CLI_H
#define KGD_RUN_CLI_H

#include <stddef.h>
#include "runner.h"

/* Error policy defaults (docs/SEQUENCES.md, "Errors and policies"). */
#define RUN_CLI_MAX_ERRORS 3
#define RUN_CLI_CONTACT_RETRIES 1

typedef struct run_cli_args {
	const char *seq_path;
	const char *limits_path;       /* NULL: the sequence's own limits */
	const char *condition;         /* --condition VAR=VALUE, NULL: none */
	int dry_run;                   /* --dry-run: walk, open nothing */
	const char *config_path;
	const char *db_path;
	const char *lot;
	const char *operator_name;     /* NULL: $USER */
	const char *const *serials;
	size_t n_serials;
	unsigned long units;           /* >0: generate LOT-0001.. */
	int serials_from_stdin;
	const int *slots;              /* wafer process; NULL: slot 1 */
	size_t n_slots;
	const run_die *dies;           /* wafer process; NULL: the prober's map */
	size_t n_dies;
	int resume;
	int quiet;
	/* Error policy; the defaults below unless *_given. */
	int max_errors_given;          /* --max-errors N (0: never stop) */
	unsigned max_errors;
	int contact_retries_given;     /* --contact-retries N */
	unsigned contact_retries;
	run_insert_fn insert;          /* see run_opts */
	void *insert_user;
	run_summary summary;           /* filled on return */
	const char *sync_target;       /* --sync: central server, or NULL */
	/* The operator's view (issue 15). */
	const char *ui_spec;           /* --ui [ADDR:]PORT, NULL: no page */
	int ui_control;                /* --ui-control: abort and answers */
	int assume_yes;                /* --yes */
	int argc;                      /* the command as given, for the */
	char **argv;                   /* resume command after an abort */
} run_cli_args;

/* Load, validate, open, run, print the summary. Returns a CLI exit code.
 * Serial options (serials, units, serials_from_stdin) belong to the unit
 * process, slots and dies to the wafer process; the other kind is refused
 * once the sequence says which it is. */
int run_cli(run_cli_args *a);

#endif
