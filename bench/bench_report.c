/*
 * bench/bench_report.c - `station report`'s tests.csv aggregate over a
 * large results database, against the sqlite3 CLI computing the same
 * aggregate (same final-run rule, same grouping) in the same run.
 *
 *   bench_report [MEASUREMENTS [DIR]]   default 10,000,000 in
 *                                        $TMPDIR/kgd-bench-report
 *
 * The database is generated once with raw SQLite inserts in large
 * transactions (dies of 1,000 measurements, 2% of dies retested) into a
 * file created by db_open(), so it has the station's real schema and
 * indexes; a database of the same size in DIR is reused. Prints both
 * times and the ratio (goal: report / CLI <= 1.5).
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "db.h"
#include "rpt.h"

#define PER_RUN 1000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ex(sqlite3 *h, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s: %s\n", sql, msg);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Dies on 300-die wafers, 25 wafers a lot; 16 ports x 3 wavelengths of
 * power, 16 lanes of BER, the rest a spectrum sweep. */
static int generate(const char *path, long long n_meas)
{
	static const char *const steps[] = { "port_power", "lane_ber",
					     "spectrum" };
	sqlite3_stmt *run = NULL, *part = NULL, *meas = NULL;
	kgd_err err = { 0 };
	sqlite3 *h = NULL;
	db *d = NULL;
	long long runs = n_meas / PER_RUN, r, part_id = 0, run_id;
	int k, rc = -1, retest;
	char coords[64];
	unsigned seed = 7;

	if (db_open(path, &d, &err)) {
		fprintf(stderr, "bench_report: %s\n", err.msg);
		return -1;
	}
	db_close(d);
	if (sqlite3_open(path, &h) != SQLITE_OK ||
	    ex(h, "PRAGMA synchronous = OFF; PRAGMA journal_mode = WAL;"
	       "BEGIN;"
	       "INSERT INTO station(name, host) VALUES ('bench', 'h');"
	       "INSERT INTO operator(name) VALUES ('op');"
	       "INSERT INTO sequence(name, version, sha256, text)"
	       " VALUES ('kgd', 1, 'bench', '');"
	       "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i"
	       " WHERE n < 1000) INSERT INTO lot(name) SELECT 'LOT' || n FROM i;"
	       "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i"
	       " WHERE n < 24999) INSERT INTO wafer(lot_id, name)"
	       " SELECT n / 25 + 1, 'W' || (n % 25) FROM i;"))
		goto out;
	if (sqlite3_prepare_v2(h, "INSERT INTO part(lot_id, wafer_id, die_x,"
			       " die_y) VALUES (?1, ?2, ?3, ?4)", -1, &part,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "INSERT INTO run(part_id, sequence_id,"
			       " station_id, operator_id, product, started_at,"
			       " ended_at, status, hard_bin, soft_bin, retest)"
			       " VALUES (?1, 1, 1, 1, 'P', '2025-01-01T00:00:00Z',"
			       " '2025-01-01T00:00:01Z', ?2, ?3, ?3, ?4)", -1,
			       &run, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "INSERT INTO measurement(run_id, seq_no, step,"
			       " coords, value, unit, low, high, pass)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1,
			       &meas, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s\n", sqlite3_errmsg(h));
		goto out;
	}
	for (r = 0; r < runs; r++) {
		/* every 50th run retests the previous die */
		retest = r % 50 == 49;
		if (!retest) {
			long long wafer = part_id / 300;

			sqlite3_bind_int64(part, 1, wafer / 25 + 1);
			sqlite3_bind_int64(part, 2, wafer + 1);
			sqlite3_bind_int(part, 3, (int)(part_id % 300) % 20);
			sqlite3_bind_int(part, 4, (int)(part_id % 300) / 20);
			if (sqlite3_step(part) != SQLITE_DONE)
				goto sqlfail;
			sqlite3_reset(part);
			part_id++;
		}
		sqlite3_bind_int64(run, 1, part_id);
		sqlite3_bind_text(run, 2, r % 7 ? "pass" : "fail", -1, SQLITE_STATIC);
		sqlite3_bind_int(run, 3, r % 7 ? 1 : 5);
		sqlite3_bind_int(run, 4, retest);
		if (sqlite3_step(run) != SQLITE_DONE)
			goto sqlfail;
		sqlite3_reset(run);
		run_id = sqlite3_last_insert_rowid(h);
		for (k = 0; k < PER_RUN; k++) {
			int s = k < 48 ? 0 : k < 64 ? 1 : 2;
			double v;

			seed = seed * 1103515245u + 12345u;
			v = (double)(seed >> 8) / 16777216.0;
			snprintf(coords, sizeof(coords), s == 0 ?
				 "{\"port\":%d,\"wl\":%d}" : "{\"i\":%d}",
				 s == 0 ? k / 3 + 1 : k, k % 3);
			sqlite3_bind_int64(meas, 1, run_id);
			sqlite3_bind_int(meas, 2, k + 1);
			sqlite3_bind_text(meas, 3, steps[s], -1, SQLITE_STATIC);
			sqlite3_bind_text(meas, 4, coords, -1, SQLITE_TRANSIENT);
			sqlite3_bind_double(meas, 5, s == 1 ? v * 1e-12 : v * 8 - 5);
			sqlite3_bind_text(meas, 6, s == 1 ? NULL : "dBm", -1,
					  SQLITE_STATIC);
			if (s == 1)
				sqlite3_bind_null(meas, 7);
			else
				sqlite3_bind_double(meas, 7, -6.0);
			sqlite3_bind_double(meas, 8, s == 1 ? 1e-12 : 3.0);
			sqlite3_bind_int(meas, 9, s == 1 || v * 8 - 5 <= 3.0);
			if (sqlite3_step(meas) != SQLITE_DONE)
				goto sqlfail;
			sqlite3_reset(meas);
		}
		if (r % 1000 == 999 && ex(h, "COMMIT; BEGIN"))
			goto out;
	}
	rc = ex(h, "COMMIT");
	goto out;
sqlfail:
	fprintf(stderr, "bench_report: %s\n", sqlite3_errmsg(h));
out:
	sqlite3_finalize(part);
	sqlite3_finalize(run);
	sqlite3_finalize(meas);
	sqlite3_close(h);
	return rc;
}

static long long count_meas(const char *path)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT max(id) FROM measurement", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

int main(int argc, char **argv)
{
	/* The same aggregate as tests.csv: each part's latest run, grouped by
	 * step, unit and limits; n, passes, invalid, mean, sum of squares
	 * (the variance), min, max. */
	static const char cli_sql[] =
		"SELECT m.step, m.unit, m.low, m.high, count(*), sum(m.pass),"
		" count(*) - count(m.value), avg(m.value), sum(m.value * m.value),"
		" min(m.value), max(m.value)"
		" FROM (SELECT max(id) AS run_id FROM run GROUP BY part_id) f"
		" JOIN measurement m ON m.run_id = f.run_id"
		" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;";
	long long n = argc > 1 ? atoll(argv[1]) : 10000000;
	const char *tmp = getenv("TMPDIR");
	char dir[512], path[600], cmd[1400];
	kgd_err err = { 0 };
	double t0, t_rpt, t_cli;
	FILE *f;

	if (argc > 2)
		snprintf(dir, sizeof(dir), "%s", argv[2]);
	else
		snprintf(dir, sizeof(dir), "%s/kgd-bench-report",
			 tmp ? tmp : "/tmp");
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/results-%lld.db", dir, n);
	n = n / PER_RUN * PER_RUN;
	if (count_meas(path) != n) {
		remove(path);
		printf("generating %lld measurements in %s ...\n", n, path);
		fflush(stdout);
		t0 = now();
		if (generate(path, n))
			return 1;
		printf("  generated in %.1f s\n", now() - t0);
	}
	/* Warm the page cache once, so neither side pays the first read. */
	snprintf(cmd, sizeof(cmd), "cat '%s' > /dev/null", path);
	if (system(cmd) != 0)
		return 1;

	t0 = now();
	if (rpt_write(path, dir, NULL, RPT_TESTS, NULL, &err)) {
		fprintf(stderr, "bench_report: %s\n", err.msg);
		return 1;
	}
	t_rpt = now() - t0;

	snprintf(cmd, sizeof(cmd), "/usr/bin/sqlite3 -readonly '%s' > %s/cli.txt",
		 path, dir);
	t0 = now();
	f = popen(cmd, "w");
	if (!f || fputs(cli_sql, f) < 0 || pclose(f) != 0) {
		fprintf(stderr, "bench_report: /usr/bin/sqlite3 failed\n");
		return 1;
	}
	t_cli = now() - t0;

	printf("tests.csv over %lld measurements:\n"
	       "  rpt_write (station report)  %.3f s\n"
	       "  /usr/bin/sqlite3 same SQL    %.3f s\n"
	       "  ratio report/cli             %.2f (goal <= 1.5)\n",
	       n, t_rpt, t_cli, t_rpt / t_cli);
	return 0;
}
