/*
 * screen/scr_stat.c - the screen's arithmetic: quantiles, the robust
 * centre and sigma of PAT, and GDBN's neighbour counts. Pure functions of
 * their arguments (no database, no allocation kept), the bottom layer of
 * screen/, so tests can check them against an independent computation.
 *
 * Invariant: the quantile rule is Hyndman-Fan type 7 everywhere (the one
 * docs/REPORTS.md names), so a limit can be recomputed in a spreadsheet or
 * with Python's statistics.quantiles(method='inclusive').
 */
#include "scr_int.h"

#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double scr_quantile(const double *sorted, size_t n, double p)
{
	double h = p * (double)(n - 1);
	size_t lo = (size_t)h;

	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

void scr_robust(double *v, size_t n, double *median, double *sigma)
{
	qsort(v, n, sizeof(*v), cmp_double);
	/* type 7 at p = 0.5 is the median (the mean of the middle two) */
	*median = scr_quantile(v, n, 0.5);
	*sigma = (scr_quantile(v, n, 0.75) - scr_quantile(v, n, 0.25)) / 1.349;
}

int scr_gdbn_count(const int *x, const int *y, const int *bad, size_t n,
		   int size, int *out)
{
	int x0, x1, y0, y1, w, h, r = size / 2;
	int *grid = NULL;   /* -1 no die, 0 good, 1 bad */
	size_t i;

	if (n == 0)
		return 0;
	x0 = x1 = x[0];
	y0 = y1 = y[0];
	for (i = 1; i < n; i++) {
		x0 = x[i] < x0 ? x[i] : x0;
		x1 = x[i] > x1 ? x[i] : x1;
		y0 = y[i] < y0 ? y[i] : y0;
		y1 = y[i] > y1 ? y[i] : y1;
	}
	/* a border of r around the map: no bounds test per neighbour */
	w = x1 - x0 + 1 + 2 * r;
	h = y1 - y0 + 1 + 2 * r;
	grid = malloc((size_t)w * (size_t)h * sizeof(*grid));
	if (!grid)
		return -1;
	for (i = 0; i < (size_t)w * (size_t)h; i++)
		grid[i] = -1;
	for (i = 0; i < n; i++)
		grid[(size_t)(y[i] - y0 + r) * (size_t)w + (size_t)(x[i] - x0 + r)] =
			bad[i] != 0;
	for (i = 0; i < n; i++) {
		int cx = x[i] - x0 + r, cy = y[i] - y0 + r, count = 0;

		if (bad[i]) {
			out[i] = -1;
			continue;
		}
		for (int dy = -r; dy <= r; dy++)
			for (int dx = -r; dx <= r; dx++)
				if ((dx || dy) && grid[(cy + dy) * w + cx + dx] == 1)
					count++;
		out[i] = count;
	}
	free(grid);
	return 0;
}
