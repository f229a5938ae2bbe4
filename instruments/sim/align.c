/*
 * instruments/sim/align.c - the fiber-to-coupler model of the virtual
 * station's TeraPHY dies: where each die's grating couplers sit against
 * the positioner's nominal spot, and how much light a fiber at (x, y)
 * couples (the Gaussian mode overlap of two equal modes offset by d:
 * exp(-d^2 / w^2)).
 *
 * Invariant: as model.c, pure functions of (parameters, wafer, die); with
 * fiber_align off every coupler sits on the nominal spot and the
 * coupling is 1 wherever the model is asked, so the other sequences see
 * exactly the dies they always saw.
 */
#include "model.h"

#include <math.h>

enum {
	TAG_CPLX = 0x43504c58,    /* "CPLX" */
	TAG_CPLY = 0x43504c59,    /* "CPLY" */
	TAG_PLANT = 0x504c4e54,   /* "PLNT" */
};

static uint64_t die_key(int slot, int col, int row)
{
	return ((uint64_t)slot << 32) | ((uint64_t)col << 16) | (uint64_t)row;
}

int sim_planted_die(const sim_model *m, int slot)
{
	if (!m->p.fiber_align || m->n_dies <= 0)
		return -1;
	return (int)(sim_hash(m->key, TAG_PLANT, (uint64_t)slot, 0, 0) %
		     (uint64_t)m->n_dies);
}

void sim_die_coupler(const sim_model *m, int slot, int col, int row, double *ex,
		     double *ey)
{
	int i = sim_die_index(m, col, row);
	uint64_t s;

	*ex = *ey = 0;
	if (!m->p.fiber_align || i < 0)
		return;
	if (i == sim_planted_die(m, slot)) {
		/* Off by exactly planted_um, in a seeded direction. */
		double a = 2.0 * M_PI * sim_uniform(sim_hash(m->key, TAG_PLANT,
							     (uint64_t)slot, 1, 0));

		*ex = m->p.planted_um * cos(a);
		*ey = m->p.planted_um * sin(a);
		return;
	}
	s = sim_hash(m->key, TAG_CPLX, die_key(slot, col, row), 0, 0);
	*ex = m->p.coupler_sigma_um * sim_gauss(&s);
	s = sim_hash(m->key, TAG_CPLY, die_key(slot, col, row), 0, 0);
	*ey = m->p.coupler_sigma_um * sim_gauss(&s);
}

double sim_die_coupling(const sim_model *m, int slot, int col, int row, double x,
			double y)
{
	double ex, ey, dx, dy, w = m->p.mode_radius_um;

	if (!m->p.fiber_align)
		return 1.0;
	sim_die_coupler(m, slot, col, row, &ex, &ey);
	dx = x - SIM_FIBER_ORIGIN_UM - ex;
	dy = y - SIM_FIBER_ORIGIN_UM - ey;
	return exp(-(dx * dx + dy * dy) / (w * w));
}
