/*
 * reports/rpt_wafer_svg.c - one SVG picture per wafer,
 * wafermap_<lot>_<wafer>.svg: the whole wafer as the prober maps it, with
 * its outline, notch and orientation, every site of the map (untested ones
 * marked), a soft-bin and a hard-bin view side by side, retest and screen
 * marks, and a title naming sequence, limits and test dates.
 *
 * The geometry is the prober's (the wafer row's map_* columns, schema 10,
 * recorded by the station when it first tests the wafer: diameter, die
 * index size, grid, edge exclusion, notch angle); a wafer without one (an
 * older file, a prober that reports none) is drawn on the bounding box of
 * the lot's tested dies, and the picture says so. report.html draws its
 * inline maps with the same function (rpt_wafer_pic).
 *
 * Invariants: the tested dies are exactly the rows of wafermap.csv for the
 * wafer (the selected run of each die); a die's colour depends on its bin
 * number alone (rpt_bin_colour), and the wafer circle is always drawn the
 * same size, so two pictures compare side by side. Numbers are printed
 * with fixed precision: the same database gives the same bytes.
 */
#include "rpt_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL 440           /* px, one view: the wafer circle and margin */
#define WAFER_PX 400.0      /* px, the wafer's diameter in every picture */
#define TOP 84              /* px, title lines above the views */
#define LEGEND_ROW 18

struct site {
	int tested, soft, has_soft, hard, has_hard, pass, retest, screened;
};

struct geom {
	int real;                   /* from wafer_map, else from the lot */
	int x0, y0, cols, rows;     /* map coordinates of cell (0, 0); size */
	double die_w, die_h;        /* mm (inferred: 1 x 1) */
	double diameter, edge;      /* mm */
	double notch_deg;           /* counter-clockwise from +x; 270 = down */
	int notch_known;
	struct site *cell;          /* cols x rows, row-major; owned */
	char *is_site;              /* cols x rows: a die of the map; owned */
};

struct leg {
	int has, bin, pass;
	long long n;
	char *name;                 /* owned; NULL: the bin has no name */
};

struct wafer_pic {
	const char *lot, *wafer;
	struct geom g;
	struct leg *leg[2];         /* soft, hard views' keys; owned */
	size_t n_leg[2];
	long long tested, passed, untested, retested, screened;
	char *title2;               /* sequence, limits, dates; owned */
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

/* ---- geometry ----------------------------------------------------------- */

/* Is the die at grid cell (i, j) wholly inside the usable radius? The
 * grid is centred on the wafer, as the prober's map is. */
static int die_inside(const struct geom *g, int i, int j)
{
	double r = g->diameter / 2 - g->edge;
	double x0 = (i - g->cols / 2.0) * g->die_w;
	double y0 = (j - g->rows / 2.0) * g->die_h;
	int k;

	for (k = 0; k < 4; k++) {
		double x = x0 + (k & 1) * g->die_w, y = y0 + (k >> 1) * g->die_h;

		if (x * x + y * y > r * r + 1e-9)
			return 0;
	}
	return 1;
}

static int geom_alloc(struct geom *g)
{
	size_t n = (size_t)g->cols * (size_t)g->rows;

	g->cell = calloc(n ? n : 1, sizeof(*g->cell));
	g->is_site = calloc(n ? n : 1, 1);
	return g->cell && g->is_site ? 0 : -1;
}

/* The prober's geometry of this wafer, when the station recorded one. */
static int geom_real(rpt_ctx *c, struct wafer_pic *w, int *found, kgd_err *err)
{
	static const char sql[] =
		"SELECT x.map_diameter_mm, x.map_die_w_um, x.map_die_h_um,"
		" x.map_cols, x.map_rows, coalesce(x.map_edge_mm, 0),"
		" x.map_notch_deg FROM wafer x"
		" JOIN lot l ON l.id = x.lot_id"
		" WHERE l.name = ?1 AND x.name = ?2"
		" AND x.map_diameter_mm IS NOT NULL";
	struct geom *g = &w->g;
	sqlite3_stmt *st = NULL;
	int rc, status, i, j;

	*found = 0;
	if (!c->has_wafer_map)
		return KGD_OK;
	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	sqlite3_bind_text(st, 1, w->lot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->wafer, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g->real = 1;
		g->diameter = sqlite3_column_double(st, 0);
		g->die_w = sqlite3_column_double(st, 1) / 1000.0;
		g->die_h = sqlite3_column_double(st, 2) / 1000.0;
		g->cols = sqlite3_column_int(st, 3);
		g->rows = sqlite3_column_int(st, 4);
		g->edge = sqlite3_column_double(st, 5);
		g->notch_known = sqlite3_column_type(st, 6) != SQLITE_NULL;
		g->notch_deg = g->notch_known ? sqlite3_column_double(st, 6) : 270;
		g->x0 = g->y0 = 0;
		*found = g->cols > 0 && g->rows > 0 && g->die_w > 0 &&
			 g->die_h > 0 && g->diameter > 0;
	} else if (rc != SQLITE_DONE) {
		status = rpt_sql_fail(c, err);
	}
	sqlite3_finalize(st);
	if (status || !*found)
		return status;
	if (geom_alloc(g))
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	for (j = 0; j < g->rows; j++)
		for (i = 0; i < g->cols; i++)
			g->is_site[j * g->cols + i] = (char)die_inside(g, i, j);
	return KGD_OK;
}

/* No recorded geometry: the grid of every selected die of the lot (all
 * its wafers; the selection, so a report from the central server draws
 * the same), square dies, the circle through its farthest die corner. */
static int geom_lot(rpt_ctx *c, struct wafer_pic *w, kgd_err *err)
{
	static const char box_sql[] =
		"SELECT min(x), max(x), min(y), max(y) FROM temp.sel"
		" WHERE lot = ?1 AND wafer IS NOT NULL AND x IS NOT NULL";
	static const char sites_sql[] =
		"SELECT DISTINCT x, y FROM temp.sel"
		" WHERE lot = ?1 AND wafer IS NOT NULL AND x IS NOT NULL";
	struct geom *g = &w->g;
	sqlite3_stmt *st = NULL;
	double r2 = 0;
	int rc, status, i, j;

	status = rpt_prepare(c, box_sql, &st, err);
	if (status)
		return status;
	sqlite3_bind_text(st, 1, w->lot, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		status = rpt_sql_fail(c, err);
		sqlite3_finalize(st);
		return status;
	}
	g->x0 = sqlite3_column_int(st, 0);
	g->cols = sqlite3_column_int(st, 1) - g->x0 + 1;
	g->y0 = sqlite3_column_int(st, 2);
	g->rows = sqlite3_column_int(st, 3) - g->y0 + 1;
	sqlite3_finalize(st);
	g->die_w = g->die_h = 1;
	g->notch_deg = 270;
	if (geom_alloc(g))
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	status = rpt_prepare(c, sites_sql, &st, err);
	if (status)
		return status;
	sqlite3_bind_text(st, 1, w->lot, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		i = sqlite3_column_int(st, 0) - g->x0;
		j = sqlite3_column_int(st, 1) - g->y0;
		g->is_site[j * g->cols + i] = 1;
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	/* the circle through the farthest corner of a site, plus a margin */
	for (j = 0; j < g->rows; j++)
		for (i = 0; i < g->cols; i++) {
			double dx = fmax(fabs(i - g->cols / 2.0),
					 fabs(i + 1 - g->cols / 2.0));
			double dy = fmax(fabs(j - g->rows / 2.0),
					 fabs(j + 1 - g->rows / 2.0));

			if (g->is_site[j * g->cols + i] && dx * dx + dy * dy > r2)
				r2 = dx * dx + dy * dy;
		}
	g->diameter = 2 * sqrt(r2) + 0.5;
	return status;
}

/* ---- the dies and the title --------------------------------------------- */

static int load_pic(rpt_ctx *c, struct wafer_pic *w, kgd_err *err)
{
	static const char dies_sql[] =
		"SELECT x, y, soft_bin, hard_bin, status = 'pass', n_runs > 1,"
		" screen_reason IS NOT NULL FROM temp.sel"
		" WHERE lot = ?1 AND wafer = ?2 AND x IS NOT NULL";
	/* Sequences, limits and dates of the runs shown. */
	static const char title_sql[] =
		"SELECT (SELECT group_concat(t, ', ') FROM (SELECT DISTINCT"
		"   seq_name || ' v' || seq_version AS t FROM temp.sel"
		"   WHERE lot = ?1 AND wafer = ?2 ORDER BY 1)),"
		" (SELECT group_concat(t, ', ') FROM (SELECT DISTINCT"
		"   coalesce(substr(ls.sha256, 1, 12), 'the sequence''s own') AS t"
		"   FROM temp.sel s JOIN run r ON r.id = s.run_id"
		"   LEFT JOIN limits_set ls ON ls.id = r.limits_id"
		"   WHERE s.lot = ?1 AND s.wafer = ?2 ORDER BY 1)),"
		" (SELECT min(substr(started_at, 1, 10)) FROM temp.sel"
		"   WHERE lot = ?1 AND wafer = ?2),"
		" (SELECT max(substr(started_at, 1, 10)) FROM temp.sel"
		"   WHERE lot = ?1 AND wafer = ?2)";
	struct geom *g = &w->g;
	sqlite3_stmt *st = NULL;
	struct site *s;
	int rc, status, found, i, j;
	char buf[1024];

	status = geom_real(c, w, &found, err);
	if (!status && !found)
		status = geom_lot(c, w, err);
	if (status)
		return status;
	status = rpt_prepare(c, dies_sql, &st, err);
	if (status)
		return status;
	sqlite3_bind_text(st, 1, w->lot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->wafer, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		i = sqlite3_column_int(st, 0) - g->x0;
		j = sqlite3_column_int(st, 1) - g->y0;
		if (i < 0 || j < 0 || i >= g->cols || j >= g->rows)
			continue;   /* off the prober's map: counted, not drawn */
		s = &g->cell[j * g->cols + i];
		g->is_site[j * g->cols + i] = 1;
		s->tested = 1;
		s->has_soft = sqlite3_column_type(st, 2) != SQLITE_NULL;
		s->soft = sqlite3_column_int(st, 2);
		s->has_hard = sqlite3_column_type(st, 3) != SQLITE_NULL;
		s->hard = sqlite3_column_int(st, 3);
		s->pass = sqlite3_column_int(st, 4);
		s->retest = sqlite3_column_int(st, 5);
		s->screened = sqlite3_column_int(st, 6);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	if (status)
		return status;
	for (j = 0; j < g->rows * g->cols; j++) {
		s = &g->cell[j];
		w->tested += s->tested;
		w->passed += s->tested && s->pass;
		w->untested += g->is_site[j] && !s->tested;
		w->retested += s->tested && s->retest;
		w->screened += s->tested && s->screened;
	}
	status = rpt_prepare(c, title_sql, &st, err);
	if (status)
		return status;
	sqlite3_bind_text(st, 1, w->lot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->wafer, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		status = rpt_sql_fail(c, err);
	} else {
		const char *d0 = (const char *)sqlite3_column_text(st, 2);
		const char *d1 = (const char *)sqlite3_column_text(st, 3);

		snprintf(buf, sizeof(buf), "sequence %s; limits %s; tested %s%s%s",
			 sqlite3_column_text(st, 0) ?
			 (const char *)sqlite3_column_text(st, 0) : "?",
			 sqlite3_column_text(st, 1) ?
			 (const char *)sqlite3_column_text(st, 1) : "?",
			 d0 ? d0 : "?", d1 && d0 && strcmp(d0, d1) ? " to " : "",
			 d1 && d0 && strcmp(d0, d1) ? d1 : "");
		if (!(w->title2 = strdup(buf)))
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	}
	sqlite3_finalize(st);
	return status;
}

/* ---- drawing ------------------------------------------------------------ */

/* One view (soft or hard bins) at horizontal offset ox; opens its <g>,
 * which the caller closes after the view's key. */
static void draw_view(FILE *f, const struct wafer_pic *w, int hard, int ox)
{
	const struct geom *g = &w->g;
	double s = WAFER_PX / g->diameter;            /* px per mm */
	double cx = ox + PANEL / 2.0, cy = TOP + PANEL / 2.0;
	double r = WAFER_PX / 2, cw = g->die_w * s, ch = g->die_h * s;
	double th = g->notch_deg * M_PI / 180;
	/* the notch on the outline, and the inward unit vector there */
	double ex = -cos(th), ey = sin(th), nx = cx - r * ex, ny = cy - r * ey;
	int i, j;

	fprintf(f, "<g class=\"view\" data-view=\"%s\">\n<text x=\"%.2f\" y=\"%d\" text-anchor="
		"\"middle\" font-weight=\"bold\">%s bin</text>\n",
		hard ? "hard" : "soft", cx, TOP - 4, hard ? "Hard" : "Soft");
	fprintf(f, "<circle class=\"outline\" data-diameter-mm=\"%.3f\" "
		"cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"#f4f4f4\" "
		"stroke=\"#555\" stroke-width=\"1.5\"/>\n", g->diameter, cx,
		cy, r);
	if (g->edge > 0)
		fprintf(f, "<circle class=\"edge\" cx=\"%.2f\" cy=\"%.2f\" "
			"r=\"%.2f\" fill=\"none\" stroke=\"#bbb\" "
			"stroke-dasharray=\"3 3\"/>\n", cx, cy,
			(g->diameter / 2 - g->edge) * s);
	for (j = 0; j < g->rows; j++)
		for (i = 0; i < g->cols; i++) {
			const struct site *d = &g->cell[j * g->cols + i];
			double x = cx + (i - g->cols / 2.0) * cw;
			double y = cy + (j - g->rows / 2.0) * ch;
			int has = hard ? d->has_hard : d->has_soft;
			int bin = hard ? d->hard : d->soft;

			if (!g->is_site[j * g->cols + i])
				continue;
			if (!d->tested) {
				fprintf(f, "<rect class=\"untested\" data-x=\"%d\" "
					"data-y=\"%d\" x=\"%.2f\" y=\"%.2f\" "
					"width=\"%.2f\" height=\"%.2f\" fill=\"#ffffff\" "
					"stroke=\"#aaa\" stroke-width=\"0.5\" "
					"stroke-dasharray=\"2 1\"><title>x=%d y=%d "
					"untested</title></rect>\n", i + g->x0,
					j + g->y0, x, y, cw, ch, i + g->x0, j + g->y0);
				continue;
			}
			fprintf(f, "<rect class=\"die\" data-x=\"%d\" data-y=\"%d\" "
				"data-bin=\"", i + g->x0, j + g->y0);
			if (has)
				fprintf(f, "%d", bin);
			fprintf(f, "\" data-pass=\"%d\" x=\"%.2f\" y=\"%.2f\" "
				"width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
				"stroke=\"%s\" stroke-width=\"%s\"><title>x=%d y=%d "
				"%s bin ", d->pass, x, y, cw, ch,
				rpt_bin_colour(has, bin, d->pass),
				d->screened ? "#000" : "#333",
				d->screened ? "2" : "0.5", i + g->x0, j + g->y0,
				hard ? "hard" : "soft");
			if (has)
				fprintf(f, "%d", bin);
			else
				fputs("none", f);
			fprintf(f, " %s%s%s</title></rect>\n",
				d->pass ? "pass" : "fail",
				d->retest ? ", retested" : "",
				d->screened ? ", rejected by the screen" : "");
			if (d->retest)
				fprintf(f, "<path class=\"retest\" data-x=\"%d\" "
					"data-y=\"%d\" d=\"M%.2f %.2fL%.2f %.2f\" "
					"stroke=\"#000\" stroke-width=\"1\"/>\n",
					i + g->x0, j + g->y0, x + cw * 0.2,
					y + ch * 0.8, x + cw * 0.8, y + ch * 0.2);
		}
	/* The notch on the outline (a triangle pointing at the centre), its
	 * label just outside, and the axes' orientation. */
	fprintf(f, "<path class=\"notch\" data-deg=\"%.1f\" d=\"M%.2f %.2fL%.2f "
		"%.2fL%.2f %.2fZ\" fill=\"#555\"/>\n", g->notch_deg,
		nx - 7 * ey, ny + 7 * ex, nx + 10 * ex, ny + 10 * ey,
		nx + 7 * ey, ny - 7 * ex);
	fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
		"font-size=\"10\">notch%s</text>\n", nx - 12 * ex,
		ny - 12 * ey + 4, g->notch_known ? "" : " (assumed)");
	fprintf(f, "<path class=\"axes\" d=\"M%d %dh30m-5 -4l5 4l-5 4M%d %dv30"
		"m-4 -5l4 5l4 -5\" fill=\"none\" stroke=\"#333\"/>\n<text x=\"%d\""
		" y=\"%d\" font-size=\"10\">x</text><text x=\"%d\" y=\"%d\" "
		"font-size=\"10\">y</text>\n", ox + 8, TOP + 8, ox + 8, TOP + 8,
		ox + 42, TOP + 12, ox + 4, TOP + 50);
}

static int cmp_leg(const void *a, const void *b)
{
	const struct leg *x = a, *y = b;

	if (x->has != y->has)
		return x->has - y->has;
	if (x->bin != y->bin)
		return (x->bin > y->bin) - (x->bin < y->bin);
	return y->pass - x->pass;
}

/* The keys of one view: each (bin, pass) shown, by bin number. */
static int make_legend(struct wafer_pic *w, int hard)
{
	const struct geom *g = &w->g;
	struct leg *l = NULL, *grown;
	size_t n = 0, k, cap = 0;
	int i;

	for (i = 0; i < g->rows * g->cols; i++) {
		const struct site *d = &g->cell[i];
		int has = hard ? d->has_hard : d->has_soft;
		int bin = has ? (hard ? d->hard : d->soft) : 0;

		if (!d->tested)
			continue;
		for (k = 0; k < n; k++)
			if (l[k].has == has && l[k].bin == bin &&
			    l[k].pass == d->pass)
				break;
		if (k == n) {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				grown = realloc(l, cap * sizeof(*l));
				if (!grown) {
					free(l);
					return -1;
				}
				l = grown;
			}
			l[n].has = has;
			l[n].bin = bin;
			l[n].pass = d->pass;
			l[n].name = NULL;
			l[n++].n = 0;
		}
		l[k].n++;
	}
	if (n > 1)
		qsort(l, n, sizeof(*l), cmp_leg);
	w->leg[hard] = l;
	w->n_leg[hard] = n;
	return 0;
}

/* The keys' bin names: the bin tables of the sequences the wafer's runs
 * ran (the least name in byte order, as bins.csv), else SCREEN_REJECT for
 * the bin the lot's screen gave a die shown here. */
static int legend_names(rpt_ctx *c, struct wafer_pic *w, int hard, kgd_err *err)
{
	static const char *const sql[2] = {
		"SELECT coalesce((SELECT min(b.name) FROM bin b WHERE b.number = ?3"
		" AND b.sequence_id IN (SELECT sequence_id FROM temp.sel WHERE"
		" lot = ?1 AND wafer = ?2)), (SELECT 'SCREEN_REJECT' FROM"
		" temp.sel WHERE lot = ?1 AND wafer = ?2 AND screen_reason IS NOT"
		" NULL AND soft_bin = ?3 LIMIT 1))",
		"SELECT coalesce((SELECT min(b.name) FROM hard_bin b WHERE"
		" b.number = ?3 AND b.sequence_id IN (SELECT sequence_id FROM"
		" temp.sel WHERE lot = ?1 AND wafer = ?2)), (SELECT"
		" 'SCREEN_REJECT' FROM temp.sel WHERE lot = ?1 AND wafer = ?2 AND"
		" screen_reason IS NOT NULL AND hard_bin = ?3 LIMIT 1))",
	};
	sqlite3_stmt *st = NULL;
	size_t k;
	int status = rpt_prepare(c, sql[hard], &st, err);

	if (status)
		return status;
	sqlite3_bind_text(st, 1, w->lot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->wafer, -1, SQLITE_STATIC);
	for (k = 0; k < w->n_leg[hard] && !status; k++) {
		struct leg *l = &w->leg[hard][k];
		const unsigned char *name;

		if (!l->has)
			continue;
		sqlite3_bind_int(st, 3, l->bin);
		if (sqlite3_step(st) != SQLITE_ROW) {
			status = rpt_sql_fail(c, err);
			break;
		}
		name = sqlite3_column_text(st, 0);
		if (name && !(l->name = strdup((const char *)name)))
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return status;
}

static void draw_legend(FILE *f, const struct wafer_pic *w, int hard, int ox)
{
	const struct leg *l = w->leg[hard];
	int y = TOP + PANEL + 8;
	size_t k;

	for (k = 0; k < w->n_leg[hard]; k++, y += LEGEND_ROW) {
		fprintf(f, "<rect class=\"key\" data-bin=\"");
		if (l[k].has)
			fprintf(f, "%d", l[k].bin);
		fprintf(f, "\" data-pass=\"%d\" x=\"%d\" y=\"%d\" width=\"12\" "
			"height=\"12\" fill=\"%s\" stroke=\"#333\"/><text x=\"%d\" "
			"y=\"%d\">", l[k].pass, ox + 20, y,
			rpt_bin_colour(l[k].has, l[k].bin, l[k].pass), ox + 38,
			y + 11);
		if (l[k].has)
			fprintf(f, "%s bin %d", hard ? "hard" : "soft", l[k].bin);
		else
			fputs("no bin", f);
		if (l[k].name) {
			fputc(' ', f);
			xml_text(f, l[k].name);
		}
		fprintf(f, "%s: %lld</text>\n", l[k].pass ? " (pass)" : "",
			l[k].n);
	}
}

/* The picture; inline (in report.html) without the XML declaration and
 * scaled to its container's width. */
static void draw_pic(FILE *f, const struct wafer_pic *w, int inline_html)
{
	size_t keys = w->n_leg[0] > w->n_leg[1] ? w->n_leg[0] : w->n_leg[1];
	int width = 2 * PANEL + 20;
	int height = TOP + PANEL + 18 + (int)keys * LEGEND_ROW;

	if (!inline_html)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f, "<svg class=\"wafermap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
		"font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
		"fill=\"white\"/>\n", width, height, width, height);
	fputs("<text class=\"title\" x=\"10\" y=\"22\" font-size=\"16\" "
	      "font-weight=\"bold\">Lot ", f);
	xml_text(f, w->lot);
	fputs(" wafer ", f);
	xml_text(f, w->wafer);
	fprintf(f, ": yield %.2f%% (%lld of %lld dies pass)</text>\n",
		w->tested ? 100.0 * (double)w->passed / (double)w->tested : 0.0,
		w->passed, w->tested);
	fputs("<text class=\"subtitle\" x=\"10\" y=\"42\">", f);
	xml_text(f, w->title2);
	fputs("</text>\n<text class=\"geometry\" x=\"10\" y=\"60\" "
	      "font-size=\"11\">", f);
	if (w->g.real) {
		fprintf(f, "prober map: %.0f mm wafer, die %.3f x %.3f mm, "
			"%d x %d grid, edge %.1f mm, notch ", w->g.diameter,
			w->g.die_w, w->g.die_h, w->g.cols, w->g.rows, w->g.edge);
		if (w->g.notch_known)
			fprintf(f, "at %.0f deg; ", w->g.notch_deg);
		else
			fputs("not given (drawn down); ", f);
	} else {
		fputs("no prober geometry recorded: grid = bounding box of the "
		      "lot's tested dies, outline and notch assumed; ", f);
	}
	fprintf(f, "%lld untested site%s (dashed), %lld retested (/), "
		"%lld rejected by the screen (heavy outline)</text>\n",
		w->untested, w->untested == 1 ? "" : "s", w->retested,
		w->screened);
	/* each view's group holds its key */
	draw_view(f, w, 0, 0);
	draw_legend(f, w, 0, 0);
	fputs("</g>\n", f);
	draw_view(f, w, 1, PANEL + 20);
	draw_legend(f, w, 1, PANEL + 20);
	fputs("</g>\n", f);
	fputs("</svg>\n", f);
}

static void pic_free(struct wafer_pic *w)
{
	free(w->g.cell);
	free(w->g.is_site);
	for (int v = 0; v < 2; v++) {
		for (size_t k = 0; k < w->n_leg[v]; k++)
			free(w->leg[v][k].name);
		free(w->leg[v]);
	}
	free(w->title2);
	memset(w, 0, sizeof(*w));
}

struct pic_job {
	const char *lot, *wafer;
	int inline_html;
};

static int pic_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	return rpt_wafer_pic(c, f, ((struct pic_job *)arg)->lot,
			     ((struct pic_job *)arg)->wafer,
			     ((struct pic_job *)arg)->inline_html, err);
}

int rpt_wafer_pic(rpt_ctx *c, FILE *f, const char *lot, const char *wafer,
		  int inline_html, kgd_err *err)
{
	struct wafer_pic w = { 0 };
	int status;

	w.lot = lot;
	w.wafer = wafer;
	status = load_pic(c, &w, err);
	if (!status && (make_legend(&w, 0) || make_legend(&w, 1)))
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if (!status)
		status = legend_names(c, &w, 0, err);
	if (!status)
		status = legend_names(c, &w, 1, err);
	if (!status)
		draw_pic(f, &w, inline_html);
	pic_free(&w);
	return status;
}

int rpt_wafer_svgs(rpt_ctx *c, const char *dir, int *files, kgd_err *err)
{
	static const char wafers_sql[] =
		"SELECT DISTINCT lot, wafer FROM temp.sel WHERE wafer IS NOT NULL"
		" AND x IS NOT NULL ORDER BY lot, wafer";
	sqlite3_stmt *wst = NULL;
	struct pic_job w = { 0 };
	char *path = NULL;
	int rc, status;

	status = rpt_prepare(c, wafers_sql, &wst, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(wst)) == SQLITE_ROW) {
		w.lot = (const char *)sqlite3_column_text(wst, 0);
		w.wafer = (const char *)sqlite3_column_text(wst, 1);
		path = rpt_wafer_path(dir, "wafermap_", w.lot, w.wafer, ".svg");
		if (!path) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
		status = rpt_emit(c, path, pic_body, &w, err);
		if (status)
			goto out;
		(*files)++;
		free(path);
		path = NULL;
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
out:
	free(path);
	sqlite3_finalize(wst);
	return status;
}
