/*
 * tests/test_db.c - the result store against real SQLite files.
 *
 * Every test writes through db.h into a fresh scratch folder and checks
 * the file with SQLite directly, so what is asserted is what a report or
 * an analyst would read, not what the writer believes it wrote.
 */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "testutil.h"

static char dir[512];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("db"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static const char *db_file(const char *name)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static db_run_info die_info(const char *lot, const char *wafer, int x, int y)
{
	db_run_info info = {
		.station = "kgd-st1", .host = "lab-pc-7",
		.operator_name = "alice", .lot = lot, .wafer = wafer,
		.serial = NULL, .die_x = x, .die_y = y, .has_xy = 1,
		.seq_name = "teraphy-kgd", .seq_version = 3,
		.seq_sha256 = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
		.seq_text = "sequence: teraphy-kgd\nversion: 3\n",
		.product = "TPHY-16x16",
	};
	return info;
}

/* The first column of the first row of sql on a fresh read connection. */
static long long q_int(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -999;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "q_int(%s): %s\n", sql, sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void q_text(const char *path, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(buf, cap, "<no row>");
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, cap, "%s", sqlite3_column_text(st, 0)
			 ? (const char *)sqlite3_column_text(st, 0) : "<null>");
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* 2025-01-31T12:34:56.789Z */
static int is_iso_ms(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	return 1;
}

static void test_round_trip(void)
{
	const char *path = db_file("rt.db");
	db_run_info info = die_info("LOT-17", "W03", -4, 12);
	db_measurement m1 = {
		.step = "port_power", .coords = "{\"port\":3,\"wavelength_nm\":1301.0}",
		.value = -1.25, .value_valid = 1, .unit = "dBm",
		.low = -6.0, .high = 3.0, .has_low = 1, .has_high = 1, .pass = 1,
	};
	db_measurement m2 = {
		.step = "lane_ber", .coords = NULL, .value = 123.0,
		.value_valid = 0, .unit = NULL, .high = 1e-12, .has_high = 1,
		.pass = 0,
	};
	kgd_err err = { 0 };
	int64_t run_id = 0;
	char buf[1024], started[64], ended[64];
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	CU_ASSERT(run_id > 0);
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m1, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m2, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_FAIL, 7, 23,
				      "lane_ber lane 4", &err), KGD_OK);
	db_close(d);

	/* run and everything it names */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 1);
	snprintf(buf, sizeof(buf), "SELECT count(*) FROM run r"
		 " JOIN part p ON p.id = r.part_id JOIN lot l ON l.id = p.lot_id"
		 " JOIN wafer w ON w.id = p.wafer_id AND w.lot_id = l.id"
		 " JOIN station s ON s.id = r.station_id"
		 " JOIN operator o ON o.id = r.operator_id"
		 " JOIN sequence q ON q.id = r.sequence_id"
		 " WHERE r.id = %lld AND l.name = 'LOT-17' AND w.name = 'W03'"
		 " AND p.die_x = -4 AND p.die_y = 12 AND p.serial IS NULL"
		 " AND s.name = 'kgd-st1' AND s.host = 'lab-pc-7'"
		 " AND o.name = 'alice' AND q.name = 'teraphy-kgd'"
		 " AND q.version = 3 AND q.sha256 = '%s'"
		 " AND q.text = 'sequence: teraphy-kgd' || char(10) ||"
		 " 'version: 3' || char(10)"
		 " AND r.product = 'TPHY-16x16' AND r.status = 'fail'"
		 " AND r.hard_bin = 7 AND r.soft_bin = 23"
		 " AND r.fail_reason = 'lane_ber lane 4'",
		 (long long)run_id, info.seq_sha256);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	q_text(path, "SELECT started_at FROM run", started, sizeof(started));
	q_text(path, "SELECT ended_at FROM run", ended, sizeof(ended));
	CU_ASSERT(is_iso_ms(started));
	CU_ASSERT(is_iso_ms(ended));
	CU_ASSERT(strcmp(started, ended) <= 0);

	/* measurements, in the order added */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 2);
	snprintf(buf, sizeof(buf), "SELECT count(*) FROM measurement WHERE"
		 " run_id = %lld AND seq_no = 1 AND step = 'port_power'"
		 " AND coords = '{\"port\":3,\"wavelength_nm\":1301.0}'"
		 " AND value = -1.25 AND unit = 'dBm' AND low = -6.0"
		 " AND high = 3.0 AND pass = 1", (long long)run_id);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	snprintf(buf, sizeof(buf), "SELECT count(*) FROM measurement WHERE"
		 " run_id = %lld AND seq_no = 2 AND step = 'lane_ber'"
		 " AND coords IS NULL AND value IS NULL AND unit IS NULL"
		 " AND low IS NULL AND high = 1e-12 AND pass = 0",
		 (long long)run_id);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	/* coords are JSON the database itself can take apart */
	CU_ASSERT_EQUAL(q_int(path, "SELECT json_extract(coords, '$.port')"
			      " FROM measurement WHERE seq_no = 1"), 3);
}

static void test_unit_part_and_null_bins(void)
{
	const char *path = db_file("unit.db");
	db_run_info info = die_info("LOT-U", NULL, 0, 0);
	kgd_err err = { 0 };
	int64_t run_id = 0;
	char buf[128];
	db *d = NULL;

	info.has_xy = 0;
	info.serial = "SN-0042";
	info.operator_name = NULL;
	info.host = NULL;
	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_ERROR, -1, -1, NULL,
				      &err), KGD_OK);
	db_close(d);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run r JOIN part p"
			      " ON p.id = r.part_id JOIN station s ON s.id ="
			      " r.station_id WHERE p.serial = 'SN-0042' AND"
			      " p.wafer_id IS NULL AND p.die_x IS NULL AND"
			      " r.operator_id IS NULL AND s.host IS NULL AND"
			      " r.status = 'error' AND r.hard_bin IS NULL AND"
			      " r.soft_bin IS NULL AND r.fail_reason IS NULL"), 1);
	q_text(path, "SELECT status FROM run", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "error");
}

static void test_wal_and_version(void)
{
	const char *path = db_file("wal.db");
	char mode[32];
	kgd_err err = { 0 };
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	db_close(d);
	q_text(path, "PRAGMA journal_mode", mode, sizeof(mode));
	CU_ASSERT_STRING_EQUAL(mode, "wal");
	CU_ASSERT(db_schema_version() >= 1);
	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), db_schema_version());
	/* foreign keys are declared (enforcement is per connection) */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM"
			      " pragma_foreign_key_list('measurement')"
			      " WHERE \"table\" = 'run'"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM"
			      " pragma_foreign_key_list('run')"), 6);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM"
			      " pragma_foreign_key_list('step_result')"
			      " WHERE \"table\" = 'run' AND on_delete = 'CASCADE'"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM"
			      " pragma_foreign_key_list('session')"), 5);
	/* the indexes reports rely on */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sqlite_master WHERE"
			      " type = 'index' AND name IN ('part_lot',"
			      " 'run_part', 'measurement_step', 'run_session',"
			      " 'step_result_run', 'session_lot', 'part_serial')"), 7);
	/* bin(sequence_id) is served by its UNIQUE(sequence_id, number) */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_index_list('bin')"
			      " WHERE \"unique\" = 1"), 1);
}

static void test_rollback_leaves_nothing(void)
{
	const char *path = db_file("rb.db");
	db_run_info info = die_info("LOT-RB", "W01", 1, 1);
	db_measurement m = { .step = "p", .value = 1.0, .value_valid = 1,
			     .pass = 1 };
	kgd_err err = { 0 };
	int64_t run_id = 0, run2 = 0;
	int i;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m, &err), KGD_OK);
	db_run_rollback(d);
	/* nothing of the run, not even the part/lot it created */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM part"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM lot"), 0);
	/* the closed run cannot be written to; a new one works */
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run2, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_measurement_add(d, run2, &m, &err), KGD_OK);
	/* closing with a run open rolls it back too */
	db_close(d);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 0);
}

static void test_misuse(void)
{
	const char *path = db_file("misuse.db");
	db_run_info info = die_info("LOT-M", "W01", 2, 2);
	db_run_info nopart = die_info("LOT-M", "W01", 0, 0);
	db_measurement bad_json = { .step = "p", .coords = "{port:", .pass = 1 };
	db_measurement ok = { .step = "p", .pass = 1 };
	kgd_err err = { 0 };
	int64_t run_id = 0, other = 0;
	db *d = NULL;

	nopart.has_xy = 0;
	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_measurement_add(d, 1, &ok, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_run_begin(d, &nopart, &run_id, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_begin(d, &info, &other, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	/* a bad row fails alone and names the file; the run stays usable */
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &bad_json, &err), KGD_ERR_DB);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	CU_ASSERT(strstr(err.msg, "CHECK") != NULL);
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &ok, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, "passed", 1, 1, NULL, &err),
			KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id + 1, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	db_close(d);
	/* the good row got seq_no 1: the failed one used no number */
	CU_ASSERT_EQUAL(q_int(path, "SELECT seq_no FROM measurement"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run WHERE"
			      " status = 'pass'"), 1);
}

static void test_newer_file_refused(void)
{
	const char *path = db_file("newer.db");
	char want[32];
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	db_close(d);
	d = NULL;
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL,
				     NULL), SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(db_open(path, &d, &err), KGD_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	CU_ASSERT(strstr(err.msg, "999") != NULL);
	snprintf(want, sizeof(want), "(%d)", db_schema_version());
	CU_ASSERT(strstr(err.msg, want) != NULL);
	/* refused, not touched */
	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), 999);
}

static void test_foreign_file_refused(void)
{
	const char *path = db_file("foreign.db");
	const char *text = db_file("notes.txt");
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	FILE *f;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "CREATE TABLE foo(x)", NULL, NULL, NULL),
			SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(db_open(path, &d, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	CU_ASSERT(strstr(err.msg, "not a station database") != NULL);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sqlite_master"), 1);
	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), 0);

	f = fopen(text, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("this is not a database, just a long enough line of text to"
	      " fill more than one hundred bytes so SQLite reads a header.\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(db_open(text, &d, &err), KGD_ERR_DB);
	CU_ASSERT(strstr(err.msg, text) != NULL);
}

static void test_reopen_no_duplicates(void)
{
	const char *path = db_file("reopen.db");
	db_run_info a = die_info("LOT-R", "W01", 0, 0);
	db_run_info b = die_info("LOT-R", "W01", 0, 1);
	kgd_err err = { 0 };
	int64_t run_id = 0;
	int i;
	db *d = NULL;

	for (i = 0; i < 3; i++) {
		/* runs 0 and 2 test the same die: a retest, same part */
		const db_run_info *info = i == 1 ? &b : &a;

		CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
		CU_ASSERT_EQUAL_FATAL(db_run_begin(d, info, &run_id, &err), KGD_OK);
		CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1,
					      NULL, &err), KGD_OK);
		db_close(d);
		d = NULL;
	}
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM station"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM operator"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sequence"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM lot"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM wafer"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM part"), 2);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 3);
	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), db_schema_version());
}

/* The hot path: a die with a thousand measurements in one transaction. */
static void test_many_measurements(void)
{
	const char *path = db_file("many.db");
	db_run_info info = die_info("LOT-BIG", "W01", 5, 5);
	db_measurement m = { .step = "port_power", .unit = "dBm", .low = -6,
			     .high = 3, .has_low = 1, .has_high = 1,
			     .value_valid = 1, .pass = 1 };
	kgd_err err = { 0 };
	int64_t run_id = 0;
	int i, fails = 0;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	for (i = 0; i < 1000; i++) {
		m.value = i * 0.001;
		fails += db_measurement_add(d, run_id, &m, &err) != KGD_OK;
	}
	CU_ASSERT_EQUAL(fails, 0);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	db_close(d);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 1000);
	CU_ASSERT_EQUAL(q_int(path, "SELECT max(seq_no) FROM measurement"), 1000);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement WHERE"
			      " value = (seq_no - 1) * 0.001"), 1000);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("db", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "round trip of every field", test_round_trip);
	CU_add_test(s, "unit part, unknown operator/host/bins",
		    test_unit_part_and_null_bins);
	CU_add_test(s, "WAL mode, schema version, keys", test_wal_and_version);
	CU_add_test(s, "rollback leaves nothing", test_rollback_leaves_nothing);
	CU_add_test(s, "misuse is refused", test_misuse);
	CU_add_test(s, "newer schema refused", test_newer_file_refused);
	CU_add_test(s, "foreign file refused", test_foreign_file_refused);
	CU_add_test(s, "reopen does not duplicate", test_reopen_no_duplicates);
	CU_add_test(s, "1000 measurements in a run", test_many_measurements);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
