/*
 * reports/rpt_int.h - what the report files share (not installed): the
 * open report context, the CSV cell writers and the write-whole-or-nothing
 * file helper.
 *
 * Calls go one way: rpt.c (the front: rpt.h; opens the context) -> the
 * writers declared at the end (one per file family; none calls another)
 * -> rpt_common.c (everything else declared here). The context is opened
 * and closed only by rpt.c, so a writer only ever receives one.
 *
 * Invariant: while a context is open its connection holds one read
 * transaction, so every report written through it sees the same snapshot;
 * and the temporary table `sel` holds exactly the selected runs (one per
 * part, see rpt.h), which is the only place a report learns which runs
 * count.
 *
 * temp.sel columns: run_id (PRIMARY KEY), part_id, lot, wafer (NULL for
 * units), x, y (NULL for units), serial, status, hard_bin, soft_bin,
 * sequence_id, product, station, operator, seq_name, seq_version,
 * started_at, ended_at, n_runs (all runs of the part), first_status (the
 * status of the part's first run), last_run (the part's latest run id),
 * pre_status, pre_hard_bin, pre_soft_bin (the run's own verdict and bins)
 * and screen_reason (why the lot's latest screen rejects the run, NULL if
 * it does not). status, hard_bin and soft_bin are FINAL: a run the screen
 * rejects reads 'fail' with the screen's bins, so maps, bins and STDF
 * show what leaves the fab; yield.csv shows both.
 */
#ifndef KGD_RPT_INT_H
#define KGD_RPT_INT_H

#include <locale.h>
#include <sqlite3.h>
#include <stdio.h>

#include "rpt.h"

typedef struct rpt_ctx {
	sqlite3 *h;
	const char *db_path;        /* borrowed, for messages */
	rpt_options opt;            /* copy; strings borrowed */
	/* SQL text for a measurement's optional name: "m.name" on schema 2,
	 * "NULL" on a schema-1 file that has no such column. */
	const char *m_name;
	/* step_result has duration_s (schema 4): testtime.csv has rows. */
	int has_step_time;
	/* wafer has the prober's map geometry (schema 10): the wafer
	 * pictures draw the real wafer. */
	int has_wafer_map;
	long long n_parts;          /* rows in temp.sel */
	locale_t c_locale, old_locale;
} rpt_ctx;

/* ---- rpt_common.c: what the writers share ------------------------------- */

/* Record SQLite's message for the context's connection. */
int rpt_sql_fail(rpt_ctx *c, kgd_err *err);
/* Prepare sql on the context's connection. */
int rpt_prepare(rpt_ctx *c, const char *sql, sqlite3_stmt **st, kgd_err *err);

/* ---- CSV cells (callers write through these only) ----------------------- */
void rpt_csv_str(FILE *f, int first, const char *s);
void rpt_csv_col(FILE *f, int first, sqlite3_stmt *st, int col); /* text/NULL */
void rpt_csv_ll(FILE *f, long long v);
void rpt_csv_int_col(FILE *f, sqlite3_stmt *st, int col); /* int or empty */
void rpt_csv_real(FILE *f, double v);
void rpt_csv_pct(FILE *f, long long part, long long whole); /* empty if 0 */
void rpt_csv_empty(FILE *f);
void rpt_csv_end_row(FILE *f);

/* Write one file whole or not at all: body() writes to "<path>.tmp",
 * which is flushed, synced and renamed onto path; on any error the tmp
 * file is removed and path left as it was. */
typedef int (*rpt_body_fn)(rpt_ctx *c, FILE *f, void *arg, kgd_err *err);
int rpt_emit(rpt_ctx *c, const char *path, rpt_body_fn body, void *arg,
	     kgd_err *err);
/* One file per (lot, wafer) row of sql (two text columns):
 * rpt_wafer_path(dir, prefix, lot, wafer, ext) written by rpt_emit with
 * body(arg), after *lot and *wafer (fields of arg) are pointed at the
 * row's names. Adds the files written to *files. */
int rpt_emit_per_wafer(rpt_ctx *c, const char *sql, const char *dir,
		       const char *prefix, const char *ext, rpt_body_fn body,
		       void *arg, const char **lot, const char **wafer,
		       int *files, kgd_err *err);

/* A CSV: header row (NULL-terminated), then rows(). */
typedef int (*rpt_rows_fn)(rpt_ctx *c, FILE *f, kgd_err *err);
int rpt_emit_csv(rpt_ctx *c, const char *path, const char *const header[],
		 rpt_rows_fn rows, kgd_err *err);

/* "<dir>/<name>" into a malloc'ed string, or NULL. */
char *rpt_path(const char *dir, const char *name);
/* Copy s into a file-name-safe form (A-Z a-z 0-9 . - kept, anything else
 * '_'), malloc'ed, or NULL. */
char *rpt_safe_name(const char *s);
/* "<dir>/<prefix><lot>_<wafer><ext>" with lot and wafer made file-name-safe,
 * malloc'ed, or NULL: the name of a per-wafer file (SVG map, STDF). */
char *rpt_wafer_path(const char *dir, const char *prefix, const char *lot,
		     const char *wafer, const char *ext);

/* The colour of a bin, the same in every report and picture: passing
 * dies green, a bin-less die white, failing bins from a fixed palette
 * indexed by bin number (docs/REPORTS.md), so maps compare side by side. */
const char *rpt_bin_colour(int has_bin, int bin, int pass);

/* s as XML/HTML text or attribute value (& < > " ' escaped); NULL writes
 * nothing. For the SVG pictures and report.html alike. */
void rpt_xml_text(FILE *f, const char *s);

/* ---- measurement keys (parts.csv columns, STDF test numbers) ------------ */

/* SQL expression for a measurement's key text, on alias m:
 * step[:name][@k=v;k=v] with the sweep coordinates in stored order. */
#define RPT_KEY_SQL(name_expr) \
	"m.step || coalesce(':' || " name_expr ", '') || coalesce('@' || " \
	"(SELECT group_concat(j.key || '=' || j.value, ';') FROM " \
	"json_each(m.coords) j), '')"

/* Every distinct key of the selected runs' measurements, in order of first
 * measurement (run id, then seq_no), then byte order; index i is column i
 * of parts.csv and STDF test number i + 1. */
typedef struct rpt_keys {
	char **text;                /* owned */
	/* The key's units, distinct, in byte order, joined by '|' ("" when
	 * no measurement of it has one); owned, from rpt_keys_units(). */
	char **unit;
	size_t n;
	size_t *by_text;            /* indexes sorted by text, for lookup */
} rpt_keys;

int rpt_keys_load(rpt_ctx *c, rpt_keys *k, kgd_err *err);
/* Fill k->unit (rpt_keys_load leaves it NULL: only parts.csv needs it). */
int rpt_keys_units(rpt_ctx *c, rpt_keys *k, kgd_err *err);
/* Index of key text s, or -1. */
long rpt_keys_find(const rpt_keys *k, const char *s);
void rpt_keys_free(rpt_keys *k);

/* ---- the report writers (one per file family), called by rpt.c only ----- */
int rpt_yield(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_bins(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_tests(rpt_ctx *c, const char *path, kgd_err *err);
/* rpt_tests_acc (rpt.h) inside: rpt.c sets the locale around the write. */
int rpt_tacc_new(rpt_tests_acc **out);
int rpt_tacc_add(rpt_tests_acc *a, const char *step, const char *name,
		 const char *unit, const double *low, const double *high,
		 const double *value, int pass);
int rpt_tacc_write(rpt_tests_acc *a, const char *path, kgd_err *err);
void rpt_tacc_free(rpt_tests_acc *a);
int rpt_teststats(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_pareto(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_wafermap(rpt_ctx *c, const char *dir, int *files, kgd_err *err);
/* rpt_wafer_svg.c: the per-wafer pictures (called by rpt_wafermap only) */
int rpt_wafer_svgs(rpt_ctx *c, const char *dir, int *files, kgd_err *err);
/* One wafer's picture into f: the SVG files and report.html's inline maps
 * are this one drawing (inline_html: no XML declaration). */
int rpt_wafer_pic(rpt_ctx *c, FILE *f, const char *lot, const char *wafer,
		  int inline_html, kgd_err *err);
int rpt_parts(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_testtime(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_instruments(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_stdf(rpt_ctx *c, const char *dir, int *files, kgd_err *err);
int rpt_pat_limits(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_html(rpt_ctx *c, const char *path, kgd_err *err);
int rpt_trend(rpt_ctx *c, const char *path, kgd_err *err);

#endif
