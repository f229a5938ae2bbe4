/*
 * station/analysis.c - the formulas of derived values (analysis.h): line
 * fits, an LIV curve's threshold, slope, kink and series resistance,
 * responsivity, and a ring's resonance and its shift per heater mW.
 *
 * Invariant: pure functions of their arrays; what the points cannot
 * support is NAN (analysis.h says why).
 */
#include "analysis.h"

#include <math.h>

int anl_linfit(const double *x, const double *y, size_t n, double *a,
	       double *b)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, mx, my, d;

	*a = *b = NAN;
	if (n < 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
	}
	mx = sx / (double)n;
	my = sy / (double)n;
	/* Centred sums: a sweep in amperes around 50 mA keeps its precision. */
	for (size_t i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * (y[i] - my);
	}
	d = sxx;
	if (!(d > 0))
		return -1;
	*b = sxy / d;
	*a = my - *b * mx;
	return 0;
}

/* How much of the points' spread the line a + b x explains (1 - SSres /
 * SStot): a dark laser's noise fits no line, a lasing one fits it well. */
static double r_squared(const double *x, const double *y, size_t n, double a,
			double b)
{
	double my = 0, res = 0, tot = 0;

	for (size_t i = 0; i < n; i++)
		my += y[i] / (double)n;
	for (size_t i = 0; i < n; i++) {
		res += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
		tot += (y[i] - my) * (y[i] - my);
	}
	return tot > 0 ? 1.0 - res / tot : 0.0;
}

/* The largest relative deviation of the point-to-point slope from the
 * mean of the slopes before it, over points [lo, hi], percent; NAN with
 * fewer than three points (two slopes). */
static double kink_pct(const double *i_a, const double *p_w, size_t lo,
		       size_t hi)
{
	double sum = 0, worst = 0;
	size_t k = 0;

	if (hi < lo + 2)
		return NAN;
	for (size_t j = lo; j < hi; j++, k++) {
		double di = i_a[j + 1] - i_a[j];
		double d;

		if (!(di > 0))
			return NAN;
		d = (p_w[j + 1] - p_w[j]) / di;
		if (k > 0) {
			double mean = sum / (double)k;
			double dev = mean > 0 ? fabs(d - mean) / mean * 100.0 : NAN;

			if (isnan(dev))
				return NAN;
			if (dev > worst)
				worst = dev;
		}
		sum += d;
	}
	return worst;
}

int anl_liv_fit(const double *i_a, const double *p_w, const double *v_v,
		size_t n, anl_liv *out)
{
	size_t peak = 0, lo, hi, below = 0;
	double pmax, a, b;

	out->lasing = 0;
	out->ith_a = out->slope_w_a = out->kink_pct = out->rs_ohm = NAN;
	out->fit_first = out->fit_n = 0;
	if (!i_a || !p_w || n == 0)
		return -1;
	for (size_t j = 1; j < n; j++)
		if (p_w[j] > p_w[peak])
			peak = j;
	pmax = p_w[peak];
	if (pmax > 0 && n >= 2) {
		/* The fit range: after the last point under 10 % of the peak
		 * (before it), up to the last point under 50 % - or to the peak
		 * itself when only one point sits in between (a coarse sweep).
		 * The lower half of the lasing range keeps rollover and a kink
		 * higher up out of the threshold. */
		lo = 0;
		for (size_t j = 0; j <= peak; j++)
			if (p_w[j] < 0.1 * pmax)
				lo = j + 1;
		hi = lo;
		while (hi + 1 <= peak && p_w[hi + 1] <= 0.5 * pmax)
			hi++;
		if (hi <= lo)
			hi = peak;
		if (hi > lo && lo <= peak &&
		    anl_linfit(i_a + lo, p_w + lo, hi - lo + 1, &a, &b) == 0 &&
		    b > 0 && r_squared(i_a + lo, p_w + lo, hi - lo + 1, a, b) >= 0.9) {
			double ith = -a / b, al, bl;

			while (below < n && i_a[below] < ith)
				below++;
			/* Below threshold: a spontaneous slope close to the
			 * lasing one means no threshold at all (an LED). */
			if (ith >= i_a[0] && ith <= i_a[n - 1] && below >= 2 &&
			    anl_linfit(i_a, p_w, below, &al, &bl) == 0 &&
			    bl * 3.0 <= b) {
				size_t khi = lo;

				out->lasing = 1;
				out->ith_a = ith;
				out->slope_w_a = b;
				out->fit_first = lo;
				out->fit_n = hi - lo + 1;
				/* Kinks over the lasing range below 90 % of the
				 * peak: rollover is not a kink. */
				while (khi + 1 <= peak && p_w[khi + 1] <= 0.9 * pmax)
					khi++;
				out->kink_pct = kink_pct(i_a, p_w, lo, khi);
			}
		}
	}
	if (v_v) {
		size_t first = n / 2;

		if (out->lasing) {
			first = 0;
			while (first < n && i_a[first] < out->ith_a)
				first++;
		}
		if (n - first >= 2 &&
		    anl_linfit(i_a + first, v_v + first, n - first, &a, &b) == 0)
			out->rs_ohm = b;
	}
	return out->lasing;
}

double anl_responsivity(double i_photo_a, double i_dark_a, double p_opt_w)
{
	if (!(p_opt_w > 0) || isnan(i_photo_a) || isnan(i_dark_a))
		return NAN;
	return fabs(fabs(i_photo_a) - fabs(i_dark_a)) / p_opt_w;
}

double anl_resonance_nm(const double *wl_nm, const double *t, size_t n)
{
	size_t m = 0;
	double x0, x1, x2, y0, y1, y2, den, qa, qb;

	if (n < 3)
		return NAN;
	for (size_t j = 1; j < n; j++)
		if (t[j] < t[m])
			m = j;
	if (m == 0 || m == n - 1)
		return NAN;
	x0 = wl_nm[m - 1], x1 = wl_nm[m], x2 = wl_nm[m + 1];
	y0 = t[m - 1], y1 = t[m], y2 = t[m + 1];
	den = (x0 - x1) * (x0 - x2) * (x1 - x2);
	if (den == 0)
		return x1;
	qa = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den;
	qb = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den;
	if (!(qa > 0))
		return x1;
	return -qb / (2 * qa);
}

double anl_dip_x(const double *x, const double *y, size_t n, double depth_db)
{
	size_t m = 0, top = 0;
	double base, z[3];

	if (n < 3 || !x || !y)
		return NAN;
	for (size_t j = 1; j < n; j++) {
		if (y[j] < y[m])
			m = j;
		if (y[j] > y[top])
			top = j;
	}
	base = y[top];
	if (!(base > 0) || !(y[m] <= base * pow(10.0, -depth_db / 10.0)) || m == 0 ||
	    m == n - 1)
		return NAN;
	for (int k = 0; k < 3; k++) {
		double d = base - y[m - 1 + k];

		/* A neighbour at the baseline: a dip one point wide, no shape
		 * to fit; the plain parabola through the three readings. */
		if (!(d > 0))
			return anl_resonance_nm(x + m - 1, y + m - 1, 3);
		z[k] = 1.0 / d;
	}
	return anl_resonance_nm(x + m - 1, z, 3);
}

double anl_shift_nm_per_mw(const double *p_mw, const double *res_nm, size_t n)
{
	double x[64], y[64], a, b;
	size_t k = 0;

	for (size_t j = 0; j < n && k < 64; j++)
		if (isfinite(p_mw[j]) && isfinite(res_nm[j])) {
			x[k] = p_mw[j];
			y[k++] = res_nm[j];
		}
	if (anl_linfit(x, y, k, &a, &b) != 0)
		return NAN;
	return b;
}

double anl_peak_vertex(const double *x, const double *y, size_t n)
{
	double mx = 0, s[5] = {0}, t[3] = {0}, m[3][4], c;

	if (n < 3)
		return NAN;
	for (size_t i = 0; i < n; i++)
		mx += x[i] / (double)n;
	/* Normal equations in u = x - mean (well conditioned), by Gauss
	 * elimination with partial pivoting on the 3 x 3 system. */
	for (size_t i = 0; i < n; i++) {
		double u = x[i] - mx, p = 1;

		for (int k = 0; k < 5; k++, p *= u)
			s[k] += p;
		t[0] += y[i];
		t[1] += y[i] * u;
		t[2] += y[i] * u * u;
	}
	for (int r = 0; r < 3; r++) {
		for (int k = 0; k < 3; k++)
			m[r][k] = s[r + k];
		m[r][3] = t[r];
	}
	for (int col = 0; col < 3; col++) {
		int piv = col;

		for (int r = col + 1; r < 3; r++)
			if (fabs(m[r][col]) > fabs(m[piv][col]))
				piv = r;
		if (!(fabs(m[piv][col]) > 1e-300))
			return NAN;
		for (int k = 0; k < 4; k++) {
			double tmp = m[col][k];

			m[col][k] = m[piv][k];
			m[piv][k] = tmp;
		}
		for (int r = 0; r < 3; r++) {
			double f;

			if (r == col)
				continue;
			f = m[r][col] / m[col][col];
			for (int k = col; k < 4; k++)
				m[r][k] -= f * m[col][k];
		}
	}
	c = m[2][3] / m[2][2];
	if (!(c < 0))
		return NAN;
	return mx - (m[1][3] / m[1][1]) / (2 * c);
}
