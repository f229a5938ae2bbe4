/*
 * station/runner.c - the sequencer (see runner.h for the rules it keeps).
 *
 * What a sequence step may do is data: the run_ops table maps
 * "<operation>" to the instrument class it needs, the sweep variables and
 * params it understands, the unit its driver returns, and the function that
 * performs one measurement at one sweep point. A new operation is a table
 * row and one function.
 */
#include "runner.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kgd/driver.h"
#include "plugin.h"

#define RUN_MAX_SWEEP 8
#define RUN_MAX_ROLES 16

/* An instrument the sequence uses, opened. */
typedef struct run_role {
	const cfg_instrument *inst;
	drv_plugin *plugin;
	xport *x;
	void *h;
} run_role;

struct run_station {
	run_role roles[RUN_MAX_ROLES];
	size_t n_roles;
};

/* One point of a step's sweep: the values of its variables. */
typedef struct run_point {
	const seq_step *st;
	double vals[RUN_MAX_SWEEP];
} run_point;

typedef int (*run_exec_fn)(run_role *r, const run_point *pt, double *value,
			   kgd_err *err);

typedef struct run_op {
	const char *name;
	int klass;
	const char *native_unit;
	const char *sweep_vars[RUN_MAX_SWEEP];
	const char *params[8];
	run_exec_fn exec;
} run_op;

/* ---- sweep points ------------------------------------------------------ */

static int point_get(const run_point *pt, const char *var, double *out)
{
	for (size_t i = 0; i < pt->st->n_sweep; i++)
		if (strcmp(pt->st->sweep[i].name, var) == 0) {
			*out = pt->vals[i];
			return 1;
		}
	return 0;
}

/* Sweep coordinates as a JSON object, in sweep order: what the db stores
 * and what a failure reason quotes. */
static void point_json(const run_point *pt, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	if (pt->st->n_sweep == 0)
		return;
	for (size_t i = 0; i < pt->st->n_sweep && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s\"%s\":%.10g",
					 i ? "," : "{", pt->st->sweep[i].name,
					 pt->vals[i]);
	if (used < cap)
		snprintf(buf + used, cap - used, "}");
}

/* ---- operations -------------------------------------------------------- */

static int exec_pm_optical_power(run_role *r, const run_point *pt,
				 double *value, kgd_err *err)
{
	const drv_pm_ops *pm = r->plugin->desc->pm;
	const seq_param *avg = seq_step_param(pt->st, "averaging_s");
	double port_d = 1, nm;
	int port, rc;

	point_get(pt, "port", &port_d);
	port = (int)port_d;
	if (point_get(pt, "wavelength_nm", &nm)) {
		rc = pm->set_wavelength(r->h, port, nm, err);
		if (rc)
			return rc;
	}
	if (avg) {
		if (!pm->set_averaging)
			return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				"driver '%s' cannot set averaging time",
				r->plugin->desc->name);
		rc = pm->set_averaging(r->h, port, strtod(avg->value, NULL), err);
		if (rc)
			return rc;
	}
	return pm->read_power(r->h, port, value, err);
}

static const run_op run_ops[] = {
	{"optical_power", DRV_CLASS_POWER_METER, "W",
	 {"port", "wavelength_nm"}, {"averaging_s"}, exec_pm_optical_power},
};

static const run_op *find_op(const char *name)
{
	for (size_t i = 0; i < sizeof(run_ops) / sizeof(run_ops[0]); i++)
		if (strcmp(run_ops[i].name, name) == 0)
			return &run_ops[i];
	return NULL;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* ---- units ------------------------------------------------------------- */

/* Convert a driver's value into the unit a limit asks for. Returns 0 when
 * the pair is not convertible. *out is NAN when the value has no meaning in
 * the target unit (zero or negative power in dBm). */
static int unit_convert(double v, const char *from, const char *to, double *out)
{
	static const struct { const char *unit; double per_watt; } watts[] = {
		{"W", 1.0}, {"mW", 1e3}, {"uW", 1e6}, {"nW", 1e9},
	};
	int from_w = -1, to_w = -1;

	if (!*to || strcmp(from, to) == 0) {
		*out = v;
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		if (strcmp(from, watts[i].unit) == 0)
			from_w = i;
		if (strcmp(to, watts[i].unit) == 0)
			to_w = i;
	}
	if (from_w < 0)
		return 0;
	v /= watts[from_w].per_watt;
	if (to_w >= 0) {
		*out = v * watts[to_w].per_watt;
		return 1;
	}
	if (strcmp(to, "dBm") == 0) {
		*out = v > 0 ? 10.0 * log10(v * 1e3) : NAN;
		return 1;
	}
	return 0;
}

/* ---- validation and opening --------------------------------------------- */

static int validate_step(const seq_sequence *s, const cfg_station *c,
			 const seq_step *st, kgd_err *err)
{
	const run_op *op = find_op(st->op);
	double dummy;

	if (!cfg_find_role(c, st->role))
		return kgd_err_set(err, KGD_ERR_PARSE,
			"%s:%d:%d: role '%s' is not configured in station config %s",
			s->path, st->loc.line, st->loc.column, st->role, c->path);
	if (!op)
		return kgd_err_set(err, KGD_ERR_PARSE,
			"%s:%d:%d: unknown operation '%s' in step '%s.%s'", s->path,
			st->loc.line, st->loc.column, st->op, st->role, st->op);
	if (st->n_sweep > RUN_MAX_SWEEP)
		return kgd_err_set(err, KGD_ERR_PARSE,
			"%s:%d:%d: step '%s' sweeps %zu variables, at most %d",
			s->path, st->loc.line, st->loc.column, st->name,
			st->n_sweep, RUN_MAX_SWEEP);
	for (size_t i = 0; i < st->n_sweep; i++)
		if (!in_list(op->sweep_vars, RUN_MAX_SWEEP, st->sweep[i].name))
			return kgd_err_set(err, KGD_ERR_PARSE,
				"%s:%d:%d: operation '%s' has no sweep variable '%s'",
				s->path, st->sweep[i].loc.line,
				st->sweep[i].loc.column, st->op, st->sweep[i].name);
	for (size_t i = 0; i < st->n_params; i++)
		if (!in_list(op->params, 8, st->params[i].key))
			return kgd_err_set(err, KGD_ERR_PARSE,
				"%s:%d:%d: operation '%s' has no parameter '%s'",
				s->path, st->params[i].loc.line,
				st->params[i].loc.column, st->op, st->params[i].key);
	if (st->has_limits &&
	    !unit_convert(1.0, op->native_unit, st->limits.unit, &dummy))
		return kgd_err_set(err, KGD_ERR_PARSE,
			"%s:%d:%d: step '%s' measures %s, which cannot be given in %s",
			s->path, st->limits.loc.line, st->limits.loc.column,
			st->name, op->native_unit, st->limits.unit);
	return KGD_OK;
}

/* Call fn for every step of every group, stopping at the first error. */
#define FOR_EACH_STEP(s, st, body)                                          \
	do {                                                                \
		const seq_step *groups_[3] = {(s)->setup, (s)->main, (s)->cleanup}; \
		size_t counts_[3] = {(s)->n_setup, (s)->n_main, (s)->n_cleanup}; \
		for (int g_ = 0; g_ < 3; g_++)                              \
			for (size_t i_ = 0; i_ < counts_[g_]; i_++) {       \
				const seq_step *st = &groups_[g_][i_];      \
				body;                                       \
			}                                                   \
	} while (0)

int run_validate(const seq_sequence *s, const cfg_station *c, kgd_err *err)
{
	int rc = KGD_OK;

	FOR_EACH_STEP(s, st, {
		rc = validate_step(s, c, st, err);
		if (rc)
			return rc;
	});
	return KGD_OK;
}

static run_role *find_role(run_station *rs, const char *role)
{
	for (size_t i = 0; i < rs->n_roles; i++)
		if (strcmp(rs->roles[i].inst->role, role) == 0)
			return &rs->roles[i];
	return NULL;
}

/* Find and load the driver a role names and check its class. */
static int load_role_driver(const cfg_station *c, const cfg_instrument *inst,
			    int need_class, drv_plugin **out, kgd_err *err)
{
	const char *dirs[32];
	size_t n_dirs = drv_plugin_dirs((const char *const *)c->plugin_path,
					c->n_plugin_path, dirs, 32);
	drv_plugin *p;
	int rc;

	rc = drv_plugin_find(inst->driver, dirs, n_dirs, &p, err);
	if (rc)
		return kgd_err_prefix(err, "%s:%d:%d: role '%s': ", c->path,
				      inst->line, inst->column, inst->role);
	if (p->desc->klass != need_class) {
		rc = kgd_err_set(err, KGD_ERR_ABI,
			"%s:%d:%d: role '%s' uses driver '%s', a %s, but the "
			"sequence needs a %s", c->path, inst->line, inst->column,
			inst->role, inst->driver, drv_class_name(p->desc->klass),
			drv_class_name(need_class));
		drv_plugin_unload(p);
		return rc;
	}
	*out = p;
	return KGD_OK;
}

int run_check_drivers(const seq_sequence *s, const cfg_station *c,
		      kgd_err *err)
{
	FOR_EACH_STEP(s, st, {
		drv_plugin *p;
		int rc = load_role_driver(c, cfg_find_role(c, st->role),
					  find_op(st->op)->klass, &p, err);

		if (rc)
			return rc;
		drv_plugin_unload(p);
	});
	return KGD_OK;
}

/* Load the driver and open the instrument behind one role. */
static int open_role(run_role *r, const cfg_station *c, int need_class,
		     kgd_err *err)
{
	int rc;

	rc = load_role_driver(c, r->inst, need_class, &r->plugin, err);
	if (rc)
		return rc;
	rc = xport_open(r->inst->uri, r->inst->timeout_ms > 0 ? r->inst->timeout_ms
							      : XPORT_DEFAULT_TIMEOUT_MS,
			&r->x, err);
	if (rc)
		return kgd_err_prefix(err, "role '%s': ", r->inst->role);
	rc = r->plugin->desc->open(r->x, &r->h, err);
	if (rc)
		return kgd_err_prefix(err, "role '%s' (%s): ", r->inst->role,
				      r->inst->driver);
	return KGD_OK;
}

int run_station_open(const seq_sequence *s, const cfg_station *c,
		     run_station **out, kgd_err *err)
{
	run_station *rs;
	int rc;

	rc = run_validate(s, c, err);
	if (rc)
		return rc;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	FOR_EACH_STEP(s, st, {
		run_role *r;

		if (find_role(rs, st->role))
			continue;
		if (rs->n_roles == RUN_MAX_ROLES) {
			rc = kgd_err_set(err, KGD_ERR_ARG,
				"%s: more than %d instrument roles", s->path,
				RUN_MAX_ROLES);
			goto error;
		}
		r = &rs->roles[rs->n_roles++];
		r->inst = cfg_find_role(c, st->role);
		rc = open_role(r, c, find_op(st->op)->klass, err);
		if (rc)
			goto error;
	});
	*out = rs;
	return KGD_OK;
error:
	run_station_close(rs);
	return rc;
}

void run_station_close(run_station *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_roles; i++) {
		run_role *r = &rs->roles[i];

		if (r->h)
			r->plugin->desc->close(r->h);
		xport_close(r->x);
		drv_plugin_unload(r->plugin);
	}
	free(rs);
}

/* ---- running one part --------------------------------------------------- */

/* The verdict of the part in flight; only ever gets worse. */
enum run_verdict { RUN_PASS, RUN_FAIL, RUN_ERROR };

static const char *verdict_status(enum run_verdict v)
{
	return v == RUN_PASS ? DB_STATUS_PASS
			     : v == RUN_FAIL ? DB_STATUS_FAIL : DB_STATUS_ERROR;
}

typedef struct run_part {
	enum run_verdict verdict;
	int soft_bin;
	char reason[KGD_ERR_MSG_MAX];
	size_t measurements;
} run_part;

/* Record why the part failed; long reasons are cut, which keeps their
 * start: the step name and sweep point. */
static void set_reason(run_part *part, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(run_part *part, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(part->reason, sizeof(part->reason), fmt, ap);
	va_end(ap);
}

static int aborted(const run_opts *o)
{
	return o->abort_flag && *o->abort_flag;
}

static int within(const seq_limits *l, double v)
{
	if (isnan(v))
		return 0;
	return (!l->has_low || v >= l->low) && (!l->has_high || v <= l->high);
}

/* Measure one sweep point (with retries), log it, fold it into the verdict.
 * Returns KGD_OK, or the database error that must stop the lot. */
static int measure_point(run_station *rs, const seq_step *st, const run_point *pt,
			 db *d, int64_t run_id, run_part *part, kgd_err *err)
{
	const run_op *op = find_op(st->op);
	run_role *r = find_role(rs, st->role);
	const char *unit = st->has_limits && st->limits.unit[0] ? st->limits.unit
							     : op->native_unit;
	char coords[256];
	db_measurement m;
	kgd_err ierr;
	double raw = NAN, v = NAN;
	int rc = KGD_OK, irc = KGD_OK, pass = 0;

	for (int attempt = 0; attempt <= st->retry; attempt++) {
		kgd_err_clear(&ierr);
		irc = op->exec(r, pt, &raw, &ierr);
		if (irc == KGD_OK) {
			unit_convert(raw, op->native_unit, unit, &v);
			pass = st->has_limits ? within(&st->limits, v) : !isnan(v);
			if (pass)
				break;
		}
	}
	point_json(pt, coords, sizeof(coords));
	memset(&m, 0, sizeof(m));
	m.step = st->name;
	m.coords = coords[0] ? coords : NULL;
	m.value = v;
	m.value_valid = irc == KGD_OK && !isnan(v);
	m.unit = unit;
	m.has_low = st->has_limits && st->limits.has_low;
	m.has_high = st->has_limits && st->limits.has_high;
	m.low = st->limits.low;
	m.high = st->limits.high;
	m.pass = pass;
	rc = db_measurement_add(d, run_id, &m, err);
	if (rc)
		return rc;
	part->measurements++;

	if (irc != KGD_OK) {
		/* An instrument that failed outranks any earlier limit failure:
		 * the part's data cannot be trusted either way. */
		if (part->verdict != RUN_ERROR) {
			part->verdict = RUN_ERROR;
			part->soft_bin = RUN_BIN_ERROR;
			set_reason(part, "%s %s: %s", st->name, coords, ierr.msg);
		}
	} else if (!pass && part->verdict == RUN_PASS) {
		char lo[32] = "-inf", hi[32] = "+inf";

		if (m.has_low)
			snprintf(lo, sizeof(lo), "%.6g", m.low);
		if (m.has_high)
			snprintf(hi, sizeof(hi), "%.6g", m.high);
		part->verdict = RUN_FAIL;
		part->soft_bin = st->fail_bin ? st->fail_bin : RUN_BIN_FAIL;
		set_reason(part, "%s %s: %.6g %s outside [%s, %s]", st->name,
			   coords, v, unit, lo, hi);
	}
	return KGD_OK;
}

/* Run one step over its whole sweep. *stop is set when the part must go
 * straight to cleanup. */
static int run_step(run_station *rs, const seq_step *st, db *d, int64_t run_id,
		    run_part *part, const run_opts *o, int *stop, kgd_err *err)
{
	size_t idx[RUN_MAX_SWEEP] = {0};
	run_point pt = {.st = st};
	enum run_verdict before = part->verdict;
	int rc;

	for (;;) {
		size_t k;

		if (aborted(o))
			return KGD_ERR_ABORTED;
		for (size_t i = 0; i < st->n_sweep; i++)
			pt.vals[i] = st->sweep[i].values[idx[i]];
		rc = measure_point(rs, st, &pt, d, run_id, part, err);
		if (rc)
			return rc;
		if (part->verdict == RUN_ERROR)
			break;
		/* Odometer: the last variable varies fastest. */
		for (k = st->n_sweep; k > 0; k--) {
			if (++idx[k - 1] < st->sweep[k - 1].n_values)
				break;
			idx[k - 1] = 0;
		}
		if (k == 0)
			break;
	}
	if (part->verdict == RUN_ERROR ||
	    (part->verdict != before && !st->fail_continue))
		*stop = 1;
	return KGD_OK;
}

static int run_group(run_station *rs, const seq_step *steps, size_t n, db *d,
		     int64_t run_id, run_part *part, const run_opts *o,
		     int *stop, kgd_err *err)
{
	for (size_t i = 0; i < n && !*stop; i++) {
		int rc = run_step(rs, &steps[i], d, run_id, part, o, stop, err);

		if (rc)
			return rc;
	}
	return KGD_OK;
}

static int run_part_once(run_station *rs, const seq_sequence *s,
			 const cfg_station *c, db *d, const run_opts *o,
			 const char *serial, run_part *part, kgd_err *err)
{
	char host[256] = "";
	db_run_info info = {0};
	int64_t run_id;
	int stop = 0, rc, cleanup_stop = 0;

	gethostname(host, sizeof(host) - 1);
	info.station = c->name;
	info.host = host;
	info.operator_name = o->operator_name;
	info.lot = o->lot;
	info.serial = serial;
	info.seq_name = s->name;
	info.seq_version = s->version;
	info.seq_sha256 = s->sha256;
	info.seq_text = s->text;
	info.product = s->product;

	part->verdict = RUN_PASS;
	part->soft_bin = seq_pass_bin(s);
	part->reason[0] = '\0';
	part->measurements = 0;

	rc = db_run_begin(d, &info, &run_id, err);
	if (rc)
		return rc;
	rc = run_group(rs, s->setup, s->n_setup, d, run_id, part, o, &stop, err);
	if (!rc)
		rc = run_group(rs, s->main, s->n_main, d, run_id, part, o, &stop,
			       err);
	/* Cleanup runs whatever happened above (lasers off, probes up), even
	 * when the part is being abandoned. Its own result cannot make a
	 * failed part pass, but its error makes a passing part an error. */
	{
		kgd_err cerr;
		int crc = run_group(rs, s->cleanup, s->n_cleanup, d, run_id, part,
				    &(run_opts){0}, &cleanup_stop, &cerr);

		if (!rc && crc) {
			rc = crc;
			if (err)
				*err = cerr;
		}
	}
	if (rc) {
		db_run_rollback(d);
		if (rc == KGD_ERR_ABORTED)
			kgd_err_set(err, rc, "aborted while testing %s; its results "
				    "were discarded", serial);
		return rc;
	}
	return db_run_commit(d, run_id, verdict_status(part->verdict),
			     part->verdict == RUN_PASS ? seq_pass_bin(s)
						       : part->soft_bin,
			     part->soft_bin, part->reason[0] ? part->reason : NULL,
			     err);
}

int run_lot(run_station *rs, const seq_sequence *s, const cfg_station *c,
	    db *d, const run_opts *o, run_summary *sum, kgd_err *err)
{
	char total[32] = "?";

	memset(sum, 0, sizeof(*sum));
	if (o->serials)
		snprintf(total, sizeof(total), "%zu", o->n_serials);
	for (size_t i = 0;; i++) {
		const char *serial;
		run_part part;
		int rc;

		if (o->serials)
			serial = i < o->n_serials ? o->serials[i] : NULL;
		else
			serial = o->next ? o->next(o->next_user) : NULL;
		if (!serial)
			return KGD_OK;
		if (aborted(o))
			return kgd_err_set(err, KGD_ERR_ABORTED,
				"aborted before %s; %zu parts tested", serial,
				sum->tested);
		if (o->insert) {
			rc = o->insert(o->insert_user, i, serial, err);
			if (rc)
				return kgd_err_prefix(err, "loading %s: ", serial);
		}
		rc = run_part_once(rs, s, c, d, o, serial, &part, err);
		if (rc)
			return rc;
		sum->tested++;
		sum->measurements += part.measurements;
		if (part.verdict == RUN_PASS)
			sum->passed++;
		else if (part.verdict == RUN_FAIL)
			sum->failed++;
		else
			sum->errors++;
		if (o->progress) {
			fprintf(o->progress, "[%zu/%s] %s: %s bin %d  yield %.1f%%%s%s\n",
				i + 1, total, serial, verdict_status(part.verdict),
				part.soft_bin, 100.0 * sum->passed / sum->tested,
				part.reason[0] ? "  " : "", part.reason);
			fflush(o->progress);
		}
	}
}
