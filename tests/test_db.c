/*
 * tests/test_db.c - the result store against real SQLite files.
 *
 * Every test writes through db.h into a fresh scratch folder and checks
 * the file with SQLite directly, so what is asserted is what a report or
 * an analyst would read, not what the writer believes it wrote.
 */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "db_int.h"  /* db_create_at_version(): schema history */
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

/* ---- schema 2: sessions, bins, step results, retests, resume ------------- */

static const db_bin kgd_bins[] = {
	{ 1, "PASS", 1, 1 }, { 5, "OPTICAL_POWER", 0, 2 }, { 7, "BER", 0, 2 },
};

static const db_bin kgd_hard_bins[] = {
	{ 1, "KGD", 1, 0 }, { 2, "REJECT", 0, 0 },
};

static db_session_info session_info(const char *lot)
{
	db_session_info s = {
		.station = "kgd-st1", .host = "lab-pc-7",
		.operator_name = "alice", .lot = lot, .process = "wafer",
		.product = "TPHY-16x16", .seq_name = "teraphy-kgd",
		.seq_version = 3,
		.seq_sha256 = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
		.seq_text = "sequence: teraphy-kgd\nversion: 3\n",
		.limits_sha256 = "feedfacefeedfacefeedfacefeedface"
				 "feedfacefeedfacefeedfacefeedface",
		.limits_text = "port_power: {low: -6, high: 3}\n",
		.bins = kgd_bins, .n_bins = 3,
		.hard_bins = kgd_hard_bins, .n_hard_bins = 2,
	};
	return s;
}

static void test_schema2_round_trip(void)
{
	const char *path = db_file("s2.db");
	db_session_info si = session_info("LOT-S2");
	db_run_info info = die_info("LOT-S2", "W07", 2, -3);
	db_measurement m = {
		.step = "port_power", .name = "p_out",
		.coords = "{\"port\":1}", .value = -2.5, .value_valid = 1,
		.unit = "dBm", .low = -6, .high = 3, .has_low = 1,
		.has_high = 1, .pass = 1,
	};
	kgd_err err = { 0 };
	int64_t sid = 0, sid2 = 0, run_id = 0;
	int dead = -1;
	char buf[1024], t[64];
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_PTR_NULL(db_backup_path(d));  /* new file: nothing migrated */
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d, &si, &sid, &dead, &err), KGD_OK);
	CU_ASSERT(sid > 0);
	CU_ASSERT_EQUAL(dead, 0);
	info.session_id = sid;
	info.limits_sha256 = si.limits_sha256;
	info.limits_text = si.limits_text;
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	/* no session can begin inside a run */
	CU_ASSERT_EQUAL(db_session_begin(d, &si, &sid2, NULL, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m, &err), KGD_OK);
	m.name = NULL;
	m.pass = 0;
	CU_ASSERT_EQUAL(db_measurement_add(d, run_id, &m, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add(d, run_id, "port_power", "fail", 5, 2,
					   &err), KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add(d, run_id, "lane_ber", "pass", 0, 0,
					   &err), KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add(d, run_id, "x", "passed", 0, 0, &err),
			KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_step_result_add(d, run_id + 1, "x", "pass", 0, 0, &err),
			KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_FAIL, 5, 5, "low",
				      &err), KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add(d, run_id, "late", "pass", 0, 0, &err),
			KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_session_end(d, sid, "done", &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_COMPLETE, &err), KGD_OK);
	/* ended once; a second end is refused, naming the file */
	CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_ERROR, &err),
			KGD_ERR_NOT_FOUND);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	/* a second session of the same sequence and limits reuses their rows */
	CU_ASSERT_EQUAL(db_session_begin(d, &si, &sid2, &dead, &err), KGD_OK);
	CU_ASSERT_EQUAL(dead, 0);
	CU_ASSERT_EQUAL(db_session_end(d, sid2, DB_SESSION_ABORTED, &err), KGD_OK);
	db_close(d);

	snprintf(buf, sizeof(buf), "SELECT count(*) FROM session s"
		 " JOIN station st ON st.id = s.station_id"
		 " JOIN operator o ON o.id = s.operator_id"
		 " JOIN lot l ON l.id = s.lot_id"
		 " JOIN sequence q ON q.id = s.sequence_id"
		 " JOIN limits_set ls ON ls.id = s.limits_id"
		 " WHERE s.id = %lld AND st.name = 'kgd-st1' AND o.name = 'alice'"
		 " AND l.name = 'LOT-S2' AND q.name = 'teraphy-kgd'"
		 " AND ls.sha256 = '%s' AND ls.text = 'port_power: {low: -6,"
		 " high: 3}' || char(10) AND s.process = 'wafer'"
		 " AND s.product = 'TPHY-16x16' AND s.status = 'complete'"
		 " AND s.ended_at >= s.started_at", (long long)sid,
		 si.limits_sha256);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	snprintf(buf, sizeof(buf), "SELECT started_at FROM session WHERE id = %lld",
		 (long long)sid);
	q_text(path, buf, t, sizeof(t));
	CU_ASSERT(is_iso_ms(t));
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM session WHERE"
			      " status = 'aborted' AND ended_at IS NOT NULL"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM limits_set"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sequence"), 1);
	/* bins: stored once per sequence, with their pass flag */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM bin"), 3);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM bin b JOIN sequence q"
			      " ON q.id = b.sequence_id WHERE (b.number = 1 AND"
			      " b.name = 'PASS' AND b.pass = 1) OR (b.number = 5"
			      " AND b.name = 'OPTICAL_POWER' AND b.pass = 0) OR"
			      " (b.number = 7 AND b.name = 'BER' AND b.pass = 0)"),
			3);
	/* each soft bin names its hard bin; hard bins have names of their own */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM bin WHERE"
			      " (number = 1 AND hard = 1) OR (number IN (5, 7)"
			      " AND hard = 2)"), 3);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM hard_bin WHERE"
			      " (number = 1 AND name = 'KGD' AND pass = 1) OR"
			      " (number = 2 AND name = 'REJECT' AND pass = 0)"), 2);
	/* the run points at its session and limits; first test: retest 0 */
	snprintf(buf, sizeof(buf), "SELECT count(*) FROM run r JOIN limits_set ls"
		 " ON ls.id = r.limits_id WHERE r.id = %lld AND r.session_id = %lld"
		 " AND r.retest = 0 AND ls.sha256 = '%s'", (long long)run_id,
		 (long long)sid, si.limits_sha256);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement WHERE"
			      " (seq_no = 1 AND name = 'p_out') OR"
			      " (seq_no = 2 AND name IS NULL)"), 2);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result WHERE"
			      " (step = 'port_power' AND status = 'fail' AND"
			      " bin = 5 AND n_values = 2) OR (step = 'lane_ber'"
			      " AND status = 'pass' AND bin IS NULL AND"
			      " n_values = 0)"), 2);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result"), 2);
	/* the bin of a run's soft bin is found through its sequence */
	CU_ASSERT_EQUAL(q_int(path, "SELECT b.name = 'OPTICAL_POWER' FROM run r"
			      " JOIN bin b ON b.sequence_id = r.sequence_id AND"
			      " b.number = r.soft_bin"), 1);
}

/* A run's measurements and step results go with it (ON DELETE CASCADE). */
static void test_cascade(void)
{
	const char *path = db_file("s2.db");  /* written by the test above */
	sqlite3 *h = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "PRAGMA foreign_keys = ON;"
				     "DELETE FROM run", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result"), 0);
}

static void commit_die(db *d, const db_run_info *info, int n_meas,
		       int64_t *run_id)
{
	db_measurement m = { .step = "p", .value = 1.0, .value_valid = 1,
			     .unit = "dBm", .pass = 1 };
	kgd_err err = { 0 };
	int64_t id = 0;
	int i, fails = 0;

	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, info, &id, &err), KGD_OK);
	for (i = 0; i < n_meas; i++)
		fails += db_measurement_add(d, id, &m, &err) != KGD_OK;
	CU_ASSERT_EQUAL(fails, 0);
	CU_ASSERT_EQUAL(db_run_commit(d, id, DB_STATUS_PASS, 1, 1, NULL, &err),
			KGD_OK);
	if (run_id)
		*run_id = id;
}

static int tested(db *d, const char *lot, const char *wafer,
		  const char *serial, int x, int y)
{
	kgd_err err = { 0 };
	int t = -1;

	CU_ASSERT_EQUAL(db_part_tested(d, lot, wafer, serial, x, y, &t, &err),
			KGD_OK);
	return t;
}

static void test_retests_and_resume_query(void)
{
	const char *path = db_file("retest.db");
	db_run_info die = die_info("LOT-RT", "W01", 3, 4);
	db_run_info unit = die_info("LOT-RT", NULL, 0, 0);
	kgd_err err = { 0 };
	int64_t ids[3], rb = 0;
	char buf[256];
	int i;
	db *d = NULL;

	unit.has_xy = 0;
	unit.serial = "SN-1";
	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", "W01", NULL, 3, 4), 0);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", NULL, "SN-1", 0, 0), 0);
	for (i = 0; i < 3; i++)
		commit_die(d, &die, 3, &ids[i]);
	commit_die(d, &unit, 3, NULL);
	/* a rolled-back run does not count */
	die.die_y = 9;
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &die, &rb, &err), KGD_OK);
	db_run_rollback(d);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", "W01", NULL, 3, 9), 0);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", "W01", NULL, 3, 4), 1);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", "W01", NULL, 4, 3), 0);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", "W02", NULL, 3, 4), 0);
	CU_ASSERT_EQUAL(tested(d, "LOT-XX", "W01", NULL, 3, 4), 0);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", NULL, "SN-1", 0, 0), 1);
	CU_ASSERT_EQUAL(tested(d, "LOT-RT", NULL, "SN-2", 0, 0), 0);
	CU_ASSERT_EQUAL(db_part_tested(d, "LOT-RT", NULL, NULL, 0, 0, &i, &err),
			KGD_ERR_ARG);
	db_close(d);
	/* retests are new runs, numbered 0, 1, 2; nothing overwritten */
	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "SELECT retest FROM run WHERE id = %lld",
			 (long long)ids[i]);
		CU_ASSERT_EQUAL(q_int(path, buf), i);
	}
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(DISTINCT part_id) FROM run"), 2);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 12);
	CU_ASSERT_EQUAL(q_int(path, "SELECT retest FROM run r JOIN part p ON"
			      " p.id = r.part_id WHERE p.serial = 'SN-1'"), 0);
}

/* A station that dies leaves its session 'running'; the next session
 * marks it 'interrupted', ending it at its last committed run. */
static void test_dead_session_marked(void)
{
	const char *path = db_file("dead.db");
	db_session_info si = session_info("LOT-D");
	db_run_info info = die_info("LOT-D", "W01", 0, 0);
	kgd_err err = { 0 };
	int64_t s0 = 0, s1 = 0, s2 = 0, run_id = 0;
	int dead = -1;
	char buf[256], last[64], ended[64];
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d, &si, &s0, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_session_end(d, s0, DB_SESSION_COMPLETE, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d, &si, &s1, NULL, &err), KGD_OK);
	info.session_id = s1;
	commit_die(d, &info, 2, &run_id);
	db_close(d);  /* no db_session_end: the station "died" */

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d, &si, &s2, &dead, &err), KGD_OK);
	CU_ASSERT_EQUAL(dead, 1);
	db_close(d);
	snprintf(buf, sizeof(buf), "SELECT status FROM session WHERE id = %lld",
		 (long long)s1);
	q_text(path, buf, last, sizeof(last));
	CU_ASSERT_STRING_EQUAL(last, "interrupted");
	snprintf(buf, sizeof(buf), "SELECT ended_at FROM session WHERE id = %lld",
		 (long long)s1);
	q_text(path, buf, ended, sizeof(ended));
	snprintf(buf, sizeof(buf), "SELECT ended_at FROM run WHERE id = %lld",
		 (long long)run_id);
	q_text(path, buf, last, sizeof(last));
	CU_ASSERT_STRING_EQUAL(ended, last);
	snprintf(buf, sizeof(buf), "SELECT status = 'complete' FROM session"
		 " WHERE id = %lld", (long long)s0);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	snprintf(buf, sizeof(buf), "SELECT status = 'running' AND ended_at IS NULL"
		 " FROM session WHERE id = %lld", (long long)s2);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
}

/* ---- migration from schema 1 --------------------------------------------- */

static void exec_on(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	char *msg = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "exec_on(%s): %s\n", path, msg);
		CU_FAIL("exec_on");
	}
	sqlite3_free(msg);
	sqlite3_close(h);
}

/* A genuine version-1 file: built by migration 1 alone, filled through
 * SQL as the version-1 station wrote it (5 runs, one die tested three
 * times, 100 measurements each). */
static void make_v1_file(const char *path)
{
	kgd_err err = { 0 };

	CU_ASSERT_EQUAL_FATAL(db_create_at_version(path, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(q_int(path, "PRAGMA user_version"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sqlite_master"
			      " WHERE name IN ('session', 'bin')"), 0);
	exec_on(path,
		"INSERT INTO station VALUES (1, 'st1', 'host1');"
		"INSERT INTO operator VALUES (1, 'bob');"
		"INSERT INTO sequence VALUES (1, 'seq', 2, 'abc', 'text');"
		"INSERT INTO lot VALUES (1, 'L1');"
		"INSERT INTO wafer VALUES (1, 1, 'W1');"
		"INSERT INTO part VALUES (1, 1, 1, NULL, 0, 0),"
		" (2, 1, 1, NULL, 0, 1), (3, 1, NULL, 'SN9', NULL, NULL);"
		"INSERT INTO run(id, part_id, sequence_id, station_id,"
		" operator_id, product, started_at, ended_at, status, hard_bin,"
		" soft_bin, fail_reason) VALUES"
		" (1, 1, 1, 1, 1, 'P', '2024-01-01T00:00:00.000Z',"
		"  '2024-01-01T00:00:01.000Z', 'fail', 5, 5, 'low'),"
		" (2, 2, 1, 1, 1, 'P', '2024-01-01T00:00:02.000Z',"
		"  '2024-01-01T00:00:03.000Z', 'pass', 1, 1, NULL),"
		" (3, 1, 1, 1, NULL, 'P', '2024-01-01T00:00:04.000Z',"
		"  '2024-01-01T00:00:05.000Z', 'pass', 1, 1, NULL),"
		" (4, 3, 1, 1, 1, NULL, '2024-01-01T00:00:06.000Z',"
		"  NULL, 'error', 99, 99, 'timeout'),"
		" (5, 1, 1, 1, 1, 'P', '2024-01-01T00:00:08.000Z',"
		"  '2024-01-01T00:00:09.000Z', 'pass', 1, 1, NULL);"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
		" WHERE i < 100)"
		" INSERT INTO measurement(run_id, seq_no, step, coords, value,"
		" unit, low, high, pass) SELECT r.id, n.i, 'port_power',"
		" json_object('port', n.i), CASE WHEN n.i % 7 = 0 THEN NULL"
		" ELSE r.id * 1000 + n.i * 0.5 END, 'dBm', -3, CASE WHEN"
		" n.i % 5 = 0 THEN NULL ELSE 6 END, n.i % 2 FROM run r, n;");
}

/* Every version-1 column of every version-1 table, as one text. */
static char *v1_digest(const char *path)
{
	static const char *const sql[] = {
		"SELECT group_concat(quote(id)||quote(name)||quote(host), '|')"
		" FROM (SELECT * FROM station ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(name), '|')"
		" FROM (SELECT * FROM operator ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(name)||quote(version)||"
		"quote(sha256)||quote(text), '|') FROM (SELECT * FROM sequence"
		" ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(name), '|')"
		" FROM (SELECT * FROM lot ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(lot_id)||quote(name), '|')"
		" FROM (SELECT * FROM wafer ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(lot_id)||quote(wafer_id)||"
		"quote(serial)||quote(die_x)||quote(die_y), '|')"
		" FROM (SELECT * FROM part ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(part_id)||quote(sequence_id)"
		"||quote(station_id)||quote(operator_id)||quote(product)||"
		"quote(started_at)||quote(ended_at)||quote(status)||"
		"quote(hard_bin)||quote(soft_bin)||quote(fail_reason), '|')"
		" FROM (SELECT * FROM run ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(run_id)||quote(seq_no)||"
		"quote(step)||quote(coords)||quote(value)||quote(unit)||"
		"quote(low)||quote(high)||quote(pass), '|')"
		" FROM (SELECT * FROM measurement ORDER BY id)",
	};
	size_t i, cap = 1 << 20, len = 0;
	char *out = calloc(1, cap);
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	if (!out || sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL))
		goto fail;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if (sqlite3_prepare_v2(h, sql[i], -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW)
			goto fail;
		len += (size_t)snprintf(out + len, cap - len, "%s\n",
					sqlite3_column_text(st, 0)
					? (const char *)sqlite3_column_text(st, 0)
					: "<empty>");
		sqlite3_finalize(st);
		st = NULL;
		if (len >= cap)
			goto fail;
	}
	sqlite3_close(h);
	return out;
fail:
	fprintf(stderr, "v1_digest(%s): %s\n", path, h ? sqlite3_errmsg(h) : "?");
	sqlite3_finalize(st);
	sqlite3_close(h);
	free(out);
	return NULL;
}

static void test_migration_from_v1(void)
{
	char path[600], bak[700], keep[700], path2[600], want[700];
	char *before, *after, *saved, *text;
	kgd_err err = { 0 };
	db *d = NULL;

	snprintf(path, sizeof(path), "%s", db_file("v1.db"));
	make_v1_file(path);
	before = v1_digest(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT(strlen(before) > 10000);  /* 500 measurements are in it */

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	snprintf(bak, sizeof(bak), "%s.v1.bak", path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db_backup_path(d));
	CU_ASSERT_STRING_EQUAL(db_backup_path(d), bak);
	db_close(d);

	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), db_schema_version());
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_integrity_check"
			      " WHERE integrity_check = 'ok'"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_foreign_key_check"),
			0);
	/* every old row, every old column, unchanged */
	after = v1_digest(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(after, before);
	/* new columns: no session/limits known; retests numbered per part */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run WHERE"
			      " session_id IS NULL AND limits_id IS NULL"), 5);
	{
		char r[64];

		q_text(path, "SELECT group_concat(retest, ',') FROM"
		       " (SELECT retest FROM run ORDER BY id)", r, sizeof(r));
		CU_ASSERT_STRING_EQUAL(r, "0,0,1,0,2");
	}
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement WHERE"
			      " name IS NULL"), 500);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM session"), 0);
	/* the backup is the version-1 file as it was */
	CU_ASSERT_EQUAL(q_int(bak, "PRAGMA user_version"), 1);
	saved = v1_digest(bak);
	CU_ASSERT_PTR_NOT_NULL(saved);
	if (saved)
		CU_ASSERT_STRING_EQUAL(saved, before);
	free(saved);
	free(after);
	free(before);

	/* a backup already there is never overwritten: the next name is used */
	snprintf(path2, sizeof(path2), "%s", db_file("v1b.db"));
	make_v1_file(path2);
	snprintf(keep, sizeof(keep), "%s.v1.bak", path2);
	{
		FILE *f = fopen(keep, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs("keep me\n", f);
		fclose(f);
	}
	CU_ASSERT_EQUAL_FATAL(db_open(path2, &d, &err), KGD_OK);
	snprintf(want, sizeof(want), "%s.v1-2.bak", path2);
	CU_ASSERT_STRING_EQUAL(db_backup_path(d), want);
	db_close(d);
	text = tu_slurp(keep, NULL);
	CU_ASSERT_PTR_NOT_NULL(text);
	if (text)
		CU_ASSERT_STRING_EQUAL(text, "keep me\n");
	free(text);
	CU_ASSERT_EQUAL(q_int(want, "SELECT count(*) FROM measurement"), 500);
	/* opening a current file migrates nothing and backs up nothing */
	CU_ASSERT_EQUAL_FATAL(db_open(path2, &d, &err), KGD_OK);
	CU_ASSERT_PTR_NULL(db_backup_path(d));
	db_close(d);
}

/* The new run on a migrated file continues the part's retest numbering. */
static void test_migration_retest_continues(void)
{
	const char *path = db_file("v1c.db");
	db_run_info info = die_info("L1", "W1", 0, 0);
	kgd_err err = { 0 };
	int64_t run_id = 0;
	char buf[128];
	db *d = NULL;

	make_v1_file(path);
	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	info.station = "st1";
	info.host = "host1";
	commit_die(d, &info, 1, &run_id);
	db_close(d);
	snprintf(buf, sizeof(buf), "SELECT retest FROM run WHERE id = %lld",
		 (long long)run_id);
	CU_ASSERT_EQUAL(q_int(path, buf), 3);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM part"), 3);
}

/* A migration that fails half-way leaves the file exactly as it was. */
static void test_migration_is_atomic(void)
{
	const char *path = db_file("v1bad.db");
	kgd_err err = { 0 };
	db *d = NULL;

	make_v1_file(path);
	/* a table in the way of migration 2's CREATE TABLE session */
	exec_on(path, "CREATE TABLE session(x)");
	CU_ASSERT_EQUAL(db_open(path, &d, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	CU_ASSERT(strstr(err.msg, "migration 2") != NULL);
	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), 1);
	/* limits_set comes before session in migration 2: rolled back too */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sqlite_master WHERE"
			      " name IN ('limits_set', 'bin', 'step_result')"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_table_info('run')"
			      " WHERE name = 'retest'"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"), 500);
}

/* ---- schema 4: step timing ----------------------------------------------- */

/* The first column of the first row of sql as a double; NAN for NULL or
 * no row, so a missing value never passes for 0. */
static double q_double(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	double v = NAN;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* 1700000000 s is 2023-11-14T22:13:20Z. */
#define T0 1700000000.0

static void test_step_timing(void)
{
	const char *path = db_file("timing.db");
	db_run_info info = die_info("LOT-T", "W01", 0, 0);
	kgd_err err = { 0 };
	int64_t run_id = 0, now_run = 0, dropped = 0;
	char buf[256], t[64];
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	/* the part started 0.25 s after T0, long before this (commit-time)
	 * db_run_begin: its row says so */
	info.started = T0 + 0.25;
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "align", "pass", 0,
						 0, T0 + 0.5, T0 + 1.75, &err),
			KGD_OK);
	/* shorter than the text's millisecond: the REAL keeps it */
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "quick", "pass", 0,
						 1, T0 + 2.0001, T0 + 2.0004,
						 &err), KGD_OK);
	/* the old entry point, and times only partly known */
	CU_ASSERT_EQUAL(db_step_result_add(d, run_id, "old", "pass", 0, 2, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "half", "fail", 5, 1,
						 T0 + 3, 0, &err), KGD_OK);
	/* a wall clock stepped back mid-step: times kept, no duration */
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "back", "pass", 0, 0,
						 T0 + 5, T0 + 4, &err), KGD_OK);
	/* not times: refused, naming the file and the step; the run stays open */
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "nan", "pass", 0, 0,
						 NAN, T0, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, path) != NULL && strstr(err.msg, "nan") != NULL);
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "y10k", "pass", 0, 0,
						 T0, 1e12, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "inf", "pass", 0, 0,
						 INFINITY, T0, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_FAIL, 2, 5, "half",
				      &err), KGD_OK);

	/* started = 0: now, as before schema 4 */
	info.die_x = 1;
	info.started = 0;
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &now_run, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d, now_run, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	/* a start that is not a time is refused and leaves no run open */
	info.die_x = 2;
	info.started = NAN;
	CU_ASSERT_EQUAL(db_run_begin(d, &info, &dropped, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "start time") != NULL);
	info.started = T0;
	CU_ASSERT_EQUAL(db_run_begin(d, &info, &dropped, &err), KGD_OK);
	db_run_rollback(d);
	db_close(d);

	snprintf(buf, sizeof(buf), "SELECT started_at FROM run WHERE id = %lld",
		 (long long)run_id);
	q_text(path, buf, t, sizeof(t));
	CU_ASSERT_STRING_EQUAL(t, "2023-11-14T22:13:20.250Z");
	/* the end stays "at commit": now, not the part's start */
	snprintf(buf, sizeof(buf), "SELECT abs(strftime('%%s', ended_at) -"
		 " strftime('%%s', 'now')) < 600 FROM run WHERE id = %lld",
		 (long long)run_id);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	snprintf(buf, sizeof(buf), "SELECT abs(strftime('%%s', started_at) -"
		 " strftime('%%s', 'now')) < 600 AND ended_at >= started_at"
		 " FROM run WHERE id = %lld", (long long)now_run);
	CU_ASSERT_EQUAL(q_int(path, buf), 1);
	snprintf(buf, sizeof(buf), "SELECT started_at FROM run WHERE id = %lld",
		 (long long)now_run);
	q_text(path, buf, t, sizeof(t));
	CU_ASSERT(is_iso_ms(t));

	q_text(path, "SELECT started_at || ' ' || ended_at FROM step_result"
	       " WHERE step = 'align'", t, sizeof(t));
	CU_ASSERT_STRING_EQUAL(t, "2023-11-14T22:13:20.500Z "
			       "2023-11-14T22:13:21.750Z");
	CU_ASSERT_EQUAL(q_double(path, "SELECT duration_s FROM step_result"
				 " WHERE step = 'align'"), 1.25);
	q_text(path, "SELECT started_at || ' ' || ended_at FROM step_result"
	       " WHERE step = 'quick'", t, sizeof(t));
	CU_ASSERT_STRING_EQUAL(t, "2023-11-14T22:13:22.000Z "
			       "2023-11-14T22:13:22.000Z");
	CU_ASSERT(fabs(q_double(path, "SELECT duration_s FROM step_result"
				" WHERE step = 'quick'") - 0.0003) < 1e-6);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result WHERE"
			      " step = 'old' AND started_at IS NULL AND"
			      " ended_at IS NULL AND duration_s IS NULL AND"
			      " status = 'pass' AND n_values = 2"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result WHERE"
			      " step = 'half' AND started_at ="
			      " '2023-11-14T22:13:23.000Z' AND ended_at IS NULL"
			      " AND duration_s IS NULL AND bin = 5"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result WHERE"
			      " step = 'back' AND started_at IS NOT NULL AND"
			      " ended_at IS NOT NULL AND duration_s IS NULL"), 1);
	/* refused rows never reached the file */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result"), 5);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 2);
}

/* A genuine version-3 file, filled as the version-3 station wrote it: a
 * session, bins, two dies (one retested) and their step results. */
static void make_v3_file(const char *path)
{
	kgd_err err = { 0 };

	CU_ASSERT_EQUAL_FATAL(db_create_at_version(path, 3, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(q_int(path, "PRAGMA user_version"), 3);
	CU_ASSERT_EQUAL_FATAL(q_int(path, "SELECT count(*) FROM pragma_table_info"
				    "('step_result') WHERE name IN ('started_at',"
				    " 'ended_at', 'duration_s')"), 0);
	exec_on(path,
		"INSERT INTO station VALUES (1, 'st1', 'host1');"
		"INSERT INTO operator VALUES (1, 'bob');"
		"INSERT INTO sequence VALUES (1, 'seq', 3, 'abc', 'text');"
		"INSERT INTO limits_set VALUES (1, 'lim', 'limits');"
		"INSERT INTO lot VALUES (1, 'L3');"
		"INSERT INTO wafer VALUES (1, 1, 'W1');"
		"INSERT INTO part VALUES (1, 1, 1, NULL, 0, 0),"
		" (2, 1, 1, NULL, 1, 0);"
		"INSERT INTO session VALUES (1, 1, 1, 1, 1, 1, 'wafer', 'P',"
		" '2024-06-01T10:00:00.000Z', '2024-06-01T10:00:09.000Z',"
		" 'complete');"
		"INSERT INTO bin VALUES (1, 1, 1, 'PASS', 1, 1),"
		" (2, 1, 5, 'POWER', 0, 2);"
		"INSERT INTO hard_bin VALUES (1, 1, 1, 'KGD', 1),"
		" (2, 1, 2, 'REJECT', 0);"
		"INSERT INTO run(id, part_id, sequence_id, station_id,"
		" operator_id, product, started_at, ended_at, status, hard_bin,"
		" soft_bin, fail_reason, session_id, limits_id, retest) VALUES"
		" (1, 1, 1, 1, 1, 'P', '2024-06-01T10:00:01.000Z',"
		"  '2024-06-01T10:00:03.500Z', 'fail', 2, 5, 'low', 1, 1, 0),"
		" (2, 2, 1, 1, 1, 'P', '2024-06-01T10:00:04.000Z',"
		"  '2024-06-01T10:00:06.000Z', 'pass', 1, 1, NULL, 1, 1, 0),"
		" (3, 1, 1, 1, 1, 'P', '2024-06-01T10:00:07.000Z',"
		"  '2024-06-01T10:00:09.000Z', 'pass', 1, 1, NULL, 1, 1, 1);"
		"INSERT INTO step_result VALUES"
		" (1, 1, 'align', 'pass', NULL, 0), (2, 1, 'power', 'fail', 5, 16),"
		" (3, 2, 'align', 'pass', NULL, 0), (4, 2, 'power', 'pass', NULL, 16),"
		" (5, 2, 'ber', 'pass', NULL, 4), (6, 3, 'align', 'pass', NULL, 0),"
		" (7, 3, 'power', 'pass', NULL, 16), (8, 3, 'ber', 'pass', NULL, 4);"
		"INSERT INTO measurement(run_id, seq_no, step, coords, value, unit,"
		" low, high, pass, name) SELECT id, 1, 'power', '{\"port\":1}',"
		" -1.5 * id, 'dBm', -6, 3, 1, 'p_out' FROM run;");
}

/* Every version-3 column of the tables schema 2 and 3 added or a run
 * touches, as one text. */
static char *v3_digest(const char *path)
{
	static const char *const sql[] = {
		"SELECT group_concat(quote(id)||quote(part_id)||quote(sequence_id)"
		"||quote(station_id)||quote(operator_id)||quote(product)||"
		"quote(started_at)||quote(ended_at)||quote(status)||"
		"quote(hard_bin)||quote(soft_bin)||quote(fail_reason)||"
		"quote(session_id)||quote(limits_id)||quote(retest), '|')"
		" FROM (SELECT * FROM run ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(run_id)||quote(step)||"
		"quote(status)||quote(bin)||quote(n_values), '|')"
		" FROM (SELECT * FROM step_result ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(station_id)||"
		"quote(operator_id)||quote(lot_id)||quote(sequence_id)||"
		"quote(limits_id)||quote(process)||quote(product)||"
		"quote(started_at)||quote(ended_at)||quote(status), '|')"
		" FROM (SELECT * FROM session ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(sequence_id)||quote(number)"
		"||quote(name)||quote(pass)||quote(hard), '|')"
		" FROM (SELECT * FROM bin ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(sequence_id)||quote(number)"
		"||quote(name)||quote(pass), '|')"
		" FROM (SELECT * FROM hard_bin ORDER BY id)",
		"SELECT group_concat(quote(id)||quote(run_id)||quote(seq_no)||"
		"quote(step)||quote(coords)||quote(value)||quote(unit)||"
		"quote(low)||quote(high)||quote(pass)||quote(name), '|')"
		" FROM (SELECT * FROM measurement ORDER BY id)",
	};
	char *out = calloc(1, 8192), *p;
	size_t i, len = 0;

	if (!out)
		return NULL;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		p = out + len;
		q_text(path, sql[i], p, 8192 - len);
		if (strcmp(p, "<no row>") == 0 || strcmp(p, "<null>") == 0) {
			free(out);
			return NULL;
		}
		len += strlen(p);
		if (len + 2 >= 8192) {
			free(out);
			return NULL;
		}
		out[len++] = '\n';
	}
	return out;
}

static void test_migration_from_v3(void)
{
	char path[600], bak[700], buf[256];
	db_run_info info = die_info("L3", "W1", 0, 0);
	char *before, *after, *saved;
	kgd_err err = { 0 };
	int64_t run_id = 0;
	db *d = NULL;

	snprintf(path, sizeof(path), "%s", db_file("v3.db"));
	make_v3_file(path);
	before = v3_digest(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	snprintf(bak, sizeof(bak), "%s.v3.bak", path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db_backup_path(d));
	CU_ASSERT_STRING_EQUAL(db_backup_path(d), bak);
	db_close(d);

	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), db_schema_version());
	CU_ASSERT(db_schema_version() >= 8);
	/* schema 6: the run's condition, NULL for the old runs */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run WHERE condition IS NULL"),
			q_int(path, "SELECT count(*) FROM run"));
	/* schema 7: no build recorded for the old sessions */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM session WHERE"
			      " software_version IS NULL AND software_build IS NULL"),
			q_int(path, "SELECT count(*) FROM session"));
	/* schema 8: the screen tables, empty for an old lot */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
			      " AND name IN ('screen', 'screen_limit', 'screen_die')"), 3);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM screen"), 0);
	/* schema 9: the file has its own identity for the central server,
	 * and nothing is marked as sent yet */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sync_source"
			      " WHERE length(uuid) = 32"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM sync_mark"), 0);
	/* schema 10: no map geometry known for the old wafers */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM wafer WHERE"
			      " map_diameter_mm IS NULL AND map_cols IS NULL AND"
			      " map_notch_deg IS NULL"),
			q_int(path, "SELECT count(*) FROM wafer"));
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_integrity_check"
			      " WHERE integrity_check = 'ok'"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_foreign_key_check"),
			0);
	/* old rows: every old column unchanged, the new ones NULL */
	after = v3_digest(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(after, before);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result WHERE"
			      " started_at IS NULL AND ended_at IS NULL AND"
			      " duration_s IS NULL"), 8);
	/* the backup is the version-3 file as it was */
	CU_ASSERT_EQUAL(q_int(bak, "PRAGMA user_version"), 3);
	CU_ASSERT_EQUAL(q_int(bak, "SELECT count(*) FROM pragma_table_info"
			      "('step_result') WHERE name = 'duration_s'"), 0);
	saved = v3_digest(bak);
	CU_ASSERT_PTR_NOT_NULL(saved);
	if (saved)
		CU_ASSERT_STRING_EQUAL(saved, before);
	free(saved);
	free(after);
	free(before);

	/* a migrated file takes timed results, and a retest of die (0,0)
	 * continues its numbering: retest 2, after runs 1 and 3 */
	snprintf(path, sizeof(path), "%s", db_file("v3b.db"));
	make_v3_file(path);
	info.started = T0;
	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_step_result_add_timed(d, run_id, "align", "pass", 0,
						 0, T0 + 1, T0 + 1.5, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	db_close(d);
	snprintf(buf, sizeof(buf), "SELECT retest FROM run WHERE id = %lld",
		 (long long)run_id);
	CU_ASSERT_EQUAL(q_int(path, buf), 2);
	snprintf(buf, sizeof(buf), "SELECT started_at FROM run WHERE id = %lld",
		 (long long)run_id);
	q_text(path, buf, bak, sizeof(bak));
	CU_ASSERT_STRING_EQUAL(bak, "2023-11-14T22:13:20.000Z");
	snprintf(buf, sizeof(buf), "SELECT duration_s FROM step_result WHERE"
		 " run_id = %lld", (long long)run_id);
	CU_ASSERT_EQUAL(q_double(path, buf), 0.5);
}

/* Migration 4 failing half-way (its last column is in the way) leaves
 * the schema-3 file as it was: the first two columns are rolled back. */
static void test_migration4_is_atomic(void)
{
	const char *path = db_file("v3bad.db");
	kgd_err err = { 0 };
	db *d = NULL;

	make_v3_file(path);
	exec_on(path, "ALTER TABLE step_result ADD COLUMN duration_s REAL");
	CU_ASSERT_EQUAL(db_open(path, &d, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT(strstr(err.msg, path) != NULL);
	CU_ASSERT(strstr(err.msg, "migration 4") != NULL);
	CU_ASSERT_EQUAL(q_int(path, "PRAGMA user_version"), 3);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_table_info"
			      "('step_result') WHERE name IN ('started_at',"
			      " 'ended_at')"), 0);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM step_result"), 8);
}

/* ---- concurrency: a report never blocks the station ---------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_reader_never_blocks(void)
{
	const char *path = db_file("readers.db");
	db_run_info info = die_info("LOT-W", "W01", 0, 0);
	kgd_err err = { 0 };
	sqlite3 *r = NULL;
	int64_t open_run = 0;
	double t0, slowest = 0;
	int i;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	commit_die(d, &info, 10, NULL);
	/* a report holds a read transaction (one snapshot) open ... */
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &r, SQLITE_OPEN_READONLY,
					      NULL), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(r, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	{
		sqlite3_stmt *st = NULL;

		CU_ASSERT_EQUAL(sqlite3_prepare_v2(r, "SELECT count(*) FROM run",
						   -1, &st, NULL), SQLITE_OK);
		CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
		CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), 1);
		sqlite3_finalize(st);
	}
	/* ... while the station commits dies: none waits for it (the write
	 * path would wait up to its 10 s busy timeout if it were blocked) */
	for (i = 1; i <= 5; i++) {
		info.die_x = i;
		t0 = now_s();
		commit_die(d, &info, 200, NULL);
		if (now_s() - t0 > slowest)
			slowest = now_s() - t0;
	}
	CU_ASSERT(slowest < 1.0);
	/* the reader still sees its snapshot, then the new dies */
	{
		sqlite3_stmt *st = NULL;

		CU_ASSERT_EQUAL(sqlite3_prepare_v2(r, "SELECT count(*) FROM run",
						   -1, &st, NULL), SQLITE_OK);
		CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
		CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), 1);
		sqlite3_finalize(st);
	}
	CU_ASSERT_EQUAL(sqlite3_exec(r, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(r);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 6);
	/* and a reader is not blocked by a die in flight: it sees the
	 * committed dies at once, not the open one */
	info.die_x = 99;
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &open_run, &err), KGD_OK);
	t0 = now_s();
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), 6);
	CU_ASSERT(now_s() - t0 < 1.0);
	db_run_rollback(d);
	db_close(d);
}

/* ---- a full disk: clear error, committed dies intact --------------------- */

#define FULL_LIMIT (1024 * 1024)

/* In a child (the limit and the signal are per process): write dies of
 * 1000 measurements into path until the file-size limit stops one. The
 * child reports the committed count and the message through fd. */
static void fill_until_full(const char *path, int fd)
{
	struct rlimit rl = { FULL_LIMIT, FULL_LIMIT };
	db_run_info info = die_info("LOT-FULL", "W01", 0, 0);
	db_measurement m = { .step = "port_power", .coords = "{\"port\":1}",
			     .value = -1.5, .value_valid = 1, .unit = "dBm",
			     .low = -6, .high = 3, .has_low = 1, .has_high = 1,
			     .pass = 1 };
	kgd_err err = { 0 };
	int64_t run_id = 0;
	int committed = 0, i, rc = KGD_OK;
	char line[KGD_ERR_MSG_MAX + 64];
	db *d = NULL;

	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
	rc = db_open(path, &d, &err);
	while (!rc && committed < 10000) {
		info.die_x = committed;
		rc = db_run_begin(d, &info, &run_id, &err);
		for (i = 0; !rc && i < 1000; i++)
			rc = db_measurement_add(d, run_id, &m, &err);
		if (!rc)
			rc = db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL,
					   &err);
		if (!rc)
			committed++;
	}
	db_close(d);
	snprintf(line, sizeof(line), "%d %d %s", committed, rc, err.msg);
	if (write(fd, line, strlen(line)) < 0)
		_exit(3);
	_exit(0);
}

static void test_disk_full(void)
{
	const char *path = db_file("full.db");
	char msg[KGD_ERR_MSG_MAX + 64] = "";
	int fds[2], committed = -1, rc = 0, status = 0;
	ssize_t n;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_TRUE_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		fill_until_full(path, fds[1]);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_TRUE_FATAL(n > 0);
	msg[n] = '\0';
	CU_ASSERT_EQUAL(sscanf(msg, "%d %d", &committed, &rc), 2);
	/* it stopped on the limit, after committing some dies, and said so
	 * naming the file and what it was doing */
	if (committed < 1)
		fprintf(stderr, "\n  disk-full child: %s\n", msg);
	CU_ASSERT(committed >= 1);
	CU_ASSERT(committed < 10000);
	CU_ASSERT_EQUAL(rc, KGD_ERR_DB);
	if (!strstr(msg, path) || !strstr(msg, "File too large"))
		fprintf(stderr, "\n  disk-full message: %s\n", msg);
	CU_ASSERT(strstr(msg, path) != NULL);
	CU_ASSERT(strstr(msg, "database or disk is full") != NULL ||
		  strstr(msg, "disk I/O error") != NULL);
	CU_ASSERT(strstr(msg, "run ") != NULL);
	CU_ASSERT(strstr(msg, "File too large") != NULL);
	/* every committed die is there, whole; nothing of the failed one */
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM pragma_integrity_check"
			      " WHERE integrity_check = 'ok'"), 1);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run"), committed);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM measurement"),
			committed * 1000LL);
	CU_ASSERT_EQUAL(q_int(path, "SELECT count(*) FROM run WHERE"
			      " status != 'pass' OR ended_at IS NULL"), 0);
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
	CU_add_test(s, "schema 2: sessions, bins, limits, step results",
		    test_schema2_round_trip);
	CU_add_test(s, "deleting a run cascades", test_cascade);
	CU_add_test(s, "retests are new runs; resume query",
		    test_retests_and_resume_query);
	CU_add_test(s, "dead session marked interrupted", test_dead_session_marked);
	CU_add_test(s, "migration from a real schema-1 file",
		    test_migration_from_v1);
	CU_add_test(s, "migrated file continues retest numbering",
		    test_migration_retest_continues);
	CU_add_test(s, "failed migration leaves the file as it was",
		    test_migration_is_atomic);
	CU_add_test(s, "schema 4: step times, run start honoured",
		    test_step_timing);
	CU_add_test(s, "migration from a real schema-3 file",
		    test_migration_from_v3);
	CU_add_test(s, "failed migration 4 leaves the file as it was",
		    test_migration4_is_atomic);
	CU_add_test(s, "a reader never blocks the station",
		    test_reader_never_blocks);
	CU_add_test(s, "full disk: clear error, committed dies intact",
		    test_disk_full);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
