/*
 * db/db_int.h - what the files of db/ share inside db/: the handle, its
 * statement cache, the bound-value lists and the error helper. Not part
 * of the public API (that is db.h, all of it defined in db.c); tests may
 * include it for the schema-history hook db_create_at_version().
 *
 * Calls go one way: db.c (the front) -> schema.c (the file's shape) ->
 * db_core.c (failures, the statement cache). A function declared here is
 * defined in the file named beside it and is called only from the files
 * above that one.
 *
 * Invariant: every statement in the cache is prepared against the newest
 * schema (db_schema_newest()) once per handle and is reset after each
 * use, so a cached statement never holds a lock or a read snapshot
 * between calls.
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

/* ---- db_core.c: failures and the statement cache ------------------------- */

/* Record "<path>: <what>: <SQLite's message>" for a failure on h; what is
 * printf-style. Returns KGD_ERR_NOMEM or KGD_ERR_DB. */
int db_fail(sqlite3 *h, const char *path, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prepare every cached statement on d->h (newest schema only); finalize
 * them all (NULL entries allowed). */
int db_st_prepare_all(db *d, kgd_err *err);
void db_st_finalize_all(db *d);

/* Step a cached statement that returns no row, then reset it. */
int db_st_run(db *d, enum db_st which, kgd_err *err, const char *what);

/* A bound value; the FIND/ADD pairs take a list of these. */
typedef struct db_val {
	enum { DB_V_NULL, DB_V_TEXT, DB_V_INT, DB_V_REAL } type;
	const char *s;
	int64_t i;
	double r;
} db_val;

#define VAL_TEXT(x) ((db_val){ (x) ? DB_V_TEXT : DB_V_NULL, (x), 0, 0 })
#define VAL_INT(x) ((db_val){ DB_V_INT, NULL, (x), 0 })
#define VAL_ID(x) ((x) ? VAL_INT(x) : VAL_NULL)  /* 0 = no row */
#define VAL_REAL(x) ((db_val){ DB_V_REAL, NULL, 0, (x) })
#define VAL_NULL ((db_val){ DB_V_NULL, NULL, 0, 0 })

/* Bind v[0..n) to a cached statement and run it (no result row expected). */
int db_st_exec(db *d, enum db_st which, const db_val *v, int n,
	       const char *what, kgd_err *err);

/* The id of the row whose natural key is v (a FIND statement); 0 if there
 * is none. */
int db_find_id(db *d, enum db_st find, const db_val *v, int n,
	       const char *what, int64_t *id, kgd_err *err);

/* As db_find_id(), creating the row by ADD if new. Only called inside a
 * write transaction, so FIND-then-ADD cannot race another writer. */
int db_find_or_add(db *d, enum db_st find, enum db_st add, const db_val *v,
		   int n, const char *what, int64_t *id, kgd_err *err);

/* ---- schema.c: the file's shape ------------------------------------------ */

/* Newest schema version this code writes (the number of migrations). */
int db_schema_newest(void);

/* db_check_readable() (db.h) without the front. */
int db_schema_check(sqlite3 *h, const char *path, kgd_err *err);

/* On d's fresh connection: refuse a file that is neither empty nor a
 * station database this code reads, set WAL and the pragmas, and migrate
 * the file to schema `target` (backup first, one transaction). */
int db_schema_upgrade(db *d, int target, kgd_err *err);

/* ---- db.c: the front ----------------------------------------------------- */

/* Test hook (schema history): create a new station database at path at
 * schema version `version` (1..db_schema_version()), built by the same
 * migrations a real file went through, so a test can fill a genuine old
 * file and open it with the current code. Refuses an existing non-empty
 * file. Nothing is kept open. */
int db_create_at_version(const char *path, int version, kgd_err *err);

#endif
