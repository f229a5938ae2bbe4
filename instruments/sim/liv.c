/*
 * instruments/sim/liv.c - the model of an ELSFP laser driven by a
 * source-measure unit: its light-current-voltage law (threshold, slope
 * efficiency, an optional kink, series resistance) and the LIV ground
 * truth.
 *
 * Invariant: as in model.c, every value is a pure function of (parameters,
 * unit, laser); the law meets the module's own model at nominal bias (the
 * power there is sim_laser_mean_dbm), so a kinked laser reads exactly as
 * any other in the power-at-bias sequences and shows only in an LIV.
 */
#include "model.h"

#include <math.h>

enum {
	TAG_KINK = 0x4b494e4b,    /* "KINK" */
	TAG_KINKL = 0x4b4e4b4c,   /* "KNKL" */
	TAG_ITH = 0x49544820,     /* "ITH " */
	TAG_RS = 0x52532020,      /* "RS  " */
};

#define SPONT 1e-3        /* spontaneous emission at threshold, as a
                             fraction of the lasing slope x threshold */
#define KNEE_V 0.95       /* the junction's forward voltage */
#define KNEE_A 1e-3       /* the current over which the junction turns on */
#define KINK_AT 0.6       /* the kink sits this far from threshold to bias */

static double gauss_at(uint64_t key, uint64_t tag, uint64_t a, uint64_t b)
{
	uint64_t s = sim_hash(key, tag, a, b, 0);

	return sim_gauss(&s);
}

int sim_unit_kinked_laser(const sim_model *m, int unit)
{
	if (m->p.product != SIM_PRODUCT_ELSFP ||
	    sim_uniform(sim_hash(m->key, TAG_KINK, (uint64_t)unit, 0, 0)) >=
	    m->p.kinked_laser_fraction)
		return 0;
	return 1 + (int)(sim_hash(m->key, TAG_KINKL, (uint64_t)unit, 0, 0) %
			 (uint64_t)sim_unit_channels(m, unit));
}

void sim_laser_liv(const sim_model *m, int unit, int laser, sim_liv *out)
{
	const sim_model_params *p = &m->p;
	uint64_t u = (uint64_t)unit, l = (uint64_t)laser;
	double bias, p_bias, span;
	sim_laser r;

	sim_laser_read(m, unit, laser, 0, &r);   /* bias does not vary per read */
	bias = r.bias_ma * 1e-3;
	p_bias = 1e-3 * pow(10.0, sim_laser_mean_dbm(m, unit, laser, 0) / 10.0);
	out->ith_a = 1e-3 * (p->ith_ma + p->ith_sigma_ma * gauss_at(m->key, TAG_ITH, u, l));
	out->rs_ohm = p->rs_ohm + p->rs_sigma_ohm * gauss_at(m->key, TAG_RS, u, l);
	span = bias - out->ith_a;
	if (sim_unit_kinked_laser(m, unit) == laser) {
		/* The slope drops at the kink; the slope before it is what
		 * keeps the power at bias where the module's model has it. */
		out->kink_a = out->ith_a + KINK_AT * span;
		out->slope_w_a = p_bias / (KINK_AT * span +
					   (1.0 - p->kink_slope_drop) * (1.0 - KINK_AT) * span);
		out->slope2_w_a = (1.0 - p->kink_slope_drop) * out->slope_w_a;
	} else {
		out->kink_a = INFINITY;
		out->slope_w_a = out->slope2_w_a = p_bias / span;
	}
}

double sim_liv_power_w(const sim_liv *l, double amps)
{
	double w;

	if (!(amps > 0))
		return 0.0;
	if (amps <= l->ith_a)
		return SPONT * l->slope_w_a * amps;
	w = SPONT * l->slope_w_a * l->ith_a +
	    l->slope_w_a * (fmin(amps, l->kink_a) - l->ith_a);
	if (amps > l->kink_a)
		w += l->slope2_w_a * (amps - l->kink_a);
	return w;
}

double sim_liv_volts(const sim_liv *l, double amps)
{
	if (!(amps > 0))
		return amps * 1e9;   /* reverse: a 1 GOhm leak */
	return KNEE_V * (1.0 - exp(-amps / KNEE_A)) + l->rs_ohm * amps;
}

double sim_liv_amps(const sim_liv *l, double volts)
{
	double lo = 0, hi = 2.0;

	if (!(volts > 0))
		return volts / 1e9;
	/* Monotonic in the current: bisection to well below a pA. */
	for (int i = 0; i < 80; i++) {
		double mid = 0.5 * (lo + hi);

		if (sim_liv_volts(l, mid) < volts)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

int sim_truth_liv(const sim_model *m, const sim_limits *lim, int unit)
{
	int kinked = sim_unit_kinked_laser(m, unit);

	if (m->p.product != SIM_PRODUCT_ELSFP)
		return 0;
	for (int laser = 1; laser <= sim_unit_channels(m, unit); laser++) {
		sim_liv l;
		double ith_ma;

		sim_laser_liv(m, unit, laser, &l);
		ith_ma = l.ith_a * 1e3;
		/* A kinked laser's slope drops by kink_slope_drop at the kink:
		 * that is its kink figure; any other laser's is ~0 (noise). */
		if (ith_ma < lim->ith_low_ma || ith_ma > lim->ith_high_ma ||
		    l.slope_w_a < lim->slope_low_w_a ||
		    (laser == kinked && m->p.kink_slope_drop * 100.0 > lim->kink_max_pct) ||
		    l.rs_ohm < lim->rs_low_ohm || l.rs_ohm > lim->rs_high_ohm)
			return 0;
	}
	return 1;
}
