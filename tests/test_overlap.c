/*
 * tests/test_overlap.c - the commit overlap of wafer sort (station/
 * run_commit.c: die N committed on a thread while the prober steps to die
 * N+1) changes when rows are written, never which:
 *  - a wafer run with the overlap stores exactly the rows of a run without
 *    it (KGD_NO_OVERLAP=1) on an identical virtual station;
 *  - kill -9 during the overlap loses at most one die - a die the prober
 *    binned whose run is not in the database - and --resume then tests
 *    every die of the wafer exactly once.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kgd/scpi.h"
#include "kgd/xport.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define MODEL "--product", "teraphy", "--lot", "OV1", "--seed", "5", \
	"--wafers", "1", "--die", "25x25"
#define MAX_DIES 512

static char dir[512], seq[600];
static char out[65536], errbuf[65536];
static struct { int x, y; } route[MAX_DIES];
static int n_route;

static const char sequence[] =
	"sequence: overlap\nversion: 1\nproduct: TPHY-16x16\n"
	"process: wafer\nroles: [prober, pm]\nmain:\n"
	"  - step: pm.optical_power\n    name: port_power\n"
	"    sweep: {port: 1..4, wavelength_nm: [1301.00, 1309.96]}\n"
	"    limits: {low: -7.0, high: 5.0, unit: dBm}\n"
	"    on_fail: {bin: 5}\n"
	"bins:\n  1: {name: PASS, pass: true}\n  5: {name: OPTICAL_POWER}\n";

/* The wafer's dies (col,row) from the model's ground truth. */
static int read_route(void)
{
	char *argv[] = {TU_VSTATION_BIN, MODEL, "--ground-truth", NULL};
	static char csv[1 << 17];
	char *line;

	if (tu_run(argv, csv, sizeof(csv), NULL, 0, 30) != 0)
		return -1;
	n_route = 0;
	line = strchr(csv, '\n');
	while (line && *++line && n_route < MAX_DIES) {
		if (sscanf(line, "%*[^,],%*[^,],%*d,%d,%d", &route[n_route].x,
			   &route[n_route].y) == 2)
			n_route++;
		line = strchr(line, '\n');
	}
	return n_route > 10 ? 0 : -1;
}

static int suite_init(void)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("overlap"));
	snprintf(seq, sizeof(seq), "%s/overlap.yaml", dir);
	f = fopen(seq, "w");
	if (!f)
		return -1;
	fputs(sequence, f);
	fclose(f);
	return read_route();
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static long long db_count(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "\n%s: %s: %s\n", path, sql, sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* Rows of `b` not in `a`, by content: every run's die, verdict and bins,
 * every measurement's die, step, point, value and verdict. */
static long long rows_differing(const char *a, const char *b)
{
	static const char *const sql =
		"ATTACH '%s' AS o; SELECT"
		" (SELECT count(*) FROM (SELECT p.die_x, p.die_y, r.status, r.hard_bin,"
		"  r.soft_bin, r.fail_reason, r.retest FROM main.run r JOIN main.part p"
		"  ON p.id = r.part_id EXCEPT SELECT p.die_x, p.die_y, r.status,"
		"  r.hard_bin, r.soft_bin, r.fail_reason, r.retest FROM o.run r JOIN"
		"  o.part p ON p.id = r.part_id))"
		" + (SELECT count(*) FROM (SELECT p.die_x, p.die_y, m.seq_no, m.step,"
		"  m.coords, m.value, m.unit, m.pass FROM main.measurement m JOIN"
		"  main.run r ON r.id = m.run_id JOIN main.part p ON p.id = r.part_id"
		"  EXCEPT SELECT p.die_x, p.die_y, m.seq_no, m.step, m.coords, m.value,"
		"  m.unit, m.pass FROM o.measurement m JOIN o.run r ON r.id = m.run_id"
		"  JOIN o.part p ON p.id = r.part_id))";
	char text[2048];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	const char *tail;
	long long v = -1;

	snprintf(text, sizeof(text), sql, b);
	if (sqlite3_open(a, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, text, -1, &st, &tail) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE) {
		sqlite3_finalize(st);
		st = NULL;
		if (sqlite3_prepare_v2(h, tail, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	if (v < 0)
		fprintf(stderr, "\ncompare %s %s: %s\n", a, b, sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* One wafer on a fresh virtual station into db; overlap off if no_overlap. */
static int run_wafer(const char *db, int no_overlap)
{
	const char *args[] = {MODEL, "--time-scale", "0.0002", NULL};
	char *argv[] = {STATION, "run", seq, "--config", NULL, "--db", (char *)db,
			"--lot", "OV1", "--wafers", "1", "--quiet", NULL};
	tu_vstation vs;
	int rc;

	if (tu_vstation_start(dir, args, &vs))
		return -1;
	argv[4] = vs.config;
	if (no_overlap)
		setenv("KGD_NO_OVERLAP", "1", 1);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	unsetenv("KGD_NO_OVERLAP");
	tu_vstation_stop(&vs);
	if (rc)
		fprintf(stderr, "\nstation run: %s%s", out, errbuf);
	return rc;
}

static void test_same_rows(void)
{
	char with[700], without[700];

	snprintf(with, sizeof(with), "%s/with.db", dir);
	snprintf(without, sizeof(without), "%s/without.db", dir);
	CU_ASSERT_EQUAL_FATAL(run_wafer(with, 0), 0);
	CU_ASSERT_EQUAL_FATAL(run_wafer(without, 1), 0);
	CU_ASSERT_EQUAL(db_count(with, "SELECT count(*) FROM run"), n_route);
	CU_ASSERT_EQUAL(db_count(without, "SELECT count(*) FROM run"), n_route);
	CU_ASSERT_EQUAL(db_count(with, "SELECT count(*) FROM measurement"),
			8LL * n_route);
	CU_ASSERT_EQUAL(rows_differing(with, without), 0);
	CU_ASSERT_EQUAL(rows_differing(without, with), 0);
}

/* The prober's bin of die (x,y) of the loaded wafer, 0 = not binned. */
static int prober_bin(xport *x, int col, int row)
{
	char reply[128];
	const char *last;
	kgd_err err;

	if (scpi_query(x, reply, sizeof(reply), &err, "sim:get_bin %d,%d", col, row))
		return -1;
	last = strrchr(reply, ',');
	return last && last[1] ? atoi(last + 1) : 0;
}

static void test_kill9_loses_at_most_one_die(void)
{
	const char *args[] = {MODEL, "--time-scale", "0.02", NULL};
	char db[700], probe[800];
	char *argv[] = {STATION, "run", seq, "--config", NULL, "--db", db,
			"--lot", "OV1", "--wafers", "1", "--quiet", NULL, NULL};
	tu_vstation vs;
	xport *x = NULL;
	kgd_err err;
	long long runs = 0, lost = 0;
	pid_t pid;

	for (int trial = 0; trial < 3; trial++) {
		snprintf(db, sizeof(db), "%s/kill%d.db", dir, trial);
		CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
		argv[4] = vs.config;
		argv[12] = NULL;
		pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);

			dup2(devnull, 1);
			dup2(devnull, 2);
			execv(STATION, argv);
			_exit(127);
		}
		/* Somewhere in the wafer, a different die each trial. */
		runs = 0;
		for (int i = 0; i < 3000 && runs < 5 + 7 * trial; i++) {
			usleep(2000);
			if (access(db, R_OK) == 0)
				runs = db_count(db, "SELECT count(*) FROM run");
		}
		usleep(3000 * (unsigned)trial);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		runs = db_count(db, "SELECT count(*) FROM run");
		CU_ASSERT_TRUE(runs >= 5 && runs < n_route);
		/* Dies the prober binned that the database does not have. */
		lost = 0;
		kgd_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(xport_open(tu_vstation_uri(&vs, "prober"), 2000,
						 &x, &err), 0);
		for (int i = 0; i < n_route; i++) {
			int bin = prober_bin(x, route[i].x, route[i].y);

			CU_ASSERT_TRUE(bin >= 0);
			snprintf(probe, sizeof(probe), "SELECT count(*) FROM run r JOIN part p"
				 " ON p.id = r.part_id WHERE p.die_x = %d AND p.die_y = %d",
				 route[i].x, route[i].y);
			if (bin > 0 && db_count(db, probe) == 0)
				lost++;
		}
		xport_close(x);
		CU_ASSERT_TRUE(lost <= 1);
		/* Resume: every die exactly once. */
		argv[12] = "--resume";
		CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 120), 0);
		tu_vstation_stop(&vs);
		CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run"), n_route);
		CU_ASSERT_EQUAL(db_count(db, "SELECT count(DISTINCT part_id) FROM run"), n_route);
		CU_ASSERT_EQUAL(db_count(db, "SELECT max(retest) FROM run"), 0);
		CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run WHERE status"
					     " NOT IN ('pass', 'fail')"), 0);
		CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM measurement"),
				8LL * n_route);
	}
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("overlap", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "overlap stores the rows of a run without it", test_same_rows);
	CU_add_test(s, "kill -9 during the overlap loses at most one die; resume once",
		    test_kill9_loses_at_most_one_die);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
