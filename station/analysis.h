/*
 * station/analysis.h - the formulas behind derived values: what a laser's
 * light-current-voltage sweep, a photodiode's photocurrent and a ring
 * heater's tuning sweep reduce to (threshold current, slope efficiency,
 * kink, series resistance, responsivity, resonance shift per mW).
 *
 * Pure functions on arrays in SI units (A, W, V, nm, mW): no I/O, no
 * state, no knowledge of steps or instruments, so each formula is checked
 * on its own against hand-computed curves (tests/test_analysis.c) and the
 * operations (ops_smu.c) only feed it the raw points they logged.
 *
 * Invariant: a value the points cannot support (a single point, a laser
 * that does not lase, no optical power) is NAN, never a guess - a NAN
 * fails every limit as "no valid value", so a part with too little data
 * fails instead of passing on an invented number. docs/SEQUENCES.md
 * ("Derived values") gives each formula in words.
 */
#ifndef KGD_ANALYSIS_H
#define KGD_ANALYSIS_H

#include <stddef.h>

/* Least-squares straight line y = a + b x through points [first, first+n)
 * of x/y. 0, or -1 (and a = b = NAN) with fewer than 2 points or all x
 * equal. */
int anl_linfit(const double *x, const double *y, size_t n, double *a,
	       double *b);

/* What an LIV sweep reduces to; NAN where the sweep cannot say. */
typedef struct anl_liv {
	int lasing;           /* 1: a threshold was found (see anl_liv_fit) */
	double ith_a;         /* threshold current: the fit of the lasing
	                         range crossing zero power */
	double slope_w_a;     /* slope efficiency dP/dI of that fit, W/A */
	double kink_pct;      /* largest |dP/dI - running mean| / running mean
	                         over the lasing range, percent */
	double rs_ohm;        /* series resistance dV/dI above threshold */
	size_t fit_first, fit_n;   /* the points (by index) the line used */
} anl_liv;

/* Fit an LIV sweep of n points in increasing current: i_a (A), p_w (W),
 * v_v (V; may be NULL: no series resistance). The line is fitted to the
 * points from 10 % to 50 % of the peak power (so the spontaneous tail, a
 * kink higher up and thermal rollover stay out of it; up to the peak
 * when fewer than two points lie there); at least two are needed. The
 * kink is looked for from the first fitted point up to 90 % of the
 * peak. A laser lases when the line's slope is positive, it
 * explains the range (R^2 >= 0.9: noise fits no line), its zero crossing
 * lies inside the swept currents with at least two points below it, and
 * it is at least 3 x the slope of those points (an LED-like ramp is not
 * lasing).
 * Returns 1 lasing, 0 not (ith, slope, kink NAN; rs from the upper half of
 * the points when there are two), -1 bad input (n == 0 or NULL arrays). */
int anl_liv_fit(const double *i_a, const double *p_w, const double *v_v,
		size_t n, anl_liv *out);

/* Photodiode responsivity (i_photo - i_dark) / p_opt, A/W: NAN when the
 * optical power is not positive. i_dark may be 0 (none measured). Sign:
 * the magnitude of the photocurrent (a reverse-biased diode's current is
 * negative in the SMU's sign convention). */
double anl_responsivity(double i_photo_a, double i_dark_a, double p_opt_w);

/* Wavelength of the transmission minimum of a ring's through port: the
 * lowest point of t over wl (n >= 3, wl increasing), refined by the
 * parabola through it and its neighbours. NAN with fewer than 3 points or
 * a minimum at either end of the scan (the resonance is outside it). */
double anl_resonance_nm(const double *wl_nm, const double *t, size_t n);

/* Where along x a ring's through-port scan y (n >= 3 points, x
 * increasing: heater power, or wavelength) dips: the lowest point, when it
 * lies at least depth_db below the scan's highest (its baseline), refined
 * by the parabola through it and its neighbours of 1 / (baseline - y) - a
 * Lorentzian dip A / (1 + u^2) below the baseline is exactly a parabola
 * there, so the vertex is its centre even when the points are spaced a
 * dip's width apart. NAN with no such dip (a ring that never reaches the
 * light) or one at either end of the scan. */
double anl_dip_x(const double *x, const double *y, size_t n, double depth_db);

/* Resonance shift per heater power: the slope of the resonance wavelength
 * against heater power, nm/mW (least squares over the finite points); NAN
 * with fewer than 2 finite points. */
double anl_shift_nm_per_mw(const double *p_mw, const double *res_nm, size_t n);

/* The vertex of the least-squares parabola y = a + b x + c x^2 through n
 * points (n >= 3, at least three distinct x): -b / 2c. NAN when c >= 0
 * (no maximum) or the points cannot fix it. A Gaussian coupling in dB is
 * exactly such a parabola of the offset, so the vertex of a few readings
 * in dB across the peak is the coupler's centre, the readings' noise
 * averaged out. */
double anl_peak_vertex(const double *x, const double *y, size_t n);

#endif
