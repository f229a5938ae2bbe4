/*
 * tests/test_signals.c - integration (issue 19, "Unsafe cell"): every
 * signal a factory floor sends a station - SIGHUP (terminal or ssh session
 * gone), SIGINT, SIGTERM, SIGQUIT, SIGPIPE (stdout closed), SIGXFSZ (file
 * size limit) - through the real `station run` against kgd-vstation.
 *
 * What each test holds the station to (docs/SEQUENCES.md, "Signals"): the
 * documented exit code (130 for an abort, 1 for the file-size stop), the
 * session marked ('aborted', or 'error' for the store), no rows of the
 * part in flight, and the ELSFP module's lasers off afterwards - read back
 * over the module's adapter (OutputDisableTx and Tx power registers), the
 * way an engineer checks a cell. The simulated module comes up lasing, so
 * a station that dies without its cleanup leaves them on and fails here.
 *
 * The part in flight is made certain, not left to timing: the power meter
 * stops answering mid-lot (--fault pm:no-reply) under a 60 s timeout, so
 * the station sits in a read with the lasers on when the signal comes, and
 * the abort must end that read within XPORT_ABORT_SLICE_MS-ish, not 60 s.
 *
 * Invariant: every simulator a test starts is stopped by that test, every
 * station it runs is killed if it outlives its bound, so a failing
 * assertion leaves no process behind.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kgd/xport.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define ELSFP_SEQ KGD_SOURCE_DIR "/sequences/elsfp-module.yaml"
#define UNITS "40"
/* Power-meter commands before it goes silent: opening it takes about 20,
 * a part one (all ports in one read) to a dozen (port by port), so at
 * least one part is committed before the stall, and the stall comes
 * before the lot's end either way. */
#define STALL_AFTER "pm:no-reply:after=35"

static char dir[512];
static int sql_quiet;   /* polling a database still being created */

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("signals"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static long long q_ll(const char *db_path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static long long q_ll(const char *db_path, const char *fmt, ...)
{
	char sql[1024];
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -3;
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		if (!sql_quiet)
			fprintf(stderr, "\n  %s: %s\n", sql, sqlite3_errmsg(h));
		sqlite3_close(h);
		return -2;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static long long runs_now(const char *db)
{
	struct stat st;
	long long n;

	if (stat(db, &st) != 0)
		return 0;
	sql_quiet = 1;
	n = q_ll(db, "SELECT count(*) FROM run");
	sql_quiet = 0;
	return n;
}

/* The station config of the simulator's roles, the power meter with
 * pm_timeout_ms (60 s: a slow instrument's honest timeout). */
static void write_config(const char *path, const tu_vstation *vs, int pm_timeout_ms)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "station: signals\ninstruments:\n");
	for (int i = 0; i < vs->n_roles; i++)
		fprintf(f, "  %s: {driver: %s, uri: \"%s\", timeout_ms: %d}\n",
			vs->roles[i].name, vs->roles[i].driver, vs->roles[i].uri,
			strcmp(vs->roles[i].name, "pm") == 0 ? pm_timeout_ms : 2000);
	fclose(f);
}

/* One adapter command over a connection of our own (the station has
 * closed its own by then). 0 and the reply, or -1. */
static int adapter(const char *uri, const char *cmd, char *reply, size_t cap)
{
	xport *x = NULL;
	kgd_err e;
	int rc;

	kgd_err_clear(&e);
	rc = xport_open(uri, 2000, &x, &e);
	if (!rc)
		rc = xport_write_line(x, cmd, &e);
	if (!rc)
		rc = xport_read_line(x, reply, cap, NULL, &e);
	xport_close(x);
	if (rc)
		fprintf(stderr, "\n  adapter %s: %s\n", cmd, e.msg);
	return rc ? -1 : 0;
}

/* The module's 8 lasers: 1 all off (OutputDisableTx FF, every Tx power
 * word 0), 0 any on, -1 the adapter did not answer. */
static int lasers_off(const tu_vstation *vs)
{
	const char *uri = tu_vstation_uri(vs, "laser");
	char dis[256], pow[256];

	if (!uri || adapter(uri, "R 0.10 82 1", dis, sizeof(dis)) ||
	    adapter(uri, "R 0.11 9A 16", pow, sizeof(pow)))
		return -1;
	if (strcmp(dis, "OK FF") == 0 &&
	    strcmp(pow, "OK 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00") == 0)
		return 1;
	fprintf(stderr, "\n  lasers: OutputDisableTx '%s', Tx power '%s'\n", dis, pow);
	return 0;
}

/* The module as it comes up: every laser emitting. Checked before a run so
 * that "off" afterwards can only be the station's doing. */
static int lasers_on(const tu_vstation *vs)
{
	const char *uri = tu_vstation_uri(vs, "laser");
	char dis[256];

	return uri && adapter(uri, "R 0.10 82 1", dis, sizeof(dis)) == 0 &&
	       strcmp(dis, "OK 00") == 0;
}

enum { OUT_NULL, OUT_PIPE };

/* Start the station with stdout to /dev/null or to a new pipe (*out_fd
 * gets its read end), stderr to err_path. fsize > 0: RLIMIT_FSIZE in the
 * child, with SIGXFSZ at its default (the station must ignore it itself). */
static pid_t start_station(char *const argv[], int out, int *out_fd,
			   const char *err_path, rlim_t fsize)
{
	int p[2] = {-1, -1};
	pid_t pid;

	if (out == OUT_PIPE && pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(devnull, 0);
		dup2(out == OUT_PIPE ? p[1] : devnull, 1);
		dup2(e, 2);
		if (p[0] >= 0) {
			close(p[0]);
			close(p[1]);
		}
		/* Whatever this test program inherited: the default
		 * dispositions, as from a login shell. */
		signal(SIGXFSZ, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (fsize) {
			struct rlimit rl = {fsize, fsize};

			setrlimit(RLIMIT_FSIZE, &rl);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (p[1] >= 0)
		close(p[1]);
	if (pid < 0 && p[0] >= 0)
		close(p[0]);
	if (out_fd)
		*out_fd = p[0];
	return pid;
}

/* Reap pid within timeout_ms, killing it past that. The exit code, 128 +
 * signal if a signal ended it, -1 if it had to be killed. */
static int reap(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int status = 0;

	while (now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						   : WEXITSTATUS(status);
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Wait until db holds at least n runs (or the station ended): 0 if so. */
static int wait_runs(pid_t pid, const char *db, long long n, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (now_ms() < deadline) {
		if (runs_now(db) >= n)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		sleep_ms(10);
	}
	return -1;
}

/* Wait until at least one run is committed and then none for stable_ms
 * while the station still runs: it is stuck in a part. The run count, or
 * -1 if that did not happen within timeout_ms. */
static long long wait_stall(pid_t pid, const char *db, int stable_ms,
			    int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms, since = now_ms(), last = -1;

	while (now_ms() < deadline) {
		long long n = runs_now(db);

		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		if (n != last) {
			last = n;
			since = now_ms();
		} else if (n >= 1 && now_ms() - since >= stable_ms) {
			return n;
		}
		sleep_ms(10);
	}
	return -1;
}

static int contains(const char *hay, const char *needle)
{
	if (hay && strstr(hay, needle))
		return 1;
	fprintf(stderr, "\n  expected '%s' in:\n%s\n", needle, hay ? hay : "(null)");
	return 0;
}

/* The record after a stopped lot: only whole parts. Every committed run
 * has its part, its step results and every measurement they count, is a
 * verdict of a finished part, and the parts are LOT-0001..LOT-<runs>: the
 * part in flight, LOT-<runs+1>, left no row anywhere. */
static void check_no_partial_part(const char *db, const char *lot, long long runs)
{
	char next[64];

	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), runs);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM part"), runs);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status NOT IN "
				 "('pass', 'fail')"), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run r WHERE NOT EXISTS "
				 "(SELECT 1 FROM step_result s WHERE s.run_id = r.id)"), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM measurement"),
			q_ll(db, "SELECT sum(n_values) FROM step_result"));
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM part WHERE serial > "
				 "'%s-%04lld'", lot, runs), 0);
	snprintf(next, sizeof(next), "%s-%04lld", lot, runs + 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM part WHERE serial = '%s'",
			     next), 0);
}

/* ---- a signal while a read blocks, the lasers on ------------------------- */

/* The power meter goes silent mid-lot under a 60 s timeout; the signal
 * comes while the station waits on it with the module lasing. It must
 * exit 130 within 2 s (not after the read's 60 s, nor a retry's 60 more),
 * name the signal, mark the session aborted, keep only whole parts and
 * leave every laser off. */
static void signal_during_blocked_read(int sig, const char *tag)
{
	char cfg[700], db[700], err_path[700], lot[32];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", lot, "--units", UNITS, NULL};
	const char *args[] = {"--product", "elsfp", "--units", UNITS, "--fault",
			      STALL_AFTER, NULL};
	tu_vstation vs;
	long long runs, t0, dt;
	char *msg;
	int rc;
	pid_t pid;

	snprintf(lot, sizeof(lot), "%s", tag);
	snprintf(cfg, sizeof(cfg), "%s/%s.yaml", dir, tag);
	snprintf(db, sizeof(db), "%s/%s.db", dir, tag);
	snprintf(err_path, sizeof(err_path), "%s/%s.stderr", dir, tag);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	write_config(cfg, &vs, 60000);
	CU_ASSERT_TRUE(lasers_on(&vs));
	pid = start_station(argv, OUT_NULL, NULL, err_path, 0);
	CU_ASSERT_TRUE(pid > 0);
	if (pid <= 0) {
		tu_vstation_stop(&vs);
		return;
	}
	/* Stalled: no part committed for a second (a part takes about 0.2 s
	 * here) while the station still runs: it waits on the meter in the
	 * part's pm step, after laser.enable and laser.read. */
	runs = wait_stall(pid, db, 1000, 30000);
	CU_ASSERT_TRUE(runs >= 1);

	t0 = now_ms();
	kill(pid, sig);
	rc = reap(pid, 10000);
	dt = now_ms() - t0;
	CU_ASSERT_EQUAL(rc, 130);
	if (dt >= 2000)
		fprintf(stderr, "\n  %s: the station took %lld ms to stop\n", tag, dt);
	CU_ASSERT_TRUE(dt < 2000);
	/* Before the simulator stops: its pty goes with it. */
	CU_ASSERT_EQUAL(lasers_off(&vs), 1);
	tu_vstation_stop(&vs);

	msg = tu_slurp(err_path, NULL);
	CU_ASSERT_TRUE(contains(msg, tag));
	CU_ASSERT_TRUE(contains(msg, "while testing"));
	free(msg);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = "
				 "'aborted'"), 1);
	check_no_partial_part(db, lot, runs);
	CU_ASSERT_TRUE(runs >= 1 && runs < 40);
}

static void test_sighup_blocked_read(void)
{
	signal_during_blocked_read(SIGHUP, "SIGHUP");
}

static void test_sigint_blocked_read(void)
{
	signal_during_blocked_read(SIGINT, "SIGINT");
}

static void test_sigterm_blocked_read(void)
{
	signal_during_blocked_read(SIGTERM, "SIGTERM");
}

static void test_sigquit_blocked_read(void)
{
	signal_during_blocked_read(SIGQUIT, "SIGQUIT");
}

/* ---- the reproduction: SIGHUP during an ordinary lot ------------- */

/* `station run ... & sleep 1; kill -HUP $!` with every instrument answering:
 * a closed terminal is an abort like Ctrl-C, not a death with the lasers
 * on and the session 'running'. Where in a part the signal lands is left
 * to timing here; the blocked-read tests above pin it mid-part. */
static void test_sighup_during_lot(void)
{
	char cfg[700], db[700], err_path[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "HUP", "--units", UNITS, NULL};
	/* A slower meter: each part takes about a second, mostly with the
	 * lasers on. */
	const char *args[] = {"--product", "elsfp", "--units", UNITS, "--latency",
			      "pm=40ms", NULL};
	tu_vstation vs;
	long long runs;
	char *msg;
	int rc;
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/hup.yaml", dir);
	snprintf(db, sizeof(db), "%s/hup.db", dir);
	snprintf(err_path, sizeof(err_path), "%s/hup.stderr", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	write_config(cfg, &vs, 5000);
	CU_ASSERT_TRUE(lasers_on(&vs));
	pid = start_station(argv, OUT_NULL, NULL, err_path, 0);
	CU_ASSERT_TRUE(pid > 0);
	if (pid <= 0) {
		tu_vstation_stop(&vs);
		return;
	}
	CU_ASSERT_EQUAL(wait_runs(pid, db, 1, 30000), 0);
	sleep_ms(300);
	kill(pid, SIGHUP);
	rc = reap(pid, 10000);
	CU_ASSERT_EQUAL(rc, 130);
	CU_ASSERT_EQUAL(lasers_off(&vs), 1);
	tu_vstation_stop(&vs);
	msg = tu_slurp(err_path, NULL);
	CU_ASSERT_TRUE(contains(msg, "station: SIGHUP: aborted"));
	free(msg);
	runs = q_ll(db, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= 1 && runs < 40);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = "
				 "'aborted'"), 1);
	check_no_partial_part(db, "HUP", runs);
}

/* ---- SIGPIPE: stdout into a pipe whose reader goes away ------------------ */

/* `station run ... | head -1`: the reader takes the first progress line
 * and leaves. The next progress line raises SIGPIPE, which stops the lot
 * like an abort (exit 130, session aborted, cleanup done), instead of
 * killing the station (141) mid-lot. */
static void test_sigpipe_closed_stdout(void)
{
	char cfg[700], db[700], err_path[700], line[256];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "PIPE", "--units", "50", NULL};
	const char *args[] = {"--product", "elsfp", "--units", "50", NULL};
	tu_vstation vs;
	size_t n = 0;
	long long runs;
	char *msg;
	int rc, fd = -1;
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/pipe.yaml", dir);
	snprintf(db, sizeof(db), "%s/pipe.db", dir);
	snprintf(err_path, sizeof(err_path), "%s/pipe.stderr", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	write_config(cfg, &vs, 5000);
	CU_ASSERT_TRUE(lasers_on(&vs));
	pid = start_station(argv, OUT_PIPE, &fd, err_path, 0);
	CU_ASSERT_TRUE(pid > 0 && fd >= 0);
	if (pid <= 0 || fd < 0) {
		tu_vstation_stop(&vs);
		return;
	}
	/* head -1: read up to the first newline, then close. Bounded: the
	 * station's own timeout below kills it if it never writes one. */
	while (n < sizeof(line) - 1) {
		ssize_t r = read(fd, line + n, 1);

		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(fd);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "[1/50] PIPE-0001: "));
	rc = reap(pid, 30000);
	CU_ASSERT_EQUAL(rc, 130);
	CU_ASSERT_EQUAL(lasers_off(&vs), 1);
	tu_vstation_stop(&vs);
	msg = tu_slurp(err_path, NULL);
	CU_ASSERT_TRUE(contains(msg, "station: SIGPIPE (stdout closed): aborted"));
	free(msg);
	runs = q_ll(db, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= 1 && runs < 50);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = "
				 "'aborted'"), 1);
	check_no_partial_part(db, "PIPE", runs);
}

/* ---- SIGXFSZ: the file-size limit, the signal at its default ------------- */

/* RLIMIT_FSIZE as the stand-in for a full disk, and - unlike
 * tests/test_crash.c - SIGXFSZ left at its default in the station's
 * parent: the station ignores it itself, so the write fails with EFBIG and
 * the store's "File too large" stop runs (exit 1, session 'error', the
 * part whose commit failed rolled back) instead of a silent death (153)
 * with the session 'running'. Cleanup ran before the commit: lasers off. */
static void sigxfsz_at(rlim_t limit_kib)
{
	char cfg[700], db[700], err_path[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "FSZ", "--units", "5000", "--quiet", NULL};
	const char *args[] = {"--product", "elsfp", "--units", "100", NULL};
	tu_vstation vs;
	long long runs;
	char *msg;
	int rc;
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/fsz.yaml", dir);
	snprintf(db, sizeof(db), "%s/fsz%u.db", dir, (unsigned)limit_kib);
	snprintf(err_path, sizeof(err_path), "%s/fsz.stderr", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	write_config(cfg, &vs, 5000);
	CU_ASSERT_TRUE(lasers_on(&vs));
	pid = start_station(argv, OUT_NULL, NULL, err_path, limit_kib * 1024);
	CU_ASSERT_TRUE(pid > 0);
	if (pid <= 0) {
		tu_vstation_stop(&vs);
		return;
	}
	rc = reap(pid, 60000);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_EQUAL(lasers_off(&vs), 1);
	tu_vstation_stop(&vs);
	msg = tu_slurp(err_path, NULL);
	CU_ASSERT_TRUE(contains(msg, db));
	CU_ASSERT_TRUE(contains(msg, "File too large"));
	free(msg);
	runs = q_ll(db, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= 1 && runs < 5000);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = "
				 "'error'"), 1);
	check_no_partial_part(db, "FSZ", runs);
}

/* Several limits: where a limit falls in the WAL's frames decided
 * whether the session's end still fitted after the failed commit (at
 * schema 9, 416 and 640 KiB left the session 'running' before
 * db_session_end learnt to checkpoint and retry; at earlier schemas other
 * limits did), so each must end 'error'. All are above what a new file's
 * tables and first session take (288 KiB leaves no room for a part). */
static void test_sigxfsz_file_limit(void)
{
	static const rlim_t kib[] = {384, 416, 512, 640};

	for (size_t i = 0; i < sizeof(kib) / sizeof(kib[0]); i++)
		sigxfsz_at(kib[i]);
}

/* ---- a signal while the instruments open --------------------------------- */

/* The meter is silent from its first command: `station run` hangs opening
 * it (60 s timeout) before any database exists. SIGTERM there ends the
 * wait at once: exit 130, the signal named, no database created. */
static void test_sigterm_while_opening(void)
{
	char cfg[700], db[700], err_path[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "OPEN", "--units", "3", NULL};
	const char *args[] = {"--product", "elsfp", "--fault", "pm:no-reply", NULL};
	struct stat st;
	tu_vstation vs;
	long long t0, dt;
	char *msg;
	int rc;
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/open.yaml", dir);
	snprintf(db, sizeof(db), "%s/open.db", dir);
	snprintf(err_path, sizeof(err_path), "%s/open.stderr", dir);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	write_config(cfg, &vs, 60000);
	pid = start_station(argv, OUT_NULL, NULL, err_path, 0);
	CU_ASSERT_TRUE(pid > 0);
	if (pid <= 0) {
		tu_vstation_stop(&vs);
		return;
	}
	sleep_ms(1000);
	CU_ASSERT_EQUAL(waitpid(pid, NULL, WNOHANG), 0);
	t0 = now_ms();
	kill(pid, SIGTERM);
	rc = reap(pid, 10000);
	dt = now_ms() - t0;
	tu_vstation_stop(&vs);
	CU_ASSERT_EQUAL(rc, 130);
	CU_ASSERT_TRUE(dt < 2000);
	msg = tu_slurp(err_path, NULL);
	CU_ASSERT_TRUE(contains(msg, "station: SIGTERM: role 'pm'"));
	CU_ASSERT_TRUE(contains(msg, "aborted while waiting for a reply"));
	free(msg);
	CU_ASSERT_NOT_EQUAL(stat(db, &st), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("signals", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "SIGHUP while a 60 s read blocks", test_sighup_blocked_read);
	CU_add_test(s, "SIGINT while a 60 s read blocks", test_sigint_blocked_read);
	CU_add_test(s, "SIGTERM while a 60 s read blocks", test_sigterm_blocked_read);
	CU_add_test(s, "SIGQUIT while a 60 s read blocks", test_sigquit_blocked_read);
	CU_add_test(s, "SIGHUP during an ordinary lot", test_sighup_during_lot);
	CU_add_test(s, "SIGPIPE: stdout closed by its reader",
		    test_sigpipe_closed_stdout);
	CU_add_test(s, "SIGXFSZ: file-size limit, signal at its default",
		    test_sigxfsz_file_limit);
	CU_add_test(s, "SIGTERM while the instruments open",
		    test_sigterm_while_opening);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
