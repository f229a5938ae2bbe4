/*
 * instruments/sim/bert.c - see bert.h. Command set: the table `commands`.
 */
#include "bert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const patterns[] = {"PRBS7", "PRBS15", "PRBS23", "PRBS31"};

struct lane {
	int src_pattern, det_pattern;   /* index into patterns[] */
	int output;
	double gate_s;
	/* the last (or running) gate */
	int started;
	double end_time;                /* wall clock, s */
	double bits, errors;
	int sync_lost;
	uint64_t epoch;                 /* contact epoch at the start */
	uint64_t gates;                 /* gates run: the Poisson sample index */
};

struct sim_bert {
	sim_scpi scpi;
	sim_station *st;
	double rate_hz;
	struct lane lane[SIM_BERT_LANES];
};

static void reset(sim_bert *b)
{
	b->rate_hz = 53.125e9;
	for (int i = 0; i < SIM_BERT_LANES; i++) {
		struct lane *l = &b->lane[i];
		uint64_t gates = l->gates;

		memset(l, 0, sizeof(*l));
		l->gates = gates;  /* keeps runs reproducible across *RST */
		l->src_pattern = l->det_pattern = 3;
		l->gate_s = 1.0;
	}
}

static struct lane *lane_of(const sim_scpi_call *c, int *n)
{
	sim_bert *b = c->inst;

	if (c->suffix[0] < 1 || c->suffix[0] > SIM_BERT_LANES) {
		SIM_ERR_SUFFIX(c->s);
		return NULL;
	}
	if (n)
		*n = c->suffix[0];
	return &b->lane[c->suffix[0] - 1];
}

static void q_idn(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, SIM_BERT_IDN);
}

static void s_rst(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	reset(c->inst);
}

static void s_freq(const sim_scpi_call *c, sim_buf *out)
{
	static const struct sim_unit_suffix hz[] = {
		{"HZ", 1}, {"KHZ", 1e3}, {"MHZ", 1e6}, {"GHZ", 1e9}, {NULL, 0}};
	double v;

	(void)out;
	/* Clock source 9 drives every lane. */
	if (c->suffix[0] != 9) {
		SIM_ERR_SUFFIX(c->s);
		return;
	}
	if (sim_scpi_number(c->s, c->params, hz, &v))
		return;
	if (v < 1e9 || v > 64e9)
		SIM_ERR_RANGE(c->s);
	else
		((sim_bert *)c->inst)->rate_hz = v;
}

static void q_freq(const sim_scpi_call *c, sim_buf *out)
{
	if (c->suffix[0] != 9) {
		SIM_ERR_SUFFIX(c->s);
		return;
	}
	sim_scpi_reply(c->s, out, "%+.8E", ((sim_bert *)c->inst)->rate_hz);
}

static int parse_pattern(const sim_scpi_call *c)
{
	if (!c->params || !*c->params) {
		SIM_ERR_MISSING(c->s);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (strcasecmp(c->params, patterns[i]) == 0)
			return i;
	SIM_ERR_ILLEGAL(c->s);
	return -1;
}

static void s_src_patt(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);
	int p;

	(void)out;
	if (l && (p = parse_pattern(c)) >= 0)
		l->src_pattern = p;
}

static void q_src_patt(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	if (l)
		sim_scpi_reply(c->s, out, "%s", patterns[l->src_pattern]);
}

static void s_det_patt(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);
	int p;

	(void)out;
	if (l && (p = parse_pattern(c)) >= 0)
		l->det_pattern = p;
}

static void q_det_patt(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	if (l)
		sim_scpi_reply(c->s, out, "%s", patterns[l->det_pattern]);
}

static void s_outp(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	(void)out;
	if (l)
		sim_scpi_bool(c->s, c->params, &l->output);
}

static void q_outp(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	if (l)
		sim_scpi_reply(c->s, out, "%d", l->output);
}

static void s_gate_mode(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	if (!lane_of(c, NULL))
		return;
	if (!c->params || !*c->params)
		SIM_ERR_MISSING(c->s);
	else if (strcasecmp(c->params, "SING") && strcasecmp(c->params, "SINGLE"))
		SIM_ERR_ILLEGAL(c->s);
}

static void s_gate_time(const sim_scpi_call *c, sim_buf *out)
{
	static const struct sim_unit_suffix secs[] = {{"MS", 1e-3}, {"S", 1}, {NULL, 0}};
	struct lane *l = lane_of(c, NULL);
	double v;

	(void)out;
	if (!l || sim_scpi_number(c->s, c->params, secs, &v))
		return;
	if (v < 1e-3 || v > 3600)
		SIM_ERR_RANGE(c->s);
	else
		l->gate_s = v;
}

static void q_gate_time(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	if (l)
		sim_scpi_reply(c->s, out, "%+.8E", l->gate_s);
}

/* Start a gate: the counts are drawn now, the wall clock says when they
 * may be read. */
static void start_gate(sim_bert *b, struct lane *l, int n)
{
	sim_station *st = b->st;
	const sim_model *m = &st->model;
	int slot, col, row;
	double ber = -1;

	l->started = 1;
	l->end_time = sim_now() + l->gate_s * st->time_scale;
	l->bits = floor(b->rate_hz * l->gate_s);
	l->epoch = st->contact_epoch;
	if (m->p.product == SIM_PRODUCT_TERAPHY && sim_station_die(st, &slot, &col, &row)
	    && n <= m->p.die_ports)
		ber = sim_die_ber(m, slot, col, row, n, b->rate_hz / 1e9);
	l->sync_lost = ber < 0 || !l->output || l->src_pattern != l->det_pattern;
	if (l->sync_lost) {
		/* An unsynchronised detector compares noise: half the bits. */
		l->errors = floor(l->bits / 2);
	} else {
		uint64_t s = sim_hash(m->key, 0x42455254, (uint64_t)n, l->gates, 0);

		l->errors = (double)sim_poisson(ber * l->bits, &s);
	}
	l->gates++;
}

static void s_gate_stat(const sim_scpi_call *c, sim_buf *out)
{
	int n, on;
	struct lane *l = lane_of(c, &n);

	(void)out;
	if (!l || sim_scpi_bool(c->s, c->params, &on))
		return;
	if (on)
		start_gate(c->inst, l, n);
	else if (l->started && sim_now() < l->end_time)
		l->end_time = sim_now();  /* stopped early: counts stand */
}

static void q_gate_stat(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	if (l)
		sim_scpi_reply(c->s, out, "%d", l->started && sim_now() < l->end_time);
}

/* The finished gate of the lane, or NULL with -221 queued. */
static struct lane *finished(const sim_scpi_call *c)
{
	sim_bert *b = c->inst;
	struct lane *l = lane_of(c, NULL);

	if (!l)
		return NULL;
	if (!l->started || sim_now() < l->end_time) {
		SIM_ERR_CONFLICT(c->s);
		return NULL;
	}
	/* Probes lifted or re-landed during the gate: sync was lost. */
	if (!l->sync_lost && (b->st->contact_epoch != l->epoch || !b->st->contact)) {
		l->sync_lost = 1;
		l->errors = floor(l->bits / 2);
	}
	return l;
}

static void q_bco(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = finished(c);

	if (!l)
		return;
	if (c->s->fx->garbage)
		sim_scpi_reply(c->s, out, "#?garbage");
	else
		sim_scpi_reply(c->s, out, "%.0f", l->bits);
}

static void q_eco(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = finished(c);

	if (!l)
		return;
	if (c->s->fx->garbage)
		sim_scpi_reply(c->s, out, "#?garbage");
	else
		sim_scpi_reply(c->s, out, "%.0f", l->errors);
}

static void q_erat(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = finished(c);

	if (!l)
		return;
	if (c->s->fx->garbage)
		sim_scpi_reply(c->s, out, "#?garbage");
	else
		sim_scpi_reply(c->s, out, "%.6E", l->bits > 0 ? l->errors / l->bits : 0.0);
}

static void q_cond(const sim_scpi_call *c, sim_buf *out)
{
	struct lane *l = lane_of(c, NULL);

	if (!l)
		return;
	if (l->started && sim_now() >= l->end_time)
		(void)finished(c);
	sim_scpi_reply(c->s, out, "%d", l->sync_lost ? 0x400 : 0);
}

static const sim_scpi_cmd commands[] = {
	{"*IDN", NULL, q_idn},
	{"*RST", s_rst, NULL},
	{"SOURce#:FREQuency:CW", s_freq, q_freq},
	{"SOURce#:PATTern:SELect", s_src_patt, q_src_patt},
	{"SENSe#:PATTern:SELect", s_det_patt, q_det_patt},
	{"OUTPut#[:STATe]", s_outp, q_outp},
	{"SENSe#:GATE:MODE", s_gate_mode, NULL},
	{"SENSe#:GATE:PERiod:TIME", s_gate_time, q_gate_time},
	{"SENSe#:GATE[:STATe]", s_gate_stat, q_gate_stat},
	{"FETCh:SENSe#:BCOunt", NULL, q_bco},
	{"FETCh:SENSe#:ECOunt", NULL, q_eco},
	{"FETCh:SENSe#:ERATio", NULL, q_erat},
	{"STATus:QUEStionable#:CONDition", NULL, q_cond},
};

sim_bert *sim_bert_new(sim_station *st)
{
	sim_bert *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->st = st;
	b->scpi.st = st;
	b->scpi.inst = b;
	reset(b);
	return b;
}

void sim_bert_free(sim_bert *b)
{
	free(b);
}

int sim_bert_execute(void *inst, const char *line, const sim_fx *fx, sim_buf *out,
		     double *busy_s)
{
	sim_bert *b = inst;

	*busy_s = 0;
	return sim_scpi_execute(&b->scpi, commands, sizeof(commands) / sizeof(commands[0]),
				line, fx, out);
}
