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

static int remember(run_part *part, size_t step, const char *value,
		    const run_point *pt, double native)
{
	run_rec *r;

	if (part->n_recs == part->cap_recs) {
		size_t cap = part->cap_recs ? 2 * part->cap_recs : 64;
		run_rec *grown = realloc(part->recs, cap * sizeof(*grown));

		if (!grown)
			return -1;
		part->recs = grown;
		part->cap_recs = cap;
	}
	r = &part->recs[part->n_recs++];
	r->step = step;
	r->value = value;
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
		const seq_limits *lim = point_limits(call->st, op->values[i].name,
						     call->pt, &at);
		double v = NAN;

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
	memset(c, 0, sizeof(*c));
	c->cx = cx;
	c->r = run_find_role(cx->rs, pt->st->role);
	c->st = pt->st;
	c->pt = pt;
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

			if (log_value(cx, st, op, i, call, ok, coords, &vpass))
				return -1;
			if (ok && remember(&cx->part, step_idx, op->values[i].name,
					   call->pt, call->v[i]))
				return -1;
		}
		*n_logged += (size_t)nv;
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

/* Every point of the step's sweep, in sweep order: the last variable
 * varies fastest. NULL when out of memory. */
static run_point *sweep_points(const seq_step *st, size_t *n)
{
	size_t sw[RUN_MAX_SWEEP] = {0}, total = 1, k;
	run_point *pts;

	for (size_t i = 0; i < st->n_sweep; i++)
		total *= st->sweep[i].n_values;
	pts = calloc(total ? total : 1, sizeof(*pts));
	if (!pts)
		return NULL;
	for (size_t p = 0; p < total; p++) {
		pts[p].st = st;
		for (size_t i = 0; i < st->n_sweep; i++) {
			pts[p].vals[i] = st->sweep[i].values[sw[i]];
			pts[p].idx[i] = sw[i];
		}
		for (k = st->n_sweep; k > 0; k--) {
			if (++sw[k - 1] < st->sweep[k - 1].n_values)
				break;
			sw[k - 1] = 0;
		}
	}
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
			return st->sweep[i].n_values > 1 ? (int)i : -1;
	return -1;
}

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *step_status_text(int st)
{
	return st == RUN_ST_PASS ? "pass" : st == RUN_ST_FAIL ? "fail" : "error";
}

int run_step(run_ctx *cx, size_t idx, int *stop, kgd_err *err)
{
	const seq_step *st = seq_step_at(cx->s, idx);
	const run_op *op = run_find_op(st->op);
	size_t n = 0, n_logged = 0;
	int status = RUN_ST_PASS, rc = KGD_OK, bvar, cut = 0;
	run_point *pts = NULL;
	run_call *calls = NULL;
	unsigned char *have = NULL;
	double started;
	run_row *row;

	if (st->skip_if.when != SEQ_SKIP_NEVER) {
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
	started = now_unix();
	pts = sweep_points(st, &n);
	calls = calloc(n, sizeof(*calls));
	have = calloc(n, 1);
	if (!pts || !calls || !have) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	bvar = batch_var(cx, st, op);
	/* KGD_ERR_ABORTED without an abort is a sibling branch's stop (see
	 * run_stopped): the step is cut short, keeping what it measured. */
	if (bvar >= 0) {
		rc = measure_batched(cx, op, (size_t)bvar, pts, calls, have, n, err);
		if (rc == KGD_ERR_ABORTED && !run_aborted(cx))
			rc = KGD_OK;
		if (rc)
			goto out;
	}
	for (size_t p = 0; p < n; p++) {
		int pst;

		if (have[p] != 1) {
			/* Point by point, or a batch cut short by a stop. */
			if (run_stopped(cx) || bvar >= 0) {
				cut = 1;
				break;
			}
			call_init(&calls[p], cx, &pts[p]);
			rc = measure_point(cx, op, &calls[p], 0, err);
			if (rc == KGD_ERR_ABORTED && !run_aborted(cx)) {
				rc = KGD_OK;
				cut = 1;
				break;
			}
			if (rc)
				goto out;
		}
		if (log_point(cx, idx, op, &calls[p], &pst, &n_logged)) {
			rc = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (pst > status)
			status = pst;
		if (status == RUN_ST_ERROR)
			break;
	}
	if (run_aborted(cx)) {
		rc = kgd_err_set(err, KGD_ERR_ABORTED, "aborted");
		goto out;
	}
	/* Cut short by a sibling branch's error: the step is incomplete, and
	 * the part an error part; a limit failure it already saw is kept. */
	if (cut && status == RUN_ST_PASS)
		status = RUN_ST_ERROR;
	cx->part.status[idx] = (unsigned char)status;
	row = run_record_add(&cx->part.rec);
	if (!row) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	row->is_step = 1;
	row->step = st->name;
	row->status = step_status_text(status);
	row->bin = status == RUN_ST_FAIL ? (st->fail_bin ? st->fail_bin : RUN_BIN_FAIL)
		   : status == RUN_ST_ERROR ? RUN_BIN_ERROR : 0;
	row->n_values = (int)n_logged;
	row->started = started;
	row->ended = now_unix();
	if (cut || status == RUN_ST_ERROR ||
	    (status == RUN_ST_FAIL && !st->fail_continue))
		*stop = 1;
out:
	free(pts);
	free(calls);
	free(have);
	return rc;
}
