/*
 * db/db_core.c - the bottom of db/: how a failure is told (db_fail, with
 * the OS reason behind SQLite's "disk I/O error") and how the statement
 * cache is prepared, bound, stepped and reset. db.c (the front: db.h) and
 * schema.c (migrations) both use it; it calls nothing else in db/.
 *
 * Invariant: every statement in the cache is prepared against the newest
 * schema once per handle and is reset (and its bindings cleared) after
 * each use here, so a cached statement never holds a lock, a read
 * snapshot or a pointer into a caller's strings between calls.
 */
#include "db_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* A FIND and its ADD take the same parameters in the same order; FIND
 * uses only the natural key (the first parameters). `IS` matches NULL to
 * NULL, which `=` would not, and still uses the index. */
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
	[ST_WAFER_ADD] = "INSERT INTO wafer(lot_id, name, map_diameter_mm,"
			 " map_die_w_um, map_die_h_um, map_cols, map_rows,"
			 " map_edge_mm, map_notch_deg)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
		       " started_at, status, condition)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
		       " (SELECT count(*) FROM run WHERE part_id = ?1),"
		       " coalesce(" DB_ISO_AT("?8") ", " DB_NOW "), 'aborted', ?9)",
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
				 " started_at) WHERE status = 'running'"
				 " AND id NOT IN (SELECT session_id FROM lot_lease)",
	[ST_SESSION_ADD] = "INSERT INTO session(station_id, operator_id, lot_id,"
			   " sequence_id, limits_id, process, product,"
			   " started_at, status, software_version,"
			   " software_build)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " DB_NOW
			   ", 'running', ?8, ?9)",
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
	/* The lot lease (db_lease.c). ?1 of the list: seconds after which a
	 * lease nobody renewed counts as expired. */
	[ST_LEASE_LIST] = "SELECT l.lot_id, l.session_id, l.station, l.host,"
			  " l.pid, l.pid_start, l.boot_id, l.since,"
			  " l.renewed_at, (julianday('now') -"
			  " julianday(l.renewed_at)) * 86400.0 > ?1, lot.name"
			  " FROM lot_lease l LEFT JOIN lot ON lot.id = l.lot_id"
			  " ORDER BY l.lot_id",
	[ST_LEASE_DROP] = "DELETE FROM lot_lease WHERE lot_id = ?1",
	[ST_LEASE_ADD] = "INSERT INTO lot_lease(lot_id, session_id, station, host,"
			 " pid, pid_start, boot_id, since, renewed_at)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " DB_NOW ", "
			 DB_NOW ")",
	/* 1: renew now, 0: renewed within ?2 seconds, no row: lost. */
	[ST_LEASE_HELD] = "SELECT (julianday('now') - julianday(renewed_at))"
			  " * 86400.0 >= ?2 FROM lot_lease WHERE session_id = ?1",
	[ST_LEASE_RENEW] = "UPDATE lot_lease SET renewed_at = " DB_NOW
			   " WHERE session_id = ?1",
	[ST_LEASE_RELEASE] = "DELETE FROM lot_lease WHERE session_id = ?1",
	[ST_INSTRUMENT_ADD] = "INSERT INTO session_instrument(session_id, role,"
			      " driver, abi_major, abi_minor, plugin_file,"
			      " plugin_sha256, identity)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
};

/* ---- failures ------------------------------------------------------------ */

/* Why a write failed, when SQLite only says "disk I/O error": its saved
 * errno is often overwritten by the rollback that follows, so look at the
 * file system and the process's file-size limit directly. */
static void os_hint(sqlite3 *h, const char *path, char *buf, size_t cap)
{
	char side[PATH_MAX + 8];
	struct statvfs vfs;
	struct rlimit rl;
	struct stat st;
	int sys = sqlite3_system_errno(h);

	buf[0] = '\0';
	if (sys == ENOSPC || sys == EFBIG || sys == EDQUOT || sys == EROFS) {
		snprintf(buf, cap, " (%s)", strerror(sys));
		return;
	}
	snprintf(side, sizeof(side), "%s-wal", path);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    ((stat(path, &st) == 0 && (rlim_t)st.st_size + 65536 >= rl.rlim_cur) ||
	     (stat(side, &st) == 0 && (rlim_t)st.st_size + 65536 >= rl.rlim_cur))) {
		snprintf(buf, cap, " (%s: file-size limit of %llu bytes reached)",
			 strerror(EFBIG), (unsigned long long)rl.rlim_cur);
		return;
	}
	if (statvfs(path, &vfs) == 0 &&
	    (unsigned long long)vfs.f_bavail * vfs.f_frsize < 1024 * 1024) {
		snprintf(buf, cap, " (%s)", strerror(ENOSPC));
		return;
	}
	if (sys)
		snprintf(buf, cap, " (%s)", strerror(sys));
}

int db_fail(sqlite3 *h, const char *path, kgd_err *err, const char *fmt, ...)
{
	char what[256], os[160] = "";
	int code = h ? sqlite3_errcode(h) : SQLITE_NOMEM;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* The OS reason (No space left on device, File too large) is what
	 * tells the operator what to do. */
	if (code == SQLITE_IOERR || code == SQLITE_FULL)
		os_hint(h, path, os, sizeof(os));
	return kgd_err_set(err, code == SQLITE_NOMEM ? KGD_ERR_NOMEM : KGD_ERR_DB,
			   "%s: %s: %s%s", path, what,
			   h ? sqlite3_errmsg(h) : "out of memory", os);
}

/* ---- the statement cache ------------------------------------------------- */

int db_st_prepare_all(db *d, kgd_err *err)
{
	int i;

	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(d->h, st_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &d->st[i],
				       NULL) != SQLITE_OK)
			return db_fail(d->h, d->path, err, "preparing statements");
	return KGD_OK;
}

void db_st_finalize_all(db *d)
{
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(d->st[i]);
		d->st[i] = NULL;
	}
}

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

static int bind_vals(sqlite3_stmt *st, const db_val *v, int n)
{
	int i, rc = SQLITE_OK, np = sqlite3_bind_parameter_count(st);

	for (i = 0; i < n && i < np && rc == SQLITE_OK; i++) {
		if (v[i].type == DB_V_TEXT)
			rc = sqlite3_bind_text(st, i + 1, v[i].s, -1, SQLITE_STATIC);
		else if (v[i].type == DB_V_INT)
			rc = sqlite3_bind_int64(st, i + 1, v[i].i);
		else if (v[i].type == DB_V_REAL)
			rc = sqlite3_bind_double(st, i + 1, v[i].r);
		else
			rc = sqlite3_bind_null(st, i + 1);
	}
	return rc;
}

int db_st_exec(db *d, enum db_st which, const db_val *v, int n,
	       const char *what, kgd_err *err)
{
	if (bind_vals(d->st[which], v, n) != SQLITE_OK) {
		sqlite3_clear_bindings(d->st[which]);
		return db_fail(d->h, d->path, err, "%s", what);
	}
	return db_st_run(d, which, err, what);
}

int db_find_id(db *d, enum db_st find, const db_val *v, int n,
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

int db_find_or_add(db *d, enum db_st find, enum db_st add, const db_val *v,
		   int n, const char *what, int64_t *id, kgd_err *err)
{
	int status = db_find_id(d, find, v, n, what, id, err);

	if (status || *id)
		return status;
	status = db_st_exec(d, add, v, n, what, err);
	if (!status)
		*id = sqlite3_last_insert_rowid(d->h);
	return status;
}
