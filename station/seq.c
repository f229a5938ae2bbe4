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
#include "seq_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const root_keys[] = {
	"sequence", "version", "product", "process", "roles", "setup", "main",
	"cleanup", "bins", "hard_bins", "vars", "include", NULL
};
static const char *const bin_keys[] = { "name", "pass", "hard", NULL };
static const char *const hard_bin_keys[] = { "name", "pass", NULL };

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
	dup = seq_bin_in(table, *n, number);
	if (dup) {
		/* Compared as numbers: "5" and "05" are the same bin. */
		yu_problem(d, key->start_mark, "duplicate bin %ld (first at %d:%d)",
			   number, dup->loc.line, dup->loc.column);
		return;
	}
	b = &table[(*n)++];
	b->number = (int)number;
	b->hard = (int)number;
	b->loc = seq_loc_of(key);
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
	hb = s->hard_bins ? seq_bin_in(s->hard_bins, s->n_hard_bins, number) : NULL;
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
		s->role_locs[s->n_roles] = seq_loc_of(r);
		s->roles[s->n_roles++] = name;
	}
	if (s->n_roles == 0 && count == 0)
		yu_problem(d, n->start_mark, "roles is empty");
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
	seq_parse_steps(d, root, "setup", 0, s, 0, &s->setup, &s->n_setup);
	seq_parse_steps(d, root, "main", 1, s, s->n_setup, &s->main, &s->n_main);
	seq_parse_steps(d, root, "cleanup", 0, s, s->n_setup + s->n_main, &s->cleanup,
		    &s->n_cleanup);
	seq_check_step_names(d, s);
	seq_check_skip_if(d, s);
}

/* The text a run keeps of a sequence with include: the file's bytes,
 * then each included file's after a marker line naming it, so the digest
 * covers the sequence as expanded from exactly these files. A sequence
 * without includes keeps its bytes as they are. */
static int with_includes(yu_doc *d)
{
	size_t len = d->len;
	char *text, *w;

	if (!d->n_files)
		return 0;
	for (size_t i = 0; i < d->n_files; i++)
		len += strlen(d->files[i].path) + 32 + d->files[i].len;
	text = malloc(len + 1);
	if (!text)
		return -1;
	memcpy(text, d->text, d->len);
	w = text + d->len;
	for (size_t i = 0; i < d->n_files; i++) {
		w += sprintf(w, "\n# ---- include: %s ----\n", d->files[i].path);
		memcpy(w, d->files[i].text ? d->files[i].text : "", d->files[i].len);
		w += d->files[i].len;
	}
	*w = '\0';
	free(d->text);
	d->text = text;
	d->len = (size_t)(w - text);
	return 0;
}

/* The walker behind seq_load (out set), seq_check (out NULL) and
 * seq_check_load (partial: *out gets what could be read even when there
 * were problems). */
static int seq_parse(const char *path, yu_report_fn report, void *user,
		     seq_sequence **out, int partial, kgd_err *err)
{
	seq_sequence *s = NULL;
	yaml_node_t *root = NULL;
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
		seq_expand(&d);
		if (d.n_files) {
			s->files = yu_calloc(&d, d.n_files, sizeof(*s->files));
			s->chains = yu_calloc(&d, d.n_files, sizeof(*s->chains));
			for (size_t i = 0; s->files && s->chains && i < d.n_files; i++) {
				s->chains[i] = yu_strdup(&d, d.files[i].chain);
				s->files[s->n_files++] = yu_strdup(&d, d.files[i].path);
			}
		}
		root = yu_root(&d);
		if (root)
			parse_root(&d, root, s);
	}
	status = yu_status(&d);
	if (partial && s && root) {
		*out = s;  /* no text, no digest: for the checker only */
		s = NULL;
		goto out;
	}
	/* yu_calloc records its failure in the status; !s says so to the
	 * compiler too. */
	if (status != KGD_OK || !out || !s)
		goto out;
	if (with_includes(&d) != 0) {
		status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (seq_sha256_hex(d.text, d.len, s->sha256) != 0) {
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
	return seq_parse(path, NULL, NULL, out, 0, err);
}

int seq_check_load(const char *path, void (*report)(void *user, const char *msg),
		   void *user, seq_sequence **out, kgd_err *err)
{
	*out = NULL;
	return seq_parse(path, report, user, out, 1, err);
}

int seq_check(const char *path, void (*report)(void *user, const char *msg),
	      void *user, kgd_err *err)
{
	return seq_parse(path, report, user, NULL, 0, err);
}

void seq_free(seq_sequence *s)
{
	size_t i;

	if (!s)
		return;
	free(s->path);
	free(s->name);
	free(s->product);
	seq_free_steps(s->setup, s->n_setup);
	seq_free_steps(s->main, s->n_main);
	seq_free_steps(s->cleanup, s->n_cleanup);
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
	for (i = 0; i < s->n_files; i++) {
		free(s->files[i]);
		free(s->chains[i]);
	}
	free(s->files);
	free(s->chains);
	free(s);
}

