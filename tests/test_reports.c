/*
 * tests/test_reports.c - CSV reports from a database of known contents.
 *
 * The database is written through db.h, as the station writes it; the
 * expected CSV bytes and statistics are worked out by hand below, so a
 * report that miscounts, misrounds or misquotes fails here.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "rpt.h"
#include "testutil.h"

static char dir[512];
static char known_db[600];

#define QUOTED_LOT "C, \"x\""

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
		"lot,tested,passed,failed,yield_pct\n"
		"A,3,2,1,66.67\n"
		"B,2,0,2,0.00\n"
		"\"C, \"\"x\"\"\",1,1,0,100.00\n");
	free(csv);
	CU_ASSERT_FALSE(exists(in_dir("yield.csv.tmp")));
}

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
		"n_invalid,mean,stdev,min,max\nber,";
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
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\ngain,dB,,,1,1,0,0,0.1,,0.1,0.1\n"));

	/* the mean of 1, 2, -7, 4, 0.5 is 0.1 exactly as printed */
	power = line_starting(csv, "power,dBm,-6,3,6,3,3,1,0.1,");
	CU_ASSERT_PTR_NOT_NULL_FATAL(power);
	CU_ASSERT(close_to(field_d(power, 9), sqrt(17.55)));
	CU_ASSERT(line_ends(power, ",-7,4"));

	ber = line_starting(csv, "ber,,,1e-12,2,1,1,0,");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ber);
	CU_ASSERT(close_to(field_d(ber, 8), 5.05e-12));
	CU_ASSERT(close_to(field_d(ber, 9), 9.9e-12 / sqrt(2.0)));
	CU_ASSERT(line_ends(ber, ",1e-13,1e-11"));
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
	CU_ASSERT_STRING_EQUAL(csv, "lot,tested,passed,failed,yield_pct\n");
	free(csv);
	csv = tu_slurp(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(csv, "step,unit,low,high,n,n_pass,n_fail,"
			       "n_invalid,mean,stdev,min,max\n");
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
		CU_ASSERT_STRING_EQUAL(csv, "lot,tested,passed,failed,yield_pct\n");
	free(csv);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	CU_ASSERT_EQUAL(rpt_yield_csv(path, out, &err), KGD_OK);
	csv = tu_slurp(out, NULL);
	CU_ASSERT_PTR_NOT_NULL(csv);
	if (csv)
		CU_ASSERT_STRING_EQUAL(csv, "lot,tested,passed,failed,yield_pct\n"
				       "L,1,1,0,100.00\n");
	free(csv);
	db_close(d);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("reports", suite_init, suite_clean);

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
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
