/*
 * tests/test_reports.c - CSV reports from a database of known contents.
 *
 * The database is written through db.h, as the station writes it; the
 * expected CSV bytes and statistics are worked out by hand below, so a
 * report that miscounts, misrounds or misquotes fails here.
 */
#include <CUnit/CUnit.h>
#include <csv.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "db_int.h"  /* db_create_at_version(): a genuine schema-3 file */
#include "rpt.h"
#include "testutil.h"

static char dir[512];
static char known_db[600];

#define QUOTED_LOT "C, \"x\""
#define YIELD_HEADER "lot,tested,passed,failed,yield_pct,wafer," \
	"first_pass_passed,first_pass_yield_pct,retested_parts,retests," \
	"screened_passed,screened_yield_pct\n"

static const char *in_dir(const char *name)
{
	static char path[4][600];
	static int next;

	next = (next + 1) % 4;
	snprintf(path[next], sizeof(path[next]), "%s/%s", dir, name);
	return path[next];
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

#define POWER(v, ok) { .step = "power", .unit = "dBm", .value = (v), \
	.value_valid = 1, .low = -6.0, .high = 3.0, .has_low = 1, \
	.has_high = 1, .pass = (ok) }
#define BER(v, ok) { .step = "ber", .value = (v), .value_valid = 1, \
	.high = 1e-12, .has_high = 1, .pass = (ok) }

static int add_run(db *d, const char *lot, int x, int y, const char *status,
		   const db_measurement *m, int n)
{
	db_run_info info = {
		.station = "st1", .host = "h", .operator_name = "op",
		.lot = lot, .wafer = "W1", .die_x = x, .die_y = y, .has_xy = 1,
		.seq_name = "kgd", .seq_version = 1, .seq_sha256 = "abc",
		.seq_text = "t", .product = "P",
	};
	kgd_err err = { 0 };
	int64_t run_id;
	int i, pass = strcmp(status, DB_STATUS_PASS) == 0;

	if (db_run_begin(d, &info, &run_id, &err))
		return -1;
	for (i = 0; i < n; i++)
		if (db_measurement_add(d, run_id, &m[i], &err))
			return -1;
	return db_run_commit(d, run_id, status, pass ? 1 : 5, pass ? 1 : 50,
			     pass ? NULL : "power", &err);
}

/*
 * Lot A: 3 parts, 2 pass. (0,1) was retested: its first run (power -10,
 *        fail) is history, its final run passes. (1,0) errored with no
 *        valid value.
 * Lot B: 2 parts, both fail.
 * Lot C, "x": 1 part, passes; also the only "gain" value (0.1, no limits).
 *
 * Final-run power values: 1, 2, -7, 4, 0.5 (+ one invalid):
 *   n = 6, n_pass = 3 (1, 2, 0.5), n_fail = 3, n_invalid = 1
 *   mean = 0.5 / 5 = 0.1
 *   squared deviations 0.81 + 3.61 + 50.41 + 15.21 + 0.16 = 70.2
 *   stdev = sqrt(70.2 / 4) = sqrt(17.55)
 * ber: 1e-13 (pass), 1e-11 (fail): mean 5.05e-12, stdev 9.9e-12 / sqrt(2)
 */
static int build_known_db(const char *path)
{
	db_measurement a00[] = { POWER(1.0, 1), BER(1e-13, 1) };
	db_measurement a01_first[] = { POWER(-10.0, 0) };
	db_measurement a01[] = { POWER(2.0, 1) };
	db_measurement a10[] = { POWER(0.0, 0) };
	db_measurement b00[] = { POWER(-7.0, 0), BER(1e-11, 0) };
	db_measurement b01[] = { POWER(4.0, 0) };
	db_measurement c00[] = { POWER(0.5, 1),
				 { .step = "gain", .unit = "dB", .value = 0.1,
				   .value_valid = 1, .pass = 1 } };
	kgd_err err = { 0 };
	db *d = NULL;
	int rc = 0;

	a10[0].value_valid = 0;
	if (db_open(path, &d, &err))
		return -1;
	rc |= add_run(d, "A", 0, 0, DB_STATUS_PASS, a00, 2);
	rc |= add_run(d, "A", 0, 1, DB_STATUS_FAIL, a01_first, 1);
	rc |= add_run(d, "B", 0, 0, DB_STATUS_FAIL, b00, 2);
	rc |= add_run(d, "A", 0, 1, DB_STATUS_PASS, a01, 1);
	rc |= add_run(d, "A", 1, 0, DB_STATUS_ERROR, a10, 1);
	rc |= add_run(d, QUOTED_LOT, 0, 0, DB_STATUS_PASS, c00, 2);
	rc |= add_run(d, "B", 0, 1, DB_STATUS_FAIL, b01, 1);
	db_close(d);
	return rc ? -1 : 0;
}

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("rpt"));
	snprintf(known_db, sizeof(known_db), "%s/known.db", dir);
	return build_known_db(known_db);
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static void test_yield_bytes(void)
{
	const char *out = in_dir("yield.csv");
	kgd_err err = { 0 };
	char *csv;

	CU_ASSERT_EQUAL_FATAL(rpt_yield_csv(known_db, out, &err), KGD_OK);
	csv = tu_slurp(out, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(csv,
		YIELD_HEADER
		"A,3,2,1,66.67,,1,33.33,1,1,2,66.67\n"
		"A,3,2,1,66.67,W1,1,33.33,1,1,2,66.67\n"
		"B,2,0,2,0.00,,0,0.00,0,0,0,0.00\n"
		"B,2,0,2,0.00,W1,0,0.00,0,0,0,0.00\n"
		"\"C, \"\"x\"\"\",1,1,0,100.00,,1,100.00,0,0,1,100.00\n"
		"\"C, \"\"x\"\"\",1,1,0,100.00,W1,1,100.00,0,0,1,100.00\n");
	free(csv);
	CU_ASSERT_FALSE(exists(in_dir("yield.csv.tmp")));
}

/* The block tests.csv and teststats.csv append: pass-only, then log10
 * statistics (empty on a linear test). */
#define EXTRA_HEADER "pass_n,pass_mean,pass_stdev,pass_min,pass_max," \
	"pass_cp,pass_cpk,scale,log10_n,log10_mean,log10_stdev,log10_min," \
	"log10_max,log10_cpk,pass_log10_n,pass_log10_mean,pass_log10_stdev," \
	"pass_log10_cpk"
#define NO_LOG10 ",,,,,,,,,,"

/* Field i (0-based) of a CSV line without quoted fields, as a double. */
static double field_d(const char *line, int i)
{
	while (i-- > 0 && line)
		if ((line = strchr(line, ',')) != NULL)
			line++;
	return line ? strtod(line, NULL) : NAN;
}

static const char *line_starting(const char *csv, const char *prefix)
{
	const char *p = csv;

	while (p && *p) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Does the line starting at line end (before its '\n') with suffix? */
static int line_ends(const char *line, const char *suffix)
{
	size_t len = strcspn(line, "\n"), n = strlen(suffix);

	return len >= n && strncmp(line + len - n, suffix, n) == 0;
}

static int close_to(double got, double want)
{
	return fabs(got - want) <= 1e-12 * fabs(want);
}

static void test_tests_stats(void)
{
	/* header, then rows sorted by step: ber, gain, power */
	static const char want_start[] = "step,unit,low,high,n,n_pass,n_fail,"
		"n_invalid,mean,stdev,min,max,name," EXTRA_HEADER "\nber,";
	const char *out = in_dir("tests.csv");
	const char *power, *ber;
	kgd_err err = { 0 };
	char *csv;
	int lines = 0;
	const char *p;

	CU_ASSERT_EQUAL_FATAL(rpt_tests_csv(known_db, out, &err), KGD_OK);
	csv = tu_slurp(out, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	for (p = csv; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	CU_ASSERT_EQUAL(lines, 4);
	CU_ASSERT(strncmp(csv, want_start, strlen(want_start)) == 0);

	/* one value, no limits: empty cells, shortest round-trip number */
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\ngain,dB,,,1,1,0,0,0.1,,0.1,0.1,,"
				      "1,0.1,,0.1,0.1,,,linear" NO_LOG10 "\n"));

	/* the mean of 1, 2, -7, 4, 0.5 is 0.1 exactly as printed */
	power = line_starting(csv, "power,dBm,-6,3,6,3,3,1,0.1,");
	CU_ASSERT_PTR_NOT_NULL_FATAL(power);
	CU_ASSERT(close_to(field_d(power, 9), sqrt(17.55)));
	/* pass-only: 1, 2 and 0.5 (the -7 and 4 fail, one reading is
	 * invalid) */
	CU_ASSERT_PTR_NOT_NULL(strstr(power, ",-7,4,,3,"));
	CU_ASSERT(close_to(field_d(power, 14), 3.5 / 3));
	CU_ASSERT(close_to(field_d(power, 15), sqrt(7.0 / 12)));
	CU_ASSERT(close_to(field_d(power, 18), 9 / (6 * sqrt(7.0 / 12))));
	CU_ASSERT(close_to(field_d(power, 19), (3 - 3.5 / 3) /
			   (3 * sqrt(7.0 / 12))));
	CU_ASSERT(line_ends(power, ",linear" NO_LOG10));

	ber = line_starting(csv, "ber,,,1e-12,2,1,1,0,");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ber);
	CU_ASSERT(close_to(field_d(ber, 8), 5.05e-12));
	CU_ASSERT(close_to(field_d(ber, 9), 9.9e-12 / sqrt(2.0)));
	/* two decades, no unit: linear (a ratio spans more than three) */
	CU_ASSERT(line_ends(ber, ",1e-13,1e-11,,1,1e-13,,1e-13,1e-13,,,linear"
			    NO_LOG10));
	free(csv);
	CU_ASSERT_FALSE(exists(in_dir("tests.csv.tmp")));
}

static void test_empty_db(void)
{
	const char *path = in_dir("empty.db");
	const char *y = in_dir("empty-yield.csv");
	const char *t = in_dir("empty-tests.csv");
	kgd_err err = { 0 };
	db *d = NULL;
	char *csv;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	db_close(d);
	CU_ASSERT_EQUAL(rpt_yield_csv(path, y, &err), KGD_OK);
	CU_ASSERT_EQUAL(rpt_tests_csv(path, t, &err), KGD_OK);
	csv = tu_slurp(y, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(csv, YIELD_HEADER);
	free(csv);
	csv = tu_slurp(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(csv, "step,unit,low,high,n,n_pass,n_fail,"
			       "n_invalid,mean,stdev,min,max,name,"
			       EXTRA_HEADER "\n");
	free(csv);
}

static void test_missing_db(void)
{
	const char *path = in_dir("nope.db");
	const char *out = in_dir("nope.csv");
	kgd_err err = { 0 };

	CU_ASSERT_EQUAL(rpt_yield_csv(path, out, &err), KGD_ERR_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	CU_ASSERT_EQUAL(rpt_tests_csv(path, out, &err), KGD_ERR_NOT_FOUND);
	CU_ASSERT_FALSE(exists(path));
	CU_ASSERT_FALSE(exists(out));
	CU_ASSERT_FALSE(exists(in_dir("nope.csv.tmp")));
}

static void test_not_station_db(void)
{
	const char *path = in_dir("other.db");
	const char *text = in_dir("other.txt");
	const char *newer = in_dir("newer.db");
	const char *out = in_dir("other.csv");
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	db *d = NULL;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "CREATE TABLE run(x)", NULL, NULL, NULL),
			SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(rpt_yield_csv(path, out, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a station database"));
	CU_ASSERT_FALSE(exists(out));

	/* right version number, wrong tables */
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "PRAGMA user_version = 1", NULL, NULL,
				     NULL), SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(rpt_tests_csv(path, out, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a station database"));

	f = fopen(text, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("lot,tested\nA,1\n and more than a hundred bytes of plain text so"
	      " that SQLite has a whole header to reject as not a database\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(rpt_yield_csv(text, out, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, text));
	CU_ASSERT_FALSE(exists(out));

	CU_ASSERT_EQUAL_FATAL(db_open(newer, &d, &err), KGD_OK);
	db_close(d);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(newer, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL,
				     NULL), SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(rpt_yield_csv(newer, out, &err), KGD_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, newer));
	CU_ASSERT_FALSE(exists(out));
}

static void test_output_errors_and_replace(void)
{
	const char *bad = in_dir("no-such-dir/yield.csv");
	const char *out = in_dir("replace.csv");
	kgd_err err = { 0 };
	char *csv;
	FILE *f;

	CU_ASSERT_EQUAL(rpt_yield_csv(known_db, bad, &err), KGD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad));

	/* fails at the very end (rename onto a folder): the complete tmp
	 * file must not stay behind */
	CU_ASSERT_EQUAL_FATAL(mkdir(in_dir("a-folder.csv"), 0700), 0);
	CU_ASSERT_EQUAL(rpt_tests_csv(known_db, in_dir("a-folder.csv"), &err),
			KGD_ERR_IO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "a-folder.csv"));
	CU_ASSERT_FALSE(exists(in_dir("a-folder.csv.tmp")));

	f = fopen(out, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("stale contents\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(rpt_yield_csv(known_db, out, &err), KGD_OK);
	csv = tu_slurp(out, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT(strncmp(csv, "lot,tested,", 11) == 0);
	free(csv);
	CU_ASSERT_FALSE(exists(in_dir("replace.csv.tmp")));
}

/* A report beside a station in mid-die: it neither waits for nor sees the
 * open run, and the station's commit still succeeds afterwards. */
static void test_report_beside_writer(void)
{
	const char *path = in_dir("live.db");
	const char *out = in_dir("live.csv");
	db_run_info info = {
		.station = "st1", .lot = "L", .has_xy = 1, .seq_name = "kgd",
		.seq_sha256 = "abc",
	};
	db_measurement m = POWER(1.0, 1);
	kgd_err err = { 0 };
	int64_t run_id = 0;
	db *d = NULL;
	char *csv;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m, &err), KGD_OK);
	CU_ASSERT_EQUAL(rpt_yield_csv(path, out, &err), KGD_OK);
	csv = tu_slurp(out, NULL);
	CU_ASSERT_PTR_NOT_NULL(csv);
	if (csv)
		CU_ASSERT_STRING_EQUAL(csv, YIELD_HEADER);
	free(csv);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	CU_ASSERT_EQUAL(rpt_yield_csv(path, out, &err), KGD_OK);
	csv = tu_slurp(out, NULL);
	CU_ASSERT_PTR_NOT_NULL(csv);
	if (csv)
		CU_ASSERT_STRING_EQUAL(csv, YIELD_HEADER
				       "L,1,1,0,100.00,,1,100.00,0,0,1,100.00\n");
	free(csv);
	db_close(d);
}

/* ---- a wafer-sort database: every report, filters, STDF ----------------- */

static char wdir[512];
static char wafer_db[600];

/* Two sequences (version 1 for lot L1, version 2 for lot L2 on station
 * st2, product Q); pass = bins 1/1, optical power fail = 5/50, BER fail =
 * 7/70, error = no bins. Power is swept over two ports. */
static int add_die(db *d, const char *lot, const char *wafer, int x, int y,
		   int v2, double p1, double p2, double ber)
{
	db_run_info info = {
		.station = v2 ? "st2" : "st1", .host = "h", .operator_name = "op",
		.lot = lot, .wafer = wafer, .die_x = x, .die_y = y, .has_xy = 1,
		.seq_name = "kgd", .seq_version = v2 ? 2 : 1,
		.seq_sha256 = v2 ? "s2" : "s1", .seq_text = "t",
		.product = v2 ? "Q" : "P",
	};
	db_measurement m[3] = {
		{ .step = "power", .coords = "{\"port\":1}", .unit = "dBm",
		  .value = p1, .value_valid = !isnan(p1), .low = -6, .high = 3,
		  .has_low = 1, .has_high = 1 },
		{ .step = "power", .coords = "{\"port\":2}", .unit = "dBm",
		  .value = p2, .value_valid = !isnan(p2), .low = -6, .high = 3,
		  .has_low = 1, .has_high = 1 },
		{ .step = "ber", .value = ber, .value_valid = 1, .high = 1e-12,
		  .has_high = 1 },
	};
	kgd_err err = { 0 };
	int64_t run_id;
	int i, pow_ok = 1, ber_ok, error = isnan(p1) || isnan(p2);

	for (i = 0; i < 2; i++) {
		m[i].pass = m[i].value_valid && m[i].value >= -6 &&
			    m[i].value <= 3;
		pow_ok &= m[i].pass;
	}
	ber_ok = m[2].pass = ber <= 1e-12;
	if (db_run_begin(d, &info, &run_id, &err))
		return -1;
	for (i = 0; i < 3; i++)
		if (db_measurement_add(d, run_id, &m[i], &err))
			return -1;
	if (error)
		return db_run_commit(d, run_id, DB_STATUS_ERROR, -1, -1, "timeout",
				     &err);
	if (!pow_ok)
		return db_run_commit(d, run_id, DB_STATUS_FAIL, 5, 50, "power", &err);
	if (!ber_ok)
		return db_run_commit(d, run_id, DB_STATUS_FAIL, 7, 70, "ber", &err);
	return db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL, &err);
}

/*
 * L1/W1: 3x3 dies; (0,0) fails power first, is retested and passes;
 *        (1,1) fails BER; (2,2) errors (no value on port 2); the rest pass.
 * L1/W2: (0,0) pass, (1,0) power fail.
 * L2/W1 (sequence v2, station st2, product Q): (5,5) pass, (5,6) BER fail.
 * Final: L1 11 parts, 8 pass; first pass 7. L2: 2 parts, 1 pass.
 */
static int build_wafer_db(const char *path)
{
	static const char bins[] =
		"CREATE TABLE IF NOT EXISTS bin(id INTEGER PRIMARY KEY,"
		" sequence_id INTEGER, number INTEGER, name TEXT, pass INTEGER,"
		" UNIQUE(sequence_id, number));"
		"INSERT INTO bin(sequence_id, number, name, pass)"
		" SELECT s.id, b.number, b.name, b.pass FROM sequence s,"
		" (SELECT 1 AS number, 'PASS' AS name, 1 AS pass"
		"  UNION ALL SELECT 50, 'OPTICAL_POWER', 0"
		"  UNION ALL SELECT 70, 'BER, \"lane\"', 0) b WHERE s.sha256 = 's1';"
		"INSERT INTO hard_bin(sequence_id, number, name, pass)"
		" SELECT s.id, b.number, b.name, b.pass FROM sequence s,"
		" (SELECT 1 AS number, 'KGD' AS name, 1 AS pass"
		"  UNION ALL SELECT 5, 'OPTICAL_REJECT', 0"
		"  UNION ALL SELECT 7, 'BER_REJECT', 0) b WHERE s.sha256 = 's1';";
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	db *d = NULL;
	int rc = 0, x, y;

	if (db_open(path, &d, &err))
		return -1;
	rc |= add_die(d, "L1", "W1", 0, 0, 0, -9.5, 0.0, 1e-13);
	for (y = 0; y < 3; y++)
		for (x = 0; x < 3; x++)
			rc |= add_die(d, "L1", "W1", x, y, 0, 0.25 * x - 0.5 * y,
				      x == 2 && y == 2 ? NAN : 1.0 + 0.125 * x,
				      x == 1 && y == 1 ? 1e-10 : 1e-14 * (1 + x));
	rc |= add_die(d, "L1", "W2", 0, 0, 0, 0.5, 0.75, 1e-15);
	rc |= add_die(d, "L1", "W2", 1, 0, 0, 3.5, 0.75, 1e-15);
	rc |= add_die(d, "L2", "W1", 5, 5, 1, 1.5, 2.5, 1e-14);
	rc |= add_die(d, "L2", "W1", 5, 6, 1, 1.5, 2.5, 1e-9);
	db_close(d);
	if (rc || sqlite3_open(path, &h) != SQLITE_OK)
		rc = -1;
	else if (sqlite3_exec(h, bins, NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	/* a screen (station screen, schema 8) rejects L1/W1 die (1,0), a
	 * pass: every report but yield.csv's pre-screen columns shows it
	 * failed with bins 9/90 */
	if (!rc && sqlite3_exec(h, "INSERT INTO screen(lot_id, config_sha256,"
				" config_text, soft_bin, hard_bin, seq,"
				" result_sha256, screened_at) SELECT id, 'c', 't',"
				" 90, 9, 1, 'r', '2025-03-01T00:00:00.000Z' FROM lot"
				" WHERE name = 'L1';"
				"INSERT INTO screen_die(screen_id, part_id, run_id,"
				" soft_bin, hard_bin, reason) SELECT 1, p.id, (SELECT"
				" max(id) FROM run WHERE part_id = p.id), 90, 9,"
				" 'dpat power' FROM part p JOIN wafer w ON w.id ="
				" p.wafer_id JOIN lot l ON l.id = p.lot_id WHERE"
				" l.name = 'L1' AND w.name = 'W1' AND p.die_x = 1"
				" AND p.die_y = 0", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	/* dates to filter on */
	if (!rc && sqlite3_exec(h, "UPDATE run SET started_at ="
				" '2025-01-10T08:00:00.000Z', ended_at ="
				" '2025-01-10T08:00:01.500Z';"
				"UPDATE run SET started_at = '2025-02-01T09:00:00.000Z',"
				" ended_at = '2025-02-01T09:00:02.000Z' WHERE"
				" station_id = (SELECT id FROM station WHERE"
				" name = 'st2')", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	sqlite3_close(h);
	return rc;
}

static int wafer_init(void)
{
	snprintf(wdir, sizeof(wdir), "%s", tu_mkdtemp("rptw"));
	snprintf(wafer_db, sizeof(wafer_db), "%s/wafer.db", wdir);
	return build_wafer_db(wafer_db);
}

static int wafer_clean(void)
{
	tu_rmtree(wdir);
	return 0;
}

static const char *wpath(const char *name)
{
	static char path[4][700];
	static int next;

	next = (next + 1) % 4;
	snprintf(path[next], sizeof(path[next]), "%s/%s", wdir, name);
	return path[next];
}

/* python3 on PATH (tu_run does not search it). */
static const char *python3(void)
{
	static char found[600];
	const char *path = getenv("PATH");
	const char *p, *end;

	if (found[0])
		return found;
	for (p = path ? path : "/usr/bin"; *p; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		snprintf(found, sizeof(found), "%.*s/python3", (int)(end - p), p);
		if (access(found, X_OK) == 0)
			return found;
	}
	snprintf(found, sizeof(found), "/usr/bin/python3");
	return found;
}

/* Run a python3 checker from tests/; its verdict is the exit status. */
static int run_py(const char *script, const char *a1, const char *a2,
		  const char *a3, const char *a4, const char *a5,
		  const char *a6, const char *a7, const char *a8)
{
	char path[700], out[4096], errbuf[8192];
	char *argv[] = { (char *)python3(), path, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, (char *)a7,
			 (char *)a8, NULL };
	int rc;

	snprintf(path, sizeof(path), "%s/tests/%s", KGD_SOURCE_DIR, script);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
	if (rc != 0)
		fprintf(stderr, "\n%s: exit %d\n%s%s", script, rc, out, errbuf);
	return rc;
}

static int write_to(const char *sub, const rpt_options *opt, unsigned which,
		    rpt_summary *sum, kgd_err *err)
{
	const char *dir = wpath(sub);

	mkdir(dir, 0700);
	return rpt_write(wafer_db, dir, opt, which, sum, err);
}

static void test_all_reports_final(void)
{
	rpt_summary sum;
	kgd_err err = { 0 };
	char *csv;

	CU_ASSERT_EQUAL_FATAL(write_to("final", NULL, RPT_ALL_CSV, &sum, &err),
			      KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 13);
	/* 11 CSVs (instruments.csv since schema 5, pat_limits.csv since 6,
	 * trend.csv) + 3 wafer pictures */
	CU_ASSERT_EQUAL(sum.files, 14);
	CU_ASSERT_EQUAL(run_py("test_reports_csv.py", wpath("final"), wafer_db,
			       NULL, NULL, NULL, NULL, NULL, NULL), 0);
	/* a few numbers by hand, so the checker itself is checked */
	csv = tu_slurp(wpath("final/yield.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,11,8,3,72.73,,7,63.64,1,1,7,63.64\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,9,7,2,77.78,W1,6,66.67,1,1,6,66.67\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL2,2,1,1,50.00,W1,1,50.00,0,0,1,50.00\n"));
	free(csv);
	csv = tu_slurp(wpath("final/bins.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W1,soft,70,\"BER, \"\"lane\"\"\""
				      ",0,1,11.11\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,,hard,,,,1,9.09\n"));
	/* Hard bins are named from the hard_bin table, not the soft bins. */
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W1,hard,7,BER_REJECT,0,1,11.11\n"));
	/* final bins: the screened die left KGD for the screen's bin 9 */
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W1,hard,1,KGD,1,6,66.67\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W1,hard,9,SCREEN_REJECT,0,1,"
				      "11.11\n"));
	/* every defined bin, empty ones too (L2 ran a sequence without
	 * bin tables: only the bins its parts landed in) */
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W1,soft,50,OPTICAL_POWER,0,0,"
				      "0.00\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W2,soft,70,\"BER, \"\"lane"
				      "\"\"\",0,0,0.00\n"));
	/* the screen's bins on a wafer it rejected nothing on */
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,W2,hard,9,SCREEN_REJECT,0,0,"
				      "0.00\n"));
	CU_ASSERT_PTR_NULL(strstr(csv, "\nL2,W1,soft,50,"));
	free(csv);
	/* teststats.csv: the unitless BER spans four decades: a ratio, on
	 * log10; power in dBm is linear */
	csv = tu_slurp(wpath("final/teststats.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(line_starting(csv, "ber,"));
	if (line_starting(csv, "ber,")) {
		const char *l = line_starting(csv, "ber,");

		CU_ASSERT(strstr(l, ",log10,") && strstr(l, ",log10,") <
			  strchr(l, '\n'));
	}
	CU_ASSERT(line_starting(csv, "power,") &&
		  line_ends(line_starting(csv, "power,"), ",linear" NO_LOG10));
	free(csv);
	/* parts.csv: key columns carry their unit, [] when none */
	csv = tu_slurp(wpath("final/parts.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_EQUAL(strncmp(csv, "lot,wafer,x,y,serial,status,hard_bin,"
				"soft_bin,runs,power@port=1[dBm],"
				"power@port=2[dBm],ber[]\n", 93), 0);
	free(csv);
	csv = tu_slurp(wpath("final/pareto.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	/* one Pareto per lot, then per wafer, each over its own parts */
	CU_ASSERT_STRING_EQUAL(csv, "rank,step,first_fail_parts,first_fail_pct,"
			       "first_fail_cum_pct,any_fail_parts,any_fail_pct,"
			       "lot,wafer\n"
			       "1,power,2,18.18,18.18,2,18.18,L1,\n"
			       "2,ber,1,9.09,27.27,1,9.09,L1,\n"
			       "1,ber,1,11.11,11.11,1,11.11,L1,W1\n"
			       "2,power,1,11.11,22.22,1,11.11,L1,W1\n"
			       "1,power,1,50.00,50.00,1,50.00,L1,W2\n"
			       "1,ber,1,50.00,50.00,1,50.00,L2,\n"
			       "1,ber,1,50.00,50.00,1,50.00,L2,W1\n");
	free(csv);
	csv = tu_slurp(wpath("final/wafermap_L1_W1.svg"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "Lot L1 wafer W1: yield 66.67% "
				      "(6 of 9 dies pass)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "soft bin 70 BER, &quot;lane&quot;: 1<"));
	free(csv);
}

/* Replace the first `from` in file path by `to`; 0 when done. */
static int patch_file(const char *path, const char *from, const char *to)
{
	char *text = tu_slurp(path, NULL), *at;
	FILE *f;
	int rc = -1;

	if (!text || !(at = strstr(text, from)))
		goto out;
	f = fopen(path, "w");
	if (!f)
		goto out;
	fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	rc = fclose(f) == 0 ? 0 : -1;
out:
	free(text);
	return rc;
}

/* The wafer pictures, checked by tests/test_wafer_svg.py: without
 * recorded geometry (the file as the station wrote it: the lot's bounding
 * box), and with the prober's geometry on L1's wafers (a 12 mm wafer of
 * 2 x 2 mm dies; W1 on a 5 x 5 grid: untested sites, edge 0.5 mm, notch
 * at 90 deg; W2 a 1 x 1 grid, one die off it, no edge, no notch), with
 * report.html; one colour per bin number across both. A picture with one
 * die's colour changed fails. */
static void test_wafer_pictures(void)
{
	char geo_db[700], sql[900];
	rpt_summary sum;
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	char *svg;

	CU_ASSERT_EQUAL_FATAL(write_to("final", NULL, RPT_WAFERMAP, &sum, &err),
			      KGD_OK);
	snprintf(geo_db, sizeof(geo_db), "%s", wpath("geo.db"));
	snprintf(sql, sizeof(sql), "VACUUM INTO '%s';", geo_db);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(wafer_db, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(geo_db, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "UPDATE wafer SET map_diameter_mm = 12,"
				     " map_die_w_um = 2000, map_die_h_um = 2000,"
				     " map_cols = 5, map_rows = 5 WHERE lot_id ="
				     " (SELECT id FROM lot WHERE name = 'L1');"
				     "UPDATE wafer SET map_edge_mm = 0.5,"
				     " map_notch_deg = 90 WHERE name = 'W1' AND"
				     " lot_id = (SELECT id FROM lot WHERE name ="
				     " 'L1');"
				     /* W2: a one-die map; its die (1,0) is off it */
				     "UPDATE wafer SET map_cols = 1, map_rows = 1"
				     " WHERE name = 'W2' AND lot_id = (SELECT id"
				     " FROM lot WHERE name = 'L1')", NULL, NULL,
				     NULL), SQLITE_OK);
	sqlite3_close(h);
	mkdir(wpath("geo"), 0700);
	CU_ASSERT_EQUAL_FATAL(rpt_write(geo_db, wpath("geo"), NULL,
					RPT_WAFERMAP | RPT_HTML, &sum, &err),
			      KGD_OK);
	CU_ASSERT_EQUAL(run_py("test_wafer_svg.py", wafer_db, wpath("final"),
			       geo_db, wpath("geo"), NULL, NULL, NULL, NULL), 0);
	svg = tu_slurp(wpath("geo/wafermap_L1_W1.svg"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
	/* by hand: the real outline, 13 sites in the usable circle plus the
	 * three tested corner dies outside it, one retest */
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "prober map: 12 mm wafer, die 2.000 x"
				      " 2.000 mm, 5 x 5 grid, edge 0.5 mm, notch"
				      " at 90 deg; 7 untested sites (dashed), 1"
				      " retested (/), 1 rejected"));
	free(svg);
	svg = tu_slurp(wpath("geo/wafermap_L1_W2.svg"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "yield 50.00% (1 of 2 dies pass)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "1 x 1 grid, edge 0.0 mm, notch not"
				      " given (drawn down); 0 untested sites"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "; 1 tested die off the prober's map"
				      " (not drawn)</text>"));
	free(svg);
	svg = tu_slurp(wpath("final/wafermap_L1_W2.svg"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "no prober geometry recorded"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "7 untested sites"));
	free(svg);
	/* the checker can fail: one passing die drawn in bin 5's colour */
	CU_ASSERT_EQUAL(patch_file(wpath("geo/wafermap_L1_W1.svg"),
				   "fill=\"#2ca02c\"", "fill=\"#f0e442\""), 0);
	CU_ASSERT_NOT_EQUAL(run_py("test_wafer_svg.py", geo_db, wpath("geo"),
				   NULL, NULL, NULL, NULL, NULL, NULL), 0);
}

static void test_first_pass_and_filters(void)
{
	rpt_options opt = { .first_pass = 1 };
	rpt_summary sum;
	kgd_err err = { 0 };
	char *csv;

	CU_ASSERT_EQUAL_FATAL(write_to("first", &opt, RPT_ALL_CSV, &sum, &err),
			      KGD_OK);
	CU_ASSERT_EQUAL(run_py("test_reports_csv.py", wpath("first"), wafer_db,
			       "--first-pass", NULL, NULL, NULL, NULL, NULL), 0);
	csv = tu_slurp(wpath("first/yield.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nL1,11,7,4,63.64,,7,63.64,1,1,6,54.55\n"));
	free(csv);

	memset(&opt, 0, sizeof(opt));
	opt.lot = "L2";
	opt.by_coords = 1;
	CU_ASSERT_EQUAL_FATAL(write_to("l2", &opt, RPT_ALL_CSV, &sum, &err),
			      KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 2);
	CU_ASSERT_EQUAL(run_py("test_reports_csv.py", wpath("l2"), wafer_db,
			       "--lot", "L2", "--by-coords", NULL, NULL, NULL), 0);

	memset(&opt, 0, sizeof(opt));
	opt.has_seq_version = 1;
	opt.seq_version = 2;
	CU_ASSERT_EQUAL(write_to("v2", &opt, RPT_YIELD, &sum, &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 2);
	memset(&opt, 0, sizeof(opt));
	opt.station = "st1";
	opt.wafer = "W1";
	CU_ASSERT_EQUAL(write_to("st1", &opt, RPT_YIELD, &sum, &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 9);
	memset(&opt, 0, sizeof(opt));
	opt.product = "Q";
	CU_ASSERT_EQUAL(write_to("q", &opt, RPT_YIELD, &sum, &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 2);
	/* dates: --to takes the whole day, --from is inclusive */
	memset(&opt, 0, sizeof(opt));
	opt.to = "2025-01-10";
	CU_ASSERT_EQUAL(write_to("to", &opt, RPT_YIELD, &sum, &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 11);
	opt.to = NULL;
	opt.from = "2025-02-01";
	CU_ASSERT_EQUAL(write_to("from", &opt, RPT_YIELD, &sum, &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 2);
	opt.from = "2025-1-1";
	CU_ASSERT_EQUAL(write_to("bad", &opt, RPT_YIELD, &sum, &err),
			KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "2025-1-1"));
}

static void test_nothing_matches(void)
{
	rpt_options opt = { .lot = "NOPE" };
	rpt_summary sum;
	kgd_err err = { 0 };

	CU_ASSERT_EQUAL(write_to("nope", &opt, RPT_ALL_CSV, &sum, &err),
			KGD_ERR_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no lot named 'NOPE'"));
	CU_ASSERT_FALSE(exists(wpath("nope/yield.csv")));
	opt.lot = "L1";
	opt.product = "Q";
	CU_ASSERT_EQUAL(write_to("nope", &opt, RPT_ALL_CSV, &sum, &err),
			KGD_ERR_NOT_FOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no tested part matches"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "product=Q"));
	CU_ASSERT_FALSE(exists(wpath("nope/yield.csv")));
}

static void test_same_bytes_twice(void)
{
	static const char *const files[] = {
		"yield.csv", "tests.csv", "bins.csv", "pareto.csv",
		"teststats.csv", "wafermap.csv", "parts.csv", "testtime.csv",
		"wafermap_L1_W1.svg", "L1_W1.stdf", "L2_W1.stdf",
	};
	kgd_err err = { 0 };
	char a[700], b[700];
	char *x, *y;
	size_t i, nx, ny;

	CU_ASSERT_EQUAL_FATAL(write_to("twice1", NULL, RPT_ALL_CSV | RPT_STDF,
				       NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(write_to("twice2", NULL, RPT_ALL_CSV | RPT_STDF,
				       NULL, &err), KGD_OK);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(a, sizeof(a), "%s/twice1/%s", wdir, files[i]);
		snprintf(b, sizeof(b), "%s/twice2/%s", wdir, files[i]);
		x = tu_slurp(a, &nx);
		y = tu_slurp(b, &ny);
		CU_ASSERT_PTR_NOT_NULL(x);
		CU_ASSERT(x && y && nx == ny && memcmp(x, y, nx) == 0);
		free(x);
		free(y);
	}
}

static void test_stdf_read_back(void)
{
	static const char *const wafers[][2] = {
		{"L1", "W1"}, {"L1", "W2"}, {"L2", "W1"},
	};
	rpt_options opt = { .first_pass = 1 };
	rpt_summary sum;
	kgd_err err = { 0 };
	char file[700];
	size_t i;

	CU_ASSERT_EQUAL_FATAL(write_to("stdf", NULL, RPT_STDF, &sum, &err),
			      KGD_OK);
	CU_ASSERT_EQUAL(sum.files, 3);
	for (i = 0; i < 3; i++) {
		snprintf(file, sizeof(file), "%s/stdf/%s_%s.stdf", wdir,
			 wafers[i][0], wafers[i][1]);
		CU_ASSERT_EQUAL(run_py("stdf_read.py", file, "--db", wafer_db,
				       "--lot", wafers[i][0], "--wafer",
				       wafers[i][1], NULL), 0);
	}
	CU_ASSERT_EQUAL_FATAL(write_to("stdf1", &opt, RPT_STDF, &sum, &err),
			      KGD_OK);
	snprintf(file, sizeof(file), "%s/stdf1/L1_W1.stdf", wdir);
	CU_ASSERT_EQUAL(run_py("stdf_read.py", file, "--db", wafer_db, "--lot",
			       "L1", "--wafer", "W1", "--first-pass"), 0);
}

/* ---- testtime.csv: step durations ---------------------------------------- */

static char tdir[512];
static char time_db[600];

/* One step of a timed run: its duration in seconds, < 0 = written
 * without times (db_step_result_add, as before schema 4). */
struct tstep {
	const char *step;
	double dur;
};

/* A part that started at `start` (Unix seconds) and took part_s seconds
 * from start to commit; its steps run one after the other from start.
 * The run's end is "at commit" (now), so it is set to start + part_s in
 * SQL afterwards: *end_sql collects the UPDATE. */
static int add_timed_run(db *d, const char *lot, const char *wafer, int x,
			 const char *seq, int version, double start,
			 double part_s, const struct tstep *s, int n,
			 char *end_sql, size_t cap)
{
	db_run_info info = {
		.station = "st1", .lot = lot, .wafer = wafer, .die_x = x,
		.has_xy = 1, .seq_name = seq, .seq_version = version,
		.seq_sha256 = version == 2 ? "t2" : seq, .seq_text = "t",
		.started = start,
	};
	kgd_err err = { 0 };
	double t = start;
	int64_t run_id;
	size_t len = strlen(end_sql);
	int i, rc = 0;

	if (db_run_begin(d, &info, &run_id, &err))
		return -1;
	for (i = 0; i < n && !rc; i++) {
		if (s[i].dur < 0) {
			rc = db_step_result_add(d, run_id, s[i].step, "pass", 0, 0,
						&err);
			continue;
		}
		rc = db_step_result_add_timed(d, run_id, s[i].step, "pass", 0, 0,
					      t, t + s[i].dur, &err);
		t += s[i].dur;
	}
	if (rc || db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL, &err))
		return -1;
	snprintf(end_sql + len, cap - len, "UPDATE run SET ended_at = strftime("
		 "'%%Y-%%m-%%dT%%H:%%M:%%fZ', started_at, '%+g seconds') WHERE"
		 " id = %lld;", part_s, (long long)run_id);
	return 0;
}

/*
 * Lot T, wafer W1, sequence "tphy" (versions 1 and 2: one name, one set of
 * rows). Steps in file order zz_align, power, ber (byte order is the
 * reverse, so the row order shows which one the report uses).
 *   die 0, first run:  0.5, 1.0, 0.25   part 2 s
 *   die 1:             0.5, 2.0, 0.5    part 3 s
 *   die 2:             0.5, 3.0, 1.5    part 4 s
 *   die 3:             0.5, 4.0, untimed part 5 s
 *   die 4:             0.5, 4.0, 0.5    part -1 s (the wall clock stepped
 *                                       back: no part time, no share)
 *   die 0, retest (v2): 0.5, 10.0, 0.5  part 12 s
 * Lot U, sequence "elsfp": "old" untimed, "lasers_on, all" 1.25; part 2.5 s.
 */
static int build_time_db(const char *path)
{
	static const struct tstep d0[] = {
		{"zz_align", 0.5}, {"power", 1.0}, {"ber", 0.25} };
	static const struct tstep d1[] = {
		{"zz_align", 0.5}, {"power", 2.0}, {"ber", 0.5} };
	static const struct tstep d2[] = {
		{"zz_align", 0.5}, {"power", 3.0}, {"ber", 1.5} };
	static const struct tstep d3[] = {
		{"zz_align", 0.5}, {"power", 4.0}, {"ber", -1} };
	static const struct tstep d4[] = {
		{"zz_align", 0.5}, {"power", 4.0}, {"ber", 0.5} };
	static const struct tstep d0r[] = {
		{"zz_align", 0.5}, {"power", 10.0}, {"ber", 0.5} };
	static const struct tstep u0[] = {
		{"old", -1}, {"lasers_on, all", 1.25} };
	char end_sql[4096] = "";
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	db *d = NULL;
	int rc = 0;

	if (db_open(path, &d, &err))
		return -1;
	rc |= add_timed_run(d, "T", "W1", 0, "tphy", 1, 1700000000, 2, d0, 3,
			    end_sql, sizeof(end_sql));
	rc |= add_timed_run(d, "T", "W1", 1, "tphy", 1, 1700000100, 3, d1, 3,
			    end_sql, sizeof(end_sql));
	rc |= add_timed_run(d, "U", "W9", 0, "elsfp", 1, 1700000150, 2.5, u0, 2,
			    end_sql, sizeof(end_sql));
	rc |= add_timed_run(d, "T", "W1", 2, "tphy", 1, 1700000200, 4, d2, 3,
			    end_sql, sizeof(end_sql));
	rc |= add_timed_run(d, "T", "W1", 3, "tphy", 1, 1700000300, 5, d3, 3,
			    end_sql, sizeof(end_sql));
	rc |= add_timed_run(d, "T", "W1", 4, "tphy", 1, 1700000350, -1, d4, 3,
			    end_sql, sizeof(end_sql));
	rc |= add_timed_run(d, "T", "W1", 0, "tphy", 2, 1700000400, 12, d0r, 3,
			    end_sql, sizeof(end_sql));
	db_close(d);
	if (rc || sqlite3_open(path, &h) != SQLITE_OK ||
	    sqlite3_exec(h, end_sql, NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	sqlite3_close(h);
	return rc;
}

static int time_init(void)
{
	snprintf(tdir, sizeof(tdir), "%s", tu_mkdtemp("rptt"));
	snprintf(time_db, sizeof(time_db), "%s/time.db", tdir);
	return build_time_db(time_db);
}

static int time_clean(void)
{
	tu_rmtree(tdir);
	return 0;
}

static const char *tpath(const char *name)
{
	static char path[4][700];
	static int next;

	next = (next + 1) % 4;
	snprintf(path[next], sizeof(path[next]), "%s/%s", tdir, name);
	return path[next];
}

/* A CSV file read back with libcsv's parser (quotes undone), cells as
 * text. */
#define CSV_ROWS 16
#define CSV_COLS 12

struct csv_table {
	char cell[CSV_ROWS][CSV_COLS][64];
	int n_rows, col, overflow;
};

static void csv_cell(void *s, size_t len, void *data)
{
	struct csv_table *t = data;

	if (t->n_rows >= CSV_ROWS || t->col >= CSV_COLS || len >= 64) {
		t->overflow = 1;
		return;
	}
	memcpy(t->cell[t->n_rows][t->col], s ? s : "", s ? len : 0);
	t->cell[t->n_rows][t->col][s ? len : 0] = '\0';
	t->col++;
}

static void csv_row(int c, void *data)
{
	struct csv_table *t = data;

	(void)c;
	t->n_rows++;
	t->col = 0;
}

static int csv_read(const char *path, struct csv_table *t)
{
	struct csv_parser p;
	size_t n = 0;
	char *text = tu_slurp(path, &n);
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (!text || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(text);
		return -1;
	}
	if (csv_parse(&p, text, n, csv_cell, csv_row, t) == n &&
	    csv_fini(&p, csv_cell, csv_row, t) == 0 && !t->overflow)
		rc = 0;
	csv_free(&p);
	free(text);
	return rc;
}

/* Row r's cell c as a number; NAN when empty (so "no value" never equals
 * an expected figure). */
static double cell_d(const struct csv_table *t, int r, int c)
{
	const char *s = t->cell[r][c];
	char *end;
	double v;

	if (!*s)
		return NAN;
	v = strtod(s, &end);
	return *end ? NAN : v;
}

struct time_want {
	const char *seq, *step;
	long long runs;
	double mean, p50, p95, max, share;
};

static void check_time_rows(const char *path, const struct time_want *w,
			    int n)
{
	static const char *const header[] = {
		"sequence", "step", "runs", "mean_s", "p50_s", "p95_s", "max_s",
		"share_of_part",
	};
	struct csv_table t;
	int r, c;

	CU_ASSERT_EQUAL_FATAL(csv_read(path, &t), 0);
	CU_ASSERT_EQUAL_FATAL(t.n_rows, n + 1);
	for (c = 0; c < 8; c++)
		CU_ASSERT_STRING_EQUAL(t.cell[0][c], header[c]);
	for (r = 0; r < n; r++) {
		CU_ASSERT_STRING_EQUAL(t.cell[r + 1][0], w[r].seq);
		CU_ASSERT_STRING_EQUAL(t.cell[r + 1][1], w[r].step);
		CU_ASSERT_EQUAL(cell_d(&t, r + 1, 2), (double)w[r].runs);
		CU_ASSERT(close_to(cell_d(&t, r + 1, 3), w[r].mean));
		/* percentiles and max are values some part took: exact */
		CU_ASSERT_EQUAL(cell_d(&t, r + 1, 4), w[r].p50);
		CU_ASSERT_EQUAL(cell_d(&t, r + 1, 5), w[r].p95);
		CU_ASSERT_EQUAL(cell_d(&t, r + 1, 6), w[r].max);
		CU_ASSERT(close_to(cell_d(&t, r + 1, 7), w[r].share));
		if (!close_to(cell_d(&t, r + 1, 3), w[r].mean) ||
		    !close_to(cell_d(&t, r + 1, 7), w[r].share))
			fprintf(stderr, "\n%s row %d: %s %s mean %s share %s\n",
				path, r + 1, t.cell[r + 1][0], t.cell[r + 1][1],
				t.cell[r + 1][3], t.cell[r + 1][7]);
	}
}

static int write_time(const char *sub, const rpt_options *opt,
		      unsigned which, rpt_summary *sum, kgd_err *err)
{
	const char *out = tpath(sub);

	mkdir(out, 0700);
	return rpt_write(time_db, out, opt, which, sum, err);
}

/*
 * Final runs: die 0 counts through its retest (v2, same sequence name).
 * Die 4 has no part time: in every duration column, in no share.
 *   zz_align: 0.5 x5; share 4 x 0.5 / (12 + 3 + 4 + 5 = 24 s)
 *   power: 2, 3, 4, 4, 10 -> mean 4.6; nearest rank p50 = x[ceil 2.5] = 4
 *          (type 7 would say 4 too, but p95 = x[ceil 4.75] = 10 where type
 *          7 says 8.8); share (10 + 2 + 3 + 4) / 24
 *   ber: die 3 untimed -> 4 runs 0.5, 0.5, 0.5, 1.5: mean 0.75, p50 0.5,
 *        p95 1.5; share (0.5 + 0.5 + 1.5) / (12 + 3 + 4 = 19 s)
 *   elsfp first (byte order of sequence names); "old" has no times: no row.
 */
static void test_testtime_final(void)
{
	static const struct time_want want[] = {
		{"elsfp", "lasers_on, all", 1, 1.25, 1.25, 1.25, 1.25, 0.5},
		{"tphy", "zz_align", 5, 0.5, 0.5, 0.5, 0.5, 2.0 / 24},
		{"tphy", "power", 5, 4.6, 4.0, 10.0, 10.0, 19.0 / 24},
		{"tphy", "ber", 4, 0.75, 0.5, 1.5, 1.5, 2.5 / 19},
	};
	rpt_summary sum;
	kgd_err err = { 0 };

	CU_ASSERT_EQUAL_FATAL(write_time("final", NULL, RPT_TESTTIME, &sum,
					 &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.files, 1);
	check_time_rows(tpath("final/testtime.csv"), want, 4);
	/* the station's report writes it with the other CSVs */
	CU_ASSERT_EQUAL_FATAL(write_time("all", NULL, RPT_ALL_CSV, &sum, &err),
			      KGD_OK);
	check_time_rows(tpath("all/testtime.csv"), want, 4);
	CU_ASSERT_EQUAL(run_py("test_reports_csv.py", tpath("all"), time_db,
			       NULL, NULL, NULL, NULL, NULL, NULL), 0);
}

/*
 * First pass, lot T: die 0 through its first run; lot U left out.
 *   zz_align: 5 runs; share 2 / (2 + 3 + 4 + 5 = 14 s)
 *   power: 1, 2, 3, 4, 4 -> mean 2.8, p50 x[3] = 3, p95 x[5] = 4;
 *          share (1 + 2 + 3 + 4) / 14
 *   ber: 0.25, 0.5, 0.5, 1.5 -> mean 0.6875, p50 x[2] = 0.5, p95 x[4] =
 *        1.5; share (0.25 + 0.5 + 1.5) / (2 + 3 + 4 = 9 s) = 0.25
 */
static void test_testtime_first_pass_lot(void)
{
	static const struct time_want want[] = {
		{"tphy", "zz_align", 5, 0.5, 0.5, 0.5, 0.5, 2.0 / 14},
		{"tphy", "power", 5, 2.8, 3.0, 4.0, 4.0, 10.0 / 14},
		{"tphy", "ber", 4, 0.6875, 0.5, 1.5, 1.5, 0.25},
	};
	rpt_options opt = { .first_pass = 1, .lot = "T" };
	rpt_summary sum;
	kgd_err err = { 0 };

	CU_ASSERT_EQUAL_FATAL(write_time("first", &opt, RPT_ALL_CSV, &sum,
					 &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 5);
	check_time_rows(tpath("first/testtime.csv"), want, 3);
	CU_ASSERT_EQUAL(run_py("test_reports_csv.py", tpath("first"), time_db,
			       "--first-pass", "--lot", "T", NULL, NULL, NULL),
			0);
}

/* A schema-3 file (no step times) still gets every report; testtime.csv
 * is its header alone. */
static void test_testtime_old_file(void)
{
	static const char fill[] =
		"INSERT INTO station VALUES (1, 'st1', NULL);"
		"INSERT INTO sequence VALUES (1, 'tphy', 1, 'x', 't');"
		"INSERT INTO lot VALUES (1, 'L');"
		"INSERT INTO wafer VALUES (1, 1, 'W');"
		"INSERT INTO part VALUES (1, 1, 1, NULL, 0, 0);"
		"INSERT INTO run(id, part_id, sequence_id, station_id, started_at,"
		" ended_at, status, hard_bin, soft_bin) VALUES (1, 1, 1, 1,"
		" '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:02.000Z', 'pass',"
		" 1, 1);"
		"INSERT INTO step_result VALUES (1, 1, 'power', 'pass', NULL, 0);";
	rpt_summary sum;
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	char path[700], *csv;

	/* a copy: tpath()'s buffers are reused */
	snprintf(path, sizeof(path), "%s", tpath("v3.db"));
	CU_ASSERT_EQUAL_FATAL(db_create_at_version(path, 3, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, fill, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	mkdir(tpath("v3"), 0700);
	CU_ASSERT_EQUAL_FATAL(rpt_write(path, tpath("v3"), NULL, RPT_ALL_CSV,
					&sum, &err), KGD_OK);
	CU_ASSERT_EQUAL(sum.parts, 1);
	csv = tu_slurp(tpath("v3/testtime.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(csv, "sequence,step,runs,mean_s,p50_s,p95_s,"
			       "max_s,share_of_part\n");
	free(csv);
	CU_ASSERT_EQUAL(run_py("test_reports_csv.py", tpath("v3"), path, NULL,
			       NULL, NULL, NULL, NULL, NULL), 0);
	/* a report never migrates: the file is still schema 3 */
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	{
		sqlite3_stmt *st = NULL;

		CU_ASSERT_EQUAL(sqlite3_prepare_v2(h, "PRAGMA user_version", -1,
						   &st, NULL), SQLITE_OK);
		CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
		CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), 3);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("reports", suite_init, suite_clean);
	CU_pSuite w, t;

	if (!s)
		return -1;
	CU_add_test(s, "yield.csv bytes, final runs, quoting", test_yield_bytes);
	CU_add_test(s, "tests.csv statistics", test_tests_stats);
	CU_add_test(s, "empty database: header only", test_empty_db);
	CU_add_test(s, "missing database", test_missing_db);
	CU_add_test(s, "not a station database", test_not_station_db);
	CU_add_test(s, "output errors, replace in place",
		    test_output_errors_and_replace);
	CU_add_test(s, "report beside a writing station",
		    test_report_beside_writer);
	w = CU_add_suite("reports-wafer", wafer_init, wafer_clean);
	if (!w)
		return -1;
	CU_add_test(w, "wafer pictures against python (test_wafer_svg.py)",
		    test_wafer_pictures);
	CU_add_test(w, "every report, final runs, against python",
		    test_all_reports_final);
	CU_add_test(w, "first pass and filters", test_first_pass_and_filters);
	CU_add_test(w, "unknown lot, nothing matches", test_nothing_matches);
	CU_add_test(w, "same bytes twice", test_same_bytes_twice);
	CU_add_test(w, "STDF V4 read back by an independent reader",
		    test_stdf_read_back);
	t = CU_add_suite("reports-testtime", time_init, time_clean);
	if (!t)
		return -1;
	CU_add_test(t, "testtime.csv: final runs, exact figures",
		    test_testtime_final);
	CU_add_test(t, "testtime.csv: first pass, lot filter",
		    test_testtime_first_pass_lot);
	CU_add_test(t, "testtime.csv: schema-3 file, header only",
		    test_testtime_old_file);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
