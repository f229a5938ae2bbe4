/*
 * sync/pgs_int.h - what the files of sync/ share (not for other modules):
 * the connection to the central server with its printable name, the list
 * of tables that travel, and each layer's entry points.
 *
 * Layers (tests/callgraph.sh): pgs.c (the front: all of pgs.h) calls
 * pgs_up.c (upload), pgs_pull.c (report pull) and pgs_tests.c (the
 * measurements a report counts, streamed), which call
 * pgs_screen.c (the outlier screens, sent by version), which calls
 * pgs_schema.c (the central schema and its migrations), then
 * pgs_copy.c (rows of a SQLite statement COPY'd in, binary or text),
 * then pgs_core.c (connections, errors, COPY text decoded); each calls
 * only the ones below it.
 *
 * Invariant: a message never holds a password: the server is named by
 * pgs_conn.label (user@host:port/dbname or service=NAME), built from the
 * connection's options without the password.
 */
#ifndef KGD_PGS_INT_H
#define KGD_PGS_INT_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "pgs.h"

/* One open connection to the central server. */
typedef struct pgs_conn {
	PGconn *pg;
	char label[256];          /* the server, for messages (no password) */
	char server_uuid[64];     /* kgd_meta.server_uuid, after pgs_schema_ready */
	int version;              /* the server's central schema version */
} pgs_conn;

/* A growing text buffer (COPY data, SQL). */
typedef struct pgs_buf {
	char *p;
	size_t len, cap;
} pgs_buf;

/* The tables a station file sends, in an order that keeps references
 * pointing backwards; the last three hold the bulk. Each is keyed on the
 * server by (src, id), the file's uuid and the local id, except
 * measurement: (src, run_id, seq_no). */
#define PGS_N_TABLES 14
extern const char *const pgs_tables[PGS_N_TABLES];
/* Index of the first per-run table (run); those before are dimensions. */
#define PGS_FIRST_RUN_TABLE 11
#define PGS_T_SESSION 7

/* The outlier screens (station screen), which a rescreen rewrites in
 * the file: sent whole, one version at a time (pgs_screen.c), never by
 * id marks. */
#define PGS_N_SCREEN 3
extern const char *const pgs_screen_tables[PGS_N_SCREEN];

/* ---- pgs_core.c ---------------------------------------------------------- */

/* Connect to target (a postgresql:// URL, a key=value conninfo string, or
 * a libpq service name): libpq's own password sources (passfile,
 * service file, PGPASSWORD) apply; connect_timeout defaults to 10 s.
 * On failure c->pg is NULL and err names the server. */
int pgs_connect(pgs_conn *c, const char *target, kgd_err *err);
void pgs_disconnect(pgs_conn *c);

/* err = "<server>: <what>: <libpq's first line>"; returns KGD_ERR_DB
 * (KGD_ERR_IO when the connection is gone). res may be NULL. */
int pgs_fail(pgs_conn *c, const PGresult *res, kgd_err *err,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Run sql (no parameters), expecting a command (want_rows 0) or rows. */
int pgs_exec(pgs_conn *c, const char *sql, int want_rows, PGresult **out,
	     const char *what, kgd_err *err);
int pgs_execp(pgs_conn *c, const char *sql, int n, const char *const *params,
	      int want_rows, PGresult **out, const char *what, kgd_err *err);

int pgs_buf_reserve(pgs_buf *b, size_t more);
int pgs_buf_add(pgs_buf *b, const char *s, size_t n);
int pgs_buf_printf(pgs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pgs_buf_free(pgs_buf *b);

/* Append one SQLite value in COPY text format (\N for NULL, reals with
 * 17 significant digits, text with \\, \t, \n, \r escaped). */
int pgs_copy_value(pgs_buf *b, sqlite3_stmt *st, int col);

/* COPY every row st (prepared and bound) yields into table: the
 * destination columns cols, each row prefix (COPY text fields already
 * escaped, tab-separated, e.g. the file's uuid) then st's columns. No
 * row: no COPY at all. The rows go in COPY's binary format when every
 * destination column's type (read from the server's catalog) is one it
 * encodes - bigint, integer, smallint, double precision, text, uuid,
 * boolean - else in text; a value not of its column's type is an error
 * naming the file, table and column. b is the send buffer (sent every PGS_COPY_CHUNK
 * bytes). *n counts the rows; on failure a COPY in progress is ended so
 * the caller can roll back. path names the file in a read error. */
#define PGS_COPY_CHUNK (1 << 20)
int pgs_copy_stmt(pgs_conn *c, pgs_buf *b, const char *table,
		  const char *cols, const char *prefix, sqlite3_stmt *st,
		  const char *path, long long *n, kgd_err *err);

/* Decode one COPY text field in place (the inverse of the escapes);
 * returns 1 when the field is \N (NULL). */
int pgs_copy_unescape(char *field);

/* An SQLite failure on the station file (names the file). */
int pgs_sqlite_fail(sqlite3 *h, const char *path, kgd_err *err,
		    const char *what);

/* ---- pgs_schema.c -------------------------------------------------------- */

/* Newest central schema version this code writes. */
int pgs_schema_newest(void);

/* Read the server's schema version; refuse a newer one; migrate an older
 * one (as a role allowed to, under an advisory lock); read its uuid. */
int pgs_schema_ready(pgs_conn *c, kgd_err *err);

/* The columns of table on the server, in order, without src, as one
 * malloc'ed comma-separated list; and the same check the other way: each
 * of the file's columns (PRAGMA table_info) must exist on the server, or
 * the upload would drop it. *cols is the file's column list (what is
 * sent). */
int pgs_schema_columns(pgs_conn *c, sqlite3 *h, const char *path,
		       const char *table, char **cols, kgd_err *err);

/* ---- pgs_screen.c -------------------------------------------------------- */

/* Send each screen of the file (h, src: its uuid) whose current version
 * the server has not got, each in its own server transaction with its
 * limit and die rows; a screen that judged a run the server has not got
 * (above runs_sent) waits for a later upload. b: the COPY buffer.
 * *screens and *rows count what was sent. */
int pgs_screen_up(pgs_conn *c, sqlite3 *h, const char *path, const char *src,
		  long long runs_sent, pgs_buf *b, long long *screens,
		  long long *rows, kgd_err *err);

/* ---- pgs_up.c / pgs_pull.c ----------------------------------------------- */

int pgs_up_run(pgs_conn *c, const char *db_path, const pgs_options *o,
	       pgs_stats *st, kgd_err *err);
int pgs_up_waiting(const char *db_path, const char *server_uuid,
		   pgs_waiting *w, kgd_err *err);
int pgs_pull_run(pgs_conn *c, const char *out_path, const pgs_filter *f,
		 pgs_stats *st, kgd_err *err);

/* ---- pgs_tests.c (beside pgs_pull.c) ------------------------------------- */

int pgs_tests_run(pgs_conn *c, const pgs_select *sel, pgs_meas_fn fn,
		  void *user, pgs_stats *st, kgd_err *err);

#endif
