/*
 * sync/pgs_copy.c - the rows of a SQLite statement COPY'd into a table of
 * the central server: in COPY's binary format when every destination
 * column's type is one encoded here (the server's catalog says), else in
 * the text format.
 *
 * Invariant: a value reaches the server as the file holds it - a double
 * as its own 8 bytes (binary) or 17 significant digits (text), which read
 * back to the same double - or the COPY fails and is ended, so the
 * caller's transaction rolls back whole.
 */
#include "pgs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pgs_copy_value(pgs_buf *b, sqlite3_stmt *st, int col)
{
	const unsigned char *t;
	char num[40];
	int n;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		return pgs_buf_add(b, "\\N", 2);
	case SQLITE_INTEGER:
		n = snprintf(num, sizeof(num), "%lld",
			     (long long)sqlite3_column_int64(st, col));
		return pgs_buf_add(b, num, (size_t)n);
	case SQLITE_FLOAT:
		/* 17 digits read back to the same double on both sides. */
		n = snprintf(num, sizeof(num), "%.17g", sqlite3_column_double(st, col));
		return pgs_buf_add(b, num, (size_t)n);
	default:
		t = sqlite3_column_text(st, col);
		n = sqlite3_column_bytes(st, col);
		if (pgs_buf_reserve(b, 2 * (size_t)n))
			return KGD_ERR_NOMEM;
		for (int i = 0; i < n; i++) {
			char ch = (char)t[i], e = 0;

			switch (ch) {
			case '\\': e = '\\'; break;
			case '\t': e = 't'; break;
			case '\n': e = 'n'; break;
			case '\r': e = 'r'; break;
			default: break;
			}
			if (e) {
				b->p[b->len++] = '\\';
				b->p[b->len++] = e;
			} else {
				b->p[b->len++] = ch;
			}
		}
		b->p[b->len] = '\0';
		return KGD_OK;
	}
}

/* ---- COPY in binary ------------------------------------------------------
 * The rows go in COPY's binary format when every destination column has
 * a type encoded here (nearly always): no number is printed by the
 * station nor parsed by the server, and a double arrives as its own 8
 * bytes. Otherwise the text format, as before. */

#define MAX_COPY_COLS 64

enum { T_NONE, T_INT8, T_INT4, T_INT2, T_FLOAT8, T_TEXT, T_UUID, T_BOOL };

/* The type of each destination column (cols: "a, b, c"), T_NONE for a
 * type not encoded here; -1 when the catalog cannot be read. */
static int column_types(pgs_conn *c, const char *table, const char *cols,
			int *types, int max, int *n)
{
	const char *prm[1] = { table };
	PGresult *r = PQexecParams(c->pg, "SELECT a.attname, t.typname FROM"
				   " pg_attribute a JOIN pg_type t ON t.oid ="
				   " a.atttypid WHERE a.attrelid = $1::regclass"
				   " AND a.attnum > 0 AND NOT a.attisdropped",
				   1, NULL, prm, NULL, NULL, 0);
	const char *p = cols;

	*n = 0;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -1;
	}
	while (*p && *n < max) {
		size_t len;
		int t = T_NONE;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (!len)
			break;
		for (int i = 0; i < PQntuples(r); i++) {
			const char *nm = PQgetvalue(r, i, 0), *ty = PQgetvalue(r, i, 1);

			if (strlen(nm) != len || strncmp(nm, p, len))
				continue;
			t = !strcmp(ty, "int8") ? T_INT8 : !strcmp(ty, "int4") ? T_INT4
			  : !strcmp(ty, "int2") ? T_INT2 : !strcmp(ty, "float8") ? T_FLOAT8
			  : !strcmp(ty, "text") ? T_TEXT : !strcmp(ty, "uuid") ? T_UUID
			  : !strcmp(ty, "bool") ? T_BOOL : T_NONE;
		}
		types[(*n)++] = t;
		p += len;
	}
	PQclear(r);
	return 0;
}

static int put_be(pgs_buf *b, uint64_t v, int bytes)
{
	unsigned char x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return pgs_buf_add(b, (const char *)x, (size_t)bytes);
}

/* A uuid's 16 bytes from its text (hex, dashes allowed); -1 if not one. */
static int put_uuid(pgs_buf *b, const char *s, size_t len)
{
	unsigned char x[16];
	int k = 0;

	for (size_t i = 0; i < len; i++) {
		int h;

		if (s[i] == '-')
			continue;
		h = s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
		  : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
		  : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10 : -1;
		if (h < 0 || k >= 32)
			return -1;
		x[k / 2] = (unsigned char)(k % 2 ? x[k / 2] | h : h << 4);
		k++;
	}
	if (k != 32)
		return -1;
	return put_be(b, 16, 4) || pgs_buf_add(b, (const char *)x, 16) ? -2 : 0;
}

/* One field of type t from text (the row prefix, COPY-escaped text
 * already decoded, or a text value): 0, -1 not that type, -2 no memory. */
static int put_text_as(pgs_buf *b, int t, const char *s, size_t len)
{
	char num[40], *end;

	switch (t) {
	case T_TEXT:
		return put_be(b, (uint32_t)len, 4) || pgs_buf_add(b, s, len) ? -2 : 0;
	case T_UUID:
		return put_uuid(b, s, len);
	default:
		if (len == 0 || len >= sizeof(num))
			return -1;
		memcpy(num, s, len);
		num[len] = '\0';
		if (t == T_FLOAT8) {
			double d = strtod(num, &end);
			uint64_t u;

			if (*end)
				return -1;
			memcpy(&u, &d, 8);
			return put_be(b, 8, 4) || put_be(b, u, 8) ? -2 : 0;
		} else {
			long long v = strtoll(num, &end, 10);
			int w = t == T_INT8 ? 8 : t == T_INT4 ? 4 : t == T_INT2 ? 2 : 1;

			if (*end || t == T_BOOL)
				return -1;
			return put_be(b, (uint32_t)w, 4) || put_be(b, (uint64_t)v, w) ? -2 : 0;
		}
	}
}

/* One SQLite value as a binary field of type t: 0, -1 when the value is
 * not of that type (or out of its range), -2 out of memory. A number in
 * a text column is written as the text format writes it. */
static int put_value(pgs_buf *b, int t, sqlite3_stmt *st, int col)
{
	int vt = sqlite3_column_type(st, col);
	long long v;
	double d;
	uint64_t u;
	char num[40];
	int n;

	if (vt == SQLITE_NULL)
		return put_be(b, 0xffffffffu, 4) ? -2 : 0;
	switch (t) {
	case T_INT8: case T_INT4: case T_INT2: case T_BOOL:
		if (vt != SQLITE_INTEGER)
			return -1;
		v = sqlite3_column_int64(st, col);
		if ((t == T_INT4 && (v < INT32_MIN || v > INT32_MAX)) ||
		    (t == T_INT2 && (v < INT16_MIN || v > INT16_MAX)) ||
		    (t == T_BOOL && v != 0 && v != 1))
			return -1;
		n = t == T_INT8 ? 8 : t == T_INT4 ? 4 : t == T_INT2 ? 2 : 1;
		return put_be(b, (uint32_t)n, 4) || put_be(b, (uint64_t)v, n) ? -2 : 0;
	case T_FLOAT8:
		if (vt != SQLITE_FLOAT && vt != SQLITE_INTEGER)
			return -1;
		d = sqlite3_column_double(st, col);
		memcpy(&u, &d, 8);
		return put_be(b, 8, 4) || put_be(b, u, 8) ? -2 : 0;
	default:
		if (vt == SQLITE_INTEGER)
			n = snprintf(num, sizeof(num), "%lld",
				     (long long)sqlite3_column_int64(st, col));
		else if (vt == SQLITE_FLOAT)
			n = snprintf(num, sizeof(num), "%.17g",
				     sqlite3_column_double(st, col));
		else
			return put_text_as(b, t, (const char *)sqlite3_column_text(st, col),
					   (size_t)sqlite3_column_bytes(st, col));
		return put_text_as(b, t, num, (size_t)n);
	}
}

/* The row prefix (COPY text fields, tab-separated) as binary fields of
 * types t[0..]: 0, -1 when a field is not of its type, -2 no memory. */
static int put_prefix(pgs_buf *b, const int *t, int n_t, const char *prefix,
		      int *n_fields)
{
	char *copy = strdup(prefix), *f, *next;
	int rc = 0;

	*n_fields = 0;
	if (!copy)
		return -2;
	for (f = copy; f && !rc; f = next) {
		next = strchr(f, '\t');
		if (next)
			*next++ = '\0';
		if (*n_fields >= n_t)
			rc = -1;
		else if (pgs_copy_unescape(f))
			rc = put_be(b, 0xffffffffu, 4) ? -2 : 0;
		else
			rc = put_text_as(b, t[*n_fields], f, strlen(f));
		++*n_fields;
	}
	free(copy);
	return rc;
}

int pgs_copy_stmt(pgs_conn *c, pgs_buf *b, const char *table,
		  const char *cols, const char *prefix, sqlite3_stmt *st,
		  const char *path, long long *n, kgd_err *err)
{
	static const char sig[] = "PGCOPY\n\377\r\n";
	PGresult *r = NULL;
	pgs_buf sql = { 0 }, pre = { 0 };
	size_t plen = strlen(prefix);
	int status = KGD_OK, rc, ncol = sqlite3_column_count(st);
	int types[MAX_COPY_COLS], n_types = 0, n_pre = 0, binary = 0, bad;
	int copying = 0;

	*n = 0;
	b->len = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == 0) {
			/* COPY starts with the first row: an empty range
			 * costs no round trip. Binary when every column's
			 * type is one put_value writes. */
			binary = column_types(c, table, cols, types, MAX_COPY_COLS,
					      &n_types) == 0 && ncol < MAX_COPY_COLS;
			for (int i = 0; binary && i < n_types; i++)
				binary = types[i] != T_NONE;
			if (binary) {
				bad = put_prefix(&pre, types, n_types, prefix, &n_pre);
				if (bad == -2)
					goto nomem;
				binary = !bad && n_pre + ncol == n_types;
			}
			if (pgs_buf_printf(&sql, "COPY %s (%s) FROM STDIN%s", table,
					   cols, binary ? " (FORMAT binary)" : ""))
				goto nomem;
			r = PQexec(c->pg, sql.p);
			if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
				status = pgs_fail(c, r, err, "COPY %s", table);
				goto out;
			}
			PQclear(r);
			r = NULL;
			copying = 1;
			if (binary && (pgs_buf_add(b, sig, 11) || put_be(b, 0, 8)))
				goto nomem;
		}
		if (binary) {
			if (put_be(b, (uint64_t)n_types, 2) ||
			    pgs_buf_add(b, pre.p, pre.len))
				goto nomem;
			for (int i = 0; i < ncol; i++) {
				bad = put_value(b, types[n_pre + i], st, i);
				if (bad == -2)
					goto nomem;
				if (bad) {
					status = kgd_err_set(err, KGD_ERR_DB, "%s: %s:"
							     " %s is not of the server's"
							     " type for it (row %lld)",
							     path, table,
							     sqlite3_column_name(st, i),
							     *n + 1);
					goto out;
				}
			}
		} else {
			if (pgs_buf_add(b, prefix, plen))
				goto nomem;
			for (int i = 0; i < ncol; i++)
				if (pgs_buf_add(b, "\t", 1) ||
				    pgs_copy_value(b, st, i))
					goto nomem;
			if (pgs_buf_add(b, "\n", 1))
				goto nomem;
		}
		(*n)++;
		if (b->len >= PGS_COPY_CHUNK) {
			if (PQputCopyData(c->pg, b->p, (int)b->len) != 1) {
				status = pgs_fail(c, NULL, err, "sending rows");
				goto out;
			}
			b->len = 0;
		}
	}
	if (rc != SQLITE_DONE) {
		status = pgs_sqlite_fail(sqlite3_db_handle(st), path, err,
					 "reading");
		goto out;
	}
	if (*n == 0)
		goto out;
	if (binary && put_be(b, 0xffff, 2))
		goto nomem;
	if ((b->len && PQputCopyData(c->pg, b->p, (int)b->len) != 1) ||
	    PQputCopyEnd(c->pg, NULL) != 1) {
		status = pgs_fail(c, NULL, err, "COPY %s", table);
		goto out;
	}
	r = PQgetResult(c->pg);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		status = pgs_fail(c, r, err, "COPY %s", table);
		goto out;
	}
	goto out;
nomem:
	status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
out:
	if (status && copying && c->pg &&
	    PQtransactionStatus(c->pg) == PQTRANS_ACTIVE) {
		/* End a COPY cut short so the connection can roll back. */
		PGresult *x;

		PQputCopyEnd(c->pg, "upload stopped");
		while ((x = PQgetResult(c->pg)) != NULL)
			PQclear(x);
	}
	b->len = 0;
	PQclear(r);
	pgs_buf_free(&sql);
	pgs_buf_free(&pre);
	return status;
}
