/*
 * station/runner.h - the sequencer: runs a sequence for every part of a lot
 * on the instruments the station config names, and hands every measurement
 * to the result store.
 *
 * Rules it keeps (docs/SEQUENCES.md has the user-facing version):
 *  - Per part: setup, main, cleanup; cleanup always runs, also after a
 *    failure, an instrument error or an abort.
 *  - A part's soft bin is the bin of its first failing step (RUN_BIN_FAIL
 *    when that step names none), the sequence's pass bin when every step
 *    passed, RUN_BIN_ERROR when an instrument failed or gave no valid value:
 *    an error is never a pass.
 *  - Each part is one database transaction, committed when its verdict is
 *    known. A part interrupted by an abort is rolled back: no rows.
 */
#ifndef KGD_RUNNER_H
#define KGD_RUNNER_H

#include <signal.h>
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
 * Returns the next serial (owned by the callee, valid until the next call)
 * or NULL at the end of the lot. */
typedef const char *(*run_next_fn)(void *user);

typedef struct run_opts {
	const char *lot;
	const char *operator_name;
	const char *const *serials;   /* one per part, in test order, or NULL */
	size_t n_serials;
	run_next_fn next;             /* used when serials is NULL */
	void *next_user;
	run_insert_fn insert;         /* NULL: nothing to do between parts */
	void *insert_user;
	FILE *progress;               /* live progress lines; NULL = quiet */
	volatile sig_atomic_t *abort_flag; /* set by a signal handler; may be NULL */
} run_opts;

typedef struct run_summary {
	size_t tested, passed, failed, errors;
	size_t measurements;
} run_summary;

/* Check the sequence against the station: every role it names is
 * configured, every driver loads and has the right class, every operation,
 * sweep variable and limit unit is one the sequencer knows for that class.
 * Opens nothing. Errors name the sequence file:line:column or the config. */
int run_validate(const seq_sequence *s, const cfg_station *c, kgd_err *err);

/* Load every driver the sequence's roles name and check its class, as
 * run_station_open() would, without opening any instrument. Call after
 * run_validate(). */
int run_check_drivers(const seq_sequence *s, const cfg_station *c,
		      kgd_err *err);

/* Validate, load the drivers and open every instrument the sequence uses.
 * Errors name the instrument URI. *out owns it all; run_station_close(). */
int run_station_open(const seq_sequence *s, const cfg_station *c,
		     run_station **out, kgd_err *err);
void run_station_close(run_station *st);

/* Test every part in opts->serials (or from opts->next). Returns KGD_OK when every part got a
 * verdict (pass, fail or error), KGD_ERR_ABORTED on abort, or the database
 * error that stopped the lot. sum is filled in either case. */
int run_lot(run_station *st, const seq_sequence *s, const cfg_station *c,
	    db *d, const run_opts *opts, run_summary *sum, kgd_err *err);

#endif
