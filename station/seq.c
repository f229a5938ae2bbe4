/*
 * station/seq.c - load and check a sequence file (format: seq.h and
 * docs/SEQUENCES.md).
 *
 * Invariant: a seq_sequence handed out is entirely valid - every key known,
 * every step "<role>.<op>", every step name unique, every on_fail bin present
 * in the bin table and not a pass bin, at least one pass bin, every sweep
 * expanded to its values - and s->sha256 is the digest of exactly the bytes
 * that were parsed (s->text), because both come from one buffer read once.
 *
 * One walker serves both entry points: it records every problem and keeps
 * going; seq_load returns the first, seq_check reports them all.
 */
#include "seq.h"
#include "diag.h"
#include "yaml_util.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define SEQ_RETRY_MAX 10
#define SEQ_BIN_MAX 9999
/* A range expands into memory; "1..100000000" is a typo, not a sweep. */
#define SEQ_RANGE_MAX 65536

static const char *const root_keys[] = {
	"sequence", "version", "product", "process", "roles", "setup", "main",
	"cleanup", "bins", "hard_bins", NULL
};
static const char *const step_keys[] = {
	"step", "name", "sweep", "params", "limits", "on_fail", "retry",
	"skip_if", NULL
};
static const char *const limit_keys[] = {
	"low", "high", "unit", "inclusive", "per", NULL
};
static const char *const skip_keys[] = { "failed", "passed", NULL };
static const char *const limset_keys[] = {
	"limits", "sequence", "product", "steps", NULL
};
static const char *const fail_keys[] = { "bin", "continue", NULL };
static const char *const bin_keys[] = { "name", "pass", "hard", NULL };
static const char *const hard_bin_keys[] = { "name", "pass", NULL };
/* Limits are stored with their unit; a unit outside this list is most
 * likely a typo ("dbm") that would make results incomparable. */
static const char *const units[] = {
	"dBm", "dB", "W", "mW", "uW", "nW", "nm", "A", "mA", "V", "C", "ratio",
	"s", "", NULL
};

static seq_loc loc_of(const yaml_node_t *n)
{
	seq_loc loc = { (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };

	return loc;
}

static const seq_bin *find_in(const seq_bin *bins, size_t n, long number)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bins[i].number == number)
			return &bins[i];
	return NULL;
}

static const seq_bin *find_bin(const seq_sequence *s, long number)
{
	return find_in(s->bins, s->n_bins, number);
}

/* ---- bins ---------------------------------------------------------------- */

/* One entry of bins: (hard = 0) or hard_bins: (hard = 1). */
static void parse_bin(yu_doc *d, const yaml_node_t *key, const yaml_node_t *val,
		      seq_sequence *s, int hard)
{
	seq_bin *table = hard ? s->hard_bins : s->bins;
	size_t *n = hard ? &s->n_hard_bins : &s->n_bins;
	const seq_bin *dup, *hb;
	yaml_node_t *v;
	seq_bin *b;
	long number;

	if (yu_int(d, key, "bin number", 1, SEQ_BIN_MAX, &number) != 0)
		return;
	dup = find_in(table, *n, number);
	if (dup) {
		/* Compared as numbers: "5" and "05" are the same bin. */
		yu_problem(d, key->start_mark, "duplicate bin %ld (first at %d:%d)",
			   number, dup->loc.line, dup->loc.column);
		return;
	}
	b = &table[(*n)++];
	b->number = (int)number;
	b->hard = (int)number;
	b->loc = loc_of(key);
	if (yu_expect(d, val, YAML_MAPPING_NODE, "a bin") != 0)
		return;
	yu_check_keys(d, val, "bin", hard ? hard_bin_keys : bin_keys);
	if ((v = yu_require(d, val, "name")))
		b->name = yu_string(d, v, "bin name");
	if ((v = yu_get(d, val, "pass")))
		yu_bool(d, v, "pass", &b->pass);
	if (hard)
		return;
	v = yu_get(d, val, "hard");
	if (!v) {
		if (s->hard_bins)
			yu_problem(d, val->start_mark,
				   "bin %ld needs 'hard' (the file has a hard_bins table)",
				   number);
		return;
	}
	if (yu_int(d, v, "hard bin", 1, SEQ_BIN_MAX, &number) != 0)
		return;
	hb = s->hard_bins ? find_in(s->hard_bins, s->n_hard_bins, number) : NULL;
	if (!hb)
		yu_problem(d, v->start_mark, "hard bin %ld is not in hard_bins", number);
	else if (hb->pass != b->pass)
		/* A passing part must land in a passing hard bin and vice versa,
		 * or the prober map and the yield disagree. */
		yu_problem(d, v->start_mark, "hard bin %ld is %sa pass bin but soft bin %d is %s",
			   number, hb->pass ? "" : "not ", b->number,
			   b->pass ? "pass" : "not pass");
	else
		b->hard = (int)number;
}

static void parse_bin_table(yu_doc *d, const yaml_node_t *n, seq_sequence *s,
			    int hard)
{
	const yaml_node_pair_t *pair;
	seq_bin *table;
	size_t i, n_pass = 0;

	if (yu_expect(d, n, YAML_MAPPING_NODE, hard ? "hard_bins" : "bins") != 0)
		return;
	/* No yu_check_keys: parse_bin compares numbers, which also catches
	 * "5" repeated as "05". */
	table = yu_calloc(d, (size_t)(n->data.mapping.pairs.top -
				      n->data.mapping.pairs.start) + 1,
			  sizeof(*table));
	if (!table)
		return;
	if (hard)
		s->hard_bins = table;
	else
		s->bins = table;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++)
		parse_bin(d, yu_node(d, pair->key), yu_node(d, pair->value), s, hard);
	for (i = 0; i < (hard ? s->n_hard_bins : s->n_bins); i++)
		n_pass += table[i].pass != 0;
	if (n_pass == 0)
		yu_problem(d, n->start_mark, "no bin has pass: true");
}

/* Bins come first so steps can check their on_fail bin against them; hard
 * bins before soft bins, which name them. */
static void parse_bins(yu_doc *d, const yaml_node_t *root, seq_sequence *s)
{
	yaml_node_t *n = yu_get(d, root, "bins");
	yaml_node_t *h = yu_get(d, root, "hard_bins");

	if (h)
		parse_bin_table(d, h, s, 1);
	if (!n) {
		/* No table: every part either passes to bin 1 or fails unbinned. */
		if (h)
			yu_problem(d, h->start_mark, "hard_bins needs a bins table");
		s->bins = yu_calloc(d, 1, sizeof(*s->bins));
		if (!s->bins)
			return;
		s->bins[0].number = 1;
		s->bins[0].hard = 1;
		s->bins[0].name = yu_strdup(d, "PASS");
		s->bins[0].pass = 1;
		s->n_bins = 1;
		return;  /* loc stays 0:0: not written in the file */
	}
	parse_bin_table(d, n, s, 0);
}

static void parse_roles(yu_doc *d, const yaml_node_t *root, seq_sequence *s)
{
	const yaml_node_item_t *item;
	yaml_node_t *n = yu_get(d, root, "roles");
	size_t count, i;

	if (!n || yu_expect(d, n, YAML_SEQUENCE_NODE, "roles") != 0)
		return;
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	s->roles = yu_calloc(d, count + 1, sizeof(*s->roles));
	s->role_locs = yu_calloc(d, count + 1, sizeof(*s->role_locs));
	if (!s->roles || !s->role_locs)
		return;
	for (item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *r = yu_node(d, *item);
		char *name = yu_string(d, r, "role");

		if (!name)
			continue;
		if (!yu_is_name(name)) {
			yu_problem(d, r->start_mark, "bad role '%.60s': expected [a-z0-9_]+",
				   name);
			free(name);
			continue;
		}
		for (i = 0; i < s->n_roles; i++)
			if (strcmp(s->roles[i], name) == 0)
				break;
		if (i < s->n_roles) {
			yu_problem(d, r->start_mark, "duplicate role '%.60s' (first at %d:%d)",
				   name, s->role_locs[i].line, s->role_locs[i].column);
			free(name);
			continue;
		}
		s->role_locs[s->n_roles] = loc_of(r);
		s->roles[s->n_roles++] = name;
	}
	if (s->n_roles == 0 && count == 0)
		yu_problem(d, n->start_mark, "roles is empty");
}

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
	if (!var->values)
		return -1;
	for (i = a; i <= b; i++)
		var->values[var->n_values++] = (double)i;
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

	var->loc = loc_of(key);
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
		if (!var->values)
			return;
		snprintf(what, sizeof(what), "sweep %s value", var->name);
		for (item = val->data.sequence.items.start;
		     item < val->data.sequence.items.top; item++)
			if (yu_double(d, yu_node(d, *item), what,
				      &var->values[var->n_values]) == 0)
				var->n_values++;
		return;
	}
	if (val->type == YAML_SCALAR_NODE && !yu_is_null(val)) {
		text = (const char *)val->data.scalar.value;
		if (strstr(text, "..")) {
			parse_range(d, val, text, var);
			return;
		}
		var->values = yu_calloc(d, 1, sizeof(double));
		if (var->values && yu_double(d, val, what, var->values) == 0)
			var->n_values = 1;
		return;
	}
	yu_problem(d, val->start_mark,
		   "%s must be a range a..b, a list of numbers or a number", what);
}

static void parse_sweep(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	const yaml_node_pair_t *pair;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "sweep") != 0)
		return;
	yu_check_keys(d, n, "sweep", NULL);  /* repeated variable names */
	st->sweep = yu_calloc(d, (size_t)(n->data.mapping.pairs.top -
					  n->data.mapping.pairs.start),
			      sizeof(*st->sweep));
	if (!st->sweep)
		return;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yu_node(d, pair->key);

		if (k->type == YAML_SCALAR_NODE)  /* others already reported */
			parse_sweep_var(d, k, yu_node(d, pair->value),
					&st->sweep[st->n_sweep++]);
	}
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
		p->loc = loc_of(k);
	}
}

static void parse_unit(yu_doc *d, const yaml_node_t *n, seq_limits *lim)
{
	char known[128];
	size_t off = 0;
	const char *u;
	int i;

	if (yu_expect(d, n, YAML_SCALAR_NODE, "unit") != 0)
		return;
	u = yu_is_null(n) ? "" : (const char *)n->data.scalar.value;
	for (i = 0; units[i]; i++) {
		if (strcmp(u, units[i]) == 0) {
			snprintf(lim->unit, sizeof(lim->unit), "%s", u);
			return;
		}
	}
	for (i = 0; units[i + 1] && off < sizeof(known); i++)
		off += (size_t)snprintf(known + off, sizeof(known) - off, "%s, ",
					units[i]);
	yu_problem(d, n->start_mark,
		   "unknown unit '%.60s' (expected one of: %s\"\")", u, known);
}

/* One bound (which: "low" or "high"): a number, or a list of numbers
 * (per-point limits, indexed by `per`). Sets *has; a list goes to *list. */
static void parse_bound(yu_doc *d, const yaml_node_t *n, const char *which,
			int *has, double *scalar, double **list, size_t *n_list,
			seq_loc *list_loc)
{
	const yaml_node_item_t *item;
	char what[32];
	size_t count;
	int ok = 1;

	snprintf(what, sizeof(what), "limits %s", which);
	if (n->type != YAML_SEQUENCE_NODE) {
		*has = yu_double(d, n, what, scalar) == 0;
		return;
	}
	*list_loc = loc_of(n);
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count == 0) {
		yu_problem(d, n->start_mark, "limits %s is an empty list", which);
		return;
	}
	*list = yu_calloc(d, count, sizeof(double));
	if (!*list)
		return;
	snprintf(what, sizeof(what), "limits %s entry", which);
	for (item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++)
		if (yu_double(d, yu_node(d, *item), what, &(*list)[*n_list]) == 0)
			(*n_list)++;
		else
			ok = 0;
	if (!ok) {
		/* Entries shifted: no entry check, no run from it. */
		free(*list);
		*list = NULL;
		*n_list = 0;
		return;
	}
	*has = 1;
}

/* low <= high (and room between exclusive bounds) for every point a list
 * describes; a scalar bound pairs with every entry of a list. Reported at
 * the offending list entry. */
static void check_bounds(yu_doc *d, const yaml_node_t *n, const seq_limits *lim)
{
	const yaml_node_t *low = yu_get(d, n, "low"), *high = yu_get(d, n, "high");
	size_t count = lim->lows ? lim->n_lows : lim->n_highs, i;

	if (!lim->has_low || !lim->has_high)
		return;
	/* Lists of different lengths: run_lint says which one misses entries
	 * of the per variable; compare the points both give. */
	if (lim->lows && lim->highs && lim->n_highs < count)
		count = lim->n_highs;
	for (i = 0; i < count; i++) {
		double lo = lim->lows ? lim->lows[i] : lim->low;
		double hi = lim->highs ? lim->highs[i] : lim->high;
		const yaml_node_t *list = lim->lows ? low : high;
		const yaml_node_t *at = yu_node(d, list->data.sequence.items.start[i]);

		if (lo > hi)
			yu_problem(d, at->start_mark,
				   "limits low %g is greater than high %g (entry %zu)",
				   lo, hi, i + 1);
		else if (lim->exclusive && lo == hi)
			yu_problem(d, at->start_mark,
				   "exclusive limits low %g and high %g leave no passing value (entry %zu)",
				   lo, hi, i + 1);
	}
}

/* One {low, high, unit, inclusive, per} mapping into lim. */
static void parse_limits_map(yu_doc *d, const yaml_node_t *n, seq_limits *lim)
{
	yaml_node_t *v, *per;
	int inclusive = 1;

	lim->loc = loc_of(n);
	if (yu_expect(d, n, YAML_MAPPING_NODE, "limits") != 0)
		return;
	yu_check_keys(d, n, "limits", limit_keys);
	if ((v = yu_get(d, n, "low")))
		parse_bound(d, v, "low", &lim->has_low, &lim->low, &lim->lows,
			    &lim->n_lows, &lim->lows_loc);
	if ((v = yu_get(d, n, "high")))
		parse_bound(d, v, "high", &lim->has_high, &lim->high, &lim->highs,
			    &lim->n_highs, &lim->highs_loc);
	if ((v = yu_get(d, n, "unit")))
		parse_unit(d, v, lim);
	if ((v = yu_get(d, n, "inclusive")) &&
	    yu_bool(d, v, "limits inclusive", &inclusive) == 0)
		lim->exclusive = !inclusive;
	if ((per = yu_get(d, n, "per"))) {
		lim->per_loc = loc_of(per);
		lim->per = yu_string(d, per, "per");
		if (lim->per && !yu_is_name(lim->per))
			yu_problem(d, per->start_mark,
				   "bad per '%.60s': expected a sweep variable name", lim->per);
	}
	if (!per) {
		/* Lists without per: entry i of what? */
		if ((v = yu_get(d, n, "low")) && v->type == YAML_SEQUENCE_NODE)
			yu_problem(d, v->start_mark,
				   "limits low is a list: name the sweep variable it follows with 'per'");
		if ((v = yu_get(d, n, "high")) && v->type == YAML_SEQUENCE_NODE)
			yu_problem(d, v->start_mark,
				   "limits high is a list: name the sweep variable it follows with 'per'");
	} else if (!(v = yu_get(d, n, "low"), v && v->type == YAML_SEQUENCE_NODE) &&
		   !(v = yu_get(d, n, "high"), v && v->type == YAML_SEQUENCE_NODE)) {
		yu_problem(d, per->start_mark, "per needs a list low or high");
	}
	if (!yu_get(d, n, "low") && !yu_get(d, n, "high"))
		yu_problem(d, n->start_mark, "limits need 'low', 'high' or both");
	else if (lim->lows || lim->highs)
		check_bounds(d, n, lim);
	else if (lim->has_low && lim->has_high && lim->low > lim->high)
		yu_problem(d, n->start_mark, "limits low %g is greater than high %g",
			   lim->low, lim->high);
	else if (lim->has_low && lim->has_high && lim->exclusive &&
		 lim->low == lim->high)
		yu_problem(d, n->start_mark,
			   "exclusive limits low %g and high %g leave no passing value",
			   lim->low, lim->high);
}

/* A limits mapping whose keys are none of low/high/unit/inclusive and whose
 * values are all mappings names values of a multi-value step. */
static int is_per_value(yu_doc *d, const yaml_node_t *n)
{
	const yaml_node_pair_t *pair;
	int i;

	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top == n->data.mapping.pairs.start)
		return 0;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yu_node(d, pair->key);

		if (k->type != YAML_SCALAR_NODE ||
		    yu_node(d, pair->value)->type != YAML_MAPPING_NODE)
			return 0;
		for (i = 0; limit_keys[i]; i++)
			if (strcmp((const char *)k->data.scalar.value, limit_keys[i]) == 0)
				return 0;
	}
	return 1;
}

static void parse_limits(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	const yaml_node_pair_t *pair;

	if (!is_per_value(d, n)) {
		st->has_limits = 1;
		parse_limits_map(d, n, &st->limits);
		return;
	}
	yu_check_keys(d, n, "limits", NULL);  /* repeated value names */
	st->vlimits = yu_calloc(d, (size_t)(n->data.mapping.pairs.top -
					    n->data.mapping.pairs.start),
				sizeof(*st->vlimits));
	if (!st->vlimits)
		return;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yu_node(d, pair->key);
		seq_limits *lim = &st->vlimits[st->n_vlimits++];

		lim->value = yu_strdup(d, (const char *)k->data.scalar.value);
		if (lim->value && !yu_is_name(lim->value))
			yu_problem(d, k->start_mark,
				   "bad value name '%.60s': expected [a-z0-9_]+",
				   lim->value);
		parse_limits_map(d, yu_node(d, pair->value), lim);
		lim->loc = loc_of(k);  /* point at the value's name */
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
	if ((f != NULL) == (p != NULL)) {
		yu_problem(d, n->start_mark,
			   "skip_if needs exactly one of 'failed' or 'passed'");
		return;
	}
	v = f ? f : p;
	st->skip_if.when = f ? SEQ_SKIP_IF_FAILED : SEQ_SKIP_IF_PASSED;
	st->skip_if.step = yu_string(d, v, "skip_if step");
	st->skip_if.loc = loc_of(v);
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
		b = find_bin(s, bin);
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

	st->loc = loc_of(n);
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
	if ((v = yu_get(d, n, "sweep")))
		parse_sweep(d, v, st);
	if ((v = yu_get(d, n, "params")))
		parse_params(d, v, st);
	if ((v = yu_get(d, n, "limits")))
		parse_limits(d, v, st);
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
	b->loc = loc_of(item);
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
		b->branch_locs[br] = loc_of(key);
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
				st->loc = loc_of(n);
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
static void parse_steps(yu_doc *d, const yaml_node_t *root, const char *key,
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

size_t seq_n_steps(const seq_sequence *s)
{
	return s->n_setup + s->n_main + s->n_cleanup;
}

/* Steps of setup, main and cleanup as one run, in file order. */
const seq_step *seq_step_at(const seq_sequence *s, size_t i)
{
	if (i < s->n_setup)
		return &s->setup[i];
	i -= s->n_setup;
	if (i < s->n_main)
		return &s->main[i];
	return &s->cleanup[i - s->n_main];
}

/* Results are keyed by step name, so two steps may not share one - not even
 * two unnamed steps defaulting to the same "<role>.<op>". */
static void check_step_names(yu_doc *d, const seq_sequence *s)
{
	size_t n = s->n_setup + s->n_main + s->n_cleanup, i, j;
	const seq_step *a, *b;
	yaml_mark_t m = { 0, 0, 0 };

	for (i = 0; i < n; i++) {
		a = seq_step_at(s, i);
		for (j = 0; a->name && j < i; j++) {
			b = seq_step_at(s, j);
			if (b->name && strcmp(a->name, b->name) == 0) {
				m.line = (size_t)a->loc.line - 1;
				m.column = (size_t)a->loc.column - 1;
				yu_problem(d, m, "duplicate step name '%.60s' (first at %d:%d)",
					   a->name, b->loc.line, b->loc.column);
				break;
			}
		}
	}
}

static yaml_mark_t mark_of(seq_loc loc)
{
	yaml_mark_t m = { 0, 0, 0 };

	m.line = loc.line > 0 ? (size_t)loc.line - 1 : 0;
	m.column = loc.column > 0 ? (size_t)loc.column - 1 : 0;
	return m;
}

/* skip_if names an earlier step: the outcome it tests is known by then. */
static void check_skip_if(yu_doc *d, const seq_sequence *s)
{
	size_t n = seq_n_steps(s), i;
	long j;

	for (i = 0; i < n; i++) {
		const seq_step *st = seq_step_at(s, i);

		if (!st->skip_if.step)
			continue;
		j = seq_step_index(s, st->skip_if.step);
		if (j < 0)
			yu_problem(d, mark_of(st->skip_if.loc),
				   "skip_if names unknown step '%.60s'", st->skip_if.step);
		else if ((size_t)j >= i)
			yu_problem(d, mark_of(st->skip_if.loc),
				   "skip_if names step '%.60s', which does not run before this one",
				   st->skip_if.step);
	}
}

/* ---- the file ------------------------------------------------------------ */

static void parse_root(yu_doc *d, const yaml_node_t *root, seq_sequence *s)
{
	yaml_node_t *v;
	long version;
	const char *proc;

	if (yu_expect(d, root, YAML_MAPPING_NODE, "a sequence file") != 0)
		return;
	yu_check_keys(d, root, "sequence file", root_keys);
	if ((v = yu_require(d, root, "sequence")))
		s->name = yu_string(d, v, "sequence");
	if ((v = yu_require(d, root, "version")) &&
	    yu_int(d, v, "version", 1, INT_MAX, &version) == 0)
		s->version = (int)version;
	if ((v = yu_get(d, root, "product")))
		s->product = yu_string(d, v, "product");
	if ((v = yu_get(d, root, "process")) &&
	    yu_expect(d, v, YAML_SCALAR_NODE, "process") == 0) {
		proc = (const char *)v->data.scalar.value;
		if (strcmp(proc, "unit") == 0)
			s->process = SEQ_PROCESS_UNIT;
		else if (strcmp(proc, "wafer") == 0)
			s->process = SEQ_PROCESS_WAFER;
		else
			yu_problem(d, v->start_mark,
				   "process must be 'unit' or 'wafer', not '%.60s'", proc);
	}
	parse_roles(d, root, s);
	parse_bins(d, root, s);
	parse_steps(d, root, "setup", 0, s, 0, &s->setup, &s->n_setup);
	parse_steps(d, root, "main", 1, s, s->n_setup, &s->main, &s->n_main);
	parse_steps(d, root, "cleanup", 0, s, s->n_setup + s->n_main, &s->cleanup,
		    &s->n_cleanup);
	check_step_names(d, s);
	check_skip_if(d, s);
}

static int sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0, i;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
		return -1;
	for (i = 0; i < md_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The walker behind seq_load (out set) and seq_check (out NULL). */
static int seq_parse(const char *path, yu_report_fn report, void *user,
		     seq_sequence **out, kgd_err *err)
{
	seq_sequence *s = NULL;
	yaml_node_t *root;
	yu_doc d;
	int status;

	if (!path)
		return kgd_err_set(err, KGD_ERR_ARG, "seq: no sequence file given");
	status = yu_open(&d, path, report, user, err);
	if (status != KGD_OK)
		goto out;
	s = yu_calloc(&d, 1, sizeof(*s));
	if (s) {
		s->path = yu_strdup(&d, path);
		root = yu_root(&d);
		if (root)
			parse_root(&d, root, s);
	}
	status = yu_status(&d);
	/* yu_calloc records its failure in the status; !s says so to the
	 * compiler too. */
	if (status != KGD_OK || !out || !s)
		goto out;
	if (sha256_hex(d.text, d.len, s->sha256) != 0) {
		status = kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				     "%s: cannot compute SHA-256 (OpenSSL)", path);
		goto out;
	}
	s->text = d.text;  /* the hashed, parsed bytes move into the result */
	s->text_len = d.len;
	d.text = NULL;
	*out = s;
	s = NULL;
out:
	seq_free(s);
	yu_close(&d);
	return status;
}

int seq_load(const char *path, seq_sequence **out, kgd_err *err)
{
	if (!out)
		return kgd_err_set(err, KGD_ERR_ARG, "seq_load: out is NULL");
	return seq_parse(path, NULL, NULL, out, err);
}

int seq_check(const char *path, void (*report)(void *user, const char *msg),
	      void *user, kgd_err *err)
{
	return seq_parse(path, report, user, NULL, err);
}

static void free_limits(seq_limits *l)
{
	free(l->value);
	free(l->file);
	free(l->per);
	free(l->lows);
	free(l->highs);
}

static void free_steps(seq_step *steps, size_t n)
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
		}
		free(st->sweep);
		for (j = 0; j < st->n_params; j++) {
			free(st->params[j].key);
			free(st->params[j].value);
		}
		free(st->params);
		free_limits(&st->limits);
		for (j = 0; j < st->n_vlimits; j++)
			free_limits(&st->vlimits[j]);
		free(st->vlimits);
		free(st->skip_if.step);
	}
	free(steps);
}

void seq_free(seq_sequence *s)
{
	size_t i;

	if (!s)
		return;
	free(s->path);
	free(s->name);
	free(s->product);
	free_steps(s->setup, s->n_setup);
	free_steps(s->main, s->n_main);
	free_steps(s->cleanup, s->n_cleanup);
	for (i = 0; i < s->n_bins; i++)
		free(s->bins[i].name);
	free(s->bins);
	for (i = 0; i < s->n_hard_bins; i++)
		free(s->hard_bins[i].name);
	free(s->hard_bins);
	for (i = 0; i < s->n_roles; i++)
		free(s->roles[i]);
	free(s->roles);
	free(s->role_locs);
	for (i = 0; i < s->n_blocks; i++) {
		for (size_t b = 0; b < s->blocks[i].n_branches; b++)
			free(s->blocks[i].branch_names[b]);
		free(s->blocks[i].branch_names);
		free(s->blocks[i].branch_locs);
	}
	free(s->blocks);
	free(s->text);
	free(s);
}

const seq_param *seq_step_param(const seq_step *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n_params; i++)
		if (st->params[i].key && strcmp(st->params[i].key, key) == 0)
			return &st->params[i];
	return NULL;
}

int seq_pass_bin(const seq_sequence *s)
{
	int best = 0;
	size_t i;

	for (i = 0; i < s->n_bins; i++)
		if (s->bins[i].pass && (best == 0 || s->bins[i].number < best))
			best = s->bins[i].number;
	return best ? best : 1;
}

int seq_hard_bin(const seq_sequence *s, int soft_bin)
{
	const seq_bin *b = find_bin(s, soft_bin);

	return b ? b->hard : soft_bin;
}

long seq_step_index(const seq_sequence *s, const char *name)
{
	size_t i, n = seq_n_steps(s);

	for (i = 0; name && i < n; i++)
		if (seq_step_at(s, i)->name &&
		    strcmp(seq_step_at(s, i)->name, name) == 0)
			return (long)i;
	return -1;
}

const seq_limits *seq_step_limits(const seq_step *st, const char *value)
{
	size_t i;

	if (!value)
		return st->has_limits ? &st->limits : NULL;
	for (i = 0; i < st->n_vlimits; i++)
		if (st->vlimits[i].value && strcmp(st->vlimits[i].value, value) == 0)
			return &st->vlimits[i];
	return NULL;
}

const seq_limits *seq_limits_at(const seq_limits *l, size_t i, seq_limits *out)
{
	*out = *l;
	out->per = NULL;
	out->lows = out->highs = NULL;
	out->n_lows = out->n_highs = 0;
	if (l->lows)
		out->low = i < l->n_lows ? l->lows[i] : NAN;
	if (l->highs)
		out->high = i < l->n_highs ? l->highs[i] : NAN;
	return out;
}

/* ---- limits files -------------------------------------------------------- */

static void parse_limset(yu_doc *d, const yaml_node_t *root, seq_limset *l)
{
	const yaml_node_pair_t *pair;
	yaml_node_t *v, *steps;
	size_t count;

	if (yu_expect(d, root, YAML_MAPPING_NODE, "a limits file") != 0)
		return;
	yu_check_keys(d, root, "limits file", limset_keys);
	if ((v = yu_require(d, root, "limits")))
		l->name = yu_string(d, v, "limits");
	if ((v = yu_get(d, root, "sequence"))) {
		l->sequence = yu_string(d, v, "sequence");
		l->sequence_loc = loc_of(v);
	}
	if ((v = yu_get(d, root, "product"))) {
		l->product = yu_string(d, v, "product");
		l->product_loc = loc_of(v);
	}
	steps = yu_require(d, root, "steps");
	if (!steps || yu_expect(d, steps, YAML_MAPPING_NODE, "steps") != 0)
		return;
	yu_check_keys(d, steps, "steps", NULL);  /* repeated entries */
	count = (size_t)(steps->data.mapping.pairs.top -
			 steps->data.mapping.pairs.start);
	l->entries = yu_calloc(d, count + 1, sizeof(*l->entries));
	l->steps = yu_calloc(d, count + 1, sizeof(*l->steps));
	if (!l->entries || !l->steps)
		return;
	for (pair = steps->data.mapping.pairs.start;
	     pair < steps->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yu_node(d, pair->key);
		seq_limits *lim = &l->entries[l->n];
		char *key, *slash;

		if (k->type != YAML_SCALAR_NODE)
			continue;  /* already reported */
		key = yu_strdup(d, (const char *)k->data.scalar.value);
		if (!key)
			return;
		slash = strchr(key, '/');
		if (slash) {
			*slash = '\0';
			lim->value = yu_strdup(d, slash + 1);
			if (!yu_is_name(slash + 1)) {
				*slash = '/';
				yu_problem(d, k->start_mark,
					   "bad entry '%.60s': expected <step> or <step>/<value>",
					   key);
			}
		}
		l->steps[l->n++] = key;
		parse_limits_map(d, yu_node(d, pair->value), lim);
		lim->loc = loc_of(k);
	}
}

static int limset_parse(const char *path, yu_report_fn report, void *user,
			seq_limset **out, kgd_err *err)
{
	seq_limset *l = NULL;
	yaml_node_t *root;
	yu_doc d;
	int status;

	if (!path)
		return kgd_err_set(err, KGD_ERR_ARG, "seq: no limits file given");
	status = yu_open(&d, path, report, user, err);
	if (status != KGD_OK)
		goto out;
	l = yu_calloc(&d, 1, sizeof(*l));
	if (l) {
		l->path = yu_strdup(&d, path);
		root = yu_root(&d);
		if (root)
			parse_limset(&d, root, l);
	}
	status = yu_status(&d);
	if (status != KGD_OK || !out || !l)
		goto out;
	if (sha256_hex(d.text, d.len, l->sha256) != 0) {
		status = kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				     "%s: cannot compute SHA-256 (OpenSSL)", path);
		goto out;
	}
	l->text = d.text;
	l->text_len = d.len;
	d.text = NULL;
	*out = l;
	l = NULL;
out:
	seq_limset_free(l);
	yu_close(&d);
	return status;
}

int seq_limset_load(const char *path, seq_limset **out, kgd_err *err)
{
	if (!out)
		return kgd_err_set(err, KGD_ERR_ARG, "seq_limset_load: out is NULL");
	return limset_parse(path, NULL, NULL, out, err);
}

int seq_limset_check(const char *path,
		     void (*report)(void *user, const char *msg), void *user,
		     kgd_err *err)
{
	return limset_parse(path, report, user, NULL, err);
}

void seq_limset_free(seq_limset *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		free_limits(&l->entries[i]);
		free(l->steps[i]);
	}
	free(l->entries);
	free(l->steps);
	free(l->path);
	free(l->name);
	free(l->sequence);
	free(l->product);
	free(l->text);
	free(l);
}

static double *dup_doubles(const double *v, size_t n)
{
	double *copy;

	if (!v)
		return NULL;
	copy = malloc(n * sizeof(*copy));
	if (copy)
		memcpy(copy, v, n * sizeof(*copy));
	return copy;
}

/* Copy one limits entry over dst, keeping dst's value name; dst gets its
 * own copies of the lists (the limits file is freed on its own). */
static int copy_limits(seq_limits *dst, const seq_limits *src, const char *file)
{
	char *value = dst->value;

	free(dst->file);
	free(dst->per);
	free(dst->lows);
	free(dst->highs);
	*dst = *src;
	dst->value = value;
	dst->file = strdup(file);
	dst->per = src->per ? strdup(src->per) : NULL;
	dst->lows = dup_doubles(src->lows, src->n_lows);
	dst->highs = dup_doubles(src->highs, src->n_highs);
	if (!dst->file || (src->per && !dst->per) || (src->lows && !dst->lows) ||
	    (src->highs && !dst->highs))
		return -1;
	return 0;
}

int seq_limset_apply(seq_sequence *s, const seq_limset *l,
		     void (*report)(void *user, const char *msg), void *user,
		     kgd_err *err)
{
	diag a;
	size_t i;

	diag_init(&a, report, user, err);
	if (l->sequence && strcmp(l->sequence, s->name) != 0)
		diag_at(&a, l->path, l->sequence_loc.line, l->sequence_loc.column,
			      "limits are for sequence '%.60s', not '%.60s'",
			      l->sequence, s->name);
	if (l->product && (!s->product || strcmp(l->product, s->product) != 0))
		diag_at(&a, l->path, l->product_loc.line, l->product_loc.column,
			      "limits are for product '%.60s', not '%.60s'",
			      l->product, s->product ? s->product : "(none)");
	for (i = 0; i < l->n; i++) {
		const seq_limits *src = &l->entries[i];
		long idx = seq_step_index(s, l->steps[i]);
		seq_step *st;
		seq_limits *dst;

		if (idx < 0) {
			diag_at(&a, l->path, src->loc.line, src->loc.column,
				      "the sequence has no step '%.60s'", l->steps[i]);
			continue;
		}
		st = (seq_step *)seq_step_at(s, (size_t)idx);
		if (!src->value) {
			st->has_limits = 1;
			dst = &st->limits;
		} else if (!(dst = (seq_limits *)seq_step_limits(st, src->value))) {
			/* A value the sequence leaves unlimited: add it. Whether
			 * the operation has such a value is run_lint's check. */
			seq_limits *grown = realloc(st->vlimits, (st->n_vlimits + 1) *
						    sizeof(*grown));

			if (!grown)
				return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			st->vlimits = grown;
			dst = &st->vlimits[st->n_vlimits];
			memset(dst, 0, sizeof(*dst));
			dst->value = strdup(src->value);
			if (!dst->value)
				return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			st->n_vlimits++;
		}
		if (copy_limits(dst, src, l->path))
			return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	}
	return a.status;
}
