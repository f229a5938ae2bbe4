/*
 * instruments/sim/pm_scpi.c - see pm_scpi.h. The command set is the table
 * `commands`; scpi_core.c does the matching.
 */
#include "pm_scpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OVERRANGE 9.9e37

struct sim_pm {
	sim_scpi scpi;
	sim_station *st;
	int ports;
	double busy_s;                    /* modelled time of this message */
	int unit_w[SIM_MAX_PORTS];        /* 1 = watts, 0 = dBm */
	double wl_m[SIM_MAX_PORTS];
	double atime_s[SIM_MAX_PORTS];
	int range_auto[SIM_MAX_PORTS];
	int gain_auto[SIM_MAX_PORTS];
	double last_w[SIM_MAX_PORTS];     /* NAN until the first reading */
	uint64_t samples[SIM_MAX_PORTS];  /* readings taken per port: the noise index */
};

static const struct sim_unit_suffix wavelength_units[] = {
	{"PM", 1e-12}, {"NM", 1e-9}, {"UM", 1e-6}, {"M", 1.0}, {NULL, 0}};
static const struct sim_unit_suffix time_units[] = {
	{"US", 1e-6}, {"MS", 1e-3}, {"S", 1.0}, {NULL, 0}};

/* Port from the first suffix, channel from the second (one channel per
 * port). 0-based index, or -1 with -114 queued. */
static int port_index(const sim_scpi_call *c)
{
	sim_pm *pm = c->inst;

	if (c->suffix[0] < 1 || c->suffix[0] > pm->ports || c->suffix[1] != 1) {
		SIM_ERR_SUFFIX(c->s);
		return -1;
	}
	return c->suffix[0] - 1;
}

static void reset_state(sim_pm *pm)
{
	for (int i = 0; i < SIM_MAX_PORTS; i++) {
		pm->unit_w[i] = 0;
		pm->wl_m[i] = 1550e-9;
		pm->st->pm_nm[i] = 1550.0;
		pm->atime_s[i] = 100e-3;
		pm->range_auto[i] = 1;
		pm->gain_auto[i] = 1;
		pm->last_w[i] = NAN;
	}
}

/* What port i sees now, for reading number `sample`. */
static double light_w(sim_pm *pm, int i, uint64_t sample)
{
	const sim_station *st = pm->st;
	const sim_model *m = &st->model;
	int slot, col, row, k;

	if (m->p.product == SIM_PRODUCT_TERAPHY) {
		/* Separated probes see no light; the meter's wavelength picks
		 * the die's grid channel (docs/VIRTUAL_STATION.md). */
		if (!sim_station_die(st, &slot, &col, &row))
			return m->p.dark_w;
		k = sim_grid_index(m, pm->wl_m[i] * 1e9);
		if (k < 0 || i + 1 > m->p.die_ports)
			return m->p.dark_w;
		{
			double f = sim_station_port_factor(st, slot, col, row, i + 1, k);

			/* The source's channel off: the meter's floor. */
			if (f <= 0)
				return m->p.dark_w;
			return sim_die_power_w(m, slot, col, row, i + 1, k, sample) * f;
		}
	}
	{
		double smu_w = sim_station_smu_light_w(st, i + 1, sample);

		if (smu_w >= 0)
			return smu_w + m->p.dark_w;
	}
	if (m->p.product == SIM_PRODUCT_ELSFP && !sim_station_laser_on(st, i + 1))
		return m->p.dark_w;
	return sim_model_power_w(m, st->dut, i + 1, pm->wl_m[i] * 1e9, sample);
}

static double take_reading(sim_pm *pm, int i)
{
	double w = light_w(pm, i, pm->samples[i]);

	pm->samples[i]++;
	pm->last_w[i] = w;
	pm->busy_s += pm->atime_s[i];
	return w;
}

static void reply_power(const sim_scpi_call *c, int i, double w, sim_buf *out)
{
	sim_pm *pm = c->inst;

	if (c->s->fx->garbage) {
		sim_scpi_reply(c->s, out, "#?garbage@%d", i + 1);
		return;
	}
	if (c->s->fx->overrange) {
		sim_scpi_reply(c->s, out, "%+.8E", OVERRANGE);
		return;
	}
	/* The meter measures in single precision, as its all-port read's
	 * float32 block shows: a single reading is the same float, printed
	 * with the 9 digits that carry it whole. */
	if (pm->unit_w[i])
		sim_scpi_reply(c->s, out, "%+.8E", (double)(float)w);
	else
		sim_scpi_reply(c->s, out, "%+.8E", 10.0 * log10(w / 1e-3));
}

static void q_idn(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;

	sim_scpi_reply(c->s, out, "%s", pm->ports > 8 ? SIM_PM16_IDN : SIM_PM_IDN);
}

static void s_rst(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	/* *RST leaves the error queue, the DUT and the reading counters alone:
	 * the first is IEEE 488.2, the others keep runs reproducible. */
	reset_state(c->inst);
}

static void s_wav(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);
	double m;

	(void)out;
	if (i < 0 || sim_scpi_number(c->s, c->params, wavelength_units, &m))
		return;
	/* The N7745A's calibrated range, rounded outward. */
	if (m < 1250e-9 || m > 1650e-9) {
		SIM_ERR_RANGE(c->s);
		return;
	}
	pm->wl_m[i] = m;
	pm->st->pm_nm[i] = m * 1e9;
}

static void q_wav(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);

	if (i >= 0)
		sim_scpi_reply(c->s, out, "%+.8E", pm->wl_m[i]);
}

static void s_unit(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);
	const char *p = c->params;

	(void)out;
	if (i < 0)
		return;
	if (!p || !*p)
		SIM_ERR_MISSING(c->s);
	else if (strcmp(p, "0") == 0 || strcasecmp(p, "DBM") == 0)
		pm->unit_w[i] = 0;
	else if (strcmp(p, "1") == 0 || strcasecmp(p, "W") == 0 || strcasecmp(p, "Watt") == 0)
		pm->unit_w[i] = 1;
	else
		SIM_ERR_ILLEGAL(c->s);
}

static void q_unit(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);

	if (i >= 0)
		sim_scpi_reply(c->s, out, "+%d", pm->unit_w[i]);
}

static void s_atim(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);
	double v;

	(void)out;
	if (i < 0 || sim_scpi_number(c->s, c->params, time_units, &v))
		return;
	if (v < 1e-6 || v > 10.0) {
		SIM_ERR_RANGE(c->s);
		return;
	}
	pm->atime_s[i] = v;
}

static void q_atim(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);

	if (i >= 0)
		sim_scpi_reply(c->s, out, "%+.8E", pm->atime_s[i]);
}

static void s_range_auto(const sim_scpi_call *c, sim_buf *out)
{
	int i = port_index(c);

	(void)out;
	if (i >= 0)
		sim_scpi_bool(c->s, c->params, &((sim_pm *)c->inst)->range_auto[i]);
}

static void q_range_auto(const sim_scpi_call *c, sim_buf *out)
{
	int i = port_index(c);

	if (i >= 0)
		sim_scpi_reply(c->s, out, "%d", ((sim_pm *)c->inst)->range_auto[i]);
}

static void s_gain_auto(const sim_scpi_call *c, sim_buf *out)
{
	int i = port_index(c);

	(void)out;
	if (i >= 0)
		sim_scpi_bool(c->s, c->params, &((sim_pm *)c->inst)->gain_auto[i]);
}

static void q_gain_auto(const sim_scpi_call *c, sim_buf *out)
{
	int i = port_index(c);

	if (i >= 0)
		sim_scpi_reply(c->s, out, "%d", ((sim_pm *)c->inst)->gain_auto[i]);
}

static void q_read(const sim_scpi_call *c, sim_buf *out)
{
	int i = port_index(c);

	if (i >= 0)
		reply_power(c, i, take_reading(c->inst, i), out);
}

static void q_fetch(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	int i = port_index(c);

	if (i >= 0)
		reply_power(c, i, isnan(pm->last_w[i]) ? take_reading(pm, i) : pm->last_w[i],
			    out);
}

static void put_u32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void q_read_all(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	uint8_t data[4 * SIM_MAX_PORTS];
	double busy = pm->busy_s;

	/* ALL lives on slot 1 only, and always answers in watts. */
	if (c->suffix[0] != 1 || c->suffix[1] != 1) {
		SIM_ERR_SUFFIX(c->s);
		return;
	}
	if (c->s->fx->garbage) {
		sim_scpi_reply(c->s, out, "#?garbage@all");
		return;
	}
	for (int i = 0; i < pm->ports; i++) {
		float f = (float)(c->s->fx->overrange ? OVERRANGE : take_reading(pm, i));
		uint32_t bits;

		memcpy(&bits, &f, sizeof(bits));
		put_u32_le(data + 4 * i, bits);
	}
	/* The ports integrate in parallel. */
	pm->busy_s = busy + pm->atime_s[0];
	sim_scpi_block(c->s, data, 4 * (size_t)pm->ports, out);
}

static void q_read_all_conf(const sim_scpi_call *c, sim_buf *out)
{
	sim_pm *pm = c->inst;
	uint8_t data[4 * SIM_MAX_PORTS];

	if (c->suffix[0] != 1 || c->suffix[1] != 1) {
		SIM_ERR_SUFFIX(c->s);
		return;
	}
	for (int i = 0; i < pm->ports; i++) {
		data[4 * i] = (uint8_t)(i + 1);  /* slot, U16 LE */
		data[4 * i + 1] = 0;
		data[4 * i + 2] = 1;              /* channel, U16 LE */
		data[4 * i + 3] = 0;
	}
	sim_scpi_block(c->s, data, 4 * (size_t)pm->ports, out);
}

static const sim_scpi_cmd commands[] = {
	{"*IDN", NULL, q_idn},
	{"*RST", s_rst, NULL},
	{"SENSe#[:CHANnel#]:POWer:WAVelength[:CW]", s_wav, q_wav},
	{"SENSe#[:CHANnel#]:POWer:UNIT", s_unit, q_unit},
	{"SENSe#[:CHANnel#]:POWer:ATIMe", s_atim, q_atim},
	{"SENSe#[:CHANnel#]:POWer:RANGe:AUTO", s_range_auto, q_range_auto},
	{"SENSe#[:CHANnel#]:POWer:GAIN:AUTO", s_gain_auto, q_gain_auto},
	{"READ#[:CHANnel#][:SCALar]:POWer[:DC]", NULL, q_read},
	{"FETCh#[:CHANnel#][:SCALar]:POWer[:DC]", NULL, q_fetch},
	{"READ#[:CHANnel#]:POWer:ALL", NULL, q_read_all},
	{"READ#[:CHANnel#]:POWer:ALL:CONFig", NULL, q_read_all_conf},
};

sim_pm *sim_pm_new(sim_station *st, int ports)
{
	sim_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->st = st;
	pm->ports = ports < 1 ? 1 : ports > SIM_MAX_PORTS ? SIM_MAX_PORTS : ports;
	pm->scpi.st = st;
	pm->scpi.inst = pm;
	reset_state(pm);
	return pm;
}

void sim_pm_free(sim_pm *pm)
{
	free(pm);
}

int sim_pm_execute(void *inst, const char *line, const sim_fx *fx, sim_buf *out,
		   double *busy_s)
{
	sim_pm *pm = inst;
	int rc;

	pm->busy_s = 0;
	rc = sim_scpi_execute(&pm->scpi, commands, sizeof(commands) / sizeof(commands[0]),
			      line, fx, out);
	*busy_s = pm->busy_s;
	return rc;
}
