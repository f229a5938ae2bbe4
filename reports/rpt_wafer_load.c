/*
 * reports/rpt_wafer_load.c - what a wafer picture shows (rpt_wafer_pic.h):
 * the map's geometry - the prober's, from the wafer row's map_* columns
 * (schema 10), else the bounding box of the lot's tested dies - the
 * tested dies' final bins, retests and screen rejects at their cells, the
 * title's sequences, limits and dates, and each view's key.
 *
 * Invariant: the tested dies are exactly the rows of wafermap.csv for the
 * wafer (temp.sel, the selected run of each die); every cell a tested die
 * sits in is a site.
 */
#include "rpt_wafer_pic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
		g->diameter = sqlite3_column_double(st, 0);
		g->die_w = sqlite3_column_double(st, 1) / 1000.0;
		g->die_h = sqlite3_column_double(st, 2) / 1000.0;
		g->cols = sqlite3_column_int(st, 3);
		g->rows = sqlite3_column_int(st, 4);
		g->edge = sqlite3_column_double(st, 5);
		g->notch_known = sqlite3_column_type(st, 6) != SQLITE_NULL;
		g->notch_deg = g->notch_known ? sqlite3_column_double(st, 6) : 270;
		g->x0 = g->y0 = 0;
		/* a grid too large to be a wafer map is no geometry */
		*found = g->cols > 0 && g->rows > 0 && g->cols <= 4096 &&
			 g->rows <= 4096 && g->die_w > 0 && g->die_h > 0 &&
			 g->diameter > 0;
		g->real = *found;
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
	g->notch_known = g->real = 0;
	g->edge = 0;
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
		if (i < 0 || j < 0 || i >= g->cols || j >= g->rows) {
			/* off the prober's map: counted, not drawn */
			w->offmap++;
			w->tested++;
			w->passed += sqlite3_column_int(st, 4);
			continue;
		}
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

/* ---- the keys ------------------------------------------------------------ */

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

void rpt_wpic_free(struct wafer_pic *w)
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

int rpt_wpic_load(rpt_ctx *c, struct wafer_pic *w, kgd_err *err)
{
	int status = load_pic(c, w, err);

	if (!status && (make_legend(w, 0) || make_legend(w, 1)))
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if (!status)
		status = legend_names(c, w, 0, err);
	if (!status)
		status = legend_names(c, w, 1, err);
	return status;
}
