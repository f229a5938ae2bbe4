/*
 * station/runner.c - the sequencer core (see runner.h for the rules it
 * keeps): the operations table, validation (run_lint), opening the
 * station, and one part's setup/main/cleanup with sweeps, retries,
 * skip_if, limits and verdicts. Process models live in proc_*.c, operation
 * functions in ops_*.c, the terminal display in progress.c.
 *
 * What a sequence step may do is data: each run_ops row names the
 * operation, the instrument class it needs, how it is judged, the values it
 * returns with their native units, the sweep variables and params it
 * understands, and one function that performs it at one sweep point. A new
 * operation is a table row and one function.
 *
 * Invariant: every measurement row is written with the limits and unit it
 * was judged by, and a part's verdict only ever gets worse (pass -> fail ->
 * error).
 */
#include "run_int.h"

#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "yaml_util.h"

/* ---- the operations table ------------------------------------------------ */

#define NO_VALUES {{NULL, NULL}}

static const run_op run_ops[] = {
	{"optical_power", DRV_CLASS_POWER_METER, RUN_KIND_NUMERIC,
	 {{NULL, "W"}}, {"port", "wavelength_nm"},
	 {{"averaging_s", 'n'}}, run_op_pm_optical_power, 0},
	{"insertion_loss", DRV_CLASS_POWER_METER, RUN_KIND_NUMERIC,
	 {{NULL, "dB"}}, {"port", "wavelength_nm"},
	 {{"averaging_s", 'n'}, {"reference_dbm", 'n'}, {"reference_step", 'f'}},
	 run_op_pm_insertion_loss, 0},
	{"configure", DRV_CLASS_BERT, RUN_KIND_ACTION, NO_VALUES, {"lane"},
	 {{"pattern", 'p'}, {"rate_gbps", 'n'}, {"output", 'b'}},
	 run_op_bert_configure, 0},
	/* errors = 0 flags ber as the zero-error bound 3/bits. */
	{"ber", DRV_CLASS_BERT, RUN_KIND_NUMERIC,
	 {{NULL, "ratio"}, {"errors", ""}}, {"lane"},
	 {{"pattern", 'p'}, {"rate_gbps", 'n'}, {"gate_s", 'n'}},
	 run_op_bert_ber, 0},
	{"enable", DRV_CLASS_LASER, RUN_KIND_ACTION, NO_VALUES, {"channel"},
	 {{"channels", 'c'}}, run_op_laser_enable, 0},
	{"disable", DRV_CLASS_LASER, RUN_KIND_ACTION, NO_VALUES, {"channel"},
	 {{"channels", 'c'}}, run_op_laser_disable, 0},
	{"read", DRV_CLASS_LASER, RUN_KIND_NUMERIC,
	 {{"power", "W"}, {"wavelength", "nm"}, {"bias", "A"},
	  {"temperature", "C"}, {"smsr", "dB"}}, {"channel"}, {{NULL, 0}},
	 run_op_laser_read, 0},
	{"identify", 0, RUN_KIND_MATCH, NO_VALUES, {NULL},
	 {{"glob", 's'}, {"regex", 'r'}}, run_op_identify, 0},
	{"wait", -1, RUN_KIND_ACTION, NO_VALUES, {NULL}, {{"seconds", 'n'}},
	 run_op_wait, 0},
	{"prompt", -1, RUN_KIND_PROMPT, NO_VALUES, {NULL},
	 {{"text", 's'}, {"expect", 's'}}, run_op_prompt, 1},
};

#define N_OPS (sizeof(run_ops) / sizeof(run_ops[0]))

const run_op *run_find_op(const char *name)
{
	for (size_t i = 0; name && i < N_OPS; i++)
		if (strcmp(run_ops[i].name, name) == 0)
			return &run_ops[i];
	return NULL;
}

static int n_values(const run_op *op)
{
	int n = 0;

	while (n < RUN_MAX_VALUES && op->values[n].unit)
		n++;
	return n;
}

static const run_value *find_value(const run_op *op, const char *name, int *idx)
{
	for (int i = 0; i < n_values(op); i++)
		if ((!name && !op->values[i].name) ||
		    (name && op->values[i].name && strcmp(name, op->values[i].name) == 0)) {
			if (idx)
				*idx = i;
			return &op->values[i];
		}
	return NULL;
}

static const run_param *find_param(const run_op *op, const char *name)
{
	for (int i = 0; i < RUN_MAX_PARAMS && op->params[i].name; i++)
		if (strcmp(op->params[i].name, name) == 0)
			return &op->params[i];
	return NULL;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
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

	if (!p)
		return dflt;
	return !strcasecmp(p->value, "on") || !strcasecmp(p->value, "yes") ||
	       !strcasecmp(p->value, "true");
}

const char *run_param_str(const seq_step *st, const char *key,
			  const char *dflt)
{
	const seq_param *p = seq_step_param(st, key);

	return p ? p->value : dflt;
}

int run_aborted(const run_ctx *cx)
{
	return !cx->in_cleanup && cx->o->abort_flag && *cx->o->abort_flag;
}

const char *run_verdict_status(enum run_verdict v)
{
	return v == RUN_PASS ? DB_STATUS_PASS
			     : v == RUN_FAIL ? DB_STATUS_FAIL : DB_STATUS_ERROR;
}

/* ---- units --------------------------------------------------------------- */

int run_unit_convert(double v, const char *from, const char *to, double *out)
{
	static const struct { const char *unit, *base; double per_base; } fam[] = {
		{"W", "W", 1.0}, {"mW", "W", 1e3}, {"uW", "W", 1e6},
		{"nW", "W", 1e9}, {"A", "A", 1.0}, {"mA", "A", 1e3},
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

/* ---- validation ---------------------------------------------------------- */

typedef struct lint {
	const seq_sequence *s;
	void (*report)(void *user, const char *msg);
	void *user;
	kgd_err *err;
	int status;
} lint;

static void problem(lint *l, const char *file, seq_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void problem(lint *l, const char *file, seq_loc loc, const char *fmt, ...)
{
	char msg[KGD_ERR_MSG_MAX / 2], text[KGD_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "%.200s:%d:%d: %s", file, loc.line,
		 loc.column, msg);
	if (l->report)
		l->report(l->user, text);
	if (l->status == KGD_OK)
		kgd_err_set(l->err, KGD_ERR_PARSE, "%s", text);
	l->status = KGD_ERR_PARSE;
}

/* A role the lot needs, with the class its operations need (0: any). */
typedef struct need_role {
	const char *name;
	int klass;
	seq_loc loc;
	const char *why;   /* what fixed the class, for messages */
} need_role;

static need_role *need_find(need_role *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			return &r[i];
	return NULL;
}

/* The roles of the roles: header, of the steps, and the prober of the
 * wafer process; each with its class. Class conflicts go to l (may be
 * NULL). Returns the count, at most RUN_MAX_ROLES (more: reported). */
static size_t collect_roles(const seq_sequence *s, need_role *out, lint *l)
{
	seq_loc zero = {1, 1};
	size_t n = 0, i;

	for (i = 0; i < s->n_roles && n < RUN_MAX_ROLES; i++)
		out[n++] = (need_role){s->roles[i], 0, s->role_locs[i], NULL};
	if (s->process == SEQ_PROCESS_WAFER && !need_find(out, n, "prober") &&
	    n < RUN_MAX_ROLES)
		out[n++] = (need_role){"prober", 0, zero, NULL};
	if (s->process == SEQ_PROCESS_WAFER)
		need_find(out, n, "prober")->klass = DRV_CLASS_PROBER,
		need_find(out, n, "prober")->why = "the wafer process";
	for (i = 0; i < seq_n_steps(s); i++) {
		const seq_step *st = seq_step_at(s, i);
		const run_op *op = run_find_op(st->op);
		need_role *r;

		if (!st->role)
			continue;
		r = need_find(out, n, st->role);
		if (!r) {
			if (n == RUN_MAX_ROLES) {
				if (l)
					problem(l, s->path, st->loc,
						"more than %d instrument roles",
						RUN_MAX_ROLES);
				continue;
			}
			r = &out[n++];
			*r = (need_role){st->role, 0, st->loc, NULL};
		}
		if (!op || op->klass <= 0)
			continue;
		if (r->klass == 0) {
			r->klass = op->klass;
			r->why = st->name;
		} else if (r->klass != op->klass && l) {
			problem(l, s->path, st->loc,
				"step '%s' needs role '%s' to be a %s, but %s needs a %s",
				st->name, st->role, drv_class_name(op->klass),
				r->why, drv_class_name(r->klass));
		}
	}
	return n;
}

static int is_bool_text(const char *v)
{
	static const char *const words[] = {
		"true", "false", "yes", "no", "on", "off", NULL
	};

	for (int i = 0; words[i]; i++)
		if (strcasecmp(v, words[i]) == 0)
			return 1;
	return 0;
}

static void lint_param(lint *l, const seq_step *st, size_t idx,
		       const run_op *op, const seq_param *p)
{
	const run_param *rp = find_param(op, p->key);
	const seq_sequence *s = l->s;
	double d;
	long n;

	if (!rp) {
		problem(l, s->path, p->loc, "operation '%s' has no parameter '%s'",
			op->name, p->key);
		return;
	}
	switch (rp->type) {
	case 'n':
		if (yu_parse_double(p->value, &d) != 0)
			problem(l, s->path, p->loc, "param %s must be a number, not '%.60s'",
				p->key, p->value);
		else if (d < 0)
			problem(l, s->path, p->loc, "param %s must not be negative",
				p->key);
		break;
	case 'p':
		if (strcmp(p->value, "PRBS7") && strcmp(p->value, "PRBS15") &&
		    strcmp(p->value, "PRBS23") && strcmp(p->value, "PRBS31"))
			problem(l, s->path, p->loc,
				"pattern must be PRBS7, PRBS15, PRBS23 or PRBS31, not '%.60s'",
				p->value);
		break;
	case 'c':
		if (strcmp(p->value, "all") != 0 &&
		    (yu_parse_int(p->value, &n) != 0 || n < 1 || n > 64))
			problem(l, s->path, p->loc,
				"channels must be 'all' or a channel number 1..64, not '%.60s'",
				p->value);
		break;
	case 'b':
		if (!is_bool_text(p->value))
			problem(l, s->path, p->loc, "param %s must be on or off, not '%.60s'",
				p->key, p->value);
		break;
	case 'r': {
		regex_t re;
		int rc = regcomp(&re, p->value, REG_EXTENDED | REG_NOSUB);

		if (rc != 0) {
			char why[128];

			regerror(rc, &re, why, sizeof(why));
			problem(l, s->path, p->loc, "bad regex '%.60s': %s", p->value, why);
		} else {
			regfree(&re);
		}
		break;
	}
	case 'f': {
		char ref[128];
		char *slash;
		long j;
		const run_op *rop;
		const run_value *rv;

		snprintf(ref, sizeof(ref), "%s", p->value);
		slash = strchr(ref, '/');
		if (slash)
			*slash++ = '\0';
		j = seq_step_index(s, ref);
		if (j < 0 || (size_t)j >= idx) {
			problem(l, s->path, p->loc,
				"%s '%.60s' is not a step that runs before this one",
				p->key, ref);
			break;
		}
		rop = run_find_op(seq_step_at(s, (size_t)j)->op);
		rv = rop ? find_value(rop, slash, NULL) : NULL;
		if (rop && (!rv || strcmp(rv->unit, "W") != 0))
			problem(l, s->path, p->loc,
				"%s '%.60s' does not measure an optical power%s",
				p->key, p->value,
				slash ? "" : " (name a value: step/value)");
		break;
	}
	default:
		break;
	}
	(void)st;
}

/* Per-point limits: per names one of the step's sweep variables and each
 * list has one entry per value of it. */
static void lint_per(lint *l, const seq_step *st, const seq_limits *lim,
		     const char *file)
{
	const seq_sweep_var *var = NULL;

	for (size_t i = 0; i < st->n_sweep; i++)
		if (st->sweep[i].name && strcmp(st->sweep[i].name, lim->per) == 0)
			var = &st->sweep[i];
	if (!var) {
		problem(l, file, lim->per_loc,
			"per: '%s' is not a sweep variable of step '%s'", lim->per,
			st->name);
		return;
	}
	if (lim->lows && lim->n_lows != var->n_values)
		problem(l, file, lim->lows_loc,
			"limits low has %zu entries, but %s takes %zu values",
			lim->n_lows, var->name, var->n_values);
	if (lim->highs && lim->n_highs != var->n_values)
		problem(l, file, lim->highs_loc,
			"limits high has %zu entries, but %s takes %zu values",
			lim->n_highs, var->name, var->n_values);
}

static void lint_limits(lint *l, const seq_step *st, const run_op *op,
			const seq_limits *lim)
{
	const char *file = lim->file ? lim->file : l->s->path;
	const run_value *v = find_value(op, lim->value, NULL);
	double dummy;

	if (!v) {
		if (n_values(op) == 0)
			problem(l, file, lim->loc,
				"step '%s' measures no value, so it takes no limits",
				st->name);
		else if (lim->value)
			problem(l, file, lim->loc, "operation '%s' has no value '%s'",
				op->name, lim->value);
		else
			problem(l, file, lim->loc,
				"operation '%s' measures several values: give limits per value (e.g. %s: {low: ..})",
				op->name, op->values[0].name);
		return;
	}
	if (lim->per)
		lint_per(l, st, lim, file);
	if (!run_unit_convert(1.0, v->unit, lim->unit, &dummy)) {
		if (lim->value)
			problem(l, file, lim->loc,
				"value '%s' of step '%s' is in %s, which cannot be given in %s",
				lim->value, st->name, v->unit[0] ? v->unit : "counts",
				lim->unit);
		else
			problem(l, file, lim->loc,
				"step '%s' measures %s, which cannot be given in %s",
				st->name, v->unit[0] ? v->unit : "counts", lim->unit);
	}
}

static void lint_step(lint *l, const seq_step *st, size_t idx)
{
	const seq_sequence *s = l->s;
	const run_op *op = run_find_op(st->op);
	size_t i;

	if (!op) {
		if (st->role)
			problem(l, s->path, st->loc, "unknown operation '%s.%s'",
				st->role, st->op);
		else
			problem(l, s->path, st->loc,
				"unknown step kind '%s' (built-in steps: wait, prompt)",
				st->op);
		return;
	}
	if (op->klass < 0 && st->role)
		problem(l, s->path, st->loc,
			"'%s' is a built-in step: write 'step: %s' without a role",
			op->name, op->name);
	if (op->klass >= 0 && !st->role)
		problem(l, s->path, st->loc,
			"operation '%s' needs an instrument role: '<role>.%s'",
			op->name, op->name);
	if (st->role && s->roles) {
		for (i = 0; i < s->n_roles; i++)
			if (strcmp(s->roles[i], st->role) == 0)
				break;
		if (i == s->n_roles)
			problem(l, s->path, st->loc, "role '%s' is not in roles", st->role);
	}
	if (st->role && strcmp(st->role, "prober") == 0)
		problem(l, s->path, st->loc,
			"the prober is driven by the wafer process, not by steps");
	if (op->unit_only && s->process != SEQ_PROCESS_UNIT)
		problem(l, s->path, st->loc,
			"'%s' needs an operator: only in the unit process", op->name);
	if (st->n_sweep > RUN_MAX_SWEEP)
		problem(l, s->path, st->loc, "step '%s' sweeps %zu variables, at most %d",
			st->name, st->n_sweep, RUN_MAX_SWEEP);
	for (i = 0; i < st->n_sweep && i < RUN_MAX_SWEEP; i++)
		if (!in_list(op->sweep_vars, RUN_MAX_SWEEP, st->sweep[i].name))
			problem(l, s->path, st->sweep[i].loc,
				"operation '%s' has no sweep variable '%s'", op->name,
				st->sweep[i].name);
	for (i = 0; i < st->n_params; i++)
		lint_param(l, st, idx, op, &st->params[i]);
	/* Operations that need one of two params. */
	if (op->kind == RUN_KIND_MATCH &&
	    !seq_step_param(st, "glob") == !seq_step_param(st, "regex"))
		problem(l, s->path, st->loc, "step '%s' needs params glob or regex (one)",
			st->name);
	if (strcmp(op->name, "insertion_loss") == 0 &&
	    !seq_step_param(st, "reference_dbm") ==
	    !seq_step_param(st, "reference_step"))
		problem(l, s->path, st->loc,
			"step '%s' needs params reference_dbm or reference_step (one)",
			st->name);
	if (op->kind == RUN_KIND_PROMPT && !seq_step_param(st, "text"))
		problem(l, s->path, st->loc, "step '%s' needs param text", st->name);
	if (strcmp(op->name, "wait") == 0 && !seq_step_param(st, "seconds"))
		problem(l, s->path, st->loc, "step '%s' needs param seconds", st->name);
	if (st->has_limits)
		lint_limits(l, st, op, &st->limits);
	for (i = 0; i < st->n_vlimits; i++)
		lint_limits(l, st, op, &st->vlimits[i]);
}

/* The station side: every role configured, its driver loadable and of the
 * class the sequence needs. */
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
	if (need_class > 0 && p->desc->klass != need_class) {
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

static void lint_station(lint *l, const cfg_station *c, const need_role *roles,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const cfg_instrument *inst = cfg_find_role(c, roles[i].name);
		drv_plugin *p;
		kgd_err e;

		if (!inst) {
			problem(l, l->s->path, roles[i].loc,
				"role '%s' is not configured in station config %s",
				roles[i].name, c->path);
			continue;
		}
		kgd_err_clear(&e);
		if (load_role_driver(c, inst, roles[i].klass, &p, &e) != KGD_OK) {
			if (l->report)
				l->report(l->user, e.msg);
			if (l->status == KGD_OK && l->err)
				*l->err = e;
			l->status = e.status ? e.status : KGD_ERR_ABI;
			continue;
		}
		drv_plugin_unload(p);
	}
}

int run_lint(const seq_sequence *s, const cfg_station *c,
	     void (*report)(void *user, const char *msg), void *user,
	     kgd_err *err)
{
	lint l = {s, report, user, err, KGD_OK};
	need_role roles[RUN_MAX_ROLES];
	size_t n, i;

	for (i = 0; i < seq_n_steps(s); i++)
		lint_step(&l, seq_step_at(s, i), i);
	n = collect_roles(s, roles, &l);
	if (s->process == SEQ_PROCESS_WAFER && s->roles) {
		for (i = 0; i < s->n_roles; i++)
			if (strcmp(s->roles[i], "prober") == 0)
				break;
		if (i == s->n_roles)
			problem(&l, s->path, s->role_locs[0],
				"the wafer process needs role 'prober' in roles");
	}
	if (c)
		lint_station(&l, c, roles, n);
	return l.status;
}

int run_validate(const seq_sequence *s, const cfg_station *c, kgd_err *err)
{
	return run_lint(s, c, NULL, NULL, err);
}

/* ---- opening the station ------------------------------------------------- */

run_role *run_find_role(run_station *rs, const char *role)
{
	for (size_t i = 0; role && i < rs->n_roles; i++)
		if (strcmp(rs->roles[i].inst->role, role) == 0)
			return &rs->roles[i];
	return NULL;
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
	need_role roles[RUN_MAX_ROLES];
	run_station *rs;
	size_t n;
	int rc;

	rc = run_validate(s, c, err);
	if (rc)
		return rc;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	n = collect_roles(s, roles, NULL);
	for (size_t i = 0; i < n; i++) {
		run_role *r = &rs->roles[rs->n_roles++];

		r->inst = cfg_find_role(c, roles[i].name);
		rc = open_role(r, c, roles[i].klass, err);
		if (rc)
			goto error;
	}
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

/* ---- one part ------------------------------------------------------------ */

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

int run_reference(const run_ctx *cx, const char *ref, const run_point *pt,
		  double *native, const char **unit)
{
	char name[128];
	char *value;
	const seq_step *rst;
	const run_op *op;
	const run_value *rv;
	long idx;

	snprintf(name, sizeof(name), "%s", ref);
	value = strchr(name, '/');
	if (value)
		*value++ = '\0';
	idx = seq_step_index(cx->s, name);
	if (idx < 0)
		return 0;
	rst = seq_step_at(cx->s, (size_t)idx);
	op = run_find_op(rst->op);
	rv = op ? find_value(op, value, NULL) : NULL;
	if (!rv)
		return 0;
	/* Latest first: a retried reference counts with its last reading. */
	for (size_t i = cx->part.n_recs; i-- > 0;) {
		const run_rec *r = &cx->part.recs[i];
		int same = 1;

		if (r->step != (size_t)idx || (r->value == NULL) != (value == NULL) ||
		    (value && strcmp(r->value, value) != 0))
			continue;
		for (size_t k = 0; k < rst->n_sweep && same; k++) {
			double mine;

			if (run_point_get(pt, rst->sweep[k].name, &mine) &&
			    mine != r->vals[k])
				same = 0;
		}
		if (same) {
			*native = r->native;
			*unit = rv->unit;
			return 1;
		}
	}
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
		set_reason(part, "%s%s%s: %s", st->name, coords[0] ? " " : "",
			   coords, msg);
	}
}

static void part_fail(run_part *part, const seq_step *st)
{
	if (part->verdict == RUN_PASS) {
		part->verdict = RUN_FAIL;
		part->soft_bin = st->fail_bin ? st->fail_bin : RUN_BIN_FAIL;
	}
}

/* Log one value of a numeric point. */
static int log_value(run_ctx *cx, const seq_step *st, const run_op *op, int vi,
		     const run_call *call, int call_ok, const char *coords,
		     int *pass, kgd_err *err)
{
	const run_value *rv = &op->values[vi];
	seq_limits at;
	const seq_limits *lim = point_limits(st, rv->name, call->pt, &at);
	const char *unit = lim && lim->unit[0] ? lim->unit : rv->unit;
	db_measurement m;
	double v = NAN;
	int rc;

	if (call_ok)
		run_unit_convert(call->v[vi], rv->unit, unit, &v);
	*pass = call_ok && (lim ? within(lim, v) : !isnan(v));
	memset(&m, 0, sizeof(m));
	m.step = st->name;
	m.name = rv->name;
	m.coords = coords[0] ? coords : NULL;
	m.value = v;
	m.value_valid = call_ok && !isnan(v);
	m.unit = unit;
	if (lim) {
		m.has_low = lim->has_low;
		m.has_high = lim->has_high;
		m.low = lim->low;
		m.high = lim->high;
	}
	m.pass = *pass;
	rc = db_measurement_add(cx->d, cx->run_id, &m, err);
	if (rc)
		return rc;
	cx->part.measurements++;
	if (!*pass && call_ok && cx->part.verdict == RUN_PASS) {
		char lo[32] = "-inf", hi[32] = "+inf";

		if (m.has_low)
			snprintf(lo, sizeof(lo), "%.6g", m.low);
		if (m.has_high)
			snprintf(hi, sizeof(hi), "%.6g", m.high);
		set_reason(&cx->part, "%s%s%s%s%s: %.6g %s outside %s%s, %s%s",
			   st->name, rv->name ? "/" : "", rv->name ? rv->name : "",
			   coords[0] ? " " : "", coords, v, unit,
			   lim && lim->exclusive ? "(" : "[", lo, hi,
			   lim && lim->exclusive ? ")" : "]");
	}
	return KGD_OK;
}

/* Measure one sweep point (with retries), log it, fold it into the verdict.
 * *status gets the point's outcome. Returns KGD_OK, or the database error
 * (or abort) that must stop the part. */
static int run_point_once(run_ctx *cx, size_t step_idx, const run_point *pt,
			  int *status, size_t *n_logged, kgd_err *err)
{
	const seq_step *st = pt->st;
	const run_op *op = run_find_op(st->op);
	run_call call;
	char coords[512];
	kgd_err ierr;
	int irc = KGD_OK, pass = 0, nv = n_values(op), rc;

	for (int attempt = 0; attempt <= st->retry; attempt++) {
		memset(&call, 0, sizeof(call));
		call.cx = cx;
		call.r = run_find_role(cx->rs, st->role);
		call.st = st;
		call.pt = pt;
		kgd_err_clear(&ierr);
		irc = op->exec(&call, &ierr);
		if (irc == KGD_ERR_ABORTED)
			return kgd_err_set(err, irc, "%s", ierr.msg);
		if (irc != KGD_OK)
			continue;
		if (op->kind == RUN_KIND_NUMERIC) {
			pass = 1;
			for (int i = 0; i < nv; i++) {
				seq_limits at;
				const seq_limits *lim = point_limits(st, op->values[i].name,
								     pt, &at);
				double v = NAN;

				run_unit_convert(call.v[i], op->values[i].unit,
						 lim && lim->unit[0] ? lim->unit
								     : op->values[i].unit, &v);
				if (lim ? !within(lim, v) : isnan(v))
					pass = 0;
			}
		} else {
			pass = op->kind == RUN_KIND_ACTION ? 1 : call.matched;
		}
		if (pass)
			break;
		if (run_aborted(cx))
			break;
	}

	point_json(pt, op->kind == RUN_KIND_MATCH || op->kind == RUN_KIND_PROMPT
			       ? (irc == KGD_OK ? call.text : NULL) : NULL,
		   coords, sizeof(coords));
	if (op->kind == RUN_KIND_NUMERIC) {
		for (int i = 0; i < nv; i++) {
			int vpass;

			rc = log_value(cx, st, op, i, &call, irc == KGD_OK, coords,
				       &vpass, err);
			if (rc)
				return rc;
			if (irc == KGD_OK &&
			    remember(&cx->part, step_idx, op->values[i].name, pt,
				     call.v[i]))
				return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		}
		*n_logged += (size_t)nv;
	} else if (op->kind != RUN_KIND_ACTION &&
		   (op->kind == RUN_KIND_MATCH || seq_step_param(st, "expect"))) {
		/* A string judged: 1 matched, 0 not; the string rides in coords. */
		db_measurement m = {0};

		m.step = st->name;
		m.coords = coords[0] ? coords : NULL;
		m.value = call.matched;
		m.value_valid = irc == KGD_OK;
		m.unit = "";
		m.pass = pass;
		rc = db_measurement_add(cx->d, cx->run_id, &m, err);
		if (rc)
			return rc;
		cx->part.measurements++;
		(*n_logged)++;
		if (irc == KGD_OK && !pass && cx->part.verdict == RUN_PASS)
			set_reason(&cx->part, "%s: '%.80s' does not match '%.80s'",
				   st->name, call.text,
				   seq_step_param(st, "expect")
					   ? seq_step_param(st, "expect")->value
					   : seq_step_param(st, "glob")
						     ? seq_step_param(st, "glob")->value
						     : seq_step_param(st, "regex")->value);
	}
	if (irc != KGD_OK) {
		/* The first error names the instrument the policy looks at. */
		if (cx->part.verdict != RUN_ERROR) {
			cx->part.err_role = call.r;
			cx->part.err_status = irc;
		}
		part_error(&cx->part, st, coords, ierr.msg);
		*status = RUN_ST_ERROR;
	} else if (!pass) {
		part_fail(&cx->part, st);
		*status = RUN_ST_FAIL;
	} else {
		*status = RUN_ST_PASS;
	}
	return KGD_OK;
}

static const char *step_status_text(int st)
{
	return st == RUN_ST_PASS ? "pass" : st == RUN_ST_FAIL ? "fail" : "error";
}

/* Run one step over its whole sweep. *stop is set when the part must go
 * straight to cleanup. */
static int run_step(run_ctx *cx, size_t idx, int *stop, kgd_err *err)
{
	const seq_step *st = seq_step_at(cx->s, idx);
	size_t sw[RUN_MAX_SWEEP] = {0}, n_logged = 0;
	run_point pt = {.st = st};
	int status = RUN_ST_PASS, rc;

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
	for (;;) {
		int pst;
		size_t k;

		if (run_aborted(cx))
			return kgd_err_set(err, KGD_ERR_ABORTED, "aborted");
		for (size_t i = 0; i < st->n_sweep; i++) {
			pt.vals[i] = st->sweep[i].values[sw[i]];
			pt.idx[i] = sw[i];
		}
		rc = run_point_once(cx, idx, &pt, &pst, &n_logged, err);
		if (rc)
			return rc;
		if (pst > status && pst != RUN_ST_SKIPPED)
			status = pst;
		if (status == RUN_ST_ERROR)
			break;
		/* Odometer: the last variable varies fastest. */
		for (k = st->n_sweep; k > 0; k--) {
			if (++sw[k - 1] < st->sweep[k - 1].n_values)
				break;
			sw[k - 1] = 0;
		}
		if (k == 0)
			break;
	}
	cx->part.status[idx] = (unsigned char)status;
	rc = db_step_result_add(cx->d, cx->run_id, st->name, step_status_text(status),
				status == RUN_ST_FAIL ? (st->fail_bin ? st->fail_bin
								      : RUN_BIN_FAIL)
						      : status == RUN_ST_ERROR ? RUN_BIN_ERROR : 0,
				(int)n_logged, err);
	if (rc)
		return rc;
	if (status == RUN_ST_ERROR || (status == RUN_ST_FAIL && !st->fail_continue))
		*stop = 1;
	return KGD_OK;
}

static int run_group(run_ctx *cx, size_t first, size_t n, int *stop,
		     kgd_err *err)
{
	for (size_t i = first; i < first + n && !*stop; i++) {
		int rc = run_step(cx, i, stop, err);

		if (rc)
			return rc;
	}
	return KGD_OK;
}

void run_fill_info(const run_ctx *cx, db_run_info *info)
{
	memset(info, 0, sizeof(*info));
	info->station = cx->c->name;
	info->host = cx->host;
	info->operator_name = cx->o->operator_name;
	info->lot = cx->o->lot;
	info->seq_name = cx->s->name;
	info->seq_version = cx->s->version;
	info->seq_sha256 = cx->s->sha256;
	info->seq_text = cx->s->text;
	info->product = cx->s->product;
	info->session_id = cx->sum->session_id;
	if (cx->o->limits) {
		info->limits_sha256 = cx->o->limits->sha256;
		info->limits_text = cx->o->limits->text;
	}
}

int run_part_begin(run_ctx *cx, const db_run_info *info, kgd_err *err)
{
	const seq_sequence *s = cx->s;
	run_part *part = &cx->part;
	int stop = 0, cleanup_stop = 0, rc;
	kgd_err cerr;

	part->verdict = RUN_PASS;
	part->soft_bin = seq_pass_bin(s);
	part->reason[0] = '\0';
	part->measurements = 0;
	part->n_recs = 0;
	part->err_role = NULL;
	part->err_status = KGD_OK;
	free(part->status);
	part->status = calloc(seq_n_steps(s) + 1, 1);
	if (!part->status)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");

	rc = db_run_begin(cx->d, info, &cx->run_id, err);
	if (rc)
		return rc;
	cx->in_cleanup = 0;
	rc = run_group(cx, 0, s->n_setup, &stop, err);
	if (!rc)
		rc = run_group(cx, s->n_setup, s->n_main, &stop, err);
	/* Cleanup runs whatever happened above (lasers off, outputs off), even
	 * when the part is being abandoned. Its own failure cannot make a
	 * failed part pass, but its error makes a passing part an error. */
	cx->in_cleanup = 1;
	kgd_err_clear(&cerr);
	{
		int crc = run_group(cx, s->n_setup + s->n_main, s->n_cleanup,
				    &cleanup_stop, &cerr);

		if (!rc && crc) {
			rc = crc;
			if (err)
				*err = cerr;
		}
	}
	cx->in_cleanup = 0;
	if (rc) {
		db_run_rollback(cx->d);
		if (rc == KGD_ERR_ABORTED)
			kgd_err_set(err, rc, "aborted; the part in flight was discarded");
	}
	return rc;
}

int run_part_begin_error(run_ctx *cx, const db_run_info *info,
			 const char *reason, kgd_err *err)
{
	run_part *part = &cx->part;

	part->verdict = RUN_ERROR;
	part->soft_bin = RUN_BIN_ERROR;
	part->measurements = 0;
	part->n_recs = 0;
	part->err_role = NULL;
	part->err_status = KGD_OK;
	set_reason(part, "%s", reason);
	return db_run_begin(cx->d, info, &cx->run_id, err);
}

/* Close and open again the instrument behind a role whose connection was
 * lost. On failure the role is left closed (r->h NULL) and err says why. */
static int reopen_role(run_role *r, kgd_err *err)
{
	int rc;

	if (r->h)
		r->plugin->desc->close(r->h);
	r->h = NULL;
	xport_close(r->x);
	r->x = NULL;
	rc = xport_open(r->inst->uri, r->inst->timeout_ms > 0 ? r->inst->timeout_ms
							      : XPORT_DEFAULT_TIMEOUT_MS,
			&r->x, err);
	if (rc)
		return rc;
	rc = r->plugin->desc->open(r->x, &r->h, err);
	if (rc)
		r->h = NULL;
	return rc;
}

int run_part_policy(run_ctx *cx, kgd_err *err)
{
	const run_part *p = &cx->part;
	run_role *r = p->err_role;
	kgd_err e2;

	if (p->verdict != RUN_ERROR) {
		cx->errors_in_row = 0;
		return KGD_OK;
	}
	cx->errors_in_row++;
	if (cx->o->max_errors && cx->errors_in_row >= cx->o->max_errors)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "stopping the lot: %u part%s in a row in the error "
				   "bin (--max-errors %u); last: %s", cx->errors_in_row,
				   cx->errors_in_row == 1 ? "" : "s", cx->o->max_errors,
				   p->reason);
	/* A timeout or a bad reply leaves the connection up (drivers drop
	 * stale input after a timeout), so only a lost connection is worth a
	 * new one; without it every later part would fail the same way. */
	if (!r || (p->err_status != KGD_ERR_CLOSED && p->err_status != KGD_ERR_IO))
		return KGD_OK;
	run_progress_note(cx, "role '%s' (%s): connection lost (%s); reopening",
			  r->inst->role, r->inst->uri, kgd_status_name(p->err_status));
	kgd_err_clear(&e2);
	if (reopen_role(r, &e2))
		return kgd_err_set(err, e2.status ? e2.status : KGD_ERR_IO,
				   "stopping the lot: role '%s' (%s) lost its connection "
				   "and could not be reopened: %s", r->inst->role,
				   r->inst->uri, e2.msg);
	return KGD_OK;
}

int run_part_hard_bin(const run_ctx *cx)
{
	return seq_hard_bin(cx->s, cx->part.verdict == RUN_PASS
					   ? seq_pass_bin(cx->s) : cx->part.soft_bin);
}

int run_part_commit(run_ctx *cx, kgd_err *err)
{
	const run_part *p = &cx->part;

	if (cx->committer)
		return run_commit_submit(cx, err);

	return db_run_commit(cx->d, cx->run_id, run_verdict_status(p->verdict),
			     run_part_hard_bin(cx), p->soft_bin,
			     p->reason[0] ? p->reason : NULL, err);
}

void run_part_tally(run_ctx *cx)
{
	run_summary *sum = cx->sum;

	sum->tested++;
	sum->measurements += cx->part.measurements;
	if (cx->part.verdict == RUN_PASS)
		sum->passed++;
	else if (cx->part.verdict == RUN_FAIL)
		sum->failed++;
	else
		sum->errors++;
	if (cx->part.reason[0])
		snprintf(sum->last_fail, sizeof(sum->last_fail), "%.250s",
			 cx->part.reason);
}

/* ---- the lot ------------------------------------------------------------- */

int run_lot(run_station *rs, const seq_sequence *s, const cfg_station *c,
	    db *d, const run_opts *o, run_summary *sum, kgd_err *err)
{
	db_session_info si = {0};
	db_bin *bins;
	size_t n_hard;
	run_ctx cx = {0};
	kgd_err e2;
	int rc;

	memset(sum, 0, sizeof(*sum));
	cx.rs = rs;
	cx.s = s;
	cx.c = c;
	cx.d = d;
	cx.o = o;
	cx.sum = sum;
	gethostname(cx.host, sizeof(cx.host) - 1);

	/* Soft bins, then the hard bins they map to. Without a hard_bins
	 * table a soft bin is its own hard bin (seq_hard_bin), so the soft
	 * table doubles as the hard one. */
	n_hard = s->hard_bins ? s->n_hard_bins : s->n_bins;
	bins = calloc(s->n_bins + n_hard + 1, sizeof(*bins));
	if (!bins)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < s->n_bins; i++)
		bins[i] = (db_bin){s->bins[i].number, s->bins[i].name,
				   s->bins[i].pass,
				   seq_hard_bin(s, s->bins[i].number)};
	for (size_t i = 0; i < n_hard; i++) {
		const seq_bin *hb = s->hard_bins ? &s->hard_bins[i] : &s->bins[i];

		bins[s->n_bins + i] = (db_bin){hb->number, hb->name, hb->pass, 0};
	}
	si.station = c->name;
	si.host = cx.host;
	si.operator_name = o->operator_name;
	si.lot = o->lot;
	si.process = s->process == SEQ_PROCESS_WAFER ? "wafer" : "unit";
	si.product = s->product;
	si.seq_name = s->name;
	si.seq_version = s->version;
	si.seq_sha256 = s->sha256;
	si.seq_text = s->text;
	if (o->limits) {
		si.limits_sha256 = o->limits->sha256;
		si.limits_text = o->limits->text;
	}
	si.bins = bins;
	si.n_bins = s->n_bins;
	si.hard_bins = bins + s->n_bins;
	si.n_hard_bins = n_hard;
	rc = db_session_begin(d, &si, &sum->session_id, &sum->n_interrupted, err);
	free(bins);
	if (rc)
		return rc;
	if (sum->n_interrupted)
		run_progress_note(&cx, "%d interrupted session%s found in the results "
				  "database (marked interrupted)%s",
				  sum->n_interrupted, sum->n_interrupted == 1 ? "" : "s",
				  o->resume ? "; resuming" : "");

	/* Wafer sort commits each die on a thread while the prober moves to
	 * the next (run_commit.c); the last commit is known before the
	 * session ends. */
	if (s->process == SEQ_PROCESS_WAFER && !o->no_overlap)
		rc = run_commit_open(&cx, err);
	if (!rc)
		rc = s->process == SEQ_PROCESS_WAFER ? run_proc_wafer(&cx, err)
						      : run_proc_unit(&cx, err);
	if (cx.committer) {
		kgd_err e3;
		int src;

		kgd_err_clear(&e3);
		src = run_part_sync(&cx, &e3);
		if (src && !rc) {
			rc = src;
			if (err)
				*err = e3;
		}
		run_commit_close(&cx);
	}
	run_progress_end(&cx);
	free(cx.part.status);
	free(cx.part.recs);

	kgd_err_clear(&e2);
	if (db_session_end(d, sum->session_id,
			   rc == KGD_OK ? DB_SESSION_COMPLETE
			   : rc == KGD_ERR_ABORTED ? DB_SESSION_ABORTED
						   : DB_SESSION_ERROR, &e2) && !rc) {
		rc = e2.status;
		if (err)
			*err = e2;
	}
	return rc;
}
