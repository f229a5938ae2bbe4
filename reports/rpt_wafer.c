/*
 * reports/rpt_wafer.c - wafermap.csv (one row per die) and one SVG picture
 * per wafer, wafermap_<lot>_<wafer>.svg, for a person to look at.
 *
 * Invariant: the picture shows exactly the rows of wafermap.csv for its
 * wafer - the selected run of each die - coloured by soft bin (the bin
 * that names the failure; the hard bin when there is no soft bin), with
 * the same colour for the same bin number on every wafer of one report.
 * The SVG holds integers and escaped text only, so it too is the same
 * bytes for the same database.
 */
#include "rpt_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- wafermap.csv ------------------------------------------------------- */

static int map_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT lot, wafer, x, y, hard_bin, soft_bin, status = 'pass'"
		" FROM temp.sel WHERE wafer IS NOT NULL AND x IS NOT NULL"
		" ORDER BY lot, wafer, x, y";
	sqlite3_stmt *st = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rpt_csv_col(f, 1, st, 0);
		rpt_csv_col(f, 0, st, 1);
		rpt_csv_int_col(f, st, 2);
		rpt_csv_int_col(f, st, 3);
		rpt_csv_int_col(f, st, 4);
		rpt_csv_int_col(f, st, 5);
		rpt_csv_int_col(f, st, 6);
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

/* ---- SVG ---------------------------------------------------------------- */

/* Distinct, colour-blind-friendly-ish hues for failing bins (Okabe-Ito
 * and Tableau), in order of bin number; passing dies are always green. */
static const char *const fail_colours[] = {
	"#d55e00", "#0072b2", "#e69f00", "#cc79a7", "#56b4e9", "#f0e442",
	"#9467bd", "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#e377c2",
};
#define PASS_COLOUR "#2ca02c"
#define NOBIN_COLOUR "#ffffff"

struct die {
	int x, y, bin, has_bin, pass;
};

struct legend {
	int bin, has_bin, pass;
	long long count;
	char *name;                 /* owned, NULL if unnamed */
	const char *colour;
};

struct wafer_job {
	const char *lot, *wafer;
	struct die *dies;
	size_t n;
	struct legend *leg;
	size_t n_leg;
	long long passed;
};

static void xml_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static int svg_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	const struct wafer_job *w = arg;
	int xmin = w->dies[0].x, xmax = xmin, ymin = w->dies[0].y, ymax = ymin;
	int cell, cols, rows, left = 56, top = 64, gw, gh, width, height, step;
	int i, lx, ly;
	size_t k, j;
	const char *colour;

	(void)c;
	(void)err;
	for (k = 1; k < w->n; k++) {
		if (w->dies[k].x < xmin) xmin = w->dies[k].x;
		if (w->dies[k].x > xmax) xmax = w->dies[k].x;
		if (w->dies[k].y < ymin) ymin = w->dies[k].y;
		if (w->dies[k].y > ymax) ymax = w->dies[k].y;
	}
	cols = xmax - xmin + 1;
	rows = ymax - ymin + 1;
	/* Dies large enough to see, the picture small enough for a screen. */
	cell = 640 / (cols > rows ? cols : rows);
	if (cell > 32)
		cell = 32;
	if (cell < 4)
		cell = 4;
	gw = cols * cell;
	gh = rows * cell;
	width = left + gw + 40 + 300;
	/* The title must fit too: about 10 px per character at 16 px bold. */
	{
		int title_chars = (int)(strlen(w->lot) + strlen(w->wafer)) + 48;

		if (width < 20 + 10 * title_chars)
			width = 20 + 10 * title_chars;
	}
	height = top + gh + 40;
	if (height < top + 24 * (int)w->n_leg + 60)
		height = top + 24 * (int)w->n_leg + 60;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
		"font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
		"fill=\"white\"/>\n", width, height, width, height);
	fputs("<text x=\"10\" y=\"24\" font-size=\"16\" font-weight=\"bold\">"
	      "Lot ", f);
	xml_text(f, w->lot);
	fputs(" wafer ", f);
	xml_text(f, w->wafer);
	fprintf(f, ": yield %.2f%% (%lld of %zu dies pass)</text>\n",
		100.0 * (double)w->passed / (double)w->n, w->passed, w->n);
	/* Axes: x grows to the right, y downwards (the prober's row order). */
	step = cell >= 16 ? 1 : (16 + cell - 1) / cell;
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">x</text>\n",
		left + gw / 2, top - 26);
	for (i = xmin; i <= xmax; i += step)
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
			"font-size=\"10\">%d</text>\n",
			left + (i - xmin) * cell + cell / 2, top - 6, i);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">y</text>\n",
		left - 44, top + gh / 2);
	for (i = ymin; i <= ymax; i += step)
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
			"font-size=\"10\">%d</text>\n", left - 6,
			top + (i - ymin) * cell + cell / 2 + 4, i);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		"fill=\"#f4f4f4\" stroke=\"#999\"/>\n", left, top, gw, gh);
	for (k = 0; k < w->n; k++) {
		colour = NOBIN_COLOUR;
		for (j = 0; j < w->n_leg; j++)
			if (w->leg[j].has_bin == w->dies[k].has_bin &&
			    w->leg[j].bin == w->dies[k].bin &&
			    w->leg[j].pass == w->dies[k].pass)
				colour = w->leg[j].colour;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			"fill=\"%s\" stroke=\"#333\" stroke-width=\"0.5\"><title>"
			"x=%d y=%d bin ", left + (w->dies[k].x - xmin) * cell,
			top + (w->dies[k].y - ymin) * cell, cell, cell, colour,
			w->dies[k].x, w->dies[k].y);
		if (w->dies[k].has_bin)
			fprintf(f, "%d", w->dies[k].bin);
		else
			fputs("none", f);
		fputs(w->dies[k].pass ? " pass" : " fail", f);
		fputs("</title></rect>\n", f);
	}
	lx = left + gw + 40;
	ly = top;
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">"
		"Soft bin (count)</text>\n", lx, ly - 8);
	for (j = 0; j < w->n_leg; j++, ly += 24) {
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"16\" "
			"fill=\"%s\" stroke=\"#333\"/>\n<text x=\"%d\" y=\"%d\">",
			lx, ly, w->leg[j].colour, lx + 24, ly + 13);
		if (w->leg[j].has_bin)
			fprintf(f, "%d", w->leg[j].bin);
		else
			fputs("no bin", f);
		if (w->leg[j].name) {
			fputc(' ', f);
			xml_text(f, w->leg[j].name);
		}
		fprintf(f, "%s (%lld)</text>\n", w->leg[j].pass ? " - pass" : "",
			w->leg[j].count);
	}
	fputs("</svg>\n", f);
	return KGD_OK;
}

/* The legend: one entry per (bin, pass) on this wafer, by bin number. */
static int load_wafer(rpt_ctx *c, sqlite3_stmt *dies, sqlite3_stmt *bins,
		      struct wafer_job *w, kgd_err *err)
{
	size_t cap = 0, fail_no = 0;
	struct die *grown;
	struct legend *lg;
	int rc;

	sqlite3_bind_text(dies, 1, w->lot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(dies, 2, w->wafer, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(dies)) == SQLITE_ROW) {
		if (w->n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(w->dies, cap * sizeof(*grown));
			if (!grown)
				goto nomem;
			w->dies = grown;
		}
		w->dies[w->n].x = sqlite3_column_int(dies, 0);
		w->dies[w->n].y = sqlite3_column_int(dies, 1);
		w->dies[w->n].has_bin = sqlite3_column_type(dies, 2) != SQLITE_NULL;
		w->dies[w->n].bin = sqlite3_column_int(dies, 2);
		w->dies[w->n].pass = sqlite3_column_int(dies, 3);
		w->passed += w->dies[w->n].pass;
		w->n++;
	}
	sqlite3_reset(dies);
	if (rc != SQLITE_DONE)
		return rpt_sql_fail(c, err);
	sqlite3_bind_text(bins, 1, w->lot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(bins, 2, w->wafer, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(bins)) == SQLITE_ROW) {
		lg = realloc(w->leg, (w->n_leg + 1) * sizeof(*lg));
		if (!lg)
			goto nomem;
		w->leg = lg;
		lg = &w->leg[w->n_leg++];
		memset(lg, 0, sizeof(*lg));
		lg->has_bin = sqlite3_column_type(bins, 0) != SQLITE_NULL;
		lg->bin = sqlite3_column_int(bins, 0);
		lg->pass = sqlite3_column_int(bins, 1);
		lg->count = sqlite3_column_int64(bins, 3);
		if (sqlite3_column_type(bins, 2) != SQLITE_NULL &&
		    !(lg->name = strdup((const char *)sqlite3_column_text(bins, 2))))
			goto nomem;
		/* The colour follows the bin number's rank among all failing
		 * bins of the report, so bin 5 is one colour on every wafer. */
		fail_no = (size_t)sqlite3_column_int64(bins, 4);
		lg->colour = lg->pass ? PASS_COLOUR : fail_colours[fail_no %
			(sizeof(fail_colours) / sizeof(fail_colours[0]))];
	}
	sqlite3_reset(bins);
	if (rc != SQLITE_DONE)
		return rpt_sql_fail(c, err);
	return KGD_OK;
nomem:
	sqlite3_reset(dies);
	sqlite3_reset(bins);
	return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", c->db_path);
}

static void wafer_free(struct wafer_job *w)
{
	size_t j;

	for (j = 0; j < w->n_leg; j++)
		free(w->leg[j].name);
	free(w->leg);
	free(w->dies);
	memset(w, 0, sizeof(*w));
}

static int write_svgs(rpt_ctx *c, const char *dir, int *files, kgd_err *err)
{
	static const char wafers_sql[] =
		"SELECT DISTINCT lot, wafer FROM temp.sel WHERE wafer IS NOT NULL"
		" AND x IS NOT NULL ORDER BY lot, wafer";
	static const char dies_sql[] =
		"SELECT x, y, coalesce(soft_bin, hard_bin), status = 'pass'"
		" FROM temp.sel WHERE lot = ?1 AND wafer = ?2 AND x IS NOT NULL"
		" ORDER BY y, x";
	static const char bins_sql[] =
		"WITH d AS (SELECT coalesce(soft_bin, hard_bin) AS bin,"
		"  status = 'pass' AS pass, sequence_id, lot, wafer"
		"  FROM temp.sel WHERE wafer IS NOT NULL AND x IS NOT NULL),"
		" fails AS (SELECT DISTINCT bin FROM d WHERE NOT pass)"
		" SELECT d.bin, d.pass, min(b.name), count(*),"
		"  (SELECT count(*) FROM fails WHERE fails.bin < d.bin)"
		" FROM d LEFT JOIN bin b ON b.sequence_id = d.sequence_id"
		"  AND b.number = d.bin"
		" WHERE d.lot = ?1 AND d.wafer = ?2"
		" GROUP BY d.bin, d.pass ORDER BY d.bin, d.pass DESC";
	sqlite3_stmt *wst = NULL, *dst = NULL, *bst = NULL;
	struct wafer_job w = { 0 };
	char *path = NULL;
	int rc, status;

	if ((status = rpt_prepare(c, wafers_sql, &wst, err)) ||
	    (status = rpt_prepare(c, dies_sql, &dst, err)) ||
	    (status = rpt_prepare(c, bins_sql, &bst, err)))
		goto out;
	while ((rc = sqlite3_step(wst)) == SQLITE_ROW) {
		w.lot = (const char *)sqlite3_column_text(wst, 0);
		w.wafer = (const char *)sqlite3_column_text(wst, 1);
		path = rpt_wafer_path(dir, "wafermap_", w.lot, w.wafer, ".svg");
		if (!path) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
		status = load_wafer(c, dst, bst, &w, err);
		if (!status)
			status = rpt_emit(c, path, svg_body, &w, err);
		if (status)
			goto out;
		(*files)++;
		wafer_free(&w);
		free(path);
		path = NULL;
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
out:
	wafer_free(&w);
	free(path);
	sqlite3_finalize(wst);
	sqlite3_finalize(dst);
	sqlite3_finalize(bst);
	return status;
}

int rpt_wafermap(rpt_ctx *c, const char *dir, int *files, kgd_err *err)
{
	static const char *const header[] = {
		"lot", "wafer", "x", "y", "hard_bin", "soft_bin", "pass", NULL,
	};
	char *path = rpt_path(dir, "wafermap.csv");
	int status;

	if (!path)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	status = rpt_emit_csv(c, path, header, map_rows, err);
	free(path);
	if (status)
		return status;
	(*files)++;
	return write_svgs(c, dir, files, err);
}
