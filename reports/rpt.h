/*
 * reports/rpt.h - yield reports for analysts (CSV, SVG wafer maps, STDF V4),
 * read from the results database alone (never from instruments or sequence
 * files).
 *
 * Every CSV is written through libcsv's writer: a header row, RFC 4180
 * quoting, numbers printed with full precision in the C locale, so the same
 * database gives the same bytes and a spreadsheet opens it without options.
 * Every file is written to "<name>.tmp" and renamed into place, so a failed
 * report never leaves half a file.
 *
 * Format details, the same for every CSV:
 *  - Lines end in "\n" (pandas, spreadsheets and Unix tools all read it).
 *  - A field is quoted (by libcsv, doubling inner quotes) only when it holds
 *    a comma, a double quote, CR or LF; everything else is written bare, so
 *    numbers stay numbers.
 *  - Reals use the shortest form that reads back to the same double (at
 *    most 17 significant digits, "%.17g" style), counts are integers,
 *    percentages "%.2f"; always '.' as decimal point, whatever the locale.
 *  - An empty cell means "no value" (no limit, no valid value, too few
 *    values for a statistic, no wafer = the whole lot).
 *  - Rows are sorted by their key columns in byte order, unless a report
 *    orders them by meaning (pareto.csv by rank, testtime.csv in the
 *    sequence's step order).
 *
 * The selection rule: every report counts each part once, through ONE of
 * its runs. Final mode (the default): the part's latest run (highest run
 * id; runs are committed one at a time, so this is the order they were
 * written, independent of station clocks). First-pass mode: the part's
 * first run (lowest id, the run with retest 0). The filters then apply to
 * that run: a part whose selected run does not match is left out (so
 * `--first-pass --from D` never promotes a retest to a first pass).
 *
 * Across station files (`station report --from-db`, the central server):
 * a part is its lot, wafer, serial and die, whichever files tested it,
 * and its runs in all of them are its runs. Two stations have no common
 * commit order, and station clocks are not trusted, so the files are put
 * in one fixed order - their uuids' (sync_source), the same on every
 * server and for every analyst - and a later file's runs count as later
 * than an earlier file's: final = the latest run of the last file that
 * tested the part, first pass = the first run of the first. Then the
 * filters, as above: a part retested on another station is not counted
 * for the first station by `--station`, even though it has runs there.
 * The pulled file (sync/pgs_pull.c: later files' run ids shifted above
 * earlier ones') and the streamed tests.csv (sync/pgs_tests.c) both
 * apply this; test_sync checks it with one part in two files.
 *
 * The database is opened read-only and never created: a missing file is
 * KGD_ERR_NOT_FOUND, a file that is not a station database KGD_ERR_DB, one
 * from a newer station KGD_ERR_UNSUPPORTED, each naming the file; an
 * output that cannot be written is KGD_ERR_IO naming it. A database with
 * no runs (and no filter) gives CSVs with only the header row, and KGD_OK;
 * a filter that matches no part (an unknown lot, say) is
 * KGD_ERR_NOT_FOUND with a message naming the filter, and writes nothing.
 */
#ifndef KGD_RPT_H
#define KGD_RPT_H

#include "kgd/status.h"

/* Which parts and runs a report covers; NULL / 0 = no filter. Strings are
 * borrowed for the call. */
typedef struct rpt_options {
	const char *lot;           /* lot name */
	const char *wafer;         /* wafer name (in any lot, or in lot) */
	const char *product;       /* run.product */
	const char *station;       /* station name */
	int seq_version;           /* sequence version, when has_seq_version */
	int has_seq_version;
	const char *from, *to;     /* ISO-8601 date or date-time prefixes,
	                              inclusive, compared with run.started_at
	                              (UTC): --to 2025-01-31 takes that day */
	int first_pass;            /* 1: each part's first run, 0: final */
	int by_coords;             /* teststats.csv: one row per sweep point */
} rpt_options;

/* The reports rpt_write() can write (a bit mask). */
enum {
	RPT_YIELD = 1 << 0,      /* yield.csv */
	RPT_TESTS = 1 << 1,      /* tests.csv */
	RPT_BINS = 1 << 2,       /* bins.csv */
	RPT_PARETO = 1 << 3,     /* pareto.csv */
	RPT_TESTSTATS = 1 << 4,  /* teststats.csv */
	RPT_WAFERMAP = 1 << 5,   /* wafermap.csv and wafermap_<lot>_<wafer>.svg */
	RPT_PARTS = 1 << 6,      /* parts.csv */
	RPT_STDF = 1 << 7,       /* <lot>_<wafer>.stdf, one per wafer */
	/* Added after STDF took bit 7; the bits keep their values. */
	RPT_TESTTIME = 1 << 8,   /* testtime.csv (step durations) */
	RPT_INSTRUMENTS = 1 << 9, /* instruments.csv (drivers, identities) */
	RPT_PAT = 1 << 10,       /* pat_limits.csv (the lot's latest screen) */
	RPT_HTML = 1 << 11,      /* report.html, standalone (not in ALL_CSV) */
	RPT_TREND = 1 << 12,     /* trend.csv (yield per day and station) */
	RPT_ALL_CSV = ((1 << 7) - 1) | RPT_TESTTIME | RPT_INSTRUMENTS | RPT_PAT
		      | RPT_TREND,
};

/* What one rpt_write() did, for the caller to print. */
typedef struct rpt_summary {
	long long parts;           /* parts selected */
	int files;                 /* files written */
} rpt_summary;

/* Nothing selected although opt filters: KGD_ERR_NOT_FOUND, "<where>: no
 * tested part matches the filters lot=... wafer=..." naming each filter
 * given. Returns KGD_OK, setting nothing, when opt filters nothing (an
 * empty source then gives header-only reports). */
int rpt_no_match(const char *where, const rpt_options *opt, kgd_err *err);

/* 1 when s is a date the filters take: ISO-8601 YYYY-MM-DD, optionally
 * followed by 'T' or ' ' and a time (rpt_options.from / .to). */
int rpt_date_ok(const char *s);

/* Write the reports in `which` for db_path into out_dir (which must
 * exist), all from one read snapshot of the database. opt may be NULL (no
 * filter, final runs). sum may be NULL. See the file comment for errors. */
int rpt_write(const char *db_path, const char *out_dir,
	      const rpt_options *opt, unsigned which, rpt_summary *sum,
	      kgd_err *err);

/* The two original single-file entry points (no filter, final runs):
 * yield.csv and tests.csv written to out_path. */
int rpt_yield_csv(const char *db_path, const char *out_path, kgd_err *err);
int rpt_tests_csv(const char *db_path, const char *out_path, kgd_err *err);

/* tests.csv from measurements read elsewhere - `station report --from-db`
 * streams them from the central server (sync/) instead of copying them
 * into a file first. The same groups, the same arithmetic in the same
 * order, so the same bytes as rpt_write(RPT_TESTS) on a file holding the
 * same rows, PROVIDED the caller feeds exactly the measurements of the
 * runs the selection rule above picks, in the order the file's report
 * reads them: the selected runs by run id, each run's by seq_no. low,
 * high, value: NULL for none. add() fails only for lack of memory. */
typedef struct rpt_tests_acc rpt_tests_acc;
int rpt_tests_acc_new(rpt_tests_acc **out, kgd_err *err);
int rpt_tests_acc_add(rpt_tests_acc *a, const char *step, const char *name,
		      const char *unit, const double *low, const double *high,
		      const double *value, int pass, kgd_err *err);
/* Write tests.csv to out_path (whole or not at all). */
int rpt_tests_acc_write(rpt_tests_acc *a, const char *out_path, kgd_err *err);
void rpt_tests_acc_free(rpt_tests_acc *a);

#endif
