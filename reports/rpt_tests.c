/*
 * reports/rpt_tests.c - per-test reports: tests.csv (the original compact
 * statistics) and teststats.csv (percentiles, Cp/Cpk, optionally per sweep
 * point), each followed by the same appended block: pass-only statistics
 * and, for ratio tests (BER), log10 statistics (docs/REPORTS.md).
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
#include <strings.h>

/* Running statistics of one set of values. The variance uses Welford's
 * update (stable where a sum of squares would cancel); the printed mean
 * is a compensated (Neumaier) sum / n, which gives the correctly rounded
 * mean in the common cases where Welford's running mean is off in the
 * last digit (0.09999999999999998 for 0.1). */
struct acc {
	long long n;
	double mean, m2, min, max;          /* mean: Welford's, for m2 only */
	double sum, sum_c;                  /* Neumaier sum, compensation */
};

/* One output row: the key and its running statistics: every valid value
 * (all), the passing measurements' (pass), and the log10 of the positive
 * ones (lg, pass_lg; printed only for ratio tests, see is_ratio). */
struct grp {
	char *step, *name, *coords, *unit;  /* owned; NULL = none */
	int has_low, has_high;
	double low, high;
	long long n, n_pass, n_invalid, n_outside;
	struct acc all, pass, lg, pass_lg;
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

static void acc_add(struct acc *a, double v)
{
	double delta, t;

	a->n++;
	delta = v - a->mean;
	a->mean += delta / (double)a->n;
	a->m2 += delta * (v - a->mean);
	t = a->sum + v;
	a->sum_c += fabs(a->sum) >= fabs(v) ? (a->sum - t) + v : (v - t) + a->sum;
	a->sum = t;
	if (a->n == 1 || v < a->min)
		a->min = v;
	if (a->n == 1 || v > a->max)
		a->max = v;
}

static double acc_mean(const struct acc *a)
{
	return (a->sum + a->sum_c) / (double)a->n;
}

static double acc_sd(const struct acc *a)
{
	return a->n > 1 ? sqrt(a->m2 / (double)(a->n - 1)) : 0;
}

static int grp_add(struct grp *g, double v, int pass, int keep)
{
	double *grown;

	if (keep && (size_t)g->all.n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		grown = realloc(g->vals, g->cap * sizeof(*grown));
		if (!grown)
			return -1;
		g->vals = grown;
	}
	if (keep)
		g->vals[g->all.n] = v;
	acc_add(&g->all, v);
	if (pass)
		acc_add(&g->pass, v);
	if (v > 0) {
		acc_add(&g->lg, log10(v));
		if (pass)
			acc_add(&g->pass_lg, log10(v));
	}
	if ((g->has_low && v < g->low) || (g->has_high && v > g->high))
		g->n_outside++;
	return 0;
}

/* One measurement into its group: the counts, and the statistics of its
 * value when it has one (has_value 0: invalid). The only place a group
 * grows, for the file's report and for rows fed from elsewhere alike. */
static int grp_feed(struct grp *g, int has_value, double v, int pass, int keep)
{
	g->n++;
	g->n_pass += pass != 0;
	if (!has_value) {
		g->n_invalid++;
		return 0;
	}
	return grp_add(g, v, pass, keep);
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
		if (grp_feed(g, sqlite3_column_type(st, 6) != SQLITE_NULL,
			     sqlite3_column_double(st, 6),
			     sqlite3_column_int(st, 7) != 0, s->keep_values))
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

/* Cpk of a mean and spread against the limits there are (the nearer
 * one); empty without spread or limits. */
static void csv_cpk(FILE *f, long long n, double mean, double sd, int has_low,
		    double low, int has_high, double high)
{
	double cpk = INFINITY;

	if (n < 2 || sd <= 0 || (!has_low && !has_high)) {
		rpt_csv_empty(f);
		return;
	}
	if (has_high)
		cpk = (high - mean) / (3 * sd);
	if (has_low && (mean - low) / (3 * sd) < cpk)
		cpk = (mean - low) / (3 * sd);
	rpt_csv_real(f, cpk);
}

/* A ratio test is read on log10: unit "ratio" (any case; the station's
 * unit for BER), or no unit and every valid value positive and spanning
 * more than three decades (max > 1000 min). dB and dBm are logarithms
 * already, and a count that can be 0 is no ratio. */
static int is_ratio(const struct grp *g)
{
	if (g->unit && *g->unit)
		return strcasecmp(g->unit, "ratio") == 0;
	return g->all.n > 0 && g->all.min > 0 && g->all.max > 1000 * g->all.min;
}

/* The block appended to both files: pass_n, pass_mean, pass_stdev,
 * pass_min, pass_max, pass_cp, pass_cpk (valid values of passing
 * measurements), scale (log10 or linear), then for ratio tests the log10
 * of the positive valid values: log10_n, log10_mean, log10_stdev,
 * log10_min, log10_max, log10_cpk, and of the passing ones:
 * pass_log10_n, pass_log10_mean, pass_log10_stdev, pass_log10_cpk
 * (limits on log10 too; a limit <= 0 has no log and counts as absent). */
static const char *const extra_header[] = {
	"pass_n", "pass_mean", "pass_stdev", "pass_min", "pass_max",
	"pass_cp", "pass_cpk", "scale", "log10_n", "log10_mean",
	"log10_stdev", "log10_min", "log10_max", "log10_cpk", "pass_log10_n",
	"pass_log10_mean", "pass_log10_stdev", "pass_log10_cpk",
};
#define N_EXTRA (sizeof(extra_header) / sizeof(extra_header[0]))

static void csv_extra(FILE *f, const struct grp *g)
{
	const struct acc *p = &g->pass;
	double sd = acc_sd(p);
	int lh_low = g->has_low && g->low > 0, lh_high = g->has_high && g->high > 0;
	double l_low = lh_low ? log10(g->low) : 0;
	double l_high = lh_high ? log10(g->high) : 0;
	size_t i;

	rpt_csv_ll(f, p->n);
	csv_limit(f, p->n > 0, p->n > 0 ? acc_mean(p) : 0);
	csv_limit(f, p->n > 1, sd);
	csv_limit(f, p->n > 0, p->min);
	csv_limit(f, p->n > 0, p->max);
	csv_limit(f, p->n > 1 && sd > 0 && g->has_low && g->has_high,
		  (g->high - g->low) / (6 * sd));
	csv_cpk(f, p->n, p->n > 0 ? acc_mean(p) : 0, sd, g->has_low, g->low,
		g->has_high, g->high);
	if (!is_ratio(g)) {
		rpt_csv_str(f, 0, "linear");
		for (i = 8; i < N_EXTRA; i++)
			rpt_csv_empty(f);
		return;
	}
	rpt_csv_str(f, 0, "log10");
	rpt_csv_ll(f, g->lg.n);
	csv_limit(f, g->lg.n > 0, g->lg.n > 0 ? acc_mean(&g->lg) : 0);
	csv_limit(f, g->lg.n > 1, acc_sd(&g->lg));
	csv_limit(f, g->lg.n > 0, g->lg.min);
	csv_limit(f, g->lg.n > 0, g->lg.max);
	csv_cpk(f, g->lg.n, g->lg.n > 0 ? acc_mean(&g->lg) : 0, acc_sd(&g->lg),
		lh_low, l_low, lh_high, l_high);
	p = &g->pass_lg;
	rpt_csv_ll(f, p->n);
	csv_limit(f, p->n > 0, p->n > 0 ? acc_mean(p) : 0);
	csv_limit(f, p->n > 1, acc_sd(p));
	csv_cpk(f, p->n, p->n > 0 ? acc_mean(p) : 0, acc_sd(p), lh_low, l_low,
		lh_high, l_high);
}

/* header, then the appended block, NULL-terminated, into out */
static void with_extra(const char *const *head, const char **out)
{
	size_t i = 0, k;

	for (; head[i]; i++)
		out[i] = head[i];
	for (k = 0; k < N_EXTRA; k++)
		out[i + k] = extra_header[k];
	out[i + k] = NULL;
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
		csv_limit(f, g->all.n > 0, g->all.n > 0 ? acc_mean(&g->all) : 0);
		csv_limit(f, g->all.n > 1, acc_sd(&g->all));
		csv_limit(f, g->all.n > 0, g->all.min);
		csv_limit(f, g->all.n > 0, g->all.max);
		rpt_csv_str(f, 0, g->name);
		csv_extra(f, g);
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

/* name, then the appended block: the first twelve columns are the
 * original tests.csv, the first thirteen the one before it */
static const char *const tests_head[] = {
	"step", "unit", "low", "high", "n", "n_pass", "n_fail",
	"n_invalid", "mean", "stdev", "min", "max", "name", NULL,
};

int rpt_tests(rpt_ctx *c, const char *path, kgd_err *err)
{
	const char *header[13 + N_EXTRA + 1];

	with_extra(tests_head, header);
	return rpt_emit_csv(c, path, header, tests_rows, err);
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
	return grp_feed(g, value != NULL, value ? *value : 0, pass, 0) ?
		KGD_ERR_NOMEM : KGD_OK;
}

static int tacc_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	rpt_tests_acc *a = arg;
	const char *header[13 + N_EXTRA + 1];
	int i;

	(void)c;
	(void)err;
	with_extra(tests_head, header);
	for (i = 0; header[i]; i++)
		rpt_csv_str(f, i == 0, header[i]);
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
		mean = g->all.n > 0 ? acc_mean(&g->all) : 0;
		sd = acc_sd(&g->all);
		csv_limit(f, g->all.n > 0, mean);
		csv_limit(f, g->all.n > 1, sd);
		csv_limit(f, g->all.n > 0, g->all.min);
		csv_limit(f, g->all.n > 0, g->all.max);
		if (g->all.n > 1)
			qsort(g->vals, (size_t)g->all.n, sizeof(double),
			      cmp_double);
		for (k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
			csv_limit(f, g->all.n > 0, g->all.n > 0 ?
				  percentile(g->vals, (size_t)g->all.n,
					     pcts[k]) : 0);
		/* Cp needs both limits; Cpk takes the nearer one there is.
		 * Neither means anything without spread. */
		csv_limit(f, g->all.n > 1 && sd > 0 && g->has_low &&
			  g->has_high, (g->high - g->low) / (6 * sd));
		csv_cpk(f, g->all.n, mean, sd, g->has_low, g->low, g->has_high,
			g->high);
		csv_extra(f, g);
		rpt_csv_end_row(f);
	}
	set_free(s);
	free(s);
	return status;
}

int rpt_teststats(rpt_ctx *c, const char *path, kgd_err *err)
{
	/* the appended block after cpk: the first 21 columns are as before */
	static const char *const head[] = {
		"step", "name", "coords", "unit", "low", "high", "n", "n_fail",
		"n_invalid", "n_outside", "mean", "stdev", "min", "max", "p1",
		"p5", "p50", "p95", "p99", "cp", "cpk", NULL,
	};
	const char *header[21 + N_EXTRA + 1];

	with_extra(head, header);
	return rpt_emit_csv(c, path, header, teststats_rows, err);
}
