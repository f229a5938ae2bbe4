/*
 * tests/test_lease.c - two stations on one results file (issue 19, item
 * 5), through the real `station` binary and through db.h:
 *  - a second `station run` of a lot whose holder is alive - a plain run
 *    or a --resume - is refused with a message naming the holder
 *    (station, host, pid, since when), exit 1, nothing written, and the
 *    holder's session is never marked interrupted;
 *  - stations on other lots of one file run side by side;
 *  - a holder that died (kill -9), a pid reused by another process, a
 *    rebooted host, another host's lease not renewed for 15 minutes: stale,
 *    taken over, its session marked interrupted; --resume then tests every
 *    part exactly once;
 *  - the write lock is free while a part is measured: another writer gets
 *    it at once (the sequencer writes a part at commit, run_commit.c);
 *  - a session that lost its lease commits nothing more; db_close lets
 *    the lease go; a schema-4 file is migrated to 5.
 *
 * The station runs sequences of `wait` steps with no instrument, so a
 * part takes as long as the test wants and needs no simulator.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "db_int.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"

static char dir[512], seq_long[700], seq_short[700], cfg1[700], cfg2[700];
static char host[256];

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int suite_init(void)
{
	static const char seq_fmt[] =
		"sequence: lease-%s\nversion: 1\nprocess: unit\nmain:\n"
		"  - step: wait\n    name: measure\n    params: {seconds: %s}\n"
		"bins:\n  1: {name: PASS, pass: true}\n";
	char text[512];

	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("lease"));
	snprintf(seq_long, sizeof(seq_long), "%s/long.yaml", dir);
	snprintf(seq_short, sizeof(seq_short), "%s/short.yaml", dir);
	snprintf(cfg1, sizeof(cfg1), "%s/cell-1.yaml", dir);
	snprintf(cfg2, sizeof(cfg2), "%s/cell-2.yaml", dir);
	gethostname(host, sizeof(host) - 1);
	snprintf(text, sizeof(text), seq_fmt, "long", "1.0");
	if (write_text(seq_long, text))
		return -1;
	snprintf(text, sizeof(text), seq_fmt, "short", "0.05");
	if (write_text(seq_short, text))
		return -1;
	if (write_text(cfg1, "station: cell-1\ninstruments: {}\n"))
		return -1;
	return write_text(cfg2, "station: cell-2\ninstruments: {}\n");
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static const char *path_in(const char *name)
{
	static char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* First column of the first row; -1 no row, -2 error (quiet: the file may
 * not exist yet). */
static long long q(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -2;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);

		v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0)
				     : rc == SQLITE_DONE ? -1 : -2;
	}
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
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static void exec_on(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	char *msg = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "\n  exec_on(%s): %s\n", sql, msg);
		CU_FAIL("exec_on");
	}
	sqlite3_free(msg);
	sqlite3_close(h);
}

/* Every table's row count and largest rowid, in one string: equal
 * before and after = nothing written. */
static char *snapshot(const char *path)
{
	static const char *const tables[] = {
		"station", "operator", "sequence", "lot", "wafer", "part", "run",
		"measurement", "limits_set", "session", "bin", "step_result",
		"hard_bin", "lot_lease", "session_instrument",
	};
	char *buf = calloc(1, 4096), sql[160];
	size_t used = 0;

	for (size_t i = 0; buf && i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) * 1000000 + "
			 "coalesce(max(rowid), 0) FROM %s", tables[i]);
		used += (size_t)snprintf(buf + used, 4096 - used, "%s=%lld ",
					 tables[i], q(path, sql));
	}
	return buf;
}

/* `station run SEQ --config CFG --db DB --lot LOT --units N [--resume]`
 * in the background; stdout/stderr into files named after tag. */
static int start_run(const char *seq, const char *cfg, const char *db,
		     const char *lot, const char *units, int resume,
		     const char *tag)
{
	char *argv[] = {STATION, "run", (char *)seq, "--config", (char *)cfg,
			"--db", (char *)db, "--lot", (char *)lot, "--units",
			(char *)units, "--quiet", resume ? "--resume" : NULL,
			NULL};
	char out[700], err[700];

	snprintf(out, sizeof(out), "%s/%s.out", dir, tag);
	snprintf(err, sizeof(err), "%s/%s.err", dir, tag);
	return tu_spawn(argv, NULL, out, err);
}

/* The stderr a start_run child left. */
static char *run_err(const char *tag)
{
	char path[700];
	char *text;

	snprintf(path, sizeof(path), "%s/%s.err", dir, tag);
	text = tu_slurp(path, NULL);
	return text ? text : strdup("");
}

/* Run to completion (bounded); returns exit code, *err_text its stderr. */
static int run_fg(const char *seq, const char *cfg, const char *db,
		  const char *lot, const char *units, int resume,
		  const char *tag, char **err_text)
{
	int pid = start_run(seq, cfg, db, lot, units, resume, tag);
	int rc = pid > 0 ? tu_wait(pid, 60) : -1;

	*err_text = run_err(tag);
	return rc;
}

/* Wait (at most 20 s) until lot has a running session with at least
 * `runs` committed runs in it. */
static int wait_running(const char *db, const char *lot, int runs)
{
	char sql[400];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run r JOIN session s"
		 " ON s.id = r.session_id JOIN lot l ON l.id = s.lot_id"
		 " WHERE l.name = '%s' AND s.status = 'running'", lot);
	for (int i = 0; i < 2000; i++) {
		char sql2[300];

		snprintf(sql2, sizeof(sql2), "SELECT count(*) FROM session s JOIN"
			 " lot l ON l.id = s.lot_id WHERE l.name = '%s' AND"
			 " s.status = 'running'", lot);
		if (q(db, sql2) >= 1 && q(db, sql) >= runs)
			return 0;
		usleep(10000);
	}
	return -1;
}

static void expect_in(const char *text, const char *what)
{
	if (!strstr(text, what))
		fprintf(stderr, "\n  wanted \"%s\" in:\n%s\n", what, text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, what));
}

static long long session_count(const char *db, const char *lot,
			       const char *status)
{
	char sql[300];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM session s JOIN lot l"
		 " ON l.id = s.lot_id WHERE l.name = '%s' AND s.status = '%s'",
		 lot, status);
	return q(db, sql);
}

/* Each of the lot's parts has exactly one run. */
static void expect_each_part_once(const char *db, const char *lot, int parts)
{
	char sql[300];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM part p JOIN lot l ON"
		 " l.id = p.lot_id WHERE l.name = '%s'", lot);
	CU_ASSERT_EQUAL(q(db, sql), parts);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run r JOIN part p ON"
		 " p.id = r.part_id JOIN lot l ON l.id = p.lot_id WHERE"
		 " l.name = '%s'", lot);
	CU_ASSERT_EQUAL(q(db, sql), parts);
}

/* ---- the real station ----------------------------------------------------- */

/* While cell-1 tests lot L, cell-2 is refused on L - by a plain run and
 * by --resume - naming the holder; nothing is written; cell-1's session
 * stays running and ends complete. */
static void test_second_station_refused(void)
{
	const char *db = path_in("one-lot.db");
	char want[1200], since[64], sql[200];
	char *before, *after, *msg = NULL;
	int a;

	a = start_run(seq_long, cfg1, db, "L", "3", 0, "holder");
	CU_ASSERT_TRUE_FATAL(a > 0);
	CU_ASSERT_EQUAL_FATAL(wait_running(db, "L", 0), 0);
	q_text(db, "SELECT since FROM lot_lease", since, sizeof(since));
	before = snapshot(db);

	for (int resume = 0; resume <= 1; resume++) {
		CU_ASSERT_EQUAL(run_fg(seq_long, cfg2, db, "L", "3", resume,
				       resume ? "second-resume" : "second", &msg), 1);
		snprintf(want, sizeof(want), "%s: lot 'L' is held by station "
			 "'cell-1' on host %s (pid %d) since %s (session 1)", db,
			 host, a, since);
		expect_in(msg, want);
		expect_in(msg, "Nothing was written");
		free(msg);
		after = snapshot(db);
		CU_ASSERT_STRING_EQUAL(after, before);
		free(after);
		CU_ASSERT_EQUAL(session_count(db, "L", "running"), 1);
	}
	free(before);

	CU_ASSERT_EQUAL(tu_wait(a, 60), 0);
	msg = run_err("holder");
	CU_ASSERT_STRING_EQUAL(msg, "");
	free(msg);
	CU_ASSERT_EQUAL(session_count(db, "L", "complete"), 1);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM session"), 1);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM lot_lease"), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM session WHERE status"
		 " = 'interrupted'");
	CU_ASSERT_EQUAL(q(db, sql), 0);
	expect_each_part_once(db, "L", 3);
}

/* Two lots of one file side by side: both complete, neither interrupted. */
static void test_other_lots_side_by_side(void)
{
	const char *db = path_in("two-lots.db");
	int a, b;

	a = start_run(seq_long, cfg1, db, "X", "3", 0, "lot-x");
	CU_ASSERT_TRUE_FATAL(a > 0);
	CU_ASSERT_EQUAL_FATAL(wait_running(db, "X", 0), 0);
	b = start_run(seq_long, cfg2, db, "Y", "3", 0, "lot-y");
	CU_ASSERT_TRUE_FATAL(b > 0);
	CU_ASSERT_EQUAL(wait_running(db, "Y", 1), 0);
	/* both hold their lot at once */
	CU_ASSERT_EQUAL(session_count(db, "X", "running"), 1);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM lot_lease"), 2);
	CU_ASSERT_EQUAL(tu_wait(a, 60), 0);
	CU_ASSERT_EQUAL(tu_wait(b, 60), 0);
	CU_ASSERT_EQUAL(session_count(db, "X", "complete"), 1);
	CU_ASSERT_EQUAL(session_count(db, "Y", "complete"), 1);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM session WHERE status !="
			  " 'complete'"), 0);
	expect_each_part_once(db, "X", 3);
	expect_each_part_once(db, "Y", 3);
}

/* kill -9 of the holder: its lease is stale (no such process), the next
 * --resume takes the lot and marks it interrupted; a second --resume
 * meanwhile is refused; every part is tested once. */
static void test_dead_holder_and_two_resumes(void)
{
	const char *db = path_in("resume.db");
	char *msg = NULL, want[600];
	int a, b;

	a = start_run(seq_long, cfg1, db, "R", "4", 0, "killed");
	CU_ASSERT_TRUE_FATAL(a > 0);
	CU_ASSERT_EQUAL_FATAL(wait_running(db, "R", 1), 0);
	kill(a, SIGKILL);
	CU_ASSERT_EQUAL(tu_wait(a, 10), 128 + SIGKILL);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM lot_lease"), 1);

	b = start_run(seq_long, cfg1, db, "R", "4", 1, "resume-1");
	CU_ASSERT_TRUE_FATAL(b > 0);
	/* its session has begun once the dead one is marked */
	for (int i = 0; i < 2000 && session_count(db, "R", "interrupted") != 1;
	     i++)
		usleep(10000);
	CU_ASSERT_EQUAL_FATAL(session_count(db, "R", "interrupted"), 1);
	CU_ASSERT_EQUAL(session_count(db, "R", "running"), 1);
	CU_ASSERT_EQUAL(run_fg(seq_long, cfg2, db, "R", "4", 1, "resume-2",
			       &msg), 1);
	snprintf(want, sizeof(want), "lot 'R' is held by station 'cell-1' on "
		 "host %s (pid %d)", host, b);
	expect_in(msg, want);
	free(msg);
	CU_ASSERT_EQUAL(tu_wait(b, 60), 0);
	CU_ASSERT_EQUAL(session_count(db, "R", "complete"), 1);
	CU_ASSERT_EQUAL(session_count(db, "R", "interrupted"), 1);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM session"), 2);
	expect_each_part_once(db, "R", 4);
}

/* A lease planted for lot name: session copied from session 1, holder
 * fields as given (SQL text). */
static void plant_lease(const char *db, const char *lot, const char *holder)
{
	char sql[1200];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO lot(name) VALUES ('%s');"
		 "INSERT INTO session(station_id, lot_id, sequence_id, process,"
		 " started_at, status) SELECT station_id, (SELECT id FROM lot"
		 " WHERE name = '%s'), sequence_id, process, started_at,"
		 " 'running' FROM session WHERE id = 1;"
		 "INSERT INTO lot_lease(lot_id, session_id, station, host, pid,"
		 " pid_start, boot_id, since, renewed_at) SELECT (SELECT id FROM"
		 " lot WHERE name = '%s'), max(id), %s FROM session;",
		 lot, lot, lot, holder);
	exec_on(db, sql);
}

/* Field 22 of /proc/self/stat: this process's start time. */
static long long my_start(void)
{
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoll(p + 1, NULL, 10) : -1;
}

static void my_boot(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)cap, f))
			buf[0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/* Leases the station must judge: another host (fresh: refused; not
 * renewed for 16 minutes: taken over), this host with a live pid (the
 * test itself: refused), the same pid started at another time (reused:
 * taken over), another boot (taken over). A taken-over lease's session
 * is marked interrupted. */
static void test_stale_or_live(void)
{
	const char *db = path_in("stale.db");
	char holder[600], boot[64], *msg = NULL, want[600];
	long long start = my_start();

	CU_ASSERT_EQUAL_FATAL(run_fg(seq_short, cfg1, db, "SEED", "1", 0, "seed",
				     &msg), 0);
	free(msg);
	my_boot(boot, sizeof(boot));

	/* another host, renewed just now */
	plant_lease(db, "F", "'cell-9', 'other-host', 4242, NULL, NULL, "
		    "'2030-01-01T00:00:00.000Z', strftime('%Y-%m-%dT%H:%M:%fZ',"
		    " 'now')");
	CU_ASSERT_EQUAL(run_fg(seq_short, cfg1, db, "F", "1", 0, "foreign",
			       &msg), 1);
	expect_in(msg, "lot 'F' is held by station 'cell-9' on host other-host "
		  "(pid 4242) since 2030-01-01T00:00:00.000Z (session 2)");
	expect_in(msg, "a lease of another host lapses 15 minutes after its "
		  "last renewal");
	free(msg);
	/* ... and not renewed for 16 minutes */
	exec_on(db, "UPDATE lot_lease SET renewed_at = strftime("
		"'%Y-%m-%dT%H:%M:%fZ', 'now', '-16 minutes')");
	CU_ASSERT_EQUAL(run_fg(seq_short, cfg1, db, "F", "1", 0, "foreign-old",
			       &msg), 0);
	free(msg);
	CU_ASSERT_EQUAL(q(db, "SELECT status = 'interrupted' FROM session"
			  " WHERE id = 2"), 1);
	CU_ASSERT_EQUAL(session_count(db, "F", "complete"), 1);

	/* this host, a live process (this test) that started when it did */
	snprintf(holder, sizeof(holder), "'cell-7', '%s', %d, %lld, '%s', "
		 "'2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z'", host,
		 (int)getpid(), start, boot);
	plant_lease(db, "G", holder);
	CU_ASSERT_EQUAL(run_fg(seq_short, cfg1, db, "G", "1", 0, "live", &msg), 1);
	snprintf(want, sizeof(want), "lot 'G' is held by station 'cell-7' on "
		 "host %s (pid %d)", host, (int)getpid());
	expect_in(msg, want);
	free(msg);
	CU_ASSERT_EQUAL(session_count(db, "G", "running"), 1);

	/* the same pid, but a process started at another time: reused */
	exec_on(db, "UPDATE lot_lease SET pid_start = pid_start + 1 WHERE"
		" lot_id = (SELECT id FROM lot WHERE name = 'G')");
	CU_ASSERT_EQUAL(run_fg(seq_short, cfg1, db, "G", "1", 0, "reused", &msg),
			0);
	free(msg);
	CU_ASSERT_EQUAL(session_count(db, "G", "interrupted"), 1);
	CU_ASSERT_EQUAL(session_count(db, "G", "complete"), 1);

	/* a lease from before the last boot */
	snprintf(holder, sizeof(holder), "'cell-7', '%s', %d, %lld, "
		 "'00000000-0000-0000-0000-000000000000', "
		 "'2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z'", host,
		 (int)getpid(), start);
	plant_lease(db, "H", holder);
	CU_ASSERT_EQUAL(run_fg(seq_short, cfg1, db, "H", "1", 0, "rebooted",
			       &msg), 0);
	free(msg);
	CU_ASSERT_EQUAL(session_count(db, "H", "interrupted"), 1);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM lot_lease"), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* While a part is measured the station holds no write lock: another
 * writer (here BEGIN IMMEDIATE on its own connection) gets it at once,
 * every time, during a 1 s measurement. (The sequencer already writes a
 * part only at commit, run_commit.c; this proves it stays so.) */
static void test_second_writer_not_starved(void)
{
	const char *db = path_in("starve.db");
	double worst = 0;
	int a, probes = 0;

	a = start_run(seq_long, cfg1, db, "S", "3", 0, "measuring");
	CU_ASSERT_TRUE_FATAL(a > 0);
	CU_ASSERT_EQUAL_FATAL(wait_running(db, "S", 0), 0);
	for (int i = 0; i < 12 && session_count(db, "S", "running") == 1; i++) {
		sqlite3 *h = NULL;
		double t0;
		int rc;

		CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
		sqlite3_busy_timeout(h, 5000);
		t0 = now_s();
		rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (now_s() - t0 > worst)
			worst = now_s() - t0;
		CU_ASSERT_EQUAL(rc, SQLITE_OK);
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(h);
		probes++;
		usleep(150000);
	}
	CU_ASSERT_EQUAL(tu_wait(a, 60), 0);
	CU_ASSERT_TRUE(probes >= 8);
	/* a commit of a part takes milliseconds; a measurement took 1 s */
	if (worst >= 0.25)
		fprintf(stderr, "\n  the write lock took %.3f s to get\n", worst);
	CU_ASSERT_TRUE(worst < 0.25);
}

/* ---- through db.h ----------------------------------------------------------- */

static db_session_info session_info(const char *lot)
{
	db_session_info si = {
		.station = "cell-db", .host = "lab", .lot = lot,
		.process = "unit", .seq_name = "lease", .seq_version = 1,
		.seq_sha256 = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
	};
	return si;
}

static db_run_info unit_info(const char *lot, const char *serial, int64_t sid)
{
	db_run_info info = {
		.station = "cell-db", .host = "lab", .lot = lot, .serial = serial,
		.seq_name = "lease", .seq_version = 1,
		.seq_sha256 = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
		.session_id = sid,
	};
	return info;
}

/* In one process: a second handle on a held lot is refused; db_close
 * without db_session_end lets the lease go (the station is gone); a
 * session whose lease was dropped commits nothing more. */
static void test_db_lease_rules(void)
{
	const char *file = path_in("api.db");
	db_session_info si = session_info("P");
	db_run_info info;
	kgd_err err = {0};
	int64_t s1 = 0, s2 = 0, run_id = 0;
	int dead = -1;
	db *d1 = NULL, *d2 = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(file, &d1, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_open(file, &d2, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d1, &si, &s1, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_session_begin(d2, &si, &s2, &dead, &err), KGD_ERR_DB);
	expect_in(err.msg, "lot 'P' is held by station 'cell-db'");
	/* one handle, one session at a time */
	si.lot = "P2";
	CU_ASSERT_EQUAL(db_session_begin(d1, &si, &s2, NULL, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(db_session_begin(d2, &si, &s2, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_session_end(d2, s2, DB_SESSION_COMPLETE, &err), KGD_OK);

	/* a commit renews the lease; a lost lease refuses the commit */
	info = unit_info("P", "SN-1", s1);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d1, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d1, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_OK);
	exec_on(file, "DELETE FROM lot_lease");
	info = unit_info("P", "SN-2", s1);
	CU_ASSERT_EQUAL_FATAL(db_run_begin(d1, &info, &run_id, &err), KGD_OK);
	CU_ASSERT_EQUAL(db_run_commit(d1, run_id, DB_STATUS_PASS, 1, 1, NULL,
				      &err), KGD_ERR_DB);
	expect_in(err.msg, "refused, none of it stored: session 1 no longer "
		  "holds its lot");
	CU_ASSERT_EQUAL(q(file, "SELECT count(*) FROM part WHERE serial = 'SN-2'"),
			0);
	CU_ASSERT_EQUAL(db_session_end(d1, s1, DB_SESSION_ERROR, &err), KGD_OK);

	/* the station "dies" (closes without ending): its lot is free */
	si.lot = "Q";
	CU_ASSERT_EQUAL_FATAL(db_session_begin(d1, &si, &s1, NULL, &err), KGD_OK);
	db_close(d1);
	CU_ASSERT_EQUAL(q(file, "SELECT count(*) FROM lot_lease"), 0);
	CU_ASSERT_EQUAL(db_session_begin(d2, &si, &s2, &dead, &err), KGD_OK);
	CU_ASSERT_EQUAL(dead, 1);
	CU_ASSERT_EQUAL(db_session_end(d2, s2, DB_SESSION_COMPLETE, &err), KGD_OK);
	db_close(d2);
}

/* A genuine schema-4 file (built by migrations 1-4) with a session left
 * running: opened, it is backed up and migrated to 5; the old session,
 * which no lease holds, is marked interrupted by the next one. */
static void test_migration_4_to_5(void)
{
	const char *file = path_in("v4.db");
	db_session_info si = session_info("OLD");
	char bak[800];
	kgd_err err = {0};
	int64_t sid = 0;
	int dead = -1;
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_create_at_version(file, 4, &err), KGD_OK);
	exec_on(file, "INSERT INTO station(name) VALUES ('cell-old');"
		"INSERT INTO lot(name) VALUES ('OLD');"
		"INSERT INTO sequence(name, version, sha256) VALUES ('s', 1, 'x');"
		"INSERT INTO session(station_id, lot_id, sequence_id, process,"
		" started_at) VALUES (1, 1, 1, 'unit', '2025-01-01T00:00:00.000Z')");
	CU_ASSERT_EQUAL(q(file, "PRAGMA user_version"), 4);
	CU_ASSERT_EQUAL_FATAL(db_open(file, &d, &err), KGD_OK);
	snprintf(bak, sizeof(bak), "%s.v4.bak", file);
	CU_ASSERT_STRING_EQUAL(db_backup_path(d), bak);
	CU_ASSERT_EQUAL(q(file, "PRAGMA user_version"), db_schema_version());  /* 5 and on */
	CU_ASSERT_EQUAL(q(bak, "PRAGMA user_version"), 4);
	CU_ASSERT_EQUAL(q(file, "SELECT count(*) FROM sqlite_master WHERE name IN"
			  " ('lot_lease', 'session_instrument')"), 2);
	CU_ASSERT_EQUAL(db_session_begin(d, &si, &sid, &dead, &err), KGD_OK);
	CU_ASSERT_EQUAL(dead, 1);
	CU_ASSERT_EQUAL(db_session_end(d, sid, DB_SESSION_COMPLETE, &err), KGD_OK);
	db_close(d);
	CU_ASSERT_EQUAL(q(file, "SELECT count(*) FROM session WHERE id = 1 AND"
			  " status = 'interrupted'"), 1);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("lease", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "a second station (run and --resume) is refused",
		    test_second_station_refused);
	CU_add_test(s, "other lots run side by side", test_other_lots_side_by_side);
	CU_add_test(s, "a dead holder is taken over; two resumes",
		    test_dead_holder_and_two_resumes);
	CU_add_test(s, "stale or live: other host, reused pid, reboot",
		    test_stale_or_live);
	CU_add_test(s, "a second writer is not starved by a measurement",
		    test_second_writer_not_starved);
	CU_add_test(s, "db.h: one session per lot, close frees, lost lease",
		    test_db_lease_rules);
	CU_add_test(s, "migration 4 -> 5", test_migration_4_to_5);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
