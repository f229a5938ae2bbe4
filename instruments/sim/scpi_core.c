/*
 * instruments/sim/scpi_core.c - see scpi_core.h.
 *
 * The matcher is generic: a command is found by compiling each table
 * pattern into nodes and matching the incoming header against them, so
 * adding a command is adding a row to an instrument's table.
 */
#include "scpi_core.h"
#include "station.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NODE_NAME_MAX 24

struct in_node {
	char name[NODE_NAME_MAX];
	int suffix;                       /* -1 when none was given */
};

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

void sim_scpi_reply(sim_scpi *s, sim_buf *out, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n > 0 && sim_buf_add(out, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1))
		s->oom = 1;
}

void sim_scpi_error(sim_scpi *s, int code, const char *text)
{
	if (s->nerr == SIM_SCPI_ERRQ_MAX) {
		/* IEEE 488.2: the last slot reports that errors were lost. */
		s->errq[SIM_SCPI_ERRQ_MAX - 1].code = -350;
		s->errq[SIM_SCPI_ERRQ_MAX - 1].text = "Queue overflow";
		return;
	}
	s->errq[s->nerr].code = code;
	s->errq[s->nerr].text = text;
	s->nerr++;
}

void sim_scpi_block(sim_scpi *s, const uint8_t *data, size_t len, sim_buf *out)
{
	char len_text[24], header[48];

	snprintf(len_text, sizeof(len_text), "%zu", len);
	snprintf(header, sizeof(header), "#%zu%s", strlen(len_text), len_text);
	if (sim_buf_add(out, header, strlen(header)) || sim_buf_add(out, data, len))
		s->oom = 1;
}

int sim_scpi_number(sim_scpi *s, const char *p, const struct sim_unit_suffix *units,
		    double *out)
{
	char *end;
	double v;

	if (!p || !*p) {
		SIM_ERR_MISSING(s);
		return -1;
	}
	v = strtod(p, &end);
	if (end == p || !isfinite(v)) {
		SIM_ERR_ILLEGAL(s);
		return -1;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end) {
		const struct sim_unit_suffix *u = units;

		for (; u && u->name; u++)
			if (strcasecmp(end, u->name) == 0)
				break;
		if (!u || !u->name) {
			SIM_ERR_ILLEGAL(s);
			return -1;
		}
		v *= u->mult;
	}
	*out = v;
	return 0;
}

int sim_scpi_bool(sim_scpi *s, const char *p, int *out)
{
	if (!p || !*p) {
		SIM_ERR_MISSING(s);
		return -1;
	}
	if (strcmp(p, "1") == 0 || strcasecmp(p, "ON") == 0)
		*out = 1;
	else if (strcmp(p, "0") == 0 || strcasecmp(p, "OFF") == 0)
		*out = 0;
	else {
		SIM_ERR_ILLEGAL(s);
		return -1;
	}
	return 0;
}

/* ---- the commands every instrument shares ------------------------------- */

static void s_cls(const sim_scpi_call *c, sim_buf *out)
{
	(void)out;
	c->s->nerr = 0;
}

static void s_nop(const sim_scpi_call *c, sim_buf *out)
{
	(void)c;
	(void)out;
}

static void q_opc(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "1");
}

static void q_err(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi *s = c->s;

	if (s->nerr == 0) {
		sim_scpi_reply(s, out, "+0,\"No error\"");
		return;
	}
	sim_scpi_reply(s, out, "%d,\"%s\"", s->errq[0].code, s->errq[0].text);
	memmove(s->errq, s->errq + 1, (size_t)(s->nerr - 1) * sizeof(s->errq[0]));
	s->nerr--;
}

static void s_dut(const sim_scpi_call *c, sim_buf *out)
{
	char *end;
	long n;

	(void)out;
	if (!c->params || !*c->params) {
		SIM_ERR_MISSING(c->s);
		return;
	}
	n = strtol(c->params, &end, 10);
	if (end == c->params || *end) {
		SIM_ERR_ILLEGAL(c->s);
		return;
	}
	if (sim_station_select(c->s->st, n) != 0)
		SIM_ERR_RANGE(c->s);
}

static void q_dut(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%d", c->s->st->dut);
}

static void q_units(const sim_scpi_call *c, sim_buf *out)
{
	sim_scpi_reply(c->s, out, "%d", c->s->st->model.p.units);
}

static const sim_scpi_cmd common[] = {
	{"*CLS", s_cls, NULL},
	{"*OPC", s_nop, q_opc},
	{"*WAI", s_nop, NULL},
	{"SYSTem:ERRor[:NEXT]", NULL, q_err},
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

/* Compile "A[:B#]:C" into nodes; returns the count (patterns are constants,
 * so a malformed one is a programming error caught by tests). */
static int compile_pattern(const char *s, struct pat_node *p)
{
	int n = 0;

	while (*s && n < SIM_SCPI_MAX_NODES) {
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

		if (n == SIM_SCPI_MAX_NODES)
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

static int try_table(sim_scpi *s, const sim_scpi_cmd *table, size_t count,
		     const struct in_node *nodes, int n, int query, const char *params,
		     sim_buf *out)
{
	for (size_t k = 0; k < count; k++) {
		struct pat_node pat[SIM_SCPI_MAX_NODES];
		int np = compile_pattern(table[k].pattern, pat);
		sim_scpi_fn fn = query ? table[k].query : table[k].set;
		sim_scpi_call call;

		memset(&call, 0, sizeof(call));
		call.s = s;
		call.inst = s->inst;
		call.params = params;
		if (!fn || !match_nodes(pat, np, nodes, n, call.suffix))
			continue;
		/* Keep only the suffixes of '#' nodes, in pattern order. */
		for (int i = 0, j = 0; i < np; i++)
			if (pat[i].has_suffix)
				call.suffix[j++] = call.suffix[i];
		fn(&call, out);
		return 1;
	}
	return 0;
}

/* Execute one command (no ';'), header and parameters in cmd. */
static void execute_one(sim_scpi *s, const sim_scpi_cmd *table, size_t count, char *cmd,
			sim_buf *out)
{
	struct in_node nodes[SIM_SCPI_MAX_NODES];
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
	if (n > 0 && (try_table(s, table, count, nodes, n, query, params, out)
		      || try_table(s, common, sizeof(common) / sizeof(common[0]), nodes, n,
				   query, params, out)))
		return;
	SIM_ERR_UNDEFINED_HEADER(s);
}

int sim_scpi_execute(sim_scpi *s, const sim_scpi_cmd *table, size_t n,
		     const char *line, const sim_fx *fx, sim_buf *out)
{
	static const sim_fx none;
	size_t start = out->len;
	char *copy = strdup(line);
	char *save = NULL;

	if (!copy)
		return -1;
	s->oom = 0;
	s->fx = fx ? fx : &none;
	if (s->fx->error)
		sim_scpi_error(s, -310, "System error");
	/* The ';' split is naive on purpose: no command of these sets takes a
	 * quoted string parameter. */
	for (char *cmd = strtok_r(copy, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save)) {
		sim_buf one = {0};

		/* Each command replies into its own buffer so the ';' that
		 * joins replies of one message goes only between real replies. */
		execute_one(s, table, n, cmd, &one);
		if (one.len) {
			if (out->len > start && sim_buf_add(out, ";", 1))
				s->oom = 1;
			if (sim_buf_add(out, one.data, one.len))
				s->oom = 1;
		}
		sim_buf_free(&one);
	}
	if (out->len > start && sim_buf_add(out, "\n", 1))
		s->oom = 1;
	free(copy);
	s->fx = &none;
	return s->oom ? -1 : 0;
}
