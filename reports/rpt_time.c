/*
 * reports/rpt_time.c - testtime.csv: where a part's seconds go. One row
 * per (sequence name, step) of the selected runs' timed step results
 * (schema 4): how many runs timed it, mean / p50 / p95 / max duration and
 * its share of the part's time.
 *
 * Invariants:
 *  - A step's duration in a run is step_result.duration_s, the station's
 *    own figure (never the millisecond texts); results without one (files
 *    before schema 4, callers that gave no times) are left out, and a step
 *    with none at all gets no row. A step logged twice in one run (not
 *    possible with today's sequences: step names are unique) counts once,
 *    with the sum of its durations: it is the time the part spent in it.
 *  - The part's time is run.ended_at - run.started_at, whole milliseconds
 *    (both texts hold milliseconds, so rounding the difference recovers
 *    it exactly); it is summed as an integer.
 *  - Values arrive sorted by (sequence, step, duration, run id), so
 *    percentiles are read off the stream and every floating-point sum runs
 *    in one fixed order: the same database gives the same bytes.
 *  - Rows are ordered by sequence name (byte order), then by the step's
 *    first step_result id among the selected runs: the order the
 *    sequencer writes step results, which is the sequence's file order
 *    (parallel branches too), not completion order.
 */
#include "rpt_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One output row, computed when its group's last value has streamed by. */
struct time_row {
	char *seq, *step;           /* owned */
	int64_t first;              /* lowest step_result id: file order */
	long long runs;
	double mean, p50, p95, max;
	int has_share;
	double share;
};

/* The group being streamed: its values (sorted, by the query) and sums. */
struct time_grp {
	double *vals;
	size_t n, cap;
	int64_t first;
	double sum, sum_c;          /* Neumaier sum of every duration */
	double psum, psum_c;        /* ... of runs whose part time is known */
	long long part_ms;          /* sum of those runs' part times */
	long long n_part;
};

struct time_rows {
	struct time_row *row;
	size_t n, cap;
};

/* Neumaier's compensated sum, as tests.csv's mean: the printed mean of
 * 0.1 s steps is 0.1, not 0.09999999999999998. */
static void neumaier_add(double *sum, double *c, double v)
{
	double t = *sum + v;

	*c += fabs(*sum) >= fabs(v) ? (*sum - t) + v : (v - t) + *sum;
	*sum = t;
}

/* Nearest rank: the smallest value with at least pct % of the values at
 * or below it, x[ceil(pct n / 100) - 1] of the n sorted values. Integer
 * arithmetic, so 95 % of 20 is rank 19 exactly, never 19.000000000000004
 * rounded up to 20. */
static double nearest_rank(const double *x, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return x[rank ? rank - 1 : 0];
}

static void rows_free(struct time_rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->row[i].seq);
		free(r->row[i].step);
	}
	free(r->row);
	memset(r, 0, sizeof(*r));
}

/* Close the group of (seq, step) into a new row. -1 when out of memory. */
static int grp_close(struct time_rows *r, const struct time_grp *g,
		     const char *seq, const char *step)
{
	struct time_row *row, *grown;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 32;
		grown = realloc(r->row, r->cap * sizeof(*grown));
		if (!grown)
			return -1;
		r->row = grown;
	}
	row = &r->row[r->n];
	memset(row, 0, sizeof(*row));
	row->seq = strdup(seq);
	row->step = strdup(step);
	if (!row->seq || !row->step) {
		free(row->seq);
		free(row->step);
		return -1;
	}
	r->n++;
	row->first = g->first;
	row->runs = (long long)g->n;
	row->mean = (g->sum + g->sum_c) / (double)g->n;
	row->p50 = nearest_rank(g->vals, g->n, 50);
	row->p95 = nearest_rank(g->vals, g->n, 95);
	row->max = g->vals[g->n - 1];
	/* mean step / mean part over the same runs: the n cancels. Runs
	 * without a part time (no end, or a clock stepped back) stay out of
	 * both sides. */
	if (g->n_part > 0 && g->part_ms > 0) {
		row->has_share = 1;
		row->share = (g->psum + g->psum_c) / ((double)g->part_ms / 1000.0);
	}
	return 0;
}

/* Start a new group, keeping the value buffer for its values. */
static void grp_reset(struct time_grp *g)
{
	double *vals = g->vals;
	size_t cap = g->cap;

	memset(g, 0, sizeof(*g));
	g->vals = vals;
	g->cap = cap;
	g->first = INT64_MAX;
}

static int cmp_row(const void *pa, const void *pb)
{
	const struct time_row *a = pa, *b = pb;
	int c = strcmp(a->seq, b->seq);

	if (c)
		return c;
	return (a->first > b->first) - (a->first < b->first);
}

/* Stream the selected runs' timed step results into rows, one per
 * (sequence name, step). */
static int collect(rpt_ctx *c, struct time_rows *r, kgd_err *err)
{
	static const char sql[] =
		"SELECT seq, step, dur, first, part_ms FROM ("
		" SELECT s.seq_name AS seq, sr.step AS step, s.run_id AS run_id,"
		"  sum(sr.duration_s) AS dur, min(sr.id) AS first,"
		"  CAST(round((julianday(s.ended_at) - julianday(s.started_at))"
		"   * 86400000) AS INTEGER) AS part_ms"
		" FROM temp.sel s JOIN step_result sr ON sr.run_id = s.run_id"
		" WHERE sr.duration_s IS NOT NULL"
		" GROUP BY s.run_id, sr.step)"
		" ORDER BY seq, step, dur, run_id";
	struct time_grp g;
	sqlite3_stmt *st = NULL;
	char *seq = NULL, *step = NULL;
	const char *s_seq, *s_step;
	double v, *grown;
	int64_t id;
	int rc, status;

	memset(&g, 0, sizeof(g));
	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s_seq = (const char *)sqlite3_column_text(st, 0);
		s_step = (const char *)sqlite3_column_text(st, 1);
		/* NULL from a NOT NULL column: SQLite ran out of memory */
		if (!s_seq || !s_step)
			goto nomem;
		if (!seq || strcmp(seq, s_seq) || strcmp(step, s_step)) {
			if (seq && grp_close(r, &g, seq, step))
				goto nomem;
			free(seq);
			free(step);
			seq = strdup(s_seq);
			step = strdup(s_step);
			if (!seq || !step)
				goto nomem;
			grp_reset(&g);
		}
		if (g.n == g.cap) {
			g.cap = g.cap ? 2 * g.cap : 64;
			grown = realloc(g.vals, g.cap * sizeof(*grown));
			if (!grown)
				goto nomem;
			g.vals = grown;
		}
		v = sqlite3_column_double(st, 2);
		g.vals[g.n++] = v;
		neumaier_add(&g.sum, &g.sum_c, v);
		id = sqlite3_column_int64(st, 3);
		if (id < g.first)
			g.first = id;
		if (sqlite3_column_type(st, 4) != SQLITE_NULL &&
		    sqlite3_column_int64(st, 4) >= 0) {
			neumaier_add(&g.psum, &g.psum_c, v);
			g.part_ms += sqlite3_column_int64(st, 4);
			g.n_part++;
		}
	}
	if (rc != SQLITE_DONE) {
		status = rpt_sql_fail(c, err);
		goto out;
	}
	if (seq && grp_close(r, &g, seq, step))
		goto nomem;
	if (r->n > 1)
		qsort(r->row, r->n, sizeof(*r->row), cmp_row);
	goto out;
nomem:
	status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", c->db_path);
out:
	sqlite3_finalize(st);
	free(g.vals);
	free(seq);
	free(step);
	return status;
}

static int testtime_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	struct time_rows r;
	const struct time_row *row;
	size_t i;
	int status;

	memset(&r, 0, sizeof(r));
	/* A file from before schema 4 has no step times: header only. */
	if (!c->has_step_time)
		return KGD_OK;
	status = collect(c, &r, err);
	for (i = 0; !status && i < r.n; i++) {
		row = &r.row[i];
		rpt_csv_str(f, 1, row->seq);
		rpt_csv_str(f, 0, row->step);
		rpt_csv_ll(f, row->runs);
		rpt_csv_real(f, row->mean);
		rpt_csv_real(f, row->p50);
		rpt_csv_real(f, row->p95);
		rpt_csv_real(f, row->max);
		if (row->has_share)
			rpt_csv_real(f, row->share);
		else
			rpt_csv_empty(f);
		rpt_csv_end_row(f);
	}
	rows_free(&r);
	return status;
}

int rpt_testtime(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"sequence", "step", "runs", "mean_s", "p50_s", "p95_s", "max_s",
		"share_of_part", NULL,
	};

	return rpt_emit_csv(c, path, header, testtime_rows, err);
}
