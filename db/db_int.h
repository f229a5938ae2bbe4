/*
 * db/db_int.h - what schema.c (opening, migrations) and db.c (the writes)
 * share inside db/: the handle, its statement cache and the error helpers.
 * Not part of the public API; tests may include it for the schema-history
 * hook db_create_at_version().
 *
 * Invariant: every statement in the cache is prepared against the newest
 * schema (DB_VERSION) once per handle and is reset after each use, so a
 * cached statement never holds a lock or a read snapshot between calls.
 */
#ifndef KGD_DB_INT_H
#define KGD_DB_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "db.h"

/* ISO-8601 UTC with milliseconds, e.g. 2025-01-31T12:34:56.789Z. */
#define DB_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
/* The same text for a bound Unix time in seconds (rounded to the
 * millisecond); NULL when the parameter is NULL. One formatter for "now"
 * and for times the station measured, so a step's times and its run's
 * compare as text. */
#define DB_ISO_AT(param) "strftime('%Y-%m-%dT%H:%M:%fZ', " param ", 'unixepoch')"
/* SQLite's date functions end with year 9999: later times cannot be
 * stored as text. */
#define DB_TIME_MAX 253402300800.0

/* The statement cache: prepared once per handle, reset and rebound per use,
 * because db_measurement_add() runs a thousand times per die. */
enum db_st {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_STATION_FIND, ST_STATION_ADD,
	ST_OPERATOR_FIND, ST_OPERATOR_ADD,
	ST_SEQUENCE_FIND, ST_SEQUENCE_ADD,
	ST_LOT_FIND, ST_LOT_ADD,
	ST_WAFER_FIND, ST_WAFER_ADD,
	ST_PART_FIND, ST_PART_ADD,
	ST_LIMITS_FIND, ST_LIMITS_ADD,
	ST_RUN_ADD, ST_MEAS_ADD, ST_RUN_END,
	ST_STEP_ADD,
	ST_SESSION_MARK_DEAD, ST_SESSION_ADD, ST_SESSION_END, ST_BIN_ADD,
	ST_HARD_BIN_ADD,
	ST_PART_TESTED,
	ST_COUNT
};

struct db {
	sqlite3 *h;
	char *path;                /* for messages */
	char *backup_path;         /* backup taken by this open, or NULL */
	sqlite3_stmt *st[ST_COUNT];
	int64_t run_id;            /* open run, 0 if none */
	int64_t seq_no;            /* measurements added to the open run */
};

/* SQL text of each cached statement (db.c). */
extern const char *const db_st_sql[ST_COUNT];

/* Record "<path>: <what>: <SQLite's message>" for a failure on h; what is
 * printf-style. Returns KGD_ERR_NOMEM or KGD_ERR_DB. */
int db_fail(sqlite3 *h, const char *path, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Step a cached statement that returns no row, then reset it. */
int db_st_run(db *d, enum db_st which, kgd_err *err, const char *what);

/* Test hook (schema history): create a new station database at path at
 * schema version `version` (1..db_schema_version()), built by the same
 * migrations a real file went through, so a test can fill a genuine old
 * file and open it with the current code. Refuses an existing non-empty
 * file. Nothing is kept open. */
int db_create_at_version(const char *path, int version, kgd_err *err);

#endif
