/*
 * instruments/sim/pdring.c - the photodiode and the heated ring resonator
 * of every port of the virtual station's TeraPHY dies (--pd-ring): what a
 * source-measure unit on a photodiode or a ring heater sees, and which
 * die of each wafer carries the leaky photodiode and the open heater.
 *
 * Physics, deliberately small: a photodiode is an ideal diode with a
 * saturation (dark) current, a shunt resistance and a photocurrent of
 * responsivity x the light the port delivers; a ring's through port is a
 * Lorentzian dip whose centre moves red by shift_nm_mw per mW of heater
 * power; a heater is a resistor. Numbers: docs/VIRTUAL_STATION.md.
 *
 * Invariant: as model.c, pure functions of (parameters, wafer, die, port);
 * with pd_ring off nothing here is reached, so the other sequences see
 * the dies they always saw. A good part's values lie inside the default
 * sort limits by construction (every spread a 6-sigma-cut gaussian well
 * inside them) and a planted defect far outside, so the sort's bins are
 * exact.
 */
#include "model.h"

#include <math.h>

enum {
	TAG_LEAKY = 0x4c45414b,   /* "LEAK" */
	TAG_HEATR = 0x48545220,   /* "HTR " */
	TAG_RESP = 0x52455350,    /* "RESP" */
	TAG_DARK = 0x4441524b,    /* "DARK" */
	TAG_RING = 0x52494e47,    /* "RING" */
	TAG_SHIFT = 0x53484654,   /* "SHFT" */
	TAG_HOHM = 0x484f484d,    /* "HOHM" */
};

#define VT 0.02585         /* thermal voltage at 300 K */
#define OPEN_OHM 1e9       /* an open heater: the probe's leakage only */

static uint64_t die_key(int slot, int col, int row)
{
	return ((uint64_t)slot << 32) | ((uint64_t)col << 16) | (uint64_t)row;
}

static double gauss_at(const sim_model *m, uint64_t tag, int slot, int col,
		       int row, int port)
{
	uint64_t s = sim_hash(m->key, tag, die_key(slot, col, row), (uint64_t)port, 0);

	return sim_gauss(&s);
}

/* A die of wafer `slot` for a planted defect: from a seeded start along
 * the route, the first die with no other defect, not the coupler die and
 * not `exclude`, so the defect is what bins it. */
static int plant(const sim_model *m, int slot, uint64_t tag, int exclude, int *port)
{
	int n = m->n_dies, start, coupler = sim_planted_die(m, slot);

	*port = 0;
	if (!m->p.pd_ring || n <= 0)
		return -1;
	start = (int)(sim_hash(m->key, tag, (uint64_t)slot, 0, 0) % (uint64_t)n);
	for (int j = 0; j < n; j++) {
		int i = (start + j) % n;

		if (i == coupler || i == exclude ||
		    sim_die_defect(m, slot, m->route[i][0], m->route[i][1], NULL, NULL) !=
		    SIM_DEFECT_NONE)
			continue;
		*port = 1 + (int)(sim_hash(m->key, tag, (uint64_t)slot, 1, 0) %
				  (uint64_t)m->p.die_ports);
		return i;
	}
	return -1;
}

int sim_planted_leaky_pd(const sim_model *m, int slot, int *port)
{
	return plant(m, slot, TAG_LEAKY, -1, port);
}

int sim_planted_dead_heater(const sim_model *m, int slot, int *port)
{
	int leaky_port;

	return plant(m, slot, TAG_HEATR, sim_planted_leaky_pd(m, slot, &leaky_port), port);
}

/* Is port `port` of the die the planted one of kind `which`? */
static int planted_here(const sim_model *m, int slot, int col, int row, int port,
			int (*which)(const sim_model *, int, int *))
{
	int p, i = which(m, slot, &p);

	return i >= 0 && i == sim_die_index(m, col, row) && p == port;
}

void sim_die_pd(const sim_model *m, int slot, int col, int row, int port, sim_pd *out)
{
	const sim_model_params *p = &m->p;

	out->resp_a_w = p->pd_resp_a_w +
			p->pd_resp_sigma_a_w * gauss_at(m, TAG_RESP, slot, col, row, port);
	out->dark_a = p->pd_dark_a * exp(p->pd_dark_sigma *
					  gauss_at(m, TAG_DARK, slot, col, row, port));
	out->shunt_ohm = planted_here(m, slot, col, row, port, sim_planted_leaky_pd)
			 ? p->leaky_shunt_ohm : p->pd_shunt_ohm;
}

double sim_pd_amps(const sim_pd *pd, double volts, double photo_a)
{
	/* The exponent is capped: far forward the SMU's compliance rules. */
	return pd->dark_a * expm1(fmin(volts / VT, 60.0)) + volts / pd->shunt_ohm - photo_a;
}

double sim_pd_volts(const sim_pd *pd, double amps, double photo_a)
{
	double lo = -1000.0, hi = 60.0 * VT;

	/* Monotonic in the voltage: bisection to well below a uV. */
	for (int i = 0; i < 100; i++) {
		double mid = 0.5 * (lo + hi);

		if (sim_pd_amps(pd, mid, photo_a) < amps)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

void sim_die_ring(const sim_model *m, int slot, int col, int row, int port, sim_ring *out)
{
	const sim_model_params *p = &m->p;

	out->res0_nm = sim_grid_nm(m, p->ring_channel) + p->ring_detune_nm +
		       p->ring_sigma_nm * gauss_at(m, TAG_RING, slot, col, row, port);
	out->shift_nm_mw = p->ring_shift_nm_mw *
			   (1.0 + p->ring_shift_sigma * gauss_at(m, TAG_SHIFT, slot, col, row, port));
	out->fwhm_nm = p->ring_fwhm_nm;
	out->t_min = pow(10.0, -p->ring_extinction_db / 10.0);
	out->heater_ohm = planted_here(m, slot, col, row, port, sim_planted_dead_heater)
			  ? OPEN_OHM
			  : p->heater_ohm + p->heater_sigma_ohm *
			    gauss_at(m, TAG_HOHM, slot, col, row, port);
}

double sim_ring_through(const sim_ring *r, double nm, double heater_w)
{
	double d = 2.0 * (nm - (r->res0_nm + r->shift_nm_mw * heater_w * 1e3)) / r->fwhm_nm;

	return 1.0 - (1.0 - r->t_min) / (1.0 + d * d);
}

double sim_ring_tuning_mw(const sim_model *m, const sim_ring *r, int k)
{
	return (sim_grid_nm(m, k) - r->res0_nm) / r->shift_nm_mw;
}

void sim_truth_pdring(const sim_model *m, const sim_limits *l, int slot, int col,
		      int row, sim_truth *t)
{
	int i = sim_die_index(m, col, row), port;

	t->pd_pass = t->ring_pass = 1;
	if (sim_planted_leaky_pd(m, slot, &port) == i && i >= 0)
		t->leaky_pd = port;
	if (sim_planted_dead_heater(m, slot, &port) == i && i >= 0)
		t->dead_heater = port;
	for (int p = 1; m->p.pd_ring && p <= m->p.die_ports; p++) {
		sim_pd pd;
		sim_ring r;
		double mw;

		sim_die_pd(m, slot, col, row, p, &pd);
		if (fabs(sim_pd_amps(&pd, -l->pd_reverse_v, 0)) > l->pd_dark_max_a ||
		    pd.resp_a_w < l->pd_resp_low_a_w || pd.resp_a_w > l->pd_resp_high_a_w)
			t->pd_pass = 0;
		sim_die_ring(m, slot, col, row, p, &r);
		mw = sim_ring_tuning_mw(m, &r, m->p.ring_channel);
		/* An open heater takes no power: its ring never moves. */
		if (r.heater_ohm >= OPEN_OHM || mw > l->ring_power_max_mw ||
		    r.shift_nm_mw < l->ring_shift_low || r.shift_nm_mw > l->ring_shift_high ||
		    r.res0_nm < l->ring_res_low_nm || r.res0_nm > l->ring_res_high_nm)
			t->ring_pass = 0;
	}
	t->sort_bin = !t->align_pass ? 4 : !t->power_pass ? 5 : !t->pd_pass ? 8
		      : !t->ring_pass ? 9 : 1;
}
