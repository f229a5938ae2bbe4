/*
 * instruments/sim/pm_scpi.c - see pm_scpi.h.
 *
 * The command set is a table of header patterns written as the programming
 * guide writes them (upper case = short form, the whole word = long form,
 * '#' = numeric suffix, [..] = optional node), each with a set handler and a
 * query handler. Adding a command is adding a row; the matcher is generic.
 */
#include "pm_scpi.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NODES 8
#define NODE_NAME_MAX 24
#define ERRQ_MAX 30

struct sim_err {
	int code;
	const char *text;
};

struct sim_pm {
	const sim_model *model;
	int ports;
	int fault_garbage;
	int dut;
	int unit_w[SIM_MAX_PORTS];        /* 1 = watts, 0 = dBm */
	double wl_m[SIM_MAX_PORTS];
	double atime_s[SIM_MAX_PORTS];
	int range_auto[SIM_MAX_PORTS];
	int gain_auto[SIM_MAX_PORTS];
	double last_w[SIM_MAX_PORTS];     /* NAN until the first reading */
	uint64_t samples[SIM_MAX_PORTS];  /* readings taken per port: the noise index */
	struct sim_err errq[ERRQ_MAX];
	int nerr;
	int oom;                          /* an append failed during this message */
};

/* One parsed node of an incoming header. */
struct in_node {
	char name[NODE_NAME_MAX];
	int suffix;                       /* -1 when none was given */
};

/* What a handler gets: query or set, parameters, and the numeric suffix of
 * every pattern node (1 where the node or its suffix was omitted). */
struct cmd_ctx {
	const char *params;
	int suffix[MAX_NODES];
};

typedef void (*cmd_fn)(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out);

struct cmd_entry {
	const char *pattern;
	cmd_fn set;    /* NULL: the command has no set form */
	cmd_fn query;  /* NULL: the command has no query form */
};

/* ---- reply and error helpers ---------------------------------------- */

int sim_buf_add(sim_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void sim_buf_free(sim_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void reply_text(sim_pm *pm, sim_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_text(sim_pm *pm, sim_buf *out, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n > 0 && sim_buf_add(out, text, (size_t)n))
		pm->oom = 1;
}

static void push_error(sim_pm *pm, int code, const char *text)
{
	if (pm->nerr == ERRQ_MAX) {
		/* IEEE 488.2: the last slot reports that errors were lost. */
		pm->errq[ERRQ_MAX - 1].code = -350;
		pm->errq[ERRQ_MAX - 1].text = "Queue overflow";
		return;
	}
	pm->errq[pm->nerr].code = code;
	pm->errq[pm->nerr].text = text;
	pm->nerr++;
}

#define ERR_UNDEFINED_HEADER(pm) push_error(pm, -113, "Undefined header")
#define ERR_SUFFIX(pm) push_error(pm, -114, "Header suffix out of range")
#define ERR_MISSING(pm) push_error(pm, -109, "Missing parameter")
#define ERR_ILLEGAL(pm) push_error(pm, -224, "Illegal parameter value")
#define ERR_RANGE(pm) push_error(pm, -222, "Data out of range")

/* ---- parameter parsing ------------------------------------------------ */

struct unit_suffix {
	const char *name;
	double mult;
};

static const struct unit_suffix wavelength_units[] = {
	{"PM", 1e-12}, {"NM", 1e-9}, {"UM", 1e-6}, {"M", 1.0}, {NULL, 0}};
static const struct unit_suffix time_units[] = {
	{"US", 1e-6}, {"MS", 1e-3}, {"S", 1.0}, {NULL, 0}};

/* Parse "<number>[<unit>]". With no unit the base unit applies. Queues the
 * error and returns -1 on failure. */
static int parse_number(sim_pm *pm, const char *s, const struct unit_suffix *units,
			double *out)
{
	char *end;
	double v;

	if (!s || !*s) {
		ERR_MISSING(pm);
		return -1;
	}
	v = strtod(s, &end);
	if (end == s || !isfinite(v)) {
		ERR_ILLEGAL(pm);
		return -1;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end) {
		const struct unit_suffix *u = units;

		for (; u && u->name; u++)
			if (strcasecmp(end, u->name) == 0)
				break;
		if (!u || !u->name) {
			ERR_ILLEGAL(pm);
			return -1;
		}
		v *= u->mult;
	}
	*out = v;
	return 0;
}

/* 0|1|OFF|ON; -1 with the error queued otherwise. */
static int parse_bool(sim_pm *pm, const char *s, int *out)
{
	if (!s || !*s) {
		ERR_MISSING(pm);
		return -1;
	}
	if (strcmp(s, "1") == 0 || strcasecmp(s, "ON") == 0)
		*out = 1;
	else if (strcmp(s, "0") == 0 || strcasecmp(s, "OFF") == 0)
		*out = 0;
	else {
		ERR_ILLEGAL(pm);
		return -1;
	}
	return 0;
}

/* Port from the first suffix, channel from the second (N7745A: one channel
 * per port). 0-based index, or -1 with -114 queued. */
static int port_index(sim_pm *pm, const struct cmd_ctx *c)
{
	if (c->suffix[0] < 1 || c->suffix[0] > pm->ports || c->suffix[1] != 1) {
		ERR_SUFFIX(pm);
		return -1;
	}
	return c->suffix[0] - 1;
}

/* ---- the instrument ----------------------------------------------------- */

static void reset_state(sim_pm *pm)
{
	for (int i = 0; i < SIM_MAX_PORTS; i++) {
		pm->unit_w[i] = 0;
		pm->wl_m[i] = 1550e-9;
		pm->atime_s[i] = 100e-3;
		pm->range_auto[i] = 1;
		pm->gain_auto[i] = 1;
		pm->last_w[i] = NAN;
	}
}

static double take_reading(sim_pm *pm, int i)
{
	double w = sim_model_power_w(pm->model, pm->dut, i + 1, pm->wl_m[i] * 1e9,
				     pm->samples[i]);

	pm->samples[i]++;
	pm->last_w[i] = w;
	return w;
}

static void reply_power(sim_pm *pm, int i, double w, sim_buf *out)
{
	if (pm->fault_garbage) {
		reply_text(pm, out, "#?garbage@%d", i + 1);
		return;
	}
	if (pm->unit_w[i])
		reply_text(pm, out, "%+.8E", w);
	else
		reply_text(pm, out, "%+.8E", 10.0 * log10(w / 1e-3));
}

static void q_idn(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	reply_text(pm, out, "%s", SIM_PM_IDN);
}

static void s_rst(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	(void)out;
	/* *RST leaves the error queue, the DUT and the reading counters alone:
	 * the first is IEEE 488.2, the others keep runs reproducible. */
	reset_state(pm);
}

static void s_cls(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	(void)out;
	pm->nerr = 0;
}

static void s_nop(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)pm;
	(void)c;
	(void)out;
}

static void q_opc(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	reply_text(pm, out, "1");
}

static void q_err(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	if (pm->nerr == 0) {
		reply_text(pm, out, "+0,\"No error\"");
		return;
	}
	reply_text(pm, out, "%d,\"%s\"", pm->errq[0].code, pm->errq[0].text);
	memmove(pm->errq, pm->errq + 1, (size_t)(pm->nerr - 1) * sizeof(pm->errq[0]));
	pm->nerr--;
}

static void s_wav(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);
	double m;

	(void)out;
	if (i < 0 || parse_number(pm, c->params, wavelength_units, &m))
		return;
	/* The N7745A's calibrated range, rounded outward. */
	if (m < 1250e-9 || m > 1650e-9) {
		ERR_RANGE(pm);
		return;
	}
	pm->wl_m[i] = m;
}

static void q_wav(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i >= 0)
		reply_text(pm, out, "%+.8E", pm->wl_m[i]);
}

static void s_unit(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);
	const char *s = c->params;

	(void)out;
	if (i < 0)
		return;
	if (!s || !*s)
		ERR_MISSING(pm);
	else if (strcmp(s, "0") == 0 || strcasecmp(s, "DBM") == 0)
		pm->unit_w[i] = 0;
	else if (strcmp(s, "1") == 0 || strcasecmp(s, "W") == 0
		 || strcasecmp(s, "Watt") == 0)
		pm->unit_w[i] = 1;
	else
		ERR_ILLEGAL(pm);
}

static void q_unit(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i >= 0)
		reply_text(pm, out, "+%d", pm->unit_w[i]);
}

static void s_atim(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);
	double s;

	(void)out;
	if (i < 0 || parse_number(pm, c->params, time_units, &s))
		return;
	if (s < 1e-6 || s > 10.0) {
		ERR_RANGE(pm);
		return;
	}
	pm->atime_s[i] = s;
}

static void q_atim(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i >= 0)
		reply_text(pm, out, "%+.8E", pm->atime_s[i]);
}

static void s_range_auto(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	(void)out;
	if (i >= 0)
		parse_bool(pm, c->params, &pm->range_auto[i]);
}

static void q_range_auto(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i >= 0)
		reply_text(pm, out, "%d", pm->range_auto[i]);
}

static void s_gain_auto(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	(void)out;
	if (i >= 0)
		parse_bool(pm, c->params, &pm->gain_auto[i]);
}

static void q_gain_auto(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i >= 0)
		reply_text(pm, out, "%d", pm->gain_auto[i]);
}

static void q_read(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i >= 0)
		reply_power(pm, i, take_reading(pm, i), out);
}

static void q_fetch(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	int i = port_index(pm, c);

	if (i < 0)
		return;
	reply_power(pm, i, isnan(pm->last_w[i]) ? take_reading(pm, i)
						 : pm->last_w[i], out);
}

/* Emit "#<n><len>" + payload; the message's LF follows it. */
static void reply_block(sim_pm *pm, const uint8_t *data, size_t len, sim_buf *out)
{
	char len_text[24], header[48];

	snprintf(len_text, sizeof(len_text), "%zu", len);
	snprintf(header, sizeof(header), "#%zu%s", strlen(len_text), len_text);
	if (sim_buf_add(out, header, strlen(header)) || sim_buf_add(out, data, len))
		pm->oom = 1;
}

static void put_u32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void q_read_all(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	uint8_t data[4 * SIM_MAX_PORTS];

	/* ALL lives on slot 1 only, and always answers in watts. */
	if (c->suffix[0] != 1 || c->suffix[1] != 1) {
		ERR_SUFFIX(pm);
		return;
	}
	if (pm->fault_garbage) {
		reply_text(pm, out, "#?garbage@all");
		return;
	}
	for (int i = 0; i < pm->ports; i++) {
		float f = (float)take_reading(pm, i);
		uint32_t bits;

		memcpy(&bits, &f, sizeof(bits));
		put_u32_le(data + 4 * i, bits);
	}
	reply_block(pm, data, 4 * (size_t)pm->ports, out);
}

static void q_read_all_conf(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	uint8_t data[4 * SIM_MAX_PORTS];

	if (c->suffix[0] != 1 || c->suffix[1] != 1) {
		ERR_SUFFIX(pm);
		return;
	}
	for (int i = 0; i < pm->ports; i++) {
		data[4 * i] = (uint8_t)(i + 1);  /* slot, U16 LE */
		data[4 * i + 1] = 0;
		data[4 * i + 2] = 1;              /* channel, U16 LE */
		data[4 * i + 3] = 0;
	}
	reply_block(pm, data, 4 * (size_t)pm->ports, out);
}

static void s_dut(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	char *end;
	long n;

	(void)out;
	if (!c->params || !*c->params) {
		ERR_MISSING(pm);
		return;
	}
	n = strtol(c->params, &end, 10);
	if (end == c->params || *end) {
		ERR_ILLEGAL(pm);
		return;
	}
	if (n < 0 || n >= pm->model->p.units) {
		ERR_RANGE(pm);
		return;
	}
	pm->dut = (int)n;
}

static void q_dut(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	reply_text(pm, out, "%d", pm->dut);
}

static void q_units(sim_pm *pm, const struct cmd_ctx *c, sim_buf *out)
{
	(void)c;
	reply_text(pm, out, "%d", pm->model->p.units);
}

static const struct cmd_entry commands[] = {
	{"*IDN", NULL, q_idn},
	{"*RST", s_rst, NULL},
	{"*CLS", s_cls, NULL},
	{"*OPC", s_nop, q_opc},
	{"*WAI", s_nop, NULL},
	{"SYSTem:ERRor[:NEXT]", NULL, q_err},
	{"SENSe#[:CHANnel#]:POWer:WAVelength[:CW]", s_wav, q_wav},
	{"SENSe#[:CHANnel#]:POWer:UNIT", s_unit, q_unit},
	{"SENSe#[:CHANnel#]:POWer:ATIMe", s_atim, q_atim},
	{"SENSe#[:CHANnel#]:POWer:RANGe:AUTO", s_range_auto, q_range_auto},
	{"SENSe#[:CHANnel#]:POWer:GAIN:AUTO", s_gain_auto, q_gain_auto},
	{"READ#[:CHANnel#][:SCALar]:POWer[:DC]", NULL, q_read},
	{"FETCh#[:CHANnel#][:SCALar]:POWer[:DC]", NULL, q_fetch},
	{"READ#[:CHANnel#]:POWer:ALL", NULL, q_read_all},
	{"READ#[:CHANnel#]:POWer:ALL:CONFig", NULL, q_read_all_conf},
	{"SIMulate:DUT", s_dut, q_dut},
	{"SIMulate:UNITs", NULL, q_units},
};

/* ---- header matching ------------------------------------------------------ */

struct pat_node {
	char word[NODE_NAME_MAX];  /* long form as written */
	size_t short_len;          /* leading upper-case part */
	int has_suffix;
	int optional;
};

/* Compile "A[:B#]:C" into nodes; returns the count (patterns are constants
 * of this file, so a malformed one is a programming error caught by tests). */
static int compile_pattern(const char *s, struct pat_node *p)
{
	int n = 0;

	while (*s && n < MAX_NODES) {
		struct pat_node *node = &p[n];
		size_t len = 0;

		memset(node, 0, sizeof(*node));
		if (*s == '[') {
			node->optional = 1;
			s++;
		}
		if (*s == ':')
			s++;
		while (*s && *s != ':' && *s != '[' && *s != ']' && *s != '#') {
			if (len < NODE_NAME_MAX - 1)
				node->word[len++] = *s;
			if (!islower((unsigned char)*s))
				node->short_len = len;
			s++;
		}
		if (*s == '#') {
			node->has_suffix = 1;
			s++;
		}
		if (*s == ']')
			s++;
		n++;
	}
	return n;
}

static int word_matches(const struct pat_node *p, const char *name)
{
	size_t n = strlen(name);

	return (n == p->short_len && strncasecmp(name, p->word, n) == 0)
	       || strcasecmp(name, p->word) == 0;
}

static int match_nodes(const struct pat_node *p, int np, const struct in_node *in,
		       int ni, int *suffix)
{
	if (np == 0)
		return ni == 0;
	if (p->optional) {
		suffix[0] = 1;
		if (match_nodes(p + 1, np - 1, in, ni, suffix + 1))
			return 1;
	}
	if (ni == 0 || !word_matches(p, in->name))
		return 0;
	if (in->suffix >= 0 && !p->has_suffix)
		return 0;
	suffix[0] = in->suffix >= 0 ? in->suffix : 1;
	return match_nodes(p + 1, np - 1, in + 1, ni - 1, suffix + 1);
}

/* Split a header ("SENS2:POW:WAV") into nodes; -1 if it is not well formed. */
static int parse_header(const char *h, struct in_node *nodes)
{
	int n = 0;

	if (*h == ':')
		h++;
	while (*h) {
		size_t len = 0;

		if (n == MAX_NODES)
			return -1;
		if (*h == '*' && n == 0)
			nodes[n].name[len++] = *h++;
		while (isalpha((unsigned char)*h) && len < NODE_NAME_MAX - 1)
			nodes[n].name[len++] = *h++;
		nodes[n].name[len] = '\0';
		nodes[n].suffix = -1;
		if (isdigit((unsigned char)*h))
			nodes[n].suffix = (int)strtol(h, (char **)&h, 10);
		if (len == 0 || (*h && *h != ':'))
			return -1;
		if (*h == ':' && !*++h)
			return -1;
		n++;
	}
	return n;
}

/* Execute one command (no ';'), header and parameters in cmd. */
static void execute_one(sim_pm *pm, char *cmd, sim_buf *out)
{
	struct in_node nodes[MAX_NODES];
	struct cmd_ctx ctx;
	char *params;
	int query = 0, n;

	cmd += strspn(cmd, " \t");
	if (!*cmd)
		return;
	params = cmd + strcspn(cmd, " \t");
	if (*params) {
		*params++ = '\0';
		params += strspn(params, " \t");
		for (char *e = params + strlen(params); e > params && isspace((unsigned char)e[-1]);)
			*--e = '\0';
	}
	n = (int)strlen(cmd);
	if (n > 0 && cmd[n - 1] == '?') {
		query = 1;
		cmd[n - 1] = '\0';
	}
	n = parse_header(cmd, nodes);
	for (size_t k = 0; n > 0 && k < sizeof(commands) / sizeof(commands[0]); k++) {
		struct pat_node pat[MAX_NODES];
		int np = compile_pattern(commands[k].pattern, pat);
		cmd_fn fn = query ? commands[k].query : commands[k].set;

		memset(&ctx, 0, sizeof(ctx));
		ctx.params = params;
		if (!fn || !match_nodes(pat, np, nodes, n, ctx.suffix))
			continue;
		/* The table's '#' suffixes are numbered in pattern order; the
		 * handlers want them in the order they appear: compact them. */
		for (int i = 0, j = 0; i < np; i++)
			if (pat[i].has_suffix)
				ctx.suffix[j++] = ctx.suffix[i];
		fn(pm, &ctx, out);
		return;
	}
	ERR_UNDEFINED_HEADER(pm);
}

sim_pm *sim_pm_new(const sim_model *model, int fault_garbage)
{
	sim_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->model = model;
	pm->ports = model->p.ports;
	pm->fault_garbage = fault_garbage;
	reset_state(pm);
	return pm;
}

void sim_pm_free(sim_pm *pm)
{
	free(pm);
}

int sim_pm_execute(sim_pm *pm, const char *line, sim_buf *out)
{
	size_t start = out->len;
	char *copy = strdup(line);
	char *save = NULL;
	int rc = 0;

	if (!copy)
		return -1;
	pm->oom = 0;
	/* The ';' split is naive on purpose: no command of this set takes a
	 * quoted string parameter. */
	for (char *cmd = strtok_r(copy, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save)) {
		sim_buf one = {0};

		/* Each command replies into its own buffer so the ';' that
		 * joins replies of one message goes only between real replies. */
		execute_one(pm, cmd, &one);
		if (one.len) {
			if (out->len > start && sim_buf_add(out, ";", 1))
				pm->oom = 1;
			if (sim_buf_add(out, one.data, one.len))
				pm->oom = 1;
		}
		sim_buf_free(&one);
	}
	if (out->len > start && sim_buf_add(out, "\n", 1))
		pm->oom = 1;
	if (pm->oom)
		rc = -1;
	free(copy);
	return rc;
}
