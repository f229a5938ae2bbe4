/*
 * sync/pgs_screen.c - the outlier screens (`station screen`, issue 16) on
 * their way to the central server: the analyst's post-screen yield seen
 * fab-wide.
 *
 * A screen is not append-only in the file: screening the lot again
 * rewrites its row (seq, result_sha256, screened_at) and replaces its
 * limit and die rows, whose ids may come back. So screens do not travel
 * by id marks like the rest (pgs_up.c). The server keeps each version it
 * is sent, keyed by (src, screen id, screened_at), and a version is sent
 * whole - the screen row, its limits, its dies - in one server
 * transaction, read in one read snapshot of the file.
 *
 * Invariants:
 *  - Rows are only inserted (a station role needs no UPDATE or DELETE
 *    right); the current version is the one sent last (sent_at).
 *  - A version the server already has is never sent again (the screen
 *    row is inserted with ON CONFLICT DO NOTHING, and its limits and
 *    dies only when that insert took).
 *  - A screen goes only after every run it judged: a screen_die naming
 *    a run above runs_sent waits for the next upload, so a report from
 *    the server never applies a screen to runs it lacks.
 */
#include "pgs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sent {
	long long id;
	char at[64];
} sent;

/* The versions the server has of this file's screens (for a station
 * role: those it sent itself, row-level security). */
static int server_versions(pgs_conn *c, const char *src, sent **out, int *n,
			   kgd_err *err)
{
	const char *p[1] = { src };
	PGresult *r = NULL;
	int status = pgs_execp(c, "SELECT id, screened_at FROM screen WHERE"
			       " src = $1", 1, p, 1, &r,
			       "reading which screens it holds", err);

	*out = NULL;
	*n = 0;
	if (status)
		return status;
	if (PQntuples(r) > 0) {
		*out = calloc((size_t)PQntuples(r), sizeof(sent));
		if (!*out) {
			PQclear(r);
			return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		}
	}
	for (int i = 0; i < PQntuples(r); i++) {
		(*out)[i].id = atoll(PQgetvalue(r, i, 0));
		snprintf((*out)[i].at, sizeof((*out)[i].at), "%s",
			 PQgetvalue(r, i, 1));
	}
	*n = PQntuples(r);
	PQclear(r);
	return KGD_OK;
}

static int has_version(const sent *v, int n, long long id, const char *at)
{
	for (int i = 0; i < n; i++)
		if (v[i].id == id && !strcmp(v[i].at, at))
			return 1;
	return 0;
}

/* The screen row itself: INSERT ... ON CONFLICT DO NOTHING with the
 * file's values as text (the server casts them to the column types);
 * *took is 0 when the server already had this version. */
static int insert_screen(pgs_conn *c, sqlite3 *h, const char *path,
			 const char *src, const char *cols, long long id,
			 const char *at, int *took, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	pgs_buf sql = { 0 };
	const char *p[24];
	PGresult *r = NULL;
	int status = KGD_OK, ncol;

	*took = 0;
	pgs_buf_printf(&sql, "SELECT %s FROM screen WHERE id = ?1 AND"
		       " screened_at = ?2", cols);
	if (!sql.p)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if (sqlite3_prepare_v2(h, sql.p, -1, &st, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(h, path, err, "reading screens");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, at, -1, SQLITE_STATIC);
	ncol = sqlite3_column_count(st);
	if (ncol + 1 > (int)(sizeof(p) / sizeof(p[0]))) {
		status = kgd_err_set(err, KGD_ERR_UNSUPPORTED, "%s: screen has %d "
				     "columns, more than this station sends",
				     path, ncol);
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;    /* rescreened since it was listed: next time */
	p[0] = src;
	for (int i = 0; i < ncol; i++)
		p[i + 1] = (const char *)sqlite3_column_text(st, i);
	sql.len = 0;
	pgs_buf_printf(&sql, "INSERT INTO screen (src, %s) VALUES ($1", cols);
	for (int i = 0; i < ncol; i++)
		pgs_buf_printf(&sql, ", $%d", i + 2);
	pgs_buf_printf(&sql, ") ON CONFLICT DO NOTHING");
	if (!sql.p) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	status = pgs_execp(c, sql.p, ncol + 1, p, 0, &r, "sending a screen", err);
	if (!status)
		*took = atoi(PQcmdTuples(r)) == 1;
out:
	PQclear(r);
	sqlite3_finalize(st);
	pgs_buf_free(&sql);
	return status;
}

/* The limit or die rows (table) of one screen version. */
static int copy_children(pgs_conn *c, sqlite3 *h, const char *path,
			 const char *table, const char *cols, const char *prefix,
			 long long id, pgs_buf *b, long long *n, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	pgs_buf sql = { 0 }, dest = { 0 };
	int status;

	pgs_buf_printf(&sql, "SELECT %s FROM %s WHERE screen_id = ?1 ORDER BY id",
		       cols, table);
	pgs_buf_printf(&dest, "src, screened_at, %s", cols);
	if (!sql.p || !dest.p) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(h, sql.p, -1, &st, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(h, path, err, "reading screens");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	status = pgs_copy_stmt(c, b, table, dest.p, prefix, st, path, n, err);
out:
	sqlite3_finalize(st);
	pgs_buf_free(&sql);
	pgs_buf_free(&dest);
	return status;
}

/* One version, whole, in one server transaction and one read snapshot. */
static int send_one(pgs_conn *c, sqlite3 *h, const char *path, const char *src,
		    char **cols, long long id, const char *at, pgs_buf *b,
		    long long *screens, long long *rows, kgd_err *err)
{
	char prefix[160];
	long long n1 = 0, n2 = 0;
	int status, took = 0;

	/* screened_at is the file's strftime() text: nothing to escape */
	if (strpbrk(at, "\\\t\n\r") || strlen(at) > 64)
		return kgd_err_set(err, KGD_ERR_DB, "%s: screen %lld: "
				   "screened_at '%s' is not a time", path, id, at);
	snprintf(prefix, sizeof(prefix), "%s\t%s", src, at);
	status = pgs_exec(c, "BEGIN", 0, NULL, "sending a screen", err);
	if (status)
		return status;
	if (sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(h, path, err, "reading screens");
		goto out;
	}
	status = insert_screen(c, h, path, src, cols[0], id, at, &took, err);
	if (!status && took)
		status = copy_children(c, h, path, "screen_limit", cols[1], prefix,
				       id, b, &n1, err);
	if (!status && took)
		status = copy_children(c, h, path, "screen_die", cols[2], prefix,
				       id, b, &n2, err);
	if (!status)
		status = pgs_exec(c, "COMMIT", 0, NULL, "committing a screen", err);
out:
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	if (status) {
		if (c->pg)
			PQclear(PQexec(c->pg, "ROLLBACK"));
		return status;
	}
	if (took) {
		(*screens)++;
		*rows += 1 + n1 + n2;
	}
	return KGD_OK;
}

int pgs_screen_up(pgs_conn *c, sqlite3 *h, const char *path, const char *src,
		  long long runs_sent, pgs_buf *b, long long *screens,
		  long long *rows, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	char *cols[PGS_N_SCREEN] = { NULL };
	sent *have = NULL, *mine = NULL;
	long long *judged = NULL;
	int n_have = 0, n_mine = 0, cap = 0, status = KGD_OK, rc;

	/* The file's screens: (id, version, the highest run it judged). */
	if (sqlite3_prepare_v2(h, "SELECT id, screened_at, coalesce((SELECT"
			       " max(run_id) FROM screen_die d WHERE d.screen_id"
			       " = s.id), 0) FROM screen s ORDER BY id", -1, &st,
			       NULL) != SQLITE_OK)
		return pgs_sqlite_fail(h, path, err, "reading screens");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *at = (const char *)sqlite3_column_text(st, 1);

		if (n_mine == cap) {
			int nc = cap ? 2 * cap : 16;
			sent *m = realloc(mine, (size_t)nc * sizeof(*m));
			long long *j = m ? realloc(judged, (size_t)nc * sizeof(*j))
					 : NULL;

			if (m)
				mine = m;
			if (!m || !j) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "out of memory");
				goto out;
			}
			judged = j;
			cap = nc;
		}
		mine[n_mine].id = sqlite3_column_int64(st, 0);
		snprintf(mine[n_mine].at, sizeof(mine[n_mine].at), "%s",
			 at ? at : "");
		judged[n_mine++] = sqlite3_column_int64(st, 2);
	}
	if (rc != SQLITE_DONE) {
		status = pgs_sqlite_fail(h, path, err, "reading screens");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (n_mine == 0)
		goto out;    /* no screen: no query to the server */
	for (int t = 0; t < PGS_N_SCREEN && !status; t++)
		status = pgs_schema_columns(c, h, path, pgs_screen_tables[t],
					    &cols[t], err);
	if (!status)
		status = server_versions(c, src, &have, &n_have, err);
	for (int i = 0; i < n_mine && !status; i++) {
		if (!mine[i].at[0] || judged[i] > runs_sent ||
		    has_version(have, n_have, mine[i].id, mine[i].at))
			continue;
		status = send_one(c, h, path, src, cols, mine[i].id, mine[i].at,
				  b, screens, rows, err);
	}
out:
	sqlite3_finalize(st);
	for (int t = 0; t < PGS_N_SCREEN; t++)
		free(cols[t]);
	free(have);
	free(mine);
	free(judged);
	return status;
}
