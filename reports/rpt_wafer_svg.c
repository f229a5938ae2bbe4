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
#include "rpt_wafer_pic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL 440           /* px, one view: the wafer circle and margin */
#define WAFER_PX 400.0      /* px, the wafer's diameter in every picture */
#define TOP 84              /* px, title lines above the views */
#define LEGEND_ROW 18

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
			rpt_xml_text(f, l[k].name);
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
	rpt_xml_text(f, w->lot);
	fputs(" wafer ", f);
	rpt_xml_text(f, w->wafer);
	fprintf(f, ": yield %.2f%% (%lld of %lld dies pass)</text>\n",
		w->tested ? 100.0 * (double)w->passed / (double)w->tested : 0.0,
		w->passed, w->tested);
	fputs("<text class=\"subtitle\" x=\"10\" y=\"42\">", f);
	rpt_xml_text(f, w->title2);
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
		"%lld rejected by the screen (heavy outline)", w->untested,
		w->untested == 1 ? "" : "s", w->retested, w->screened);
	if (w->offmap)
		fprintf(f, "; %lld tested die%s off the prober's map (not drawn)",
			w->offmap, w->offmap == 1 ? "" : "s");
	fputs("</text>\n", f);
	/* each view's group holds its key */
	draw_view(f, w, 0, 0);
	draw_legend(f, w, 0, 0);
	fputs("</g>\n", f);
	draw_view(f, w, 1, PANEL + 20);
	draw_legend(f, w, 1, PANEL + 20);
	fputs("</g>\n", f);
	fputs("</svg>\n", f);
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
	status = rpt_wpic_load(c, &w, err);
	if (!status)
		draw_pic(f, &w, inline_html);
	rpt_wpic_free(&w);
	return status;
}

int rpt_wafer_svgs(rpt_ctx *c, const char *dir, int *files, kgd_err *err)
{
	static const char wafers_sql[] =
		"SELECT DISTINCT lot, wafer FROM temp.sel WHERE wafer IS NOT NULL"
		" AND x IS NOT NULL ORDER BY lot, wafer";
	struct pic_job w = { 0 };

	return rpt_emit_per_wafer(c, wafers_sql, dir, "wafermap_", ".svg",
				  pic_body, &w, &w.lot, &w.wafer, files, err);
}
