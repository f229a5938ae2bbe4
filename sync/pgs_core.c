/*
 * sync/pgs_core.c - the bottom of sync/: connecting to the central server
 * and naming it, how a failure is told, and decoding COPY's text format.
 *
 * Invariant: the server's label is built from the connection's options
 * without the password, and libpq's own message is cut to its first line;
 * libpq never puts a password in a message, so no message here holds one.
 */
#include "pgs_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "user@host:port/dbname", or "service=NAME" when a service names it. */
static void make_label(pgs_conn *c, const char *target)
{
	PQconninfoOption *opts = c->pg ? PQconninfo(c->pg) : NULL;
	const char *host = NULL, *port = NULL, *db = NULL, *user = NULL,
		   *service = NULL;

	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "hostaddr") && !host)
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "dbname"))
			db = o->val;
		else if (!strcmp(o->keyword, "user"))
			user = o->val;
		else if (!strcmp(o->keyword, "service"))
			service = o->val;
	}
	if (service)
		snprintf(c->label, sizeof(c->label), "server service=%s (%s%s%s:%s/%s)",
			 service, user ? user : "", user ? "@" : "",
			 host ? host : "localhost", port ? port : "5432",
			 db ? db : "?");
	else if (opts)
		snprintf(c->label, sizeof(c->label), "server %s%s%s:%s/%s",
			 user ? user : "", user ? "@" : "",
			 host ? host : "localhost", port ? port : "5432",
			 db ? db : "?");
	else
		snprintf(c->label, sizeof(c->label), "server %.200s",
			 strchr(target, '@') ? "(URL with credentials)" : target);
	PQconninfoFree(opts);
}

/* libpq's message up to its first newline, without "FATAL:  "/"ERROR:  ". */
static void first_line(const char *m, char *out, size_t cap)
{
	size_t n;

	if (!m || !*m)
		m = "unknown error";
	if (!strncmp(m, "connection to server ", 21)) {
		/* "connection to server on socket ... failed: REASON" */
		const char *r = strstr(m, " failed: ");
		if (r)
			m = r + 9;
	}
	if (!strncmp(m, "FATAL:  ", 8) || !strncmp(m, "ERROR:  ", 8))
		m += 8;
	n = strcspn(m, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, m, n);
	out[n] = '\0';
}

/* libpq prints the server's notices and warnings to stderr by default;
 * only station/ prints, and an error reaches it through kgd_err. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int pgs_connect(pgs_conn *c, const char *target, kgd_err *err)
{
	/* Keywords in order: a later one wins, so the target (expanded
	 * from dbname) overrides the default connect_timeout. */
	const char *kw[4] = { "connect_timeout", "dbname", NULL, NULL };
	const char *val[4] = { "10", target, NULL, NULL };
	char why[300];
	int is_conninfo = strchr(target, '=') || !strncmp(target, "postgres://", 11) ||
			  !strncmp(target, "postgresql://", 13);

	memset(c, 0, sizeof(*c));
	if (!is_conninfo) {
		kw[1] = "service";
		kw[2] = "dbname";
		val[2] = NULL;
	}
	c->pg = PQconnectdbParams(kw, val, 1);
	make_label(c, target);
	if (!c->pg)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", c->label);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		first_line(PQerrorMessage(c->pg), why, sizeof(why));
		kgd_err_set(err, KGD_ERR_IO, "%s: cannot connect: %s", c->label, why);
		PQfinish(c->pg);
		c->pg = NULL;
		return KGD_ERR_IO;
	}
	PQsetNoticeProcessor(c->pg, quiet, NULL);
	return KGD_OK;
}

void pgs_disconnect(pgs_conn *c)
{
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
}

int pgs_fail(pgs_conn *c, const PGresult *res, kgd_err *err,
	     const char *fmt, ...)
{
	char what[256], why[300];
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!m || !*m)
		m = c->pg ? PQerrorMessage(c->pg) : NULL;
	first_line(m, why, sizeof(why));
	kgd_err_set(err, KGD_ERR_DB, "%s: %s: %s", c->label, what, why);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK)
		return err ? (err->status = KGD_ERR_IO) : KGD_ERR_IO;
	return KGD_ERR_DB;
}

int pgs_execp(pgs_conn *c, const char *sql, int n, const char *const *params,
	      int want_rows, PGresult **out, const char *what, kgd_err *err)
{
	/* Without parameters, the simple protocol: a migration is several
	 * statements in one string. */
	PGresult *r = n ? PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0)
			: PQexec(c->pg, sql);
	ExecStatusType want = want_rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
	int status = KGD_OK;

	if (!r || PQresultStatus(r) != want) {
		status = pgs_fail(c, r, err, "%s", what);
		PQclear(r);
		r = NULL;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return status;
}

int pgs_exec(pgs_conn *c, const char *sql, int want_rows, PGresult **out,
	     const char *what, kgd_err *err)
{
	return pgs_execp(c, sql, 0, NULL, want_rows, out, what, err);
}

int pgs_buf_reserve(pgs_buf *b, size_t more)
{
	if (b->len + more + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		char *p;

		while (cap < b->len + more + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return KGD_ERR_NOMEM;
		b->p = p;
		b->cap = cap;
	}
	return KGD_OK;
}

int pgs_buf_add(pgs_buf *b, const char *s, size_t n)
{
	if (pgs_buf_reserve(b, n))
		return KGD_ERR_NOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return KGD_OK;
}

int pgs_buf_printf(pgs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || pgs_buf_reserve(b, (size_t)n))
		return KGD_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return KGD_OK;
}

void pgs_buf_free(pgs_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int pgs_copy_unescape(char *f)
{
	char *w = f;

	if (f[0] == '\\' && f[1] == 'N' && f[2] == '\0')
		return 1;
	for (char *r = f; *r; r++) {
		if (*r != '\\' || !r[1]) {
			*w++ = *r;
			continue;
		}
		r++;
		switch (*r) {
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'v': *w++ = '\v'; break;
		default: *w++ = *r; break;
		}
	}
	*w = '\0';
	return 0;
}

int pgs_sqlite_fail(sqlite3 *h, const char *path, kgd_err *err,
		    const char *what)
{
	return kgd_err_set(err, KGD_ERR_DB, "%s: %s: %s", path, what,
			   h ? sqlite3_errmsg(h) : "cannot open");
}
