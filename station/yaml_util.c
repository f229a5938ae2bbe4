/*
 * station/yaml_util.c - see yaml_util.h: read a file, parse it with libyaml's
 * document API, and walk the node tree with strict typed readers.
 *
 * Invariant: every problem goes through report_msg(), which queues it;
 * yu_status() alone hands queued problems out (report callback, first one
 * into the caller's kgd_err), so each is reported exactly once and in file
 * order. Nothing here prints.
 */
#include "yaml_util.h"
#include "diag.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A sequence or config is a page of text; anything this big is a mistake
 * (or /dev/zero) and must not be slurped. */
#define YU_MAX_FILE (16u * 1024u * 1024u)

/* Lists and mappings inside each other: a sequence or config needs some
 * eight levels. libyaml's scanner costs time quadratic in the depth
 * (100,000 levels in a 200 KB file took 20 to 40 s), so a deeper file is
 * refused before it is loaded. */
#define YU_MAX_DEPTH 64


/* Problems are kept until yu_status() so they can be handed out in file
 * order: a walker visits keys in the order it needs them, a reader fixes a
 * file top to bottom. */
static void report_msg(yu_doc *d, int status, yaml_mark_t m, const char *msg)
{
	yu_msg *nmsgs;
	char *text;

	if (d->n_msgs == d->cap_msgs) {
		size_t cap = d->cap_msgs ? d->cap_msgs * 2 : 8;

		nmsgs = realloc(d->msgs, cap * sizeof(*nmsgs));
		if (!nmsgs) {
			d->nomem = 1;
			return;
		}
		d->msgs = nmsgs;
		d->cap_msgs = cap;
	}
	text = strdup(msg);
	if (!text) {
		d->nomem = 1;
		return;
	}
	d->msgs[d->n_msgs].status = status;
	d->msgs[d->n_msgs].file = yu_mark_file(m);
	d->msgs[d->n_msgs].line = m.line;
	d->msgs[d->n_msgs].column = m.column;
	d->msgs[d->n_msgs].order = d->n_msgs;
	d->msgs[d->n_msgs].text = text;
	d->n_msgs++;
}

static int msg_cmp(const void *a, const void *b)
{
	const yu_msg *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void yu_problem(yu_doc *d, yaml_mark_t m, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int off;

	size_t k = yu_mark_file(m);

	off = snprintf(msg, sizeof(msg), "%s:%zu:%zu: ", yu_mark_path(d, m),
		       (size_t)m.line + 1, (size_t)m.column + 1);
	if (off < 0 || (size_t)off >= sizeof(msg))
		off = 0;
	va_start(ap, fmt);
	vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
	va_end(ap);
	/* A problem in an included file says how it got in. */
	if (k >= 1 && k <= d->n_files && d->files[k - 1].chain) {
		size_t used = strlen(msg);

		snprintf(msg + used, sizeof(msg) - used, "%s", d->files[k - 1].chain);
	}
	report_msg(d, KGD_ERR_PARSE, m, msg);
}

const char *yu_mark_path(const yu_doc *d, yaml_mark_t m)
{
	size_t k = yu_mark_file(m);

	return k >= 1 && k <= d->n_files ? d->files[k - 1].path : d->path;
}

void yu_adopt(yu_doc *d, yu_doc *from, size_t file, const char *chain)
{
	for (size_t i = 0; i < from->n_msgs; i++) {
		char msg[1200];
		yaml_mark_t m = { YU_FILE_MARK(file), from->msgs[i].line,
				  from->msgs[i].column };

		snprintf(msg, sizeof(msg), "%s%s", from->msgs[i].text, chain);
		report_msg(d, from->msgs[i].status, m, msg);
	}
	if (from->nomem)
		d->nomem = 1;
}

static int read_file(yu_doc *d)
{
	char msg[1024];
	FILE *f = NULL;
	char *buf = NULL, *nbuf;
	size_t cap = 4096, ncap, len = 0, got;
	int status = KGD_OK;

	f = fopen(d->path, "rb");
	if (!f) {
		status = errno == ENOENT ? KGD_ERR_NOT_FOUND : KGD_ERR_IO;
		snprintf(msg, sizeof(msg), "%s: %s", d->path, strerror(errno));
		goto out;
	}
	buf = malloc(cap);
	if (!buf)
		goto nomem;
	for (;;) {
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
		if (len > YU_MAX_FILE) {
			status = KGD_ERR_IO;
			snprintf(msg, sizeof(msg), "%s: file too large (over %u bytes)",
				 d->path, YU_MAX_FILE);
			goto out;
		}
		if (cap - len - 1 > 0)
			continue;
		/* Room for YU_MAX_FILE bytes, one more to see that a file is
		 * over, and the NUL: never doubled past what the cap needs. */
		ncap = cap * 2 < YU_MAX_FILE + 2 ? cap * 2 : YU_MAX_FILE + 2;
		nbuf = realloc(buf, ncap);
		if (!nbuf)
			goto nomem;
		buf = nbuf;
		cap = ncap;
	}
	if (ferror(f)) {
		status = KGD_ERR_IO;
		snprintf(msg, sizeof(msg), "%s: %s", d->path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	d->text = buf;
	d->len = len;
	buf = NULL;
	goto out;
nomem:
	d->nomem = 1;
	status = KGD_ERR_NOMEM;
	snprintf(msg, sizeof(msg), "%s: out of memory", d->path);
out:
	if (f)
		fclose(f);
	free(buf);
	if (status != KGD_OK) {
		yaml_mark_t top = { 0, 0, 0 };

		report_msg(d, status, top, msg);
	}
	return status;
}

/* libyaml's reader errors (bad UTF-8, control characters) carry only a byte
 * offset; turn it into the line and column the other errors have. */
static yaml_mark_t mark_at_offset(const char *text, size_t len, size_t offset)
{
	yaml_mark_t m = { 0, 0, 0 };
	size_t i;

	for (i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			m.column++;  /* count characters, not UTF-8 continuation bytes */
		}
	}
	m.index = offset;
	return m;
}

static int syntax_error(yu_doc *d, yaml_parser_t *p)
{
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR) {
		d->nomem = 1;
		return KGD_ERR_NOMEM;
	}
	if (p->error == YAML_READER_ERROR)
		m = mark_at_offset(d->text, d->len, p->problem_offset);
	yu_problem(d, m, "%s", p->problem ? p->problem : "YAML syntax error");
	return KGD_ERR_PARSE;
}

/* Walk the file's events (no document is built) and refuse it at the
 * first list or mapping deeper than YU_MAX_DEPTH: that event comes before
 * the scanner has gone deeper, so the cost stays linear. A syntax error
 * ends the walk quietly; the load that follows reports it. */
static int check_depth(yu_doc *d)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, status = KGD_OK, done = 0;

	if (!yaml_parser_initialize(&p)) {
		d->nomem = 1;
		return KGD_ERR_NOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)d->text, d->len);
	while (!done && yaml_parser_parse(&p, &ev)) {
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > YU_MAX_DEPTH) {
				yu_problem(d, ev.start_mark, "lists and mappings "
					   "nested deeper than %d levels",
					   YU_MAX_DEPTH);
				status = KGD_ERR_PARSE;
				done = 1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (p.error == YAML_MEMORY_ERROR) {
		d->nomem = 1;
		status = KGD_ERR_NOMEM;
	}
	yaml_parser_delete(&p);
	return status;
}

/* libyaml gives every scalar its length: a "\0" escape makes a NUL inside
 * a value, which every C string after this would silently cut ("a\0b"
 * stored as "a"). Refuse it where it is. */
static int check_nul(yu_doc *d)
{
	yaml_node_t *n;
	int status = KGD_OK;

	for (n = d->doc.nodes.start; n < d->doc.nodes.top; n++) {
		const unsigned char *v = n->data.scalar.value, *z;

		if (n->type != YAML_SCALAR_NODE)
			continue;
		z = memchr(v, 0, n->data.scalar.length);
		if (!z)
			continue;
		yu_problem(d, n->start_mark, "a NUL character (\\0 at byte %zu of "
			   "the text) is not allowed", (size_t)(z - v) + 1);
		status = KGD_ERR_PARSE;
	}
	return status;
}

int yu_open(yu_doc *d, const char *path, yu_report_fn report, void *user,
	    kgd_err *err)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int status, parser_ready = 0;

	memset(d, 0, sizeof(*d));
	d->path = path;
	d->report = report;
	d->user = user;
	d->err = err;
	kgd_err_clear(err);

	status = read_file(d);
	if (status != KGD_OK)
		goto out;
	status = check_depth(d);
	if (status != KGD_OK)
		goto out;
	if (!yaml_parser_initialize(&parser)) {
		d->nomem = 1;
		status = KGD_ERR_NOMEM;
		goto out;
	}
	parser_ready = 1;
	/* Parse the very bytes the caller will hash and keep. */
	yaml_parser_set_input_string(&parser, (const unsigned char *)d->text,
				     d->len);
	if (!yaml_parser_load(&parser, &d->doc)) {
		status = syntax_error(d, &parser);
		goto out;
	}
	d->loaded = 1;
	status = check_nul(d);
	if (status != KGD_OK)
		goto out;

	/* A stray "---" would otherwise hide the rest of the file unread. */
	if (!yaml_parser_load(&parser, &extra)) {
		status = syntax_error(d, &parser);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		yu_problem(d, extra.start_mark,
			   "only one YAML document is allowed per file");
		status = KGD_ERR_PARSE;
	}
	yaml_document_delete(&extra);
out:
	if (parser_ready)
		yaml_parser_delete(&parser);
	if (status != KGD_OK)
		status = yu_status(d);
	return status;
}

void yu_close(yu_doc *d)
{
	size_t i;

	for (i = 0; i < d->n_msgs; i++)
		free(d->msgs[i].text);
	free(d->msgs);
	d->msgs = NULL;
	d->n_msgs = d->cap_msgs = d->n_flushed = 0;
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = 0;
	free(d->text);
	d->text = NULL;
	for (i = 0; i < d->n_files; i++) {
		free(d->files[i].path);
		free(d->files[i].chain);
		free(d->files[i].text);
	}
	free(d->files);
	d->files = NULL;
	d->n_files = 0;
}

int yu_status(yu_doc *d)
{
	diag dg;
	size_t i;

	if (d->n_msgs > d->n_flushed)
		qsort(d->msgs + d->n_flushed, d->n_msgs - d->n_flushed,
		      sizeof(*d->msgs), msg_cmp);
	/* Sorted into file order here; handed out like every other checker's
	 * problems (diag.h). err keeps the file's first problem. */
	diag_init(&dg, d->report, d->user, d->err);
	if (d->n_flushed)
		dg.status = d->msgs[0].status;
	for (i = d->n_flushed; i < d->n_msgs; i++)
		diag_msg(&dg, d->msgs[i].status, d->msgs[i].text);
	d->n_flushed = d->n_msgs;
	if (d->nomem) {
		kgd_err_set(d->err, KGD_ERR_NOMEM, "%s: out of memory", d->path);
		return KGD_ERR_NOMEM;
	}
	if (d->n_msgs)
		return d->msgs[0].status;
	return KGD_OK;
}

yaml_node_t *yu_root(yu_doc *d)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);

	if (!root || yu_is_null(root)) {
		yu_problem(d, d->doc.start_mark, "the file is empty");
		return NULL;
	}
	return root;
}

void *yu_calloc(yu_doc *d, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		d->nomem = 1;
	return p;
}

char *yu_strdup(yu_doc *d, const char *s)
{
	char *p = strdup(s);

	if (!p)
		d->nomem = 1;
	return p;
}

yaml_node_t *yu_node(yu_doc *d, int id)
{
	return yaml_document_get_node(&d->doc, id);
}

static const char *key_text(yu_doc *d, const yaml_node_pair_t *pair)
{
	yaml_node_t *k = yu_node(d, pair->key);

	return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value
						 : NULL;
}

yaml_node_t *yu_get(yu_doc *d, const yaml_node_t *map, const char *key)
{
	const yaml_node_pair_t *pair;
	const char *k;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		k = key_text(d, pair);
		if (k && strcmp(k, key) == 0)
			return yu_node(d, pair->value);
	}
	return NULL;
}

yaml_node_t *yu_require(yu_doc *d, const yaml_node_t *map, const char *key)
{
	yaml_node_t *v = yu_get(d, map, key);

	if (!v)
		yu_problem(d, map->start_mark, "missing required key '%s'", key);
	return v;
}

int yu_expect(yu_doc *d, const yaml_node_t *n, yaml_node_type_t type,
	      const char *what)
{
	static const char *const names[] = {
		[YAML_SCALAR_NODE] = "a single value",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type == type)
		return 0;
	yu_problem(d, n->start_mark, "%s must be %s", what, names[type]);
	return -1;
}

int yu_check_keys(yu_doc *d, const yaml_node_t *map, const char *what,
		  const char *const keys[])
{
	const yaml_node_pair_t *pair, *prev;
	char expected[256];
	size_t off = 0;
	const char *k;
	int i, known, problems = 0;

	expected[0] = '\0';
	for (i = 0; keys && keys[i] && off < sizeof(expected); i++)
		off += (size_t)snprintf(expected + off, sizeof(expected) - off,
					"%s%s", i ? ", " : "", keys[i]);

	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yu_node(d, pair->key);

		k = key_text(d, pair);
		if (!k) {
			yu_problem(d, kn->start_mark, "%s keys must be plain words",
				   what);
			problems++;
			continue;
		}
		for (known = !keys, i = 0; keys && keys[i] && !known; i++)
			known = strcmp(k, keys[i]) == 0;
		if (!known) {
			yu_problem(d, kn->start_mark,
				   "unknown key '" YU_QUOTE "' in %s (expected one of: %s)",
				   k, what, expected);
			problems++;
			continue;
		}
		for (prev = map->data.mapping.pairs.start; prev < pair; prev++) {
			const char *pk = key_text(d, prev);

			if (pk && strcmp(pk, k) == 0) {
				yaml_mark_t first = yu_node(d, prev->key)->start_mark;

				yu_problem(d, kn->start_mark,
					   "duplicate key '%s' (first at %zu:%zu)", k,
					   (size_t)first.line + 1,
					   (size_t)first.column + 1);
				problems++;
				break;
			}
		}
	}
	return problems;
}

int yu_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}
