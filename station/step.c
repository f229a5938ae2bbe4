/*
 * station/step.c - one step of a part: its sweep, point by point or in
 * batches (all ports at one wavelength, all lanes in one gate), retries,
 * limits, and the rows and verdict it leaves in the part.
 *
 * A batch is only a faster way to get the same numbers: it measures the
 * points that differ only in the op's batch variable with one instrument
 * call, retries a failing point on its own exactly as the point-by-point
 * path does, and logs the points in sweep order, stopping after the first
 * point in error - so the rows, their order, limits, units and verdict are
 * the point-by-point path's. KGD_NO_BATCH=1 (run_opts.no_batch) forces the
 * point-by-point path, for comparison.
 *
 * Invariant: every row is written with the limits and unit it was judged
 * by, and a part's verdict only ever gets worse (pass -> fail -> error).
 */
#include "run_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Record why the part failed; long reasons are cut, which keeps their
 * start: the step name and sweep point. */
void run_part_reason(run_part *part, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(part->reason, sizeof(part->reason), fmt, ap);
	va_end(ap);
}

/* The limits of value `value` at point pt: entry i of a per-point list at
 * the i-th value of its per variable (in *buf). NULL: unlimited. */
static const seq_limits *point_limits(const seq_step *st, const char *value,
				      const run_point *pt, seq_limits *buf)
{
	const seq_limits *lim = seq_step_limits(st, value);
	size_t i = SIZE_MAX;

	if (!lim || !lim->per)
		return lim;
	for (size_t k = 0; k < st->n_sweep; k++)
		if (strcmp(st->sweep[k].name, lim->per) == 0)
			i = pt->idx[k];
	/* Not a sweep variable (run_lint refuses that): NaN bounds, a fail. */
	return seq_limits_at(lim, i, buf);
}

static int within(const seq_limits *l, double v)
{
	if (isnan(v))
		return 0;
	if (l->exclusive)
		return (!l->has_low || v > l->low) && (!l->has_high || v < l->high);
	return (!l->has_low || v >= l->low) && (!l->has_high || v <= l->high);
}

/* JSON string body of s (quotes and backslashes escaped, controls
 * dropped) appended at buf+*used. */
static void json_str(char *buf, size_t cap, size_t *used, const char *s)
{
	for (; *s && *used + 3 < cap; s++) {
		if (*s == '"' || *s == '\\')
			buf[(*used)++] = '\\';
		if ((unsigned char)*s >= 0x20)
			buf[(*used)++] = *s;
	}
	buf[*used] = '\0';
}

/* Sweep coordinates (and a text read, if any) as a JSON object, in sweep
 * order: what the db stores and what a failure reason quotes. "" when there
 * is nothing to say. */
static void point_json(const run_point *pt, const char *text, char *buf,
		       size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < pt->st->n_sweep && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s\"%s\":%.10g",
					 i ? "," : "{", pt->st->sweep[i].name,
					 pt->vals[i]);
	if (text && used + 16 < cap) {
		used += (size_t)snprintf(buf + used, cap - used, "%s\"text\":\"",
					 used ? "," : "{");
		json_str(buf, cap - 2, &used, text);
		buf[used++] = '"';
		buf[used] = '\0';
	}
	if (used && used + 2 < cap)
		snprintf(buf + used, cap - used, "}");
	else if (used)
		buf[0] = '\0';   /* cut: not valid JSON, store none */
}

run_rec *run_part_rec_add(run_part *part)
{
	if (part->n_recs == part->cap_recs) {
		size_t cap = part->cap_recs ? 2 * part->cap_recs : 64;
		run_rec *grown = realloc(part->recs, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		part->recs = grown;
		part->cap_recs = cap;
	}
	return &part->recs[part->n_recs++];
}

static int remember(run_part *part, size_t step, const run_value *rv,
		    const run_point *pt, double native)
{
	run_rec *r = run_part_rec_add(part);

	if (!r)
		return -1;
	r->step = step;
	r->value = rv->name;
	r->unit = rv->unit;
	memcpy(r->vals, pt->vals, sizeof(r->vals));
	r->native = native;
	return 0;
}

/* Fold a point's instrument error into the part: it outranks any earlier
 * limit failure, because the part's data cannot be trusted either way. */
static void part_error(run_part *part, const seq_step *st, const char *coords,
		       const char *msg)
{
	if (part->verdict != RUN_ERROR) {
		part->verdict = RUN_ERROR;
		part->soft_bin = RUN_BIN_ERROR;
		run_part_reason(part, "%s%s%s: %s", st->name, coords[0] ? " " : "",
			   coords, msg);
	}
}

void run_part_fail(run_part *part, const seq_step *st)
{
	if (part->verdict == RUN_PASS) {
		part->verdict = RUN_FAIL;
		part->soft_bin = st->fail_bin ? st->fail_bin : RUN_BIN_FAIL;
	}
}


/* Log one value of a numeric point. */
static int log_value(run_ctx *cx, const seq_step *st, const run_op *op, int vi,
		     const run_call *call, int call_ok, const char *coords,
		     int *pass)
{
	const run_value *rv = &op->values[vi];
	seq_limits at;
	const seq_limits *lim = point_limits(st, rv->name, call->pt, &at);
	const char *unit = lim && lim->unit[0] ? lim->unit : rv->unit;
	run_row *m = run_record_add(&cx->part.rec);
	double v = NAN;

	if (!m)
		return -1;
	if (call_ok)
		run_unit_convert(call->v[vi], rv->unit, unit, &v);
	*pass = call_ok && (lim ? within(lim, v) : !isnan(v));
	m->step = st->name;
	m->name = rv->name;
	m->coords = coords[0] ? strdup(coords) : NULL;
	if (coords[0] && !m->coords)
		return -1;
	m->value = v;
	m->value_valid = call_ok && !isnan(v);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	if (lim) {
		m->has_low = lim->has_low;
		m->has_high = lim->has_high;
		m->low = lim->low;
		m->high = lim->high;
	}
	m->pass = *pass;
	cx->part.measurements++;
	if (!*pass && call_ok && cx->part.verdict == RUN_PASS) {
		char lo[32] = "-inf", hi[32] = "+inf";

		if (m->has_low)
			snprintf(lo, sizeof(lo), "%.6g", m->low);
		if (m->has_high)
			snprintf(hi, sizeof(hi), "%.6g", m->high);
		run_part_reason(&cx->part, "%s%s%s%s%s: %.6g %s outside %s%s, %s%s",
				st->name, rv->name ? "/" : "", rv->name ? rv->name : "",
				coords[0] ? " " : "", coords, v, unit,
				lim && lim->exclusive ? "(" : "[", lo, hi,
				lim && lim->exclusive ? ")" : "]");
	}
	return 0;
}

/* Did a successful call pass? Numeric: every value within its limits (or
 * valid, when it has none); match/prompt: the call's verdict. */
static int judge(const run_op *op, const run_call *call)
{
	int nv = run_op_n_values(op);

	if (op->kind == RUN_KIND_ACTION)
		return 1;
	if (op->kind != RUN_KIND_NUMERIC)
		return call->matched;
	for (int i = 0; i < nv; i++) {
		seq_limits at;
		const seq_limits *lim;
		double v = NAN;

		if (run_value_derived(op, i))
			continue;   /* judged once, after the sweep */
		lim = point_limits(call->st, op->values[i].name, call->pt, &at);

		run_unit_convert(call->v[i], op->values[i].unit,
				 lim && lim->unit[0] ? lim->unit : op->values[i].unit,
				 &v);
		if (lim ? !within(lim, v) : isnan(v))
			return 0;
	}
	return 1;
}

static void call_init(run_call *c, run_ctx *cx, const run_point *pt)
{
	const run_op *op = run_find_op(pt->st->op);

	memset(c, 0, sizeof(*c));
	c->cx = cx;
	c->r = run_find_role(cx->rs, pt->st->role);
	c->st = pt->st;
	c->pt = pt;
	/* A second instrument the step reads (lint checked its class). */
	for (size_t i = 0; op && i < pt->st->n_params; i++) {
		const run_param *rp = run_op_param(op, pt->st->params[i].key);

		if (rp && rp->type == RUN_P_PM_ROLE)
			c->meter = run_find_role(cx->rs, pt->st->params[i].value);
	}
}

/* Measure one point on its own, with the step's retries: an attempt that
 * errs or fails is repeated, the last one counts. The outcome is in
 * c->rc / c->ierr. A call that already holds a first attempt (from a
 * batch) passes first_done. Returns KGD_ERR_ABORTED on abort. */
static int measure_point(run_ctx *cx, const run_op *op, run_call *c,
			 int first_done, kgd_err *err)
{
	for (int attempt = 0; attempt <= c->st->retry; attempt++) {
		if (attempt > 0 || !first_done) {
			const run_point *pt = c->pt;

			if (attempt > 0 && run_stopped(cx))
				break;   /* the part ends anyway: keep what we have */
			call_init(c, cx, pt);
			kgd_err_clear(&c->ierr);
			c->rc = op->exec(c, &c->ierr);
		}
		if (c->rc == KGD_ERR_ABORTED)
			return kgd_err_set(err, c->rc, "%s", c->ierr.msg);
		if (c->rc == KGD_OK && judge(op, c))
			break;
	}
	return KGD_OK;
}

/* Log a measured point and fold it into the part; *status gets its
 * outcome. -1 when out of memory. */
static int log_point(run_ctx *cx, size_t step_idx, const run_op *op,
		     const run_call *call, int *status, size_t *n_logged)
{
	const seq_step *st = call->st;
	int ok = call->rc == KGD_OK, pass = ok && judge(op, call);
	int nv = run_op_n_values(op);
	char coords[512];

	point_json(call->pt, op->kind == RUN_KIND_MATCH || op->kind == RUN_KIND_PROMPT
				     ? (ok ? call->text : NULL) : NULL,
		   coords, sizeof(coords));
	if (op->kind == RUN_KIND_NUMERIC) {
		for (int i = 0; i < nv; i++) {
			int vpass;

			if (run_value_derived(op, i))
				continue;
			if (log_value(cx, st, op, i, call, ok, coords, &vpass))
				return -1;
			if (ok && remember(&cx->part, step_idx, &op->values[i],
					   call->pt, call->v[i]))
				return -1;
			(*n_logged)++;
		}
	} else if (op->kind != RUN_KIND_ACTION &&
		   (op->kind == RUN_KIND_MATCH || seq_step_param(st, "expect"))) {
		/* A string judged: 1 matched, 0 not; the string rides in coords. */
		run_row *m = run_record_add(&cx->part.rec);

		if (!m)
			return -1;
		m->step = st->name;
		m->coords = coords[0] ? strdup(coords) : NULL;
		if (coords[0] && !m->coords)
			return -1;
		m->value = call->matched;
		m->value_valid = ok;
		m->pass = pass;
		cx->part.measurements++;
		(*n_logged)++;
		if (ok && !pass && cx->part.verdict == RUN_PASS) {
			const seq_param *want = seq_step_param(st, "expect");

			if (!want)
				want = seq_step_param(st, "glob");
			if (!want)
				want = seq_step_param(st, "regex");
			run_part_reason(&cx->part, "%s: '%.80s' does not match '%.80s'",
					st->name, call->text, want ? want->value : "");
		}
	}
	if (!ok) {
		/* The first error names the instrument the policy looks at. */
		if (cx->part.verdict != RUN_ERROR) {
			cx->part.err_role = call->r;
			cx->part.err_status = call->rc;
		}
		part_error(&cx->part, st, coords, call->ierr.msg);
		*status = RUN_ST_ERROR;
	} else if (!pass) {
		run_part_fail(&cx->part, st);
		*status = RUN_ST_FAIL;
	} else {
		*status = RUN_ST_PASS;
	}
	return 0;
}

/* The sweep's odometer: the first point, then each next one in sweep
 * order (the last variable varies fastest); point_next is 0 after the
 * last point. The zip variables lead the sweep (seq_steps.c) and turn as
 * one digit, the slowest: all take their i-th value together. */
static void point_set(run_point *pt)
{
	for (size_t i = 0; i < pt->st->n_sweep; i++)
		pt->vals[i] = pt->st->sweep[i].values[pt->idx[i]];
}

static void point_first(run_point *pt, const seq_step *st)
{
	memset(pt, 0, sizeof(*pt));
	pt->st = st;
	point_set(pt);
}

static int point_next(run_point *pt)
{
	for (size_t k = pt->st->n_sweep; k > 0; k--) {
		if (pt->st->sweep[k - 1].zip) {
			/* sweep[0..k-1] are the zip group, of equal lengths */
			size_t next = pt->idx[0] + 1;

			if (next >= pt->st->sweep[0].n_values)
				return 0;
			for (size_t z = 0; z < k; z++)
				pt->idx[z] = next;
			point_set(pt);
			return 1;
		}
		if (++pt->idx[k - 1] < pt->st->sweep[k - 1].n_values) {
			point_set(pt);
			return 1;
		}
		pt->idx[k - 1] = 0;
	}
	return 0;
}

/* Every point of the step's sweep, in sweep order. NULL when out of
 * memory. */
static run_point *sweep_points(const seq_step *st, size_t *n)
{
	size_t total = seq_step_points(st), p = 0;
	run_point pt, *pts;

	pts = calloc(total ? total : 1, sizeof(*pts));
	if (!pts)
		return NULL;
	point_first(&pt, st);
	do
		pts[p++] = pt;
	while (p < total && point_next(&pt));
	*n = total;
	return pts;
}

/* Same coordinates but for sweep variable `skip`? */
static int same_but(const run_point *a, const run_point *b, size_t skip)
{
	for (size_t i = 0; i < a->st->n_sweep; i++)
		if (i != skip && a->idx[i] != b->idx[i])
			return 0;
	return 1;
}

/* Batch path: groups of points that share every coordinate but the batch
 * variable, measured group by group in the order their first point comes
 * in the sweep. Once a group has a point in error no further group is
 * measured: the first point in error, in sweep order, is the first point
 * of that group, and every point before it belongs to a group measured
 * earlier - so logging in sweep order up to it logs what the point-by-
 * point path would. have[i] becomes 1 for every point with a result. */
static int measure_batched(run_ctx *cx, const run_op *op, size_t bvar,
			   run_point *pts, run_call *calls, unsigned char *have,
			   size_t n, kgd_err *err)
{
	size_t members[RUN_MAX_BATCH];

	for (size_t first = 0; first < n; first++) {
		size_t m = 0;
		int rc, erred = 0;

		if (have[first])
			continue;
		if (run_stopped(cx))
			return KGD_OK;
		for (size_t j = first; j < n && m < RUN_MAX_BATCH; j++) {
			int dup = 0;

			if (have[j] || !same_but(&pts[first], &pts[j], bvar))
				continue;
			/* A port or lane swept twice goes to a later batch: one
			 * call measures each once. */
			for (size_t g = 0; g < m && !dup; g++)
				dup = pts[members[g]].vals[bvar] == pts[j].vals[bvar];
			if (dup)
				continue;
			members[m++] = j;
			have[j] = 2;   /* taken into this group */
		}
		{
			run_call group[RUN_MAX_BATCH];

			for (size_t g = 0; g < m; g++)
				call_init(&group[g], cx, &pts[members[g]]);
			rc = op->batch(group, m, err);
			if (rc)
				return rc;
			for (size_t g = 0; g < m; g++) {
				run_call *c = &calls[members[g]];

				*c = group[g];
				c->pt = &pts[members[g]];
				rc = measure_point(cx, op, c, 1, err);
				if (rc)
					return rc;
				have[members[g]] = 1;
				if (c->rc != KGD_OK)
					erred = 1;
			}
		}
		if (erred)
			return KGD_OK;
	}
	return KGD_OK;
}

static int batch_var(const run_ctx *cx, const seq_step *st, const run_op *op)
{
	const run_role *r;

	if (!op->batch || cx->o->no_batch)
		return -1;
	r = run_find_role(cx->rs, st->role);
	if (!r || !op->can_batch(r))
		return -1;
	for (size_t i = 0; i < st->n_sweep; i++)
		if (strcmp(st->sweep[i].name, op->batch_var) == 0)
			/* A zipped port pairs with its own wavelength: no two
			 * points share the rest, so point by point. */
			return st->sweep[i].n_values > 1 && !st->sweep[i].zip
				? (int)i : -1;
	return -1;
}

static const char *step_status_text(int st)
{
	return st == RUN_ST_PASS ? "pass" : st == RUN_ST_FAIL ? "fail" : "error";
}

/* What measuring a step's points left: its worst point, the values
 * logged, and whether a stop cut it short. */
typedef struct step_outcome {
	int status;
	size_t n_logged;
	int cut;
} step_outcome;

/* KGD_ERR_ABORTED without an abort is a sibling branch's stop (see
 * run_stopped): the step is cut short, keeping what it measured. */
static int cut_by_sibling(run_ctx *cx, int rc, step_outcome *o)
{
	if (rc != KGD_ERR_ABORTED || run_aborted(cx))
		return rc;
	o->cut = 1;
	return KGD_OK;
}

/* Log a measured point; -1 after an error point (the step ends there). */
static int log_and_fold(run_ctx *cx, size_t idx, const run_op *op,
			const run_call *call, step_outcome *o, kgd_err *err)
{
	int pst;

	if (log_point(cx, idx, op, call, &pst, &o->n_logged))
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if (pst > o->status)
		o->status = pst;
	return KGD_OK;
}

/* Point by point, in sweep order (the last variable varies fastest), one
 * point in memory at a time: a sweep of any size costs no more. */
static int step_points(run_ctx *cx, size_t idx, const run_op *op,
		       step_outcome *o, kgd_err *err)
{
	run_point pt;
	run_call call;
	int rc;

	point_first(&pt, seq_step_at(cx->s, idx));
	for (;;) {
		if (run_stopped(cx)) {
			o->cut = 1;
			return KGD_OK;
		}
		call_init(&call, cx, &pt);
		run_progress_point(cx, pt.st, &pt);
		rc = cut_by_sibling(cx, measure_point(cx, op, &call, 0, err), o);
		if (rc || o->cut)
			return rc;
		rc = log_and_fold(cx, idx, op, &call, o, err);
		if (rc || o->status == RUN_ST_ERROR || !point_next(&pt))
			return rc;
	}
}

/* In batches over sweep variable bvar, then logged in sweep order up to
 * the first point in error, as point by point would. */
static int step_batched(run_ctx *cx, size_t idx, const run_op *op, size_t bvar,
			step_outcome *o, kgd_err *err)
{
	const seq_step *st = seq_step_at(cx->s, idx);
	size_t n = 0;
	run_point *pts = sweep_points(st, &n);
	run_call *calls = calloc(n ? n : 1, sizeof(*calls));
	unsigned char *have = calloc(n ? n : 1, 1);
	int rc;

	if (!pts || !calls || !have) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	run_progress_point(cx, st, NULL);
	rc = cut_by_sibling(cx, measure_batched(cx, op, bvar, pts, calls, have, n,
						err), o);
	for (size_t p = 0; rc == KGD_OK && p < n; p++) {
		if (have[p] != 1) {   /* a batch cut short by a stop */
			o->cut = 1;
			break;
		}
		rc = log_and_fold(cx, idx, op, &calls[p], o, err);
		if (o->status == RUN_ST_ERROR)
			break;
	}
out:
	free(pts);
	free(calls);
	free(have);
	return rc;
}

/* The derived values of a step whose sweep measured without error: one
 * call of op->derive over the remembered points, then each value logged
 * as a measurement of the step with its own limits and unit, its coords
 * the derive's account of which points it used (the raw points are the
 * step's rows before it). They fold into the step like a point does. */
static int step_derive(run_ctx *cx, size_t idx, const run_op *op,
		       step_outcome *o, kgd_err *err)
{
	const seq_step *st = seq_step_at(cx->s, idx);
	run_point pt;
	run_call call;
	int ok, pass = 1;

	point_first(&pt, st);
	call_init(&call, cx, &pt);
	call.step_idx = idx;
	for (int i = 0; i < RUN_MAX_VALUES; i++)
		call.v[i] = NAN;
	kgd_err_clear(&call.ierr);
	call.rc = run_op_derive(op)->derive(&call, &call.ierr);
	if (call.rc == KGD_ERR_ABORTED)
		return kgd_err_set(err, call.rc, "%s", call.ierr.msg);
	ok = call.rc == KGD_OK;
	for (int i = 0; i < run_op_n_values(op); i++) {
		int vpass;

		if (!run_value_derived(op, i))
			continue;
		if (log_value(cx, st, op, i, &call, ok, ok ? call.text : "", &vpass) ||
		    (ok && remember(&cx->part, idx, &op->values[i], &pt, call.v[i])))
			return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		o->n_logged++;
		pass = pass && vpass;
	}
	if (!ok) {
		if (cx->part.verdict != RUN_ERROR) {
			cx->part.err_role = call.r;
			cx->part.err_status = call.rc;
		}
		part_error(&cx->part, st, "", call.ierr.msg);
		o->status = RUN_ST_ERROR;
	} else if (!pass) {
		run_part_fail(&cx->part, st);
		if (o->status < RUN_ST_FAIL)
			o->status = RUN_ST_FAIL;
	}
	return KGD_OK;
}

/* skip_if: {step, value, above/below, unit}: the max (min, mean, last)
 * of every valid value the step measured in this part, in the skip_if's
 * unit, past a threshold. No value (the step did not run, or measured
 * nothing valid): not skipped - as a step that did not run neither
 * passed nor failed. */
static int skip_by_value(const run_ctx *cx, const seq_step *st)
{
	const seq_skip_if *sk = &st->skip_if;
	long j = seq_step_index(cx->s, sk->step);
	double agg = 0, v;
	size_t n = 0;

	for (size_t i = 0; j >= 0 && i < cx->part.n_recs; i++) {
		const run_rec *r = &cx->part.recs[i];

		if (r->step != (size_t)j || (r->value == NULL) != (sk->value == NULL) ||
		    (sk->value && strcmp(r->value, sk->value) != 0) ||
		    !run_unit_convert(r->native, r->unit, sk->unit, &v) || isnan(v))
			continue;
		if (n == 0 || sk->agg == SEQ_AGG_LAST ||
		    (sk->agg == SEQ_AGG_MAX && v > agg) ||
		    (sk->agg == SEQ_AGG_MIN && v < agg))
			agg = sk->agg == SEQ_AGG_MEAN ? agg + v : v;
		else if (sk->agg == SEQ_AGG_MEAN)
			agg += v;
		n++;
	}
	if (n == 0)
		return 0;
	if (sk->agg == SEQ_AGG_MEAN)
		agg /= (double)n;
	return (sk->has_above && agg > sk->above) || (sk->has_below && agg < sk->below);
}

int run_step(run_ctx *cx, size_t idx, int *stop, kgd_err *err)
{
	const seq_step *st = seq_step_at(cx->s, idx);
	const run_op *op = run_find_op(st->op);
	step_outcome o = {RUN_ST_PASS, 0, 0};
	int rc, bvar;
	double started;
	run_row *row;

	if (st->skip_if.when == SEQ_SKIP_IF_VALUE) {
		if (skip_by_value(cx, st)) {
			cx->part.status[idx] = RUN_ST_SKIPPED;
			return KGD_OK;
		}
	} else if (st->skip_if.when != SEQ_SKIP_NEVER) {
		int other = cx->part.status[seq_step_index(cx->s, st->skip_if.step)];
		int failed = other == RUN_ST_FAIL || other == RUN_ST_ERROR;
		int passed = other == RUN_ST_PASS;

		/* A step that did not run neither passed nor failed. */
		if ((st->skip_if.when == SEQ_SKIP_IF_FAILED && failed) ||
		    (st->skip_if.when == SEQ_SKIP_IF_PASSED && passed)) {
			cx->part.status[idx] = RUN_ST_SKIPPED;
			return KGD_OK;
		}
	}
	started = run_now();
	bvar = batch_var(cx, st, op);
	rc = bvar >= 0 ? step_batched(cx, idx, op, (size_t)bvar, &o, err)
		       : step_points(cx, idx, op, &o, err);
	if (rc == KGD_OK && run_op_derive(op) && !o.cut && o.status != RUN_ST_ERROR &&
	    !run_stopped(cx))
		rc = step_derive(cx, idx, op, &o, err);
	if (rc)
		return rc;
	if (run_aborted(cx))
		return kgd_err_set(err, KGD_ERR_ABORTED, "aborted");
	/* Cut short by a sibling branch's error: the step is incomplete, and
	 * the part an error part; a limit failure it already saw is kept. */
	if (o.cut && o.status == RUN_ST_PASS)
		o.status = RUN_ST_ERROR;
	cx->part.status[idx] = (unsigned char)o.status;
	row = run_record_add(&cx->part.rec);
	if (!row)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	row->is_step = 1;
	row->step = st->name;
	row->status = step_status_text(o.status);
	row->bin = o.status == RUN_ST_FAIL ? (st->fail_bin ? st->fail_bin : RUN_BIN_FAIL)
		   : o.status == RUN_ST_ERROR ? RUN_BIN_ERROR : 0;
	row->n_values = (int)o.n_logged;
	row->started = started;
	row->ended = run_now();
	if (o.cut || o.status == RUN_ST_ERROR ||
	    (o.status == RUN_ST_FAIL && !st->fail_continue))
		*stop = 1;
	return KGD_OK;
}
