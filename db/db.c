/*
 * db/db.c - the writes: sessions, and the run of one part with its
 * measurements and step results. (Opening and migrations: schema.c.)
 *
 * Invariant: a write transaction is open exactly while a run is open
 * (d->run_id != 0), and every row written in it belongs to that run;
 * outside a run the connection holds no transaction (sessions commit on
 * their own). So a crash loses at most the die in flight and never leaves
 * half a run: an uncommitted run leaves no rows at all, and a committed one
 * carries its verdict.
 */
#include "db_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A FIND and its ADD take the same parameters in the same order; FIND
 * uses only the natural key (the first parameters). `IS` matches NULL to
 * NULL, which `=` would not, and still uses the index. */
const char *const db_st_sql[ST_COUNT] = {
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
	[ST_LIMITS_FIND] = "SELECT id FROM limits_set WHERE sha256 = ?1",
	[ST_LIMITS_ADD] = "INSERT INTO limits_set(sha256, text) VALUES (?1, ?2)",
	/* retest counts the part's earlier runs inside the same write
	 * transaction, so two runs of one part can never share a number.
	 * ?8 is when the part really started (NULL: now): a sequencer that
	 * writes a part's rows at commit begins its run then. */
	[ST_RUN_ADD] = "INSERT INTO run(part_id, sequence_id, station_id,"
		       " operator_id, product, session_id, limits_id, retest,"
		       " started_at, status)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
		       " (SELECT count(*) FROM run WHERE part_id = ?1),"
		       " coalesce(" DB_ISO_AT("?8") ", " DB_NOW "), 'aborted')",
	[ST_MEAS_ADD] = "INSERT INTO measurement(run_id, seq_no, step, coords,"
			" value, unit, low, high, pass, name)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_RUN_END] = "UPDATE run SET status = ?1, hard_bin = ?2, soft_bin = ?3,"
		       " fail_reason = ?4, ended_at = " DB_NOW " WHERE id = ?5",
	[ST_STEP_ADD] = "INSERT INTO step_result(run_id, step, status, bin,"
			" n_values, started_at, ended_at, duration_s)"
			" VALUES (?1, ?2, ?3, ?4, ?5, " DB_ISO_AT("?6") ", "
			DB_ISO_AT("?7") ", ?8)",
	/* A dead station's session ends, as far as anyone knows, with its
	 * last committed run (or when it began, if it committed none). */
	[ST_SESSION_MARK_DEAD] = "UPDATE session SET status = 'interrupted',"
				 " ended_at = coalesce((SELECT max(r.ended_at)"
				 " FROM run r WHERE r.session_id = session.id),"
				 " started_at) WHERE status = 'running'",
	[ST_SESSION_ADD] = "INSERT INTO session(station_id, operator_id, lot_id,"
			   " sequence_id, limits_id, process, product,"
			   " started_at, status)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " DB_NOW
			   ", 'running')",
	[ST_SESSION_END] = "UPDATE session SET status = ?1, ended_at = " DB_NOW
			   " WHERE id = ?2 AND status = 'running'",
	/* Same sequence sha256, same text, same bins: a second session of a
	 * sequence finds them stored already. */
	[ST_BIN_ADD] = "INSERT INTO bin(sequence_id, number, name, pass, hard)"
		       " VALUES (?1, ?2, ?3, ?4, ?5)"
		       " ON CONFLICT(sequence_id, number) DO NOTHING",
	[ST_HARD_BIN_ADD] = "INSERT INTO hard_bin(sequence_id, number, name, pass)"
			    " VALUES (?1, ?2, ?3, ?4)"
			    " ON CONFLICT(sequence_id, number) DO NOTHING",
	[ST_PART_TESTED] = "SELECT EXISTS(SELECT 1 FROM run WHERE part_id = ?1)",
};

int db_st_run(db *d, enum db_st which, kgd_err *err, const char *what)
{
	sqlite3_stmt *st = d->st[which];
	int rc = sqlite3_step(st), status = KGD_OK;

	if (rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, err, "%s", what);
	/* Reset releases the statement's lock; clearing drops its pointers
	 * into the caller's strings. */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return status;
}

/* A failure inside the open run. SQLite rolls the whole transaction back
 * by itself on some errors (disk full, I/O): then the run is gone, the
 * handle must stop thinking it is open, and the message says so. */
static int run_fail(db *d, int status, kgd_err *err)
{
	char msg[KGD_ERR_MSG_MAX];

	if (d->run_id && sqlite3_get_autocommit(d->h)) {
		if (err) {
			snprintf(msg, sizeof(msg), "%s", err->msg);
			kgd_err_set(err, status, "%s (run %lld rolled back; "
				    "none of it is stored)", msg,
				    (long long)d->run_id);
		}
		d->run_id = 0;
	}
	return status;
}

/* A bound value; the FIND/ADD pairs take a list of these. */
struct val {
	enum { V_NULL, V_TEXT, V_INT, V_REAL } type;
	const char *s;
	int64_t i;
	double r;
};

#define VAL_TEXT(x) ((struct val){ (x) ? V_TEXT : V_NULL, (x), 0, 0 })
#define VAL_INT(x) ((struct val){ V_INT, NULL, (x), 0 })
#define VAL_ID(x) ((x) ? VAL_INT(x) : VAL_NULL)  /* 0 = no row */
#define VAL_REAL(x) ((struct val){ V_REAL, NULL, 0, (x) })
#define VAL_NULL ((struct val){ V_NULL, NULL, 0, 0 })

static int bind_vals(sqlite3_stmt *st, const struct val *v, int n)
{
	int i, rc = SQLITE_OK, np = sqlite3_bind_parameter_count(st);

	for (i = 0; i < n && i < np && rc == SQLITE_OK; i++) {
		if (v[i].type == V_TEXT)
			rc = sqlite3_bind_text(st, i + 1, v[i].s, -1, SQLITE_STATIC);
		else if (v[i].type == V_INT)
			rc = sqlite3_bind_int64(st, i + 1, v[i].i);
		else if (v[i].type == V_REAL)
			rc = sqlite3_bind_double(st, i + 1, v[i].r);
		else
			rc = sqlite3_bind_null(st, i + 1);
	}
	return rc;
}

/* Bind v to a cached statement and run it (no result row expected). */
static int st_exec(db *d, enum db_st which, const struct val *v, int n,
		   const char *what, kgd_err *err)
{
	if (bind_vals(d->st[which], v, n) != SQLITE_OK) {
		sqlite3_clear_bindings(d->st[which]);
		return db_fail(d->h, d->path, err, "%s", what);
	}
	return db_st_run(d, which, err, what);
}

/* The id of the row whose natural key is v (FIND); 0 if there is none. */
static int find_id(db *d, enum db_st find, const struct val *v, int n,
		   const char *what, int64_t *id, kgd_err *err)
{
	sqlite3_stmt *st = d->st[find];
	int rc = bind_vals(st, v, n), status = KGD_OK;

	*id = 0;
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, err, "looking up the %s", what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return status;
}

/* As find_id(), creating the row by ADD if new. Only called inside a
 * write transaction, so FIND-then-ADD cannot race another writer. */
static int find_or_add(db *d, enum db_st find, enum db_st add,
		       const struct val *v, int n, const char *what,
		       int64_t *id, kgd_err *err)
{
	int status = find_id(d, find, v, n, what, id, err);

	if (status || *id)
		return status;
	status = st_exec(d, add, v, n, what, err);
	if (!status)
		*id = sqlite3_last_insert_rowid(d->h);
	return status;
}

/* Rows a run and a session both point at. */
struct ids {
	int64_t station, operator, sequence, lot, limits;
};

/* Find or create the station, operator, sequence, lot and limits rows of a
 * run or session, inside the caller's write transaction. */
static int find_common(db *d, const char *station, const char *host,
		       const char *operator_name, const char *seq_name,
		       int seq_version, const char *seq_sha256,
		       const char *seq_text, const char *lot,
		       const char *limits_sha256, const char *limits_text,
		       struct ids *ids, kgd_err *err)
{
	int status;

	memset(ids, 0, sizeof(*ids));
	status = find_or_add(d, ST_STATION_FIND, ST_STATION_ADD,
			     (struct val[]){ VAL_TEXT(station), VAL_TEXT(host) },
			     2, "station", &ids->station, err);
	if (!status && operator_name)
		status = find_or_add(d, ST_OPERATOR_FIND, ST_OPERATOR_ADD,
				     (struct val[]){ VAL_TEXT(operator_name) },
				     1, "operator", &ids->operator, err);
	if (!status)
		status = find_or_add(d, ST_SEQUENCE_FIND, ST_SEQUENCE_ADD,
				     (struct val[]){ VAL_TEXT(seq_sha256),
						     VAL_TEXT(seq_name),
						     VAL_INT(seq_version),
						     VAL_TEXT(seq_text) },
				     4, "sequence", &ids->sequence, err);
	if (!status)
		status = find_or_add(d, ST_LOT_FIND, ST_LOT_ADD,
				     (struct val[]){ VAL_TEXT(lot) }, 1, "lot",
				     &ids->lot, err);
	if (!status && limits_sha256)
		status = find_or_add(d, ST_LIMITS_FIND, ST_LIMITS_ADD,
				     (struct val[]){ VAL_TEXT(limits_sha256),
						     VAL_TEXT(limits_text) },
				     2, "limits set", &ids->limits, err);
	return status;
}

/* A Unix time from the caller: 0 = unknown (<= 0, as the API says), 1 =
 * storable, -1 = not a time the schema can hold (NaN, infinite, past year
 * 9999): a caller's bug, refused rather than stored as "unknown". */
static int time_kind(double t)
{
	if (t <= 0)
		return 0;
	return isfinite(t) && t < DB_TIME_MAX ? 1 : -1;
}

/* Roll back a write transaction this file began and could not finish. */
static void rollback_if_open(db *d)
{
	if (!sqlite3_get_autocommit(d->h))
		db_st_run(d, ST_ROLLBACK, NULL, "rolling back");
}

int db_run_begin(db *d, const db_run_info *info, int64_t *run_id, kgd_err *err)
{
	struct ids ids;
	int64_t wafer_id = 0, part_id;
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
	if (time_kind(info->started) < 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run start time %g is "
				   "not a Unix time in seconds", d->path,
				   info->started);

	status = db_st_run(d, ST_BEGIN, err, "beginning a run");
	if (status)
		goto out;
	began = 1;
	status = find_common(d, info->station, info->host, info->operator_name,
			     info->seq_name, info->seq_version, info->seq_sha256,
			     info->seq_text, info->lot, info->limits_sha256,
			     info->limits_text, &ids, err);
	if (!status && info->wafer)
		status = find_or_add(d, ST_WAFER_FIND, ST_WAFER_ADD,
				     (struct val[]){ VAL_INT(ids.lot),
						     VAL_TEXT(info->wafer) },
				     2, "wafer", &wafer_id, err);
	if (!status)
		status = find_or_add(d, ST_PART_FIND, ST_PART_ADD,
				     (struct val[]){
					     VAL_INT(ids.lot), VAL_ID(wafer_id),
					     info->has_xy ? VAL_INT(info->die_x) : VAL_NULL,
					     info->has_xy ? VAL_INT(info->die_y) : VAL_NULL,
					     VAL_TEXT(info->serial) },
				     5, "part", &part_id, err);
	if (!status)
		status = st_exec(d, ST_RUN_ADD,
				 (struct val[]){ VAL_INT(part_id),
						 VAL_INT(ids.sequence),
						 VAL_INT(ids.station),
						 VAL_ID(ids.operator),
						 VAL_TEXT(info->product),
						 VAL_ID(info->session_id),
						 VAL_ID(ids.limits),
						 time_kind(info->started) > 0
						 ? VAL_REAL(info->started)
						 : VAL_NULL },
				 8, "inserting the run", err);
	if (status)
		goto out;
	d->run_id = sqlite3_last_insert_rowid(d->h);
	d->seq_no = 0;
	*run_id = d->run_id;
out:
	if (status && began)
		rollback_if_open(d);
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

/* The hot path: a thousand calls per die. Direct binds of every parameter
 * (no clear_bindings needed: all ten are rebound each call), one step, one
 * reset; no allocation and no lookup. */
int db_measurement_add(db *d, int64_t run_id, const db_measurement *m,
		       kgd_err *err)
{
	sqlite3_stmt *st;
	int status, rc;

	status = check_open_run(d, run_id, "db_measurement_add", err);
	if (status)
		return status;
	if (!m || !m->step)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run %lld: measurement "
				   "without a step name", d->path,
				   (long long)run_id);
	st = d->st[ST_MEAS_ADD];
	/* A NaN would become NULL in SQLite anyway; say so explicitly. */
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
	if (rc == SQLITE_OK)
		rc = m->name ? sqlite3_bind_text(st, 10, m->name, -1, SQLITE_STATIC)
			     : sqlite3_bind_null(st, 10);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		status = db_fail(d->h, d->path, err, "run %lld: insert of "
				 "measurement %lld (step %s)", (long long)run_id,
				 (long long)d->seq_no + 1, m->step);
		sqlite3_reset(st);
		return run_fail(d, status, err);
	}
	sqlite3_reset(st);
	d->seq_no++;
	return KGD_OK;
}

int db_step_result_add(db *d, int64_t run_id, const char *step,
		       const char *status, int bin, int n_values, kgd_err *err)
{
	return db_step_result_add_timed(d, run_id, step, status, bin, n_values,
					0, 0, err);
}

int db_step_result_add_timed(db *d, int64_t run_id, const char *step,
			     const char *status, int bin, int n_values,
			     double started, double ended, kgd_err *err)
{
	char what[160];
	int rc, has_start = time_kind(started), has_end = time_kind(ended);

	rc = check_open_run(d, run_id, "db_step_result_add", err);
	if (rc)
		return rc;
	if (!step || !status || (strcmp(status, "pass") && strcmp(status, "fail") &&
				 strcmp(status, "error")) || n_values < 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run %lld: step result "
				   "needs a step name, a status pass/fail/error "
				   "and n_values >= 0 (got '%s', '%s', %d)",
				   d->path, (long long)run_id,
				   step ? step : "(null)",
				   status ? status : "(null)", n_values);
	if (has_start < 0 || has_end < 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run %lld: step %s: "
				   "times %g..%g are not Unix times in seconds",
				   d->path, (long long)run_id, step, started,
				   ended);
	snprintf(what, sizeof(what), "run %lld: insert of the result of step %s",
		 (long long)run_id, step);
	/* The duration is the caller's own difference, not one of the
	 * rounded texts; a wall clock stepped back (NTP) mid-step gives no
	 * duration rather than a negative one. */
	rc = st_exec(d, ST_STEP_ADD,
		     (struct val[]){ VAL_INT(run_id), VAL_TEXT(step),
				     VAL_TEXT(status),
				     bin > 0 ? VAL_INT(bin) : VAL_NULL,
				     VAL_INT(n_values),
				     has_start ? VAL_REAL(started) : VAL_NULL,
				     has_end ? VAL_REAL(ended) : VAL_NULL,
				     has_start && has_end && ended >= started
				     ? VAL_REAL(ended - started) : VAL_NULL },
		     8, what, err);
	return rc ? run_fail(d, rc, err) : KGD_OK;
}

int db_run_commit(db *d, int64_t run_id, const char *status, int hard_bin,
		  int soft_bin, const char *fail_reason, kgd_err *err)
{
	char what[64];
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
	snprintf(what, sizeof(what), "verdict of run %lld", (long long)run_id);
	rc = st_exec(d, ST_RUN_END,
		     (struct val[]){ VAL_TEXT(status),
				     hard_bin >= 0 ? VAL_INT(hard_bin) : VAL_NULL,
				     soft_bin >= 0 ? VAL_INT(soft_bin) : VAL_NULL,
				     VAL_TEXT(fail_reason), VAL_INT(run_id) },
		     5, what, err);
	if (!rc) {
		snprintf(what, sizeof(what), "commit of run %lld",
			 (long long)run_id);
		rc = db_st_run(d, ST_COMMIT, err, what);
	}
	if (rc)
		return run_fail(d, rc, err);
	d->run_id = 0;
	return KGD_OK;
}

void db_run_rollback(db *d)
{
	if (!d || !d->run_id)
		return;
	/* Fails only when SQLite already dropped the transaction: either way
	 * nothing of the run remains. */
	rollback_if_open(d);
	d->run_id = 0;
}

/* ---- sessions ------------------------------------------------------------ */

int db_session_begin(db *d, const db_session_info *info, int64_t *session_id,
		     int *n_interrupted, kgd_err *err)
{
	struct ids ids;
	int status, dead = 0;
	size_t i;

	if (!d || !info || !session_id)
		return kgd_err_set(err, KGD_ERR_ARG, "db_session_begin: NULL argument");
	if (d->run_id)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: run %lld is still open",
				   d->path, (long long)d->run_id);
	if (!info->station || !info->lot || !info->seq_name ||
	    !info->seq_sha256 || !info->process || (info->n_bins && !info->bins))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: session needs a station, "
				   "a lot, a process and a sequence name and hash",
				   d->path);
	for (i = 0; i < info->n_bins; i++)
		if (!info->bins[i].name)
			return kgd_err_set(err, KGD_ERR_ARG, "%s: bin %d has no "
					   "name", d->path, info->bins[i].number);

	status = db_st_run(d, ST_BEGIN, err, "beginning a session");
	if (status)
		return status;
	status = db_st_run(d, ST_SESSION_MARK_DEAD, err,
			   "marking dead sessions interrupted");
	if (!status)
		dead = sqlite3_changes(d->h);
	if (!status)
		status = find_common(d, info->station, info->host,
				     info->operator_name, info->seq_name,
				     info->seq_version, info->seq_sha256,
				     info->seq_text, info->lot,
				     info->limits_sha256, info->limits_text,
				     &ids, err);
	for (i = 0; !status && i < info->n_bins; i++)
		status = st_exec(d, ST_BIN_ADD,
				 (struct val[]){ VAL_INT(ids.sequence),
						 VAL_INT(info->bins[i].number),
						 VAL_TEXT(info->bins[i].name),
						 VAL_INT(info->bins[i].pass ? 1 : 0),
						 VAL_ID(info->bins[i].hard) },
				 5, "storing the bin table", err);
	for (i = 0; !status && i < info->n_hard_bins; i++)
		status = st_exec(d, ST_HARD_BIN_ADD,
				 (struct val[]){ VAL_INT(ids.sequence),
						 VAL_INT(info->hard_bins[i].number),
						 VAL_TEXT(info->hard_bins[i].name),
						 VAL_INT(info->hard_bins[i].pass ? 1 : 0) },
				 4, "storing the hard bin table", err);
	if (!status)
		status = st_exec(d, ST_SESSION_ADD,
				 (struct val[]){ VAL_INT(ids.station),
						 VAL_ID(ids.operator),
						 VAL_INT(ids.lot),
						 VAL_INT(ids.sequence),
						 VAL_ID(ids.limits),
						 VAL_TEXT(info->process),
						 VAL_TEXT(info->product) },
				 7, "inserting the session", err);
	if (!status)
		*session_id = sqlite3_last_insert_rowid(d->h);
	if (!status)
		status = db_st_run(d, ST_COMMIT, err, "commit of the new session");
	if (status) {
		rollback_if_open(d);
		return status;
	}
	if (n_interrupted)
		*n_interrupted = dead;
	return KGD_OK;
}

int db_session_end(db *d, int64_t session_id, const char *status,
		   kgd_err *err)
{
	char what[64];
	int rc;

	if (!d)
		return kgd_err_set(err, KGD_ERR_ARG, "db_session_end: no database");
	if (!status || (strcmp(status, DB_SESSION_COMPLETE) &&
			strcmp(status, DB_SESSION_ABORTED) &&
			strcmp(status, DB_SESSION_INTERRUPTED) &&
			strcmp(status, DB_SESSION_ERROR)))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: session %lld: bad end "
				   "status '%s'", d->path, (long long)session_id,
				   status ? status : "(null)");
	/* A session cannot end with half a part inside it. */
	db_run_rollback(d);
	snprintf(what, sizeof(what), "end of session %lld", (long long)session_id);
	rc = st_exec(d, ST_SESSION_END,
		     (struct val[]){ VAL_TEXT(status), VAL_INT(session_id) }, 2,
		     what, err);
	if (rc)
		return rc;
	if (sqlite3_changes(d->h) != 1)
		return kgd_err_set(err, KGD_ERR_NOT_FOUND, "%s: no running "
				   "session %lld to end", d->path,
				   (long long)session_id);
	return KGD_OK;
}

/* ---- resume -------------------------------------------------------------- */

int db_part_tested(db *d, const char *lot, const char *wafer,
		   const char *serial, int x, int y, int *tested, kgd_err *err)
{
	int64_t lot_id, wafer_id = 0, part_id = 0, id;
	int status;

	if (!d || !lot || !tested || (!wafer && !serial))
		return kgd_err_set(err, KGD_ERR_ARG, "db_part_tested: needs a "
				   "lot and a wafer or serial");
	*tested = 0;
	/* The part is named exactly as db_run_begin() names it: with a wafer
	 * by die x/y (and serial if given), without one by serial alone. */
	status = find_id(d, ST_LOT_FIND, (struct val[]){ VAL_TEXT(lot) }, 1,
			 "lot", &lot_id, err);
	if (status || !lot_id)
		return status;
	if (wafer) {
		status = find_id(d, ST_WAFER_FIND,
				 (struct val[]){ VAL_INT(lot_id), VAL_TEXT(wafer) },
				 2, "wafer", &wafer_id, err);
		if (status || !wafer_id)
			return status;
	}
	status = find_id(d, ST_PART_FIND,
			 (struct val[]){ VAL_INT(lot_id), VAL_ID(wafer_id),
					 wafer ? VAL_INT(x) : VAL_NULL,
					 wafer ? VAL_INT(y) : VAL_NULL,
					 VAL_TEXT(serial) },
			 5, "part", &part_id, err);
	if (status || !part_id)
		return status;
	status = find_id(d, ST_PART_TESTED, (struct val[]){ VAL_INT(part_id) }, 1,
			 "runs of the part", &id, err);
	if (!status)
		*tested = id != 0;
	return status;
}
