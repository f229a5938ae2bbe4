/*
 * station/ops.c - what an operation may call: looking up its row's values
 * and params, reading params, references to earlier readings, unit
 * conversion, and the abort test every layer of a part uses. The table of
 * operations (ops_table.c) points at the ops_*.c functions, which call
 * only this file, so calls go one way: ops_table.c -> ops_*.c -> ops.c.
 */
#include "run_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "yaml_util.h"

int run_op_n_values(const run_op *op)
{
	int n = 0;

	while (n < RUN_MAX_VALUES && op->values[n].unit)
		n++;
	return n;
}

const run_value *run_op_value(const run_op *op, const char *name, int *idx)
{
	for (int i = 0; i < run_op_n_values(op); i++)
		if ((!name && !op->values[i].name) ||
		    (name && op->values[i].name && strcmp(name, op->values[i].name) == 0)) {
			if (idx)
				*idx = i;
			return &op->values[i];
		}
	return NULL;
}

const run_param *run_op_param(const run_op *op, const char *name)
{
	for (int i = 0; i < RUN_MAX_PARAMS && op->params[i].name; i++)
		if (strcmp(op->params[i].name, name) == 0)
			return &op->params[i];
	return NULL;
}

int run_point_get(const run_point *pt, const char *var, double *out)
{
	for (size_t i = 0; i < pt->st->n_sweep; i++)
		if (strcmp(pt->st->sweep[i].name, var) == 0) {
			*out = pt->vals[i];
			return 1;
		}
	return 0;
}

double run_param_num(const seq_step *st, const char *key, double dflt)
{
	const seq_param *p = seq_step_param(st, key);
	double v;

	return p && yu_parse_double(p->value, &v) == 0 ? v : dflt;
}

int run_param_bool(const seq_step *st, const char *key, int dflt)
{
	const seq_param *p = seq_step_param(st, key);
	int v;

	return p && yu_bool_word(p->value, &v) == 0 ? v : dflt;
}

const char *run_param_str(const seq_step *st, const char *key,
			  const char *dflt)
{
	const seq_param *p = seq_step_param(st, key);

	return p ? p->value : dflt;
}

/* ---- references: what an operation reads back from its part -------------- */

const char *run_reference_var(const seq_step *st, const char *ref_var,
			      char *buf, size_t cap)
{
	const char *map = run_param_str(st, "reference_match", NULL);

	/* "mine=theirs[,mine=theirs...]" */
	while (map && *map) {
		const char *eq = strchr(map, '='), *end = strchr(map, ',');
		size_t len;

		if (!end)
			end = map + strlen(map);
		if (eq && eq < end && (size_t)(end - eq - 1) == strlen(ref_var) &&
		    strncmp(eq + 1, ref_var, strlen(ref_var)) == 0) {
			len = (size_t)(eq - map);
			snprintf(buf, cap, "%.*s", (int)len, map);
			return buf;
		}
		map = *end ? end + 1 : end;
	}
	return ref_var;
}

int run_reference(const run_ctx *cx, const char *ref, const run_point *pt,
		  double *native, const char **unit)
{
	char name[128];
	char *value;
	const seq_step *rst;
	long idx;

	if (strlen(ref) >= sizeof(name))
		return 0;   /* run_lint refuses it */
	snprintf(name, sizeof(name), "%s", ref);
	value = strchr(name, '/');
	if (value)
		*value++ = '\0';
	idx = seq_step_index(cx->s, name);
	if (idx < 0)
		return 0;
	rst = seq_step_at(cx->s, (size_t)idx);
	/* Latest first: a retried reference counts with its last reading. */
	for (size_t i = cx->part.n_recs; i-- > 0;) {
		const run_rec *r = &cx->part.recs[i];
		int same = 1;

		if (r->step != (size_t)idx || (r->value == NULL) != (value == NULL) ||
		    (value && strcmp(r->value, value) != 0))
			continue;
		for (size_t k = 0; k < rst->n_sweep && same; k++) {
			char var[64];
			double mine;

			if (run_point_get(pt, run_reference_var(pt->st, rst->sweep[k].name,
								var, sizeof(var)),
					  &mine) &&
			    mine != r->vals[k])
				same = 0;
		}
		if (same) {
			*native = r->native;
			*unit = r->unit;
			return 1;
		}
	}
	return 0;
}

size_t run_step_points(const run_call *c, const char *value, const char *var,
		       double *x, double *y, size_t cap)
{
	const seq_step *st = seq_step_at(c->cx->s, c->step_idx);
	size_t k = SIZE_MAX, n = 0;

	for (size_t i = 0; i < st->n_sweep; i++)
		if (strcmp(st->sweep[i].name, var) == 0)
			k = i;
	if (k == SIZE_MAX)
		return 0;
	for (size_t i = 0; i < c->cx->part.n_recs && n < cap; i++) {
		const run_rec *r = &c->cx->part.recs[i];

		if (r->step != c->step_idx || !r->value || strcmp(r->value, value))
			continue;
		x[n] = r->vals[k];
		y[n++] = r->native;
	}
	return n;
}

/* ---- units --------------------------------------------------------------- */

int run_unit_convert(double v, const char *from, const char *to, double *out)
{
	static const struct { const char *unit, *base; double per_base; } fam[] = {
		{"W", "W", 1.0}, {"mW", "W", 1e3}, {"uW", "W", 1e6},
		{"nW", "W", 1e9}, {"A", "A", 1.0}, {"mA", "A", 1e3},
		{"uA", "A", 1e6}, {"nA", "A", 1e9}, {"V", "V", 1.0},
		{"mV", "V", 1e3},
	};
	int f = -1, t = -1;

	if (!*to || strcmp(from, to) == 0) {
		*out = v;
		return 1;
	}
	for (int i = 0; i < (int)(sizeof(fam) / sizeof(fam[0])); i++) {
		if (strcmp(from, fam[i].unit) == 0)
			f = i;
		if (strcmp(to, fam[i].unit) == 0)
			t = i;
	}
	if (f < 0)
		return 0;
	v /= fam[f].per_base;
	if (t >= 0 && strcmp(fam[t].base, fam[f].base) == 0) {
		*out = v * fam[t].per_base;
		return 1;
	}
	if (strcmp(fam[f].base, "W") == 0 && strcmp(to, "dBm") == 0) {
		*out = v > 0 ? 10.0 * log10(v * 1e3) : NAN;
		return 1;
	}
	return 0;
}

const char *run_unit_choices(const char *native)
{
	if (strcmp(native, "W") == 0)
		return "W, mW, uW, nW, dBm";
	if (strcmp(native, "A") == 0)
		return "A, mA";
	return native[0] ? native : "count";
}

int run_unit_span(const char *unit, double *lo, double *hi)
{
	/* What a photonic die on this station can show; a limit outside
	 * these is a unit slip (45..90 A for mA), never a real screen. */
	static const struct { const char *unit; double lo, hi; } span[] = {
		{"W", 0, 10}, {"mW", 0, 1e4}, {"uW", 0, 1e7}, {"nW", 0, 1e10},
		{"dBm", -100, 40}, {"dB", -100, 100}, {"nm", 1000, 1700},
		{"A", 0, 2}, {"mA", 0, 2000}, {"V", -100, 100}, {"C", -60, 200},
		{"ratio", 0, 1}, {"s", 0, 86400}, {"", 0, INFINITY},
		{"uA", 0, 2e6}, {"nA", 0, 2e9}, {"mV", -1e5, 1e5},
		{"ohm", 0, 1e6}, {"W/A", 0, 10}, {"A/W", 0, 10},
		{"%", 0, 1000}, {"nm/mW", -10, 10}, {"um", -1e4, 1e4},
	};

	for (size_t i = 0; i < sizeof(span) / sizeof(span[0]); i++)
		if (strcmp(unit, span[i].unit) == 0) {
			*lo = span[i].lo;
			*hi = span[i].hi;
			return 1;
		}
	return 0;
}

/* ---- stopping ------------------------------------------------------------ */

/* The flag is set by a signal handler on whichever thread the signal
 * lands and read by every branch's thread: an atomic load (lock-free, so
 * also what a handler may use) keeps that a defined access. */
int run_aborted(const run_ctx *cx)
{
	return !cx->in_cleanup && cx->o->abort_flag &&
	       __atomic_load_n(cx->o->abort_flag, __ATOMIC_RELAXED);
}

/* A branch also stops when a branch before it in the file erred: the
 * first branch that did not pass decides the part's bin, so nothing a
 * later branch measures can change it, and the time is better spent on
 * the next part. The branches before the erring one run on: one of them
 * may still decide the bin, and so the bin never depends on which
 * thread got there first. */
int run_stopped(const run_ctx *cx)
{
	return run_aborted(cx) ||
	       (!cx->in_cleanup && cx->block_stop &&
		atomic_load(cx->block_stop) < cx->branch_no);
}

double run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int run_sleep(const run_ctx *cx, double seconds, kgd_err *err)
{
	while (seconds > 0) {
		double slice = seconds < 0.05 ? seconds : 0.05;
		struct timespec ts = {(time_t)slice,
				      (long)((slice - (double)(time_t)slice) * 1e9)};

		if (run_stopped(cx))
			return kgd_err_set(err, KGD_ERR_ABORTED, "aborted while waiting");
		nanosleep(&ts, NULL);
		seconds -= slice;
	}
	return KGD_OK;
}
