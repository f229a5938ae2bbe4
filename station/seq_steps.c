/*
 * station/seq_steps.c - the steps of a sequence file: step ids, sweeps,
 * params, skip_if, on_fail, retry, and main's parallel blocks (format:
 * seq.h and docs/SEQUENCES.md). Part of the sequence loader (seq_int.h).
 *
 * Invariant: steps are kept flat, setup then main then cleanup, in file
 * order; a parallel block is a contiguous run of them (seq_block) whose
 * steps carry their block and branch, so every consumer indexes steps the
 * same way (seq_step_at) whatever their grouping.
 */
#include "seq_int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_RETRY_MAX 10
/* A range expands into memory; "1..100000000" is a typo, not a sweep. */
#define SEQ_RANGE_MAX 65536

static const char *const step_keys[] = {
	"step", "name", "sweep", "zip", "params", "limits", "on_fail", "retry",
	"skip_if", NULL
};
static const char *const skip_keys[] = {
	"failed", "passed", "step", "value", "above", "below", "unit", NULL
};
static const char *const fail_keys[] = { "bin", "continue", NULL };

/* ---- steps --------------------------------------------------------------- */

static void parse_step_id(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	char *id = yu_string(d, n, "step");
	char *dot;

	if (!id)
		return;
	dot = strchr(id, '.');
	if (!dot && yu_is_name(id)) {
		/* A built-in step ("wait", "prompt"): no instrument role. Whether
		 * the operation exists is the sequencer's call (run_lint). */
		st->op = id;
		return;
	}
	if (dot)
		*dot = '\0';
	if (!dot || !yu_is_name(id) || !yu_is_name(dot + 1)) {
		if (dot)
			*dot = '.';
		yu_problem(d, n->start_mark,
			   "bad step '%.60s': expected <role>.<operation> or <operation>, each of [a-z0-9_]+",
			   id);
		free(id);
		return;
	}
	st->role = id;  /* cut at the dot: "pm" */
	st->op = yu_strdup(d, dot + 1);
}

static int parse_range(yu_doc *d, const yaml_node_t *n, const char *text,
		       seq_sweep_var *var)
{
	char left[32];
	const char *dots = strstr(text, "..");
	size_t llen = (size_t)(dots - text);
	long a, b, i;

	if (llen >= sizeof(left))
		goto bad;
	memcpy(left, text, llen);
	left[llen] = '\0';
	if (yu_parse_int(left, &a) != 0 || yu_parse_int(dots + 2, &b) != 0)
		goto bad;
	if (a > b) {
		yu_problem(d, n->start_mark, "bad range '%s': start is greater than end",
			   text);
		return -1;
	}
	if (b - a >= SEQ_RANGE_MAX) {
		yu_problem(d, n->start_mark, "bad range '%s': more than %d values",
			   text, SEQ_RANGE_MAX);
		return -1;
	}
	var->values = yu_calloc(d, (size_t)(b - a + 1), sizeof(double));
	var->value_locs = yu_calloc(d, (size_t)(b - a + 1), sizeof(seq_loc));
	if (!var->values || !var->value_locs)
		return -1;
	for (i = a; i <= b; i++) {
		var->value_locs[var->n_values] = seq_loc_of(n);
		var->values[var->n_values++] = (double)i;
	}
	return 0;
bad:
	yu_problem(d, n->start_mark,
		   "bad range '%.60s': expected <integer>..<integer>", text);
	return -1;
}

static void parse_sweep_var(yu_doc *d, const yaml_node_t *key,
			    const yaml_node_t *val, seq_sweep_var *var)
{
	const yaml_node_item_t *item;
	char what[96];
	const char *text;
	size_t n;

	var->loc = seq_loc_of(key);
	var->name = yu_strdup(d, (const char *)key->data.scalar.value);
	if (!var->name)
		return;
	if (!yu_is_name(var->name)) {
		yu_problem(d, key->start_mark,
			   "bad sweep variable '%.60s': expected [a-z0-9_]+", var->name);
		return;
	}
	snprintf(what, sizeof(what), "sweep %s", var->name);

	if (val->type == YAML_SEQUENCE_NODE) {
		n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
		if (n == 0) {
			yu_problem(d, val->start_mark, "%s has no values", what);
			return;
		}
		var->values = yu_calloc(d, n, sizeof(double));
		var->value_locs = yu_calloc(d, n, sizeof(seq_loc));
		if (!var->values || !var->value_locs)
			return;
		snprintf(what, sizeof(what), "sweep %s value", var->name);
		for (item = val->data.sequence.items.start;
		     item < val->data.sequence.items.top; item++) {
			var->value_locs[var->n_values] = seq_loc_of(yu_node(d, *item));
			if (yu_double(d, yu_node(d, *item), what,
				      &var->values[var->n_values]) == 0)
				var->n_values++;
		}
		return;
	}
	if (val->type == YAML_SCALAR_NODE && !yu_is_null(val)) {
		text = (const char *)val->data.scalar.value;
		if (strstr(text, "..")) {
			parse_range(d, val, text, var);
			return;
		}
		var->values = yu_calloc(d, 1, sizeof(double));
		var->value_locs = yu_calloc(d, 1, sizeof(seq_loc));
		if (var->values && var->value_locs &&
		    yu_double(d, val, what, var->values) == 0) {
			var->value_locs[0] = seq_loc_of(val);
			var->n_values = 1;
		}
		return;
	}
	yu_problem(d, val->start_mark,
		   "%s must be a range a..b, a list of numbers or a number", what);
}

static size_t map_len(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE
		? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
		: 0;
}

/* sweep: (zip = 0) or zip: (zip = 1) into st->sweep, after what is there.
 * The step's zip variables are parsed first, so they lead st->sweep: the
 * zip group is the slowest digit of the odometer (step.c). */
static void parse_sweep(yu_doc *d, const yaml_node_t *n, seq_step *st, int zip)
{
	const char *what = zip ? "zip" : "sweep";
	const yaml_node_pair_t *pair;
	size_t first = st->n_sweep;

	if (yu_expect(d, n, YAML_MAPPING_NODE, what) != 0)
		return;
	yu_check_keys(d, n, what, NULL);  /* repeated variable names */
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yu_node(d, pair->key);
		seq_sweep_var *var;

		if (k->type != YAML_SCALAR_NODE)  /* already reported */
			continue;
		for (size_t i = 0; i < first; i++)
			if (st->sweep[i].name &&
			    strcmp(st->sweep[i].name, (const char *)k->data.scalar.value) == 0) {
				yu_problem(d, k->start_mark,
					   "sweep variable '%.60s' is in both zip and sweep",
					   st->sweep[i].name);
				goto next;
			}
		var = &st->sweep[st->n_sweep++];
		var->zip = zip;
		parse_sweep_var(d, k, yu_node(d, pair->value), var);
next:;
	}
	if (!zip)
		return;
	/* Paired element by element: every variable takes as many values. */
	if (st->n_sweep - first < 2) {
		yu_problem(d, n->start_mark,
			   "zip pairs two or more variables (one variable: use sweep)");
		return;
	}
	for (size_t i = first + 1; i < st->n_sweep; i++)
		if (st->sweep[i].name && st->sweep[i].values &&
		    st->sweep[first].values &&
		    st->sweep[i].n_values != st->sweep[first].n_values)
			yu_problem(d, seq_mark_of(st->sweep[i].loc),
				   "zip: %s takes %zu values but %s takes %zu: zipped variables pair element by element",
				   st->sweep[i].name, st->sweep[i].n_values,
				   st->sweep[first].name, st->sweep[first].n_values);
}

static void parse_params(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	const yaml_node_pair_t *pair;
	yaml_node_t *k, *v;
	seq_param *p;
	char what[96];

	if (yu_expect(d, n, YAML_MAPPING_NODE, "params") != 0)
		return;
	yu_check_keys(d, n, "params", NULL);  /* repeated keys */
	st->params = yu_calloc(d, (size_t)(n->data.mapping.pairs.top -
					   n->data.mapping.pairs.start),
			       sizeof(*st->params));
	if (!st->params)
		return;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		k = yu_node(d, pair->key);
		v = yu_node(d, pair->value);
		if (k->type != YAML_SCALAR_NODE)
			continue;  /* already reported */
		snprintf(what, sizeof(what), "param %.60s", k->data.scalar.value);
		/* Flat on purpose: a driver operation takes scalars. */
		if (yu_expect(d, v, YAML_SCALAR_NODE, what) != 0)
			continue;
		p = &st->params[st->n_params++];
		p->key = yu_strdup(d, (const char *)k->data.scalar.value);
		p->value = yu_strdup(d, (const char *)v->data.scalar.value);
		p->loc = seq_loc_of(k);
	}
}

/* skip_if: {step: S[/VALUE], value: max|min|mean|last, above: X, below: Y,
 * unit: U}: skip when what S measured crosses a threshold. */
static void parse_skip_value(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	static const char *const aggs[] = { "max", "min", "mean", "last", NULL };
	seq_skip_if *sk = &st->skip_if;
	yaml_node_t *v = yu_get(d, n, "step");
	char *slash;

	sk->when = SEQ_SKIP_IF_VALUE;
	sk->step = yu_string(d, v, "skip_if step");
	sk->loc = seq_loc_of(v);
	if (sk->step && (slash = strchr(sk->step, '/'))) {
		*slash = '\0';
		sk->value = yu_strdup(d, slash + 1);
	}
	if ((v = yu_require(d, n, "value")) &&
	    yu_expect(d, v, YAML_SCALAR_NODE, "skip_if value") == 0) {
		for (int i = 0; aggs[i]; i++)
			if (strcmp((const char *)v->data.scalar.value, aggs[i]) == 0)
				sk->agg = (seq_skip_agg)(i + 1);
		if (!sk->agg)
			yu_problem(d, v->start_mark,
				   "skip_if value must be max, min, mean or last, not '%.60s'",
				   v->data.scalar.value);
	}
	if ((v = yu_get(d, n, "above")))
		sk->has_above = yu_double(d, v, "skip_if above", &sk->above) == 0;
	if ((v = yu_get(d, n, "below")))
		sk->has_below = yu_double(d, v, "skip_if below", &sk->below) == 0;
	if (!yu_get(d, n, "above") && !yu_get(d, n, "below"))
		yu_problem(d, n->start_mark, "skip_if by value needs 'above', 'below' or both");
	if ((v = yu_require(d, n, "unit"))) {
		char *u = yu_string(d, v, "skip_if unit");

		sk->unit_loc = seq_loc_of(v);
		if (u)
			snprintf(sk->unit, sizeof(sk->unit), "%s", strcmp(u, "count") == 0 ? "" : u);
		free(u);
	}
}

static void parse_skip_if(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	yaml_node_t *f, *p, *v;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "skip_if") != 0)
		return;
	yu_check_keys(d, n, "skip_if", skip_keys);
	f = yu_get(d, n, "failed");
	p = yu_get(d, n, "passed");
	if (yu_get(d, n, "step") && !f && !p) {
		parse_skip_value(d, n, st);
		return;
	}
	if ((f != NULL) == (p != NULL) || yu_get(d, n, "step")) {
		yu_problem(d, n->start_mark,
			   "skip_if needs exactly one of 'failed', 'passed' or 'step' (with value and above/below)");
		return;
	}
	v = f ? f : p;
	st->skip_if.when = f ? SEQ_SKIP_IF_FAILED : SEQ_SKIP_IF_PASSED;
	st->skip_if.step = yu_string(d, v, "skip_if step");
	st->skip_if.loc = seq_loc_of(v);
}

static void parse_on_fail(yu_doc *d, const yaml_node_t *n,
			  const seq_sequence *s, seq_step *st)
{
	const seq_bin *b;
	yaml_node_t *v;
	long bin;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "on_fail") != 0)
		return;
	yu_check_keys(d, n, "on_fail", fail_keys);
	if ((v = yu_get(d, n, "bin")) &&
	    yu_int(d, v, "on_fail bin", 1, SEQ_BIN_MAX, &bin) == 0) {
		b = seq_find_bin(s, bin);
		if (!b)
			yu_problem(d, v->start_mark, "on_fail bin %ld is not in bins", bin);
		else if (b->pass)
			yu_problem(d, v->start_mark, "on_fail bin %ld is a pass bin", bin);
		else
			st->fail_bin = (int)bin;
	}
	if ((v = yu_get(d, n, "continue")))
		yu_bool(d, v, "on_fail continue", &st->fail_continue);
}

static void parse_step(yu_doc *d, const yaml_node_t *n, const seq_sequence *s,
		       seq_step *st)
{
	yaml_node_t *v;
	long retry;
	size_t len;

	st->loc = seq_loc_of(n);
	if (yu_expect(d, n, YAML_MAPPING_NODE, "a step") != 0)
		return;
	yu_check_keys(d, n, "step", step_keys);
	if ((v = yu_require(d, n, "step")))
		parse_step_id(d, v, st);
	if ((v = yu_get(d, n, "name"))) {
		st->name = yu_string(d, v, "step name");
	} else if (st->role && st->op) {
		len = strlen(st->role) + strlen(st->op) + 2;
		st->name = yu_calloc(d, len, 1);
		if (st->name)
			snprintf(st->name, len, "%s.%s", st->role, st->op);
	} else if (st->op) {
		st->name = yu_strdup(d, st->op);
	}
	/* zip first: its variables lead st->sweep (parse_sweep). */
	st->sweep = yu_calloc(d, map_len(yu_get(d, n, "sweep")) +
			      map_len(yu_get(d, n, "zip")) + 1, sizeof(*st->sweep));
	if ((v = yu_get(d, n, "zip")))
		parse_sweep(d, v, st, 1);
	if ((v = yu_get(d, n, "sweep")))
		parse_sweep(d, v, st, 0);
	if ((v = yu_get(d, n, "params")))
		parse_params(d, v, st);
	if ((v = yu_get(d, n, "limits")))
		seq_parse_limits(d, v, st);
	if ((v = yu_get(d, n, "on_fail")))
		parse_on_fail(d, v, s, st);
	if ((v = yu_get(d, n, "retry")) &&
	    yu_int(d, v, "retry", 0, SEQ_RETRY_MAX, &retry) == 0)
		st->retry = (int)retry;
	if ((v = yu_get(d, n, "skip_if")))
		parse_skip_if(d, v, st);
}

/* An item of a step list that is a parallel block: a map whose only key
 * is `parallel`. */
static const yaml_node_t *parallel_of(yu_doc *d, const yaml_node_t *item)
{
	if (!item || item->type != YAML_MAPPING_NODE)
		return NULL;
	return yu_get(d, item, "parallel");
}

/* Steps an item stands for: 1, or every step of a parallel block's
 * branches (bad branches count 0; they are reported when parsed). */
static size_t item_steps(yu_doc *d, const yaml_node_t *item)
{
	const yaml_node_t *par = parallel_of(d, item);
	const yaml_node_pair_t *p;
	size_t n = 0;

	if (!par)
		return 1;
	if (par->type != YAML_MAPPING_NODE)
		return 0;
	for (p = par->data.mapping.pairs.start; p < par->data.mapping.pairs.top; p++) {
		const yaml_node_t *list = yu_node(d, p->value);

		if (list && list->type == YAML_SEQUENCE_NODE)
			n += (size_t)(list->data.sequence.items.top -
				      list->data.sequence.items.start);
	}
	return n;
}

/* A parallel block: each key of the map names a branch, its value is
 * that branch's step list. Its steps go to steps[*at...] in file order,
 * branch after branch; the block is added to s->blocks. */
static void parse_block(yu_doc *d, const yaml_node_t *item, seq_sequence *s,
			seq_step *steps, size_t *at, size_t base)
{
	static const char *const block_keys[] = { "parallel", NULL };
	const yaml_node_t *par = parallel_of(d, item);
	const yaml_node_pair_t *p;
	seq_block *grown, *b;
	size_t nb;

	yu_check_keys(d, item, "parallel block", block_keys);
	if (yu_expect(d, par, YAML_MAPPING_NODE, "parallel (a map of branches)") != 0)
		return;
	nb = (size_t)(par->data.mapping.pairs.top - par->data.mapping.pairs.start);
	if (nb < 2) {
		yu_problem(d, par->start_mark,
			   "a parallel block needs at least two branches");
		if (nb == 0)
			return;
	}
	grown = realloc(s->blocks, (s->n_blocks + 1) * sizeof(*grown));
	if (!grown) {
		yu_problem(d, par->start_mark, "out of memory");
		return;
	}
	s->blocks = grown;
	b = &s->blocks[s->n_blocks++];
	memset(b, 0, sizeof(*b));
	b->loc = seq_loc_of(item);
	b->first = base + *at;
	b->branch_names = yu_calloc(d, nb, sizeof(*b->branch_names));
	b->branch_locs = yu_calloc(d, nb, sizeof(*b->branch_locs));
	if (!b->branch_names || !b->branch_locs)
		return;
	for (p = par->data.mapping.pairs.start; p < par->data.mapping.pairs.top; p++) {
		const yaml_node_t *key = yu_node(d, p->key);
		const yaml_node_t *list = yu_node(d, p->value);
		const yaml_node_item_t *it;
		size_t br = b->n_branches++;

		b->branch_names[br] = yu_string(d, key, "branch name");
		b->branch_locs[br] = seq_loc_of(key);
		if (yu_is_null(list) || (list->type == YAML_SEQUENCE_NODE &&
					 list->data.sequence.items.top ==
					 list->data.sequence.items.start)) {
			yu_problem(d, key->start_mark, "branch '%.60s' has no steps",
				   b->branch_names[br] ? b->branch_names[br] : "?");
			continue;
		}
		if (yu_expect(d, list, YAML_SEQUENCE_NODE, "a branch (a list of steps)") != 0)
			continue;
		for (it = list->data.sequence.items.start;
		     it < list->data.sequence.items.top; it++) {
			const yaml_node_t *n = yu_node(d, *it);
			seq_step *st = &steps[(*at)++];

			if (parallel_of(d, n)) {
				yu_problem(d, n->start_mark,
					   "a parallel block cannot be nested in a branch "
					   "of another");
				st->loc = seq_loc_of(n);
			} else {
				parse_step(d, n, s, st);
			}
			st->block = (int)s->n_blocks;
			st->branch = (int)br;
		}
	}
	b->n = base + *at - b->first;
}

/* A step list. Only main may hold parallel blocks: setup brings the
 * station to a known state and cleanup must run whatever happened, both
 * best kept simple and in order. base: index of the list's first step in
 * seq_step_at() order. */
void seq_parse_steps(yu_doc *d, const yaml_node_t *root, const char *key,
			int required, seq_sequence *s, size_t base,
			seq_step **steps, size_t *n_steps)
{
	const yaml_node_item_t *item;
	yaml_node_t *n;
	size_t count = 0, at = 0;

	n = required ? yu_require(d, root, key) : yu_get(d, root, key);
	if (!n)
		return;
	/* "main:" with nothing after it is an empty list, not a type error. */
	if (!yu_is_null(n)) {
		if (yu_expect(d, n, YAML_SEQUENCE_NODE, key) != 0)
			return;
		for (item = n->data.sequence.items.start;
		     item < n->data.sequence.items.top; item++)
			count += item_steps(d, yu_node(d, *item));
	}
	if (count == 0) {
		if (required)
			yu_problem(d, n->start_mark, "%s has no steps", key);
		return;
	}
	*steps = yu_calloc(d, count, sizeof(**steps));
	if (!*steps)
		return;
	*n_steps = count;
	for (item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		const yaml_node_t *it = yu_node(d, *item);

		if (parallel_of(d, it) && strcmp(key, "main") != 0) {
			yu_problem(d, it->start_mark,
				   "parallel blocks are allowed in main only, not in %s",
				   key);
			*n_steps = at;
			return;
		}
		if (parallel_of(d, it))
			parse_block(d, it, s, *steps, &at, base);
		else
			parse_step(d, it, s, &(*steps)[at++]);
	}
}

/* Results are keyed by step name, so two steps may not share one - not even
 * two unnamed steps defaulting to the same "<role>.<op>". */
void seq_check_step_names(yu_doc *d, const seq_sequence *s)
{
	size_t n = s->n_setup + s->n_main + s->n_cleanup, i, j;
	const seq_step *a, *b;
	yaml_mark_t m = { 0, 0, 0 };

	for (i = 0; i < n; i++) {
		a = seq_step_at(s, i);
		for (j = 0; a->name && j < i; j++) {
			b = seq_step_at(s, j);
			if (b->name && strcmp(a->name, b->name) == 0) {
				m = seq_mark_of(a->loc);
				yu_problem(d, m, "duplicate step name '%.60s' (first at %d:%d)",
					   a->name, b->loc.line, b->loc.column);
				break;
			}
		}
	}
}


/* skip_if names an earlier step: the outcome it tests is known by then. */
void seq_check_skip_if(yu_doc *d, const seq_sequence *s)
{
	size_t n = seq_n_steps(s), i;
	long j;

	for (i = 0; i < n; i++) {
		const seq_step *st = seq_step_at(s, i);

		if (!st->skip_if.step)
			continue;
		j = seq_step_index(s, st->skip_if.step);
		if (j < 0)
			yu_problem(d, seq_mark_of(st->skip_if.loc),
				   "skip_if names unknown step '%.60s'", st->skip_if.step);
		else if ((size_t)j >= i)
			yu_problem(d, seq_mark_of(st->skip_if.loc),
				   "skip_if names step '%.60s', which does not run before this one",
				   st->skip_if.step);
	}
}

void seq_free_steps(seq_step *steps, size_t n)
{
	size_t i, j;

	for (i = 0; steps && i < n; i++) {
		seq_step *st = &steps[i];

		free(st->role);
		free(st->op);
		free(st->name);
		for (j = 0; j < st->n_sweep; j++) {
			free(st->sweep[j].name);
			free(st->sweep[j].values);
			free(st->sweep[j].value_locs);
		}
		free(st->sweep);
		for (j = 0; j < st->n_params; j++) {
			free(st->params[j].key);
			free(st->params[j].value);
		}
		free(st->params);
		seq_free_limits(&st->limits);
		for (j = 0; j < st->n_vlimits; j++)
			seq_free_limits(&st->vlimits[j]);
		free(st->vlimits);
		free(st->skip_if.step);
		free(st->skip_if.value);
	}
	free(steps);
}

