/*
 * reports/rpt.c - the front of reports/: every function of rpt.h is
 * defined here. It opens the database read-only in one snapshot, selects
 * the runs that count (temp.sel, the selection rule in rpt.h), and hands
 * the context to the report writers the caller asked for.
 *
 * Calls go one way: this file -> the writers (rpt_yield.c, rpt_tests.c,
 * rpt_wafer.c, rpt_parts.c, rpt_time.c, rpt_stdf.c; none calls another)
 * -> rpt_common.c (CSV cells, files, keys), which calls nothing above it.
 * Only this file reaches db/ (db_check_readable).
 *
 * Invariant: the database is only ever opened read-only (a report can run
 * beside a station that is writing, and never creates or changes a file;
 * the selection lives in SQLite's separate temp database).
 *
 * Note: reading a WAL database needs its shared-memory index, so SQLite
 * itself may leave an empty "<db>-wal" and a "<db>-shm" beside a database
 * no station has open. That is SQLite's WAL protocol, not a write to the
 * database, and the price of reading safely beside a live station.
 */
#include "rpt_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"

/* A station committing or checkpointing holds its lock for milliseconds. */
#define RPT_BUSY_MS 10000

/* ---- the context and the selection -------------------------------------- */

static int query_count(rpt_ctx *c, const char *sql, const char *arg,
		       long long *out, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

static int exec(rpt_ctx *c, const char *sql, kgd_err *err)
{
	if (sqlite3_exec(c->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return rpt_sql_fail(c, err);
	return KGD_OK;
}

int rpt_date_ok(const char *s)
{
	static const char shape[] = "dddd-dd-dd";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != '-')
			return 0;
	return s[i] == '\0' || s[i] == 'T' || s[i] == ' ';
}

/* A schema-1 file lacks the schema-2 tables (and files before schema 5
 * session_instrument): empty stand-ins of the same shape in the temp
 * database let one SQL text serve every version. Columns added
 * later (measurement.name, step_result.duration_s) are looked up, so a
 * report leaves out what an older file cannot hold. */
static int shadow_missing(rpt_ctx *c, kgd_err *err)
{
	static const struct {
		const char *table, *create;
	} v2[] = {
		{"bin", "CREATE TEMP TABLE bin(id INTEGER PRIMARY KEY,"
			" sequence_id INTEGER, number INTEGER, name TEXT,"
			" pass INTEGER)"},
		{"step_result", "CREATE TEMP TABLE step_result(id INTEGER"
				" PRIMARY KEY, run_id INTEGER, step TEXT,"
				" status TEXT, bin INTEGER, n_values INTEGER)"},
		/* schema 5 */
		{"session_instrument", "CREATE TEMP TABLE session_instrument("
				       "id INTEGER PRIMARY KEY, session_id"
				       " INTEGER, role TEXT, driver TEXT,"
				       " abi_major INTEGER, abi_minor INTEGER,"
				       " plugin_file TEXT, plugin_sha256 TEXT,"
				       " identity TEXT)"},
		/* schema 8: no screen yet */
		{"screen", "CREATE TEMP TABLE screen(id INTEGER PRIMARY KEY,"
			   " lot_id INTEGER, config_sha256 TEXT, config_text"
			   " TEXT, soft_bin INTEGER, hard_bin INTEGER, seq"
			   " INTEGER, result_sha256 TEXT, screened_at TEXT)"},
		{"screen_limit", "CREATE TEMP TABLE screen_limit(id INTEGER"
				 " PRIMARY KEY, screen_id INTEGER, method TEXT,"
				 " wafer_id INTEGER, step TEXT, name TEXT,"
				 " coords TEXT, n INTEGER, median REAL,"
				 " robust_sigma REAL, k REAL, pat_low REAL,"
				 " pat_high REAL, spec_low REAL, spec_high REAL,"
				 " outliers INTEGER, screened INTEGER, note TEXT)"},
		{"screen_die", "CREATE TEMP TABLE screen_die(id INTEGER PRIMARY"
			       " KEY, screen_id INTEGER, part_id INTEGER,"
			       " run_id INTEGER, soft_bin INTEGER, hard_bin"
			       " INTEGER, reason TEXT)"},
	};
	long long n = 0;
	size_t i;
	int status;

	for (i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
		status = query_count(c, "SELECT count(*) FROM main.sqlite_master"
				     " WHERE type = 'table' AND name = ?1",
				     v2[i].table, &n, err);
		if (status)
			return status;
		if (n == 0 && (status = exec(c, v2[i].create, err)) != KGD_OK)
			return status;
	}
	status = query_count(c, "SELECT count(*) FROM pragma_table_info("
			     "'measurement') WHERE name = 'name'", NULL, &n, err);
	if (status)
		return status;
	c->m_name = n ? "m.name" : "NULL";
	status = query_count(c, "SELECT count(*) FROM pragma_table_info("
			     "'step_result') WHERE name = 'duration_s'", NULL,
			     &n, err);
	if (status)
		return status;
	c->has_step_time = n != 0;
	status = query_count(c, "SELECT count(*) FROM pragma_table_info("
			     "'wafer') WHERE name = 'map_diameter_mm'", NULL,
			     &n, err);
	if (status)
		return status;
	c->has_wafer_map = n != 0;
	return KGD_OK;
}

/* One row per part: the part's first or latest run, then the filters on
 * that run (see rpt.h). `?n IS NULL OR` keeps one statement for every
 * combination of filters. */
static const char sel_sql[] =
	"INSERT INTO temp.sel"
	" SELECT r.id, p.id, l.name, w.name, p.die_x, p.die_y, p.serial,"
	"  CASE WHEN sd.run_id IS NULL THEN r.status ELSE 'fail' END,"
	"  coalesce(sd.hard_bin, r.hard_bin), coalesce(sd.soft_bin, r.soft_bin),"
	"  r.sequence_id, r.product,"
	"  st.name, op.name, s.name, s.version, r.started_at, r.ended_at,"
	"  pr.n, fr.status, pr.last_id, r.status, r.hard_bin, r.soft_bin,"
	"  sd.reason"
	" FROM (SELECT part_id, min(id) AS first_id, max(id) AS last_id,"
	"        count(*) AS n FROM run GROUP BY part_id) pr"
	" JOIN run r ON r.id = CASE WHEN ?1 THEN pr.first_id ELSE pr.last_id END"
	" JOIN run fr ON fr.id = pr.first_id"
	" JOIN part p ON p.id = pr.part_id"
	" JOIN lot l ON l.id = p.lot_id"
	" LEFT JOIN wafer w ON w.id = p.wafer_id"
	" JOIN sequence s ON s.id = r.sequence_id"
	" JOIN station st ON st.id = r.station_id"
	" LEFT JOIN operator op ON op.id = r.operator_id"
	/* the lot's latest screen, for the very run it judged */
	" LEFT JOIN (SELECT d.run_id, d.hard_bin, d.soft_bin, d.reason"
	"  FROM screen_die d JOIN screen x ON x.id = d.screen_id"
	"  WHERE x.seq = (SELECT max(seq) FROM screen y"
	"   WHERE y.lot_id = x.lot_id)) sd ON sd.run_id = r.id"
	" WHERE (?2 IS NULL OR l.name = ?2) AND (?3 IS NULL OR w.name = ?3)"
	"  AND (?4 IS NULL OR r.product = ?4) AND (?5 IS NULL OR st.name = ?5)"
	"  AND (?6 IS NULL OR s.version = ?6)"
	"  AND (?7 IS NULL OR r.started_at >= ?7)"
	"  AND (?8 IS NULL OR substr(r.started_at, 1, length(?8)) <= ?8)"
	" ORDER BY r.id";

static int select_runs(rpt_ctx *c, kgd_err *err)
{
	const rpt_options *o = &c->opt;
	sqlite3_stmt *st = NULL;
	long long n = 0;
	int status;

	status = exec(c, "CREATE TEMP TABLE sel(run_id INTEGER PRIMARY KEY,"
		      " part_id INTEGER, lot TEXT, wafer TEXT, x INTEGER,"
		      " y INTEGER, serial TEXT, status TEXT, hard_bin INTEGER,"
		      " soft_bin INTEGER, sequence_id INTEGER, product TEXT,"
		      " station TEXT, operator TEXT, seq_name TEXT,"
		      " seq_version INTEGER, started_at TEXT, ended_at TEXT,"
		      " n_runs INTEGER, first_status TEXT, last_run INTEGER,"
		      " pre_status TEXT, pre_hard_bin INTEGER,"
		      " pre_soft_bin INTEGER, screen_reason TEXT)",
		      err);
	if (status)
		return status;
	status = rpt_prepare(c, sel_sql, &st, err);
	if (status)
		return status;
	sqlite3_bind_int(st, 1, o->first_pass != 0);
	sqlite3_bind_text(st, 2, o->lot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->wafer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, o->product, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, o->station, -1, SQLITE_STATIC);
	if (o->has_seq_version)
		sqlite3_bind_int(st, 6, o->seq_version);
	sqlite3_bind_text(st, 7, o->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, o->to, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	if (status)
		return status;
	status = query_count(c, "SELECT count(*) FROM temp.sel", NULL,
			     &c->n_parts, err);
	if (status || c->n_parts > 0)
		return status;
	/* Nothing selected: say why, in the analyst's terms. */
	if (o->lot) {
		status = query_count(c, "SELECT count(*) FROM lot WHERE name = ?1",
				     o->lot, &n, err);
		if (status)
			return status;
		if (n == 0)
			return kgd_err_set(err, KGD_ERR_NOT_FOUND, "%s: no lot "
					   "named '%s'", c->db_path, o->lot);
	}
	return rpt_no_match(c->db_path, o, err);
}

int rpt_no_match(const char *where, const rpt_options *o, kgd_err *err)
{
	if (!(o->lot || o->wafer || o->product || o->station ||
	      o->has_seq_version || o->from || o->to))
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_NOT_FOUND, "%s: no tested part "
			   "matches the filters%s%s%s%s%s%s%s%s%s%s%s%s", where,
			   o->lot ? " lot=" : "", o->lot ? o->lot : "",
			   o->wafer ? " wafer=" : "", o->wafer ? o->wafer : "",
			   o->product ? " product=" : "",
			   o->product ? o->product : "",
			   o->station ? " station=" : "",
			   o->station ? o->station : "",
			   o->from ? " from=" : "", o->from ? o->from : "",
			   o->to ? " to=" : "", o->to ? o->to : "");
}

/* Open path read-only, and only if it is a station database. */
static int open_db(rpt_ctx *c, const char *path, kgd_err *err)
{
	struct stat sb;

	/* Checked first so the error says "missing", not SQLite's vaguer
	 * "unable to open"; READONLY below could not create it anyway. */
	if (stat(path, &sb) != 0)
		return kgd_err_set(err, errno == ENOENT ? KGD_ERR_NOT_FOUND
				   : KGD_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return kgd_err_set(err, KGD_ERR_DB, "%s: not a station database "
				   "(not a regular file)", path);
	if (sqlite3_open_v2(path, &c->h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return c->h ? rpt_sql_fail(c, err)
			    : kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
					  path);
	sqlite3_busy_timeout(c->h, RPT_BUSY_MS);
	return db_check_readable(c->h, path, err);
}

static void ctx_close(rpt_ctx *c)
{
	if (c->h) {
		sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(c->h);
		c->h = NULL;
	}
	if (c->old_locale) {
		uselocale(c->old_locale);
		c->old_locale = (locale_t)0;
	}
	if (c->c_locale) {
		freelocale(c->c_locale);
		c->c_locale = (locale_t)0;
	}
}

/* Open db_path read-only, check it, take the read snapshot, switch this
 * thread to the C locale and fill temp.sel. On error nothing stays open.
 * A filter that selects no part is KGD_ERR_NOT_FOUND. */
static int ctx_open(rpt_ctx *c, const char *db_path, const rpt_options *opt,
		    kgd_err *err)
{
	int status;

	memset(c, 0, sizeof(*c));
	c->db_path = db_path;
	if (opt)
		c->opt = *opt;
	if (!db_path)
		return kgd_err_set(err, KGD_ERR_ARG, "report: no database");
	if ((c->opt.from && !rpt_date_ok(c->opt.from)) ||
	    (c->opt.to && !rpt_date_ok(c->opt.to)))
		return kgd_err_set(err, KGD_ERR_ARG, "report: dates are ISO-8601,"
				   " YYYY-MM-DD[THH:MM:SS] (got '%s')",
				   c->opt.from && !rpt_date_ok(c->opt.from)
				   ? c->opt.from : c->opt.to);
	/* uselocale() is per thread: the station's own locale is untouched. */
	c->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!c->c_locale)
		return kgd_err_set(err, KGD_ERR_NOMEM, "report: out of memory");
	c->old_locale = uselocale(c->c_locale);
	status = open_db(c, db_path, err);
	if (status)
		goto out;
	/* One read transaction for every report: one snapshot. The first
	 * SELECT is what actually starts it. */
	status = exec(c, "BEGIN; SELECT count(*) FROM main.run", err);
	if (status)
		goto out;
	status = shadow_missing(c, err);
	if (status)
		goto out;
	status = select_runs(c, err);
out:
	if (status)
		ctx_close(c);
	return status;
}

/* ---- entry points ------------------------------------------------------- */

int rpt_write(const char *db_path, const char *out_dir,
	      const rpt_options *opt, unsigned which, rpt_summary *sum,
	      kgd_err *err)
{
	static const struct {
		unsigned bit;
		const char *file;
		int (*write)(rpt_ctx *c, const char *path, kgd_err *err);
	} csvs[] = {
		{RPT_YIELD, "yield.csv", rpt_yield},
		{RPT_TESTS, "tests.csv", rpt_tests},
		{RPT_BINS, "bins.csv", rpt_bins},
		{RPT_PARETO, "pareto.csv", rpt_pareto},
		{RPT_TESTSTATS, "teststats.csv", rpt_teststats},
		{RPT_PARTS, "parts.csv", rpt_parts},
		{RPT_TESTTIME, "testtime.csv", rpt_testtime},
		{RPT_INSTRUMENTS, "instruments.csv", rpt_instruments},
		{RPT_PAT, "pat_limits.csv", rpt_pat_limits},
		{RPT_TREND, "trend.csv", rpt_trend},
		{RPT_HTML, "report.html", rpt_html},
	};
	rpt_ctx c;
	char *path = NULL;
	size_t i;
	int status, files = 0;

	if (!out_dir)
		return kgd_err_set(err, KGD_ERR_ARG, "report: no output folder");
	status = ctx_open(&c, db_path, opt, err);
	if (status)
		return status;
	for (i = 0; i < sizeof(csvs) / sizeof(csvs[0]); i++) {
		if (!(which & csvs[i].bit))
			continue;
		path = rpt_path(out_dir, csvs[i].file);
		if (!path) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
		status = csvs[i].write(&c, path, err);
		free(path);
		path = NULL;
		if (status)
			goto out;
		files++;
	}
	if (which & RPT_WAFERMAP) {
		status = rpt_wafermap(&c, out_dir, &files, err);
		if (status)
			goto out;
	}
	if (which & RPT_STDF)
		status = rpt_stdf(&c, out_dir, &files, err);
out:
	if (sum) {
		sum->parts = c.n_parts;
		sum->files = files;
	}
	ctx_close(&c);
	return status;
}

/* The single-file entry points keep their original contract: the output
 * is a path, not a folder. */
static int write_one(const char *db_path, const char *out_path,
		     int (*write)(rpt_ctx *c, const char *path, kgd_err *err),
		     kgd_err *err)
{
	rpt_ctx c;
	int status;

	if (!out_path)
		return kgd_err_set(err, KGD_ERR_ARG, "report: no output path");
	status = ctx_open(&c, db_path, NULL, err);
	if (status)
		return status;
	status = write(&c, out_path, err);
	ctx_close(&c);
	return status;
}

int rpt_yield_csv(const char *db_path, const char *out_path, kgd_err *err)
{
	return write_one(db_path, out_path, rpt_yield, err);
}

int rpt_tests_csv(const char *db_path, const char *out_path, kgd_err *err)
{
	return write_one(db_path, out_path, rpt_tests, err);
}

/* ---- tests.csv from rows fed from elsewhere ----------------------------- */

int rpt_tests_acc_new(rpt_tests_acc **out, kgd_err *err)
{
	if (rpt_tacc_new(out))
		return kgd_err_set(err, KGD_ERR_NOMEM, "report: out of memory");
	return KGD_OK;
}

int rpt_tests_acc_add(rpt_tests_acc *a, const char *step, const char *name,
		      const char *unit, const double *low, const double *high,
		      const double *value, int pass, kgd_err *err)
{
	if (rpt_tacc_add(a, step, name, unit, low, high, value, pass))
		return kgd_err_set(err, KGD_ERR_NOMEM, "report: out of memory");
	return KGD_OK;
}

int rpt_tests_acc_write(rpt_tests_acc *a, const char *out_path, kgd_err *err)
{
	locale_t c_locale, old;
	int status;

	if (!out_path)
		return kgd_err_set(err, KGD_ERR_ARG, "report: no output path");
	/* the numbers in the C locale, as rpt_write's (per thread) */
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!c_locale)
		return kgd_err_set(err, KGD_ERR_NOMEM, "report: out of memory");
	old = uselocale(c_locale);
	status = rpt_tacc_write(a, out_path, err);
	uselocale(old);
	freelocale(c_locale);
	return status;
}

void rpt_tests_acc_free(rpt_tests_acc *a)
{
	rpt_tacc_free(a);
}
