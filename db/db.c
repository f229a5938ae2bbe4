/*
 * db/db.c - the result store: schema, migrations and the writes of one run.
 *
 * Invariant: a write transaction is open exactly while a run is open
 * (d->run_id != 0), and every row written belongs to that run; outside a
 * run the connection holds no transaction. So a crash loses at most the
 * die in flight and never leaves half a run: an uncommitted run leaves no
 * rows at all, and a committed one carries its verdict.
 *
 * The schema only changes through migrations[] below: entry i takes the
 * file from user_version i to i+1. Never edit a shipped entry; append one.
 */
#include "db.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A report or a second station may hold the lock briefly (a WAL checkpoint,
 * another station's commit); wait rather than fail the die. */
#define DB_BUSY_MS 10000

/* ISO-8601 UTC with milliseconds, e.g. 2025-01-31T12:34:56.789Z. */
#define DB_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static const char *const migrations[] = {
	/* 1: the initial schema. Natural keys (station name+host, operator
	 * name, sequence sha256, lot name, wafer lot+name, part
	 * lot+wafer+serial+x/y) are looked up by the writer inside its write
	 * transaction, so they never duplicate; the UNIQUE constraints are a
	 * second line of defence where the key has no NULLable column. */
	"CREATE TABLE station("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  host TEXT,"
	"  UNIQUE(name, host));"
	"CREATE TABLE operator("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE sequence("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL UNIQUE,"
	"  text TEXT);"
	"CREATE TABLE lot("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE wafer("
	"  id INTEGER PRIMARY KEY,"
	"  lot_id INTEGER NOT NULL REFERENCES lot(id),"
	"  name TEXT NOT NULL,"
	"  UNIQUE(lot_id, name));"
	/* A die has x/y (and a wafer), a unit a serial; a part has at least
	 * one of them so two unknown parts can never merge. */
	"CREATE TABLE part("
	"  id INTEGER PRIMARY KEY,"
	"  lot_id INTEGER NOT NULL REFERENCES lot(id),"
	"  wafer_id INTEGER REFERENCES wafer(id),"
	"  serial TEXT,"
	"  die_x INTEGER,"
	"  die_y INTEGER,"
	"  CHECK ((die_x IS NULL) = (die_y IS NULL)),"
	"  CHECK (serial IS NOT NULL OR die_x IS NOT NULL));"
	/* Leads with lot_id, so it is also the part(lot_id) index reports
	 * group by; the rest makes the writer's die lookup an index seek. */
	"CREATE INDEX part_lot ON part(lot_id, wafer_id, die_x, die_y);"
	/* status starts as 'aborted': should a run row ever be committed
	 * without db_run_commit() it must not read as a pass. */
	"CREATE TABLE run("
	"  id INTEGER PRIMARY KEY,"
	"  part_id INTEGER NOT NULL REFERENCES part(id),"
	"  sequence_id INTEGER NOT NULL REFERENCES sequence(id),"
	"  station_id INTEGER NOT NULL REFERENCES station(id),"
	"  operator_id INTEGER REFERENCES operator(id),"
	"  product TEXT,"
	"  started_at TEXT NOT NULL,"
	"  ended_at TEXT,"
	"  status TEXT NOT NULL DEFAULT 'aborted'"
	"    CHECK (status IN ('pass','fail','error','aborted')),"
	"  hard_bin INTEGER,"
	"  soft_bin INTEGER,"
	"  fail_reason TEXT);"
	"CREATE INDEX run_part ON run(part_id);"
	/* value/low/high NULL = no valid value / no such limit. The
	 * UNIQUE(run_id, seq_no) index is also the measurement(run_id) index. */
	"CREATE TABLE measurement("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,"
	"  seq_no INTEGER NOT NULL,"
	"  step TEXT NOT NULL,"
	"  coords TEXT CHECK (coords IS NULL OR json_valid(coords)),"
	"  value REAL,"
	"  unit TEXT,"
	"  low REAL,"
	"  high REAL,"
	"  pass INTEGER NOT NULL CHECK (pass IN (0, 1)),"
	"  UNIQUE(run_id, seq_no));"
	"CREATE INDEX measurement_step ON measurement(step, unit);",
};

#define DB_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Tables every readable station database has (from version 1 on). */
static const char *const required_tables[] = {
	"station", "operator", "sequence", "lot", "wafer", "part", "run",
	"measurement",
};

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
	ST_RUN_ADD, ST_MEAS_ADD, ST_RUN_END,
	ST_COUNT
};

/* A FIND and its ADD take the same parameters in the same order; FIND
 * uses only the natural key (the first parameters). `IS` matches NULL to
 * NULL, which `=` would not. */
static const char *const st_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_STATION_FIND] = "SELECT id FROM station WHERE name = ?1 AND host IS ?2",
	[ST_STATION_ADD] = "INSERT INTO station(name, host) VALUES (?1, ?2)",
	[ST_OPERATOR_FIND] = "SELECT id FROM operator WHERE name = ?1",
	[ST_OPERATOR_ADD] = "INSERT INTO operator(name) VALUES (?1)",
	[ST_SEQUENCE_FIND] = "SELECT id FROM sequence WHERE sha256 = ?1",
	[ST_SEQUENCE_ADD] = "INSERT INTO sequence(sha256, name, version, text)"
			    " VALUES (?1, ?2, ?3, ?4)",
	[ST_LOT_FIND] = "SELECT id FROM lot WHERE name = ?1",
	[ST_LOT_ADD] = "INSERT INTO lot(name) VALUES (?1)",
	[ST_WAFER_FIND] = "SELECT id FROM wafer WHERE lot_id = ?1 AND name = ?2",
	[ST_WAFER_ADD] = "INSERT INTO wafer(lot_id, name) VALUES (?1, ?2)",
	[ST_PART_FIND] = "SELECT id FROM part WHERE lot_id = ?1 AND wafer_id IS ?2"
			 " AND die_x IS ?3 AND die_y IS ?4 AND serial IS ?5",
	[ST_PART_ADD] = "INSERT INTO part(lot_id, wafer_id, die_x, die_y, serial)"
			" VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_RUN_ADD] = "INSERT INTO run(part_id, sequence_id, station_id,"
		       " operator_id, product, started_at, status)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, " DB_NOW ", 'aborted')",
	[ST_MEAS_ADD] = "INSERT INTO measurement(run_id, seq_no, step, coords,"
			" value, unit, low, high, pass)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_RUN_END] = "UPDATE run SET status = ?1, hard_bin = ?2, soft_bin = ?3,"
		       " fail_reason = ?4, ended_at = " DB_NOW " WHERE id = ?5",
};

struct db {
	sqlite3 *h;
	char *path;                /* for messages */
	sqlite3_stmt *st[ST_COUNT];
	int64_t run_id;            /* open run, 0 if none */
	int64_t seq_no;            /* measurements added to the open run */
};

int db_schema_version(void)
{
	return DB_VERSION;
}

/* Record SQLite's own message for a failure on path's connection. */
static int db_fail(sqlite3 *h, const char *path, const char *what, kgd_err *err)
{
	int code = h ? sqlite3_errcode(h) : SQLITE_NOMEM;

	return kgd_err_set(err, code == SQLITE_NOMEM ? KGD_ERR_NOMEM : KGD_ERR_DB,
			   "%s: %s: %s", path, what,
			   h ? sqlite3_errmsg(h) : "out of memory");
}

/* Step a cached statement that returns no row; reset it either way so it
 * holds no lock and no pointer into the caller's strings. */
static int st_run(db *d, enum db_st which, const char *what, kgd_err *err)
{
	sqlite3_stmt *st = d->st[which];
	int rc = sqlite3_step(st), status = KGD_OK;

	if (rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, what, err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return status;
}

/* One SQL statement on a connection, for the rare, uncached ones. */
static int exec_sql(sqlite3 *h, const char *path, const char *sql,
		    const char *what, kgd_err *err)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(h, path, what, err);
	return KGD_OK;
}

/* The first column of the first row of sql, as an int. */
static int query_int(sqlite3 *h, const char *path, const char *sql,
		     int *out, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		status = db_fail(h, path, "reading the schema", err);
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return status;
}

static int refuse_newer(const char *path, int version, kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
			   "%s: schema version %d is newer than this program "
			   "knows (%d); use a newer station build",
			   path, version, DB_VERSION);
}

int db_check_readable(sqlite3 *h, const char *path, kgd_err *err)
{
	char sql[256];
	int version = 0, n = 0, status;
	size_t i, len;

	status = query_int(h, path, "PRAGMA user_version", &version, err);
	if (status)
		return status;
	if (version == 0)
		return kgd_err_set(err, KGD_ERR_DB,
				   "%s: not a station database (no schema version)",
				   path);
	if (version > DB_VERSION)
		return refuse_newer(path, version, err);
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM "
			       "sqlite_master WHERE type = 'table' AND name IN (");
	for (i = 0; i < sizeof(required_tables) / sizeof(required_tables[0]); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s'%s'",
					i ? "," : "", required_tables[i]);
	snprintf(sql + len, sizeof(sql) - len, ")");
	status = query_int(h, path, sql, &n, err);
	if (status)
		return status;
	if (n != (int)i)
		return kgd_err_set(err, KGD_ERR_DB,
				   "%s: not a station database (%d of its %d "
				   "tables missing)", path, (int)i - n, (int)i);
	return KGD_OK;
}

/* Before touching the file: refuse anything that is neither empty nor a
 * station database we understand, so a wrong path is never converted. */
static int check_file(db *d, kgd_err *err)
{
	int version = 0, objects = 0, status;

	status = query_int(d->h, d->path, "PRAGMA user_version", &version, err);
	if (status)
		return status;
	if (version != 0)
		return db_check_readable(d->h, d->path, err);
	status = query_int(d->h, d->path, "SELECT count(*) FROM sqlite_master",
			   &objects, err);
	if (status)
		return status;
	if (objects != 0)
		return kgd_err_set(err, KGD_ERR_DB, "%s: not a station database "
				   "(it has tables but no schema version)", d->path);
	return KGD_OK;
}

static int set_pragmas(db *d, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;
	const unsigned char *mode;

	/* WAL: a report reads while the station writes, neither blocks. */
	if (sqlite3_prepare_v2(d->h, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		status = db_fail(d->h, d->path, "setting WAL mode", err);
		goto out;
	}
	mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		status = kgd_err_set(err, KGD_ERR_DB, "%s: cannot use WAL mode "
				     "(journal mode stays '%s'; a network file "
				     "system?)", d->path, mode ? (const char *)mode : "?");
		goto out;
	}
	/* In WAL mode synchronous=NORMAL still never corrupts the file and
	 * never loses a transaction on a process crash; only a power loss can
	 * drop the last commits before the next checkpoint. That costs at
	 * most the dies just tested (they are retested), and saves an fsync
	 * per die. */
	status = exec_sql(d->h, d->path, "PRAGMA synchronous = NORMAL;"
			  "PRAGMA foreign_keys = ON", "setting pragmas", err);
out:
	sqlite3_finalize(st);
	return status;
}

/* Bring the file to DB_VERSION in one transaction: all steps or none. */
static int migrate(db *d, kgd_err *err)
{
	char sql[64];
	int version = 0, status;

	status = query_int(d->h, d->path, "PRAGMA user_version", &version, err);
	if (status || version == DB_VERSION)
		return status;
	status = exec_sql(d->h, d->path, "BEGIN IMMEDIATE", "migrating", err);
	if (status)
		return status;
	/* Again under the write lock: another station may have migrated the
	 * file since we looked. */
	status = query_int(d->h, d->path, "PRAGMA user_version", &version, err);
	if (status)
		goto out;
	if (version > DB_VERSION) {
		status = refuse_newer(d->path, version, err);
		goto out;
	}
	for (; version < DB_VERSION; version++) {
		status = exec_sql(d->h, d->path, migrations[version],
				  "migrating the schema", err);
		if (status) {
			kgd_err_prefix(err, "migration %d: ", version + 1);
			goto out;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", DB_VERSION);
	status = exec_sql(d->h, d->path, sql, "migrating", err);
	if (!status)
		status = exec_sql(d->h, d->path, "COMMIT", "migrating", err);
out:
	if (status)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return status;
}

int db_open(const char *path, db **out, kgd_err *err)
{
	db *d = NULL;
	int i, status = KGD_OK;

	if (!path || !out)
		return kgd_err_set(err, KGD_ERR_ARG, "db_open: no path");
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(path))) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	if (sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		status = db_fail(d->h, path, "cannot open", err);
		goto out;
	}
	sqlite3_busy_timeout(d->h, DB_BUSY_MS);
	status = check_file(d, err);
	if (!status)
		status = set_pragmas(d, err);
	if (!status)
		status = migrate(d, err);
	for (i = 0; !status && i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(d->h, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &d->st[i], NULL) != SQLITE_OK)
			status = db_fail(d->h, path, "preparing statements", err);
out:
	if (status)
		db_close(d);
	else
		*out = d;
	return status;
}

void db_close(db *d)
{
	int i;

	if (!d)
		return;
	db_run_rollback(d);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(d->st[i]);
	/* sqlite3_close() on a handle that failed to open frees it too. */
	sqlite3_close(d->h);
	free(d->path);
	free(d);
}

/* A bound value; the FIND/ADD pairs take a list of these. */
struct val {
	enum { V_NULL, V_TEXT, V_INT } type;
	const char *s;
	int64_t i;
};

#define VAL_TEXT(x) ((struct val){ (x) ? V_TEXT : V_NULL, (x), 0 })
#define VAL_INT(x) ((struct val){ V_INT, NULL, (x) })
#define VAL_NULL ((struct val){ V_NULL, NULL, 0 })

static int bind_vals(sqlite3_stmt *st, const struct val *v, int n)
{
	int i, rc = SQLITE_OK, np = sqlite3_bind_parameter_count(st);

	for (i = 0; i < n && i < np && rc == SQLITE_OK; i++) {
		if (v[i].type == V_TEXT)
			rc = sqlite3_bind_text(st, i + 1, v[i].s, -1, SQLITE_STATIC);
		else if (v[i].type == V_INT)
			rc = sqlite3_bind_int64(st, i + 1, v[i].i);
		else
			rc = sqlite3_bind_null(st, i + 1);
	}
	return rc;
}

/* The id of the row whose natural key is v (FIND), created by ADD if new.
 * Only called inside the run's write transaction, so FIND-then-ADD cannot
 * race another writer. */
static int find_or_add(db *d, enum db_st find, enum db_st add,
		       const struct val *v, int n, const char *what,
		       int64_t *id, kgd_err *err)
{
	sqlite3_stmt *st = d->st[find];
	int rc = bind_vals(st, v, n), status = KGD_OK;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, what, err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW || status)
		return status;
	if (bind_vals(d->st[add], v, n) != SQLITE_OK)
		return db_fail(d->h, d->path, what, err);
	status = st_run(d, add, what, err);
	if (!status)
		*id = sqlite3_last_insert_rowid(d->h);
	return status;
}

/* After a failed statement inside a run: SQLite rolls the whole
 * transaction back by itself on some errors (disk full, I/O); then the run
 * is gone and the handle must not think it is still open. */
static int note_lost_run(db *d, int status, kgd_err *err)
{
	if (d->run_id && sqlite3_get_autocommit(d->h)) {
		d->run_id = 0;
		kgd_err_prefix(err, "run rolled back: ");
	}
	return status;
}

int db_run_begin(db *d, const db_run_info *info, int64_t *run_id, kgd_err *err)
{
	int64_t station_id, operator_id = 0, sequence_id, lot_id, wafer_id = 0;
	int64_t part_id;
	int status, began = 0;

	if (!d || !info || !run_id)
		return kgd_err_set(err, KGD_ERR_ARG, "db_run_begin: NULL argument");
	if (d->run_id)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run %lld is still open",
				   d->path, (long long)d->run_id);
	if (!info->station || !info->lot || !info->seq_name || !info->seq_sha256)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run needs a station, a "
				   "lot and a sequence name and hash", d->path);
	if (!info->serial && !info->has_xy)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run needs a serial "
				   "number or die x/y to name its part", d->path);

	status = st_run(d, ST_BEGIN, "beginning the run", err);
	if (status)
		goto out;
	began = 1;
	status = find_or_add(d, ST_STATION_FIND, ST_STATION_ADD,
			     (struct val[]){ VAL_TEXT(info->station),
					     VAL_TEXT(info->host) }, 2,
			     "station", &station_id, err);
	if (!status && info->operator_name)
		status = find_or_add(d, ST_OPERATOR_FIND, ST_OPERATOR_ADD,
				     (struct val[]){ VAL_TEXT(info->operator_name) },
				     1, "operator", &operator_id, err);
	if (!status)
		status = find_or_add(d, ST_SEQUENCE_FIND, ST_SEQUENCE_ADD,
				     (struct val[]){ VAL_TEXT(info->seq_sha256),
						     VAL_TEXT(info->seq_name),
						     VAL_INT(info->seq_version),
						     VAL_TEXT(info->seq_text) },
				     4, "sequence", &sequence_id, err);
	if (!status)
		status = find_or_add(d, ST_LOT_FIND, ST_LOT_ADD,
				     (struct val[]){ VAL_TEXT(info->lot) }, 1,
				     "lot", &lot_id, err);
	if (!status && info->wafer)
		status = find_or_add(d, ST_WAFER_FIND, ST_WAFER_ADD,
				     (struct val[]){ VAL_INT(lot_id),
						     VAL_TEXT(info->wafer) },
				     2, "wafer", &wafer_id, err);
	if (!status)
		status = find_or_add(d, ST_PART_FIND, ST_PART_ADD,
				     (struct val[]){
					     VAL_INT(lot_id),
					     wafer_id ? VAL_INT(wafer_id) : VAL_NULL,
					     info->has_xy ? VAL_INT(info->die_x) : VAL_NULL,
					     info->has_xy ? VAL_INT(info->die_y) : VAL_NULL,
					     VAL_TEXT(info->serial) },
				     5, "part", &part_id, err);
	if (status)
		goto out;
	if (bind_vals(d->st[ST_RUN_ADD],
		      (struct val[]){ VAL_INT(part_id), VAL_INT(sequence_id),
				      VAL_INT(station_id),
				      operator_id ? VAL_INT(operator_id) : VAL_NULL,
				      VAL_TEXT(info->product) }, 5) != SQLITE_OK) {
		status = db_fail(d->h, d->path, "run", err);
		goto out;
	}
	status = st_run(d, ST_RUN_ADD, "run", err);
	if (status)
		goto out;
	d->run_id = sqlite3_last_insert_rowid(d->h);
	d->seq_no = 0;
	*run_id = d->run_id;
out:
	if (status && began && !sqlite3_get_autocommit(d->h))
		st_run(d, ST_ROLLBACK, "rolling back", NULL);
	return status;
}

static int check_open_run(db *d, int64_t run_id, const char *fn, kgd_err *err)
{
	if (!d)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: no database", fn);
	if (!d->run_id || run_id != d->run_id)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: %s: run %lld is not the "
				   "open run", d->path, fn, (long long)run_id);
	return KGD_OK;
}

int db_measurement_add(db *d, int64_t run_id, const db_measurement *m,
		       kgd_err *err)
{
	sqlite3_stmt *st;
	int status, rc;

	status = check_open_run(d, run_id, "db_measurement_add", err);
	if (status)
		return status;
	if (!m || !m->step)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: measurement without a "
				   "step name", d->path);
	st = d->st[ST_MEAS_ADD];
	/* Direct binds, not struct val: this runs a thousand times a die. A
	 * NaN would become NULL in SQLite anyway; say so explicitly. */
	rc = sqlite3_bind_int64(st, 1, run_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, d->seq_no + 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, m->step, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = m->coords ? sqlite3_bind_text(st, 4, m->coords, -1, SQLITE_STATIC)
			       : sqlite3_bind_null(st, 4);
	if (rc == SQLITE_OK)
		rc = m->value_valid && !isnan(m->value)
			     ? sqlite3_bind_double(st, 5, m->value)
			     : sqlite3_bind_null(st, 5);
	if (rc == SQLITE_OK)
		rc = m->unit ? sqlite3_bind_text(st, 6, m->unit, -1, SQLITE_STATIC)
			     : sqlite3_bind_null(st, 6);
	if (rc == SQLITE_OK)
		rc = m->has_low ? sqlite3_bind_double(st, 7, m->low)
				: sqlite3_bind_null(st, 7);
	if (rc == SQLITE_OK)
		rc = m->has_high ? sqlite3_bind_double(st, 8, m->high)
				 : sqlite3_bind_null(st, 8);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 9, m->pass ? 1 : 0);
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(st);
		return db_fail(d->h, d->path, "measurement", err);
	}
	status = st_run(d, ST_MEAS_ADD, "measurement", err);
	if (status) {
		kgd_err_prefix(err, "step %s: ", m->step);
		return note_lost_run(d, status, err);
	}
	d->seq_no++;
	return KGD_OK;
}

int db_run_commit(db *d, int64_t run_id, const char *status, int hard_bin,
		  int soft_bin, const char *fail_reason, kgd_err *err)
{
	int rc;

	rc = check_open_run(d, run_id, "db_run_commit", err);
	if (rc)
		return rc;
	if (!status || (strcmp(status, DB_STATUS_PASS) &&
			strcmp(status, DB_STATUS_FAIL) &&
			strcmp(status, DB_STATUS_ERROR) &&
			strcmp(status, DB_STATUS_ABORTED)))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run %lld: bad status "
				   "'%s'", d->path, (long long)run_id,
				   status ? status : "(null)");
	if (bind_vals(d->st[ST_RUN_END],
		      (struct val[]){ VAL_TEXT(status),
				      hard_bin >= 0 ? VAL_INT(hard_bin) : VAL_NULL,
				      soft_bin >= 0 ? VAL_INT(soft_bin) : VAL_NULL,
				      VAL_TEXT(fail_reason), VAL_INT(run_id) },
		      5) != SQLITE_OK)
		return db_fail(d->h, d->path, "recording the verdict", err);
	rc = st_run(d, ST_RUN_END, "recording the verdict", err);
	if (!rc)
		rc = st_run(d, ST_COMMIT, "committing the run", err);
	if (rc)
		return note_lost_run(d, rc, err);
	d->run_id = 0;
	return KGD_OK;
}

void db_run_rollback(db *d)
{
	if (!d || !d->run_id)
		return;
	/* Fails only when SQLite already dropped the transaction: either way
	 * nothing of the run remains. */
	if (!sqlite3_get_autocommit(d->h))
		st_run(d, ST_ROLLBACK, "rolling back", NULL);
	d->run_id = 0;
}
