/*
 * db/db.h - the result store: everything a run measured, in one SQLite file.
 *
 * Invariants:
 *  - The file is in WAL mode with foreign keys on, so a report reading it
 *    never blocks the station writing it.
 *  - A part's run is one transaction: db_run_begin() opens it,
 *    db_run_commit() closes it with the verdict, db_run_rollback() drops it.
 *    A unit that did not finish leaves no rows.
 *  - Schema changes are numbered migrations; the schema version lives in
 *    PRAGMA user_version. A file from a newer station is refused.
 *
 * The db knows nothing of instruments or sequences' syntax: it stores what
 * the sequencer hands it.
 */
#ifndef KGD_DB_H
#define KGD_DB_H

#include <stdint.h>
#include "kgd/status.h"

typedef struct db db;

/* Open (creating and migrating as needed) the results file at path.
 * *out owns the connection; release with db_close(). */
int db_open(const char *path, db **out, kgd_err *err);
void db_close(db *d);

/* Identity of one run: who tested which part with what. Strings are
 * copied; NULL means unknown. */
typedef struct db_run_info {
	const char *station;       /* station name from the config */
	const char *host;          /* hostname */
	const char *operator_name;
	const char *lot;
	const char *wafer;         /* NULL in the unit process model */
	const char *serial;        /* unit serial number; NULL for dies */
	int die_x, die_y;          /* valid when has_xy */
	int has_xy;
	const char *seq_name;
	int seq_version;
	const char *seq_sha256;    /* hex of the sequence file's bytes */
	const char *seq_text;      /* full text, stored once per sha256 */
	const char *product;
} db_run_info;

/* One logged value with the limits applied to it. */
typedef struct db_measurement {
	const char *step;          /* step name from the sequence */
	const char *coords;        /* sweep coordinates as a JSON object text,
	                              e.g. {"port":3,"wavelength_nm":1301.0};
	                              NULL when the step has no sweep */
	double value;
	int value_valid;           /* 0: instrument gave no valid value */
	const char *unit;
	double low, high;
	int has_low, has_high;
	int pass;
} db_measurement;

/* Run verdict, as stored in run.status. */
#define DB_STATUS_PASS "pass"
#define DB_STATUS_FAIL "fail"
#define DB_STATUS_ERROR "error"

/* Begin the run's transaction and insert its row; *run_id receives its id. */
int db_run_begin(db *d, const db_run_info *info, int64_t *run_id, kgd_err *err);

/* Add one measurement to the open run. */
int db_measurement_add(db *d, int64_t run_id, const db_measurement *m,
		       kgd_err *err);

/* Record the verdict and bins, end time, and COMMIT. */
int db_run_commit(db *d, int64_t run_id, const char *status, int hard_bin,
		  int soft_bin, const char *fail_reason, kgd_err *err);

/* Drop the open run's transaction (nothing of it stays). */
void db_run_rollback(db *d);

#endif
