/*
 * instruments/sim/smu.c - the simulated Keithley 2400 (see smu.h).
 */
#include "smu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One reading at 1 PLC (50 Hz) plus the source settling: what a point of
 * a sweep costs on the real instrument. */
#define SMU_READ_S 0.022

struct sim_smu {
	sim_scpi scpi;
	sim_station *st;
	enum sim_smu_kind kind;
	int lane;
	double busy_s;
	int source_curr;     /* 1: sourcing current, 0: voltage */
	double i_level, v_level;
	double v_prot, i_prot;
	int output;
	int dut;             /* the module the state belongs to */
	/* The staircase sweep (:SOUR:<f>:MODE SWE): start, stop, points of
	 * each function, and the trigger count a :READ? takes. */
	int sweep_curr, sweep_volt;
	double i_start, i_stop, v_start, v_stop;
	long points, trig_count;
};

/* The module changed (sim_station_select clears the fixture's drive):
 * a new part starts with the output off. */
static void follow_dut(sim_smu *smu)
{
	if (smu->dut != smu->st->dut) {
		smu->dut = smu->st->dut;
		smu->output = 0;
	}
}

/* The device at the terminals now: its current at a voltage and the
 * voltage a current needs (each the other's inverse). */
typedef struct dev_law {
	enum sim_smu_kind kind;
	sim_liv liv;
	sim_pd pd;
	double photo_a, ohm;
} dev_law;

/* A lifted probe: the SMU sees its own leakage only. */
#define OPEN_OHM 1e12

static void law_of(const sim_smu *smu, dev_law *d)
{
	sim_station *st = smu->st;
	int slot, col, row, on = sim_station_die(st, &slot, &col, &row);

	d->kind = smu->kind;
	d->ohm = OPEN_OHM;
	if (smu->kind == SIM_SMU_LASER) {
		sim_laser_liv(&st->model, st->dut, smu->lane, &d->liv);
	} else if (smu->kind == SIM_SMU_PD) {
		if (on) {
			sim_die_pd(&st->model, slot, col, row, smu->lane, &d->pd);
			d->photo_a = sim_station_pd_photo_a(st, smu->lane);
		} else {
			d->kind = SIM_SMU_HEATER;  /* a resistor: the open probe */
		}
	} else if (on) {
		sim_ring r;

		sim_die_ring(&st->model, slot, col, row, smu->lane, &r);
		d->ohm = r.heater_ohm;
	}
}

static double law_volts(const dev_law *d, double amps)
{
	if (d->kind == SIM_SMU_LASER)
		return sim_liv_volts(&d->liv, amps);
	if (d->kind == SIM_SMU_PD)
		return sim_pd_volts(&d->pd, amps, d->photo_a);
	return amps * d->ohm;
}

static double law_amps(const dev_law *d, double volts)
{
	if (d->kind == SIM_SMU_LASER)
		return sim_liv_amps(&d->liv, volts);
	if (d->kind == SIM_SMU_PD)
		return sim_pd_amps(&d->pd, volts, d->photo_a);
	return volts / d->ohm;
}

/* What the terminals show now, compliance applied; drives the laser or
 * heats the heater. */
static void operate(sim_smu *smu, double *v, double *i)
{
	sim_station *st = smu->st;
	dev_law d;

	law_of(smu, &d);
	if (smu->source_curr) {
		*i = smu->i_level;
		*v = law_volts(&d, *i);
		if (fabs(*v) > smu->v_prot) {
			*v = copysign(smu->v_prot, *v);
			*i = law_amps(&d, *v);
		}
	} else {
		*v = smu->v_level;
		*i = law_amps(&d, *v);
		if (fabs(*i) > smu->i_prot) {
			*i = copysign(smu->i_prot, *i);
			*v = law_volts(&d, *i);
		}
	}
	if (smu->lane <= SIM_MAX_PORTS && smu->kind == SIM_SMU_LASER) {
		st->smu_on[smu->lane - 1] = smu->output;
		st->smu_a[smu->lane - 1] = smu->output ? *i : 0.0;
	} else if (smu->lane <= SIM_MAX_PORTS && smu->kind == SIM_SMU_HEATER) {
		st->heater_w[smu->lane - 1] = smu->output ? fabs(*v * *i) : 0.0;
	}
}

static void reset(sim_smu *smu)
{
	smu->source_curr = 0;
	smu->i_level = smu->v_level = 0;
	smu->v_prot = 21.0;
	smu->i_prot = 105e-6;
	smu->output = 0;
	smu->sweep_curr = smu->sweep_volt = 0;
	smu->i_start = smu->i_stop = smu->v_start = smu->v_stop = 0;
	smu->points = 2500;
	smu->trig_count = 1;
}

static void sync_output(sim_smu *smu)
{
	double v, i;

	operate(smu, &v, &i);
}

static void q_idn(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, SIM_SMU_IDN);
}

static void s_rst(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	reset(c->inst);
	sync_output(c->inst);
}

static void s_func(const sim_scpi_call *c, sim_buf *out)
{
	sim_smu *smu = c->inst;

	(void)out;
	if (!c->params || !*c->params)
		SIM_ERR_MISSING(c->s);
	else if (strncasecmp(c->params, "CURR", 4) == 0)
		smu->source_curr = 1;
	else if (strncasecmp(c->params, "VOLT", 4) == 0)
		smu->source_curr = 0;
	else
		SIM_ERR_ILLEGAL(c->s);
	sync_output(smu);
}

static void q_func(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%s", ((sim_smu *)c->inst)->source_curr ? "CURR" : "VOLT");
}

/* A level or limit within the 2400's ranges (1.05 A, 210 V). */
static int level(const sim_scpi_call *c, double max, double *dst)
{
	double v;

	if (sim_scpi_number(c->s, c->params, NULL, &v))
		return -1;
	if (fabs(v) > max) {
		SIM_ERR_RANGE(c->s);
		return -1;
	}
	*dst = v;
	return 0;
}

static void s_curr(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	if (level(c, 1.05, &((sim_smu *)c->inst)->i_level) == 0)
		sync_output(c->inst);
}

static void s_volt(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	if (level(c, 210, &((sim_smu *)c->inst)->v_level) == 0)
		sync_output(c->inst);
}

static void s_vprot(const sim_scpi_call *c, sim_buf *out)
{
	sim_smu *smu = c->inst;

	(void)out;
	if (level(c, 210, &smu->v_prot) == 0)
		smu->v_prot = fabs(smu->v_prot);
}

static void s_iprot(const sim_scpi_call *c, sim_buf *out)
{
	sim_smu *smu = c->inst;

	(void)out;
	if (level(c, 1.05, &smu->i_prot) == 0)
		smu->i_prot = fabs(smu->i_prot);
}

static void s_nop(const sim_scpi_call *c, sim_buf *out)
{
	(void)c;
	(void)out;
}

static void s_elem(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	/* The driver's one format; any other would change the reply. */
	if (!c->params || strcasecmp(c->params, "VOLT,CURR") != 0)
		SIM_ERR_ILLEGAL(c->s);
}

static void s_outp(const sim_scpi_call *c, sim_buf *out)
{
	sim_smu *smu = c->inst;

	(void)out;
	if (sim_scpi_bool(c->s, c->params, &smu->output) == 0)
		sync_output(smu);
}

static void q_outp(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%d", ((sim_smu *)c->inst)->output);
}

static void s_start_stop(const sim_scpi_call *c, double max, double *dst)
{
	(void)level(c, max, dst);
}

static void s_istart(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	s_start_stop(c, 1.05, &((sim_smu *)c->inst)->i_start);
}

static void s_istop(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	s_start_stop(c, 1.05, &((sim_smu *)c->inst)->i_stop);
}

static void s_vstart(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	s_start_stop(c, 210, &((sim_smu *)c->inst)->v_start);
}

static void s_vstop(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	s_start_stop(c, 210, &((sim_smu *)c->inst)->v_stop);
}

/* A count within the 2400's 1..2500 (points: 2..2500). */
static void count(const sim_scpi_call *c, long min, long *dst)
{
	double v;

	if (sim_scpi_number(c->s, c->params, NULL, &v))
		return;
	if (v < min || v > 2500 || v != floor(v)) {
		SIM_ERR_RANGE(c->s);
		return;
	}
	*dst = (long)v;
}

static void s_points(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	count(c, 2, &((sim_smu *)c->inst)->points);
}

static void s_trig_count(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	count(c, 1, &((sim_smu *)c->inst)->trig_count);
}

/* FIXed or SWEep (LIST is not modelled: an error, not a silent fixed). */
static void mode(const sim_scpi_call *c, int *dst)
{
	if (!c->params || !*c->params)
		SIM_ERR_MISSING(c->s);
	else if (strncasecmp(c->params, "FIX", 3) == 0)
		*dst = 0;
	else if (strncasecmp(c->params, "SWE", 3) == 0)
		*dst = 1;
	else
		SIM_ERR_ILLEGAL(c->s);
}

static void s_imode(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	mode(c, &((sim_smu *)c->inst)->sweep_curr);
}

static void s_vmode(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	mode(c, &((sim_smu *)c->inst)->sweep_volt);
}

/* A sweep's :READ?: trig_count readings, point k at start + k x step
 * (the staircase restarts after `points`), every pair as a single
 * reading gives it; then the source is back at its fixed level. */
static void read_sweep(sim_smu *smu, const sim_scpi_call *c, sim_buf *out)
{
	int curr = smu->source_curr;
	double start = curr ? smu->i_start : smu->v_start;
	double stop = curr ? smu->i_stop : smu->v_stop;
	double keep = curr ? smu->i_level : smu->v_level;
	char *text = malloc((size_t)smu->trig_count * 32 + 1);
	size_t used = 0;

	if (!text) {
		sim_scpi_error(c->s, -225, "Out of memory");
		return;
	}
	for (long k = 0; k < smu->trig_count; k++) {
		double level = start + (stop - start) * (double)(k % smu->points) /
				       (double)(smu->points - 1), v, i;

		*(curr ? &smu->i_level : &smu->v_level) = level;
		operate(smu, &v, &i);
		smu->busy_s += SMU_READ_S;
		if (c->s->fx->overrange)   /* every point overflows */
			v = i = 9.91e37;
		used += (size_t)snprintf(text + used, 32, "%s%+.6E,%+.6E", k ? "," : "", v, i);
	}
	*(curr ? &smu->i_level : &smu->v_level) = keep;
	sync_output(smu);
	if (c->s->fx->garbage)
		sim_scpi_reply(c->s, out, "#?garbage");
	else if (sim_buf_add(out, text, used))   /* past sim_scpi_reply's 512 */
		c->s->oom = 1;
	free(text);
}

static void q_read(const sim_scpi_call *c, sim_buf *out)
{
	sim_smu *smu = c->inst;
	double v, i;

	if (!smu->output) {
		sim_scpi_error(c->s, 803, "Output disabled");
		return;
	}
	if (smu->source_curr ? smu->sweep_curr : smu->sweep_volt) {
		read_sweep(smu, c, out);
		return;
	}
	smu->busy_s += SMU_READ_S;
	operate(smu, &v, &i);
	if (c->s->fx->garbage)
		sim_scpi_reply(c->s, out, "#?garbage");
	else if (c->s->fx->overrange)
		sim_scpi_reply(c->s, out, "+9.910000E+37,+9.910000E+37");
	else
		sim_scpi_reply(c->s, out, "%+.6E,%+.6E", v, i);
}

static const sim_scpi_cmd commands[] = {
	{"*IDN", NULL, q_idn},
	{"*RST", s_rst, NULL},
	{"[SOURce]:FUNCtion[:MODE]", s_func, q_func},
	{"[SOURce]:CURRent:STARt", s_istart, NULL},
	{"[SOURce]:CURRent:STOP", s_istop, NULL},
	{"[SOURce]:CURRent:MODE", s_imode, NULL},
	{"[SOURce]:VOLTage:STARt", s_vstart, NULL},
	{"[SOURce]:VOLTage:STOP", s_vstop, NULL},
	{"[SOURce]:VOLTage:MODE", s_vmode, NULL},
	{"[SOURce]:SWEep:POINts", s_points, NULL},
	{"TRIGger:COUNt", s_trig_count, NULL},
	{"[SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", s_curr, NULL},
	{"[SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", s_volt, NULL},
	{"[SENSe]:FUNCtion[:ON]", s_nop, NULL},
	{"[SENSe]:VOLTage[:DC]:PROTection[:LEVel]", s_vprot, NULL},
	{"[SENSe]:CURRent[:DC]:PROTection[:LEVel]", s_iprot, NULL},
	{"FORMat:ELEMents[:SENSe]", s_elem, NULL},
	{"OUTPut[:STATe]", s_outp, q_outp},
	{"READ", NULL, q_read},
};

sim_smu *sim_smu_new(sim_station *st, int lane)
{
	return sim_smu_new_kind(st, SIM_SMU_LASER, lane);
}

sim_smu *sim_smu_new_kind(sim_station *st, enum sim_smu_kind kind, int lane)
{
	sim_smu *smu = calloc(1, sizeof(*smu));

	if (!smu)
		return NULL;
	smu->st = st;
	smu->kind = kind;
	smu->lane = lane;
	smu->dut = st->dut;
	smu->scpi.st = st;
	smu->scpi.inst = smu;
	reset(smu);
	return smu;
}

void sim_smu_free(sim_smu *smu)
{
	free(smu);
}

int sim_smu_execute(void *inst, const char *line, const sim_fx *fx, sim_buf *out,
		    double *busy_s)
{
	sim_smu *smu = inst;
	int rc;

	smu->busy_s = 0;
	follow_dut(smu);
	rc = sim_scpi_execute(&smu->scpi, commands, sizeof(commands) / sizeof(commands[0]),
			      line, fx, out);
	*busy_s = smu->busy_s;
	return rc;
}
