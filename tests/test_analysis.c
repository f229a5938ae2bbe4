/*
 * tests/test_analysis.c - the derived-value formulas (station/analysis.c)
 * against hand-computed curves with known answers: an ideal laser, the
 * same with noise, a kinked one, a saturating one, one that never lases,
 * an LED-like ramp, a single point; responsivity, a ring's resonance and
 * its shift per heater mW.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <string.h>

#include "analysis.h"

#define NP 13   /* 0..60 mA in 5 mA steps */

static void sweep(double *i_a)
{
	for (int k = 0; k < NP; k++)
		i_a[k] = 0.005 * k;
}

/* P = 0.25 W/A above 12 mA, nothing below; V = 0.9 V + 5 ohm x I. */
static void ideal(double *i_a, double *p_w, double *v_v)
{
	sweep(i_a);
	for (int k = 0; k < NP; k++) {
		p_w[k] = i_a[k] > 0.012 ? 0.25 * (i_a[k] - 0.012) : 0.0;
		v_v[k] = 0.9 + 5.0 * i_a[k];
	}
}

static void test_linfit(void)
{
	double x[] = {1, 2, 3, 4}, y[] = {3, 5, 7, 9}, a, b;

	CU_ASSERT_EQUAL(anl_linfit(x, y, 4, &a, &b), 0);
	CU_ASSERT_DOUBLE_EQUAL(a, 1.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(b, 2.0, 1e-12);
	CU_ASSERT_EQUAL(anl_linfit(x, y, 1, &a, &b), -1);
	CU_ASSERT(isnan(a) && isnan(b));
	x[1] = x[0];
	CU_ASSERT_EQUAL(anl_linfit(x, y, 2, &a, &b), -1);   /* one current */
}

static void test_liv_ideal(void)
{
	double i[NP], p[NP], v[NP];
	anl_liv r;

	ideal(i, p, v);
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 1);
	CU_ASSERT_DOUBLE_EQUAL(r.ith_a, 0.012, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.slope_w_a, 0.25, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.kink_pct, 0.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.rs_ohm, 5.0, 1e-9);
	/* Peak 12 mW: 10 % = 1.2 mW puts the first fitted point at 20 mA
	 * (2 mW), 50 % = 6 mW the last at 35 mA (5.75 mW). */
	CU_ASSERT_EQUAL(r.fit_first, 4);
	CU_ASSERT_EQUAL(r.fit_n, 4);
}

static void test_liv_noisy(void)
{
	/* A fixed pattern of +-0.5 % of the peak (60 uW) on every point. */
	static const double noise[NP] = {1, -1, 0.5, -0.5, 1, -1, 1, -0.5,
					 0.5, -1, 1, -1, 0.5};
	double i[NP], p[NP], v[NP];
	anl_liv r;

	ideal(i, p, v);
	for (int k = 0; k < NP; k++) {
		p[k] += 60e-6 * noise[k];
		if (p[k] < 0)
			p[k] = 0;
		v[k] += 0.002 * noise[k];
	}
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 1);
	/* Four points in the fit (20..35 mA), each off by up to 60 uW: the
	 * line can tilt by (2 x 60 uW) / 15 mA = 8 mW/A at most, so 3.2 % of
	 * the slope and, pivoting in the range, ~0.5 mA of threshold. */
	CU_ASSERT_DOUBLE_EQUAL(r.ith_a, 0.012, 0.0005);
	CU_ASSERT_DOUBLE_EQUAL(r.slope_w_a, 0.25, 0.25 * 0.032);
	CU_ASSERT_DOUBLE_EQUAL(r.rs_ohm, 5.0, 0.25);
	/* Noise alone moves dP/dI by up to (2 x 60 uW / 5 mA) / 0.25 W/A =
	 * 9.6 % per step against a running mean that wobbles too (21 % here):
	 * a kink limit has to sit above the noise of the sweep, and the
	 * 40 % kink below stands out of it. */
	CU_ASSERT(r.kink_pct > 5 && r.kink_pct < 30);
}

static void test_liv_kinked(void)
{
	double i[NP], p[NP], v[NP];
	anl_liv r;

	ideal(i, p, v);
	/* Slope 0.25 W/A to 40 mA, 0.15 W/A after: the first slope after the
	 * kink (0.15) against the mean of the four before it (0.25) is 40 %. */
	for (int k = 0; k < NP; k++)
		if (i[k] > 0.040)
			p[k] = 0.25 * 0.028 + 0.15 * (i[k] - 0.040);
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 1);
	CU_ASSERT_DOUBLE_EQUAL(r.kink_pct, 40.0, 1e-9);
	/* The kink (at 70 % of the peak) stays out of the threshold's line. */
	CU_ASSERT_DOUBLE_EQUAL(r.ith_a, 0.012, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.slope_w_a, 0.25, 1e-12);
}

static void test_liv_saturating(void)
{
	/* Linear to 40 mA, then 0.10, 0.05, 0.02, 0 W/A: the thermal rollover
	 * lies above 50 % of the peak, so the line is the linear part's. */
	static const double top[] = {0.10, 0.05, 0.02, 0.0};
	double i[NP], p[NP], v[NP];
	anl_liv r;

	ideal(i, p, v);
	for (int k = 9; k < NP; k++)
		p[k] = p[k - 1] + top[k - 9] * 0.005;
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 1);
	CU_ASSERT_DOUBLE_EQUAL(r.ith_a, 0.012, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.slope_w_a, 0.25, 1e-12);
	CU_ASSERT_EQUAL(r.fit_first, 4);
	CU_ASSERT_EQUAL(r.fit_n, 2);   /* 20..25 mA: 50 % of 7.85 mW */
}

static void test_liv_no_lasing(void)
{
	double i[NP], p[NP], v[NP];
	anl_liv r;

	/* Dark: nothing at all. */
	ideal(i, p, v);
	memset(p, 0, sizeof(p));
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 0);
	CU_ASSERT(isnan(r.ith_a) && isnan(r.slope_w_a) && isnan(r.kink_pct));
	CU_ASSERT_DOUBLE_EQUAL(r.rs_ohm, 5.0, 1e-9);   /* the IV still says */
	/* Dark with the meter's noise floor: no line explains it. */
	for (int k = 0; k < NP; k++)
		p[k] = 1e-9 * (1.0 + ((k * 7) % 5));
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 0);
	CU_ASSERT(isnan(r.ith_a));
	/* An LED-like ramp from zero current: no threshold. */
	for (int k = 0; k < NP; k++)
		p[k] = 1e-3 * i[k];
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 0);
	CU_ASSERT(isnan(r.ith_a));
	/* Threshold above the sweep: the last point is still dark. */
	for (int k = 0; k < NP; k++)
		p[k] = i[k] > 0.070 ? 0.25 * (i[k] - 0.070) : 0;
	CU_ASSERT_EQUAL(anl_liv_fit(i, p, v, NP, &r), 0);
}

static void test_liv_single_point(void)
{
	double i = 0.05, p = 0.01, v = 1.2;
	anl_liv r;

	CU_ASSERT_EQUAL(anl_liv_fit(&i, &p, &v, 1, &r), 0);
	CU_ASSERT(isnan(r.ith_a) && isnan(r.slope_w_a) && isnan(r.kink_pct) &&
		  isnan(r.rs_ohm));
	CU_ASSERT_EQUAL(anl_liv_fit(&i, &p, &v, 0, &r), -1);
	CU_ASSERT_EQUAL(anl_liv_fit(NULL, &p, &v, 1, &r), -1);
}

static void test_responsivity(void)
{
	/* 0.8 mA of photocurrent (negative: reverse bias) on 1 mW, 1 nA dark. */
	CU_ASSERT_DOUBLE_EQUAL(anl_responsivity(-0.8e-3, -1e-9, 1e-3),
			       0.799999, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(anl_responsivity(0.5e-3, 0, 1e-3), 0.5, 1e-12);
	CU_ASSERT(isnan(anl_responsivity(-0.8e-3, 0, 0)));
	CU_ASSERT(isnan(anl_responsivity(NAN, 0, 1e-3)));
}

static void test_resonance(void)
{
	double wl[11], t[11];

	/* A parabolic dip centred off the grid at 1310.013 nm. */
	for (int k = 0; k < 11; k++) {
		wl[k] = 1309.95 + 0.01 * k;
		t[k] = 0.1 + 50.0 * (wl[k] - 1310.013) * (wl[k] - 1310.013);
	}
	CU_ASSERT_DOUBLE_EQUAL(anl_resonance_nm(wl, t, 11), 1310.013, 1e-6);
	/* The dip outside the scan: its minimum at an end. */
	CU_ASSERT(isnan(anl_resonance_nm(wl, t, 5)));
	CU_ASSERT(isnan(anl_resonance_nm(wl, t, 2)));
}

static void test_shift(void)
{
	double p[] = {0, 5, 10, 15, 20}, res[5];

	for (int k = 0; k < 5; k++)
		res[k] = 1310.0 + 0.25 * p[k];
	CU_ASSERT_DOUBLE_EQUAL(anl_shift_nm_per_mw(p, res, 5), 0.25, 1e-12);
	res[2] = NAN;   /* a point whose resonance was out of the scan */
	CU_ASSERT_DOUBLE_EQUAL(anl_shift_nm_per_mw(p, res, 5), 0.25, 1e-12);
	CU_ASSERT(isnan(anl_shift_nm_per_mw(p, res, 1)));
}

/* A Lorentzian through-port dip sampled every 0.5 mW, its width 0.8 mW:
 * the 1/(baseline - y) parabola puts the centre within 0.005 mW wherever
 * it falls between two points (a parabola through the raw readings is
 * off by up to 0.07 mW here). A flat scan (an open heater) and a dip at
 * the scan's end have no centre. */
static void test_dip(void)
{
	double x[20], y[20];

	for (double c = 2.0; c <= 2.5; c += 0.05) {
		for (int k = 0; k < 20; k++) {
			double u = 2.0 * (0.5 * k - c) / 0.8;

			x[k] = 0.5 * k;
			y[k] = 1e-3 * (1.0 - (1.0 - 0.0316) / (1.0 + u * u));
		}
		CU_ASSERT_DOUBLE_EQUAL(anl_dip_x(x, y, 20, 3.0), c, 0.005);
	}
	CU_ASSERT(isnan(anl_dip_x(x, y, 20, 20.0)));   /* shallower than asked */
	CU_ASSERT(isnan(anl_dip_x(x, y, 5, 3.0)));     /* dip at the scan's end */
	CU_ASSERT(isnan(anl_dip_x(x, y, 2, 3.0)));
	for (int k = 0; k < 20; k++)
		y[k] = 1e-3 * (1.0 + 0.004 * ((k * 7) % 5 - 2));  /* noise, no dip */
	CU_ASSERT(isnan(anl_dip_x(x, y, 20, 3.0)));
}

static void test_peak_vertex(void)
{
	/* A Gaussian coupling of mode radius 5 um centred at 1.3 um, in dB:
	 * -10 / ln 10 x (x - 1.3)^2 / 25, a parabola with its top there. */
	double x[5] = {-1, 0, 1, 2, 3}, y[5];

	for (int k = 0; k < 5; k++)
		y[k] = -4.5 - 10.0 / log(10.0) * (x[k] - 1.3) * (x[k] - 1.3) / 25.0;
	CU_ASSERT_DOUBLE_EQUAL(anl_peak_vertex(x, y, 5), 1.3, 1e-9);
	/* A valley, a line, too few points: no peak. */
	for (int k = 0; k < 5; k++)
		y[k] = x[k] * x[k];
	CU_ASSERT(isnan(anl_peak_vertex(x, y, 5)));
	for (int k = 0; k < 5; k++)
		y[k] = 2 * x[k];
	CU_ASSERT(isnan(anl_peak_vertex(x, y, 5)));
	CU_ASSERT(isnan(anl_peak_vertex(x, y, 2)));
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("analysis", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "line fit", test_linfit);
	CU_add_test(s, "LIV: ideal laser", test_liv_ideal);
	CU_add_test(s, "LIV: noisy laser", test_liv_noisy);
	CU_add_test(s, "LIV: kinked laser", test_liv_kinked);
	CU_add_test(s, "LIV: saturating laser", test_liv_saturating);
	CU_add_test(s, "LIV: no lasing", test_liv_no_lasing);
	CU_add_test(s, "LIV: single point", test_liv_single_point);
	CU_add_test(s, "responsivity", test_responsivity);
	CU_add_test(s, "ring resonance", test_resonance);
	CU_add_test(s, "resonance shift per mW", test_shift);
	CU_add_test(s, "ring dip centre (Lorentzian)", test_dip);
	CU_add_test(s, "peak vertex (fiber alignment)", test_peak_vertex);
	return 0;
}
