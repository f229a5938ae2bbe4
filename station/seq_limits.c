/*
 * station/seq_limits.c - limits: the {low, high, unit, inclusive, per}
 * syntax a sequence step and a limits file share, and limits files
 * (format: seq.h and docs/SEQUENCES.md). Part of the sequence loader
 * (seq_int.h).
 *
 * Invariant: a limit is stored with a unit from one known list (whether
 * it names one, and one its value converts to, is run_lint's check), bounds
 * that are numbers with low <= high, and per-point lists only with `per`;
 * whether `per` names a sweep variable of the step is run_lint's check.
 */
#include "seq_int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diag.h"

static const char *const limit_keys[] = {
	"low", "high", "unit", "inclusive", "per", NULL
};
static const char *const limset_keys[] = {
	"limits", "sequence", "product", "steps", "by_condition", NULL
};
/* Limits are stored with their unit; a unit outside this list is most
 * likely a typo ("dbm") that would make results incomparable. "count"
 * (a number of errors) is stored as "", the unit counts are logged in. */
static const char *const units[] = {
	"dBm", "dB", "W", "mW", "uW", "nW", "nm", "A", "mA", "V", "C", "ratio",
	"s", "count", "uA", "nA", "mV", "ohm", "W/A", "A/W", "%", "nm/mW",
	"um", NULL
};

static void parse_unit(yu_doc *d, const yaml_node_t *n, seq_limits *lim)
{
	char known[128];
	size_t off = 0;
	const char *u;
	int i;

	/* Named or not, the unit is settled here: run_lint's "needs a unit"
	 * is for limits that do not say it. */
	lim->has_unit = 1;
	if (yu_expect(d, n, YAML_SCALAR_NODE, "unit") != 0)
		return;
	u = yu_is_null(n) ? "" : (const char *)n->data.scalar.value;
	for (i = 0; units[i]; i++) {
		if (strcmp(u, units[i]) == 0) {
			snprintf(lim->unit, sizeof(lim->unit), "%s",
				 strcmp(u, "count") == 0 ? "" : u);
			return;
		}
	}
	for (i = 0; units[i] && off < sizeof(known); i++)
		off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s",
					i ? ", " : "", units[i]);
	yu_problem(d, n->start_mark,
		   "unknown unit '%.60s' (expected one of: %s)", u, known);
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
	*list_loc = seq_loc_of(n);
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
void seq_parse_limits_map(yu_doc *d, const yaml_node_t *n, seq_limits *lim)
{
	yaml_node_t *v, *per;
	int inclusive = 1;

	lim->loc = seq_loc_of(n);
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
		lim->per_loc = seq_loc_of(per);
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

void seq_parse_limits(yu_doc *d, const yaml_node_t *n, seq_step *st)
{
	const yaml_node_pair_t *pair;

	if (!is_per_value(d, n)) {
		st->has_limits = 1;
		seq_parse_limits_map(d, n, &st->limits);
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
		seq_parse_limits_map(d, yu_node(d, pair->value), lim);
		lim->loc = seq_loc_of(k);  /* point at the value's name */
	}
}

void seq_free_limits(seq_limits *l)
{
	free(l->value);
	free(l->file);
	free(l->per);
	free(l->lows);
	free(l->highs);
}

/* ---- limits files -------------------------------------------------------- */

/* A steps: map of a limits file (or of one of its sets): each key a step
 * or step/value, each value a limits map. */
static void parse_entries(yu_doc *d, const yaml_node_t *steps,
			  seq_limits **entries, char ***names, size_t *n)
{
	const yaml_node_pair_t *pair;
	size_t count;

	yu_check_keys(d, steps, "steps", NULL);  /* repeated entries */
	count = (size_t)(steps->data.mapping.pairs.top -
			 steps->data.mapping.pairs.start);
	*entries = yu_calloc(d, count + 1, sizeof(**entries));
	*names = yu_calloc(d, count + 1, sizeof(**names));
	if (!*entries || !*names)
		return;
	for (pair = steps->data.mapping.pairs.start;
	     pair < steps->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yu_node(d, pair->key);
		seq_limits *lim = &(*entries)[*n];
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
		(*names)[(*n)++] = key;
		seq_parse_limits_map(d, yu_node(d, pair->value), lim);
		lim->loc = seq_loc_of(k);
	}
}

/* Condition values compare as numbers when both are ("85" == "85.0"). */
static int same_value(const char *a, const char *b)
{
	double x, y;

	if (yu_parse_double(a, &x) == 0 && yu_parse_double(b, &y) == 0)
		return x == y;
	return strcmp(a, b) == 0;
}

/* by_condition: {VAR: {VALUE: {entries}, ...}}: one variable. */
static void parse_sets(yu_doc *d, const yaml_node_t *n, seq_limset *l)
{
	const yaml_node_pair_t *pair;
	yaml_node_t *k, *sets;
	size_t count;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "by_condition") != 0)
		return;
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
		yu_problem(d, n->start_mark,
			   "by_condition names one condition variable (e.g. temperature_c)");
		return;
	}
	k = yu_node(d, n->data.mapping.pairs.start[0].key);
	sets = yu_node(d, n->data.mapping.pairs.start[0].value);
	l->cond_var = yu_string(d, k, "condition variable");
	l->cond_loc = seq_loc_of(k);
	if (l->cond_var && !yu_is_name(l->cond_var))
		yu_problem(d, k->start_mark, "bad condition variable '%.60s': expected [a-z0-9_]+",
			   l->cond_var);
	if (yu_expect(d, sets, YAML_MAPPING_NODE, "limit sets (VALUE: {step: limits})") != 0)
		return;
	yu_check_keys(d, sets, "limit sets", NULL);  /* repeated values */
	count = (size_t)(sets->data.mapping.pairs.top - sets->data.mapping.pairs.start);
	l->sets = yu_calloc(d, count + 1, sizeof(*l->sets));
	if (!l->sets)
		return;
	for (pair = sets->data.mapping.pairs.start; pair < sets->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *vk = yu_node(d, pair->key), *vv = yu_node(d, pair->value);
		seq_limset_set *set = &l->sets[l->n_sets];

		if (vk->type != YAML_SCALAR_NODE)
			continue;
		set->value = yu_strdup(d, (const char *)vk->data.scalar.value);
		set->loc = seq_loc_of(vk);
		for (size_t i = 0; set->value && i < l->n_sets; i++)
			if (l->sets[i].value && same_value(l->sets[i].value, set->value))
				yu_problem(d, vk->start_mark,
					   "limit set %.60s repeats %.60s (first at %d:%d)",
					   set->value, l->sets[i].value, l->sets[i].loc.line,
					   l->sets[i].loc.column);
		l->n_sets++;
		if (yu_expect(d, vv, YAML_MAPPING_NODE, "a limit set (step: limits)") == 0)
			parse_entries(d, vv, &set->entries, &set->steps, &set->n);
	}
}

static void parse_limset(yu_doc *d, const yaml_node_t *root, seq_limset *l)
{
	yaml_node_t *v, *steps;

	if (yu_expect(d, root, YAML_MAPPING_NODE, "a limits file") != 0)
		return;
	yu_check_keys(d, root, "limits file", limset_keys);
	if ((v = yu_require(d, root, "limits")))
		l->name = yu_string(d, v, "limits");
	if ((v = yu_get(d, root, "sequence"))) {
		l->sequence = yu_string(d, v, "sequence");
		l->sequence_loc = seq_loc_of(v);
	}
	if ((v = yu_get(d, root, "product"))) {
		l->product = yu_string(d, v, "product");
		l->product_loc = seq_loc_of(v);
	}
	/* Sets alone will do: every limit may depend on the condition. */
	steps = yu_get(d, root, "by_condition") ? yu_get(d, root, "steps")
						 : yu_require(d, root, "steps");
	if (steps && yu_expect(d, steps, YAML_MAPPING_NODE, "steps") == 0)
		parse_entries(d, steps, &l->entries, &l->steps, &l->n);
	if ((v = yu_get(d, root, "by_condition")))
		parse_sets(d, v, l);
}

static int limset_parse(const char *path, yu_report_fn report, void *user,
			seq_limset **out, int partial, kgd_err *err)
{
	seq_limset *l = NULL;
	yaml_node_t *root = NULL;
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
	if (partial && l && root) {
		*out = l;  /* as read, problems and all: for the checker */
		l = NULL;
		goto out;
	}
	if (status != KGD_OK || !out || !l)
		goto out;
	if (seq_sha256_hex(d.text, d.len, l->sha256) != 0) {
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
	return limset_parse(path, NULL, NULL, out, 0, err);
}

int seq_limset_check(const char *path,
		     void (*report)(void *user, const char *msg), void *user,
		     kgd_err *err)
{
	return limset_parse(path, report, user, NULL, 0, err);
}

int seq_limset_check_load(const char *path,
			  void (*report)(void *user, const char *msg), void *user,
			  seq_limset **out, kgd_err *err)
{
	*out = NULL;
	return limset_parse(path, report, user, out, 1, err);
}

void seq_limset_free(seq_limset *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		seq_free_limits(&l->entries[i]);
		free(l->steps[i]);
	}
	free(l->entries);
	free(l->steps);
	for (i = 0; i < l->n_sets; i++) {
		for (size_t j = 0; j < l->sets[i].n; j++) {
			seq_free_limits(&l->sets[i].entries[j]);
			free(l->sets[i].steps[j]);
		}
		free(l->sets[i].entries);
		free(l->sets[i].steps);
		free(l->sets[i].value);
	}
	free(l->sets);
	free(l->cond_var);
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

/* The limits of a named value of st, to change them (NULL: none yet). */
static seq_limits *vlimits_of(seq_step *st, const char *value)
{
	for (size_t i = 0; i < st->n_vlimits; i++)
		if (strcmp(st->vlimits[i].value, value) == 0)
			return &st->vlimits[i];
	return NULL;
}

int seq_limset_apply(seq_sequence *s, const seq_limset *l,
		     void (*report)(void *user, const char *msg), void *user,
		     kgd_err *err)
{
	diag a;
	size_t i;

	diag_init(&a, report, user, err);
	if (l->sequence && s->name && strcmp(l->sequence, s->name) != 0)
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
		st = seq_step_mut(s, (size_t)idx);
		if (!src->value) {
			st->has_limits = 1;
			dst = &st->limits;
		} else if (!(dst = vlimits_of(st, src->value))) {
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


int seq_condition_ok(const char *condition)
{
	const char *eq = condition ? strchr(condition, '=') : NULL;
	char var[64];
	double num;

	if (!eq || (size_t)(eq - condition) >= sizeof(var))
		return -1;
	snprintf(var, sizeof(var), "%.*s", (int)(eq - condition), condition);
	return yu_is_name(var) &&
	       (yu_parse_double(eq + 1, &num) == 0 || yu_is_name(eq + 1)) ? 0 : -1;
}


int seq_limset_select(seq_limset *l, const char *condition, kgd_err *err)
{
	char values[256];
	const char *eq;
	seq_limset_set *set = NULL;
	size_t used = 0, n;
	seq_limits *entries;
	char **steps;

	if (!l->cond_var)
		return KGD_OK;  /* no sets: the condition is only recorded */
	values[0] = '\0';
	for (size_t i = 0; i < l->n_sets && used < sizeof(values); i++)
		used += (size_t)snprintf(values + used, sizeof(values) - used, "%s%s",
					 i ? ", " : "", l->sets[i].value ? l->sets[i].value : "?");
	eq = condition ? strchr(condition, '=') : NULL;
	if (!eq)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s:%d:%d: the limits are set by %s (%s): pick one with --condition %s=VALUE",
				   l->path, l->cond_loc.line, l->cond_loc.column, l->cond_var,
				   values, l->cond_var);
	if (strlen(l->cond_var) != (size_t)(eq - condition) ||
	    strncmp(condition, l->cond_var, strlen(l->cond_var)) != 0)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s:%d:%d: the limits are set by %s, not by '%.*s'",
				   l->path, l->cond_loc.line, l->cond_loc.column, l->cond_var,
				   (int)(eq - condition), condition);
	for (size_t i = 0; i < l->n_sets && !set; i++)
		if (l->sets[i].value && same_value(l->sets[i].value, eq + 1))
			set = &l->sets[i];
	if (!set)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s:%d:%d: no limit set for %s=%s (sets: %s)", l->path,
				   l->cond_loc.line, l->cond_loc.column, l->cond_var, eq + 1,
				   values);
	/* The set's entries go after the common ones: applied later, they
	 * win. They move (the set keeps none). */
	n = l->n + set->n;
	entries = realloc(l->entries, (n + 1) * sizeof(*entries));
	if (entries)
		l->entries = entries;
	steps = entries ? realloc(l->steps, (n + 1) * sizeof(*steps)) : NULL;
	if (steps)
		l->steps = steps;
	if (!entries || !steps)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if (set->n) {  /* an empty set has no arrays to copy from */
		memcpy(l->entries + l->n, set->entries, set->n * sizeof(*entries));
		memcpy(l->steps + l->n, set->steps, set->n * sizeof(*steps));
	}
	l->n = n;
	set->n = 0;
	return KGD_OK;
}
