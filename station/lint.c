/*
 * station/lint.c - `station check` and the check before every run: a
 * sequence (with its limits applied) against what the sequencer
 * implements - operations, kinds, sweep variables, params, value names,
 * units, roles, process, parallel blocks - and, given a station config,
 * against the station: every role configured, every driver found and
 * trusted (plugin.h), and loaded to confirm its class where the
 * sequence's operations need one - the only reason a check dlopens a
 * plugin. Opens no instrument.
 *
 * Invariant: EVERY problem is reported, as "file:line:column: message"
 * (diag.h), so an engineer fixes a sequence in one pass; a run refuses what
 * this refuses, before the database is touched.
 */
#include "run_int.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "yaml_util.h"

typedef struct lint {
	const seq_sequence *s;
	diag dg;
	run_need roles[RUN_MAX_ROLES];   /* the roles and their classes */
	size_t n_roles;
} lint;

static void problem(lint *l, const char *file, seq_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void problem(lint *l, const char *file, seq_loc loc, const char *fmt, ...)
{
	char msg[KGD_ERR_MSG_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A step pulled in by include: is at its own file, which says how it
	 * came in. */
	if (loc.file > 0 && file == l->s->path &&
	    (size_t)loc.file <= l->s->n_files) {
		size_t used = strlen(msg);

		file = seq_loc_path(l->s, loc);
		snprintf(msg + used, sizeof(msg) - used, "%s",
			 l->s->chains[loc.file - 1] ? l->s->chains[loc.file - 1] : "");
	}
	diag_at(&l->dg, file, loc.line, loc.column, "%s", msg);
}

static int in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* The unit slip that most likely gave v, where scaling it lands in r:
 * "1310 (um -> nm)". 0: none fits. */
static int unit_slip(const run_range *r, double v, char *buf, size_t cap)
{
	static const struct { const char *unit; double factor; const char *slip; }
	slips[] = {
		{"nm", 1e3, "um -> nm"}, {"nm", 1e9, "m -> nm"},
		{"s", 1e-3, "ms -> s"}, {"s", 1e-6, "us -> s"},
		{"Gb/s", 1e-3, "Mb/s -> Gb/s"}, {"Gb/s", 1e-9, "b/s -> Gb/s"},
		{"dBm", 1.0, NULL},
	};

	for (size_t i = 0; i < sizeof(slips) / sizeof(slips[0]); i++) {
		double w = v * slips[i].factor;

		if (slips[i].slip && strcmp(slips[i].unit, r->unit) == 0 &&
		    w >= r->lo && w <= r->hi) {
			snprintf(buf, cap, "%g (%s)", w, slips[i].slip);
			return 1;
		}
	}
	return 0;
}

/* v (as written: text) against the declared range of what it sets. */
static void lint_range(lint *l, const char *file, seq_loc loc,
		       const run_range *r, const char *text, double v)
{
	char guess[64], hint[96] = "";

	if (unit_slip(r, v, guess, sizeof(guess)))
		snprintf(hint, sizeof(hint), "; did you mean %s?", guess);
	if (r->whole && v != (double)(long)v)
		problem(l, file, loc, "%s: %s must be a whole number %g..%g", text,
			r->name, r->lo, r->hi);
	else if (v < r->lo || v > r->hi)
		/* The name carries the unit (wavelength_nm, gate_s). */
		problem(l, file, loc, "%s: %s must be %g..%g%s", text, r->name,
			r->lo, r->hi, hint);
}

/* The sweep variable names of st, comma-separated ("nothing"). */
static const char *var_list(const seq_step *st, char *buf, size_t cap)
{
	size_t used = 0;

	snprintf(buf, cap, "nothing");
	for (size_t i = 0; i < st->n_sweep && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 i ? ", " : "", st->sweep[i].name ?
					 st->sweep[i].name : "?");
	return buf;
}

static int has_var(const seq_step *st, const char *name)
{
	for (size_t i = 0; i < st->n_sweep; i++)
		if (st->sweep[i].name && strcmp(st->sweep[i].name, name) == 0)
			return 1;
	return 0;
}

/* A point takes the reference's reading at the point whose shared sweep
 * variables are equal (run_reference); sharing none, every point would
 * take the reference's last reading - silently wrong numbers. So they
 * share one, or reference_match pairs them; each pair it names is a
 * variable of this step = one of the reference's. */
static void lint_ref_sweep(lint *l, const seq_step *st, const seq_step *ref,
			   const seq_param *p)
{
	const seq_param *m = seq_step_param(st, "reference_match");
	char mine[160], theirs[160], var[64];
	int shared = 0;

	if (m) {
		char pairs[256], *save = NULL;

		snprintf(pairs, sizeof(pairs), "%s", m->value);
		for (char *pr = strtok_r(pairs, ",", &save); pr;
		     pr = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(pr, '=');

			if (!eq || !yu_is_name(eq + 1) || (*eq = '\0', !yu_is_name(pr))) {
				problem(l, l->s->path, m->loc,
					"reference_match '%.60s': expected <this step's variable>=<the reference's variable>[,...]",
					m->value);
				return;
			}
			if (!has_var(st, pr))
				problem(l, l->s->path, m->loc,
					"reference_match: '%s' is not a sweep variable of step '%s' (it sweeps %s)",
					pr, st->name, var_list(st, mine, sizeof(mine)));
			if (!has_var(ref, eq + 1))
				problem(l, l->s->path, m->loc,
					"reference_match: '%s' is not a sweep variable of reference step '%s' (it sweeps %s)",
					eq + 1, ref->name, var_list(ref, theirs, sizeof(theirs)));
		}
	}
	if (ref->n_sweep == 0)
		return;  /* one reading: every point takes it */
	for (size_t k = 0; k < ref->n_sweep; k++)
		if (ref->sweep[k].name &&
		    has_var(st, run_reference_var(st, ref->sweep[k].name, var,
						  sizeof(var))))
			shared = 1;
	if (!shared)
		problem(l, l->s->path, p->loc,
			"reference_step '%s' sweeps %s and step '%s' sweeps %s: no variable in common, so every point would take the reference's last reading (sweep one of them here, or pair them: reference_match: %s=%s)",
			ref->name, var_list(ref, theirs, sizeof(theirs)), st->name,
			var_list(st, mine, sizeof(mine)),
			st->n_sweep && st->sweep[0].name ? st->sweep[0].name : "VAR",
			ref->sweep[0].name ? ref->sweep[0].name : "VAR");
}

static void lint_param(lint *l, const seq_step *st, size_t idx,
		       const run_op *op, const seq_param *p)
{
	const run_param *rp = run_op_param(op, p->key);
	const seq_sequence *s = l->s;
	double d;
	long n;
	int b;

	if (!rp) {
		problem(l, s->path, p->loc, "operation '%s' has no parameter '%s'",
			op->name, p->key);
		return;
	}
	switch (rp->type) {
	case RUN_P_NUMBER:
		if (yu_parse_double(p->value, &d) != 0)
			problem(l, s->path, p->loc, "param %s must be a number, not '%.60s'",
				p->key, p->value);
		else if (run_op_range(op, p->key))
			lint_range(l, s->path, p->loc, run_op_range(op, p->key), p->value,
				   d);
		else if (d < 0)
			problem(l, s->path, p->loc, "param %s must not be negative",
				p->key);
		break;
	case RUN_P_PATTERN:
		if (strcmp(p->value, "PRBS7") && strcmp(p->value, "PRBS15") &&
		    strcmp(p->value, "PRBS23") && strcmp(p->value, "PRBS31"))
			problem(l, s->path, p->loc,
				"pattern must be PRBS7, PRBS15, PRBS23 or PRBS31, not '%.60s'",
				p->value);
		break;
	case RUN_P_CHANNELS:
		if (strcmp(p->value, "all") != 0 &&
		    (yu_parse_int(p->value, &n) != 0 || n < 1 || n > 64))
			problem(l, s->path, p->loc,
				"channels must be 'all' or a channel number 1..64, not '%.60s'",
				p->value);
		break;
	case RUN_P_BOOL:
		if (yu_bool_word(p->value, &b) != 0)
			problem(l, s->path, p->loc, "param %s must be on or off, not '%.60s'",
				p->key, p->value);
		break;
	case RUN_P_REGEX: {
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
	case RUN_P_STEPREF: {
		char ref[128];
		char *slash;
		long j;
		const run_op *rop;
		const run_value *rv;

		if (strlen(p->value) >= sizeof(ref)) {
			problem(l, s->path, p->loc, "%s '%.60s...' is longer than %zu "
				"characters", p->key, p->value, sizeof(ref) - 1);
			break;
		}
		snprintf(ref, sizeof(ref), "%s", p->value);
		slash = strchr(ref, '/');
		if (slash)
			*slash++ = '\0';
		j = seq_step_index(s, ref);
		/* A sibling branch's step: lint_block says why that cannot be. */
		if (j >= 0 && st->block &&
		    seq_step_at(s, (size_t)j)->block == st->block &&
		    seq_step_at(s, (size_t)j)->branch != st->branch)
			break;
		if (j < 0 || (size_t)j >= idx) {
			problem(l, s->path, p->loc,
				"%s '%.60s' is not a step that runs before this one",
				p->key, ref);
			break;
		}
		rop = run_find_op(seq_step_at(s, (size_t)j)->op);
		rv = rop ? run_op_value(rop, slash, NULL) : NULL;
		if (rop && (!rv || strcmp(rv->unit, "W") != 0))
			problem(l, s->path, p->loc,
				"%s '%.60s' does not measure an optical power%s",
				p->key, p->value,
				slash ? "" : " (name a value: step/value)");
		lint_ref_sweep(l, st, seq_step_at(s, (size_t)j), p);
		break;
	}
	case RUN_P_PM_ROLE:
		/* The role is opened like a step's (run_collect_roles), so it
		 * must be one the sequence declares when it declares any. */
		if (s->roles && !in_list((const char *const *)s->roles, s->n_roles,
					 p->value))
			problem(l, s->path, p->loc, "param %s: role '%.60s' is not in "
				"roles", p->key, p->value);
		else if (st->role && strcmp(p->value, st->role) == 0)
			problem(l, s->path, p->loc, "param %s names the step's own "
				"role '%.60s'", p->key, p->value);
		break;
	default:
		break;
	}
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

/* A limit no value of its unit can meet (45..90 A, meant as mA; a
 * negative BER) fails every part: said at check time, once per limit. */
static void lint_reachable(lint *l, const char *file, const seq_limits *lim)
{
	size_t n = lim->lows ? lim->n_lows : lim->highs ? lim->n_highs : 1;
	const char *unit = lim->unit[0] ? lim->unit : "count";
	double span_lo, span_hi;

	if (lim->lows && lim->highs && lim->n_highs > n)
		n = lim->n_highs;
	if (!run_unit_span(lim->unit, &span_lo, &span_hi))
		return;
	for (size_t i = 0; i < n; i++) {
		seq_limits at;
		double lo, hi;
		char bounds[64], hint[40] = "", entry[32] = "";

		seq_limits_at(lim, i, &at);
		lo = at.has_low ? at.low : -INFINITY;
		hi = at.has_high ? at.high : INFINITY;
		if (isnan(lo) || isnan(hi) || (hi >= span_lo && lo <= span_hi))
			continue;
		if (at.has_low && at.has_high)
			snprintf(bounds, sizeof(bounds), "%g..%g", lo, hi);
		else
			snprintf(bounds, sizeof(bounds), "%s %g", at.has_low ? ">=" : "<=",
				 at.has_low ? lo : hi);
		/* The usual slip: milli-units written as the base unit. */
		if ((strcmp(lim->unit, "A") == 0 || strcmp(lim->unit, "W") == 0) &&
		    hi * 1e-3 >= span_lo && lo * 1e-3 <= span_hi)
			snprintf(hint, sizeof(hint), "; did you mean m%s?", lim->unit);
		if (n > 1)
			snprintf(entry, sizeof(entry), " (entry %zu)", i + 1);
		problem(l, file, lim->loc,
			"limits %s %s%s cannot be met: a value in %s is %g..%g%s", bounds,
			unit, entry, unit, span_lo, span_hi, hint);
		return;
	}
}

static void lint_limits(lint *l, const seq_step *st, const run_op *op,
			const seq_limits *lim)
{
	const char *file = lim->file ? lim->file : l->s->path;
	const run_value *v = run_op_value(op, lim->value, NULL);
	double dummy;

	if (!v) {
		if (run_op_n_values(op) == 0)
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
	if (!lim->has_unit) {
		char what[96] = "";
		const char *choices = run_unit_choices(v->unit);

		if (lim->value)
			snprintf(what, sizeof(what), "value '%s' of ", lim->value);
		problem(l, file, lim->loc,
			"limits of %sstep '%s' need a unit: it measures %s (unit: %s%s)",
			what, st->name, v->unit[0] ? v->unit : "a count",
			strchr(choices, ',') ? "one of " : "", choices);
		return;
	}
	if (run_unit_convert(1.0, v->unit, lim->unit, &dummy))
		lint_reachable(l, file, lim);
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

/* skip_if by value: the step measures that value, and the thresholds'
 * unit is one it converts to (seq_check_skip_if: it runs before). */
static void lint_skip_value(lint *l, const seq_step *st)
{
	const seq_skip_if *sk = &st->skip_if;
	long j = seq_step_index(l->s, sk->step);
	const run_op *rop = j >= 0 ? run_find_op(seq_step_at(l->s, (size_t)j)->op) : NULL;
	const run_value *rv = rop ? run_op_value(rop, sk->value, NULL) : NULL;
	double dummy;

	if (!rop)
		return;
	if (!rv) {
		problem(l, l->s->path, sk->loc, "skip_if: step '%s' measures no value%s%s%s",
			sk->step, sk->value ? " '" : "", sk->value ? sk->value : "",
			sk->value ? "'" : run_op_n_values(rop) > 1 ? " of its own (name one: step/value)" : "");
		return;
	}
	if (!run_unit_convert(1.0, rv->unit, sk->unit, &dummy) ||
	    (!sk->unit[0] && rv->unit[0]))
		problem(l, l->s->path, sk->unit_loc,
			"skip_if: step '%s' measures %s, which cannot be compared in %s (unit: %s%s)",
			sk->step, rv->unit[0] ? rv->unit : "a count",
			sk->unit[0] ? sk->unit : "count",
			strchr(run_unit_choices(rv->unit), ',') ? "one of " : "",
			run_unit_choices(rv->unit));
}

static void lint_step(lint *l, const seq_step *st, size_t idx)
{
	const seq_sequence *s = l->s;
	const run_op *op = run_find_op(st->op);
	size_t i;

	if (!st->op || !st->name)
		return;  /* a step the loader could not read: reported there */
	if (!op) {
		int klass = 0;
		char names[256];

		/* The role's class, when the sequence's other steps fix it:
		 * then what that class can do is the useful list. */
		for (i = 0; st->role && i < l->n_roles; i++)
			if (strcmp(l->roles[i].name, st->role) == 0)
				klass = l->roles[i].klass;
		if (st->role && klass > 0)
			problem(l, s->path, st->loc,
				"unknown operation '%s.%s' (role '%s' is a %s: %s)",
				st->role, st->op, st->role, drv_class_name(klass),
				run_op_names_of(klass, names, sizeof(names)));
		else if (st->role)
			problem(l, s->path, st->loc,
				"unknown operation '%s.%s' (operations: %s)",
				st->role, st->op, run_op_names());
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
	if (st->role && strcmp(st->role, "prober") == 0 &&
	    op->klass != DRV_CLASS_PROBER)
		problem(l, s->path, st->loc,
			"the prober is driven by the wafer process, not by steps");
	if (op->unit_only && s->process != SEQ_PROCESS_UNIT)
		problem(l, s->path, st->loc,
			"'%s' needs an operator: only in the unit process", op->name);
	if (st->n_sweep > RUN_MAX_SWEEP)
		problem(l, s->path, st->loc, "step '%s' sweeps %zu variables, at most %d",
			st->name, st->n_sweep, RUN_MAX_SWEEP);
	for (i = 0; i < st->n_sweep && i < RUN_MAX_SWEEP; i++) {
		const seq_sweep_var *var = &st->sweep[i];
		const run_range *r;

		if (!var->name)
			continue;
		if (!in_list(op->sweep_vars, RUN_MAX_SWEEP, var->name)) {
			problem(l, s->path, var->loc,
				"operation '%s' has no sweep variable '%s'", op->name,
				var->name);
			continue;
		}
		r = run_op_range(op, var->name);
		for (size_t j = 0; r && j < var->n_values; j++) {
			char text[32];

			/* A range reports once, at itself. */
			if (j > 0 && var->value_locs[j].line == var->value_locs[j - 1].line &&
			    var->value_locs[j].column == var->value_locs[j - 1].column &&
			    (var->values[j - 1] < r->lo || var->values[j - 1] > r->hi))
				continue;
			snprintf(text, sizeof(text), "%g", var->values[j]);
			lint_range(l, s->path, var->value_locs[j], r, text, var->values[j]);
		}
	}
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
	if (seq_step_param(st, "reference_match") &&
	    !seq_step_param(st, "reference_step"))
		problem(l, s->path, seq_step_param(st, "reference_match")->loc,
			"reference_match needs reference_step");
	for (i = 0; i < RUN_MAX_PARAMS && op->params[i].name; i++)
		if (op->params[i].type == RUN_P_PM_ROLE &&
		    !seq_step_param(st, op->params[i].name))
			problem(l, s->path, st->loc, "step '%s' needs param %s (the "
				"power meter's role)", st->name, op->params[i].name);
	if (run_op_derive(op) && op->sweep_vars[0] && st->n_sweep == 0)
		problem(l, s->path, st->loc, "step '%s' needs sweep %s: its derived "
			"values come from the sweep", st->name, op->sweep_vars[0]);
	if (op->kind == RUN_KIND_PROMPT && !seq_step_param(st, "text"))
		problem(l, s->path, st->loc, "step '%s' needs param text", st->name);
	if (strcmp(op->name, "wait") == 0 && !seq_step_param(st, "seconds"))
		problem(l, s->path, st->loc, "step '%s' needs param seconds", st->name);
	if (st->skip_if.when == SEQ_SKIP_IF_VALUE && st->skip_if.step)
		lint_skip_value(l, st);
	if (st->has_limits)
		lint_limits(l, st, op, &st->limits);
	for (i = 0; i < st->n_vlimits; i++)
		lint_limits(l, st, op, &st->vlimits[i]);
}



static void lint_station(lint *l, const cfg_station *c, const run_need *roles,
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
		/* Only a class to confirm is worth running a plugin's code
		 * for; name, file, owner and permissions need no dlopen. */
		if (roles[i].klass == 0) {
			if (run_locate_driver(c, inst, &e) != KGD_OK)
				diag_msg(&l->dg, e.status ? e.status : KGD_ERR_ABI,
					 e.msg);
			continue;
		}
		if (run_load_driver(c, inst, roles[i].klass, &p, &e) != KGD_OK) {
			diag_msg(&l->dg, e.status ? e.status : KGD_ERR_ABI, e.msg);
			continue;
		}
		drv_plugin_unload(p);
	}
}

/* Roles: at most RUN_MAX_ROLES, each of one class, the prober in roles:
 * of a wafer sequence. */
static void lint_roles(lint *l, const run_need *roles, size_t n)
{
	const seq_sequence *s = l->s;
	size_t i;

	if (n > RUN_MAX_ROLES)
		problem(l, s->path, s->n_roles ? s->role_locs[0] : s->main[0].loc,
			"the sequence uses %zu instrument roles, at most %d", n,
			RUN_MAX_ROLES);
	for (i = 0; i < seq_n_steps(s); i++) {
		const seq_step *st = seq_step_at(s, i);
		const run_op *op = run_find_op(st->op);

		for (size_t k = 0; st->role && op && op->klass > 0 &&
				   k < n && k < RUN_MAX_ROLES; k++)
			if (strcmp(roles[k].name, st->role) == 0 && roles[k].klass &&
			    roles[k].klass != op->klass)
				problem(l, s->path, st->loc,
					"step '%s' needs role '%s' to be a %s, but %s needs a %s",
					st->name, st->role, drv_class_name(op->klass),
					roles[k].why, drv_class_name(roles[k].klass));
	}
	if (s->process == SEQ_PROCESS_WAFER && s->roles) {
		for (i = 0; i < s->n_roles; i++)
			if (strcmp(s->roles[i], "prober") == 0)
				break;
		if (i == s->n_roles)
			problem(l, s->path, s->role_locs[0],
				"the wafer process needs role 'prober' in roles");
	}
}

/* A branch's name; "?" for one the loader could not read (reported). */
static const char *branch_name(const seq_block *b, int branch)
{
	return b->branch_names && b->branch_names[branch]
		? b->branch_names[branch] : "?";
}

/* A step of a parallel block that names another step (skip_if,
 * reference_step) must not name one of a sibling branch: when it runs,
 * the other branch has not necessarily got there. */
static void lint_crossing(lint *l, const seq_step *st, const char *what,
			  const char *ref, seq_loc loc)
{
	const seq_sequence *s = l->s;
	char name[128];
	const seq_step *o;
	long j;

	snprintf(name, sizeof(name), "%s", ref);
	if (strchr(name, '/'))
		*strchr(name, '/') = '\0';
	j = seq_step_index(s, name);
	if (j < 0)
		return;
	o = seq_step_at(s, (size_t)j);
	if (o->block == st->block && o->branch != st->branch)
		problem(l, s->path, loc,
			"%s '%.60s' is in branch '%s', another branch of this "
			"parallel block: branches run side by side", what, name,
			branch_name(&s->blocks[st->block - 1], o->branch));
}

/* Branches run side by side, so each needs instruments of its own, and
 * nothing in one may wait on the other or on an operator. */
static void lint_block(lint *l, const seq_block *b)
{
	const seq_sequence *s = l->s;

	for (size_t i = b->first; i < b->first + b->n; i++) {
		const seq_step *st = seq_step_at(s, i);
		const run_op *op = run_find_op(st->op);
		const seq_param *ref = seq_step_param(st, "reference_step");

		if (op && op->unit_only)
			problem(l, s->path, st->loc,
				"'%s' cannot run in a parallel branch: it waits for "
				"the operator", op->name);
		for (size_t j = b->first; st->role && j < i; j++) {
			const seq_step *o = seq_step_at(s, j);

			if (o->branch != st->branch && o->role &&
			    strcmp(o->role, st->role) == 0) {
				problem(l, s->path, st->loc,
					"role '%s' is used by branches '%s' and '%s' of one "
					"parallel block: each branch needs instruments of "
					"its own", st->role, branch_name(b, o->branch),
					branch_name(b, st->branch));
				break;
			}
		}
		if (st->skip_if.step)
			lint_crossing(l, st, "skip_if names step", st->skip_if.step,
				      st->skip_if.loc);
		if (ref)
			lint_crossing(l, st, "reference_step", ref->value, ref->loc);
	}
}

int run_lint(const seq_sequence *s, const cfg_station *c,
	     void (*report)(void *user, const char *msg), void *user,
	     kgd_err *err)
{
	lint l = {.s = s};
	run_need roles[RUN_MAX_ROLES];
	size_t n, i;

	diag_init(&l.dg, report, user, err);
	n = run_collect_roles(s, roles);
	l.n_roles = n < RUN_MAX_ROLES ? n : RUN_MAX_ROLES;
	for (i = 0; i < l.n_roles; i++)
		l.roles[i] = roles[i];
	for (i = 0; i < seq_n_steps(s); i++)
		lint_step(&l, seq_step_at(s, i), i);
	for (i = 0; i < s->n_blocks; i++)
		lint_block(&l, &s->blocks[i]);
	lint_roles(&l, roles, n);
	if (c)
		lint_station(&l, c, roles, n < RUN_MAX_ROLES ? n : RUN_MAX_ROLES);
	return l.dg.status;
}

int run_validate(const seq_sequence *s, const cfg_station *c, kgd_err *err)
{
	return run_lint(s, c, NULL, NULL, err);
}
