/*
 * station/seq_include.c - include: and vars: of a sequence file, expanded
 * on its YAML tree before anything is read from it (format:
 * docs/SEQUENCES.md "Reuse: include and vars").
 *
 *   include: [lib/common.yaml]   # relative to the including file
 *   vars:
 *     grid: [1301.00, 1302.12]
 *   main:
 *     - use: laser_checks        # a step list var, spliced in place
 *     - step: pm.optical_power
 *       sweep: {port: 1..8, wavelength_nm: $grid}
 *
 * An included file holds vars: (and include: of its own); its vars join
 * the including file's. A var is any YAML value; `$name` (plain, not
 * quoted) anywhere a value goes stands for a copy of it, `- use: name` in
 * a list for its items.
 *
 * Invariant: after seq_expand the document holds no `$name` and no `use:`
 * item - every consumer reads a plain sequence - and every node copied
 * from an included file carries that file in its marks (yaml_util.h,
 * YU_FILE_MARK), so a problem found in it names the included file's
 * line and column and the include chain. Includes form no cycle; the text
 * of every included file is kept in the doc for the sequence's digest.
 */
#include "seq_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SX_MAX_FILES 32
#define SX_MAX_DEPTH 16

typedef struct sx_var {
	char *name;
	int node;          /* in the main document */
	yaml_mark_t mark;  /* where it is defined */
} sx_var;

typedef struct sx {
	yu_doc *d;         /* the main document: everything lands here */
	sx_var *vars;
	size_t n_vars, cap_vars;
	const char *stack[SX_MAX_FILES];  /* the include chain being read */
	size_t depth;
} sx;

static const char *const lib_keys[] = { "vars", "include", NULL };

/* Node id -> node of the main document (ids are stable; pointers are not
 * once nodes are added). */
static yaml_node_t *nd(sx *x, int id)
{
	return yaml_document_get_node(&x->d->doc, id);
}

/* A deep copy of node id of src into the main document, its marks
 * moved to file (0: src is the main document itself). Returns the new
 * id, 0 when out of memory. */
static int copy_node(sx *x, yaml_document_t *src, int id, size_t file, int depth)
{
	yaml_node_t *n = yaml_document_get_node(src, id);
	yaml_document_t *dst = &x->d->doc;
	int out = 0;

	if (!n || depth > 64)
		return 0;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		out = yaml_document_add_scalar(dst, n->tag, n->data.scalar.value,
					       (int)n->data.scalar.length,
					       n->data.scalar.style);
		break;
	case YAML_SEQUENCE_NODE: {
		int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);

		out = yaml_document_add_sequence(dst, n->tag, n->data.sequence.style);
		for (int i = 0; out && i < count; i++) {
			/* src may be dst: re-read n after every add */
			n = yaml_document_get_node(src, id);
			int item = copy_node(x, src, n->data.sequence.items.start[i], file,
					     depth + 1);

			if (!item || !yaml_document_append_sequence_item(dst, out, item))
				return 0;
		}
		break;
	}
	case YAML_MAPPING_NODE: {
		int count = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);

		out = yaml_document_add_mapping(dst, n->tag, n->data.mapping.style);
		for (int i = 0; out && i < count; i++) {
			int k, v;

			n = yaml_document_get_node(src, id);
			k = copy_node(x, src, n->data.mapping.pairs.start[i].key, file,
				      depth + 1);
			n = yaml_document_get_node(src, id);
			v = copy_node(x, src, n->data.mapping.pairs.start[i].value, file,
				      depth + 1);
			if (!k || !v || !yaml_document_append_mapping_pair(dst, out, k, v))
				return 0;
		}
		break;
	}
	default:
		return 0;
	}
	if (out) {
		yaml_node_t *o = nd(x, out);

		n = yaml_document_get_node(src, id);
		o->start_mark = n->start_mark;
		o->end_mark = n->end_mark;
		if (file) {
			o->start_mark.index = YU_FILE_MARK(file);
			o->end_mark.index = YU_FILE_MARK(file);
		}
	}
	return out;
}

static const sx_var *find_var(const sx *x, const char *name)
{
	for (size_t i = 0; i < x->n_vars; i++)
		if (strcmp(x->vars[i].name, name) == 0)
			return &x->vars[i];
	return NULL;
}

/* The vars: of a document (main or included) into the table; an
 * included file's values are copied into the main document first. */
static void read_vars(sx *x, yu_doc *src, size_t file)
{
	yaml_node_t *root = yaml_document_get_root_node(&src->doc), *vars;
	const yaml_node_pair_t *p;
	size_t count;

	vars = root ? yu_get(src, root, "vars") : NULL;
	if (!vars || yu_expect(src, vars, YAML_MAPPING_NODE, "vars") != 0)
		return;
	yu_check_keys(src, vars, "vars", NULL);  /* repeated names */
	count = (size_t)(vars->data.mapping.pairs.top - vars->data.mapping.pairs.start);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *k;
		const sx_var *dup;
		sx_var *v;
		int node;

		root = yaml_document_get_root_node(&src->doc);
		vars = yu_get(src, root, "vars");
		p = &vars->data.mapping.pairs.start[i];
		k = yaml_document_get_node(&src->doc, p->key);
		if (k->type != YAML_SCALAR_NODE)
			continue;  /* reported by yu_check_keys */
		if (!yu_is_name((const char *)k->data.scalar.value)) {
			yu_problem(src, k->start_mark, "bad var name '%.60s': expected [a-z0-9_]+",
				   k->data.scalar.value);
			continue;
		}
		dup = find_var(x, (const char *)k->data.scalar.value);
		if (dup) {
			yu_problem(src, k->start_mark, "var '%.60s' is defined twice (first at %s:%zu:%zu)",
				   k->data.scalar.value, yu_mark_path(x->d, dup->mark),
				   dup->mark.line + 1, dup->mark.column + 1);
			continue;
		}
		node = src == x->d ? p->value : copy_node(x, &src->doc, p->value, file, 0);
		if (!node) {
			x->d->nomem = 1;
			return;
		}
		if (x->n_vars == x->cap_vars) {
			size_t cap = x->cap_vars ? 2 * x->cap_vars : 8;
			sx_var *grown = realloc(x->vars, cap * sizeof(*grown));

			if (!grown) {
				x->d->nomem = 1;
				return;
			}
			x->vars = grown;
			x->cap_vars = cap;
		}
		/* src's tree is still valid: copy_node added to the main doc */
		root = yaml_document_get_root_node(&src->doc);
		vars = yu_get(src, root, "vars");
		k = yaml_document_get_node(&src->doc, vars->data.mapping.pairs.start[i].key);
		v = &x->vars[x->n_vars];
		v->name = strdup((const char *)k->data.scalar.value);
		v->node = node;
		v->mark = k->start_mark;
		if (file)
			v->mark.index = YU_FILE_MARK(file);
		if (!v->name) {
			x->d->nomem = 1;
			return;
		}
		x->n_vars++;
	}
}

/* "dir of base" + rel, into buf: an include is relative to its file. */
static void relative_to(const char *base, const char *rel, char *buf, size_t cap)
{
	const char *slash = strrchr(base, '/');

	if (rel[0] == '/' || !slash)
		snprintf(buf, cap, "%s", rel);
	else
		snprintf(buf, cap, "%.*s/%s", (int)(slash - base), base, rel);
}

static void read_includes(sx *x, yu_doc *src, size_t file);

/* One include: entry of src (at node `entry`): the file it names, read,
 * its own includes first, then its vars. */
static void include_one(sx *x, yu_doc *src, size_t file, const yaml_node_t *entry)
{
	char path[PATH_MAX], chain[600], real[PATH_MAX];
	const char *name;
	yaml_mark_t at = entry->start_mark;
	yu_doc inc;
	kgd_err e;
	size_t k;
	yu_file *grown;

	if (yu_expect(src, entry, YAML_SCALAR_NODE, "include (a file name)") != 0)
		return;
	if (file)
		at.index = YU_FILE_MARK(file);
	name = (const char *)entry->data.scalar.value;
	relative_to(src->path, name, path, sizeof(path));
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	for (size_t i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], real) == 0) {
			yu_problem(x->d, at, "include cycle: '%.200s' includes itself", name);
			return;
		}
	for (k = 0; k < x->d->n_files; k++)
		if (strcmp(x->d->files[k].path, path) == 0)
			return;  /* already in, through another file */
	if (x->depth >= SX_MAX_DEPTH || x->d->n_files >= SX_MAX_FILES) {
		yu_problem(x->d, at, "too many includes (at most %d files, %d deep)",
			   SX_MAX_FILES, SX_MAX_DEPTH);
		return;
	}
	{
		/* the whole chain: " (included from b.yaml:1:10, from a.yaml:5:11)" */
		const char *up = file && x->d->files[file - 1].chain
			? x->d->files[file - 1].chain : "";
		size_t prefix = strlen(" (included from ");

		snprintf(chain, sizeof(chain), " (included from %s:%zu:%zu%s%.*s)",
			 yu_mark_path(x->d, at), at.line + 1, at.column + 1,
			 up[0] ? ", from " : "",
			 up[0] ? (int)(strlen(up) - prefix - 1) : 0,
			 up[0] ? up + prefix : "");
	}
	grown = realloc(x->d->files, (x->d->n_files + 1) * sizeof(*grown));
	if (!grown) {
		x->d->nomem = 1;
		return;
	}
	x->d->files = grown;
	k = ++x->d->n_files;
	memset(&grown[k - 1], 0, sizeof(grown[k - 1]));
	grown[k - 1].path = strdup(path);
	grown[k - 1].chain = strdup(chain);
	if (!grown[k - 1].path || !grown[k - 1].chain) {
		x->d->nomem = 1;
		return;
	}
	kgd_err_clear(&e);
	if (yu_open(&inc, x->d->files[k - 1].path, NULL, NULL, &e) != KGD_OK) {
		if (inc.n_msgs == 0)
			yu_problem(x->d, at, "%s", e.msg);
		yu_adopt(x->d, &inc, k, chain);
		yu_close(&inc);
		return;
	}
	{
		yaml_node_t *root = yu_root(&inc);

		if (root && yu_expect(&inc, root, YAML_MAPPING_NODE,
				      "an included file (vars:, include:)") == 0) {
			yu_check_keys(&inc, root, "included file", lib_keys);
			x->stack[x->depth++] = real;
			read_includes(x, &inc, k);
			read_vars(x, &inc, k);
			x->depth--;
		}
	}
	yu_adopt(x->d, &inc, k, chain);
	x->d->files[k - 1].text = inc.text;  /* kept for the digest */
	x->d->files[k - 1].len = inc.len;
	inc.text = NULL;
	yu_close(&inc);
}

static void read_includes(sx *x, yu_doc *src, size_t file)
{
	yaml_node_t *root = yaml_document_get_root_node(&src->doc), *inc;
	size_t count;

	inc = root && root->type == YAML_MAPPING_NODE ? yu_get(src, root, "include") : NULL;
	if (!inc)
		return;
	if (inc->type == YAML_SCALAR_NODE) {
		include_one(x, src, file, inc);
		return;
	}
	if (yu_expect(src, inc, YAML_SEQUENCE_NODE, "include (a file or a list of files)") != 0)
		return;
	count = (size_t)(inc->data.sequence.items.top - inc->data.sequence.items.start);
	for (size_t i = 0; i < count; i++) {
		/* src's nodes do not move: include_one adds to the main doc */
		root = yaml_document_get_root_node(&src->doc);
		inc = yu_get(src, root, "include");
		include_one(x, src, file, yaml_document_get_node(&src->doc,
					inc->data.sequence.items.start[i]));
	}
}

/* A plain scalar "$name": the var it names (NULL, after reporting, when
 * there is none); *is_ref says whether it is a reference at all. */
static const sx_var *ref_of(sx *x, int id, int *is_ref)
{
	yaml_node_t *n = nd(x, id);
	const char *t;
	const sx_var *v;

	*is_ref = 0;
	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return NULL;
	t = (const char *)n->data.scalar.value;
	if (t[0] != '$')
		return NULL;
	*is_ref = 1;
	v = yu_is_name(t + 1) ? find_var(x, t + 1) : NULL;
	if (!v)
		yu_problem(x->d, n->start_mark, "unknown var '%.60s'%s", t,
			   x->n_vars ? "" : " (the file has no vars:)");
	return v;
}

/* A list item `use: NAME`: the var, a list (NULL after reporting when it
 * is not); *is_use says whether the item is one. */
static const sx_var *use_of(sx *x, int id, int *is_use)
{
	yaml_node_t *n = nd(x, id), *k, *v;
	const sx_var *var;

	*is_use = 0;
	if (!n || n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return NULL;
	k = nd(x, n->data.mapping.pairs.start[0].key);
	v = nd(x, n->data.mapping.pairs.start[0].value);
	if (k->type != YAML_SCALAR_NODE || strcmp((const char *)k->data.scalar.value, "use") != 0)
		return NULL;
	*is_use = 1;
	if (v->type != YAML_SCALAR_NODE || !yu_is_name((const char *)v->data.scalar.value)) {
		yu_problem(x->d, v->start_mark, "use needs the name of a var holding a list");
		return NULL;
	}
	var = find_var(x, (const char *)v->data.scalar.value);
	if (!var) {
		yu_problem(x->d, v->start_mark, "unknown var '%.60s' in use", v->data.scalar.value);
		return NULL;
	}
	if (nd(x, var->node)->type != YAML_SEQUENCE_NODE) {
		yu_problem(x->d, v->start_mark, "use: var '%.60s' is not a list (defined at %s:%zu:%zu)",
			   var->name, yu_mark_path(x->d, var->mark), var->mark.line + 1,
			   var->mark.column + 1);
		return NULL;
	}
	return var;
}

static void expand(sx *x, int id, int depth);

/* Is item a `use:` mapping? (no reporting) */
static void use_of_quiet(sx *x, int id, int *is_use)
{
	yaml_node_t *n = nd(x, id), *k;

	*is_use = 0;
	if (!n || n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return;
	k = nd(x, n->data.mapping.pairs.start[0].key);
	*is_use = k->type == YAML_SCALAR_NODE &&
		  strcmp((const char *)k->data.scalar.value, "use") == 0;
}

/* One round of splicing the `use:` items of list id: 1 if there was one
 * (the result may hold more: a used list's own use: items). */
static int splice(sx *x, int id)
{
	size_t count = (size_t)(nd(x, id)->data.sequence.items.top -
				nd(x, id)->data.sequence.items.start);
	int *items = NULL, found = 0;
	size_t n_items = 0, cap = 0;

	for (size_t i = 0; i < count; i++) {
		int item = nd(x, id)->data.sequence.items.start[i], is_use;
		const sx_var *use = use_of(x, item, &is_use);
		size_t add = use ? (size_t)(nd(x, use->node)->data.sequence.items.top -
					   nd(x, use->node)->data.sequence.items.start)
				 : is_use ? 0 : 1;

		found |= is_use;
		if (n_items + add > cap) {
			size_t ncap = (n_items + add) * 2 + 4;
			int *grown = realloc(items, ncap * sizeof(*grown));

			if (!grown) {
				free(items);
				x->d->nomem = 1;
				return 0;
			}
			items = grown;
			cap = ncap;
		}
		if (!is_use) {
			items[n_items++] = item;
			continue;
		}
		for (size_t j = 0; use && j < add; j++) {
			int c = copy_node(x, &x->d->doc,
					  nd(x, use->node)->data.sequence.items.start[j], 0, 0);

			if (!c) {
				free(items);
				x->d->nomem = 1;
				return 0;
			}
			items[n_items++] = c;
		}
	}
	if (!found) {
		free(items);
		return 0;
	}
	{
		yaml_node_t *n = nd(x, id);

		free(n->data.sequence.items.start);
		if (!items) {
			/* every item was a bad use: (reported) - an empty list */
			items = calloc(1, sizeof(*items));
			cap = 1;
			if (!items) {
				x->d->nomem = 1;
				n->data.sequence.items.start = n->data.sequence.items.top =
					n->data.sequence.items.end = NULL;
				return 0;
			}
		}
		n->data.sequence.items.start = items;
		n->data.sequence.items.top = items + n_items;
		n->data.sequence.items.end = items + cap;
	}
	/* a bad use: was dropped (reported): no second round for it */
	for (size_t i = 0; i < n_items; i++) {
		int is_use;

		use_of_quiet(x, items[i], &is_use);
		if (is_use)
			return 1;
	}
	return 0;
}

/* The node a value position ends up with: a copy of the var for "$name"
 * (itself resolved: a var may be another var, or hold some), else the
 * node, expanded. hops counts vars followed, to stop a cycle. */
static int value_at(sx *x, int id, int depth, int hops)
{
	int is_ref, copy;
	const sx_var *v = ref_of(x, id, &is_ref);

	if (!is_ref) {
		expand(x, id, depth + 1);
		return id;
	}
	if (!v)
		return id;   /* reported; left as the text */
	if (hops > SX_MAX_DEPTH) {
		yu_problem(x->d, nd(x, id)->start_mark,
			   "var '%.60s' refers to itself (through other vars)", v->name);
		return id;
	}
	copy = copy_node(x, &x->d->doc, v->node, 0, 0);
	if (!copy) {
		x->d->nomem = 1;
		return id;
	}
	return value_at(x, copy, depth, hops + 1);
}

static int value_of(sx *x, int id, int depth)
{
	return value_at(x, id, depth, 0);
}

static void expand(sx *x, int id, int depth)
{
	yaml_node_t *n = nd(x, id);
	size_t count;

	if (!n || x->d->nomem)
		return;
	if (depth > 64 + SX_MAX_DEPTH) {
		yu_problem(x->d, n->start_mark, "vars nested too deep (a var that uses itself?)");
		return;
	}
	if (n->type == YAML_MAPPING_NODE) {
		count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
		for (size_t i = 0; i < count; i++) {
			int v = value_of(x, nd(x, id)->data.mapping.pairs.start[i].value, depth);

			nd(x, id)->data.mapping.pairs.start[i].value = v;
		}
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return;
	/* Splice every `- use: NAME` (a used list may use others: again,
	 * bounded), then expand each item. */
	for (int round = 0; splice(x, id); round++)
		if (round > SX_MAX_DEPTH) {
			yu_problem(x->d, nd(x, id)->start_mark,
				   "use: a list that uses itself (through other lists)");
			return;
		}
	count = (size_t)(nd(x, id)->data.sequence.items.top -
			 nd(x, id)->data.sequence.items.start);
	for (size_t i = 0; i < count && !x->d->nomem; i++) {
		int v = value_of(x, nd(x, id)->data.sequence.items.start[i], depth);

		nd(x, id)->data.sequence.items.start[i] = v;
	}
}

/* Drop `vars` and `include` from the root: expanded, they say nothing
 * more (for --expand). */
static void drop_root_key(yu_doc *d, const char *key)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	yaml_node_pair_t *p, *w;

	if (!root || root->type != YAML_MAPPING_NODE)
		return;
	for (p = w = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			continue;
		*w++ = *p;
	}
	root->data.mapping.pairs.top = w;
}

int seq_expand(yu_doc *d)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	char self[PATH_MAX];
	sx x;
	size_t count;

	if (!root || root->type != YAML_MAPPING_NODE)
		return 0;
	memset(&x, 0, sizeof(x));
	x.d = d;
	if (!realpath(d->path, self))
		snprintf(self, sizeof(self), "%s", d->path);
	x.stack[x.depth++] = self;
	read_includes(&x, d, 0);
	read_vars(&x, d, 0);
	root = yaml_document_get_root_node(&d->doc);  /* nodes were added */
	/* Every value of the root but vars: (its values are copied where
	 * used, expanded there) and include:. */
	count = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
	for (size_t i = 0; i < count; i++) {
		yaml_node_pair_t *p = &yaml_document_get_root_node(&d->doc)->data.mapping.pairs.start[i];
		yaml_node_t *k = nd(&x, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    (strcmp((const char *)k->data.scalar.value, "vars") == 0 ||
		     strcmp((const char *)k->data.scalar.value, "include") == 0))
			continue;
		{
			int v = value_of(&x, p->value, 0);

			yaml_document_get_root_node(&d->doc)->data.mapping.pairs.start[i].value = v;
		}
	}
	for (size_t i = 0; i < x.n_vars; i++)
		free(x.vars[i].name);
	free(x.vars);
	return 0;
}

int seq_print_expanded(const char *path, FILE *out, kgd_err *err)
{
	yaml_emitter_t em;
	yu_doc d;
	int status, ok;

	status = yu_open(&d, path, NULL, NULL, err);
	if (status != KGD_OK)
		goto out;
	seq_expand(&d);
	status = yu_status(&d);
	if (status != KGD_OK)
		goto out;
	drop_root_key(&d, "vars");
	drop_root_key(&d, "include");
	if (!yaml_emitter_initialize(&em)) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	yaml_emitter_set_output_file(&em, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, 100);
	ok = yaml_emitter_open(&em) && yaml_emitter_dump(&em, &d.doc);
	d.loaded = 0;  /* yaml_emitter_dump took the document */
	ok = ok && yaml_emitter_close(&em) && yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	if (!ok)
		status = kgd_err_set(err, KGD_ERR_IO, "%s: cannot print the expanded sequence",
				     path);
out:
	yu_close(&d);
	return status;
}
