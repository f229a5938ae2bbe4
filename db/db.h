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
 *    PRAGMA user_version. A file from a newer station is refused; an
 *    older one is backed up, then migrated in one transaction.
 *  - Nothing is ever overwritten: a retest is a new run (run.retest 1, 2,
 *    ...), and a station that died leaves its session to be marked
 *    'interrupted' by the next db_session_begin().
 *  - Every error message names the file and the failing operation, e.g.
 *    "results.db: commit of run 17: database or disk is full".
 *
 * The schema, for analysts and report writers: db/README.md.
 *
 * The db knows nothing of instruments or sequences' syntax: it stores what
 * the sequencer hands it.
 *
 * One db handle is used by one thread at a time, with at most one run open.
 */
#ifndef KGD_DB_H
#define KGD_DB_H

#include <stdint.h>
#include "kgd/status.h"

typedef struct db db;

struct sqlite3;

/* Newest schema version (PRAGMA user_version) this code writes. */
int db_schema_version(void);

/* Open (creating and migrating as needed) the results file at path.
 * path is copied. *out owns the connection; release with db_close().
 * An older file is first copied to a new backup file next to it (see
 * db_backup_path()), then migrated in one transaction: all or nothing.
 * Refused: a file from a newer station (KGD_ERR_UNSUPPORTED, the message
 * names the file and both versions) and an SQLite file that is not a
 * station database (KGD_ERR_DB). */
int db_open(const char *path, db **out, kgd_err *err);

/* Close the connection and free d (and every string it owns); a run still
 * open is rolled back. NULL is allowed. */
void db_close(db *d);

/* The backup db_open() took before migrating an older file (e.g.
 * "results.db.v1.bak", or "results.db.v1-2.bak" if that name was taken;
 * never overwritten), or NULL if it migrated nothing. Owned by d; valid
 * until db_close(d). */
const char *db_backup_path(const db *d);

/* For readers that open the file themselves (reports/): check that the
 * connection h, opened on path, holds a station database of a schema
 * version this code can read (1..db_schema_version()) with all the tables
 * of its version. Borrows h and path; never writes. KGD_ERR_DB if not a station database, KGD_ERR_UNSUPPORTED
 * if newer; the message names path. */
int db_check_readable(struct sqlite3 *h, const char *path, kgd_err *err);

/* Identity of one run: who tested which part with what. Strings are
 * copied; NULL means unknown. Required: station, lot, seq_name,
 * seq_sha256, and a part identity (serial and/or die x/y). Rows for
 * station, operator, sequence, lot, wafer and part are found by their
 * natural key and created only when new. */
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
	/* Added in schema 2; zero/NULL when unknown. */
	int64_t session_id;        /* from db_session_begin() */
	const char *limits_sha256; /* limits file identity, NULL if none */
	const char *limits_text;   /* stored once per sha256 */
	/* Added in schema 4. When the part started (Unix seconds,
	 * CLOCK_REALTIME; 0 = now, at db_run_begin()). A sequencer that
	 * buffers a part and writes it at commit time begins the run then,
	 * so run.started_at must come from here to be the part's start; the
	 * run's end is always the commit. */
	double started;
} db_run_info;

/* One logged value with the limits applied to it. */
typedef struct db_measurement {
	const char *step;          /* step name from the sequence */
	const char *coords;        /* sweep coordinates as a JSON object text,
	                              e.g. {"port":3,"wavelength_nm":1301.0};
	                              NULL when the step has no sweep */
	double value;              /* NaN is stored as invalid (SQLite has no
	                              NaN) */
	int value_valid;           /* 0: instrument gave no valid value;
	                              stored as NULL */
	const char *unit;
	double low, high;
	int has_low, has_high;     /* 0: no such limit; stored as NULL */
	int pass;
	/* Added in schema 2. */
	const char *name;          /* value name within a multi-value step;
	                              NULL = the step name */
} db_measurement;

/* Run verdict, as stored in run.status. */
#define DB_STATUS_PASS "pass"
#define DB_STATUS_FAIL "fail"
#define DB_STATUS_ERROR "error"
#define DB_STATUS_ABORTED "aborted"  /* operator stopped the unit */

/* Begin the run's transaction and insert its row; *run_id receives its id.
 * info and its strings are only read during the call. The run's retest
 * index is the number of runs of the same part already stored (0 on the
 * first test). run.started_at is info->started (now if 0); ended_at is
 * set by db_run_commit(). KGD_ERR_ARG if a run is already open or
 * info->started is not a time (NaN, infinite, after year 9999). On error
 * nothing stays open. */
int db_run_begin(db *d, const db_run_info *info, int64_t *run_id, kgd_err *err);

/* Add one measurement to the open run; rows are numbered (seq_no 1, 2, ...)
 * in the order they are added. m and its strings are only read during the
 * call (they may be reused at once). On error the run stays open (unless SQLite
 * itself dropped the transaction): the caller decides, usually
 * db_run_rollback(). */
int db_measurement_add(db *d, int64_t run_id, const db_measurement *m,
		       kgd_err *err);

/* Record the verdict and bins, end time, and COMMIT. status is one of the
 * DB_STATUS_* strings; a negative bin is stored as NULL (unknown);
 * fail_reason may be NULL; strings are only read during the call. On
 * error (the message reads "<file>: commit of run 17: database or disk
 * is full") the run stays open as for db_measurement_add(). */
int db_run_commit(db *d, int64_t run_id, const char *status, int hard_bin,
		  int soft_bin, const char *fail_reason, kgd_err *err);

/* Drop the open run's transaction (nothing of it stays). No-op without an
 * open run or with d NULL. */
void db_run_rollback(db *d);

/* ---- schema 2: sessions, bins, step results, resume (issue 7) ----------- */

/* A session is one `station run` of one lot: it makes an interrupted lot
 * visible (a station that died leaves its session 'running') and is what
 * `station run --resume` continues. */
#define DB_SESSION_RUNNING "running"
#define DB_SESSION_COMPLETE "complete"
#define DB_SESSION_ABORTED "aborted"          /* SIGINT/SIGTERM */
#define DB_SESSION_INTERRUPTED "interrupted"  /* found running at next start */
#define DB_SESSION_ERROR "error"              /* stopped by an error */

typedef struct db_bin {
	int number;
	const char *name;
	int pass;
	int hard;          /* soft bins: the hard bin it maps to (0 = none);
	                      ignored for hard bins (schema 3) */
} db_bin;

typedef struct db_session_info {
	const char *station, *host, *operator_name, *lot;
	const char *process;        /* "wafer" or "unit" */
	const char *product;
	const char *seq_name;
	int seq_version;
	const char *seq_sha256, *seq_text;
	const char *limits_sha256, *limits_text;  /* NULL without limits file */
	const db_bin *bins;         /* the sequence's soft bin table, stored with it */
	size_t n_bins;
	const db_bin *hard_bins;    /* its hard bin table (schema 3): the bins
	                               run.hard_bin refers to */
	size_t n_hard_bins;
} db_session_info;

/* Begin a session in its own transaction (refused while a run is open).
 * Sessions of this file still 'running' belonged to a station that died
 * (one station writes one results file): they are marked 'interrupted'
 * first, ended_at = their last committed run's end (or their start), and
 * their count put in *n_interrupted (may be NULL). The bin table is stored
 * with the sequence (once per sequence sha256). info, its strings and bins
 * are only read during the call. Required: station, lot, process,
 * seq_name, seq_sha256. */
int db_session_begin(db *d, const db_session_info *info, int64_t *session_id,
		     int *n_interrupted, kgd_err *err);

/* Close a running session with one of the DB_SESSION_* end states
 * (complete, aborted, interrupted, error) and its end time. A run still
 * open is rolled back first: a session never ends with half a part in it.
 * KGD_ERR_NOT_FOUND if session_id is not a running session. */
int db_session_end(db *d, int64_t session_id, const char *status,
		   kgd_err *err);

/* The outcome of one step of the open run (after its retries): status is
 * pass/fail/error, bin its on_fail bin or 0 (stored as NULL: no bin),
 * n_values how many measurements it logged. Written in the run's
 * transaction; errors as for db_measurement_add(). Strings only read. */
int db_step_result_add(db *d, int64_t run_id, const char *step,
		       const char *status, int bin, int n_values, kgd_err *err);

/* ---- schema 4: step timing (issue 12) ----------------------------------- */

/* As db_step_result_add, with when the step started and ended (unix
 * seconds, CLOCK_REALTIME; <= 0: unknown, stored as NULL).
 * Stored as step_result.started_at / ended_at (ISO text, milliseconds,
 * like every time in the file) and duration_s = ended - started (REAL,
 * full precision; NULL unless both are known and ended >= started: a wall
 * clock stepped back mid-step gives no duration, never a negative one).
 * KGD_ERR_ARG for a time that is NaN, infinite or after year 9999.
 * db_step_result_add() is this with 0, 0. */
int db_step_result_add_timed(db *d, int64_t run_id, const char *step,
			     const char *status, int bin, int n_values,
			     double started, double ended, kgd_err *err);

/* Resume support: has this die (wafer model) or serial (unit model, pass
 * wafer NULL and x = y = 0 with serial set) of the lot a committed run?
 * Any committed run counts, whatever its verdict. The part is named as
 * db_run_begin() names it (with a wafer: lot, wafer, x, y and serial,
 * usually NULL; without: lot and serial). Read only; strings borrowed.
 * A retest is a new run (run.retest = count of earlier runs of the part),
 * never an overwrite. */
int db_part_tested(db *d, const char *lot, const char *wafer,
		   const char *serial, int x, int y, int *tested, kgd_err *err);

#endif
