/*
 * sync/pgs_tests.c - the measurements a report of the whole server would
 * count, streamed straight from PostgreSQL to the caller (tests.csv of
 * `station report --from-db --only tests.csv`), without copying them
 * into a scratch station file first: the server picks the runs and does
 * the join, the station only adds numbers up. One pass over the rows, as
 * psql running the same aggregate does.
 *
 * Invariants (so the caller's tests.csv is the same bytes as the report
 * of a station file holding the same rows, reports/rpt.h):
 *  - The runs are those the report's selection rule picks in the file a
 *    pull would make (pgs_pull.c): station files in uuid order, parts
 *    merged by their natural key (lot name, wafer name, serial, die), each
 *    part's latest run (first run with first_pass) - latest meaning the
 *    highest (file, run id) - then the filters on that run.
 *  - Rows come in the order the report reads them: runs by (file, run
 *    id), each run's measurements by seq_no; values are the stored
 *    doubles (binary COPY: no text round trip).
 *  - One read snapshot (REPEATABLE READ); nothing is written on the
 *    server (temp tables go with the ROLLBACK).
 */
#include "pgs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The selected runs, as _pick(src, id, rank). Parameters $1..$7: lot,
 * wafer, product, station, sequence version, from, to; text compared
 * bytewise (COLLATE "C"), as SQLite does. */
static const char pick_sql[] =
	"CREATE TEMP TABLE _pick AS"
	" WITH r AS (SELECT r.src, r.id, s.rank, l.name AS lot, w.name AS wafer,"
	"  p.serial, p.die_x, p.die_y, r.product, st.name AS station,"
	"  sq.version, r.started_at"
	"  FROM run r JOIN _src s ON s.src = r.src"
	"  JOIN part p ON p.src = r.src AND p.id = r.part_id"
	"  JOIN lot l ON l.src = p.src AND l.id = p.lot_id"
	"  LEFT JOIN wafer w ON w.src = p.src AND w.id = p.wafer_id"
	"  JOIN station st ON st.src = r.src AND st.id = r.station_id"
	"  JOIN sequence sq ON sq.src = r.src AND sq.id = r.sequence_id),"
	" k AS (SELECT DISTINCT ON (lot, wafer, serial, die_x, die_y) * FROM r"
	"  ORDER BY lot, wafer, serial, die_x, die_y, rank %s, id %s)"
	" SELECT src, id, rank FROM k"
	" WHERE ($1::text IS NULL OR lot = $1::text COLLATE \"C\")"
	"  AND ($2::text IS NULL OR wafer = $2::text COLLATE \"C\")"
	"  AND ($3::text IS NULL OR product = $3::text COLLATE \"C\")"
	"  AND ($4::text IS NULL OR station = $4::text COLLATE \"C\")"
	"  AND ($5::int IS NULL OR version = $5::int)"
	"  AND ($6::text IS NULL OR started_at COLLATE \"C\" >= $6::text)"
	"  AND ($7::text IS NULL OR substr(started_at, 1, length($7::text))"
	"   COLLATE \"C\" <= $7::text)";

/* Big-endian integers of binary COPY. */
static long rd32(const unsigned char *p)
{
	return (long)(int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			       (uint32_t)p[2] << 8 | p[3]);
}

static double rd_double(const unsigned char *p)
{
	uint64_t u = 0;
	double d;

	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* A text field, NUL-terminated, in its own growing buffer. */
typedef struct fld {
	char *p;
	size_t cap;
} fld;

static const char *take_text(fld *f, const unsigned char *s, long len)
{
	if ((size_t)len + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : 64;
		char *p;

		while (cap < (size_t)len + 1)
			cap *= 2;
		p = realloc(f->p, cap);
		if (!p)
			return NULL;
		f->p = p;
		f->cap = cap;
	}
	memcpy(f->p, s, (size_t)len);
	f->p[len] = '\0';
	return f->p;
}

/* The field at *pos of a row of n bytes: its length word read (*pos
 * moves past it), 0 for NULL, 1 with *len bytes of it inside the row, -1
 * when the row ends first. */
static int field(const unsigned char *p, long n, long *pos, long *len)
{
	if (*pos + 4 > n)
		return -1;
	*len = rd32(p + *pos);
	*pos += 4;
	if (*len < 0)
		return 0;
	return *pos + *len <= n ? 1 : -1;
}

/* One binary COPY row: step, name, unit (text), low, high, value
 * (float8), pass (int4). Returns 1 at the trailer, 0 for a row, -1 when
 * the row is not that shape. */
static int parse_row(const unsigned char *p, long n, fld *txt, int *nomem,
		     pgs_meas_fn fn, void *user, int *stop)
{
	const char *s[3] = { NULL, NULL, NULL };
	double num[3];
	const double *v[3] = { NULL, NULL, NULL };
	long pos = 0, len;
	int pass, rc;

	if (n < 2)
		return -1;
	if (p[0] == 0xff && p[1] == 0xff)
		return 1;
	if (p[0] != 0 || p[1] != 7)
		return -1;
	pos = 2;
	for (int i = 0; i < 3; i++) {
		if ((rc = field(p, n, &pos, &len)) < 0)
			return -1;
		if (rc == 0)
			continue;
		s[i] = take_text(&txt[i], p + pos, len);
		if (!s[i]) {
			*nomem = 1;
			return -1;
		}
		pos += len;
	}
	for (int i = 0; i < 3; i++) {
		if ((rc = field(p, n, &pos, &len)) < 0 || (rc && len != 8))
			return -1;
		if (rc == 0)
			continue;
		num[i] = rd_double(p + pos);
		v[i] = &num[i];
		pos += 8;
	}
	if (field(p, n, &pos, &len) != 1 || len != 4)
		return -1;
	pass = (int)rd32(p + pos);
	if (fn(user, s[0], s[1], s[2], v[0], v[1], v[2], pass))
		*stop = 1;
	return 0;
}

/* COPY the selected measurements out, in the report's order. */
static int stream(pgs_conn *c, pgs_meas_fn fn, void *user, pgs_stats *st,
		  kgd_err *err)
{
	static const char sig[] = "PGCOPY\n\377\r\n";
	fld txt[3] = { { 0 } };
	PGresult *r;
	char *line = NULL;
	int status = KGD_OK, first = 1, stop = 0, nomem = 0, done = 0;

	/* The plan matters more than anything here (EXPLAIN ANALYZE at 3M
	 * rows: 4.0 s as a plain join, 1.9 s like this): a plain join is
	 * hashed and then sorted whole, spilling to disk at 10M rows. Runs
	 * in order, each run's measurements through the primary key
	 * (already by seq_no), leaves only an incremental sort of each run's
	 * rows, which are in order already (pgs_tests_run turns JIT off). */
	r = PQexec(c->pg, "COPY (SELECT m.step, m.name, m.unit, m.low, m.high,"
		   " m.value, m.pass FROM (SELECT src, id, rank FROM _pick"
		   " ORDER BY rank, id) k CROSS JOIN LATERAL (SELECT * FROM"
		   " measurement x WHERE x.src = k.src AND x.run_id = k.id ORDER BY"
		   " x.seq_no) m ORDER BY k.rank, k.id, m.seq_no)"
		   " TO STDOUT (FORMAT binary)");
	if (!r || PQresultStatus(r) != PGRES_COPY_OUT) {
		status = pgs_fail(c, r, err, "reading measurements");
		PQclear(r);
		return status;
	}
	PQclear(r);
	for (;;) {
		int len = PQgetCopyData(c->pg, &line, 0), rc;
		const unsigned char *p = (const unsigned char *)line;
		long n = len;

		if (len == -1)
			break;
		if (len < 0) {
			status = pgs_fail(c, NULL, err, "reading measurements");
			goto out;
		}
		if (first) {
			/* the file header comes with the first row */
			long ext;

			if (n < 19 || memcmp(p, sig, 11) != 0) {
				status = kgd_err_set(err, KGD_ERR_DB, "%s: reading "
						     "measurements: not binary COPY",
						     c->label);
				goto out;
			}
			ext = rd32(p + 15);
			if (ext < 0 || 19 + ext > n) {
				status = kgd_err_set(err, KGD_ERR_DB, "%s: reading "
						     "measurements: bad COPY header",
						     c->label);
				goto out;
			}
			p += 19 + ext;
			n -= 19 + ext;
			first = 0;
		}
		rc = done ? -1 : parse_row(p, n, txt, &nomem, fn, user, &stop);
		if (rc < 0 || stop) {
			status = nomem || stop
				 ? kgd_err_set(err, KGD_ERR_NOMEM, "out of memory")
				 : kgd_err_set(err, KGD_ERR_DB, "%s: reading measurements:"
					     " a row of an unexpected shape",
					     c->label);
			goto out;
		}
		done = rc == 1;
		if (!done)
			st->measurements++;
		PQfreemem(line);
		line = NULL;
	}
	r = PQgetResult(c->pg);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		status = pgs_fail(c, r, err, "reading measurements");
	PQclear(r);
out:
	if (line)
		PQfreemem(line);
	if (status && c->pg) {
		/* Cut the COPY short: the connection is closed next anyway. */
		PGcancel *cn = PQgetCancel(c->pg);
		PGresult *x;
		char why[64];

		if (cn) {
			PQcancel(cn, why, sizeof(why));
			PQfreeCancel(cn);
		}
		while ((x = PQgetResult(c->pg)) != NULL)
			PQclear(x);
	}
	for (int i = 0; i < 3; i++)
		free(txt[i].p);
	return status;
}

int pgs_tests_run(pgs_conn *c, const pgs_select *sel, pgs_meas_fn fn,
		  void *user, pgs_stats *st, kgd_err *err)
{
	char sql[sizeof(pick_sql) + 16], ver[16];
	const char *prm[7];
	PGresult *r = NULL;
	int status;

	snprintf(ver, sizeof(ver), "%d", sel ? sel->seq_version : 0);
	prm[0] = sel ? sel->f.lot : NULL;
	prm[1] = sel ? sel->f.wafer : NULL;
	prm[2] = sel ? sel->product : NULL;
	prm[3] = sel ? sel->f.station : NULL;
	prm[4] = sel && sel->has_seq_version ? ver : NULL;
	prm[5] = sel ? sel->f.from : NULL;
	prm[6] = sel ? sel->f.to : NULL;
	snprintf(sql, sizeof(sql), pick_sql, sel && sel->first_pass ? "ASC" : "DESC",
		 sel && sel->first_pass ? "ASC" : "DESC");
	status = pgs_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL,
			  "starting the read", err);
	if (!status)
		status = pgs_exec(c, "CREATE TEMP TABLE _src AS SELECT src,"
				  " (row_number() OVER (ORDER BY src)) - 1 AS rank"
				  " FROM (SELECT DISTINCT src FROM station) s", 0,
				  NULL, "listing sources", err);
	if (!status)
		status = pgs_execp(c, sql, 7, prm, 0, NULL, "selecting runs", err);
	/* a temp table has no statistics until asked: the join's plan
	 * (a nested loop over the runs, by the measurement key) needs them;
	 * JIT would compile for ~0.2 s and save nothing on a projection */
	if (!status)
		status = pgs_exec(c, "SET LOCAL jit = off", 0, NULL,
				  "selecting runs", err);
	if (!status)
		status = pgs_exec(c, "ANALYZE _pick", 0, NULL, "selecting runs",
				  err);
	if (!status)
		status = pgs_exec(c, "SELECT count(*) FROM _pick", 1, &r,
				  "selecting runs", err);
	if (!status) {
		st->runs = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		r = NULL;
	}
	if (!status && st->runs > 0)
		status = stream(c, fn, user, st, err);
	if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	return status;
}
