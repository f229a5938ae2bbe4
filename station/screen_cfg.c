/*
 * station/screen_cfg.c - load and check a screen config (`station screen
 * --config`; format: docs/REPORTS.md "The outlier screen") into the
 * scr_config that screen/ runs.
 *
 * Invariant: a config handed out is complete and in range - bins 0..65535
 * (STDF's range), k > 0, min_samples >= 3, a known neighbourhood, at least
 * one method on - and keeps the file's bytes, whose SHA-256 names the
 * screen. Every problem is reported at file:line:col through yaml_util.h,
 * the same walker as the sequence and station configs, so an unknown key
 * or a bad value is never ignored.
 */
#include "screen_cfg.h"
#include "yaml_util.h"

#include <stdlib.h>
#include <string.h>

static const char *const root_keys[] = {
	"soft_bin", "hard_bin", "min_samples", "dpat", "static_pat", "gdbn",
	NULL
};
static const char *const pat_keys[] = { "k", "tests", "lots", NULL };
static const char *const test_keys[] = { "step", "name", "coords", "k", NULL };
static const char *const gdbn_keys[] = {
	"neighbourhood", "min_bad", "soft_bin", "hard_bin", NULL
};

static void read_k(yu_doc *d, const yaml_node_t *n, double *out)
{
	double k;

	if (yu_double(d, n, "k", &k) != 0)
		return;
	if (!(k > 0 && k <= 100))
		yu_problem(d, n->start_mark, "k must be above 0 and at most 100"
			   " (sigmas from the median), not " YU_QUOTE,
			   (const char *)n->data.scalar.value);
	else
		*out = k;
}

static void read_bin(yu_doc *d, const yaml_node_t *n, const char *what,
		     int *out)
{
	long v;

	if (yu_int(d, n, what, 0, 65535, &v) == 0)
		*out = (int)v;
}

/* coords: a mapping of scalars, kept as a JSON object text (numbers bare,
 * anything else a JSON string) for SQLite's json_each. */
static char *coords_json(yu_doc *d, const yaml_node_t *n)
{
	const yaml_node_pair_t *p;
	size_t cap = 2, len;
	char *out;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "coords") != 0)
		return NULL;
	yu_check_keys(d, n, "coords", NULL);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yu_node(d, p->key), *v = yu_node(d, p->value);

		if (k->type != YAML_SCALAR_NODE)
			return NULL;
		if (!yu_is_name((const char *)k->data.scalar.value)) {
			yu_problem(d, k->start_mark, "coords key '" YU_QUOTE "' is "
				   "not a sweep variable name ([a-z0-9_]+)",
				   (const char *)k->data.scalar.value);
			return NULL;
		}
		if (v->type != YAML_SCALAR_NODE) {
			yu_problem(d, v->start_mark, "coords value must be a scalar");
			return NULL;
		}
		if (strpbrk((const char *)v->data.scalar.value, "\"\\")) {
			yu_problem(d, v->start_mark, "coords value holds a quote "
				   "or backslash");
			return NULL;
		}
		cap += k->data.scalar.length + v->data.scalar.length + 8;
	}
	out = yu_calloc(d, cap, 1);
	if (!out)
		return NULL;
	strcpy(out, "{");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yu_node(d, p->key), *v = yu_node(d, p->value);
		const char *vs = (const char *)v->data.scalar.value;
		double num;
		int bare = v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			   yu_parse_double(vs, &num) == 0;

		len = strlen(out);
		snprintf(out + len, cap - len, "%s\"%s\":%s%s%s",
			 p == n->data.mapping.pairs.start ? "" : ",",
			 (const char *)k->data.scalar.value, bare ? "" : "\"",
			 vs, bare ? "" : "\"");
	}
	strcat(out, "}");
	return out;
}

static void parse_test(yu_doc *d, const yaml_node_t *n, scr_test *t)
{
	yaml_node_t *v;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "a test entry") != 0)
		return;
	yu_check_keys(d, n, "test entry", test_keys);
	if ((v = yu_require(d, n, "step")))
		t->step = yu_string(d, v, "step");
	if ((v = yu_get(d, n, "name")))
		t->name = yu_string(d, v, "name");
	if ((v = yu_get(d, n, "coords")))
		t->coords = coords_json(d, v);
	if ((v = yu_get(d, n, "k")))
		read_k(d, v, &t->k);
}

static void parse_pat(yu_doc *d, const yaml_node_t *n, scr_pat *p,
		      int is_static)
{
	yaml_node_t *v;

	if (yu_expect(d, n, YAML_MAPPING_NODE, is_static ? "static_pat" : "dpat"))
		return;
	yu_check_keys(d, n, is_static ? "static_pat" : "dpat", pat_keys);
	p->on = 1;
	p->k = 6;
	if ((v = yu_get(d, n, "k")))
		read_k(d, v, &p->k);
	if ((v = yu_require(d, n, "tests"))) {
		if (v->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)v->data.scalar.value, "all") == 0) {
			p->all = 1;
		} else if (v->type != YAML_SEQUENCE_NODE ||
			   v->data.sequence.items.top ==
			   v->data.sequence.items.start) {
			yu_problem(d, v->start_mark, "tests must be 'all' (every "
				   "numeric test) or a non-empty list of "
				   "{step, name, coords, k}");
		} else {
			yaml_node_item_t *it;

			p->tests = yu_calloc(d, (size_t)(v->data.sequence.items.top -
							 v->data.sequence.items.start),
					     sizeof(*p->tests));
			for (it = v->data.sequence.items.start;
			     p->tests && it < v->data.sequence.items.top; it++)
				parse_test(d, yu_node(d, *it),
					   &p->tests[p->n_tests++]);
		}
	}
	v = yu_get(d, n, "lots");
	if (!is_static && v) {
		yu_problem(d, v->start_mark, "lots belongs to static_pat (dynamic"
			   " PAT takes its limits from the wafer itself)");
	} else if (is_static && (v = yu_require(d, n, "lots"))) {
		yaml_node_item_t *it;

		if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top ==
		    v->data.sequence.items.start) {
			yu_problem(d, v->start_mark, "lots must be a non-empty list"
				   " of earlier lots' names");
			return;
		}
		p->lots = yu_calloc(d, (size_t)(v->data.sequence.items.top -
						v->data.sequence.items.start),
				    sizeof(*p->lots));
		for (it = v->data.sequence.items.start;
		     p->lots && it < v->data.sequence.items.top; it++) {
			char *s = yu_string(d, yu_node(d, *it), "lot");

			if (s)
				p->lots[p->n_lots++] = s;
		}
	}
}

static void parse_gdbn(yu_doc *d, const yaml_node_t *n, scr_config *c)
{
	yaml_node_t *v;
	long min_bad;

	if (yu_expect(d, n, YAML_MAPPING_NODE, "gdbn") != 0)
		return;
	yu_check_keys(d, n, "gdbn", gdbn_keys);
	c->gdbn = 1;
	c->gdbn_size = 3;
	if ((v = yu_get(d, n, "neighbourhood"))) {
		const char *s = v->type == YAML_SCALAR_NODE
				? (const char *)v->data.scalar.value : "";

		if (strcmp(s, "3x3") == 0)
			c->gdbn_size = 3;
		else if (strcmp(s, "5x5") == 0)
			c->gdbn_size = 5;
		else
			yu_problem(d, v->start_mark, "neighbourhood must be 3x3 (the"
				   " 8 nearest dies) or 5x5 (the 24 within two)");
	}
	if ((v = yu_require(d, n, "min_bad")) &&
	    yu_int(d, v, "min_bad", 1, 24, &min_bad) == 0) {
		if (min_bad > c->gdbn_size * c->gdbn_size - 1)
			yu_problem(d, v->start_mark, "min_bad %ld is more than "
				   "the %d neighbours of a %dx%d neighbourhood",
				   min_bad, c->gdbn_size * c->gdbn_size - 1,
				   c->gdbn_size, c->gdbn_size);
		c->gdbn_min_bad = (int)min_bad;
	}
	c->gdbn_soft_bin = c->soft_bin;
	c->gdbn_hard_bin = c->hard_bin;
	if ((v = yu_get(d, n, "soft_bin")))
		read_bin(d, v, "soft_bin", &c->gdbn_soft_bin);
	if ((v = yu_get(d, n, "hard_bin")))
		read_bin(d, v, "hard_bin", &c->gdbn_hard_bin);
}

static void parse_root(yu_doc *d, const yaml_node_t *root, scr_config *c)
{
	yaml_node_t *v;

	if (yu_expect(d, root, YAML_MAPPING_NODE, "a screen config") != 0)
		return;
	yu_check_keys(d, root, "screen config", root_keys);
	if ((v = yu_require(d, root, "soft_bin")))
		read_bin(d, v, "soft_bin", &c->soft_bin);
	if ((v = yu_require(d, root, "hard_bin")))
		read_bin(d, v, "hard_bin", &c->hard_bin);
	c->min_samples = 20;
	if ((v = yu_get(d, root, "min_samples")))
		yu_int(d, v, "min_samples", 3, 1000000, &c->min_samples);
	if ((v = yu_get(d, root, "dpat")))
		parse_pat(d, v, &c->dpat, 0);
	if ((v = yu_get(d, root, "static_pat")))
		parse_pat(d, v, &c->spat, 1);
	if ((v = yu_get(d, root, "gdbn")))
		parse_gdbn(d, v, c);
	if (!yu_get(d, root, "dpat") && !yu_get(d, root, "static_pat") &&
	    !yu_get(d, root, "gdbn"))
		yu_problem(d, root->start_mark, "a screen config needs at least "
			   "one of dpat, static_pat and gdbn");
}

int screen_cfg_load(const char *path, void (*report)(void *user, const char *msg),
		    void *user, scr_config **out, kgd_err *err)
{
	scr_config *c = NULL;
	yaml_node_t *root;
	yu_doc d;
	int status;

	if (!path || !out)
		return kgd_err_set(err, KGD_ERR_ARG, "screen: no config given");
	status = yu_open(&d, path, report, user, err);
	if (status != KGD_OK)
		goto out;
	c = yu_calloc(&d, 1, sizeof(*c));
	if (c) {
		c->path = yu_strdup(&d, path);
		root = yu_root(&d);
		if (root)
			parse_root(&d, root, c);
	}
	status = yu_status(&d);
	if (status != KGD_OK)
		goto out;
	c->text = d.text;
	c->len = d.len;
	d.text = NULL;
	*out = c;
	c = NULL;
out:
	scr_config_free(c);
	yu_close(&d);
	return status;
}
