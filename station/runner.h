/*
 * station/runner.h - the sequencer: runs a sequence for every part of a lot
 * (unit process) or every die of every wafer (wafer process) on the
 * instruments the station config names, and hands every measurement to the
 * result store.
 *
 * Rules it keeps (docs/SEQUENCES.md has the user-facing version):
 *  - Per part: setup, main, cleanup; cleanup always runs, also after a
 *    failure, an instrument error or an abort.
 *  - A part's soft bin is the bin of its first failing step (RUN_BIN_FAIL
 *    when that step names none), the sequence's pass bin when every step
 *    passed, RUN_BIN_ERROR when an instrument failed or gave no valid value:
 *    an error is never a pass, and it outranks an earlier limit failure.
 *    The hard bin is the soft bin's hard bin (seq_hard_bin).
 *  - Each part is one database transaction, committed when its verdict is
 *    known (in the wafer process after the prober has binned the die). A
 *    part interrupted by an abort is rolled back: no rows.
 *  - One `station run` is one db session, ended complete, aborted or error.
 */
#ifndef KGD_RUNNER_H
#define KGD_RUNNER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include "cfg.h"
#include "db.h"
#include "seq.h"

#define RUN_BIN_FAIL 98   /* failing step without on_fail.bin */
#define RUN_BIN_ERROR 99  /* instrument error, timeout or no valid value */

typedef struct run_station run_station;

/* Called before each part is tested: the operator or a handler puts part
 * `index` (0-based) with `serial` into the fixture. Non-zero stops the lot. */
typedef int (*run_insert_fn)(void *user, size_t index, const char *serial,
			     kgd_err *err);

/* Where serials come from when there is no list: an operator or scanner.
 * Sets *serial to the next one (owned by the callee, valid until the next
 * call), or to NULL at the end of the lot, and returns KGD_OK; a line that
 * is no serial number (ident.h) is an error status with its message in
 * err, and stops the lot. */
typedef int (*run_next_fn)(void *user, const char **serial, kgd_err *err);

typedef struct run_die {
	int x, y;
} run_die;

typedef struct run_opts {
	const char *lot;
	const char *operator_name;
	/* unit process */
	const char *const *serials;   /* one per part, in test order, or NULL */
	size_t n_serials;
	run_next_fn next;             /* used when serials is NULL */
	void *next_user;
	run_insert_fn insert;         /* NULL: nothing to do between parts */
	void *insert_user;
	/* wafer process */
	const int *slots;             /* cassette slots, in order (required) */
	size_t n_slots;
	const run_die *dies;          /* NULL: the prober's whole test map */
	size_t n_dies;
	/* both */
	int resume;                   /* skip parts the lot already has a
	                                 committed run for (db_part_tested) */
	const seq_limset *limits;     /* identity of the applied limits file */
	const char *condition;        /* --condition VAR=VALUE, stored with
	                                 every run; NULL: none */
	FILE *progress;               /* live progress; NULL = quiet */
	int progress_tty;             /* one updating line instead of lines */
	FILE *prompt_in, *prompt_out; /* operator prompts; NULL: stdin/stderr */
	volatile sig_atomic_t *abort_flag; /* set by a signal handler; may be NULL */
	/* Error policy (docs/SEQUENCES.md, "Errors and policies"). */
	unsigned max_errors;          /* stop the lot after this many parts in a
	                                 row ended in the error bin; 0: never */
	unsigned contact_retries;     /* wafer: separate and contact again this
	                                 many times after a refused contact */
	int no_overlap;               /* wafer: commit each die before the prober
	                                 moves on (no commit thread; a baseline
	                                 for bench_wafer) */
	int no_batch;                 /* measure point by point even where the
	                                 driver reads all ports / gates all
	                                 lanes at once (KGD_NO_BATCH) */
	int no_parallel;              /* run the branches of a parallel block
	                                 one after another (KGD_NO_PARALLEL) */
	struct run_live *live;        /* the live state (live.h) the terminal
	                                 and the page show; NULL: run_lot keeps
	                                 its own */
	int interactive;              /* an operator can answer at the terminal
	                                 (stdin is a tty) */
	int assume_yes;               /* --yes: a prober wafer id naming another
	                                 lot is warned about, not asked */
} run_opts;

typedef struct run_summary {
	size_t tested, passed, failed, errors;
	size_t skipped;               /* --resume: already tested, not retested */
	size_t measurements;
	size_t wafers;
	int n_interrupted;            /* earlier sessions found interrupted */
	int64_t session_id;
	char last_fail[256];          /* last failure reason, "" if none */
	size_t lot_parts, lot_passed; /* the lot's parts by their latest run,
	                                 earlier sessions included */
	char cell[256];               /* where the cell was left when the lot
	                                 stopped early: probes, wafer, part */
} run_summary;

/* Check the sequence (with its limits applied) against what the sequencer
 * implements - operations, kinds, sweep variables, params, value names,
 * units, roles, process - and, when c is not NULL, against the station:
 * every role configured, every driver loadable and of the class its
 * operations need. Opens no instrument. EVERY problem goes to report (may
 * be NULL) as "file:line:column: message"; err gets the first. */
int run_lint(const seq_sequence *s, const cfg_station *c,
	     void (*report)(void *user, const char *msg), void *user,
	     kgd_err *err);

/* run_lint without a report callback: the first problem in err. */
int run_validate(const seq_sequence *s, const cfg_station *c, kgd_err *err);

/* `station run --dry-run`: validate as a run does, load the drivers
 * (opening no instrument), and print to out each step of one part with
 * its driver, sweep size and estimated time, then the part's total
 * (run_dry.c). */
int run_dry(const seq_sequence *s, const cfg_station *c, FILE *out, kgd_err *err);

/* Validate, load the drivers and open every instrument the sequence uses.
 * Errors name the instrument URI. *out owns it all; run_station_close(). */
int run_station_open(const seq_sequence *s, const cfg_station *c,
		     run_station **out, kgd_err *err);
void run_station_close(run_station *st);

/* Test the lot with the sequence's process model, in one db session.
 * Returns KGD_OK when every part got a verdict (pass, fail or error),
 * KGD_ERR_ABORTED on abort, or the error that stopped the lot (database,
 * prober, an instrument that could not be reopened, opts->max_errors error
 * parts in a row). sum is filled in either case. */
int run_lot(run_station *st, const seq_sequence *s, const cfg_station *c,
	    db *d, const run_opts *opts, run_summary *sum, kgd_err *err);

#endif
