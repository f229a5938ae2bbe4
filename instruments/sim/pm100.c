/*
 * instruments/sim/pm100.c - the simulated Thorlabs PM100D (see pm_scpi.h):
 * one channel watching the station's reference source, so a sequence can
 * compute insertion or coupling loss as reference minus port power.
 */
#include "pm_scpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Time per averaged sample: the PM100D manual's "1 sample takes approx.
 * 3ms", the same figure the thorlabs-pm100 driver turns seconds into
 * SENS:AVER:COUN with, so averaging_s costs what it says. */
#define PM100_SAMPLE_S 3e-3

struct sim_pm100 {
	sim_scpi scpi;
	sim_station *st;
	double busy_s;
	double wl_nm;
	int dbm;
	int range_auto;
	int average;       /* samples averaged, PM100_SAMPLE_S each */
	uint64_t samples;
};

static double reference_w(sim_pm100 *pm)
{
	const sim_station *st = pm->st;
	const sim_model *m = &st->model;
	uint64_t s = sim_hash(m->key, 0x504d3130, pm->samples++, 0, 0);
	double noise = m->p.noise_sigma_db * sim_gauss(&s);

	if (m->p.product == SIM_PRODUCT_TERAPHY)
		return 1e-3 * pow(10.0, (m->p.ref_dbm + noise) / 10.0);
	if (m->p.product == SIM_PRODUCT_FIBER)
		return 1e-3 * pow(10.0, (m->p.fiber_ref_dbm + noise) / 10.0);
	if (!sim_station_laser_on(st, 1))
		return m->p.dark_w;
	return sim_model_power_w(m, st->dut, 1, pm->wl_nm, pm->samples);
}

static void q_meas(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm100 *pm = c->inst;
	double w = reference_w(pm);

	pm->busy_s += pm->average * PM100_SAMPLE_S;
	if (c->s->fx->garbage)
		sim_scpi_reply(c->s, out, "#?garbage");
	else if (c->s->fx->overrange)
		sim_scpi_reply(c->s, out, "9.90000000E+37");
	else if (pm->dbm)
		sim_scpi_reply(c->s, out, "%.8E", 10.0 * log10(w / 1e-3));
	else
		sim_scpi_reply(c->s, out, "%.8E", w);
}

static void q_idn(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, SIM_PM100_IDN);
}

static void reset(sim_pm100 *pm)
{
	pm->wl_nm = 1310.0;
	pm->dbm = 0;
	pm->range_auto = 1;
	pm->average = 1;
}

static void s_rst(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	reset(c->inst);
}

static void s_nop(const sim_scpi_call *c, sim_buf *out)
{
	(void)c;
	(void)out;
}

static void s_wav(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm100 *pm = c->inst;
	double nm;

	(void)out;
	if (sim_scpi_number(c->s, c->params, NULL, &nm))
		return;
	if (nm < 400 || nm > 1800)
		SIM_ERR_RANGE(c->s);
	else
		pm->wl_nm = nm;
}

static void q_wav(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%.1f", ((sim_pm100 *)c->inst)->wl_nm);
}

static void s_unit(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm100 *pm = c->inst;

	(void)out;
	if (!c->params || !*c->params)
		SIM_ERR_MISSING(c->s);
	else if (strcasecmp(c->params, "W") == 0)
		pm->dbm = 0;
	else if (strcasecmp(c->params, "DBM") == 0)
		pm->dbm = 1;
	else
		SIM_ERR_ILLEGAL(c->s);
}

static void q_unit(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%s", ((sim_pm100 *)c->inst)->dbm ? "DBM" : "W");
}

static void s_range(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	sim_scpi_bool(c->s, c->params, &((sim_pm100 *)c->inst)->range_auto);
}

static void q_range(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%d", ((sim_pm100 *)c->inst)->range_auto);
}

static void s_aver(const sim_scpi_call *c, sim_buf *out)
{
	double n;

	(void)out;
	if (sim_scpi_number(c->s, c->params, NULL, &n))
		return;
	if (n < 1 || n > 100000)
		SIM_ERR_RANGE(c->s);
	else
		((sim_pm100 *)c->inst)->average = (int)n;
}

static void q_aver(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%d", ((sim_pm100 *)c->inst)->average);
}

static const sim_scpi_cmd commands[] = {
	{"*IDN", NULL, q_idn},
	{"*RST", s_rst, NULL},
	{"[SENSe]:CORRection:WAVelength", s_wav, q_wav},
	{"[SENSe]:POWer[:DC]:UNIT", s_unit, q_unit},
	{"[SENSe]:POWer[:DC]:RANGe:AUTO", s_range, q_range},
	{"[SENSe]:AVERage[:COUNt]", s_aver, q_aver},
	{"CONFigure[:SCALar]:POWer", s_nop, NULL},
	{"MEASure[:SCALar]:POWer", NULL, q_meas},
	{"READ", NULL, q_meas},
};

sim_pm100 *sim_pm100_new(sim_station *st)
{
	sim_pm100 *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->st = st;
	pm->scpi.st = st;
	pm->scpi.inst = pm;
	reset(pm);
	return pm;
}

void sim_pm100_free(sim_pm100 *pm)
{
	free(pm);
}

int sim_pm100_execute(void *inst, const char *line, const sim_fx *fx, sim_buf *out,
		      double *busy_s)
{
	sim_pm100 *pm = inst;
	int rc;

	pm->busy_s = 0;
	rc = sim_scpi_execute(&pm->scpi, commands, sizeof(commands) / sizeof(commands[0]),
			      line, fx, out);
	*busy_s = pm->busy_s;
	return rc;
}
