/*
 * sync/pgs_pull.c - the way back: the selected rows of every station file
 * the server holds, pulled (COPY ... TO STDOUT) into a new station file,
 * so the report code that reads station files (reports/) writes the same
 * CSV, SVG and STDF set from the server as from the stations.
 *
 * Invariants:
 *  - The new file is a station file of the current schema (db_open made
 *    it) and is written in one transaction: it is complete or absent.
 *  - Sources (station files, by uuid) are taken in uuid order; source k's
 *    ids are shifted by the sum of the earlier sources' largest ids of
 *    that table, so rows of different files never collide and a single
 *    source keeps its own ids - its pulled file holds what it holds.
 *  - Rows with a natural key (station name+host, operator, sequence and
 *    limits sha256, lot name, wafer, part, bins) are merged across
 *    sources: the first one seen keeps its id, the others point at it.
 *  - A session's end (session_end) replaces what the session row said
 *    when it was first sent.
 *  - Of each screen, only the version sent last (the file's current
 *    one when it was sent) is pulled; its limit and die rows get new ids
 *    (nothing refers to them; a rescreen may have reused the old ones).
 */
#include "pgs_int.h"
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How each table's references and natural key are remapped. */
typedef struct pull_ref {
	const char *col;
	int table;                 /* index in pgs_tables */
} pull_ref;

typedef struct pull_table {
	const char *nk;            /* natural key columns (dedupe), or NULL */
	pull_ref refs[6];
	const char *where;         /* the selection with a filter */
	const char *always;        /* the selection, filter or not */
	int renumber;              /* ids made anew (nothing refers to them) */
} pull_table;

#define T_STATION 0
#define T_OPERATOR 1
#define T_SEQUENCE 2
#define T_LIMITS 3
#define T_LOT 4
#define T_WAFER 5
#define T_PART 6
#define T_SESSION 7
#define T_RUN 11
#define T_SCREEN PGS_N_TABLES
#define N_PULL (PGS_N_TABLES + PGS_N_SCREEN)

#define SEL_RUN "(SELECT src, id FROM _sel_run)"
#define SEL_SES "(SELECT src, id FROM _sel_session)"
#define REF_OF(col) "(SELECT src, " col " FROM run WHERE (src, id) IN " SEL_RUN \
	" UNION SELECT src, " col " FROM session WHERE (src, id) IN " SEL_SES ")"

/* The current version of each screen of the selected lots (_cur_screen):
 * its limits, and its dies for the selected runs. */
#define CUR_SCREEN(id) "(t.src, t." id ", t.screened_at) IN (SELECT src, id," \
	" screened_at FROM _cur_screen)"

static const pull_table tables[N_PULL] = {
	[0] = { "name host", { { 0 } }, "(t.src, t.id) IN " REF_OF("station_id") },
	[1] = { "name", { { 0 } }, "(t.src, t.id) IN " REF_OF("operator_id") },
	[2] = { "sha256", { { 0 } }, "(t.src, t.id) IN " REF_OF("sequence_id") },
	[3] = { "sha256", { { 0 } }, "(t.src, t.id) IN " REF_OF("limits_id") },
	[4] = { "name", { { 0 } }, "(t.src, t.id) IN (SELECT src, lot_id FROM part"
		" WHERE (src, id) IN (SELECT src, id FROM _sel_part) UNION SELECT"
		" src, lot_id FROM session WHERE (src, id) IN " SEL_SES ")" },
	[5] = { "lot_id name", { { "lot_id", T_LOT } }, "(t.src, t.id) IN (SELECT"
		" src, wafer_id FROM part WHERE (src, id) IN (SELECT src, id FROM"
		" _sel_part))" },
	[6] = { "lot_id wafer_id serial die_x die_y",
		{ { "lot_id", T_LOT }, { "wafer_id", T_WAFER } },
		"(t.src, t.id) IN (SELECT src, id FROM _sel_part)" },
	[7] = { NULL, { { "station_id", T_STATION }, { "operator_id", T_OPERATOR },
		{ "lot_id", T_LOT }, { "sequence_id", T_SEQUENCE },
		{ "limits_id", T_LIMITS } }, "(t.src, t.id) IN " SEL_SES },
	[8] = { "sequence_id number", { { "sequence_id", T_SEQUENCE } },
		"(t.src, t.sequence_id) IN " REF_OF("sequence_id") },
	[9] = { "sequence_id number", { { "sequence_id", T_SEQUENCE } },
		"(t.src, t.sequence_id) IN " REF_OF("sequence_id") },
	[10] = { NULL, { { "session_id", T_SESSION } },
		 "(t.src, t.session_id) IN " SEL_SES },
	[11] = { NULL, { { "part_id", T_PART }, { "sequence_id", T_SEQUENCE },
		 { "station_id", T_STATION }, { "operator_id", T_OPERATOR },
		 { "session_id", T_SESSION }, { "limits_id", T_LIMITS } },
		 "(t.src, t.id) IN " SEL_RUN },
	[12] = { NULL, { { "run_id", T_RUN } }, "(t.src, t.run_id) IN " SEL_RUN },
	[13] = { NULL, { { "run_id", T_RUN } }, "(t.src, t.run_id) IN " SEL_RUN },
	/* Two files that screened one lot with one config: the first
	 * file's screen stands, the other's rows are left out (UNIQUE in
	 * the file, and one lot has one current screen). */
	[T_SCREEN] = { "lot_id config_sha256", { { "lot_id", T_LOT } }, NULL,
		       CUR_SCREEN("id"), 0 },
	[T_SCREEN + 1] = { NULL, { { "screen_id", T_SCREEN },
			   { "wafer_id", T_WAFER } }, NULL,
			   CUR_SCREEN("screen_id"), 1 },
	[T_SCREEN + 2] = { NULL, { { "screen_id", T_SCREEN },
			   { "part_id", T_PART }, { "run_id", T_RUN } },
			   "(t.src, t.run_id) IN " SEL_RUN,
			   CUR_SCREEN("screen_id"), 1 },
};

static const char *tname(int t)
{
	return t < PGS_N_TABLES ? pgs_tables[t]
				: pgs_screen_tables[t - PGS_N_TABLES];
}

#define MAX_COLS 32

typedef struct pull {
	pgs_conn *c;
	sqlite3 *h;
	const char *path;
	int n_src;
	int filtered;
	long long *off[N_PULL];           /* per source: id shift */
	long long *maxid[N_PULL];         /* per source: largest id */
	long long **map[N_PULL];          /* per source, old id -> new id
	                                     (merged tables only) */
	pgs_stats *st;
} pull;

static int nomem(kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
}

/* Sources and, per table, each source's largest id. */
static int read_sources(pull *p, kgd_err *err)
{
	PGresult *r = NULL;
	char sql[300];
	int status;

	status = pgs_exec(p->c, "CREATE TEMP TABLE _src AS SELECT src, (row_number()"
			  " OVER (ORDER BY src)) - 1 AS rank FROM (SELECT DISTINCT"
			  " src FROM station) s", 0, NULL, "listing sources", err);
	if (!status)
		status = pgs_exec(p->c, "SELECT count(*) FROM _src", 1, &r,
				  "listing sources", err);
	if (status)
		return status;
	p->n_src = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	for (int t = 0; t < N_PULL; t++) {
		p->off[t] = calloc((size_t)p->n_src + 1, sizeof(long long));
		p->maxid[t] = calloc((size_t)p->n_src + 1, sizeof(long long));
		p->map[t] = calloc((size_t)p->n_src + 1, sizeof(long long *));
		if (!p->off[t] || !p->maxid[t] || !p->map[t])
			return nomem(err);
		snprintf(sql, sizeof(sql), "SELECT s.rank, max(t.id) FROM %s t JOIN"
			 " _src s USING (src) GROUP BY s.rank", tname(t));
		status = pgs_exec(p->c, sql, 1, &r, "reading sizes", err);
		if (status)
			return status;
		for (int i = 0; i < PQntuples(r); i++) {
			int k = atoi(PQgetvalue(r, i, 0));

			if (k >= 0 && k < p->n_src)
				p->maxid[t][k] = atoll(PQgetvalue(r, i, 1));
		}
		PQclear(r);
		for (int k = 1; k < p->n_src; k++)
			p->off[t][k] = p->off[t][k - 1] + p->maxid[t][k - 1];
		if (tables[t].nk)
			for (int k = 0; k < p->n_src; k++) {
				p->map[t][k] = calloc((size_t)p->maxid[t][k] + 1,
						      sizeof(long long));
				if (!p->map[t][k])
					return nomem(err);
			}
	}
	return KGD_OK;
}

/* The selection, as temp tables on the server. */
static int select_parts(pull *p, const pgs_filter *f, kgd_err *err)
{
	pgs_buf b = { 0 };
	char *v;
	int status;
	const char *col[5] = { "l.name", "w.name", "s.name", "r.started_at",
			       "r.started_at" };
	const char *op[5] = { " = ", " = ", " = ", " >= ", " <= " };
	const char *val[5] = { f ? f->lot : NULL, f ? f->wafer : NULL,
			       f ? f->station : NULL, f ? f->from : NULL,
			       f ? f->to : NULL };

	pgs_buf_printf(&b, "CREATE TEMP TABLE _hit_part AS SELECT DISTINCT r.src,"
		       " r.part_id AS id FROM run r JOIN part p ON p.src = r.src AND"
		       " p.id = r.part_id JOIN lot l ON l.src = p.src AND l.id ="
		       " p.lot_id LEFT JOIN wafer w ON w.src = p.src AND w.id ="
		       " p.wafer_id JOIN station s ON s.src = r.src AND s.id ="
		       " r.station_id WHERE true");
	for (int i = 0; i < 5; i++) {
		if (!val[i])
			continue;
		p->filtered = 1;
		v = PQescapeLiteral(p->c->pg, val[i], strlen(val[i]));
		if (!v) {
			pgs_buf_free(&b);
			return nomem(err);
		}
		/* --to 2025-01-31 takes that whole day: compare with the
		 * prefix's end ('~' sorts after every ISO character). */
		pgs_buf_printf(&b, " AND %s%s%s%s", col[i], op[i], v,
			       i == 4 ? " || '~'" : "");
		PQfreemem(v);
	}
	if (!b.p)
		return nomem(err);
	status = pgs_exec(p->c, b.p, 0, NULL, "selecting parts", err);
	pgs_buf_free(&b);
	/* A part is one part in every file that tested it (the pull merges
	 * it by its natural key), and the report picks its latest run among
	 * all of them before it filters (rpt.h): so a part with a matching
	 * run anywhere comes with its runs of every file, and the report,
	 * not the pull, decides whether its selected run matches. */
	if (!status)
		status = pgs_exec(p->c, "CREATE TEMP TABLE _sel_part AS"
				  /* the key with NULL as a value of its own:
				   * an equality join (hashed), NULL = NULL as
				   * in the pull's merge (IS) */
				  " WITH k AS (SELECT p.src, p.id, l.name AS lot,"
				  " w.name IS NULL AS wn, coalesce(w.name, '') AS w,"
				  " p.serial IS NULL AS sn, coalesce(p.serial, '') AS s,"
				  " p.die_x IS NULL AS xn, coalesce(p.die_x, 0) AS x,"
				  " p.die_y IS NULL AS yn, coalesce(p.die_y, 0) AS y"
				  " FROM part p JOIN lot l ON l.src = p.src AND"
				  " l.id = p.lot_id LEFT JOIN wafer w ON w.src ="
				  " p.src AND w.id = p.wafer_id),"
				  " h AS (SELECT DISTINCT k.lot, k.wn, k.w, k.sn, k.s,"
				  " k.xn, k.x, k.yn, k.y FROM k JOIN _hit_part t"
				  " ON t.src = k.src AND t.id = k.id)"
				  " SELECT k.src, k.id FROM k JOIN h USING (lot, wn,"
				  " w, sn, s, xn, x, yn, y)", 0, NULL,
				  "selecting parts", err);
	if (!status)
		status = pgs_exec(p->c, "CREATE TEMP TABLE _sel_run AS SELECT src, id"
				  " FROM run WHERE (src, part_id) IN (SELECT src, id"
				  " FROM _sel_part)", 0, NULL, "selecting runs",
				  err);
	if (!status)
		status = pgs_exec(p->c, "CREATE TEMP TABLE _sel_session AS SELECT"
				  " DISTINCT src, session_id AS id FROM run WHERE"
				  " session_id IS NOT NULL AND (src, id) IN (SELECT"
				  " src, id FROM _sel_run)", 0, NULL,
				  "selecting sessions", err);
	/* Each screen's version sent last, for the lots pulled. */
	if (!status)
		status = pgs_exec(p->c, p->filtered ?
				  "CREATE TEMP TABLE _cur_screen AS SELECT DISTINCT"
				  " ON (src, id) src, id, screened_at FROM screen"
				  " WHERE (src, lot_id) IN (SELECT src, lot_id FROM"
				  " part WHERE (src, id) IN (SELECT src, id FROM"
				  " _sel_part)) ORDER BY src, id, sent_at DESC" :
				  "CREATE TEMP TABLE _cur_screen AS SELECT DISTINCT"
				  " ON (src, id) src, id, screened_at FROM screen"
				  " ORDER BY src, id, sent_at DESC", 0, NULL,
				  "selecting screens", err);
	return status;
}

typedef struct col {
	char name[64];
	char kind;         /* 'i' integer, 'r' real, 't' text */
	int ref;           /* table referenced, -1 none, -2 own id */
	int nk;            /* part of the natural key */
} col;

/* The columns pulled: the new file's columns that the server has. */
static int table_cols(pull *p, int t, col *cols, int *n, kgd_err *err)
{
	const char *prm[1] = { tname(t) };
	PGresult *r = NULL;
	sqlite3_stmt *st = NULL;
	char sql[128];
	int status, rc;

	*n = 0;
	status = pgs_execp(p->c, "SELECT column_name, data_type FROM"
			   " information_schema.columns WHERE table_schema ="
			   " current_schema() AND table_name = $1", 1, prm, 1, &r,
			   "reading the central schema", err);
	if (status)
		return status;
	snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s')"
		 " ORDER BY cid", tname(t));
	if (sqlite3_prepare_v2(p->h, sql, -1, &st, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(p->h, p->path, err, "reading the schema");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < MAX_COLS) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		col *c = &cols[*n];

		for (int i = 0; i < PQntuples(r); i++) {
			const char *type = PQgetvalue(r, i, 1);
			char key[80];

			if (strcmp(PQgetvalue(r, i, 0), name))
				continue;
			snprintf(c->name, sizeof(c->name), "%s", name);
			c->kind = !strcmp(type, "double precision") ? 'r' :
				  (!strcmp(type, "bigint") || !strcmp(type, "integer"))
				  ? 'i' : 't';
			c->ref = !strcmp(name, "id") ? -2 : -1;
			for (int j = 0; j < 6 && tables[t].refs[j].col; j++)
				if (!strcmp(tables[t].refs[j].col, name))
					c->ref = tables[t].refs[j].table;
			snprintf(key, sizeof(key), " %s ", name);
			c->nk = 0;
			if (tables[t].nk) {
				char nk[96];

				snprintf(nk, sizeof(nk), " %s ", tables[t].nk);
				c->nk = strstr(nk, key) != NULL;
			}
			(*n)++;
			break;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		status = pgs_sqlite_fail(p->h, p->path, err, "reading the schema");
out:
	sqlite3_finalize(st);
	PQclear(r);
	return status;
}

/* The new id of table t's row old of source k. */
static long long new_id(pull *p, int t, int k, long long old)
{
	if (p->map[t][k] && old >= 0 && old <= p->maxid[t][k] && p->map[t][k][old])
		return p->map[t][k][old];
	return old + p->off[t][k];
}

static int bind_field(sqlite3_stmt *st, int i, const col *c, char *f, int null,
		      pull *p, int k)
{
	if (null)
		return sqlite3_bind_null(st, i);
	if (c->kind == 'r')
		return sqlite3_bind_double(st, i, strtod(f, NULL));
	if (c->kind == 'i') {
		long long v = strtoll(f, NULL, 10);

		if (c->ref >= 0)
			v = new_id(p, c->ref, k, v);
		return sqlite3_bind_int64(st, i, v);
	}
	return sqlite3_bind_text(st, i, f, -1, SQLITE_TRANSIENT);
}

/* A limit or die row of a screen that another file's screen of the same
 * lot and config stood in for: left out with it. */
static int merged_screen(pull *p, int t, const col *cols, int n,
			 char *const *fields, int k)
{
	if (t <= T_SCREEN || t >= N_PULL)
		return 0;
	for (int i = 0; i < n; i++)
		if (!strcmp(cols[i].name, "screen_id")) {
			long long old = strtoll(fields[i + 1], NULL, 10);

			return new_id(p, T_SCREEN, k, old) !=
			       old + p->off[T_SCREEN][k];
		}
	return 0;
}

static int pull_table_rows(pull *p, int t, kgd_err *err)
{
	col cols[MAX_COLS];
	int n = 0, status, nk_n = 0, rc;
	pgs_buf sel = { 0 }, ins = { 0 }, find = { 0 };
	sqlite3_stmt *si = NULL, *sf = NULL;
	PGresult *r = NULL;
	char *line = NULL, *fields[MAX_COLS + 1];
	long long rows = 0;

	status = table_cols(p, t, cols, &n, err);
	if (status)
		return status;
	pgs_buf_printf(&sel, "COPY (SELECT s.rank");
	pgs_buf_printf(&ins, "INSERT INTO %s (", tname(t));
	pgs_buf_printf(&find, "SELECT id FROM %s WHERE true", tname(t));
	for (int i = 0; i < n; i++) {
		if (t == T_SESSION && (!strcmp(cols[i].name, "ended_at") ||
				       !strcmp(cols[i].name, "status")))
			pgs_buf_printf(&sel, ", coalesce(e.%s, t.%s)", cols[i].name,
				       cols[i].name);
		else
			pgs_buf_printf(&sel, ", t.%s", cols[i].name);
		pgs_buf_printf(&ins, "%s%s", i ? ", " : "", cols[i].name);
		if (cols[i].nk)
			pgs_buf_printf(&find, " AND %s IS ?%d", cols[i].name, ++nk_n);
	}
	pgs_buf_printf(&sel, " FROM %s t JOIN _src s USING (src)", tname(t));
	if (t == T_SESSION)
		pgs_buf_printf(&sel, " LEFT JOIN session_end e ON e.src = t.src AND"
			       " e.session_id = t.id");
	pgs_buf_printf(&sel, " WHERE true");
	if (p->filtered && tables[t].where)
		pgs_buf_printf(&sel, " AND %s", tables[t].where);
	if (tables[t].always)
		pgs_buf_printf(&sel, " AND %s", tables[t].always);
	pgs_buf_printf(&sel, " ORDER BY s.rank, %st.id) TO STDOUT",
		       tables[t].renumber ? "t.screen_id, " : "");
	pgs_buf_printf(&ins, ") VALUES (");
	for (int i = 0; i < n; i++)
		pgs_buf_printf(&ins, "%s?%d", i ? ", " : "", i + 1);
	pgs_buf_printf(&ins, ")");
	if (!sel.p || !ins.p || !find.p) {
		status = nomem(err);
		goto out;
	}
	if (sqlite3_prepare_v2(p->h, ins.p, -1, &si, NULL) != SQLITE_OK ||
	    (nk_n && sqlite3_prepare_v2(p->h, find.p, -1, &sf, NULL) != SQLITE_OK)) {
		status = pgs_sqlite_fail(p->h, p->path, err, "preparing");
		goto out;
	}
	r = PQexec(p->c->pg, sel.p);
	if (!r || PQresultStatus(r) != PGRES_COPY_OUT) {
		status = pgs_fail(p->c, r, err, "reading %s", tname(t));
		goto out;
	}
	PQclear(r);
	r = NULL;
	for (;;) {
		int len = PQgetCopyData(p->c->pg, &line, 0), nf = 0, k, nki = 0;
		long long old = 0, nid = 0;
		char *s;

		if (len == -1)
			break;
		if (len < 0) {
			status = pgs_fail(p->c, NULL, err, "reading %s", tname(t));
			goto out;
		}
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		for (s = line; nf <= MAX_COLS; nf++) {
			fields[nf] = s;
			s = strchr(s, '\t');
			if (!s) {
				nf++;
				break;
			}
			*s++ = '\0';
		}
		if (nf != n + 1) {
			status = kgd_err_set(err, KGD_ERR_DB, "%s: reading %s: %d "
					     "fields, expected %d", p->c->label,
					     tname(t), nf, n + 1);
			goto out;
		}
		k = atoi(fields[0]);
		if (k < 0 || k >= p->n_src)
			k = 0;
		if (merged_screen(p, t, cols, n, fields, k)) {
			PQfreemem(line);
			line = NULL;
			continue;
		}
		for (int i = 0; i < n; i++) {
			char *f = fields[i + 1];
			int null = pgs_copy_unescape(f);

			if (cols[i].ref == -2 && tables[t].renumber) {
				sqlite3_bind_null(si, i + 1);
			} else if (cols[i].ref == -2) {
				old = strtoll(f, NULL, 10);
				nid = old + p->off[t][k];
				sqlite3_bind_int64(si, i + 1, nid);
			} else {
				bind_field(si, i + 1, &cols[i], f, null, p, k);
			}
			if (cols[i].nk)
				bind_field(sf, ++nki, &cols[i], f, null, p, k);
		}
		PQfreemem(line);
		line = NULL;
		if (sf) {
			rc = sqlite3_step(sf);
			if (rc == SQLITE_ROW) {
				/* The same thing from another file: merge. */
				long long have = sqlite3_column_int64(sf, 0);

				if (old >= 0 && old <= p->maxid[t][k])
					p->map[t][k][old] = have;
				sqlite3_reset(sf);
				sqlite3_reset(si);
				continue;
			}
			sqlite3_reset(sf);
			if (old >= 0 && old <= p->maxid[t][k])
				p->map[t][k][old] = nid;
		}
		if (sqlite3_step(si) != SQLITE_DONE) {
			status = pgs_sqlite_fail(p->h, p->path, err, "writing");
			kgd_err_prefix(err, "pulling %s: ", tname(t));
			goto out;
		}
		sqlite3_reset(si);
		rows++;
	}
	r = PQgetResult(p->c->pg);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		status = pgs_fail(p->c, r, err, "reading %s", tname(t));
		goto out;
	}
	p->st->rows += rows;
	if (t == T_RUN)
		p->st->runs = rows;
	if (t == 13)
		p->st->measurements = rows;
out:
	if (line)
		PQfreemem(line);
	if (status && p->c->pg) {
		PGresult *x;

		while ((x = PQgetResult(p->c->pg)) != NULL)
			PQclear(x);
	}
	PQclear(r);
	sqlite3_finalize(si);
	sqlite3_finalize(sf);
	pgs_buf_free(&sel);
	pgs_buf_free(&ins);
	pgs_buf_free(&find);
	return status;
}

int pgs_pull_run(pgs_conn *c, const char *out_path, const pgs_filter *f,
		 pgs_stats *st, kgd_err *err)
{
	pull p = { .c = c, .path = out_path, .st = st };
	db *d = NULL;
	int status, made = 0;

	if (access(out_path, F_OK) == 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: exists; a pull writes a "
				   "new file", out_path);
	status = db_open(out_path, &d, err);
	db_close(d);
	if (status)
		return status;
	made = 1;
	if (sqlite3_open_v2(out_path, &p.h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(p.h, out_path, err, "opening");
		goto out;
	}
	/* A new scratch file: no fsync until the one commit. */
	sqlite3_exec(p.h, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
	status = pgs_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0,
			  NULL, "starting the read", err);
	if (!status)
		status = read_sources(&p, err);
	if (!status)
		status = select_parts(&p, f, err);
	if (status)
		goto out;
	if (sqlite3_exec(p.h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(p.h, out_path, err, "writing");
		goto out;
	}
	for (int t = 0; t < N_PULL && !status; t++)
		status = pull_table_rows(&p, t, err);
	if (!status && sqlite3_exec(p.h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		status = pgs_sqlite_fail(p.h, out_path, err, "writing");
out:
	if (c->pg)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	sqlite3_close(p.h);
	for (int t = 0; t < N_PULL; t++) {
		for (int k = 0; p.map[t] && k < p.n_src; k++)
			free(p.map[t][k]);
		free(p.map[t]);
		free(p.off[t]);
		free(p.maxid[t]);
	}
	if (status && made) {
		char side[4096];

		unlink(out_path);
		snprintf(side, sizeof(side), "%s-wal", out_path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", out_path);
		unlink(side);
	}
	return status;
}
