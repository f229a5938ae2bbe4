/*
 * instruments/sim/model.c - see model.h.
 *
 * Every random quantity is drawn from its own stream, keyed by a tag and the
 * indices it belongs to (sim_hash), never from a shared generator advanced
 * in call order: asking for port 3 before port 1 must not change either.
 */
#include "model.h"

#include <math.h>
#include <stddef.h>

/* Stream tags: arbitrary distinct constants, fixed forever, because changing
 * one changes every lot generated from a given seed. */
enum {
	TAG_UNIT = 0x554e4954,   /* "UNIT" */
	TAG_PORT = 0x504f5254,   /* "PORT" */
	TAG_TILT = 0x54494c54,   /* "TILT" */
	TAG_DEFECT = 0x44454643, /* "DEFC" */
	TAG_DEFPORT = 0x44455050,/* "DEPP" */
	TAG_NOISE = 0x4e4f4953,  /* "NOIS" */
};

void sim_model_defaults(sim_model_params *p)
{
	p->seed = 1;
	p->units = 25;
	p->ports = 8;
	p->nominal_dbm = 1.0;
	p->ref_wavelength_nm = 1310.0;
	p->unit_sigma_db = 0.5;
	p->port_sigma_db = 0.3;
	p->tilt_sigma_db = 0.2;
	p->noise_sigma_db = 0.02;
	p->weak_fraction = 0.08;
	p->weak_drop_db = 10.0;
	p->dead_fraction = 0.04;
	p->dead_power_w = 1e-9;
}

int sim_model_init(sim_model *m, const sim_model_params *p)
{
	if (p->units < 1 || p->ports < 1 || p->ports > SIM_MAX_PORTS)
		return -1;
	if (p->weak_fraction < 0 || p->dead_fraction < 0
	    || p->weak_fraction + p->dead_fraction > 1.0 || p->dead_power_w <= 0)
		return -1;
	m->p = *p;
	return 0;
}

uint64_t sim_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t sim_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t s = seed;
	uint64_t keys[4] = {a, b, c, d};
	uint64_t h = sim_splitmix64(&s);

	/* Feed each key through a full splitmix round so nearby indices (unit 3
	 * vs unit 4) land on unrelated streams. */
	for (size_t i = 0; i < 4; i++) {
		s = h ^ keys[i];
		h = sim_splitmix64(&s);
	}
	return h;
}

double sim_uniform(uint64_t x)
{
	return (double)(x >> 11) * 0x1.0p-53;
}

double sim_gauss(uint64_t *state)
{
	double sum = 0.0;

	for (int i = 0; i < 12; i++)
		sum += sim_uniform(sim_splitmix64(state));
	return sum - 6.0;
}

static double gauss_at(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b,
		       uint64_t c)
{
	uint64_t s = sim_hash(seed, tag, a, b, c);

	return sim_gauss(&s);
}

enum sim_defect sim_model_defect(const sim_model *m, int unit, int *port)
{
	double u = sim_uniform(sim_hash(m->p.seed, TAG_DEFECT, (uint64_t)unit, 0, 0));
	int which = 1 + (int)(sim_hash(m->p.seed, TAG_DEFPORT, (uint64_t)unit, 0, 0)
			      % (uint64_t)m->p.ports);
	enum sim_defect d = SIM_DEFECT_NONE;

	if (u < m->p.dead_fraction)
		d = SIM_DEFECT_DEAD_PORT;
	else if (u < m->p.dead_fraction + m->p.weak_fraction)
		d = SIM_DEFECT_WEAK_PORT;
	if (port)
		*port = d == SIM_DEFECT_NONE ? 0 : which;
	return d;
}

double sim_model_mean_dbm(const sim_model *m, int unit, int port, double wl_nm)
{
	const sim_model_params *p = &m->p;
	uint64_t u = (uint64_t)unit;
	int bad_port;
	enum sim_defect d = sim_model_defect(m, unit, &bad_port);
	double dbm;

	if (d == SIM_DEFECT_DEAD_PORT && port == bad_port)
		return 10.0 * log10(p->dead_power_w / 1e-3);
	dbm = p->nominal_dbm
	      + p->unit_sigma_db * gauss_at(p->seed, TAG_UNIT, u, 0, 0)
	      + p->port_sigma_db * gauss_at(p->seed, TAG_PORT, u, (uint64_t)port, 0)
	      + p->tilt_sigma_db * gauss_at(p->seed, TAG_TILT, u, 0, 0)
		* (wl_nm - p->ref_wavelength_nm) / 100.0;
	if (d == SIM_DEFECT_WEAK_PORT && port == bad_port)
		dbm -= p->weak_drop_db;
	return dbm;
}

double sim_model_power_w(const sim_model *m, int unit, int port, double wl_nm,
			 uint64_t sample)
{
	int bad_port;
	double dbm;

	/* A dead port is dark: the meter reads its noise floor, a valid small
	 * number, not "no valid value". */
	if (sim_model_defect(m, unit, &bad_port) == SIM_DEFECT_DEAD_PORT
	    && port == bad_port)
		return m->p.dead_power_w;
	dbm = sim_model_mean_dbm(m, unit, port, wl_nm)
	      + m->p.noise_sigma_db * gauss_at(m->p.seed, TAG_NOISE, (uint64_t)unit,
					       (uint64_t)port, sample);
	return 1e-3 * pow(10.0, dbm / 10.0);
}
