/*
 * db/db_int.h - what the files of db/ share inside db/: the handle, its
 * statement cache, the bound-value lists and the error helper. Not part
 * of the public API (that is db.h, all of it defined in db.c); tests may
 * include it for the schema-history hook db_create_at_version().
 *
 * Calls go one way: db.c (the front) -> schema.c (the file's shape) and
 * db_lease.c (who holds a lot) -> db_check.c (the integrity check) ->
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
	/* schema 5: the lot lease and the session's instruments */
	ST_LEASE_LIST, ST_LEASE_DROP, ST_LEASE_ADD, ST_LEASE_HELD, ST_LEASE_RENEW,
	ST_LEASE_RELEASE, ST_INSTRUMENT_ADD,
	ST_COUNT
};

struct db {
	sqlite3 *h;
	char *path;                /* for messages */
	char *backup_path;         /* backup taken by this open, or NULL */
	sqlite3_stmt *st[ST_COUNT];
	int64_t run_id;            /* open run, 0 if none */
	int64_t seq_no;            /* measurements added to the open run */
	int64_t run_session;       /* the open run's session, 0 if none */
	int64_t lease_session;     /* the session whose lot lease this handle
	                              holds (db_session_begin), 0 if none */
	int check_ms;              /* time the check at open may take
	                              (db_check.c), from db_check_budget_ms */
	int check_due;             /* the check at open ran out of time: a
	                              full integrity_check is owed at the end
	                              of the session */
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

/* ---- db_check.c: the integrity check ------------------------------------- */

/* On d's fresh connection, before anything is written: PRAGMA quick_check
 * for at most d->check_ms; when that is not enough, quick_check of every
 * table but measurement and step_result, and d->check_due = 1. A problem
 * found: KGD_ERR_DB through db_damaged(). */
int db_check_at_open(db *d, kgd_err *err);

/* Run `sql` (a PRAGMA quick_check / integrity_check) on d for at most
 * budget_ms (0: no limit); its first row, "ok" for a sound file, goes to
 * first (on one line). *done is 0 when the time ran out first. A file so
 * damaged that the check itself fails (SQLITE_CORRUPT) gives *done 1 and
 * SQLite's reason in first. Other failures: KGD_ERR_DB. */
int db_check_run(db *d, const char *sql, int budget_ms, char *first,
		 size_t cap, int *done, kgd_err *err);

/* "<path>: <what>. <what to do about a damaged file>": the one message
 * for every damaged file, at open or at the end of a session. Returns
 * KGD_ERR_DB. */
int db_damaged(db *d, kgd_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- db_lease.c: who holds a lot ------------------------------------------ */

/* A holder on another host that has not renewed its lease for this long
 * is taken for dead. On its own host a holder is alive exactly while its
 * process is (same pid, same start time, same boot), however long it has
 * been quiet. */
#define DB_LEASE_STALE_S 900
/* A commit renews the lease when it is older than this: one more page
 * in the WAL a minute, not one per part. */
#define DB_LEASE_RENEW_S 60

/* Inside the caller's write transaction, before the session row: drop
 * every stale lease of the file (their sessions then read as dead), and
 * refuse - KGD_ERR_DB, naming the holder (station, host, pid, since when)
 * - when lot_id has a live one. */
int db_lease_check(db *d, int64_t lot_id, const char *lot, kgd_err *err);

/* Inside the same transaction: this process takes lot_id's lease for
 * session_id, as station. */
int db_lease_take(db *d, int64_t lot_id, int64_t session_id,
		  const char *station, kgd_err *err);

/* Inside a run's transaction: renew session_id's lease (now) if it is
 * DB_LEASE_RENEW_S old. KGD_ERR_NOT_FOUND, with err untouched, when the
 * session holds none any more (taken over or released). */
int db_lease_renew(db *d, int64_t session_id, kgd_err *err);

/* Drop session_id's lease (in a transaction or on its own). */
int db_lease_release(db *d, int64_t session_id, kgd_err *err);

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

/* Test hook: how long the check at open may take, in ms, for handles
 * opened from now on (DB_CHECK_MS unless a test lowers it to see the
 * watchdog, the cheaper check and the check at a session's end; below 0:
 * the time is up before quick_check starts, whatever the machine's
 * speed). */
#define DB_CHECK_MS 2000
extern int db_check_budget_ms;

/* Test hook (schema history): create a new station database at path at
 * schema version `version` (1..db_schema_version()), built by the same
 * migrations a real file went through, so a test can fill a genuine old
 * file and open it with the current code. Refuses an existing non-empty
 * file. Nothing is kept open. */
int db_create_at_version(const char *path, int version, kgd_err *err);

#endif
