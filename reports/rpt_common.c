/*
 * reports/rpt_common.c - what the report writers share: SQLite failures on
 * the context's connection, CSV cells, writing a file whole or not at all,
 * and the measurement keys (parts.csv columns, STDF test numbers).
 *
 * Place in reports/: the bottom. rpt.c (the front) and every writer
 * (rpt_yield.c, rpt_tests.c, rpt_wafer.c, rpt_parts.c, rpt_time.c,
 * rpt_stdf.c) call it; it calls nothing else in reports/ and nothing in
 * db/, so a writer never reaches another writer or the front through it.
 *
 * Invariant: an output path is either replaced whole by a complete file or
 * left as it was.
 */
#include "rpt_int.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rpt_sql_fail(rpt_ctx *c, kgd_err *err)
{
	int code = sqlite3_errcode(c->h);

	return kgd_err_set(err, code == SQLITE_NOMEM ? KGD_ERR_NOMEM : KGD_ERR_DB,
			   "%s: %s", c->db_path, sqlite3_errmsg(c->h));
}

int rpt_prepare(rpt_ctx *c, const char *sql, sqlite3_stmt **st, kgd_err *err)
{
	if (sqlite3_prepare_v2(c->h, sql, -1, st, NULL) != SQLITE_OK)
		return rpt_sql_fail(c, err);
	return KGD_OK;
}

/* ---- CSV cells ---------------------------------------------------------- */

/* libcsv's csv_fwrite() always quotes; bare fields are written only when
 * they need no quoting, so numbers stay numbers for a spreadsheet. */
static void csv_field(FILE *f, int first, const char *s, size_t len)
{
	size_t i;

	if (!first)
		fputc(',', f);
	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			break;
	if (i < len)
		csv_fwrite(f, s, len);
	else
		fwrite(s, 1, len, f);
}

void rpt_csv_str(FILE *f, int first, const char *s)
{
	csv_field(f, first, s ? s : "", s ? strlen(s) : 0);
}

void rpt_csv_col(FILE *f, int first, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	csv_field(f, first, s ? s : "", s ? (size_t)sqlite3_column_bytes(st, col)
					  : 0);
}

void rpt_csv_ll(FILE *f, long long v)
{
	fprintf(f, ",%lld", v);
}

void rpt_csv_int_col(FILE *f, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		rpt_csv_empty(f);
	else
		rpt_csv_ll(f, sqlite3_column_int64(st, col));
}

/* Shortest "%.Ng" that reads back as the same double. The context runs in
 * the C locale, so both snprintf and strtod use '.'. */
void rpt_csv_real(FILE *f, double v)
{
	char buf[40];
	int p;

	if (!isfinite(v)) {   /* no CSV reader agrees on inf/nan spellings */
		rpt_csv_empty(f);
		return;
	}
	for (p = 15; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	rpt_csv_str(f, 0, buf);
}

void rpt_csv_pct(FILE *f, long long part, long long whole)
{
	if (whole <= 0)
		rpt_csv_empty(f);
	else
		fprintf(f, ",%.2f", 100.0 * (double)part / (double)whole);
}

void rpt_csv_empty(FILE *f)
{
	fputc(',', f);
}

void rpt_csv_end_row(FILE *f)
{
	fputc('\n', f);
}

/* ---- files -------------------------------------------------------------- */

char *rpt_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

char *rpt_safe_name(const char *s)
{
	char *out = strdup(s ? s : "");
	char *p;

	for (p = out; p && *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			*p = '_';
	/* "." and ".." are names of folders, not files */
	if (out && (strcmp(out, ".") == 0 || strcmp(out, "..") == 0))
		out[0] = '_';
	return out;
}

char *rpt_wafer_path(const char *dir, const char *prefix, const char *lot,
		     const char *wafer, const char *ext)
{
	char *safe_lot = rpt_safe_name(lot), *safe_wafer = rpt_safe_name(wafer);
	char *path = NULL;
	size_t n;

	if (safe_lot && safe_wafer) {
		n = strlen(dir) + strlen(prefix) + strlen(safe_lot) +
		    strlen(safe_wafer) + strlen(ext) + 3;
		path = malloc(n);
		if (path)
			snprintf(path, n, "%s/%s%s_%s%s", dir, prefix, safe_lot,
				 safe_wafer, ext);
	}
	free(safe_lot);
	free(safe_wafer);
	return path;
}

int rpt_emit(rpt_ctx *c, const char *path, rpt_body_fn body, void *arg,
	     kgd_err *err)
{
	FILE *f = NULL;
	char *tmp = NULL;
	int status;

	tmp = malloc(strlen(path) + sizeof(".tmp"));
	if (!tmp)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", path);
	sprintf(tmp, "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	status = body(c, f, arg, err);
	if (status)
		goto out;
	/* stdio errors are sticky: one check here catches every write. */
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", tmp,
				     strerror(errno ? errno : EIO));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		status = kgd_err_set(err, KGD_ERR_IO, "%s: %s", path,
				     strerror(errno));
out:
	if (f)
		fclose(f);
	if (status)
		unlink(tmp);
	free(tmp);
	return status;
}

struct csv_job {
	const char *const *header;
	rpt_rows_fn rows;
};

static int csv_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	const struct csv_job *job = arg;
	int i;

	for (i = 0; job->header[i]; i++)
		rpt_csv_str(f, i == 0, job->header[i]);
	rpt_csv_end_row(f);
	return job->rows(c, f, err);
}

int rpt_emit_csv(rpt_ctx *c, const char *path, const char *const header[],
		 rpt_rows_fn rows, kgd_err *err)
{
	struct csv_job job = { header, rows };

	return rpt_emit(c, path, csv_body, &job, err);
}

int rpt_emit_per_wafer(rpt_ctx *c, const char *sql, const char *dir,
		       const char *prefix, const char *ext, rpt_body_fn body,
		       void *arg, const char **lot, const char **wafer,
		       int *files, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	char *path = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*lot = (const char *)sqlite3_column_text(st, 0);
		*wafer = (const char *)sqlite3_column_text(st, 1);
		path = rpt_wafer_path(dir, prefix, *lot, *wafer, ext);
		if (!path) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
		status = rpt_emit(c, path, body, arg, err);
		if (status)
			goto out;
		(*files)++;
		free(path);
		path = NULL;
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
out:
	free(path);
	sqlite3_finalize(st);
	return status;
}

void rpt_xml_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

const char *rpt_bin_colour(int has_bin, int bin, int pass)
{
	static const char *const pal[] = {
		"#d55e00", "#0072b2", "#e69f00", "#cc79a7", "#56b4e9",
		"#f0e442", "#9467bd", "#8c564b", "#7f7f7f", "#bcbd22",
		"#17becf", "#e377c2",
	};
	int n = (int)(sizeof(pal) / sizeof(pal[0]));

	if (pass)
		return "#2ca02c";
	if (!has_bin)
		return "#ffffff";
	return pal[((bin % n) + n) % n];
}

/* ---- measurement keys --------------------------------------------------- */

static const rpt_keys *sort_keys;

static int by_text(const void *a, const void *b)
{
	return strcmp(sort_keys->text[*(const size_t *)a],
		      sort_keys->text[*(const size_t *)b]);
}

int rpt_keys_load(rpt_ctx *c, rpt_keys *k, kgd_err *err)
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	size_t cap = 0, i;
	char **grown;
	int rc, status;

	memset(k, 0, sizeof(*k));
	snprintf(sql, sizeof(sql),
		 "SELECT key FROM (SELECT " RPT_KEY_SQL("%s") " AS key,"
		 " min(s.run_id * 4294967296 + m.seq_no) AS first"
		 " FROM temp.sel s JOIN measurement m ON m.run_id = s.run_id"
		 " GROUP BY key) ORDER BY first, key", c->m_name);
	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k->n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(k->text, cap * sizeof(*grown));
			if (!grown)
				goto nomem;
			k->text = grown;
		}
		k->text[k->n] = strdup((const char *)sqlite3_column_text(st, 0));
		if (!k->text[k->n])
			goto nomem;
		k->n++;
	}
	if (rc != SQLITE_DONE) {
		status = rpt_sql_fail(c, err);
		goto out;
	}
	k->by_text = malloc((k->n ? k->n : 1) * sizeof(*k->by_text));
	if (!k->by_text)
		goto nomem;
	for (i = 0; i < k->n; i++)
		k->by_text[i] = i;
	sort_keys = k;  /* qsort has no user pointer; reports are one thread */
	qsort(k->by_text, k->n, sizeof(*k->by_text), by_text);
	goto out;
nomem:
	status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", c->db_path);
out:
	sqlite3_finalize(st);
	if (status)
		rpt_keys_free(k);
	return status;
}

int rpt_keys_units(rpt_ctx *c, rpt_keys *k, kgd_err *err)
{
	char sql[1024];
	sqlite3_stmt *st = NULL;
	const char *u;
	char *grown;
	size_t len, add;
	long i;
	int rc, status;

	k->unit = calloc(k->n ? k->n : 1, sizeof(*k->unit));
	if (!k->unit)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
				   c->db_path);
	snprintf(sql, sizeof(sql),
		 "SELECT DISTINCT " RPT_KEY_SQL("%s") " AS key, m.unit"
		 " FROM temp.sel s JOIN measurement m ON m.run_id = s.run_id"
		 " WHERE m.unit IS NOT NULL AND m.unit <> ''"
		 " ORDER BY key, m.unit", c->m_name);
	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		i = rpt_keys_find(k, (const char *)sqlite3_column_text(st, 0));
		if (i < 0)
			continue;  /* cannot happen: same snapshot */
		u = (const char *)sqlite3_column_text(st, 1);
		len = k->unit[i] ? strlen(k->unit[i]) : 0;
		add = strlen(u) + (len ? 1 : 0);
		grown = realloc(k->unit[i], len + add + 1);
		if (!grown) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
					     c->db_path);
			goto out;
		}
		if (len)
			grown[len++] = '|';
		strcpy(grown + len, u);
		k->unit[i] = grown;
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
out:
	sqlite3_finalize(st);
	return status;
}

long rpt_keys_find(const rpt_keys *k, const char *s)
{
	size_t lo = 0, hi = k->n, mid;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(s, k->text[k->by_text[mid]]);
		if (cmp == 0)
			return (long)k->by_text[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void rpt_keys_free(rpt_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->text[i]);
		if (k->unit)
			free(k->unit[i]);
	}
	free(k->text);
	free(k->unit);
	free(k->by_text);
	memset(k, 0, sizeof(*k));
}
