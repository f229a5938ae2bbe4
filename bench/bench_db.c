/*
 * bench/bench_db.c - throughput of the result store against the raw SQLite
 * floor, measured in the same run on the same machine.
 *
 * Both arms log dies of 1,000 measurements (step name, sweep coordinates
 * as JSON, value, unit, limits, pass) into the same schema-2 file layout
 * with the same pragmas (WAL, synchronous=NORMAL, foreign keys on), one
 * transaction per die:
 *   db.h  db_run_begin (finds station, operator, sequence, lot, wafer,
 *         part; numbers the retest), 1,000 x db_measurement_add,
 *         db_run_commit;
 *   raw   BEGIN, INSERT run with ids known up front, 1,000 x one prepared
 *         INSERT, UPDATE run, COMMIT.
 * The arms alternate in rounds so machine noise hits both alike. The
 * printed ratio (db.h rows/s over raw rows/s) is the number that matters;
 * the goal is >= 0.70. A measurement, not a test: it always exits 0
 * unless it cannot run at all.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"

#define MEAS_PER_DIE 1000
#define DIES_PER_ROUND 40
#define ROUNDS 5

static const char *const steps[] = { "port_power", "lane_ber", "wavelength",
				     "insertion_loss" };
static const char *const units[] = { "dBm", "ratio", "nm", "dB" };

/* The values of one die, made before timing so both arms store the same
 * bytes and neither pays for formatting. */
static struct {
	char coords[MEAS_PER_DIE][64];
	double value[MEAS_PER_DIE];
	int step[MEAS_PER_DIE];
} die;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_die(void)
{
	int i;

	srand(42);
	for (i = 0; i < MEAS_PER_DIE; i++) {
		die.step[i] = i * 4 / MEAS_PER_DIE;
		snprintf(die.coords[i], sizeof(die.coords[i]),
			 "{\"port\":%d,\"wavelength_nm\":%.1f}", 1 + i % 16,
			 1301.0 + 1.6 * (i / 16 % 8));
		die.value[i] = -1.0 + 4.0 * rand() / (double)RAND_MAX;
	}
}

static db_run_info run_info(int n)
{
	db_run_info info = {
		.station = "bench-st", .host = "bench-host",
		.operator_name = "bench", .lot = "BENCH", .wafer = "W01",
		.die_x = n % 100, .die_y = n / 100, .has_xy = 1,
		.seq_name = "teraphy-kgd", .seq_version = 3,
		.seq_sha256 = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
		.seq_text = "sequence: teraphy-kgd\n", .product = "TPHY-16x16",
	};
	return info;
}

/* ---- arm 1: through db.h ------------------------------------------------ */

static int dbh_dies(db *d, int first, int n)
{
	kgd_err err;
	int64_t run_id;
	int k, i;

	for (k = first; k < first + n; k++) {
		db_run_info info = run_info(k);

		if (db_run_begin(d, &info, &run_id, &err))
			goto fail;
		for (i = 0; i < MEAS_PER_DIE; i++) {
			db_measurement m = {
				.step = steps[die.step[i]], .coords = die.coords[i],
				.value = die.value[i], .value_valid = 1,
				.unit = units[die.step[i]], .low = -6.0,
				.high = 3.0, .has_low = 1, .has_high = 1,
				.pass = die.value[i] <= 3.0,
			};

			if (db_measurement_add(d, run_id, &m, &err))
				goto fail;
		}
		if (db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL, &err))
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "bench_db: %s\n", err.msg);
	return -1;
}

/* ---- arm 2: raw SQLite ------------------------------------------------- */

typedef struct raw {
	sqlite3 *h;
	sqlite3_stmt *begin, *run, *meas, *end, *commit;
	int64_t part, sequence, station;
} raw;

static int raw_open(raw *r, const char *path)
{
	db *d = NULL;
	kgd_err err;
	int64_t run_id;
	db_run_info info = run_info(0);

	/* The same schema, made by db.h; one committed die gives the raw
	 * arm its part/sequence/station rows. */
	if (db_open(path, &d, &err) || db_run_begin(d, &info, &run_id, &err) ||
	    db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL, &err)) {
		fprintf(stderr, "bench_db: %s\n", err.msg);
		db_close(d);
		return -1;
	}
	db_close(d);
	if (sqlite3_open(path, &r->h) != SQLITE_OK ||
	    sqlite3_exec(r->h, "PRAGMA journal_mode = WAL;"
			 "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->h, "BEGIN IMMEDIATE", -1, &r->begin, NULL) ||
	    sqlite3_prepare_v2(r->h, "INSERT INTO run(part_id, sequence_id,"
			       " station_id, product, started_at, status)"
			       " VALUES (?1, ?2, ?3, 'TPHY-16x16',"
			       " strftime('%Y-%m-%dT%H:%M:%fZ','now'), 'aborted')",
			       -1, &r->run, NULL) ||
	    sqlite3_prepare_v2(r->h, "INSERT INTO measurement(run_id, seq_no,"
			       " step, coords, value, unit, low, high, pass, name)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			       -1, &r->meas, NULL) ||
	    sqlite3_prepare_v2(r->h, "UPDATE run SET status = 'pass', hard_bin = 1,"
			       " soft_bin = 1, ended_at ="
			       " strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
			       -1, &r->end, NULL) ||
	    sqlite3_prepare_v2(r->h, "COMMIT", -1, &r->commit, NULL)) {
		fprintf(stderr, "bench_db: raw: %s\n", sqlite3_errmsg(r->h));
		return -1;
	}
	r->part = r->sequence = r->station = 1;
	return 0;
}

static void raw_close(raw *r)
{
	sqlite3_finalize(r->begin);
	sqlite3_finalize(r->run);
	sqlite3_finalize(r->meas);
	sqlite3_finalize(r->end);
	sqlite3_finalize(r->commit);
	sqlite3_close(r->h);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int raw_dies(raw *r, int n)
{
	int64_t run_id;
	int k, i;

	for (k = 0; k < n; k++) {
		if (step_done(r->begin))
			goto fail;
		sqlite3_bind_int64(r->run, 1, r->part);
		sqlite3_bind_int64(r->run, 2, r->sequence);
		sqlite3_bind_int64(r->run, 3, r->station);
		if (step_done(r->run))
			goto fail;
		run_id = sqlite3_last_insert_rowid(r->h);
		for (i = 0; i < MEAS_PER_DIE; i++) {
			sqlite3_stmt *st = r->meas;

			sqlite3_bind_int64(st, 1, run_id);
			sqlite3_bind_int64(st, 2, i + 1);
			sqlite3_bind_text(st, 3, steps[die.step[i]], -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, die.coords[i], -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 5, die.value[i]);
			sqlite3_bind_text(st, 6, units[die.step[i]], -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 7, -6.0);
			sqlite3_bind_double(st, 8, 3.0);
			sqlite3_bind_int(st, 9, die.value[i] <= 3.0);
			sqlite3_bind_null(st, 10);
			if (step_done(st))
				goto fail;
		}
		sqlite3_bind_int64(r->end, 1, run_id);
		if (step_done(r->end) || step_done(r->commit))
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "bench_db: raw: %s\n", sqlite3_errmsg(r->h));
	return -1;
}

/* ---- main ---------------------------------------------------------------- */

static void remove_db(const char *path)
{
	char side[600];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

int main(void)
{
	char tmpl[512], path_dbh[600], path_raw[600];
	const char *tmp = getenv("TMPDIR");
	double t_dbh = 0, t_raw = 0, t0, rows, rate_dbh, rate_raw;
	kgd_err err;
	raw r = {0};
	db *d = NULL;
	int round, status = 1;

	snprintf(tmpl, sizeof(tmpl), "%s/bench_db-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl)) {
		perror("bench_db: mkdtemp");
		return 1;
	}
	snprintf(path_dbh, sizeof(path_dbh), "%s/dbh.db", tmpl);
	snprintf(path_raw, sizeof(path_raw), "%s/raw.db", tmpl);
	make_die();
	if (raw_open(&r, path_raw))
		goto out;
	if (db_open(path_dbh, &d, &err)) {
		fprintf(stderr, "bench_db: %s\n", err.msg);
		goto out;
	}
	/* One untimed round each: page cache, WAL file and statements warm. */
	if (dbh_dies(d, 0, 5) || raw_dies(&r, 5))
		goto out;
	for (round = 0; round < ROUNDS; round++) {
		t0 = now_s();
		if (dbh_dies(d, 5 + round * DIES_PER_ROUND, DIES_PER_ROUND))
			goto out;
		t_dbh += now_s() - t0;
		t0 = now_s();
		if (raw_dies(&r, DIES_PER_ROUND))
			goto out;
		t_raw += now_s() - t0;
	}
	rows = (double)ROUNDS * DIES_PER_ROUND * MEAS_PER_DIE;
	rate_dbh = rows / t_dbh;
	rate_raw = rows / t_raw;
	printf("dies of %d measurements, commit per die, %d dies per arm\n",
	       MEAS_PER_DIE, ROUNDS * DIES_PER_ROUND);
	printf("  db.h      %10.0f rows/s\n", rate_dbh);
	printf("  raw SQLite %9.0f rows/s\n", rate_raw);
	printf("  ratio     %10.2f  (goal >= 0.70)\n", rate_dbh / rate_raw);
	status = 0;
out:
	db_close(d);
	raw_close(&r);
	remove_db(path_dbh);
	remove_db(path_raw);
	rmdir(tmpl);
	return status;
}
