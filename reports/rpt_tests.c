/*
 * reports/rpt_tests.c - per-test reports: tests.csv (the original compact
 * statistics), teststats.csv (percentiles, Cp/Cpk, optionally per sweep
 * point) and pareto.csv (which steps fail parts).
 *
 * Invariant: values are aggregated in one fixed order - the selected runs
 * by run id, each run's measurements by seq_no - which is the order of the
 * (run_id, seq_no) index, so SQLite streams them without sorting and every
 * floating-point sum runs in the same order: the same database gives the
 * same bytes. Groups are found through a hash table and sorted only at the
 * end (there are few groups and many values).
 */
#include "rpt_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One output row: the key and its running statistics. The variance uses
 * Welford's update (stable where a sum of squares would cancel); the
 * printed mean is a compensated (Neumaier) sum / n, which gives the
 * correctly rounded mean in the common cases where Welford's running mean
 * is off in the last digit (0.09999999999999998 for 0.1). */
struct grp {
	char *step, *name, *coords, *unit;  /* owned; NULL = none */
	int has_low, has_high;
	double low, high;
	long long n, n_pass, n_invalid, n_valid, n_outside;
	double mean, m2, min, max;          /* mean: Welford's, for m2 only */
	double sum, sum_c;                  /* Neumaier sum, compensation */
	double *vals;                       /* owned, when values are kept */
	size_t cap;
	uint64_t hash;
	struct grp *next;                   /* hash chain */
};

#define NBUCKET 4096

struct grp_set {
	struct grp *bucket[NBUCKET];
	struct grp **all;                   /* owned array of owned groups */
	size_t n, cap;
	int keep_values;
};

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;

	while (len--)
		h = (h ^ *s++) * 1099511628211ull;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* The terminator goes in too, so ("ab","c") and ("a","bc") differ. */
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_limit(int has_a, double a, int has_b, double b)
{
	return has_a == has_b && (!has_a || a == b);
}

static char *dup_or_null(const char *s, int *nomem)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*nomem = 1;
	return d;
}

static void grp_free(struct grp *g)
{
	if (!g)
		return;
	free(g->step);
	free(g->name);
	free(g->coords);
	free(g->unit);
	free(g->vals);
	free(g);
}

static void set_free(struct grp_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		grp_free(s->all[i]);
	free(s->all);
	memset(s, 0, sizeof(*s));
}

/* The group of this key, created when new; NULL when out of memory. */
static struct grp *set_find(struct grp_set *s, const char *step,
			    const char *name, const char *coords,
			    const char *unit, int has_low, double low,
			    int has_high, double high)
{
	uint64_t h = 14695981039346656037ull;
	struct grp *g, **grown;
	int nomem = 0;

	h = fnv_str(h, step);
	h = fnv_str(h, name);
	h = fnv_str(h, coords);
	h = fnv_str(h, unit);
	h = fnv(h, &has_low, sizeof(has_low));
	if (has_low)
		h = fnv(h, &low, sizeof(low));
	h = fnv(h, &has_high, sizeof(has_high));
	if (has_high)
		h = fnv(h, &high, sizeof(high));
	for (g = s->bucket[h % NBUCKET]; g; g = g->next)
		if (g->hash == h && same_text(g->step, step) &&
		    same_text(g->name, name) && same_text(g->coords, coords) &&
		    same_text(g->unit, unit) &&
		    same_limit(g->has_low, g->low, has_low, low) &&
		    same_limit(g->has_high, g->high, has_high, high))
			return g;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		grown = realloc(s->all, s->cap * sizeof(*grown));
		if (!grown)
			return NULL;
		s->all = grown;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->step = dup_or_null(step, &nomem);
	g->name = dup_or_null(name, &nomem);
	g->coords = dup_or_null(coords, &nomem);
	g->unit = dup_or_null(unit, &nomem);
	if (nomem) {
		grp_free(g);
		return NULL;
	}
	g->has_low = has_low;
	g->has_high = has_high;
	g->low = has_low ? low : 0;
	g->high = has_high ? high : 0;
	g->hash = h;
	g->next = s->bucket[h % NBUCKET];
	s->bucket[h % NBUCKET] = g;
	s->all[s->n++] = g;
	return g;
}

static int grp_add(struct grp *g, double v, int keep)
{
	double delta, t, *grown;

	if (keep && (size_t)g->n_valid == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		grown = realloc(g->vals, g->cap * sizeof(*grown));
		if (!grown)
			return -1;
		g->vals = grown;
	}
	if (keep)
		g->vals[g->n_valid] = v;
	g->n_valid++;
	delta = v - g->mean;
	g->mean += delta / (double)g->n_valid;
	g->m2 += delta * (v - g->mean);
	t = g->sum + v;
	g->sum_c += fabs(g->sum) >= fabs(v) ? (g->sum - t) + v : (v - t) + g->sum;
	g->sum = t;
	if (g->n_valid == 1 || v < g->min)
		g->min = v;
	if (g->n_valid == 1 || v > g->max)
		g->max = v;
	if ((g->has_low && v < g->low) || (g->has_high && v > g->high))
		g->n_outside++;
	return 0;
}

/* NULL first, then byte order: the order SQLite's ORDER BY gave before. */
static int cmp_text(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int cmp_limit(int has_a, double a, int has_b, double b)
{
	if (!has_a || !has_b)
		return has_a - has_b;
	return (a > b) - (a < b);
}

static int cmp_grp(const void *pa, const void *pb)
{
	const struct grp *a = *(struct grp *const *)pa;
	const struct grp *b = *(struct grp *const *)pb;
	int c;

	if ((c = cmp_text(a->step, b->step)) != 0 ||
	    (c = cmp_text(a->name, b->name)) != 0 ||
	    (c = cmp_text(a->coords, b->coords)) != 0 ||
	    (c = cmp_text(a->unit, b->unit)) != 0 ||
	    (c = cmp_limit(a->has_low, a->low, b->has_low, b->low)) != 0)
		return c;
	return cmp_limit(a->has_high, a->high, b->has_high, b->high);
}

/* Stream every selected measurement into s. Columns of the query: step,
 * name, coords, unit, low, high, value, pass. */
static int collect(rpt_ctx *c, struct grp_set *s, const char *name_expr,
		   int with_coords, kgd_err *err)
{
	char sql[512];
	sqlite3_stmt *st = NULL;
	struct grp *g;
	int rc, status;

	snprintf(sql, sizeof(sql),
		 "SELECT m.step, %s, %s, m.unit, m.low, m.high, m.value, m.pass"
		 " FROM temp.sel s JOIN measurement m ON m.run_id = s.run_id"
		 " ORDER BY s.run_id, m.seq_no",
		 name_expr, with_coords ? "m.coords" : "NULL");
	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		g = set_find(s, (const char *)sqlite3_column_text(st, 0),
			     (const char *)sqlite3_column_text(st, 1),
			     (const char *)sqlite3_column_text(st, 2),
			     (const char *)sqlite3_column_text(st, 3),
			     sqlite3_column_type(st, 4) != SQLITE_NULL,
			     sqlite3_column_double(st, 4),
			     sqlite3_column_type(st, 5) != SQLITE_NULL,
			     sqlite3_column_double(st, 5));
		if (!g)
			goto nomem;
		g->n++;
		g->n_pass += sqlite3_column_int(st, 7) != 0;
		if (sqlite3_column_type(st, 6) == SQLITE_NULL)
			g->n_invalid++;
		else if (grp_add(g, sqlite3_column_double(st, 6), s->keep_values))
			goto nomem;
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	else if (s->n > 1)
		qsort(s->all, s->n, sizeof(*s->all), cmp_grp);
	goto out;
nomem:
	status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", c->db_path);
out:
	sqlite3_finalize(st);
	return status;
}

static void csv_limit(FILE *f, int has, double v)
{
	if (has)
		rpt_csv_real(f, v);
	else
		rpt_csv_empty(f);
}

static double grp_mean(const struct grp *g)
{
	return (g->sum + g->sum_c) / (double)g->n_valid;
}

/* ---- tests.csv ---------------------------------------------------------- */

/* tests.csv's rows from the groups of s, sorted. */
static void tests_print(const struct grp_set *s, FILE *f)
{
	const struct grp *g;
	size_t i;

	for (i = 0; i < s->n; i++) {
		g = s->all[i];
		rpt_csv_str(f, 1, g->step);
		rpt_csv_str(f, 0, g->unit);
		csv_limit(f, g->has_low, g->low);
		csv_limit(f, g->has_high, g->high);
		rpt_csv_ll(f, g->n);
		rpt_csv_ll(f, g->n_pass);
		rpt_csv_ll(f, g->n - g->n_pass);
		rpt_csv_ll(f, g->n_invalid);
		if (g->n_valid > 0)
			rpt_csv_real(f, grp_mean(g));
		else
			rpt_csv_empty(f);
		if (g->n_valid > 1)
			rpt_csv_real(f, sqrt(g->m2 / (double)(g->n_valid - 1)));
		else
			rpt_csv_empty(f);
		csv_limit(f, g->n_valid > 0, g->min);
		csv_limit(f, g->n_valid > 0, g->max);
		rpt_csv_str(f, 0, g->name);
		rpt_csv_end_row(f);
	}
}

static int tests_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	struct grp_set *s = calloc(1, sizeof(*s));
	int status;

	if (!s)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	/* One row per step, value name, unit and limit pair: a step's
	 * named values (lane_ber and its errors count) are tests of their
	 * own, named in the last column. */
	status = collect(c, s, c->m_name, 0, err);
	if (!status)
		tests_print(s, f);
	set_free(s);
	free(s);
	return status;
}

/* name last: the first twelve columns are the original tests.csv */
static const char *const tests_header[] = {
	"step", "unit", "low", "high", "n", "n_pass", "n_fail",
	"n_invalid", "mean", "stdev", "min", "max", "name", NULL,
};

int rpt_tests(rpt_ctx *c, const char *path, kgd_err *err)
{
	return rpt_emit_csv(c, path, tests_header, tests_rows, err);
}

/* ---- tests.csv from rows fed from elsewhere (rpt.h) --------------------- */

struct rpt_tests_acc {
	struct grp_set s;
	struct grp *last;    /* consecutive rows mostly share a group */
};

int rpt_tacc_new(rpt_tests_acc **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? KGD_OK : KGD_ERR_NOMEM;
}

int rpt_tacc_add(rpt_tests_acc *a, const char *step, const char *name,
		 const char *unit, const double *low, const double *high,
		 const double *value, int pass)
{
	struct grp *g = a->last;

	/* The same key as the row before: skip the hash. */
	if (!g || !same_text(g->step, step) || !same_text(g->name, name) ||
	    !same_text(g->unit, unit) || g->coords ||
	    !same_limit(g->has_low, g->low, low != NULL, low ? *low : 0) ||
	    !same_limit(g->has_high, g->high, high != NULL, high ? *high : 0))
		g = set_find(&a->s, step, name, NULL, unit, low != NULL,
			     low ? *low : 0, high != NULL, high ? *high : 0);
	if (!g)
		return KGD_ERR_NOMEM;
	a->last = g;
	g->n++;
	g->n_pass += pass != 0;
	if (!value)
		g->n_invalid++;
	else if (grp_add(g, *value, 0))
		return KGD_ERR_NOMEM;
	return KGD_OK;
}

static int tacc_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	rpt_tests_acc *a = arg;
	int i;

	(void)c;
	(void)err;
	for (i = 0; tests_header[i]; i++)
		rpt_csv_str(f, i == 0, tests_header[i]);
	rpt_csv_end_row(f);
	if (a->s.n > 1)
		qsort(a->s.all, a->s.n, sizeof(*a->s.all), cmp_grp);
	tests_print(&a->s, f);
	return KGD_OK;
}

int rpt_tacc_write(rpt_tests_acc *a, const char *path, kgd_err *err)
{
	return rpt_emit(NULL, path, tacc_body, a, err);
}

void rpt_tacc_free(rpt_tests_acc *a)
{
	if (!a)
		return;
	set_free(&a->s);
	free(a);
}

/* ---- teststats.csv ------------------------------------------------------ */

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/* Percentile p (0..1) of n sorted values: linear interpolation between
 * the closest ranks, h = (n - 1) p (Hyndman & Fan type 7; the default of
 * numpy.percentile, pandas quantile, R and Excel PERCENTILE.INC). */
static double percentile(const double *x, size_t n, double p)
{
	double h = (double)(n - 1) * p;
	size_t lo = (size_t)floor(h);

	if (lo + 1 >= n)
		return x[n - 1];
	return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

static int teststats_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const double pcts[] = { 0.01, 0.05, 0.50, 0.95, 0.99 };
	struct grp_set *s = calloc(1, sizeof(*s));
	struct grp *g;
	double mean, sd;
	size_t i, k;
	int status;

	if (!s)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	s->keep_values = 1;
	status = collect(c, s, c->m_name, c->opt.by_coords, err);
	for (i = 0; !status && i < s->n; i++) {
		g = s->all[i];
		rpt_csv_str(f, 1, g->step);
		rpt_csv_str(f, 0, g->name);
		rpt_csv_str(f, 0, g->coords);
		rpt_csv_str(f, 0, g->unit);
		csv_limit(f, g->has_low, g->low);
		csv_limit(f, g->has_high, g->high);
		rpt_csv_ll(f, g->n);
		rpt_csv_ll(f, g->n - g->n_pass);
		rpt_csv_ll(f, g->n_invalid);
		rpt_csv_ll(f, g->n_outside);
		mean = g->n_valid > 0 ? grp_mean(g) : 0;
		sd = g->n_valid > 1 ? sqrt(g->m2 / (double)(g->n_valid - 1)) : 0;
		csv_limit(f, g->n_valid > 0, mean);
		csv_limit(f, g->n_valid > 1, sd);
		csv_limit(f, g->n_valid > 0, g->min);
		csv_limit(f, g->n_valid > 0, g->max);
		if (g->n_valid > 1)
			qsort(g->vals, (size_t)g->n_valid, sizeof(double),
			      cmp_double);
		for (k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
			csv_limit(f, g->n_valid > 0, g->n_valid > 0 ?
				  percentile(g->vals, (size_t)g->n_valid,
					     pcts[k]) : 0);
		/* Cp needs both limits; Cpk takes the nearer one there is.
		 * Neither means anything without spread. */
		csv_limit(f, g->n_valid > 1 && sd > 0 && g->has_low &&
			  g->has_high, (g->high - g->low) / (6 * sd));
		if (g->n_valid > 1 && sd > 0 && (g->has_low || g->has_high)) {
			double cpk = INFINITY;

			if (g->has_high)
				cpk = (g->high - mean) / (3 * sd);
			if (g->has_low && (mean - g->low) / (3 * sd) < cpk)
				cpk = (mean - g->low) / (3 * sd);
			rpt_csv_real(f, cpk);
		} else {
			rpt_csv_empty(f);
		}
		rpt_csv_end_row(f);
	}
	set_free(s);
	free(s);
	return status;
}

int rpt_teststats(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"step", "name", "coords", "unit", "low", "high", "n", "n_fail",
		"n_invalid", "n_outside", "mean", "stdev", "min", "max", "p1",
		"p5", "p50", "p95", "p99", "cp", "cpk", NULL,
	};

	return rpt_emit_csv(c, path, header, teststats_rows, err);
}

/* ---- pareto.csv --------------------------------------------------------- */

static int pareto_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	/* A step failed a part when its step_result says fail or error
	 * (schema 2, the sequencer's own verdict, which also covers a step
	 * that errored before logging a value); for runs without step
	 * results, when any of its measurements failed. "First" is the
	 * earliest failing step of the run. SQLite takes the bare step column
	 * from the row holding min(). One Pareto per lot (wafer NULL) and per
	 * wafer, as yield.csv's rows, each over its own parts. */
	static const char sql[] =
		"WITH f AS ("
		" SELECT sr.run_id, sr.step, sr.id AS ord, s.lot, s.wafer"
		"  FROM temp.sel s JOIN step_result sr ON sr.run_id = s.run_id"
		"  WHERE sr.status != 'pass'"
		" UNION ALL SELECT m.run_id, m.step, m.seq_no, s.lot, s.wafer"
		"  FROM temp.sel s"
		"  JOIN measurement m ON m.run_id = s.run_id WHERE m.pass = 0"
		"  AND NOT EXISTS (SELECT 1 FROM step_result sr"
		"   WHERE sr.run_id = s.run_id)),"
		" g AS (SELECT run_id, step, ord, lot, NULL AS wafer FROM f"
		"  UNION ALL SELECT run_id, step, ord, lot, wafer FROM f"
		"  WHERE wafer IS NOT NULL),"
		" first AS (SELECT lot, wafer, step, count(*) AS n FROM"
		"  (SELECT lot, wafer, run_id, step, min(ord) FROM g"
		"   GROUP BY lot, wafer, run_id) GROUP BY lot, wafer, step),"
		" anyf AS (SELECT lot, wafer, step, count(DISTINCT run_id) AS n"
		"  FROM g GROUP BY lot, wafer, step),"
		" t AS (SELECT lot, NULL AS wafer, count(*) AS n FROM temp.sel"
		"  GROUP BY lot UNION ALL SELECT lot, wafer, count(*) FROM temp.sel"
		"  WHERE wafer IS NOT NULL GROUP BY lot, wafer)"
		" SELECT a.step, coalesce(first.n, 0), a.n, a.lot, a.wafer,"
		"  (SELECT n FROM t WHERE t.lot = a.lot AND t.wafer IS a.wafer)"
		" FROM anyf a LEFT JOIN first ON first.lot = a.lot"
		"  AND first.wafer IS a.wafer AND first.step = a.step"
		" ORDER BY a.lot, a.wafer, 2 DESC, 3 DESC, 1";
	sqlite3_stmt *st = NULL;
	long long rank = 0, first, cum = 0, parts;
	char *lot = NULL, *wafer = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *l = (const char *)sqlite3_column_text(st, 3);
		const char *w = (const char *)sqlite3_column_text(st, 4);

		/* a new lot or wafer: its own ranks and cumulative share */
		if (!lot || strcmp(lot, l) || !same_text(wafer, w)) {
			free(lot);
			free(wafer);
			lot = strdup(l);
			wafer = w ? strdup(w) : NULL;
			if (!lot || (w && !wafer)) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "out of memory");
				break;
			}
			rank = 0;
			cum = 0;
		}
		parts = sqlite3_column_int64(st, 5);
		first = sqlite3_column_int64(st, 1);
		cum += first;
		fprintf(f, "%lld", ++rank);
		rpt_csv_col(f, 0, st, 0);
		rpt_csv_ll(f, first);
		rpt_csv_pct(f, first, parts);
		rpt_csv_pct(f, cum, parts);
		rpt_csv_ll(f, sqlite3_column_int64(st, 2));
		rpt_csv_pct(f, sqlite3_column_int64(st, 2), parts);
		rpt_csv_col(f, 0, st, 3);
		rpt_csv_col(f, 0, st, 4);
		rpt_csv_end_row(f);
	}
	if (!status && rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	free(lot);
	free(wafer);
	sqlite3_finalize(st);
	return status;
}

int rpt_pareto(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"rank", "step", "first_fail_parts", "first_fail_pct",
		"first_fail_cum_pct", "any_fail_parts", "any_fail_pct", "lot",
		"wafer", NULL,
	};

	return rpt_emit_csv(c, path, header, pareto_rows, err);
}
