/*
 * bench/bench_sync.c - issue 13's two figures against baselines measured
 * in the same run, on one throwaway PostgreSQL server (tests/pgtmp.sh):
 *
 *  1. upload: `station sync` (pgs_sync) of a station file of 1,000,000
 *     measurements (pgu_make_results: db.h, as a station writes) vs
 *     `psql \copy` of the same rows, from CSV, into the same tables
 *     (emptied first). Goal: sync rows/s >= 0.7 x \copy rows/s.
 *  2. cross-station tests.csv: the file above plus bench_report's file of
 *     N measurements (default 10,000,000; argv[1]), both on the server;
 *     `station report --from-db URL --only tests.csv` (the server picks
 *     each part's run, the station streams the measurements by binary
 *     COPY into the report's own accumulator) vs psql running the same
 *     aggregate on the server: the same runs (the rule of reports/rpt.h
 *     across files), the same groups and the same statistics (all, pass
 *     only, log10 of the positive values, all and pass only), written
 *     as CSV. Median of argv[2] rounds (default 3) after one warm-up
 *     round each, alternating. Goal: <= 1.5 x.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgs.h"
#include "pgutil.h"
#include "rpt.h"
#include "testutil.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const tables[] = { "station", "operator", "sequence",
	"limits_set", "lot", "wafer", "part", "session", "bin", "hard_bin",
	"session_instrument", "run", "step_result", "measurement" };
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "bench_sync: failed: %s\n", cmd);
	return rc;
}

/* The same rows as CSV files, and a psql script that \copy's them. */
static int export_csv(const char *db, const char *dir, const char *src,
		      const char *script)
{
	FILE *f = fopen(script, "w");
	char cmd[4000], cols[1000];

	if (!f)
		return -1;
	fprintf(f, "BEGIN;\n");
	for (size_t i = 0; i < N_TABLES; i++) {
		FILE *p;

		snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"SELECT group_concat(name,"
			 " ',') FROM pragma_table_info('%s')\"", db, tables[i]);
		p = popen(cmd, "r");
		if (!p || !fgets(cols, sizeof(cols), p)) {
			if (p)
				pclose(p);
			fclose(f);
			return -1;
		}
		pclose(p);
		cols[strcspn(cols, "\n")] = '\0';
		snprintf(cmd, sizeof(cmd), "sqlite3 -csv '%s' \"SELECT '%s', %s FROM"
			 " %s\" > '%s/%s.csv'", db, src, cols, tables[i], dir,
			 tables[i]);
		if (sh(cmd)) {
			fclose(f);
			return -1;
		}
		fprintf(f, "\\copy %s (src, %s) FROM '%s/%s.csv' CSV\n", tables[i],
			cols, dir, tables[i]);
	}
	fprintf(f, "COMMIT;\n");
	return fclose(f);
}

/* Every table a sync fills, emptied, and a checkpoint (no dirty pages
 * of the last round left for the next one to write). */
static const char empty_all[] =
	"TRUNCATE station, operator, sequence, limits_set, lot, wafer, part,"
	" session, bin, hard_bin, session_instrument, run, step_result,"
	" measurement, session_end, sync_batch; CHECKPOINT";

/* psql's side of figure 2: tests.csv's runs and statistics in SQL. */
static const char same_aggregate[] =
	"WITH s AS (SELECT src, (row_number() OVER (ORDER BY src)) - 1 AS rank"
	"  FROM (SELECT DISTINCT src FROM station) x),"
	" r AS (SELECT DISTINCT ON (l.name, w.name, p.serial, p.die_x, p.die_y)"
	"  r.src, r.id FROM run r JOIN s ON s.src = r.src"
	"  JOIN part p ON p.src = r.src AND p.id = r.part_id"
	"  JOIN lot l ON l.src = p.src AND l.id = p.lot_id"
	"  LEFT JOIN wafer w ON w.src = p.src AND w.id = p.wafer_id"
	"  ORDER BY l.name, w.name, p.serial, p.die_x, p.die_y, s.rank DESC,"
	"  r.id DESC)"
	" SELECT m.step, m.name, m.unit, m.low, m.high, count(*),"
	" count(*) FILTER (WHERE m.pass <> 0), count(*) - count(m.value),"
	" avg(m.value), stddev_samp(m.value), min(m.value), max(m.value),"
	" count(m.value) FILTER (WHERE m.pass <> 0),"
	" avg(m.value) FILTER (WHERE m.pass <> 0),"
	" stddev_samp(m.value) FILTER (WHERE m.pass <> 0),"
	" min(m.value) FILTER (WHERE m.pass <> 0),"
	" max(m.value) FILTER (WHERE m.pass <> 0),"
	" count(*) FILTER (WHERE m.value > 0),"
	" avg(log(m.value)) FILTER (WHERE m.value > 0),"
	" stddev_samp(log(m.value)) FILTER (WHERE m.value > 0),"
	" min(log(m.value)) FILTER (WHERE m.value > 0),"
	" max(log(m.value)) FILTER (WHERE m.value > 0),"
	" count(*) FILTER (WHERE m.value > 0 AND m.pass <> 0),"
	" avg(log(m.value)) FILTER (WHERE m.value > 0 AND m.pass <> 0),"
	" stddev_samp(log(m.value)) FILTER (WHERE m.value > 0 AND m.pass <> 0)"
	" FROM r JOIN measurement m ON m.src = r.src AND m.run_id = r.id"
	" GROUP BY 1, 2, 3, 4, 5";

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/* Rows and the sum of the n column (tests.csv's 5th, psql's 6th) of a
 * CSV without quoted commas; skip_header for tests.csv. */
static int csv_counts(const char *path, int col, int skip_header,
		      long long *rows, long long *n)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	*rows = *n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (skip_header) {
			skip_header = 0;
			continue;
		}
		for (int i = 1; i < col && p; i++) {
			p = strchr(p, ',');
			p = p ? p + 1 : NULL;
		}
		if (!p) {
			fclose(f);
			return -1;
		}
		++*rows;
		*n += atoll(p);
	}
	fclose(f);
	return 0;
}

/* The streamed tests.csv and psql's aggregate counted the same groups
 * and the same measurements (else the ratio compares unlike work). */
static int check_same(const char *dir)
{
	char a[700], b[700];
	long long ra, na, rb, nb;

	snprintf(a, sizeof(a), "%s/stream/tests.csv", dir);
	snprintf(b, sizeof(b), "%s/psql.csv", dir);
	if (csv_counts(a, 5, 1, &ra, &na) || csv_counts(b, 6, 0, &rb, &nb) ||
	    ra != rb || na != nb) {
		fprintf(stderr, "bench_sync: tests.csv (%lld groups, n %lld) and"
			" psql (%lld groups, n %lld) differ\n", ra, na, rb, nb);
		return -1;
	}
	printf("  both: %lld groups, %lld measurements counted\n", ra, na);
	return 0;
}

int main(int argc, char **argv)
{
	long long n_big = argc > 1 ? atoll(argv[1]) : 10000000, total;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	char dir[600], small[700], big[700], script[700], cmd[3000];
	char uuid[80], sql[4000], stream_cmd[2000], psql_cmd[4000];
	double t_stream[16], t_psql[16], t_up[16], t_cp[16];
	pgu_server srv;
	pgs_stats st;
	kgd_err err = { 0 };
	double t0, t_sync, t_copy;
	long long rows;

	if (rounds < 1 || rounds > 15)
		rounds = 3;
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("bench-sync"));
	snprintf(small, sizeof(small), "%s/station-1m.db", dir);
	if (pgu_start(&srv, "bench-pg", 3600)) {
		fprintf(stderr, "bench_sync: no PostgreSQL server\n");
		return 1;
	}
	/* 1. upload */
	printf("generating 1,001,000 measurements (1,001 runs) with db.h ...\n");
	fflush(stdout);
	if (pgu_make_results(small, "bench-1", "BENCH-LOT", 910, 1000, 1))
		goto fail;
	/* The rows as CSV for \copy (the file's uuid as src: a first sync
	 * makes it known), then rounds of: empty tables, checkpoint, sync;
	 * empty tables, checkpoint, \copy - alternating, so both meet the
	 * same server state (a fresh server's first load also creates its
	 * WAL files); round 0 warms up, the median of the rest counts. */
	if (pgs_sync(small, srv.conninfo, NULL, &st, &err)) {
		fprintf(stderr, "bench_sync: %s\n", err.msg);
		goto fail;
	}
	rows = st.rows;
	snprintf(sql, sizeof(sql), "SELECT src FROM station LIMIT 1");
	pgu_text(&srv, sql, uuid, sizeof(uuid));
	snprintf(script, sizeof(script), "%s/copy.sql", dir);
	if (export_csv(small, dir, uuid, script))
		goto fail;
	snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 '%s' -f '%s'",
		 srv.conninfo, script);
	for (int i = 0; i <= rounds; i++) {
		if (pgu_exec(&srv, empty_all))
			goto fail;
		t0 = now();
		if (pgs_sync(small, srv.conninfo, NULL, &st, &err)) {
			fprintf(stderr, "bench_sync: %s\n", err.msg);
			goto fail;
		}
		t_up[i] = now() - t0;
		if (st.rows != rows || pgu_exec(&srv, empty_all))
			goto fail;
		t0 = now();
		if (sh(cmd))
			goto fail;
		t_cp[i] = now() - t0;
	}
	qsort(t_up + 1, (size_t)rounds, sizeof(double), cmp_double);
	qsort(t_cp + 1, (size_t)rounds, sizeof(double), cmp_double);
	t_sync = t_up[1 + rounds / 2];
	t_copy = t_cp[1 + rounds / 2];
	printf("upload of %lld rows (1,001,000 measurements), median of %d:\n"
	       "  station sync (pgs_sync)   %.2f s  %.0f rows/s\n"
	       "  psql \\copy from CSV       %.2f s  %.0f rows/s\n"
	       "  ratio sync/\\copy rate      %.2f (goal >= 0.7)\n",
	       rows, rounds, t_sync, rows / t_sync, t_copy, rows / t_copy,
	       t_copy / t_sync);
	fflush(stdout);
	/* Put the synced state back: the rows as sync sends them. */
	if (pgu_exec(&srv, empty_all) ||
	    pgs_sync(small, srv.conninfo, NULL, &st, &err))
		goto fail;

	/* 2. cross-station tests.csv */
	snprintf(cmd, sizeof(cmd), "'%s/bench_report' %lld '%s' > /dev/null",
		 KGD_BIN_DIR, n_big, dir);
	printf("generating %lld measurements with bench_report's generator ...\n",
	       n_big);
	fflush(stdout);
	if (sh(cmd))
		goto fail;
	snprintf(big, sizeof(big), "%s/results-%lld.db", dir, n_big);
	t0 = now();
	if (pgs_sync(big, srv.conninfo, NULL, &st, &err)) {
		fprintf(stderr, "bench_sync: %s\n", err.msg);
		goto fail;
	}
	printf("  synced %lld measurements in %.1f s (%.0f rows/s)\n",
	       st.measurements, now() - t0, st.rows / (now() - t0));
	fflush(stdout);
	unlink(big);   /* the disk it took is the server's now */
	if (pgu_exec(&srv, "VACUUM ANALYZE"))
		goto fail;
	total = pgu_q(&srv, "SELECT count(*) FROM measurement");
	/* `station report --from-db --only tests.csv` as an analyst runs it
	 * (the server picks the runs, the station streams and adds up)
	 * against psql running the same aggregate, alternating, the median
	 * of `rounds` each; the first of each warms the cache */
	snprintf(stream_cmd, sizeof(stream_cmd), "'%s/station' report -q"
		 " --from-db '%s' --only tests.csv --out '%s/stream'",
		 KGD_BIN_DIR, srv.conninfo, dir);
	snprintf(psql_cmd, sizeof(psql_cmd), "psql -X -q -v ON_ERROR_STOP=1"
		 " '%s' -c \"COPY (%s) TO STDOUT WITH CSV\" > '%s/psql.csv'",
		 srv.conninfo, same_aggregate, dir);
	for (int i = 0; i <= rounds; i++) {
		t0 = now();
		if (sh(stream_cmd))
			goto fail;
		t_stream[i] = now() - t0;
		t0 = now();
		if (sh(psql_cmd))
			goto fail;
		t_psql[i] = now() - t0;
	}
	/* the two agree on what they counted: groups and measurements */
	if (check_same(dir))
		goto fail;
	qsort(t_stream + 1, (size_t)rounds, sizeof(double), cmp_double);
	qsort(t_psql + 1, (size_t)rounds, sizeof(double), cmp_double);
	printf("cross-station tests.csv over %lld measurements in PostgreSQL"
	       " (2 station files), median of %d:\n"
	       "  station report --from-db --only tests.csv  %.2f s\n"
	       "  psql, the same aggregate on the server     %.2f s\n"
	       "  ratio report/psql                          %.2f (goal <= 1.5)\n",
	       total, rounds, t_stream[1 + rounds / 2], t_psql[1 + rounds / 2],
	       t_stream[1 + rounds / 2] / t_psql[1 + rounds / 2]);
	pgu_stop(&srv);
	tu_rmtree(dir);
	return 0;
fail:
	pgu_stop(&srv);
	tu_rmtree(dir);
	return 1;
}
