/*
 * db/db.c - the front of db/: every function of db.h is defined here
 * and nowhere else. Opening and closing a results file, sessions, the run
 * of one part with its measurements and step results, and the resume
 * lookup.
 *
 * Calls go one way: this file -> schema.c (the file's shape: checks,
 * migrations, backups; db_schema_upgrade) -> db_core.c (db_fail and the
 * statement cache). Neither calls back up here, so closing a handle (here)
 * never runs from inside a migration.
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
#include <unistd.h>

/* A report or a second station may hold the lock briefly (a WAL checkpoint,
 * another station's commit); wait rather than fail the die. */
#define DB_BUSY_MS 10000

int db_check_budget_ms = DB_CHECK_MS;

/* ---- opening and closing ------------------------------------------------- */

int db_schema_version(void)
{
	return db_schema_newest();
}

int db_check_readable(sqlite3 *h, const char *path, kgd_err *err)
{
	return db_schema_check(h, path, err);
}

/* db_open() up to a given schema version; the statement cache is only
 * prepared for the newest one (it names columns of every version). */
static int open_at(const char *path, int target, db **out, kgd_err *err)
{
	db *d = NULL;
	int status = KGD_OK;

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
		status = db_fail(d->h, path, err, "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(d->h, DB_BUSY_MS);
	d->check_ms = db_check_budget_ms;
	status = db_schema_upgrade(d, target, err);
	if (!status && target == db_schema_newest())
		status = db_st_prepare_all(d, err);
out:
	if (status)
		db_close(d);
	else
		*out = d;
	return status;
}

int db_open(const char *path, db **out, kgd_err *err)
{
	return open_at(path, db_schema_newest(), out, err);
}

int db_create_at_version(const char *path, int version, kgd_err *err)
{
	db *d = NULL;
	int status;

	if (version < 1 || version > db_schema_newest())
		return kgd_err_set(err, KGD_ERR_ARG, "%s: no schema version %d",
				   path ? path : "(null)", version);
	if (path && access(path, F_OK) == 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: exists; schema history "
				   "files are created new", path);
	status = open_at(path, version, &d, err);
	db_close(d);
	return status;
}

const char *db_backup_path(const db *d)
{
	return d ? d->backup_path : NULL;
}

void db_close(db *d)
{
	if (!d)
		return;
	db_run_rollback(d);
	/* A station that closes without ending its session is gone: its lot
	 * is free, and the next session marks that one interrupted. */
	if (d->lease_session)
		db_lease_release(d, d->lease_session, NULL);
	db_st_finalize_all(d);
	/* sqlite3_close() on a handle that failed to open frees it too. */
	sqlite3_close(d->h);
	free(d->backup_path);
	free(d->path);
	free(d);
}

/* ---- runs ---------------------------------------------------------------- */

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
	status = db_find_or_add(d, ST_STATION_FIND, ST_STATION_ADD,
				(db_val[]){ VAL_TEXT(station), VAL_TEXT(host) },
				2, "station", &ids->station, err);
	if (!status && operator_name)
		status = db_find_or_add(d, ST_OPERATOR_FIND, ST_OPERATOR_ADD,
					(db_val[]){ VAL_TEXT(operator_name) },
					1, "operator", &ids->operator, err);
	if (!status)
		status = db_find_or_add(d, ST_SEQUENCE_FIND, ST_SEQUENCE_ADD,
					(db_val[]){ VAL_TEXT(seq_sha256),
							VAL_TEXT(seq_name),
							VAL_INT(seq_version),
							VAL_TEXT(seq_text) },
					4, "sequence", &ids->sequence, err);
	if (!status)
		status = db_find_or_add(d, ST_LOT_FIND, ST_LOT_ADD,
					(db_val[]){ VAL_TEXT(lot) }, 1, "lot",
					&ids->lot, err);
	if (!status && limits_sha256)
		status = db_find_or_add(d, ST_LIMITS_FIND, ST_LIMITS_ADD,
					(db_val[]){ VAL_TEXT(limits_sha256),
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

/* A real number or NULL (NAN, or no geometry at all). */
static db_val map_real(const db_wafer_map *m, double v)
{
	return m->has && isfinite(v) ? VAL_REAL(v) : VAL_NULL;
}

/* The wafer's row; a new one carries the prober's map geometry. */
static int wafer_find_or_add(db *d, int64_t lot, const char *wafer,
			     const db_wafer_map *m, int64_t *id, kgd_err *err)
{
	int status = db_find_id(d, ST_WAFER_FIND, (db_val[]){ VAL_INT(lot),
				VAL_TEXT(wafer) }, 2, "wafer", id, err);

	if (status || *id)
		return status;
	status = db_st_exec(d, ST_WAFER_ADD, (db_val[]){
				VAL_INT(lot), VAL_TEXT(wafer),
				map_real(m, m->diameter_mm), map_real(m, m->die_w_um),
				map_real(m, m->die_h_um),
				m->has ? VAL_INT(m->cols) : VAL_NULL,
				m->has ? VAL_INT(m->rows) : VAL_NULL,
				map_real(m, m->edge_mm), map_real(m, m->notch_deg) },
			    9, "wafer", err);
	if (!status)
		*id = sqlite3_last_insert_rowid(d->h);
	return status;
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
		status = wafer_find_or_add(d, ids.lot, info->wafer,
					   &info->wafer_map, &wafer_id, err);
	if (!status)
		status = db_find_or_add(d, ST_PART_FIND, ST_PART_ADD,
					(db_val[]){
						VAL_INT(ids.lot), VAL_ID(wafer_id),
						info->has_xy ? VAL_INT(info->die_x) : VAL_NULL,
						info->has_xy ? VAL_INT(info->die_y) : VAL_NULL,
						VAL_TEXT(info->serial) },
					5, "part", &part_id, err);
	if (!status)
		status = db_st_exec(d, ST_RUN_ADD,
				    (db_val[]){ VAL_INT(part_id),
						    VAL_INT(ids.sequence),
						    VAL_INT(ids.station),
						    VAL_ID(ids.operator),
						    VAL_TEXT(info->product),
						    VAL_ID(info->session_id),
						    VAL_ID(ids.limits),
						    time_kind(info->started) > 0
						    ? VAL_REAL(info->started)
						    : VAL_NULL,
						    VAL_TEXT(info->condition) },
				    9, "inserting the run", err);
	if (status)
		goto out;
	d->run_id = sqlite3_last_insert_rowid(d->h);
	d->seq_no = 0;
	d->run_session = info->session_id;
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
	rc = db_st_exec(d, ST_STEP_ADD,
			(db_val[]){ VAL_INT(run_id), VAL_TEXT(step),
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
	/* The lease is renewed as the session commits, and a session that
	 * lost its lot commits nothing more into it. */
	if (d->lease_session && d->run_session == d->lease_session) {
		rc = db_lease_renew(d, d->lease_session, err);
		if (rc == KGD_ERR_NOT_FOUND)
			rc = kgd_err_set(err, KGD_ERR_DB, "%s: commit of run %lld "
					 "refused, none of it stored: session %lld "
					 "no longer holds its lot (another station "
					 "took it over as stale, or its lease was "
					 "dropped)", d->path, (long long)run_id,
					 (long long)d->lease_session);
		if (rc) {
			db_run_rollback(d);
			return rc;
		}
	}
	snprintf(what, sizeof(what), "verdict of run %lld", (long long)run_id);
	rc = db_st_exec(d, ST_RUN_END,
			(db_val[]){ VAL_TEXT(status),
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
	int64_t sid = 0;
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
	for (i = 0; i < info->n_instruments; i++)
		if (!info->instruments || !info->instruments[i].role ||
		    !info->instruments[i].driver)
			return kgd_err_set(err, KGD_ERR_ARG, "%s: instrument %zu "
					   "needs a role and a driver", d->path, i);
	if (d->lease_session)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: session %lld of this "
				   "handle is still running", d->path,
				   (long long)d->lease_session);

	status = db_st_run(d, ST_BEGIN, err, "beginning a session");
	if (status)
		return status;
	status = find_common(d, info->station, info->host, info->operator_name,
			     info->seq_name, info->seq_version, info->seq_sha256,
			     info->seq_text, info->lot, info->limits_sha256,
			     info->limits_text, &ids, err);
	/* The lot is refused before anything is marked; stale leases go, so
	 * the sessions they held read as dead. */
	if (!status)
		status = db_lease_check(d, ids.lot, info->lot, err);
	if (!status)
		status = db_st_run(d, ST_SESSION_MARK_DEAD, err,
				   "marking dead sessions interrupted");
	if (!status)
		dead = sqlite3_changes(d->h);
	for (i = 0; !status && i < info->n_bins; i++)
		status = db_st_exec(d, ST_BIN_ADD,
				    (db_val[]){ VAL_INT(ids.sequence),
						    VAL_INT(info->bins[i].number),
						    VAL_TEXT(info->bins[i].name),
						    VAL_INT(info->bins[i].pass ? 1 : 0),
						    VAL_ID(info->bins[i].hard) },
				    5, "storing the bin table", err);
	for (i = 0; !status && i < info->n_hard_bins; i++)
		status = db_st_exec(d, ST_HARD_BIN_ADD,
				    (db_val[]){ VAL_INT(ids.sequence),
						    VAL_INT(info->hard_bins[i].number),
						    VAL_TEXT(info->hard_bins[i].name),
						    VAL_INT(info->hard_bins[i].pass ? 1 : 0) },
				    4, "storing the hard bin table", err);
	if (!status)
		status = db_st_exec(d, ST_SESSION_ADD,
				    (db_val[]){ VAL_INT(ids.station),
						    VAL_ID(ids.operator),
						    VAL_INT(ids.lot),
						    VAL_INT(ids.sequence),
						    VAL_ID(ids.limits),
						    VAL_TEXT(info->process),
						    VAL_TEXT(info->product),
						    VAL_TEXT(info->software_version),
						    VAL_TEXT(info->software_build) },
				    9, "inserting the session", err);
	if (!status) {
		sid = sqlite3_last_insert_rowid(d->h);
		status = db_lease_take(d, ids.lot, sid, info->station, err);
	}
	for (i = 0; !status && i < info->n_instruments; i++) {
		const db_instrument *in = &info->instruments[i];

		status = db_st_exec(d, ST_INSTRUMENT_ADD,
				    (db_val[]){ VAL_INT(sid), VAL_TEXT(in->role),
						VAL_TEXT(in->driver),
						VAL_INT(in->abi_major),
						VAL_INT(in->abi_minor),
						VAL_TEXT(in->plugin_file),
						VAL_TEXT(in->plugin_sha256),
						VAL_TEXT(in->identity) },
				    8, "storing the session's instruments", err);
	}
	if (!status)
		status = db_st_run(d, ST_COMMIT, err, "commit of the new session");
	if (status) {
		rollback_if_open(d);
		return status;
	}
	*session_id = sid;
	d->lease_session = sid;
	if (n_interrupted)
		*n_interrupted = dead;
	return KGD_OK;
}

/* The full check the check at open owed (it ran out of time on a large
 * file): the session's runs are committed whatever it finds, but the
 * operator learns now, not from the next report, that the file needs
 * recovering. Once per handle. */
static int check_at_end(db *d, int64_t session_id, kgd_err *err)
{
	char first[200];
	int done, rc;

	d->check_due = 0;
	rc = db_check_run(d, "PRAGMA integrity_check", 0, first, sizeof(first),
			  &done, err);
	if (!rc && strcmp(first, "ok") != 0)
		rc = db_damaged(d, err, "session %lld ended, but the file is "
				"damaged (integrity_check: %.150s); its runs are "
				"committed, and no next lot should go into it",
				(long long)session_id, first);
	return rc;
}

/* The end of a session and of its hold on the lot, in one transaction;
 * rolled back on failure. */
static int session_end_write(db *d, int64_t session_id, const char *status,
			     const char *what, kgd_err *err)
{
	int rc = db_st_run(d, ST_BEGIN, err, what);

	if (rc)
		return rc;
	rc = db_st_exec(d, ST_SESSION_END,
			(db_val[]){ VAL_TEXT(status), VAL_INT(session_id) }, 2,
			what, err);
	if (!rc && sqlite3_changes(d->h) != 1)
		rc = kgd_err_set(err, KGD_ERR_NOT_FOUND, "%s: no running "
				 "session %lld to end", d->path,
				 (long long)session_id);
	/* The session and its hold on the lot end together. */
	if (!rc)
		rc = db_lease_release(d, session_id, err);
	if (!rc)
		rc = db_st_run(d, ST_COMMIT, err, what);
	if (rc)
		rollback_if_open(d);
	return rc;
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
	rc = session_end_write(d, session_id, status, what, err);
	/* The end record is what tells an operator and --resume that the lot
	 * stopped. When a full disk or the file-size limit failed the last
	 * part's commit, the WAL is at its largest: a RESTART checkpoint moves
	 * its frames into the database and lets the next write reuse the WAL
	 * from its start, so the small end record usually fits without
	 * growing any file. One more try, then the first error stands. */
	if (rc == KGD_ERR_DB &&
	    sqlite3_wal_checkpoint_v2(d->h, NULL, SQLITE_CHECKPOINT_RESTART,
				      NULL, NULL) == SQLITE_OK) {
		kgd_err again;

		kgd_err_clear(&again);
		if (session_end_write(d, session_id, status, what, &again) == KGD_OK)
			rc = KGD_OK;
	}
	if (rc)
		return rc;
	if (d->lease_session == session_id)
		d->lease_session = 0;
	if (d->check_due && strcmp(status, DB_SESSION_ABORTED) != 0)
		rc = check_at_end(d, session_id, err);
	return rc;
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
	status = db_find_id(d, ST_LOT_FIND, (db_val[]){ VAL_TEXT(lot) }, 1,
			    "lot", &lot_id, err);
	if (status || !lot_id)
		return status;
	if (wafer) {
		status = db_find_id(d, ST_WAFER_FIND,
				    (db_val[]){ VAL_INT(lot_id), VAL_TEXT(wafer) },
				    2, "wafer", &wafer_id, err);
		if (status || !wafer_id)
			return status;
	}
	status = db_find_id(d, ST_PART_FIND,
			    (db_val[]){ VAL_INT(lot_id), VAL_ID(wafer_id),
					    wafer ? VAL_INT(x) : VAL_NULL,
					    wafer ? VAL_INT(y) : VAL_NULL,
					    VAL_TEXT(serial) },
			    5, "part", &part_id, err);
	if (status || !part_id)
		return status;
	status = db_find_id(d, ST_PART_TESTED, (db_val[]){ VAL_INT(part_id) }, 1,
			    "runs of the part", &id, err);
	if (!status)
		*tested = id != 0;
	return status;
}

/* ---- the lot so far ------------------------------------------------------ */

int db_lot_results(db *d, const char *lot, db_part_fn fn, void *user,
		   kgd_err *err)
{
	static const char sql[] =
		"SELECT w.name, p.serial, p.die_x, p.die_y, r.status, r.soft_bin"
		" FROM (SELECT part_id, max(id) AS last_id FROM run"
		"       GROUP BY part_id) pr"
		" JOIN run r ON r.id = pr.last_id"
		" JOIN part p ON p.id = pr.part_id"
		" JOIN lot l ON l.id = p.lot_id"
		" LEFT JOIN wafer w ON w.id = p.wafer_id"
		" WHERE l.name = ?1 ORDER BY r.id";
	sqlite3_stmt *st = NULL;
	int rc, status = KGD_OK;

	if (!d || !lot || !fn)
		return kgd_err_set(err, KGD_ERR_ARG, "db_lot_results: needs a lot");
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(d->h, d->path, err, "reading lot %s", lot);
	sqlite3_bind_text(st, 1, lot, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *status_text = (const char *)sqlite3_column_text(st, 4);

		if (fn(user, (const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1),
		       sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
		       status_text ? status_text : DB_STATUS_ERROR,
		       sqlite3_column_type(st, 5) == SQLITE_NULL
		       ? -1 : sqlite3_column_int(st, 5))) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, err, "reading lot %s", lot);
out:
	sqlite3_finalize(st);
	return status;
}
