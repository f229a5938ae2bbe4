/*
 * screen/scr_int.h - what scr.c (the front) calls below it: the
 * arithmetic of scr_stat.c (not installed; tests reach it through
 * scr_run, on real databases).
 */
#ifndef KGD_SCR_INT_H
#define KGD_SCR_INT_H

#include "scr.h"

/* Quantile p (0..1) of sorted v[0..n-1], linear between closest ranks
 * (Hyndman-Fan type 7: Python's statistics.quantiles(method='inclusive'),
 * numpy's default). n >= 1. */
double scr_quantile(const double *sorted, size_t n, double p);

/* Robust centre and spread of v (sorted in place): median, and
 * IQR / 1.349 (the sigma of a normal distribution with that IQR). */
void scr_robust(double *v, size_t n, double *median, double *sigma);

/* GDBN on one wafer: dies at (x[i], y[i]), bad[i] nonzero for a failing
 * die. For every good die, out[i] = how many of its existing neighbours
 * (within the size x size window, size 3 or 5) are bad; -1 for a bad die.
 * A position without a die is not a neighbour (edge dies count only the
 * dies they have). 0, or -1 if out of memory. */
int scr_gdbn_count(const int *x, const int *y, const int *bad, size_t n,
		   int size, int *out);

#endif
