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
 *  - One station per lot (schema 5): a session holds its lot's lease
 *    from db_session_begin() to db_session_end(); a second session of a
 *    lot whose holder is alive is refused, and a commit of a session that
 *    lost its lease is refused. Lots of one file run side by side.
 *  - Nothing is added to a damaged file: db_open() checks it first
 *    (quick_check, bounded in time) and refuses it; a file too large to
 *    check in that time gets a full integrity_check when its session
 *    ends (db_session_end()).
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
 * names the file and both versions), an SQLite file that is not a
 * station database (KGD_ERR_DB), and a damaged one (KGD_ERR_DB: PRAGMA
 * quick_check found a problem; the message names the file, the problem
 * and what to do - restore a good copy, or `sqlite3 .recover` into a new
 * file). The check runs before anything is written: a refused file is
 * left as it was. It may take DB_CHECK_MS (2 s); on a file larger than
 * that allows, every table but measurement and step_result is checked
 * and the rest is left to db_session_end(). */
int db_open(const char *path, db **out, kgd_err *err);

/* Close the connection and free d (and every string it owns); a run still
 * open is rolled back, and a lot lease still held is let go (its session
 * stays 'running' and is marked interrupted by the next session). NULL is
 * allowed. */
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

/* Added in schema 10: the prober's map geometry of a wafer (driver ABI
 * 1.4 map_geometry), stored on the wafer row when the wafer is first
 * recorded and never changed. has = 0: unknown (every column NULL). */
typedef struct db_wafer_map {
	int has;
	double diameter_mm, die_w_um, die_h_um;
	int cols, rows;
	double edge_mm;            /* NAN: unknown */
	double notch_deg;          /* counter-clockwise from +x; NAN: unknown */
} db_wafer_map;

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
	/* Added in schema 6: the test condition ("temperature_c=85") that
	 * picked the run's limit set; NULL: none. */
	const char *condition;
	/* Added in schema 10: the wafer's map geometry, used only when
	 * this run is the first of its wafer (the row is created). */
	db_wafer_map wafer_map;
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
 * is full") the run stays open as for db_measurement_add(). A run of the
 * session this handle began renews the lot's lease in the same
 * transaction; if the session no longer holds it (taken over as stale,
 * or dropped), the run is rolled back and KGD_ERR_DB says so. */
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

/* What measured a session, one per role (schema 5): the driver that
 * produced the values and the instrument behind it. Strings only read
 * during the call; NULL = unknown. */
typedef struct db_instrument {
	const char *role;           /* the sequence's role name; required */
	const char *driver;         /* the plugin's name; required */
	int abi_major, abi_minor;   /* driver ABI the plugin was built for */
	const char *plugin_file;    /* the file loaded */
	const char *plugin_sha256;  /* hex SHA-256 of its bytes */
	const char *identity;       /* *IDN? reply or the driver's equivalent */
} db_instrument;

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
	/* Added in schema 5: what measured the lot, one per role. */
	const db_instrument *instruments;
	size_t n_instruments;
	/* Added in schema 6: the build that recorded the session (the
	 * station's version and `git describe` at build time); NULL: none. */
	const char *software_version, *software_build;
} db_session_info;

/* Begin a session in its own transaction (refused while a run is open),
 * and take the lot's lease (schema 5): this station, host and process
 * hold the lot until db_session_end() (or db_close()) lets it go.
 *
 * A lot held by a live holder - another station, or another session of
 * this process - is refused: KGD_ERR_DB with a message naming the holder
 * (station, host, pid, since when), and nothing is written. Stations on
 * other lots of the same file run side by side. A holder is alive while
 * its process runs (same host) or while it renewed its lease within
 * DB_LEASE_STALE_S (db_int.h, 15 minutes; another host); a stale lease is
 * dropped, and sessions of this file still 'running' that no live lease
 * holds belonged to a station that died: they are marked 'interrupted',
 * ended_at = their last committed run's end (or their start), and their
 * count put in *n_interrupted (may be NULL). A live holder's session is
 * never marked.
 *
 * The bin table is stored with the sequence (once per sequence sha256),
 * the instruments with the session. info, its strings and bins are only
 * read during the call. Required: station, lot, process, seq_name,
 * seq_sha256; each instrument's role and driver. */
int db_session_begin(db *d, const db_session_info *info, int64_t *session_id,
		     int *n_interrupted, kgd_err *err);

/* Close a running session with one of the DB_SESSION_* end states
 * (complete, aborted, interrupted, error) and its end time, and let its
 * lot's lease go, in one transaction. A run still open is rolled back
 * first: a session never ends with half a part in it. KGD_ERR_NOT_FOUND
 * if session_id is not a running session. When the check at db_open()
 * could not cover the whole file, a full PRAGMA integrity_check runs now
 * (not after an abort: the next open checks again); a problem is
 * KGD_ERR_DB with the damaged-file message - the session is ended and its
 * runs committed all the same. */
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

/* ---- the lot so far (issue 15) ------------------------------------------ */

/* Each part of the lot with its latest committed run, in run order - what
 * the reports count by default: fn(user, wafer (NULL: unit process),
 * serial (may be NULL for dies), x, y, status, soft_bin (-1: none)). A
 * non-zero return from fn stops the walk and becomes KGD_ERR_NOMEM. Read
 * only; a lot the file does not have is no parts. */
typedef int (*db_part_fn)(void *user, const char *wafer, const char *serial,
			  int x, int y, const char *status, int soft_bin);
int db_lot_results(db *d, const char *lot, db_part_fn fn, void *user,
		   kgd_err *err);

#endif
