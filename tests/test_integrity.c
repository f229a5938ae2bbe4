/*
 * tests/test_integrity.c - a damaged results file takes no new data
 * (issue 19, item 6). A real results.db written by `station run` against
 * kgd-vstation gets one page in the middle overwritten; the next `station
 * run` (a new lot, or --resume of the old one) must refuse it: exit 1, a
 * message naming the file, the damage and what to do, and the file left
 * byte for byte as it was. Through db.h: a file too large to check in the
 * time allowed at open (the budget lowered by the test hook) gets the
 * cheaper check (every table but the bulk ones: damage there is refused)
 * and a full integrity_check when its session ends (damage in the bulk
 * tables is reported then).
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "db_int.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define PM_SEQ KGD_SOURCE_DIR "/sequences/spine-power.yaml"

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("integrity"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static long long q(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -2;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);

		v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* quick_check of path says "ok" (1), something else (0). */
static int sound(const char *path)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	sqlite3_close(h);
	return ok;
}

/* The b-tree page of `table` (NULL: any) nearest the middle of the file,
 * per the dbstat table; 0 if none. */
static long long middle_page(const char *path, const char *table)
{
	char sql[400];

	snprintf(sql, sizeof(sql), "SELECT pageno FROM dbstat WHERE pagetype IN"
		 " ('leaf', 'internal') AND pageno > 1 %s%s%s ORDER BY"
		 " abs(pageno - (SELECT max(pageno) FROM dbstat) / 2) LIMIT 1",
		 table ? "AND name = '" : "", table ? table : "",
		 table ? "'" : "");
	return q(path, sql);
}

/* Overwrite page `page` (1-based) of path with a pattern no page holds.
 * from: first byte of the page to overwrite. */
static void smash_page(const char *path, long long page, size_t from)
{
	long long size = q(path, "PRAGMA page_size");
	char *junk;
	int fd;

	CU_ASSERT_TRUE_FATAL(size >= 512 && page >= 1);
	junk = malloc((size_t)size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(junk);
	for (long long i = 0; i < size; i++)
		junk[i] = (char)(0xa5 ^ (i * 7));
	fd = open(path, O_WRONLY);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, junk + from, (size_t)size - from,
			       (off_t)((page - 1) * size + (long long)from)),
			(ssize_t)((size_t)size - from));
	close(fd);
	free(junk);
}

static void copy_file(const char *src, const char *dst)
{
	size_t n = 0;
	char *bytes = tu_slurp(src, &n);
	FILE *f = fopen(dst, "wb");

	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(bytes, 1, n, f), n);
	fclose(f);
	free(bytes);
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void expect_in(const char *text, const char *what)
{
	if (!strstr(text, what))
		fprintf(stderr, "\n  wanted \"%s\" in:\n%s\n", what, text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, what));
}

/* `station run` on a damaged file: refused, named, file untouched. */
static void expect_refused(char **argv, const char *db_path, const char *what)
{
	char wal[800], want[1600];
	size_t n0 = 0, n1 = 0;
	char *before = tu_slurp(db_path, &n0), *after;

	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60),
			1);
	snprintf(want, sizeof(want), "%s: the file is damaged (%s", db_path, what);
	expect_in(errbuf, want);
	expect_in(errbuf, "nothing was added to it. Restore the last good copy");
	snprintf(want, sizeof(want), "(sqlite3 %s .recover | sqlite3 NEW.db)",
		 db_path);
	expect_in(errbuf, want);
	if (getenv("KGD_TEST_VERBOSE"))
		fprintf(stderr, "\n  station said: %s", errbuf);
	after = tu_slurp(db_path, &n1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_EQUAL(n1, n0);
	CU_ASSERT_TRUE(n1 == n0 && memcmp(before, after, n0) == 0);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	CU_ASSERT_TRUE(file_size(wal) <= 0);
	free(before);
	free(after);
}

static void test_damaged_results_refused(void)
{
	const char *const sim_args[] = {"--latency-ms", "0", NULL};
	char cfg[700], db_path[700], db2[700];
	char *good[] = {STATION, "run", PM_SEQ, "--config", cfg, "--db", db_path,
			"--lot", "GOOD", "--units", "40", "--quiet", NULL};
	char *more[] = {STATION, "run", PM_SEQ, "--config", cfg, "--db", db_path,
			"--lot", "MORE", "--units", "5", "--quiet", NULL};
	char *resume[] = {STATION, "run", PM_SEQ, "--config", cfg, "--db",
			  db_path, "--lot", "GOOD", "--units", "45", "--quiet",
			  "--resume", NULL};
	char *more2[] = {STATION, "run", PM_SEQ, "--config", cfg, "--db", db2,
			 "--lot", "MORE", "--units", "5", "--quiet", NULL};
	tu_vstation vs = {0};
	long long page;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	snprintf(cfg, sizeof(cfg), "%s/cell.yaml", dir);
	snprintf(db_path, sizeof(db_path), "%s/results.db", dir);
	snprintf(db2, sizeof(db2), "%s/results-schema.db", dir);
	f = fopen(cfg, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "station: cell-i\ninstruments:\n  pm: {driver: keysight-n774x,"
		" uri: \"%s\"}\n", tu_vstation_uri(&vs, "pm"));
	fclose(f);

	CU_ASSERT_EQUAL_FATAL(tu_run(good, out, sizeof(out), errbuf,
				     sizeof(errbuf), 120), 0);
	CU_ASSERT_EQUAL(q(db_path, "SELECT count(*) FROM run"), 40);
	CU_ASSERT_TRUE(sound(db_path));
	copy_file(db_path, db2);

	/* one page in the middle, as a bad sector or a stray write leaves it */
	page = middle_page(db_path, NULL);
	CU_ASSERT_TRUE_FATAL(page > 10);
	smash_page(db_path, page, 0);
	CU_ASSERT_FALSE_FATAL(sound(db_path));
	expect_refused(more, db_path, "quick_check: ");
	expect_refused(resume, db_path, "quick_check: ");

	/* the schema's own page: the file cannot even be read */
	smash_page(db2, 1, 100);
	expect_refused(more2, db2, "");
	tu_vstation_stop(&vs);
}

/* ---- through db.h: the budget at open, the check at the end ----------------- */

/* A file of n_runs units with per_run measurements each, through db.h. */
static void fill(const char *path, int n_runs, int per_run)
{
	db_session_info si = {
		.station = "cell-i", .lot = "BIG", .process = "unit",
		.seq_name = "big", .seq_version = 1, .seq_sha256 = "big",
	};
	db_measurement m = {
		.step = "port_power", .value = -1.5, .value_valid = 1,
		.unit = "dBm", .low = -3, .high = 6, .has_low = 1, .has_high = 1,
		.pass = 1,
	};
	kgd_err err = {0};
	int64_t sid = 0, run_id = 0;
	char serial[32];
	int failed = 0;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d, &si, &sid, NULL, &err), KGD_OK);
	for (int r = 0; r < n_runs; r++) {
		db_run_info info = {
			.station = "cell-i", .lot = "BIG", .serial = serial,
			.seq_name = "big", .seq_version = 1, .seq_sha256 = "big",
			.session_id = sid,
		};

		snprintf(serial, sizeof(serial), "SN-%05d", r);
		CU_ASSERT_EQUAL_FATAL(db_run_begin(d, &info, &run_id, &err), KGD_OK);
		for (int i = 0; i < per_run && !failed; i++) {
			m.value = -1.5 + i * 1e-3;
			failed = db_measurement_add(d, run_id, &m, &err);
		}
		CU_ASSERT_EQUAL_FATAL(failed, KGD_OK);
		CU_ASSERT_EQUAL_FATAL(db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1,
						    NULL, &err), KGD_OK);
	}
	CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_COMPLETE, &err), KGD_OK);
	db_close(d);
}

static void test_budget_then_full_check_at_end(void)
{
	char big[700], bulk[700], small[700];
	db_session_info si = {
		.station = "cell-i", .lot = "NEXT", .process = "unit",
		.seq_name = "big", .seq_version = 1, .seq_sha256 = "big",
	};
	kgd_err err = {0};
	int64_t sid = 0;
	int cut = 0;
	db *d = NULL;

	snprintf(big, sizeof(big), "%s/big.db", dir);
	snprintf(bulk, sizeof(bulk), "%s/big-bulk-damaged.db", dir);
	snprintf(small, sizeof(small), "%s/big-run-damaged.db", dir);
	fill(big, 300, 500);
	CU_ASSERT_TRUE_FATAL(sound(big));
	copy_file(big, bulk);
	copy_file(big, small);
	smash_page(bulk, middle_page(bulk, "measurement"), 0);
	smash_page(small, middle_page(small, "run"), 0);

	/* The watchdog: 1 ms is not enough for quick_check of 150000
	 * values, so it is cut short and the full check is owed. (Twenty
	 * tries: a loaded machine, or ThreadSanitizer's scheduler, may wake
	 * the watchdog only after a check of some 30 ms is over - then the
	 * check was simply complete.) */
	db_check_budget_ms = 1;
	for (int i = 0; i < 20 && !cut; i++) {
		CU_ASSERT_EQUAL_FATAL(db_open(big, &d, &err), KGD_OK);
		cut = d->check_due;
		db_close(d);
	}
	CU_ASSERT_TRUE(cut);

	/* From here the time is up before quick_check begins: the cheaper
	 * check, then the full one at the end, on any machine. */
	db_check_budget_ms = -1;
	CU_ASSERT_EQUAL_FATAL(db_open(big, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(d->check_due, 1);
	CU_ASSERT_EQUAL(db_session_begin(d, &si, &sid, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_COMPLETE, &err), KGD_OK);
	CU_ASSERT_EQUAL(d->check_due, 0);
	db_close(d);

	/* damage among the runs: the cheaper check sees it */
	CU_ASSERT_EQUAL(db_open(small, &d, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NULL(d);
	expect_in(err.msg, "the file is damaged (quick_check: ");
	expect_in(err.msg, ".recover");

	/* damage among the values: not seen by the cheaper check, reported
	 * when the session ends (its runs are committed all the same) */
	si.lot = "NEXT2";
	CU_ASSERT_EQUAL_FATAL(db_open(bulk, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_session_begin(d, &si, &sid, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_COMPLETE, &err),
			KGD_ERR_DB);
	expect_in(err.msg, "ended, but the file is damaged (integrity_check: ");
	expect_in(err.msg, ".recover");
	db_close(d);
	CU_ASSERT_EQUAL(q(bulk, "SELECT status = 'complete' FROM session WHERE"
			  " lot_id = (SELECT id FROM lot WHERE name = 'NEXT2')"), 1);

	/* with the full budget quick_check sees it at open */
	db_check_budget_ms = DB_CHECK_MS;
	CU_ASSERT_EQUAL(db_open(bulk, &d, &err), KGD_ERR_DB);
	CU_ASSERT_PTR_NULL(d);
	expect_in(err.msg, "the file is damaged (quick_check: ");
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("integrity", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "station run refuses a damaged results file",
		    test_damaged_results_refused);
	CU_add_test(s, "a file too large for the budget: cheaper check, full "
		    "check at the end", test_budget_then_full_check_at_end);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
