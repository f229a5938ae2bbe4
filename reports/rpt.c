/*
 * reports/rpt.c - CSV reports computed from the results database.
 *
 * Invariants: the database is only ever opened read-only (a report can run
 * beside a station that is writing, and never creates or changes a file);
 * out_path is either replaced whole by a complete CSV or left as it was -
 * rows go to "<out>.tmp", which is renamed into place only after it was
 * written, flushed and synced, and unlinked on any error.
 *
 * Each report is one SQL query (so it reads one consistent snapshot) plus
 * a row writer; rpt_write() owns everything around them.
 *
 * Note: reading a WAL database needs its shared-memory index, so SQLite
 * itself may leave an empty "<db>-wal" and a "<db>-shm" beside a database
 * no station has open. That is SQLite's WAL protocol, not a write to the
 * database, and the price of reading safely beside a live station.
 */
#include "rpt.h"

#include <csv.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

/* A station committing or checkpointing holds its lock for milliseconds. */
#define RPT_BUSY_MS 10000

/* Each part's final run (see rpt.h: the latest run written). */
#define FINAL_RUNS "SELECT max(id) AS run_id FROM run GROUP BY part_id"

/* One CSV field. libcsv's csv_fwrite() always quotes; bare fields are
 * written only when they need no quoting, so numbers stay numbers for a
 * spreadsheet. */
static void csv_field(FILE *f, int first, const char *s, size_t len)
{
	size_t i;

	if (!first)
		fputc(',', f);
	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			break;
	if (i < len)
		csv_fwrite(f, s, len);
	else
		fwrite(s, 1, len, f);
}

static void csv_str(FILE *f, int first, const char *s)
{
	csv_field(f, first, s ? s : "", s ? strlen(s) : 0);
}

static void csv_ll(FILE *f, long long v)
{
	fprintf(f, ",%lld", v);
}

/* Shortest "%.Ng" that reads back as the same double. The caller runs in
 * the C locale (rpt_write), so both snprintf and strtod use '.'. */
static void csv_real(FILE *f, double v)
{
	char buf[40];
	int p;

	for (p = 15; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	csv_str(f, 0, buf);
}

static void csv_end_row(FILE *f)
{
	fputc('\n', f);
}

static int sql_fail(sqlite3 *h, const char *path, kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_DB, "%s: %s", path, sqlite3_errmsg(h));
}

/* Open path read-only, and only if it is a station database. */
static int rpt_db_open(const char *path, sqlite3 **out, kgd_err *err)
{
	struct stat sb;
	int status;

	*out = NULL;
	/* Checked first so the error says "missing", not SQLite's vaguer
	 * "unable to open"; READONLY below could not create it anyway. */
	if (stat(path, &sb) != 0)
		return kgd_err_set(err, errno == ENOENT ? KGD_ERR_NOT_FOUND
				   : KGD_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return kgd_err_set(err, KGD_ERR_DB, "%s: not a station database "
				   "(not a regular file)", path);
	if (sqlite3_open_v2(path, out, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		status = *out ? sql_fail(*out, path, err)
			      : kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
					    path);
		goto out;
	}
	sqlite3_busy_timeout(*out, RPT_BUSY_MS);
	status = db_check_readable(*out, path, err);
out:
	if (status) {
		sqlite3_close(*out);
		*out = NULL;
	}
	return status;
}

/* Writes the data rows of one report from h to f. */
typedef int (*rpt_rows_fn)(sqlite3 *h, const char *db_path, FILE *f,
			   kgd_err *err);

/* Everything around a report: open the database, write the header and the
 * rows to "<out>.tmp" in the C locale, sync, rename into place. */
static int rpt_write(const char *db_path, const char *out_path,
		     const char *const header[], rpt_rows_fn rows, kgd_err *err)
{
	locale_t c_locale = (locale_t)0, old_locale = (locale_t)0;
	sqlite3 *h = NULL;
	FILE *f = NULL;
	char *tmp = NULL;
	int i, status;

	if (!db_path || !out_path)
		return kgd_err_set(err, KGD_ERR_ARG, "report: no database or "
				   "output path");
	status = rpt_db_open(db_path, &h, err);
	if (status)
		goto out;
	/* uselocale() is per thread: the station's own locale is untouched. */
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	tmp = malloc(strlen(out_path) + sizeof(".tmp"));
	if (!c_locale || !tmp) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
				     out_path);
		goto out;
	}
	old_locale = uselocale(c_locale);
	sprintf(tmp, "%s.tmp", out_path);
	f = fopen(tmp, "w");
	if (!f) {
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	for (i = 0; header[i]; i++)
		csv_str(f, i == 0, header[i]);
	csv_end_row(f);
	status = rows(h, db_path, f, err);
	if (status)
		goto out;
	/* stdio errors are sticky: one check here catches every write. */
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", tmp,
				     strerror(errno ? errno : EIO));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, out_path) != 0)
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", out_path,
				     strerror(errno));
out:
	if (f)
		fclose(f);
	if (status && tmp)
		unlink(tmp);
	free(tmp);
	if (old_locale)
		uselocale(old_locale);
	if (c_locale)
		freelocale(c_locale);
	sqlite3_close(h);
	return status;
}

/* ---- yield.csv ---------------------------------------------------------- */

static int yield_rows(sqlite3 *h, const char *db_path, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT l.name, count(*), sum(r.status = 'pass')"
		" FROM (" FINAL_RUNS ") fin"
		" JOIN run r ON r.id = fin.run_id"
		" JOIN part p ON p.id = r.part_id"
		" JOIN lot l ON l.id = p.lot_id"
		" GROUP BY l.id ORDER BY l.name COLLATE BINARY";
	sqlite3_stmt *st = NULL;
	long long tested, passed;
	int rc, status = KGD_OK;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		status = sql_fail(h, db_path, err);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tested = sqlite3_column_int64(st, 1);
		passed = sqlite3_column_int64(st, 2);
		csv_field(f, 1, (const char *)sqlite3_column_text(st, 0),
			  (size_t)sqlite3_column_bytes(st, 0));
		csv_ll(f, tested);
		csv_ll(f, passed);
		csv_ll(f, tested - passed);
		/* tested >= 1: a lot only appears through its parts' runs. */
		fprintf(f, ",%.2f", 100.0 * (double)passed / (double)tested);
		csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = sql_fail(h, db_path, err);
out:
	sqlite3_finalize(st);
	return status;
}

int rpt_yield_csv(const char *db_path, const char *out_path, kgd_err *err)
{
	static const char *const header[] = {
		"lot", "tested", "passed", "failed", "yield_pct", NULL,
	};

	return rpt_write(db_path, out_path, header, yield_rows, err);
}

/* ---- tests.csv ---------------------------------------------------------- */

/* One output row: the key (step, unit, limits) and its running statistics.
 * The variance uses Welford's update (stable where a sum of squares would
 * cancel); the printed mean is a compensated (Neumaier) sum / n, which
 * gives the correctly rounded mean in the common cases where Welford's
 * running mean is off in the last digit (0.09999999999999998 for 0.1). */
struct test_group {
	char *step, *unit;         /* owned; unit NULL when none */
	int has_low, has_high;
	double low, high;
	long long n, n_pass, n_invalid, n_valid;
	double mean, m2, min, max; /* mean: Welford's, for m2 only */
	double sum, sum_c;         /* Neumaier sum and its compensation */
};

static void group_add(struct test_group *g, double v)
{
	double delta, t;

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
}

static void group_free(struct test_group *g)
{
	free(g->step);
	free(g->unit);
	memset(g, 0, sizeof(*g));
}

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_limit(int has_a, double a, int has_b, double b)
{
	return has_a == has_b && (!has_a || a == b);
}

static void group_write(FILE *f, const struct test_group *g)
{
	csv_str(f, 1, g->step);
	csv_str(f, 0, g->unit);
	if (g->has_low)
		csv_real(f, g->low);
	else
		csv_str(f, 0, NULL);
	if (g->has_high)
		csv_real(f, g->high);
	else
		csv_str(f, 0, NULL);
	csv_ll(f, g->n);
	csv_ll(f, g->n_pass);
	csv_ll(f, g->n - g->n_pass);
	csv_ll(f, g->n_invalid);
	if (g->n_valid > 0)
		csv_real(f, (g->sum + g->sum_c) / (double)g->n_valid);
	else
		csv_str(f, 0, NULL);
	if (g->n_valid > 1)
		csv_real(f, sqrt(g->m2 / (double)(g->n_valid - 1)));
	else
		csv_str(f, 0, NULL);
	if (g->n_valid > 0) {
		csv_real(f, g->min);
		csv_real(f, g->max);
	} else {
		csv_str(f, 0, NULL);
		csv_str(f, 0, NULL);
	}
	csv_end_row(f);
}

static int tests_rows(sqlite3 *h, const char *db_path, FILE *f, kgd_err *err)
{
	/* Sorted by the group key, then in the order values were measured, so
	 * the floating-point sums run in one fixed order: same bytes. */
	static const char sql[] =
		"SELECT m.step, m.unit, m.low, m.high, m.value, m.pass"
		" FROM measurement m JOIN (" FINAL_RUNS ") fin"
		" ON m.run_id = fin.run_id"
		" ORDER BY m.step COLLATE BINARY, m.unit COLLATE BINARY,"
		" m.low, m.high, m.run_id, m.seq_no";
	struct test_group g = { 0 };
	sqlite3_stmt *st = NULL;
	const char *step, *unit;
	int rc, status = KGD_OK, has_low, has_high;
	double low, high;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		status = sql_fail(h, db_path, err);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		step = (const char *)sqlite3_column_text(st, 0);
		unit = (const char *)sqlite3_column_text(st, 1);
		has_low = sqlite3_column_type(st, 2) != SQLITE_NULL;
		has_high = sqlite3_column_type(st, 3) != SQLITE_NULL;
		low = sqlite3_column_double(st, 2);
		high = sqlite3_column_double(st, 3);
		if (!step) {
			status = sql_fail(h, db_path, err);
			goto out;
		}
		if (!g.step || strcmp(g.step, step) != 0 || !same_text(g.unit, unit) ||
		    !same_limit(g.has_low, g.low, has_low, low) ||
		    !same_limit(g.has_high, g.high, has_high, high)) {
			if (g.step)
				group_write(f, &g);
			group_free(&g);
			g.step = strdup(step);
			g.unit = unit ? strdup(unit) : NULL;
			if (!g.step || (unit && !g.unit)) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "%s: out of memory", db_path);
				goto out;
			}
			g.has_low = has_low;
			g.has_high = has_high;
			g.low = low;
			g.high = high;
		}
		g.n++;
		g.n_pass += sqlite3_column_int(st, 5) != 0;
		if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
			g.n_invalid++;
			continue;
		}
		group_add(&g, sqlite3_column_double(st, 4));
	}
	if (rc != SQLITE_DONE) {
		status = sql_fail(h, db_path, err);
		goto out;
	}
	if (g.step)
		group_write(f, &g);
out:
	group_free(&g);
	sqlite3_finalize(st);
	return status;
}

int rpt_tests_csv(const char *db_path, const char *out_path, kgd_err *err)
{
	static const char *const header[] = {
		"step", "unit", "low", "high", "n", "n_pass", "n_fail",
		"n_invalid", "mean", "stdev", "min", "max", NULL,
	};

	return rpt_write(db_path, out_path, header, tests_rows, err);
}
