/*
 * sync/pgs_up.c - one upload of a station file to the central server:
 * what the server has not got, in batches of whole runs, each batch one
 * server transaction that also records how far the file got.
 *
 * Invariants:
 *  - Only committed rows are read (a part in flight has none in the
 *    file), and only up to bounds taken in one read snapshot at the
 *    start, so every run sent comes with the part, session, sequence ...
 *    it refers to, in the same or an earlier batch.
 *  - Ids grow in commit order (one writer at a time, rowid = max + 1, no
 *    row ever deleted), so "id above the mark" is exactly "not sent".
 *    Measurements and step results go with their run: the run mark
 *    covers them.
 *  - The start marks are the server's (sync_batch, written in each
 *    batch's transaction): a crash between the server's COMMIT and the
 *    file's mark can never send a row twice. The file's marks
 *    (sync_mark) are written only after the COMMIT.
 *  - One upload of a file to a server at a time: a session advisory
 *    lock on the file's uuid; a second one is refused.
 *  - The file's data is only read; only sync_mark is written.
 *  - The outlier screens, which a rescreen rewrites, go last and by
 *    version, not by marks (pgs_screen.c).
 */
#include "pgs_int.h"
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGS_BATCH_ROWS 200000
#define PGS_BUSY_MS 10000

/* "session_end": the highest session id below which every session has
 * ended and its end was sent. */
#define N_MARKS (PGS_N_TABLES + 1)
#define MARK_SESSION_END PGS_N_TABLES

typedef struct up {
	pgs_conn *c;
	sqlite3 *h;
	const char *path;
	char src[64];
	char *cols[PGS_N_TABLES];
	long long mark[N_MARKS];    /* what the server has */
	long long bound[N_MARKS];   /* what the snapshot holds */
	long long running_min;      /* lowest running session (0: none) */
	pgs_stats *st;
	pgs_buf buf;
} up;

static const char *mark_name(int i)
{
	return i == MARK_SESSION_END ? "session_end" : pgs_tables[i];
}

static int sql_int(up *u, const char *sql, long long *out, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;

	if (sqlite3_prepare_v2(u->h, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		status = pgs_sqlite_fail(u->h, u->path, err, "reading");
	else
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return status;
}

static int read_source(up *u, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;

	if (sqlite3_prepare_v2(u->h, "SELECT uuid FROM sync_source WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		status = kgd_err_set(err, KGD_ERR_DB, "%s: no sync identity "
				     "(sync_source): open it with this station "
				     "first (it migrates the file)", u->path);
	else
		snprintf(u->src, sizeof(u->src), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return status;
}

/* The server's marks for this file. */
static int server_marks(up *u, kgd_err *err)
{
	const char *p[1] = { u->src };
	PGresult *r = NULL;
	int status = pgs_execp(u->c, "SELECT tbl, max(last_id) FROM sync_batch"
			       " WHERE src = $1 GROUP BY tbl", 1, p, 1, &r,
			       "reading what it holds of this file", err);

	if (status)
		return status;
	for (int i = 0; i < PQntuples(r); i++)
		for (int t = 0; t < N_MARKS; t++)
			if (!strcmp(PQgetvalue(r, i, 0), mark_name(t)))
				u->mark[t] = atoll(PQgetvalue(r, i, 1));
	PQclear(r);
	return KGD_OK;
}

/* Bounds in one read snapshot. */
static int snapshot_bounds(up *u, kgd_err *err)
{
	char sql[160];
	int status;

	if (sqlite3_exec(u->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return pgs_sqlite_fail(u->h, u->path, err, "reading");
	for (int t = 0; t < PGS_N_TABLES; t++) {
		snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), 0) FROM %s",
			 pgs_tables[t]);
		status = sql_int(u, sql, &u->bound[t], err);
		if (status)
			goto out;
	}
	status = sql_int(u, "SELECT coalesce(min(id), 0) FROM session WHERE"
			 " status = 'running'", &u->running_min, err);
	u->bound[MARK_SESSION_END] = u->running_min ? u->running_min - 1
						     : u->bound[PGS_T_SESSION];
out:
	sqlite3_exec(u->h, "COMMIT", NULL, NULL, NULL);
	return status;
}

/* COPY the rows of table t whose where column is in (lo, hi] (columns
 * u->cols[t], in order); *n counts them. */
static int copy_rows(up *u, int t, const char *where, long long lo,
		     long long hi, long long *n, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	pgs_buf sql = { 0 }, dest = { 0 };
	int status = KGD_OK;

	*n = 0;
	if (!strcmp(pgs_tables[t], "measurement"))
		pgs_buf_printf(&sql, "SELECT %s FROM measurement WHERE run_id > ?1"
			       " AND run_id <= ?2 ORDER BY run_id, seq_no",
			       u->cols[t]);
	else
		pgs_buf_printf(&sql, "SELECT %s FROM %s WHERE %s > ?1 AND %s <= ?2"
			       " ORDER BY %s%s", u->cols[t], pgs_tables[t], where,
			       where, where, strcmp(where, "id") ? ", id" : "");
	pgs_buf_printf(&dest, "src, %s", u->cols[t]);
	if (!sql.p || !dest.p) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(u->h, sql.p, -1, &st, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(u->h, u->path, err, "reading");
		goto out;
	}
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	status = pgs_copy_stmt(u->c, &u->buf, pgs_tables[t], dest.p, u->src, st,
			       u->path, n, err);
	if (!status)
		u->st->rows += *n;
out:
	sqlite3_finalize(st);
	pgs_buf_free(&sql);
	pgs_buf_free(&dest);
	return status;
}

/* Ends of sessions above the session_end mark: few rows, inserted one
 * by one; a row the server has is skipped (DO NOTHING needs no right
 * beyond INSERT). */
static int send_session_ends(up *u, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	char id[32];
	const char *p[4];
	int status = KGD_OK, rc;

	if (u->bound[PGS_T_SESSION] <= u->mark[MARK_SESSION_END])
		return KGD_OK;
	if (sqlite3_prepare_v2(u->h, "SELECT id, ended_at, status FROM session"
			       " WHERE id > ?1 AND id <= ?2 AND status <> 'running'",
			       -1, &st, NULL) != SQLITE_OK)
		return pgs_sqlite_fail(u->h, u->path, err, "reading sessions");
	sqlite3_bind_int64(st, 1, u->mark[MARK_SESSION_END]);
	sqlite3_bind_int64(st, 2, u->bound[PGS_T_SESSION]);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(id, sizeof(id), "%lld",
			 (long long)sqlite3_column_int64(st, 0));
		p[0] = u->src;
		p[1] = id;
		p[2] = (const char *)sqlite3_column_text(st, 1);
		p[3] = (const char *)sqlite3_column_text(st, 2);
		status = pgs_execp(u->c, "INSERT INTO session_end VALUES"
				   " ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
				   4, p, 0, NULL, "sending a session's end", err);
		if (status)
			goto out;
		u->st->rows++;
	}
	if (rc != SQLITE_DONE)
		status = pgs_sqlite_fail(u->h, u->path, err, "reading sessions");
out:
	sqlite3_finalize(st);
	return status;
}

/* Record in the batch's transaction how far the file got. */
static int record_marks(up *u, const long long *next, kgd_err *err)
{
	char last[32], nrows[32];
	const char *p[4];
	int status;

	for (int t = 0; t < N_MARKS; t++) {
		if (next[t] <= u->mark[t])
			continue;
		snprintf(last, sizeof(last), "%lld", next[t]);
		snprintf(nrows, sizeof(nrows), "%lld", next[t] - u->mark[t]);
		p[0] = u->src;
		p[1] = mark_name(t);
		p[2] = last;
		p[3] = nrows;
		status = pgs_execp(u->c, "INSERT INTO sync_batch(src, tbl, last_id,"
				   " n_rows) VALUES ($1, $2, $3, $4)", 4, p, 0,
				   NULL, "recording the upload", err);
		if (status)
			return status;
	}
	return KGD_OK;
}

/* After the server's COMMIT: the file's own marks. */
static int local_marks(up *u, const long long *next, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;

	if (sqlite3_prepare_v2(u->h, "INSERT OR REPLACE INTO sync_mark(server,"
			       " tbl, last_id, synced_at) VALUES (?1, ?2, ?3,"
			       " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", -1, &st,
			       NULL) != SQLITE_OK)
		return pgs_sqlite_fail(u->h, u->path, err, "writing sync marks");
	if (sqlite3_exec(u->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(u->h, u->path, err, "writing sync marks");
		goto out;
	}
	for (int t = 0; t < N_MARKS; t++) {
		sqlite3_bind_text(st, 1, u->c->server_uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, mark_name(t), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, next[t]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			status = pgs_sqlite_fail(u->h, u->path, err,
						 "writing sync marks");
			break;
		}
		sqlite3_reset(st);
	}
	if (status || sqlite3_exec(u->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		if (!status)
			status = pgs_sqlite_fail(u->h, u->path, err,
						 "writing sync marks");
		sqlite3_exec(u->h, "ROLLBACK", NULL, NULL, NULL);
	}
out:
	sqlite3_finalize(st);
	return status;
}

/* The last run of the next batch: about batch_rows measurements. */
static int batch_end(up *u, long long r0, long batch_rows, long long *r1,
		     kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK, rc;

	*r1 = u->bound[PGS_FIRST_RUN_TABLE];
	if (sqlite3_prepare_v2(u->h, "SELECT run_id FROM measurement WHERE"
			       " run_id > ?1 AND run_id <= ?2 ORDER BY run_id,"
			       " seq_no LIMIT 1 OFFSET ?3", -1, &st, NULL) != SQLITE_OK)
		return pgs_sqlite_fail(u->h, u->path, err, "reading");
	sqlite3_bind_int64(st, 1, r0);
	sqlite3_bind_int64(st, 2, *r1);
	sqlite3_bind_int64(st, 3, batch_rows);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*r1 = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		status = pgs_sqlite_fail(u->h, u->path, err, "reading");
	sqlite3_finalize(st);
	return status;
}

/* One batch: the dimensions (first batch only), runs (r0, r1] with their
 * step results and measurements, session ends; one transaction. */
static int one_batch(up *u, int first, long long r0, long long r1,
		     kgd_err *err)
{
	long long next[N_MARKS], n;
	int status;

	memcpy(next, u->mark, sizeof(next));
	status = pgs_exec(u->c, "BEGIN", 0, NULL, "starting a batch", err);
	if (status)
		return status;
	if (sqlite3_exec(u->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(u->h, u->path, err, "reading");
		goto out;
	}
	for (int t = 0; first && t < PGS_FIRST_RUN_TABLE; t++) {
		if (u->bound[t] <= u->mark[t])
			continue;
		status = copy_rows(u, t, "id", u->mark[t], u->bound[t], &n, err);
		if (status)
			goto out;
		next[t] = u->bound[t];
	}
	if (first) {
		status = send_session_ends(u, err);
		if (status)
			goto out;
		next[MARK_SESSION_END] = u->bound[MARK_SESSION_END];
	}
	if (r1 > r0) {
		status = copy_rows(u, PGS_FIRST_RUN_TABLE, "id", r0, r1, &n, err);
		if (!status)
			u->st->runs += n;
		if (!status)
			status = copy_rows(u, PGS_FIRST_RUN_TABLE + 1, "run_id", r0,
					   r1, &n, err);
		if (!status)
			status = copy_rows(u, PGS_FIRST_RUN_TABLE + 2, "run_id", r0,
					   r1, &n, err);
		if (status)
			goto out;
		u->st->measurements += n;
		next[PGS_FIRST_RUN_TABLE] = r1;
		next[PGS_FIRST_RUN_TABLE + 1] = r1;
		next[PGS_FIRST_RUN_TABLE + 2] = r1;
	}
	status = record_marks(u, next, err);
	if (!status)
		status = pgs_exec(u->c, "COMMIT", 0, NULL, "committing a batch", err);
out:
	sqlite3_exec(u->h, "COMMIT", NULL, NULL, NULL);
	if (status) {
		if (u->c->pg)
			PQclear(PQexec(u->c->pg, "ROLLBACK"));
		return status;
	}
	u->st->batches++;
	memcpy(u->mark, next, sizeof(next));
	return local_marks(u, next, err);
}

int pgs_up_run(pgs_conn *c, const char *db_path, const pgs_options *o,
	       pgs_stats *st, kgd_err *err)
{
	long batch_rows = o && o->batch_rows > 0 ? o->batch_rows : PGS_BATCH_ROWS;
	up u = { .c = c, .path = db_path, .st = st };
	PGresult *r = NULL;
	const char *p[1];
	long long r0, r1;
	int status, locked = 0, first = 1, dims = 0;

	if (sqlite3_open_v2(db_path, &u.h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(u.h, db_path, err, "opening");
		goto out;
	}
	sqlite3_busy_timeout(u.h, PGS_BUSY_MS);
	status = db_check_readable(u.h, db_path, err);
	if (!status)
		status = read_source(&u, err);
	if (status)
		goto out;
	p[0] = u.src;
	status = pgs_execp(c, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
			   1, p, 1, &r, "locking this file's upload", err);
	if (status)
		goto out;
	locked = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (!locked) {
		status = kgd_err_set(err, KGD_ERR_DB, "%s: another sync of %s to "
				     "this server is running; nothing sent twice, "
				     "try again when it is done", c->label,
				     db_path);
		goto out;
	}
	for (int t = 0; t < PGS_N_TABLES && !status; t++)
		status = pgs_schema_columns(c, u.h, db_path, pgs_tables[t],
					    &u.cols[t], err);
	if (!status)
		status = server_marks(&u, err);
	if (!status)
		status = snapshot_bounds(&u, err);
	if (status)
		goto out;
	for (int t = 0; t < PGS_FIRST_RUN_TABLE; t++)
		dims |= u.bound[t] > u.mark[t];
	dims |= u.bound[MARK_SESSION_END] > u.mark[MARK_SESSION_END];
	r0 = u.mark[PGS_FIRST_RUN_TABLE];
	if (!dims && u.bound[PGS_FIRST_RUN_TABLE] <= r0) {
		/* Nothing new; bring the file's marks up to the server's. */
		status = local_marks(&u, u.mark, err);
	} else {
		do {
			r1 = r0;
			if (u.bound[PGS_FIRST_RUN_TABLE] > r0)
				status = batch_end(&u, r0, batch_rows, &r1, err);
			if (!status)
				status = one_batch(&u, first, r0, r1, err);
			first = 0;
			r0 = r1;
		} while (!status && r0 < u.bound[PGS_FIRST_RUN_TABLE]);
	}
	/* The screens last: only after the runs they judged. */
	if (!status)
		status = pgs_screen_up(c, u.h, db_path, u.src,
				       u.mark[PGS_FIRST_RUN_TABLE], &u.buf,
				       &st->screens, &st->rows, err);
out:
	if (locked && c->pg)
		PQclear(PQexecParams(c->pg, "SELECT pg_advisory_unlock("
				     "hashtextextended($1, 0))", 1, NULL, p, NULL,
				     NULL, 0));
	for (int t = 0; t < PGS_N_TABLES; t++)
		free(u.cols[t]);
	pgs_buf_free(&u.buf);
	sqlite3_close(u.h);
	return status;
}

int pgs_up_waiting(const char *db_path, const char *server_uuid,
		   pgs_waiting *w, kgd_err *err)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;

	memset(w, 0, sizeof(*w));
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(h, db_path, err, "opening");
		goto out;
	}
	sqlite3_busy_timeout(h, PGS_BUSY_MS);
	/* The mark for that server, or for the one reached last. */
	if (sqlite3_prepare_v2(h, "WITH m AS (SELECT last_id FROM sync_mark"
			       " WHERE tbl = 'run' AND (?1 IS NULL OR server = ?1)"
			       " ORDER BY synced_at DESC LIMIT 1)"
			       " SELECT (SELECT count(*) FROM m),"
			       " (SELECT count(*) FROM run WHERE id >"
			       "   coalesce((SELECT last_id FROM m), 0)),"
			       " (SELECT count(*) FROM measurement WHERE run_id >"
			       "   coalesce((SELECT last_id FROM m), 0))", -1, &st,
			       NULL) != SQLITE_OK ||
	    (server_uuid && sqlite3_bind_text(st, 1, server_uuid, -1,
					       SQLITE_STATIC) != SQLITE_OK) ||
	    sqlite3_step(st) != SQLITE_ROW) {
		status = pgs_sqlite_fail(h, db_path, err, "counting what waits");
		goto out;
	}
	w->known = sqlite3_column_int(st, 0) > 0;
	w->runs = sqlite3_column_int64(st, 1);
	w->measurements = sqlite3_column_int64(st, 2);
out:
	sqlite3_finalize(st);
	sqlite3_close(h);
	return status;
}
