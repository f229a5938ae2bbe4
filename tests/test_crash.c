/*
 * tests/test_crash.c - the result store survives what happens to a real
 * station: kill -9 of `station run` at random moments, and a results file
 * that cannot grow (file-size limit, as on a full disk).
 *
 * Everything is checked from outside through SQLite, as an analyst would
 * read the file: integrity_check, every run whole (full measurement count,
 * a final status and end time), nothing of the part in flight, and the dead
 * station's session marked 'interrupted' by the next db_session_begin().
 * When the station has `run --resume`, the lot is resumed and every part
 * must then be tested exactly once.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "seq.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define DEMO_SEQ KGD_SOURCE_DIR "/sequences/spine-power.yaml"
#define CRASH_UNITS 12
#define N_SEEDS 8

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("crash"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* The first column of the first row of sql on a fresh read connection;
 * -1 if there is no row, -2 on error (said on stderr unless quiet: while
 * the station is still creating the file, errors are expected). */
static long long q_ll_q(const char *path, const char *sql, int quiet)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -2;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);

		v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	}
	if (v == -2 && !quiet)
		fprintf(stderr, "q_ll(%s): %s\n", sql, sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static long long q_ll(const char *path, const char *sql)
{
	return q_ll_q(path, sql, 0);
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Sweep points per part: what a complete run of DEMO_SEQ logs. */
static long long points_per_part(void)
{
	seq_sequence *s;
	long long total = 0;

	if (seq_load(DEMO_SEQ, &s, NULL))
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

static void write_config(const char *path, const char *uri)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "station: crash-cell\ninstruments:\n"
		"  pm: {driver: keysight-n774x, uri: \"%s\", timeout_ms: 2000}\n",
		uri);
	fclose(f);
}

/* What db/ guarantees about any file a station left behind, however it
 * ended: an intact file, and every run in it whole. */
static void check_whole(const char *db_path, long long per_part)
{
	char sql[512];

	CU_ASSERT_EQUAL(q_ll(db_path, "SELECT count(*) FROM pragma_integrity_check"
			     " WHERE integrity_check = 'ok'"), 1);
	CU_ASSERT_EQUAL(q_ll(db_path, "SELECT count(*) FROM"
			     " pragma_foreign_key_check"), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run r WHERE"
		 " (SELECT count(*) FROM measurement m WHERE m.run_id = r.id)"
		 " != %lld", per_part);
	CU_ASSERT_EQUAL(q_ll(db_path, sql), 0);
	CU_ASSERT_EQUAL(q_ll(db_path, "SELECT count(*) FROM run WHERE"
			     " status NOT IN ('pass', 'fail', 'error')"
			     " OR ended_at IS NULL"), 0);
	/* measurement numbering has no gap: no row of a run went missing */
	CU_ASSERT_EQUAL(q_ll(db_path, "SELECT count(*) FROM run r WHERE"
			     " (SELECT max(seq_no) FROM measurement m WHERE"
			     " m.run_id = r.id) != (SELECT count(*) FROM"
			     " measurement m WHERE m.run_id = r.id)"), 0);
}

static int station_has_resume(void)
{
	char *argv[] = {STATION, "run", "--help", NULL};

	out[0] = '\0';
	tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 10);
	return strstr(out, "--resume") != NULL || strstr(errbuf, "--resume") != NULL;
}

static pid_t spawn_station(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(STATION, argv);
		_exit(127);
	}
	return pid;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One seed: let the station commit a random number of parts, kill -9 it at
 * a random moment inside the next part (or the commit), then check. */
static void crash_once(unsigned seed, const char *uri, long long per_part,
		       int resume)
{
	char cfg[700], db_path[700], lot[32], units[16], sql[256];
	char *argv[] = {STATION, "run", DEMO_SEQ, "--config", cfg, "--db",
			db_path, "--lot", lot, "--units", units, "--quiet",
			NULL, NULL};
	long long runs = 0, running, target;
	double t_first = 0, part_s;
	int status = 0, dead = -1;
	kgd_err err = {0};
	int64_t sid = 0;
	pid_t pid;
	db *d = NULL;

	srand(seed);
	snprintf(cfg, sizeof(cfg), "%s/crash-%u.yaml", dir, seed);
	snprintf(db_path, sizeof(db_path), "%s/crash-%u.db", dir, seed);
	snprintf(lot, sizeof(lot), "CRASH%u", seed);
	snprintf(units, sizeof(units), "%d", CRASH_UNITS);
	write_config(cfg, uri);
	target = 1 + rand() % 4;

	pid = spawn_station(argv);
	CU_ASSERT_TRUE_FATAL(pid > 0);
	/* Wait for `target` committed parts, timing one part on the way. */
	for (int i = 0; i < 3000 && runs < target; i++) {
		usleep(2000);
		if (file_exists(db_path))
			runs = q_ll_q(db_path, "SELECT count(*) FROM run", 1);
		if (runs >= 1 && t_first == 0)
			t_first = now_s();
	}
	CU_ASSERT_TRUE(runs >= target);
	part_s = runs > 1 ? (now_s() - t_first) / (double)(runs - 1) : 0.05;
	/* Anywhere in the next part, its commit included. */
	usleep((useconds_t)(part_s * 1e6 * (rand() % 1000) / 1000.0));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	runs = q_ll(db_path, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= target && runs < CRASH_UNITS);
	check_whole(db_path, per_part);

	/* The dead station's session is still 'running'; the next session
	 * marks it 'interrupted'. */
	running = q_ll(db_path, "SELECT count(*) FROM session WHERE"
		       " status = 'running'");
	CU_ASSERT_EQUAL(running, 1);
	CU_ASSERT_EQUAL_FATAL(db_open(db_path, &d, &err), KGD_OK);
	{
		db_session_info si = {
			.station = "crash-check", .lot = lot, .process = "unit",
			.seq_name = "crash-check", .seq_version = 1,
			.seq_sha256 = "crash-check",
		};

		CU_ASSERT_EQUAL(db_session_begin(d, &si, &sid, &dead, &err), KGD_OK);
		CU_ASSERT_EQUAL(dead, running);
		CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_COMPLETE, &err),
				KGD_OK);
	}
	db_close(d);
	CU_ASSERT_EQUAL(q_ll(db_path, "SELECT count(*) FROM session WHERE"
			     " status = 'running'"), 0);
	CU_ASSERT_EQUAL(q_ll(db_path, "SELECT count(*) FROM session WHERE"
			     " status = 'interrupted' AND ended_at IS NOT NULL"),
			running);
	check_whole(db_path, per_part);

	if (!resume)
		return;
	/* The resume completes the lot: every part exactly once. */
	argv[12] = "--resume";
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 120),
			0);
	check_whole(db_path, per_part);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run r JOIN part p ON"
		 " p.id = r.part_id JOIN lot l ON l.id = p.lot_id WHERE"
		 " l.name = '%s'", lot);
	CU_ASSERT_EQUAL(q_ll(db_path, sql), CRASH_UNITS);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT p.serial) FROM run r"
		 " JOIN part p ON p.id = r.part_id JOIN lot l ON l.id = p.lot_id"
		 " WHERE l.name = '%s' AND r.retest = 0", lot);
	CU_ASSERT_EQUAL(q_ll(db_path, sql), CRASH_UNITS);
}

static void test_kill9_random_points(void)
{
	const char *const sim_args[] = {"--latency-ms", "1", NULL};
	long long per_part = points_per_part();
	int resume = station_has_resume();
	tu_vstation vs = {0};
	const char *uri;

	CU_ASSERT_TRUE_FATAL(per_part > 0);
	if (!resume)
		fprintf(stderr, "\n  (station run has no --resume yet: checking "
			"what db/ guarantees, without resuming) ");
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	uri = tu_vstation_uri(&vs, "pm");
	CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
	for (unsigned seed = 1; seed <= N_SEEDS; seed++)
		crash_once(seed * 7919u, uri, per_part, resume);
	tu_vstation_stop(&vs);
}

/* The results file cannot grow past a limit (as on a full disk): the
 * station stops the lot with one clear line naming the file, and the
 * parts committed before stay whole. */
static void test_file_size_limit(void)
{
	char cfg[700], db_path[700], err_path[700];
	char *argv[] = {STATION, "run", DEMO_SEQ, "--config", cfg, "--db",
			db_path, "--lot", "FULL", "--units", "5000", "--quiet",
			NULL};
	const char *const sim_args[] = {NULL};
	long long per_part = points_per_part();
	tu_vstation vs = {0};
	int status = 0;
	char *msg;
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/full.yaml", dir);
	snprintf(db_path, sizeof(db_path), "%s/full.db", dir);
	snprintf(err_path, sizeof(err_path), "%s/full.stderr", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	write_config(cfg, tu_vstation_uri(&vs, "pm"));

	pid = fork();
	CU_ASSERT_TRUE_FATAL(pid >= 0);
	if (pid == 0) {
		/* 512 KiB: the WAL (the new file's schema, the session, then
		 * about nine pages a part) reaches it after a few parts; at
		 * schema 5 a 256 KiB limit came before the first. stderr is
		 * opened before the limit, and is a few hundred bytes. */
		struct rlimit rl = { 512 * 1024, 512 * 1024 };
		int devnull = open("/dev/null", O_WRONLY);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(devnull, 1);
		dup2(e, 2);
		signal(SIGXFSZ, SIG_IGN);  /* survives exec: a write fails instead */
		setrlimit(RLIMIT_FSIZE, &rl);
		execv(STATION, argv);
		_exit(127);
	}
	for (int i = 0; i < 1200 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CU_FAIL("station did not stop at the file-size limit");
	}
	tu_vstation_stop(&vs);

	CU_ASSERT_TRUE(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 1);
	msg = tu_slurp(err_path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	if (!strstr(msg, db_path) || !strstr(msg, "File too large"))
		fprintf(stderr, "\n  station said: %s\n", msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, db_path));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "File too large"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "run "));
	free(msg);
	CU_ASSERT_TRUE(q_ll(db_path, "SELECT count(*) FROM run") >= 1);
	CU_ASSERT_TRUE(q_ll(db_path, "SELECT count(*) FROM run") < 5000);
	check_whole(db_path, per_part);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("crash", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "kill -9 at random points: no partial part",
		    test_kill9_random_points);
	CU_add_test(s, "file-size limit: clear stop, committed parts whole",
		    test_file_size_limit);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
