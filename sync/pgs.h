/*
 * sync/pgs.h - store-and-forward of a station's results file to the
 * fab's central PostgreSQL server, and the way back for reports.
 *
 * The SQLite file stays the station's record of truth: testing never
 * waits for the server. What is committed in the file (sessions, parts,
 * runs, measurements, step results, limits sets, sequences, bins, what
 * measured, and the lot's outlier screens) is copied to the server with COPY, one server
 * transaction per batch of runs; each batch also records, on the server
 * and in the same transaction, how far this file got (sync_batch), so an
 * upload cut anywhere - server stopped, station killed - resumes exactly
 * there: no row is sent twice, none is skipped. The file's own marks
 * (sync_mark) are written only after the server's COMMIT.
 *
 * Rows are keyed on the server by the file's uuid (sync_source) and
 * their local ids, so any number of stations feed one server. A part in
 * flight has no rows in the file (one transaction per part, db.h), so it
 * is never sent; a retest is a new run, as locally.
 *
 * The server is named in messages as user@host:port/dbname (or
 * service=NAME), never with its password: passwords come only from
 * libpq's own sources (~/.pgpass or PGPASSFILE, the service file,
 * PGPASSWORD). The central schema: docs/CENTRAL_DB.md.
 */
#ifndef KGD_PGS_H
#define KGD_PGS_H

#include "kgd/status.h"

typedef struct pgs_options {
	long batch_rows;      /* measurements per server transaction (0: 200000) */
} pgs_options;

typedef struct pgs_stats {
	long long rows;           /* rows sent (all tables) */
	long long runs;           /* runs sent */
	long long measurements;   /* measurements sent */
	long long batches;        /* server transactions committed */
	long long screens;        /* screen versions sent (each its own
	                             transaction, not in batches) */
	char server[256];         /* the server, as messages name it */
} pgs_stats;

/* What the server has not got yet, as far as the file knows. */
typedef struct pgs_waiting {
	long long runs;
	long long measurements;
	int known;                /* 0: this server was never reached */
} pgs_waiting;

/* Newest central schema version this code knows. */
int pgs_schema_version(void);

/* Upload everything committed in db_path (a station file, opened and
 * migrated with db_open() first) that the server at target has not got.
 * target: a postgresql:// URL, a key=value conninfo or a libpq service
 * name. A second upload of the same file to the same server at the same
 * time is refused (KGD_ERR_DB, "another sync ... is running"); it never
 * duplicates. Errors name the server or the file; the file's data is
 * never changed (only its sync marks, after the server committed). o may
 * be NULL. */
int pgs_sync(const char *db_path, const char *target, const pgs_options *o,
	     pgs_stats *st, kgd_err *err);

/* What is still waiting in db_path for the server with uuid server_uuid
 * (NULL: the one last reached). */
int pgs_waiting_count(const char *db_path, const char *server_uuid,
		      pgs_waiting *w, kgd_err *err);

/* ---- in the background, while testing ----------------------------------- */

typedef struct pgs_bg pgs_bg;

/* A line for the operator (the caller prints; sync/ never does). */
typedef void (*pgs_say_fn)(void *user, const char *line);

/* Start a thread that uploads db_path to target after each commit (it
 * polls the file's newest run, every poll_ms), on its own SQLite and
 * server connections. A failure is said once ("unreachable"), retried
 * with backoff (1 s doubling to 30 s), and the return said once. Never
 * blocks the caller beyond starting the thread. */
int pgs_bg_start(const char *db_path, const char *target, int poll_ms,
		 pgs_say_fn say, void *user, pgs_bg **out, kgd_err *err);

/* Stop the thread after one last upload attempt (bounded by libpq's
 * connect_timeout), fill *w with what still waits and free b. NULL b is
 * allowed. */
void pgs_bg_stop(pgs_bg *b, pgs_waiting *w);

/* ---- the way back: reports from the server ----------------------------- */

/* Which parts a pull copies (NULL: no filter): every part with a run
 * that matches all the filters given, with ALL its runs, so that a
 * report applying the same filters to the pulled file picks each part's
 * run (latest or first) exactly as it would from the station files. The
 * lots, sessions, sequences ... they reference come along. */
typedef struct pgs_filter {
	const char *lot;
	const char *wafer;
	const char *station;
	const char *from, *to;        /* run.started_at, ISO prefixes, inclusive */
} pgs_filter;

/* Write a new station file at out_path (must not exist) holding the
 * selected rows of every file the server at target holds, merged as one
 * station file would hold them: lots, wafers, parts, stations, operators,
 * sequences, limits by their natural keys; runs, sessions, measurements
 * and step results each once. With one source file on the server the
 * result holds the same rows with the same ids as that file, so reports
 * of it are the same bytes. */
int pgs_pull(const char *target, const char *out_path, const pgs_filter *f,
	     pgs_stats *st, kgd_err *err);

/* Which runs a report counts (reports/rpt.h's selection rule), decided on
 * the server: each part's latest run (first_pass: its first), then the
 * filters on that run. Parts are merged across station files by their
 * natural key, and "latest" is the highest (file uuid, run id), as in
 * the file pgs_pull writes. */
typedef struct pgs_select {
	pgs_filter f;
	const char *product;          /* run.product */
	int seq_version, has_seq_version;
	int first_pass;
} pgs_select;

/* One measurement of a selected run: low, high, value NULL for none.
 * Non-zero stops the stream (pgs_measurements then fails, out of
 * memory: the only way a report's accumulator fails). */
typedef int (*pgs_meas_fn)(void *user, const char *step, const char *name,
			   const char *unit, const double *low,
			   const double *high, const double *value, int pass);

/* Stream the measurements of the runs sel picks on the server at target,
 * in the order a report of a station file reads them (runs by file and
 * id, each run's by seq_no), one read snapshot, no scratch file: what
 * `station report --from-db --only tests.csv` adds up
 * (rpt_tests_acc_add). st->runs: runs selected (0: nothing matched,
 * fn never called), st->measurements: rows streamed. */
int pgs_measurements(const char *target, const pgs_select *sel,
		     pgs_meas_fn fn, void *user, pgs_stats *st, kgd_err *err);

#endif
