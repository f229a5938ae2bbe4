/*
 * tests/test_station.c - integration: the real `station` binary against the
 * real simulator, real plugin and real SQLite file, checked from outside.
 *
 * The demo's database is read back with the SQLite API and compared with
 * the sequence file itself (one row per sweep point per part) and with the
 * yield CSV, so a break in the plugin, the transport, the sequencer, the
 * database or the CSV path fails here.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "seq.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define DEMO_SEQ KGD_SOURCE_DIR "/sequences/spine-power.yaml"

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("station"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static long long query_ll(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(h));
		return -2;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* Sweep points per part: the product of every step's sweep sizes. */
static long long points_per_part(const char *seq_path)
{
	seq_sequence *s;
	long long total = 0;

	if (seq_load(seq_path, &s, NULL))
		return -1;
	const seq_step *groups[3] = {s->setup, s->main, s->cleanup};
	size_t counts[3] = {s->n_setup, s->n_main, s->n_cleanup};
	for (int g = 0; g < 3; g++)
		for (size_t i = 0; i < counts[g]; i++) {
			long long n = 1;

			for (size_t k = 0; k < groups[g][i].n_sweep; k++)
				n *= (long long)groups[g][i].sweep[k].n_values;
			total += n;
		}
	seq_free(s);
	return total;
}

static void test_help(void)
{
	const char *cmds[] = {"run", "check", "report", "plugins", "scan", "demo"};
	char *argv[] = {STATION, "--help", NULL};

	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), NULL, 0, 10), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: station"));
	for (size_t i = 0; i < 6; i++) {
		char *a[] = {STATION, (char *)cmds[i], "--help", NULL};

		CU_ASSERT_EQUAL(tu_run(a, out, sizeof(out), NULL, 0, 10), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: station"));
	}
	{
		char *a[] = {STATION, "frobnicate", NULL};

		CU_ASSERT_EQUAL(tu_run(a, NULL, 0, errbuf, sizeof(errbuf), 10), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "unknown command 'frobnicate'"));
	}
}

static void test_plugins_lists_n774x(void)
{
	char *argv[] = {STATION, "plugins", NULL};

	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 10), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "keysight-n774x"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "power-meter"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "1.4"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "read_power"));
}

/* The whole demo, then every row checked against the sequence. */
static void test_demo_end_to_end(void)
{
	char demo[600], db_path[700], csv_path[700], tests_path[700];
	char *argv[] = {STATION, "demo", "--product", "elsfp", "--sequence",
			DEMO_SEQ, "--out", demo, "--units", "6", "--seed", "7", NULL};
	long long per_part = points_per_part(DEMO_SEQ);
	long long passed, tested;
	sqlite3 *h;
	char *csv;
	char expect[256];

	snprintf(demo, sizeof(demo), "%s/demo", dir);
	snprintf(db_path, sizeof(db_path), "%s/results.db", demo);
	snprintf(csv_path, sizeof(csv_path), "%s/yield.csv", demo);
	snprintf(tests_path, sizeof(tests_path), "%s/tests.csv", demo);
	CU_ASSERT_TRUE_FATAL(per_part > 0);

	CU_ASSERT_EQUAL_FATAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 90), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, demo));

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	tested = query_ll(h, "SELECT count(*) FROM run");
	CU_ASSERT_EQUAL(tested, 6);
	/* One row per sweep point per part, each with its limits and unit. */
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM measurement"), 6 * per_part);
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM run r WHERE "
		"(SELECT count(*) FROM measurement m WHERE m.run_id = r.id) != "
		"(SELECT count(*) FROM measurement) / 6"), 0);
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM measurement WHERE "
		"unit IS NULL OR low IS NULL OR high IS NULL OR coords IS NULL"), 0);
	/* Each stored pass flag agrees with its value and limits. */
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM measurement WHERE "
		"pass != (value IS NOT NULL AND value >= low AND value <= high)"), 0);
	/* A part passes exactly when all its measurements pass. */
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM run r WHERE "
		"(r.status = 'pass') != NOT EXISTS (SELECT 1 FROM measurement m "
		"WHERE m.run_id = r.id AND m.pass = 0)"), 0);
	/* Failed parts carry the sequence's failure bin, passing parts bin 1. */
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM run WHERE "
		"(status = 'pass' AND soft_bin != 1) OR (status = 'fail' AND soft_bin != 5)"), 0);
	CU_ASSERT_EQUAL(query_ll(h, "SELECT count(*) FROM run WHERE status = 'error'"), 0);
	passed = query_ll(h, "SELECT count(*) FROM run WHERE status = 'pass'");
	sqlite3_close(h);

	/* The yield CSV says what the database says. */
	csv = tu_slurp(csv_path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	snprintf(expect, sizeof(expect), "DEMO7,6,%lld,%lld,", passed, 6 - passed);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "lot,tested,passed,failed,yield_pct"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, expect));
	free(csv);
	csv = tu_slurp(tests_path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "port_power"));
	free(csv);
}

/* ---- a simulator the test starts itself ---------------------------------- */

typedef struct sim {
	tu_vstation vs;
	char uri[160];
} sim;

static int sim_start(sim *sm, const char *tag, const char *extra1,
		     const char *extra2)
{
	const char *args[6] = {"--units", "200", extra1, extra2, NULL};

	(void)tag;
	if (tu_vstation_start(dir, args, &sm->vs) != 0 || !tu_vstation_uri(&sm->vs, "pm"))
		return -1;
	snprintf(sm->uri, sizeof(sm->uri), "%s", tu_vstation_uri(&sm->vs, "pm"));
	return 0;
}

static void sim_stop(sim *sm)
{
	tu_vstation_stop(&sm->vs);
}

/* A station config with one pm role. */
static void write_config(const char *path, const char *driver, const char *uri,
			 int timeout_ms)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "station: test-cell\n"
		 "instruments:\n"
		 "  pm: {driver: %s, uri: \"%s\", timeout_ms: %d}\n",
		 driver, uri, timeout_ms);
	write_file(path, text);
}

/* ---- bad input: one clear line, non-zero exit, no database ---------------- */

static void expect_run_error(const char *seq_path, const char *cfg_path,
			     const char *db_path, const char *needle)
{
	char *argv[] = {STATION, "run", (char *)seq_path, "--config",
			(char *)cfg_path, "--db", (char *)db_path, "--lot", "L1",
			"--units", "2", NULL};

	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30), 1);
	if (!strstr(errbuf, needle))
		fprintf(stderr, "\n  expected '%s' in: %s\n", needle, errbuf);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, needle));
	CU_ASSERT_FALSE(file_exists(db_path));
}

static void test_bad_input(void)
{
	char cfg[700], bad_cfg[700], seq[700], db[700], missing[700];
	sim sm = {0};

	snprintf(cfg, sizeof(cfg), "%s/bad-input-station.yaml", dir);
	snprintf(bad_cfg, sizeof(bad_cfg), "%s/bad-driver-station.yaml", dir);
	snprintf(seq, sizeof(seq), "%s/malformed.yaml", dir);
	snprintf(db, sizeof(db), "%s/never.db", dir);
	snprintf(missing, sizeof(missing), "%s/no-such-sequence.yaml", dir);

	CU_ASSERT_EQUAL_FATAL(sim_start(&sm, "badinput", NULL, NULL), 0);
	write_config(cfg, "keysight-n774x", sm.uri, 1000);

	/* Missing sequence file: named. */
	expect_run_error(missing, cfg, db, "no-such-sequence.yaml");
	/* Malformed YAML: file:line:column. */
	write_file(seq, "sequence: x\nversion: 1\nmain:\n  - step: pm.optical_power\n"
			"    limits: {low: -3, high: 3]\n");
	{
		char needle[800];

		snprintf(needle, sizeof(needle), "%s:5:30: ", seq);
		expect_run_error(seq, cfg, db, needle);
	}
	/* Unknown plugin: named, with where it was looked for. */
	write_config(bad_cfg, "no-such-driver", sm.uri, 1000);
	expect_run_error(DEMO_SEQ, bad_cfg, db, "unknown driver 'no-such-driver'");
	/* Unreachable instrument: the URI is named. */
	write_config(bad_cfg, "keysight-n774x", "tcp://127.0.0.1:1", 1000);
	expect_run_error(DEMO_SEQ, bad_cfg, db, "tcp://127.0.0.1:1");
	sim_stop(&sm);
}

static void test_check(void)
{
	char seq[700];
	char *good[] = {STATION, "check", DEMO_SEQ, NULL};
	char *bad[] = {STATION, "check", seq, NULL};

	CU_ASSERT_EQUAL(tu_run(good, out, sizeof(out), errbuf, sizeof(errbuf), 10), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "ok"));
	snprintf(seq, sizeof(seq), "%s/check-bad.yaml", dir);
	write_file(seq, "sequence: x\nversion: 1\nmain:\n  - step: pm.optical_power\n"
			"    limits: {low: 3, high: -3, unit: dBm}\n");
	CU_ASSERT_EQUAL(tu_run(bad, out, sizeof(out), errbuf, sizeof(errbuf), 10), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "check-bad.yaml:5:"));
}

/* ---- faults and aborts ---------------------------------------------------- */

static long long db_count(const char *db_path, const char *sql)
{
	sqlite3 *h;
	long long v;

	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -3;
	v = query_ll(h, sql);
	sqlite3_close(h);
	return v;
}

/* The instrument goes silent mid-lot: the part in flight and every part
 * after it get the error bin with the URI in the reason, never a pass, and
 * the lot still finishes with every part accounted for. */
static void test_instrument_timeout_is_error_bin(void)
{
	char cfg[700], db[700];
	char *argv[] = {STATION, "run", DEMO_SEQ, "--config", cfg, "--db", db,
			"--lot", "FAULT", "--units", "3", "--quiet", NULL};
	sim sm = {0};

	snprintf(cfg, sizeof(cfg), "%s/fault-station.yaml", dir);
	snprintf(db, sizeof(db), "%s/fault.db", dir);
	/* Opening the driver and the first part take about 40 commands, a
	 * later part about 6 (all ports read at once per wavelength, the
	 * averaging time set once): silence after 43 falls inside the second
	 * part. */
	CU_ASSERT_EQUAL_FATAL(sim_start(&sm, "fault", "--fault-no-reply-after", "43"), 0);
	write_config(cfg, "keysight-n774x", sm.uri, 300);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	sim_stop(&sm);
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run"), 3);
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run WHERE status = 'error'"), 2);
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run WHERE status = 'error' "
				     "AND soft_bin = 99 AND hard_bin = 99 AND "
				     "fail_reason LIKE '%tcp://127.0.0.1:%'"), 2);
	/* The first part, tested before the fault, is not an error. */
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run WHERE id = "
				     "(SELECT min(id) FROM run) AND status != 'error'"), 1);
	/* The errored parts hold the measurement that failed, without a value. */
	CU_ASSERT_TRUE(db_count(db, "SELECT count(*) FROM measurement m JOIN run r "
				    "ON m.run_id = r.id WHERE r.status = 'error' "
				    "AND m.value IS NULL AND m.pass = 0") >= 2);
}

/* SIGINT mid-lot: exit 130, every committed part complete, the part in
 * flight absent. */
static void test_sigint_leaves_no_partial_part(void)
{
	char cfg[700], db[700];
	char *argv[] = {STATION, "run", DEMO_SEQ, "--config", cfg, "--db", db,
			"--lot", "ABORT", "--units", "200", "--quiet", NULL};
	long long per_part = points_per_part(DEMO_SEQ);
	sim sm = {0};
	pid_t pid;
	int status = 0;
	long long runs = 0;

	snprintf(cfg, sizeof(cfg), "%s/abort-station.yaml", dir);
	snprintf(db, sizeof(db), "%s/abort.db", dir);
	CU_ASSERT_EQUAL_FATAL(sim_start(&sm, "abort", "--latency-ms", "2"), 0);
	write_config(cfg, "keysight-n774x", sm.uri, 2000);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", 1);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(STATION, argv);
		_exit(127);
	}
	/* Wait for two committed parts, then interrupt. */
	for (int i = 0; i < 1500 && runs < 2; i++) {
		usleep(20000);
		if (file_exists(db))
			runs = db_count(db, "SELECT count(*) FROM run");
	}
	CU_ASSERT_TRUE(runs >= 2);
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	sim_stop(&sm);
	CU_ASSERT_TRUE(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 130);
	runs = db_count(db, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= 2 && runs < 200);
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM measurement"), runs * per_part);
}

/* ---- the flagship flow: TeraPHY wafer sort against the model's truth ------ */

#define TERAPHY_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"
#define TERAPHY_LIM KGD_SOURCE_DIR "/sequences/limits/teraphy-16x16-a0.yaml"

/* The same model arguments for the running simulator and for --ground-truth. */
#define WAFER_MODEL "--product", "teraphy", "--lot", "GT1", "--seed", "11", \
	"--wafers", "2", "--die", "40x40"

typedef struct truth_die {
	char wafer[32];
	int x, y, bin;
} truth_die;

/* Parse `kgd-vstation --ground-truth` CSV: columns by header name. */
static int read_truth(truth_die *dies, int max)
{
	char *argv[] = {TU_VSTATION_BIN, WAFER_MODEL, "--ground-truth", NULL};
	static char csv[1 << 20];
	int col_w = -1, col_x = -1, col_y = -1, col_b = -1, n = 0;
	char *line, *save = NULL;

	if (tu_run(argv, csv, sizeof(csv), errbuf, sizeof(errbuf), 30) != 0)
		return -1;
	line = strtok_r(csv, "\n", &save);
	if (!line)
		return -1;
	{
		char *f, *s2 = NULL;
		int i = 0;

		for (f = strtok_r(line, ",", &s2); f; f = strtok_r(NULL, ",", &s2), i++) {
			if (!strcmp(f, "wafer")) col_w = i;
			if (!strcmp(f, "col")) col_x = i;
			if (!strcmp(f, "row")) col_y = i;
			if (!strcmp(f, "expected_bin")) col_b = i;
		}
	}
	if (col_w < 0 || col_x < 0 || col_y < 0 || col_b < 0)
		return -1;
	while ((line = strtok_r(NULL, "\n", &save)) && n < max) {
		char *f, *s2 = NULL;
		int i = 0;

		for (f = strtok_r(line, ",", &s2); f; f = strtok_r(NULL, ",", &s2), i++) {
			if (i == col_w) snprintf(dies[n].wafer, sizeof(dies[n].wafer), "%s", f);
			if (i == col_x) dies[n].x = atoi(f);
			if (i == col_y) dies[n].y = atoi(f);
			if (i == col_b) dies[n].bin = atoi(f);
		}
		n++;
	}
	return n;
}

/* Compare every die's soft bin in db with the truth; returns mismatches. */
static int compare_truth(const char *db_path, const truth_die *t, int n,
			 long long *passed)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int bad = 0;

	*passed = 0;
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(h, "SELECT r.soft_bin, r.status FROM run r JOIN part p "
			       "ON r.part_id = p.id JOIN wafer w ON p.wafer_id = w.id "
			       "WHERE w.name = ?1 AND p.die_x = ?2 AND p.die_y = ?3",
			       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int rows = 0, bin = -1;

		sqlite3_bind_text(st, 1, t[i].wafer, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, t[i].x);
		sqlite3_bind_int(st, 3, t[i].y);
		while (sqlite3_step(st) == SQLITE_ROW) {
			rows++;
			bin = sqlite3_column_int(st, 0);
		}
		sqlite3_reset(st);
		if (rows != 1 || bin != t[i].bin) {
			if (bad < 10)
				fprintf(stderr, "\n  %s (%d,%d): %d runs, bin %d, truth %d",
					t[i].wafer, t[i].x, t[i].y, rows, bin, t[i].bin);
			bad++;
		}
		if (rows == 1 && bin == 1)
			(*passed)++;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return bad;
}

static void test_wafer_lot_equals_ground_truth(void)
{
	static truth_die truth[4096];
	const char *args[] = {WAFER_MODEL, "--time-scale", "0.0002", NULL};
	char db[700], cfg[700];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--limits", TERAPHY_LIM,
			"--config", cfg, "--db", db, "--lot", "GT1", "--wafers", "2",
			"--quiet", NULL};
	tu_vstation vs;
	int n = read_truth(truth, 4096), truth_pass = 0;
	long long passed = -1;
	char want[128];

	CU_ASSERT_TRUE_FATAL(n > 10);
	for (int i = 0; i < n; i++)
		truth_pass += truth[i].bin == 1;
	/* The model must exercise both failure bins for this to mean much. */
	snprintf(db, sizeof(db), "%s/truth.db", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	snprintf(cfg, sizeof(cfg), "%s", vs.config);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 240), 0);
	tu_vstation_stop(&vs);
	if (errbuf[0])
		fprintf(stderr, "\n%s", errbuf);
	/* Every die of the truth tested exactly once, with the truth's bin. */
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run"), n);
	CU_ASSERT_EQUAL(compare_truth(db, truth, n, &passed), 0);
	CU_ASSERT_EQUAL(passed, truth_pass);
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run WHERE status = 'error'"), 0);
	/* Hard bins follow the sequence's table; yield in the summary line. */
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run WHERE "
				     "(soft_bin = 1 AND hard_bin != 1) OR (soft_bin = 5 AND hard_bin != 2) "
				     "OR (soft_bin = 7 AND hard_bin != 3)"), 0);
	snprintf(want, sizeof(want), "%d tested, %d passed", n, truth_pass);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM session WHERE status = 'complete' "
				     "AND limits_id IS NOT NULL"), 1);
	/* Every die's power grid logged with its coordinates. */
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM measurement WHERE step = 'port_power' "
				     "AND coords IS NULL"), 0);
}

/* SIGINT mid-wafer, then --resume: exit 130, session aborted, and after
 * the resume every die of the lot tested exactly once, bins = truth. */
static void test_wafer_abort_then_resume(void)
{
	static truth_die truth[4096];
	const char *args[] = {WAFER_MODEL, "--time-scale", "0.0002", NULL};
	char db[700], cfg[700];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db,
			"--lot", "GT1", "--wafers", "2", "--quiet", NULL, NULL};
	tu_vstation vs;
	int n = read_truth(truth, 4096), status = 0;
	long long runs = 0, passed;
	pid_t pid;

	CU_ASSERT_TRUE_FATAL(n > 10);
	snprintf(db, sizeof(db), "%s/resume.db", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	snprintf(cfg, sizeof(cfg), "%s", vs.config);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(STATION, argv);
		_exit(127);
	}
	for (int i = 0; i < 3000 && runs < 5; i++) {
		usleep(10000);
		if (file_exists(db))
			runs = db_count(db, "SELECT count(*) FROM run");
	}
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130);
	runs = db_count(db, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= 5 && runs < n);
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM session WHERE status = 'aborted'"), 1);
	/* No partial die: every run has its full step results. */
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run r WHERE NOT EXISTS "
				     "(SELECT 1 FROM step_result s WHERE s.run_id = r.id)"), 0);

	argv[12] = "--resume";
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 240), 0);
	tu_vstation_stop(&vs);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "already tested"));
	CU_ASSERT_EQUAL(db_count(db, "SELECT count(*) FROM run"), n);
	CU_ASSERT_EQUAL(compare_truth(db, truth, n, &passed), 0);
	CU_ASSERT_EQUAL(db_count(db, "SELECT max(retest) FROM run"), 0);
}

/* station check: every problem of sequence, limits file and config fit. */
static void test_check_reports_everything(void)
{
	char seq[700], lim[700], cfg[700], want[1024];
	char *argv[] = {STATION, "check", seq, "--limits", lim, "--config", cfg, NULL};
	static const char *const wants[] = {
		"%s:6:5: unknown operation 'pm.frobnicate'",
		"%s:8:13: operation 'optical_power' has no sweep variable 'lane'",
		"%s:10:5: role 'laser' is not in roles",
		"%s:4:13: role 'bert' is not configured in station config",
	};

	snprintf(seq, sizeof(seq), "%s/check-all.yaml", dir);
	snprintf(lim, sizeof(lim), "%s/check-all-limits.yaml", dir);
	snprintf(cfg, sizeof(cfg), "%s/check-all-station.yaml", dir);
	write_file(seq, "sequence: x\n"
			"version: 1\n"
			"process: unit\n"
			"roles: [pm, bert]\n"
			"main:\n"
			"  - step: pm.frobnicate\n"
			"  - step: pm.optical_power\n"
			"    sweep: {lane: 1..2}\n"
			"    name: p\n"
			"  - step: laser.read\n");
	write_file(lim, "limits: v\nsteps:\n  nosuch: {low: 1}\n");
	write_config(cfg, "keysight-n774x", "tcp://127.0.0.1:1", 100);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 10), 1);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		snprintf(want, sizeof(want), wants[i], seq);
		if (!strstr(errbuf, want))
			fprintf(stderr, "\n  missing '%s' in:\n%s", want, errbuf);
		CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, want));
	}
	snprintf(want, sizeof(want), "%s:3:3: the sequence has no step 'nosuch'", lim);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, want));
	/* The examples pass with their limits files. */
	{
		char *ok[] = {STATION, "check", TERAPHY_SEQ, "--limits", TERAPHY_LIM, NULL};

		CU_ASSERT_EQUAL(tu_run(ok, out, sizeof(out), errbuf, sizeof(errbuf), 10), 0);
	}
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("station", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "help on every subcommand", test_help);
	CU_add_test(s, "plugins lists the N774x driver", test_plugins_lists_n774x);
	CU_add_test(s, "demo end to end, rows match the sequence", test_demo_end_to_end);
	CU_add_test(s, "bad input: clear error, no database", test_bad_input);
	CU_add_test(s, "check validates sequences", test_check);
	CU_add_test(s, "instrument timeout gives the error bin", test_instrument_timeout_is_error_bin);
	CU_add_test(s, "SIGINT leaves no partial part", test_sigint_leaves_no_partial_part);
	CU_add_test(s, "check reports every problem", test_check_reports_everything);
	CU_add_test(s, "wafer lot bins and yield equal the ground truth",
		    test_wafer_lot_equals_ground_truth);
	CU_add_test(s, "wafer abort, then resume: every die once", test_wafer_abort_then_resume);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
