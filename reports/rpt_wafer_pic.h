/*
 * reports/rpt_wafer_pic.h - private to rpt_wafer_svg.c (the drawing) and
 * rpt_wafer_load.c (what it draws): one wafer's picture, loaded.
 *
 * Invariant: a loaded wafer_pic holds the whole grid of the wafer's map
 * (cols x rows cells, is_site marking the map's dies), each tested die's
 * final bins at its cell, and both views' keys by bin number.
 */
#ifndef KGD_RPT_WAFER_PIC_H
#define KGD_RPT_WAFER_PIC_H

#include "rpt_int.h"

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
	long long offmap;           /* tested dies outside the grid (counted
	                               in tested/passed, not drawn) */
	char *title2;               /* sequence, limits, dates; owned */
};

/* Load lot/wafer (w->lot and w->wafer set by the caller): geometry (the
 * prober's, else the lot's bounding box), the dies, the title, the keys.
 * rpt_wpic_free() after, also on failure. */
int rpt_wpic_load(rpt_ctx *c, struct wafer_pic *w, kgd_err *err);
void rpt_wpic_free(struct wafer_pic *w);

#endif
