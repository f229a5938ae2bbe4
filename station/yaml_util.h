/*
 * station/yaml_util.h - the YAML-walking helpers the sequence loader (seq.c)
 * and the station-config loader (cfg.c) share.
 *
 * Both loaders read a whole file into memory, hand the bytes to libyaml's
 * document API and then walk the node tree, checking every key and value.
 * The invariant this module keeps: every problem found is formatted exactly
 * once as "path:line:column: message" (1-based, from the libyaml mark of the
 * offending node); yu_status() hands them all to the optional report
 * callback in file order and leaves the first one in the caller's kgd_err.
 * A walker therefore keeps going after a problem (to find them all) and
 * calls yu_status() once at the end.
 *
 * Value helpers are strict and locale-independent: "12abc", "nan", "0x10"
 * and quoted numbers are not numbers; booleans are true/false/yes/no.
 */
#ifndef KGD_YAML_UTIL_H
#define KGD_YAML_UTIL_H

#include <stddef.h>
#include <yaml.h>
#include "kgd/status.h"

/* Called once per problem with "path:line:column: message". */
typedef void (*yu_report_fn)(void *user, const char *msg);

typedef struct yu_msg {
	int status;
	size_t file, line, column, order;  /* sort key: file (0: this one,
	                                      k: included file k), position,
	                                      then found */
	char *text;
} yu_msg;

/* A file whose nodes were copied into this document (include:, see
 * seq_include.c): nodes from it carry YU_FILE_MARK(k) in their marks'
 * index, so problems at them name it. */
typedef struct yu_file {
	char *path;
	char *chain;          /* " (included from a.yaml:3:12)" */
	char *text;           /* its bytes (owned) */
	size_t len;
} yu_file;

#define YU_FILE_BIT ((size_t)1 << 62)
#define YU_FILE_MARK(k) (YU_FILE_BIT | (size_t)(k))
/* The included file (1-based) a mark is in; 0: the document's own. */
static inline size_t yu_mark_file(yaml_mark_t m)
{
	return (m.index & YU_FILE_BIT) ? (m.index & ~YU_FILE_BIT) : 0;
}

typedef struct yu_doc {
	const char *path;     /* borrowed, for messages */
	char *text;           /* the file's bytes, NUL-terminated (owned) */
	size_t len;
	yaml_document_t doc;
	int loaded;           /* doc must be deleted */
	yu_report_fn report;  /* may be NULL */
	void *user;
	kgd_err *err;         /* borrowed, may be NULL; gets the first problem */
	int nomem;            /* an allocation failed: the result is unusable */
	yu_msg *msgs;         /* problems not yet handed out, see yu_status() */
	size_t n_msgs, cap_msgs, n_flushed;
	yu_file *files;       /* included files, files[k - 1] is file k */
	size_t n_files;
} yu_doc;

/* Read path and parse it as exactly one YAML document. Refused before
 * anything is built from it: a file over 16 MiB ("path: file too large
 * (over 16777216 bytes)"), lists and mappings nested deeper than 64
 * levels; refused after loading: a value or key holding a NUL (a "\0"
 * escape), which every C string would cut. Returns KGD_OK,
 * KGD_ERR_NOT_FOUND / KGD_ERR_IO ("path: <strerror>"), KGD_ERR_PARSE (libyaml
 * syntax error, "path:line:column: <problem>") or KGD_ERR_NOMEM; every
 * failure is also reported. d must be released with yu_close() whatever the
 * result; d->text stays valid until then (steal it by setting it to NULL). */
int yu_open(yu_doc *d, const char *path, yu_report_fn report, void *user,
	    kgd_err *err);
void yu_close(yu_doc *d);

/* The root node, or NULL (after reporting) for an empty document. */
yaml_node_t *yu_root(yu_doc *d);

/* Record a problem at mark m (see the invariant above). */
void yu_problem(yu_doc *d, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The path of the file mark m is in (d's own or an included one). */
const char *yu_mark_path(const yu_doc *d, yaml_mark_t m);
/* Move the problems of another document (an included file, opened
 * without a report callback) into d, each followed by chain. */
void yu_adopt(yu_doc *d, yu_doc *from, size_t file, const char *chain);

/* Hand the problems recorded so far to the report callback in file order,
 * put the first in the kgd_err, and return the status a loader returns:
 * OK, PARSE (or NOT_FOUND/IO for the file itself), or NOMEM, which the
 * kgd_err then says even if parse problems were recorded before. */
int yu_status(yu_doc *d);

/* Allocation that records failure in d->nomem (so callers need not). */
void *yu_calloc(yu_doc *d, size_t n, size_t size);
char *yu_strdup(yu_doc *d, const char *s);

/* Node access. yu_get returns the value of key in map (NULL if absent);
 * yu_require also reports "missing required key 'k'" at the map's start. */
yaml_node_t *yu_node(yu_doc *d, int id);
yaml_node_t *yu_get(yu_doc *d, const yaml_node_t *map, const char *key);
yaml_node_t *yu_require(yu_doc *d, const yaml_node_t *map, const char *key);

/* Report unless n has the type; what names the node in the message
 * ("step must be a mapping"). Returns 0 if it has, -1 if not. */
int yu_expect(yu_doc *d, const yaml_node_t *n, yaml_node_type_t type,
	      const char *what);

/* Check a mapping's keys: each must be a scalar, listed in keys
 * (NULL-terminated; keys NULL: any name), and appear once. Reports every offender. Returns the
 * number of problems found. */
int yu_check_keys(yu_doc *d, const yaml_node_t *map, const char *what,
		  const char *const keys[]);

/* A plain empty scalar, "~" or "null": YAML's null. */
int yu_is_null(const yaml_node_t *n);

/* Typed scalar readers: report and return -1 on a bad value. */
int yu_int(yu_doc *d, const yaml_node_t *n, const char *what, long min,
	   long max, long *out);
int yu_double(yu_doc *d, const yaml_node_t *n, const char *what, double *out);
int yu_bool(yu_doc *d, const yaml_node_t *n, const char *what, int *out);
/* true/yes/on -> 1, false/no/off -> 0 (any case); -1 for anything else. */
int yu_bool_word(const char *s, int *out);
/* A non-null scalar, copied (caller frees); NULL after reporting. */
char *yu_string(yu_doc *d, const yaml_node_t *n, const char *what);

/* Pure parsers of scalar text, no reporting: 0 if s is entirely a base-10
 * integer / a finite decimal number, -1 otherwise. */
int yu_parse_int(const char *s, long *out);
int yu_parse_double(const char *s, double *out);

/* s is a non-empty run of [a-z0-9_] (role, operation and variable names). */
int yu_is_name(const char *s);

/* How a value is quoted in a problem: cut, so one bad scalar cannot fill
 * the message. */
#define YU_QUOTE "%.60s"

#endif
