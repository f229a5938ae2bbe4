/*
 * reports/rpt_html.c - report.html (`station report --html`): the lot
 * report in one file for an analyst's laptop - yield before and after the
 * screen, final bins, the failing-step Pareto, a wafer map per wafer, test
 * statistics with a histogram per test, and the PAT summary.
 *
 * Invariants:
 *  - The file stands alone: inline CSS and inline SVG only, no script, no
 *    link, image or font from anywhere else, so it opens offline and the
 *    same database gives the same bytes.
 *  - Every text from the database is escaped (rpt_html_text); numbers are
 *    printed in the C locale (rpt.c switches the thread to it).
 *  - It reads temp.sel like every writer: the same parts, the same final
 *    bins as the CSVs beside it.
 */
#include "rpt_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HIST_BINS 20

static void esc_col(FILE *f, sqlite3_stmt *st, int i)
{
	rpt_xml_text(f, (const char *)sqlite3_column_text(st, i));
}

/* One colour per bin number, the same in every report: rpt_bin_colour;
 * a negative bin is none. */
static const char *bin_colour(int bin, int pass)
{
	return rpt_bin_colour(bin >= 0, bin, pass);
}

static int step_done(rpt_ctx *c, sqlite3_stmt *st, int rc, kgd_err *err)
{
	int status = rc == SQLITE_DONE ? KGD_OK : rpt_sql_fail(c, err);

	sqlite3_finalize(st);
	return status;
}

/* ---- sections ----------------------------------------------------------- */

static int yield_section(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"WITH y AS (SELECT lot, NULL AS wafer, pre_status, status FROM"
		" temp.sel UNION ALL SELECT lot, wafer, pre_status, status FROM"
		" temp.sel WHERE wafer IS NOT NULL)"
		" SELECT lot, wafer, count(*), sum(pre_status = 'pass'),"
		" sum(status = 'pass') FROM y GROUP BY lot, wafer"
		" ORDER BY lot, wafer";
	sqlite3_stmt *st = NULL;
	int rc, status = rpt_prepare(c, sql, &st, err);

	if (status)
		return status;
	fputs("<h2 id=\"yield\">Yield</h2>\n<table><tr><th>lot</th><th>wafer</th>"
	      "<th>tested</th><th>passed</th><th>yield</th><th>after screen"
	      "</th><th>screened yield</th></tr>\n", f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long n = sqlite3_column_int64(st, 2);
		long long p = sqlite3_column_int64(st, 3);
		long long sp = sqlite3_column_int64(st, 4);

		fputs("<tr><td>", f);
		esc_col(f, st, 0);
		fputs("</td><td>", f);
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			fputs("<i>all</i>", f);
		else
			esc_col(f, st, 1);
		fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%.2f %%</td>"
			"<td>%lld</td><td>%.2f %%</td></tr>\n", n, p,
			n ? 100.0 * (double)p / (double)n : 0.0, sp,
			n ? 100.0 * (double)sp / (double)n : 0.0);
	}
	fputs("</table>\n", f);
	return step_done(c, st, rc, err);
}

static int bins_section(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT s.lot, 'hard', s.hard_bin, min(b.name), max(s.status ="
		" 'pass'), count(*), max(s.screen_reason IS NOT NULL)"
		" FROM temp.sel s LEFT JOIN hard_bin b ON b.sequence_id ="
		"  s.sequence_id AND b.number = s.hard_bin GROUP BY 1, 3"
		" UNION ALL SELECT s.lot, 'soft', s.soft_bin, min(b.name),"
		" max(s.status = 'pass'), count(*), max(s.screen_reason IS NOT"
		" NULL) FROM temp.sel s LEFT JOIN bin b ON b.sequence_id ="
		"  s.sequence_id AND b.number = s.soft_bin GROUP BY 1, 3"
		" ORDER BY 1, 2, 3";
	sqlite3_stmt *st = NULL;
	int rc, status = rpt_prepare(c, sql, &st, err);

	if (status)
		return status;
	fputs("<h2 id=\"bins\">Bins (final, after the screen)</h2>\n<table><tr>"
	      "<th>lot</th><th>type</th><th>bin</th><th>name</th><th>parts</th>"
	      "</tr>\n", f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int nobin = sqlite3_column_type(st, 2) == SQLITE_NULL;
		int bin = sqlite3_column_int(st, 2);

		fputs("<tr><td>", f);
		esc_col(f, st, 0);
		fputs("</td><td>", f);
		esc_col(f, st, 1);
		fprintf(f, "</td><td><span class=\"sw\" style=\"background:%s\">"
			"</span> ", bin_colour(nobin ? -1 : bin,
					       sqlite3_column_int(st, 4)));
		if (nobin)
			fputs("none", f);
		else
			fprintf(f, "%d", bin);
		fputs("</td><td>", f);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			esc_col(f, st, 3);
		else if (sqlite3_column_int(st, 6))
			fputs("SCREEN_REJECT", f);
		fprintf(f, "</td><td>%lld</td></tr>\n",
			(long long)sqlite3_column_int64(st, 5));
	}
	fputs("</table>\n", f);
	return step_done(c, st, rc, err);
}

static int pareto_section(rpt_ctx *c, FILE *f, kgd_err *err)
{
	/* a failing step per part, from step_result (the sequencer's own
	 * verdict), else from failed measurements */
	static const char sql[] =
		"WITH fs AS (SELECT DISTINCT s.part_id, sr.step FROM temp.sel s"
		"  JOIN step_result sr ON sr.run_id = s.run_id"
		"  WHERE sr.status != 'pass'"
		" UNION SELECT s.part_id, m.step FROM temp.sel s JOIN measurement"
		"  m ON m.run_id = s.run_id WHERE m.pass = 0 AND NOT EXISTS"
		"  (SELECT 1 FROM step_result x WHERE x.run_id = s.run_id))"
		" SELECT step, count(*) FROM fs GROUP BY step"
		" ORDER BY 2 DESC, 1";
	sqlite3_stmt *st = NULL;
	long long total = c->n_parts ? c->n_parts : 1;
	int rc, status = rpt_prepare(c, sql, &st, err);

	if (status)
		return status;
	fputs("<h2 id=\"pareto\">Pareto of failing steps</h2>\n<table><tr>"
	      "<th>step</th><th>parts failed</th><th>% of parts</th><th></th>"
	      "</tr>\n", f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long n = sqlite3_column_int64(st, 1);
		double pct = 100.0 * (double)n / (double)total;

		fputs("<tr><td>", f);
		esc_col(f, st, 0);
		fprintf(f, "</td><td>%lld</td><td>%.2f</td><td><svg width=\"204\""
			" height=\"12\"><rect width=\"%d\" height=\"12\" fill=\""
			"#d55e00\"/></svg></td></tr>\n", n, pct,
			(int)(2.0 * pct + 0.5) + 1);
	}
	fputs("</table>\n", f);
	return step_done(c, st, rc, err);
}

/* One wafer map: the drawing of the wafermap_*.svg files (rpt_wafer_pic),
 * so the report and the files never disagree. */
static int one_map(rpt_ctx *c, FILE *f, const char *lot, const char *wafer,
		   kgd_err *err)
{
	int status;

	fputs("<figure>", f);
	status = rpt_wafer_pic(c, f, lot, wafer, 1, err);
	fputs("</figure>\n", f);
	return status;
}

static int maps_section(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT DISTINCT lot, wafer FROM temp.sel WHERE wafer IS NOT NULL"
		" AND x IS NOT NULL ORDER BY lot, wafer";
	sqlite3_stmt *st = NULL;
	int rc, status = rpt_prepare(c, sql, &st, err);

	if (status)
		return status;
	fputs("<h2 id=\"maps\">Wafer maps (final soft and hard bins; dashed: "
	      "untested site; /: retested; heavy outline: rejected by the "
	      "screen)</h2>\n<div class=\"maps\">\n", f);
	while (!status && (rc = sqlite3_step(st)) == SQLITE_ROW)
		status = one_map(c, f, (const char *)sqlite3_column_text(st, 0),
				 (const char *)sqlite3_column_text(st, 1), err);
	fputs("</div>\n", f);
	if (status) {
		sqlite3_finalize(st);
		return status;
	}
	return step_done(c, st, rc, err);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Statistics and a histogram of one test's passing values. A ratio that
 * spans decades (BER) is shown on log10: its linear mean says nothing. */
static void one_test(FILE *f, const char *step, const char *name,
		     const char *unit, double *v, size_t n, long long n_all)
{
	double mean = 0, var = 0, lo, hi, width;
	long long counts[HIST_BINS] = { 0 }, maxc = 1;
	int logscale = 0;
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	if (v[0] > 0 && v[n - 1] / v[0] > 1000) {
		logscale = 1;
		for (i = 0; i < n; i++)
			v[i] = log10(v[i]);
	}
	for (i = 0; i < n; i++)
		mean += v[i];
	mean /= (double)n;
	for (i = 0; i < n; i++)
		var += (v[i] - mean) * (v[i] - mean);
	var = n > 1 ? var / (double)(n - 1) : 0;
	lo = v[0];
	hi = v[n - 1];
	width = hi > lo ? (hi - lo) / HIST_BINS : 1;
	for (i = 0; i < n; i++) {
		int b = (int)((v[i] - lo) / width);

		b = b >= HIST_BINS ? HIST_BINS - 1 : b < 0 ? 0 : b;
		if (++counts[b] > maxc)
			maxc = counts[b];
	}
	fputs("<tr><td>", f);
	rpt_xml_text(f, step);
	if (name) {
		fputc(':', f);
		rpt_xml_text(f, name);
	}
	fputs("</td><td>", f);
	if (logscale)
		fputs("log10 ", f);
	rpt_xml_text(f, unit);
	fprintf(f, "</td><td>%zu / %lld</td><td>%.6g</td><td>%.6g</td>"
		"<td>%.6g</td><td>%.6g</td><td>%.6g</td><td><svg width=\"%d\" "
		"height=\"40\">", n, n_all, mean, sqrt(var), lo, v[n / 2], hi,
		HIST_BINS * 8);
	for (i = 0; i < HIST_BINS; i++) {
		int bh = (int)(38.0 * (double)counts[i] / (double)maxc + 0.5);

		fprintf(f, "<rect x=\"%zu\" y=\"%d\" width=\"7\" height=\"%d\" "
			"fill=\"#0072b2\"/>", i * 8, 40 - bh, bh);
	}
	fputs("</svg></td></tr>\n", f);
}

static int tests_section(rpt_ctx *c, FILE *f, kgd_err *err)
{
	char sql[512];
	sqlite3_stmt *st = NULL;
	double *v = NULL;
	size_t n = 0, cap = 0;
	long long n_all = 0;
	char *step = NULL, *name = NULL, *unit = NULL;
	int rc, status;

	snprintf(sql, sizeof(sql),
		 "SELECT m.step, %s, coalesce(m.unit, ''), m.value, m.pass FROM"
		 " temp.sel s JOIN measurement m ON m.run_id = s.run_id"
		 " ORDER BY m.step, %s, 3", c->m_name, c->m_name);
	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	fputs("<h2 id=\"tests\">Test statistics (passing values only; "
	      "ratios spanning decades on log10)</h2>\n<table><tr><th>test</th>"
	      "<th>unit</th><th>n pass / all</th><th>mean</th><th>stdev</th>"
	      "<th>min</th><th>median</th><th>max</th><th>histogram</th></tr>\n",
	      f);
	for (;;) {
		const char *s, *nm, *u;

		rc = sqlite3_step(st);
		s = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		nm = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 1) : NULL;
		u = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 2) : NULL;
		if (step && (rc != SQLITE_ROW || strcmp(s, step) ||
			     (!nm) != (!name) || (nm && strcmp(nm, name)) ||
			     strcmp(u, unit))) {
			if (n)
				one_test(f, step, name, unit, v, n, n_all);
			free(step);
			free(name);
			free(unit);
			step = name = unit = NULL;
			n = 0;
			n_all = 0;
		}
		if (rc != SQLITE_ROW)
			break;
		if (!step) {
			step = strdup(s);
			name = nm ? strdup(nm) : NULL;
			unit = strdup(u);
			if (!step || !unit || (nm && !name)) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "out of memory");
				break;
			}
		}
		n_all++;
		if (sqlite3_column_type(st, 3) == SQLITE_NULL ||
		    !sqlite3_column_int(st, 4))
			continue;
		if (n == cap) {
			double *nv = realloc(v, (cap = cap ? 2 * cap : 1024) *
					     sizeof(*nv));

			if (!nv) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "out of memory");
				break;
			}
			v = nv;
		}
		v[n++] = sqlite3_column_double(st, 3);
	}
	fputs("</table>\n", f);
	free(step);
	free(name);
	free(unit);
	free(v);
	if (status) {
		sqlite3_finalize(st);
		return status;
	}
	return step_done(c, st, rc, err);
}

static int pat_section(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sum_sql[] =
		"SELECT l.name, x.config_sha256, x.screened_at,"
		" (SELECT count(*) FROM screen_die d WHERE d.screen_id = x.id),"
		" (SELECT count(*) FROM screen_die d WHERE d.screen_id = x.id"
		"  AND d.reason LIKE '%dpat %'),"
		" (SELECT count(*) FROM screen_die d WHERE d.screen_id = x.id"
		"  AND d.reason LIKE '%spat %'),"
		" (SELECT count(*) FROM screen_die d WHERE d.screen_id = x.id"
		"  AND d.reason LIKE '%gdbn %'),"
		" (SELECT count(*) FROM screen_limit sl WHERE sl.screen_id = x.id),"
		" (SELECT count(*) FROM screen_limit sl WHERE sl.screen_id = x.id"
		"  AND sl.screened = 0)"
		" FROM screen x JOIN lot l ON l.id = x.lot_id"
		" WHERE x.seq = (SELECT max(seq) FROM screen y WHERE y.lot_id ="
		"  x.lot_id) AND l.name IN (SELECT lot FROM temp.sel)"
		" ORDER BY l.name";
	static const char lim_sql[] =
		"SELECT l.name, w.name, sl.method, sl.step, sl.name, sl.coords,"
		" sl.n, sl.median, sl.robust_sigma, sl.k, sl.pat_low, sl.pat_high,"
		" sl.outliers FROM screen x JOIN lot l ON l.id = x.lot_id"
		" JOIN screen_limit sl ON sl.screen_id = x.id"
		" LEFT JOIN wafer w ON w.id = sl.wafer_id"
		" WHERE x.seq = (SELECT max(seq) FROM screen y WHERE y.lot_id ="
		"  x.lot_id) AND l.name IN (SELECT lot FROM temp.sel)"
		"  AND sl.outliers > 0"
		" ORDER BY sl.outliers DESC, l.name, w.name, sl.step, sl.coords"
		" LIMIT " "40";
	sqlite3_stmt *st = NULL;
	int rc, status = rpt_prepare(c, sum_sql, &st, err), any = 0;

	if (status)
		return status;
	fputs("<h2 id=\"pat\">Outlier screen (PAT and GDBN)</h2>\n", f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!any++)
			fputs("<table><tr><th>lot</th><th>config SHA-256</th>"
			      "<th>screened at</th><th>rejected</th><th>dpat</th>"
			      "<th>static pat</th><th>gdbn</th><th>limits</th>"
			      "<th>not screened</th></tr>\n", f);
		fputs("<tr><td>", f);
		esc_col(f, st, 0);
		fputs("</td><td><code>", f);
		esc_col(f, st, 1);
		fputs("</code></td><td>", f);
		esc_col(f, st, 2);
		for (int i = 3; i < 9; i++)
			fprintf(f, "</td><td>%lld",
				(long long)sqlite3_column_int64(st, i));
		fputs("</td></tr>\n", f);
	}
	status = step_done(c, st, rc, err);
	if (status)
		return status;
	if (!any) {
		fputs("<p>No lot of this report has been screened (<code>station"
		      " screen</code>).</p>\n", f);
		return KGD_OK;
	}
	fputs("</table>\n<h3>Limits that rejected dies (at most 40)</h3>\n"
	      "<table><tr><th>lot</th><th>wafer</th><th>method</th><th>test"
	      "</th><th>n</th><th>median</th><th>robust sigma</th><th>k</th>"
	      "<th>PAT low</th><th>PAT high</th><th>outliers</th></tr>\n", f);
	status = rpt_prepare(c, lim_sql, &st, err);
	if (status)
		return status;
	any = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		any++;
		fputs("<tr><td>", f);
		esc_col(f, st, 0);
		fputs("</td><td>", f);
		esc_col(f, st, 1);
		fputs("</td><td>", f);
		esc_col(f, st, 2);
		fputs("</td><td>", f);
		esc_col(f, st, 3);
		if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
			fputc(':', f);
			esc_col(f, st, 4);
		}
		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			fputc('@', f);
			esc_col(f, st, 5);
		}
		fprintf(f, "</td><td>%lld", (long long)sqlite3_column_int64(st, 6));
		for (int i = 7; i < 12; i++)
			fprintf(f, "</td><td>%.6g", sqlite3_column_double(st, i));
		fprintf(f, "</td><td>%lld</td></tr>\n",
			(long long)sqlite3_column_int64(st, 12));
	}
	if (!any)
		fputs("<tr><td colspan=\"11\">no PAT limit rejected a die"
		      "</td></tr>\n", f);
	fputs("</table>\n", f);
	return step_done(c, st, rc, err);
}

static int html_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	int status;

	(void)arg;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\""
	      "utf-8\">\n<title>KGD lot report</title>\n<style>\n"
	      "body{font-family:sans-serif;margin:2em;color:#222}\n"
	      "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
	      "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}\n"
	      "th{background:#f0f0f0}\ntd:first-child{text-align:left}\n"
	      ".sw{display:inline-block;width:10px;height:10px;"
	      "border:1px solid #333}\n"
	      ".maps{display:flex;flex-wrap:wrap;gap:1em}\n"
	      "svg.wafermap{max-width:100%;height:auto}\n"
	      "figure{margin:0}\nfigcaption{font-weight:bold}\n"
	      "</style>\n</head>\n<body>\n<h1>KGD lot report</h1>\n", f);
	fprintf(f, "<p>%lld parts. Sections: <a href=\"#yield\">yield</a>, "
		"<a href=\"#bins\">bins</a>, <a href=\"#pareto\">Pareto</a>, "
		"<a href=\"#maps\">wafer maps</a>, <a href=\"#tests\">test "
		"statistics</a>, <a href=\"#pat\">outlier screen</a>.</p>\n",
		c->n_parts);
	status = yield_section(c, f, err);
	if (!status)
		status = bins_section(c, f, err);
	if (!status)
		status = pareto_section(c, f, err);
	if (!status)
		status = maps_section(c, f, err);
	if (!status)
		status = tests_section(c, f, err);
	if (!status)
		status = pat_section(c, f, err);
	fputs("</body>\n</html>\n", f);
	return status;
}

int rpt_html(rpt_ctx *c, const char *path, kgd_err *err)
{
	return rpt_emit(c, path, html_body, NULL, err);
}
