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
 *     `station report --from-db`'s way (pgs_pull into a scratch file, then
 *     rpt_write tests.csv) vs psql running the same aggregate on the
 *     server. Goal: <= 1.5 x.
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

int main(int argc, char **argv)
{
	long long n_big = argc > 1 ? atoll(argv[1]) : 10000000;
	char dir[600], small[700], big[700], script[700], cmd[3000], pulled[700];
	char uuid[80], sql[4000];
	pgu_server srv;
	pgs_stats st;
	kgd_err err = { 0 };
	double t0, t_sync, t_copy, t_pull, t_rpt, t_psql;
	long long rows;

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
	t0 = now();
	if (pgs_sync(small, srv.conninfo, NULL, &st, &err)) {
		fprintf(stderr, "bench_sync: %s\n", err.msg);
		goto fail;
	}
	t_sync = now() - t0;
	rows = st.rows;
	snprintf(sql, sizeof(sql), "SELECT src FROM station LIMIT 1");
	pgu_text(&srv, sql, uuid, sizeof(uuid));
	snprintf(script, sizeof(script), "%s/copy.sql", dir);
	if (export_csv(small, dir, uuid, script))
		goto fail;
	if (pgu_exec(&srv, "TRUNCATE station, operator, sequence, limits_set, lot,"
		     " wafer, part, session, bin, hard_bin, session_instrument,"
		     " run, step_result, measurement, session_end, sync_batch;"
		     " CHECKPOINT"))
		goto fail;
	snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 '%s' -f '%s'",
		 srv.conninfo, script);
	t0 = now();
	if (sh(cmd))
		goto fail;
	t_copy = now() - t0;
	printf("upload of %lld rows (1,001,000 measurements):\n"
	       "  station sync (pgs_sync)   %.2f s  %.0f rows/s\n"
	       "  psql \\copy from CSV       %.2f s  %.0f rows/s\n"
	       "  ratio sync/\\copy rate      %.2f (goal >= 0.7)\n",
	       rows, t_sync, rows / t_sync, t_copy, rows / t_copy, t_copy / t_sync);
	fflush(stdout);
	/* Put the synced state back: the rows as sync sends them. */
	if (pgu_exec(&srv, "TRUNCATE station, operator, sequence, limits_set, lot,"
		     " wafer, part, session, bin, hard_bin, session_instrument,"
		     " run, step_result, measurement, session_end, sync_batch") ||
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
	pgu_exec(&srv, "VACUUM ANALYZE");
	snprintf(pulled, sizeof(pulled), "%s/pulled.db", dir);
	t0 = now();
	if (pgs_pull(srv.conninfo, pulled, NULL, &st, &err)) {
		fprintf(stderr, "bench_sync: %s\n", err.msg);
		goto fail;
	}
	t_pull = now() - t0;
	if (rpt_write(pulled, dir, NULL, RPT_TESTS, NULL, &err)) {
		fprintf(stderr, "bench_sync: %s\n", err.msg);
		goto fail;
	}
	t_rpt = now() - t0;
	/* The same aggregate as tests.csv, on the server: each part's
	 * latest run (per station file), grouped by step, unit and limits. */
	snprintf(cmd, sizeof(cmd), "psql -X -q '%s' -c \"COPY (SELECT m.step,"
		 " m.unit, m.low, m.high, count(*), sum(m.pass), count(*) -"
		 " count(m.value), avg(m.value), sum(m.value * m.value),"
		 " min(m.value), max(m.value) FROM (SELECT src, max(id) AS run_id"
		 " FROM run GROUP BY src, part_id) f JOIN measurement m ON m.src ="
		 " f.src AND m.run_id = f.run_id GROUP BY 1, 2, 3, 4 ORDER BY 1, 2,"
		 " 3, 4) TO STDOUT WITH CSV\" > '%s/psql.csv'", srv.conninfo, dir);
	t0 = now();
	if (sh(cmd))
		goto fail;
	t_psql = now() - t0;
	printf("cross-station tests.csv over %lld measurements (2 station files):\n"
	       "  report --from-db: pull %.1f s + tests.csv %.1f s = %.1f s\n"
	       "  psql, the same aggregate on the server   %.1f s\n"
	       "  ratio report/psql                        %.1f (goal <= 1.5)\n",
	       st.measurements, t_pull, t_rpt - t_pull, t_rpt, t_psql,
	       t_rpt / t_psql);
	pgu_stop(&srv);
	tu_rmtree(dir);
	return 0;
fail:
	pgu_stop(&srv);
	tu_rmtree(dir);
	return 1;
}
