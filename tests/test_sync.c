/*
 * tests/test_sync.c - store-and-forward to a real PostgreSQL server
 * (issue 13): `station sync --to`, `station report --from-db`, the
 * central schema against the station file's, the roles, and the faults:
 * a server stopped mid-upload, two uploads at once, a newer schema, a
 * wrong password, a role without rights.
 *
 * One throwaway server (tests/pgtmp.sh through pgutil.c) serves the
 * suite; it is stopped at the end, and by its watchdog should this
 * program die. Every child runs under a time limit.
 */
#include <CUnit/CUnit.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "pgs.h"
#include "pgutil.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define UNIT_SEQ KGD_SOURCE_DIR "/sequences/spine-power.yaml"

static pgu_server srv;
static double t_start;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static char dir[512];
static char out[65536], errbuf[8192];

static const char *in_dir(const char *name)
{
	static char buf[64][700];
	static int i;

	i = (i + 1) % 64;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("sync"));
	return pgu_start(&srv, "syncpg", 900);
}

static int suite_clean(void)
{
	pgu_stop(&srv);
	tu_rmtree(dir);
	return 0;
}

static long long sq(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static int sync_as(const char *db_path, const char *conninfo, int timeout_s)
{
	char *argv[] = { STATION, "sync", "--db", (char *)db_path, "--to",
			 (char *)conninfo, NULL };

	return tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), timeout_s);
}

static void expect_in(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fprintf(stderr, "\nexpected \"%s\" in \"%s\"\n", needle, hay);
	CU_ASSERT_PTR_NOT_NULL(strstr(hay, needle));
}

/* Every synced table's row count on the server (all sources) equals the
 * file's, and no row is there twice. */
static void expect_same_counts(const char *db_path, const char *src_where)
{
	static const char *const t[] = { "station", "operator", "sequence",
		"limits_set", "lot", "wafer", "part", "session", "bin",
		"hard_bin", "session_instrument", "run", "step_result",
		"measurement" };
	char sql[300];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long long local, central;

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t[i]);
		local = sq(db_path, sql);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", t[i],
			 src_where);
		central = pgu_q(&srv, sql);
		if (local != central)
			fprintf(stderr, "\n%s: %lld in the file, %lld on the server\n",
				t[i], local, central);
		CU_ASSERT_EQUAL(local, central);
	}
}

static const char *src_of(const char *db_path, char *buf, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	buf[0] = '\0';
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT uuid FROM sync_source", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, cap, "src = '%s'", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

/* The central schema covers every column of every table the station file
 * syncs; a table the file has that does not travel is named here, so a
 * new SQLite table or column without its PostgreSQL migration fails. */
static void test_schema_covers_file(void)
{
	static const char *const local_only[] = { "lot_lease", "sync_source",
						   "sync_mark" };
	const char *path = in_dir("schema.db");
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL, *ct = NULL;
	db *d = NULL;
	kgd_err err;
	int tables = 0;

	CU_ASSERT_EQUAL_FATAL(db_open(path, &d, &err), KGD_OK);
	db_close(d);
	/* An empty file's sync makes the central schema. */
	CU_ASSERT_EQUAL_FATAL(pgs_sync(path, srv.conninfo, NULL, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(pgu_q(&srv, "SELECT value::int FROM kgd_meta WHERE key ="
			      " 'schema_version'"), pgs_schema_version());
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL),
			      SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master"
						 " WHERE type = 'table' ORDER BY name",
						 -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char sql[300], cols[4096];
		int skip = 0;

		for (size_t i = 0; i < sizeof(local_only) / sizeof(local_only[0]); i++)
			skip |= !strcmp(name, local_only[i]);
		if (skip)
			continue;
		tables++;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM information_schema"
			 ".tables WHERE table_name = '%s'", name);
		if (pgu_q(&srv, sql) != 1)
			fprintf(stderr, "\nno table %s on the server\n", name);
		CU_ASSERT_EQUAL(pgu_q(&srv, sql), 1);
		snprintf(sql, sizeof(sql), "SELECT ','||string_agg(column_name,"
			 " ',')||',' FROM information_schema.columns WHERE"
			 " table_name = '%s'", name);
		pgu_text(&srv, sql, cols, sizeof(cols));
		snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s')",
			 name);
		CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(h, sql, -1, &ct, NULL),
				      SQLITE_OK);
		while (sqlite3_step(ct) == SQLITE_ROW) {
			char want[100];

			snprintf(want, sizeof(want), ",%s,", sqlite3_column_text(ct, 0));
			if (!strstr(cols, want))
				fprintf(stderr, "\n%s.%s: no such column on the "
					"server: add a central schema migration "
					"(sync/pgs_schema.c)\n", name,
					sqlite3_column_text(ct, 0));
			CU_ASSERT_PTR_NOT_NULL(strstr(cols, want));
		}
		sqlite3_finalize(ct);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	CU_ASSERT(tables >= 14);
}

static int same_file(const char *a, const char *b)
{
	size_t la = 0, lb = 0;
	char *x = tu_slurp(a, &la), *y = tu_slurp(b, &lb);
	int same = x && y && la == lb && memcmp(x, y, la) == 0;

	if (!same)
		fprintf(stderr, "\n%s and %s differ\n", a, b);
	free(x);
	free(y);
	return same;
}

static void compare_reports(const char *a, const char *b)
{
	static const char *const files[] = { "yield.csv", "bins.csv",
		"pareto.csv", "tests.csv", "teststats.csv", "wafermap.csv",
		"parts.csv", "testtime.csv", "instruments.csv",
		"pat_limits.csv" };
	char pa[900], pb[900];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(pa, sizeof(pa), "%s/%s", a, files[i]);
		snprintf(pb, sizeof(pb), "%s/%s", b, files[i]);
		CU_ASSERT_TRUE(same_file(pa, pb));
	}
}

/* The file's screens on the server: each screen's current version, with
 * as many limit and die rows as the file holds. */
static void expect_same_screens(const char *db_path, const char *src)
{
	char sql[400];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM screen_current WHERE %s",
		 src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql), sq(db_path, "SELECT count(*) FROM screen"));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM screen_limit l JOIN"
		 " screen_current c ON c.src = l.src AND c.id = l.screen_id AND"
		 " c.screened_at = l.screened_at WHERE c.%s", src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql),
			sq(db_path, "SELECT count(*) FROM screen_limit"));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM screen_die d JOIN"
		 " screen_current c ON c.src = d.src AND c.id = d.screen_id AND"
		 " c.screened_at = d.screened_at WHERE c.%s", src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql),
			sq(db_path, "SELECT count(*) FROM screen_die"));
}

static void report_both(const char *db_path, const char *local,
			const char *central)
{
	char *l[] = { STATION, "report", "-q", "--db", (char *)db_path, "--out",
		      (char *)local, NULL };
	char *c[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
		      "--out", (char *)central, NULL };

	CU_ASSERT_EQUAL(tu_run(l, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	CU_ASSERT_EQUAL(tu_run(c, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	compare_reports(local, central);
}

/* The lot screened again (issue 16's station screen rewrites a screen in
 * the file): a second config B, then the demo's config A again, which
 * makes A the lot's current screen once more (its seq above B's). The
 * sync sends B and A's new version; the server keeps A's first version
 * too, and the reports from the server apply A's newest, as the file's
 * do. A server that kept A's first version as current would apply B. */
static void rescreen_and_report(const char *db_path, const char *demo,
				const char *src)
{
	static const char cfg_b[] = "soft_bin: 91\nhard_bin: 9\n"
		"min_samples: 20\ndpat:\n  k: 3\n  tests: all\n";
	char a[700], b[700], sql[300];
	FILE *f;

	snprintf(a, sizeof(a), "%s/screen.yaml", demo);
	snprintf(b, sizeof(b), "%s/screen-b.yaml", demo);
	f = fopen(b, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(cfg_b, f);
	fclose(f);
	{
		char *sb[] = { STATION, "screen", "-q", "--db", (char *)db_path,
			       "--lot", "DEMO1", "--config", b, NULL };
		char *sa[] = { STATION, "screen", "-q", "--db", (char *)db_path,
			       "--lot", "DEMO1", "--config", a, NULL };

		CU_ASSERT_EQUAL(tu_run(sb, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
		CU_ASSERT_EQUAL(tu_run(sa, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
	}
	/* the demo screened once; now two screens, A current again */
	CU_ASSERT_EQUAL(sq(db_path, "SELECT count(*) FROM screen"), 2);
	CU_ASSERT_EQUAL(sq(db_path, "SELECT soft_bin FROM screen ORDER BY seq"
			   " DESC LIMIT 1"), 90);
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 0);
	expect_in(out, " 2 screens,");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM screen WHERE %s", src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql), 3);
	expect_same_screens(db_path, src);
	/* again: nothing new */
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 0);
	expect_in(out, "nothing new");
	CU_ASSERT_EQUAL(pgu_q(&srv, sql), 3);
	report_both(db_path, in_dir("rep-rescreen-local"), in_dir("rep-rescreen-pg"));
}

/* A real lot (the demo's wafer sort on the virtual station): sent once,
 * sent again (nothing new), and reported from the server: the same CSV,
 * SVG and STDF bytes as from the file. */
static void test_sync_and_report(void)
{
	const char *demo = in_dir("demo"), *db_path = in_dir("demo/results.db");
	char *demo_argv[] = { STATION, "demo", "-q", "-w", "1", "-o",
			      (char *)demo, NULL };
	char src[128], p1[900], p2[900];
	int rc;

	rc = tu_run(demo_argv, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL_FATAL(sync_as(db_path, srv.conninfo, 60), 0);
	expect_in(out, "parts tested (runs)");
	src_of(db_path, src, sizeof(src));
	expect_same_counts(db_path, src);
	/* the demo screens its lot (issue 16): a screen that rejected dies,
	 * sent whole */
	CU_ASSERT_EQUAL(sq(db_path, "SELECT count(*) FROM screen"), 1);
	CU_ASSERT(sq(db_path, "SELECT count(*) FROM screen_die") > 0);
	expect_in(out, " 1 screen,");
	expect_same_screens(db_path, src);
	CU_ASSERT_EQUAL(pgu_q(&srv, "SELECT count(*) FROM session_end"), 1);
	/* the file's schema 7 travels: the build that recorded the session */
	CU_ASSERT_EQUAL(pgu_q(&srv, "SELECT count(*) FROM session WHERE"
			      " software_version IS NOT NULL AND software_build"
			      " IS NOT NULL"), 1);
	/* again: nothing new, nothing doubled */
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 0);
	expect_in(out, "nothing new");
	expect_same_counts(db_path, src);

	{
		char *local[] = { STATION, "report", "-q", "--db", (char *)db_path,
				  "--out", (char *)in_dir("rep-local"), "--stdf",
				  (char *)in_dir("stdf-local"), NULL };
		char *central[] = { STATION, "report", "-q", "--from-db",
				    srv.conninfo, "--out", (char *)in_dir("rep-pg"),
				    "--stdf", (char *)in_dir("stdf-pg"), NULL };
		char *lot_l[] = { STATION, "report", "-q", "--db", (char *)db_path,
				  "--lot", "DEMO1", "--from", "2000-01-01", "--out",
				  (char *)in_dir("rep-lot-local"), NULL };
		char *lot_c[] = { STATION, "report", "-q", "--from-db",
				  srv.conninfo, "--lot", "DEMO1", "--from",
				  "2000-01-01", "--out", (char *)in_dir("rep-lot-pg"),
				  NULL };
		char *none[] = { STATION, "report", "-q", "--from-db",
				 srv.conninfo, "--lot", "NO-SUCH-LOT", "--out",
				 (char *)in_dir("rep-none"), NULL };

		CU_ASSERT_EQUAL(tu_run(local, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
		CU_ASSERT_EQUAL(tu_run(central, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
		compare_reports(in_dir("rep-local"), in_dir("rep-pg"));
		snprintf(p1, sizeof(p1), "%s/wafermap_DEMO1_DEMO1-W01.svg",
			 in_dir("rep-local"));
		snprintf(p2, sizeof(p2), "%s/wafermap_DEMO1_DEMO1-W01.svg",
			 in_dir("rep-pg"));
		CU_ASSERT_TRUE(same_file(p1, p2));
		/* ... drawn from the prober's map geometry (schema 10), which
		 * the server carried (central migration 4) */
		{
			char *svg = tu_slurp(p2, NULL);

			CU_ASSERT(svg && strstr(svg, "prober map: 300 mm wafer"));
			free(svg);
		}
		snprintf(p1, sizeof(p1), "%s/DEMO1_DEMO1-W01.stdf",
			 in_dir("stdf-local"));
		snprintf(p2, sizeof(p2), "%s/DEMO1_DEMO1-W01.stdf", in_dir("stdf-pg"));
		CU_ASSERT_TRUE(same_file(p1, p2));
		/* filters go to the server and to the report alike */
		CU_ASSERT_EQUAL(tu_run(lot_l, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
		CU_ASSERT_EQUAL(tu_run(lot_c, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
		compare_reports(in_dir("rep-lot-local"), in_dir("rep-lot-pg"));
		/* a filter that matches nothing is an error, as locally */
		CU_ASSERT_EQUAL(tu_run(none, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 1);
		expect_in(errbuf, "NO-SUCH-LOT");
	}
	rescreen_and_report(db_path, demo, src);
}

/* The server stops (immediate: as a crash) in the middle of an upload and
 * comes back: the next sync sends the rest, every row exactly once. */
static void test_server_stops_mid_sync(void)
{
	const char *db_path = in_dir("big.db");
	char *argv[] = { STATION, "sync", "--db", (char *)db_path, "--to",
			 srv.conninfo, "--batch", "2000", NULL };
	const char *errp = in_dir("big.err");
	char src[128], sql[300];
	long long batches = 0;
	int pid, rc, i;
	char *e;

	CU_ASSERT_EQUAL_FATAL(pgu_make_results(db_path, "cell-big", "BIG", 150,
					       1000, 3), 0);
	src_of(db_path, src, sizeof(src));
	pid = tu_spawn(argv, NULL, NULL, errp);
	CU_ASSERT_FATAL(pid > 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sync_batch WHERE %s AND"
		 " tbl = 'run'", src);
	for (i = 0; i < 3000 && batches < 3; i++) {
		usleep(5000);
		batches = pgu_q(&srv, sql);
	}
	CU_ASSERT(batches >= 3);
	CU_ASSERT_EQUAL(pgu_pause(&srv), 0);
	rc = tu_wait(pid, 60);
	e = tu_slurp(errp, NULL);
	if (rc == 0) {
		/* it finished first on a fast machine: still a valid run */
		fprintf(stderr, "\n(note: the upload finished before the stop)\n");
	} else {
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT_PTR_NOT_NULL(e);
		if (e) {
			expect_in(e, "server kgd_admin@");
			if (strchr(e, '\n') != e + strlen(e) - 1)
				fprintf(stderr, "\nnot one line: %s", e);
			CU_ASSERT_EQUAL(strchr(e, '\n'), e + strlen(e) - 1);
		}
	}
	free(e);
	CU_ASSERT_EQUAL_FATAL(pgu_resume(&srv), 0);
	CU_ASSERT(pgu_q(&srv, sql) < 82);  /* some batches were still to go */
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 120), 0);
	expect_same_counts(db_path, src);
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 0);
	expect_in(out, "nothing new");
}

/* Two stations at once, and one station's file twice at once: the second
 * upload of a file waits its turn or is refused, never doubles a row. */
static void test_concurrent_syncs(void)
{
	const char *a = in_dir("cell-a.db"), *b = in_dir("cell-b.db");
	char *sa[] = { STATION, "sync", "--db", (char *)a, "--to", srv.conninfo,
		       "--batch", "1000", NULL };
	char *sb[] = { STATION, "sync", "--db", (char *)b, "--to", srv.conninfo,
		       "--batch", "1000", NULL };
	const char *errs[3] = { in_dir("ca.err"), in_dir("cb.err"),
				in_dir("ca2.err") };
	char src[128];
	int pids[3], rcs[3];

	CU_ASSERT_EQUAL_FATAL(pgu_make_results(a, "cell-a", "LOT-A", 60, 500, 5),
			      0);
	CU_ASSERT_EQUAL_FATAL(pgu_make_results(b, "cell-b", "LOT-B", 60, 500, 6),
			      0);
	pids[0] = tu_spawn(sa, NULL, NULL, errs[0]);
	pids[1] = tu_spawn(sb, NULL, NULL, errs[1]);
	pids[2] = tu_spawn(sa, NULL, NULL, errs[2]);
	for (int i = 0; i < 3; i++)
		rcs[i] = tu_wait(pids[i], 120);
	CU_ASSERT_EQUAL(rcs[1], 0);
	/* the two uploads of a: at least one did it; one refused is fine */
	CU_ASSERT(rcs[0] == 0 || rcs[2] == 0);
	for (int i = 0; i < 3; i += 2)
		if (rcs[i] != 0) {
			char *e = tu_slurp(errs[i], NULL);

			CU_ASSERT_EQUAL(rcs[i], 1);
			if (e)
				expect_in(e, "another sync of");
			free(e);
		}
	CU_ASSERT_EQUAL(sync_as(a, srv.conninfo, 60), 0);
	expect_same_counts(a, src_of(a, src, sizeof(src)));
	expect_same_counts(b, src_of(b, src, sizeof(src)));
	/* and the analyst sees both stations in one report */
	{
		char *rep[] = { STATION, "report", "--from-db", srv.conninfo,
				"--out", (char *)in_dir("rep-ab"), NULL };
		char yield[900];
		char *y;

		CU_ASSERT_EQUAL(tu_run(rep, out, sizeof(out), errbuf,
				       sizeof(errbuf), 60), 0);
		snprintf(yield, sizeof(yield), "%s/yield.csv", in_dir("rep-ab"));
		y = tu_slurp(yield, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(y);
		expect_in(y, "LOT-A,");
		expect_in(y, "LOT-B,");
		free(y);
	}
}

static int sync_env(const char *db_path, const char *conninfo,
		    const char *password, const char *errp)
{
	char *argv[] = { STATION, "sync", "--db", (char *)db_path, "--to",
			 (char *)conninfo, NULL };
	char pw[200];
	const char *env[] = { pw, "PGPASSFILE=/nonexistent", NULL };
	int pid;

	snprintf(pw, sizeof(pw), "PGPASSWORD=%s", password);
	pid = tu_spawn(argv, env, NULL, errp);
	return pid > 0 ? tu_wait(pid, 60) : -1;
}

/* The roles of db/pg_roles.sql: a station inserts and cannot change or
 * read results; an analyst reads and cannot insert. A wrong password, a
 * role without rights and a newer central schema are each one line naming
 * the server (never the password), and the file is left as it was. */
static void test_roles_and_refusals(void)
{
	const char *db_path = in_dir("roles.db"), *errp = in_dir("roles.err");
	char *sqlf = tu_slurp(KGD_SOURCE_DIR "/db/pg_roles.sql", NULL);
	char ci[900], src[128];
	long long marks;
	char *e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sqlf);
	CU_ASSERT_EQUAL(pgu_exec(&srv, sqlf), 0);
	free(sqlf);
	CU_ASSERT_EQUAL_FATAL(pgu_exec(&srv, "CREATE ROLE st1 LOGIN PASSWORD"
				       " 'Stat1onPw' IN ROLE kgd_station;"
				       "CREATE ROLE an1 LOGIN PASSWORD 'Analy5tPw'"
				       " IN ROLE kgd_analyst"), 0);
	CU_ASSERT_EQUAL_FATAL(pgu_make_results(db_path, "cell-r", "LOT-R", 20, 50,
					       9), 0);
	src_of(db_path, src, sizeof(src));

	/* wrong password: one line, the server named, no password */
	CU_ASSERT_EQUAL(sync_env(db_path, pgu_conninfo(&srv, "st1", ci, sizeof(ci)),
				 "WrongPw123", errp), 1);
	e = tu_slurp(errp, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	expect_in(e, "server st1@");
	expect_in(e, "password authentication failed");
	CU_ASSERT_PTR_NULL(strstr(e, "WrongPw123"));
	CU_ASSERT_EQUAL(strchr(e, '\n'), e + strlen(e) - 1);
	free(e);
	marks = sq(db_path, "SELECT count(*) FROM sync_mark");
	CU_ASSERT_EQUAL(marks, 0);

	/* a role without the right to insert */
	CU_ASSERT_EQUAL(sync_env(db_path, pgu_conninfo(&srv, "an1", ci, sizeof(ci)),
				 "Analy5tPw", errp), 1);
	e = tu_slurp(errp, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	expect_in(e, "server an1@");
	expect_in(e, "permission denied");
	CU_ASSERT_PTR_NULL(strstr(e, "Analy5tPw"));
	CU_ASSERT_EQUAL(strchr(e, '\n'), e + strlen(e) - 1);
	free(e);
	CU_ASSERT_EQUAL(sq(db_path, "SELECT count(*) FROM sync_mark"), 0);
	CU_ASSERT_EQUAL(pgu_q(&srv, "SELECT count(*) FROM run WHERE station_id IN"
			      " (SELECT id FROM station WHERE name = 'cell-r')"), 0);

	/* the station's own role: it sends, a screen of the lot too (made by
	 * hand here: the generated lot has no wafers to screen) */
	{
		sqlite3 *h = NULL;

		CU_ASSERT_EQUAL_FATAL(sqlite3_open(db_path, &h), SQLITE_OK);
		CU_ASSERT_EQUAL(sqlite3_exec(h,
			"INSERT INTO screen(lot_id, config_sha256, config_text,"
			" soft_bin, hard_bin, seq, result_sha256, screened_at)"
			" SELECT id, 'c0ffee', 'soft_bin: 90', 90, 9, 1, 'beef',"
			" '2026-12-05T03:00:00.000Z' FROM lot;"
			"INSERT INTO screen_limit(screen_id, method, step, n, k,"
			" screened) VALUES (1, 'spat', 'insertion_loss', 20, 6, 1);"
			"INSERT INTO screen_die(screen_id, part_id, run_id, soft_bin,"
			" hard_bin, reason) SELECT 1, part_id, max(id), 90, 9, 'spat'"
			" FROM run GROUP BY part_id ORDER BY part_id LIMIT 1;",
			NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(h);
	}
	CU_ASSERT_EQUAL(sync_env(db_path, pgu_conninfo(&srv, "st1", ci, sizeof(ci)),
				 "Stat1onPw", errp), 0);
	expect_same_counts(db_path, src);
	expect_same_screens(db_path, src);
	/* it sees which screen versions it sent, and sends none twice */
	CU_ASSERT_EQUAL(sync_env(db_path, pgu_conninfo(&srv, "st1", ci, sizeof(ci)),
				 "Stat1onPw", errp), 0);
	{
		char sql[300];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM screen WHERE %s",
			 src);
		CU_ASSERT_EQUAL(pgu_q(&srv, sql), 1);
	}
	{
		PGconn *c;
		PGresult *r;

		pgu_conninfo(&srv, "st1", ci, sizeof(ci));
		strcat(ci, " password=Stat1onPw");
		c = PQconnectdb(ci);
		CU_ASSERT_EQUAL_FATAL(PQstatus(c), CONNECTION_OK);
		r = PQexec(c, "UPDATE measurement SET value = 0");
		CU_ASSERT_EQUAL(PQresultStatus(r), PGRES_FATAL_ERROR);
		expect_in(PQresultErrorMessage(r), "permission denied");
		PQclear(r);
		r = PQexec(c, "DELETE FROM run");
		CU_ASSERT_EQUAL(PQresultStatus(r), PGRES_FATAL_ERROR);
		expect_in(PQresultErrorMessage(r), "permission denied");
		PQclear(r);
		r = PQexec(c, "SELECT count(*) FROM measurement");
		CU_ASSERT_EQUAL(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		r = PQexec(c, "SELECT config_text FROM screen");
		CU_ASSERT_EQUAL(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		r = PQexec(c, "DELETE FROM screen_die");
		CU_ASSERT_EQUAL(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		/* its own sync state only */
		r = PQexec(c, "SELECT count(DISTINCT by_role) FROM sync_batch");
		CU_ASSERT_EQUAL(PQresultStatus(r), PGRES_TUPLES_OK);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			CU_ASSERT_STRING_EQUAL(PQgetvalue(r, 0, 0), "1");
		PQclear(r);
		PQfinish(c);
	}
	/* the analyst reads the whole fab */
	{
		char *rep[] = { STATION, "report", "-q", "--from-db", ci, "--lot",
				"LOT-R", "--out", (char *)in_dir("rep-an"), NULL };
		const char *env[] = { "PGPASSWORD=Analy5tPw", NULL };
		int pid;

		pgu_conninfo(&srv, "an1", ci, sizeof(ci));
		pid = tu_spawn(rep, env, NULL, errp);
		CU_ASSERT_EQUAL(tu_wait(pid, 60), 0);
	}

	/* a newer central schema: refused, the file untouched */
	marks = sq(db_path, "SELECT sum(last_id) FROM sync_mark");
	CU_ASSERT_EQUAL_FATAL(pgu_exec(&srv, "UPDATE kgd_meta SET value = '99'"
				       " WHERE key = 'schema_version'"), 0);
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 1);
	expect_in(errbuf, "server kgd_admin@");
	expect_in(errbuf, "central schema version 99 is newer");
	CU_ASSERT_EQUAL(strchr(errbuf, '\n'), errbuf + strlen(errbuf) - 1);
	CU_ASSERT_EQUAL(sq(db_path, "SELECT sum(last_id) FROM sync_mark"), marks);
	{
		char setback[100];

		snprintf(setback, sizeof(setback), "UPDATE kgd_meta SET value = '%d'"
			 " WHERE key = 'schema_version'", pgs_schema_version());
		CU_ASSERT_EQUAL(pgu_exec(&srv, setback), 0);
	}
}


/* How many times needle occurs in hay. */
static int count_in(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* `station run --sync` while the server is down for the first part of the
 * lot: the lot runs as fast as without --sync (same run, same simulator,
 * a generous margin for a loaded machine), says once that the server is
 * unreachable, catches up when it returns, and loses nothing. */
static void test_run_sync_server_down(void)
{
	/* 1 ms per command: a lot long enough (about 10 s) for the server
	 * to come back while it runs. */
	const char *args[] = { "--units", "400", "--latency-ms", "1", NULL };
	const char *base = in_dir("base.db"), *live = in_dir("live.db");
	const char *outp = in_dir("live.out"), *errp = in_dir("live.err");
	char *base_argv[] = { STATION, "run", UNIT_SEQ, "--config", NULL, "--db",
			      (char *)base, "--lot", "RBASE", "--units", "250",
			      "-q", NULL };
	char *live_argv[] = { STATION, "run", UNIT_SEQ, "--config", NULL, "--db",
			      (char *)live, "--lot", "RLIVE", "--units", "250",
			      "-q", "--sync", srv.conninfo, NULL };
	tu_vstation vs = { 0 };
	double t0, t_base, t_live;
	char src[128], *o, *e;
	int pid, rc, i;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	base_argv[4] = live_argv[4] = vs.config;
	t0 = now_s();
	rc = tu_run(base_argv, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	t_base = now_s() - t0;
	CU_ASSERT_EQUAL(rc, 0);

	CU_ASSERT_EQUAL_FATAL(pgu_pause(&srv), 0);
	t0 = now_s();
	pid = tu_spawn(live_argv, NULL, outp, errp);
	CU_ASSERT_FATAL(pid > 0);
	for (i = 0; i < 6000 && sq(live, "SELECT count(*) FROM run") < 25; i++)
		usleep(10000);
	CU_ASSERT_EQUAL(pgu_resume(&srv), 0);
	rc = tu_wait(pid, 120);
	t_live = now_s() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	fprintf(stderr, "\n    250 parts: %.1f parts/min without --sync, %.1f "
		"with --sync and the server down for the first part\n",
		250 * 60.0 / t_base, 250 * 60.0 / t_live);
	CU_ASSERT(t_live <= 1.5 * t_base + 2.0);
	e = tu_slurp(errp, NULL);
	o = tu_slurp(outp, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(count_in(e, "cannot connect"), 1);
	expect_in(e, "testing goes on");
	expect_in(e, "answers again");
	expect_in(o, "lot RLIVE: 250 tested");
	expect_in(o, "every part of");
	free(e);
	free(o);
	src_of(live, src, sizeof(src));
	expect_same_counts(live, src);
	CU_ASSERT_EQUAL(sync_as(live, srv.conninfo, 60), 0);
	expect_in(out, "nothing new");
	tu_vstation_stop(&vs);
}

/* kill -9 of the station while its background upload runs, then
 * `--resume --sync`: every part once on the server, none lost. */
static void test_kill9_then_resume(void)
{
	const char *args[] = { "--units", "400", NULL };
	const char *k = in_dir("k9.db");
	char *argv[] = { STATION, "run", UNIT_SEQ, "--config", NULL, "--db",
			 (char *)k, "--lot", "RK9", "--units", "200", "-q",
			 "--sync", srv.conninfo, NULL, NULL };
	tu_vstation vs = { 0 };
	char src[128], sql[300];
	long long on_server = 0;
	int pid, i;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	argv[4] = vs.config;
	pid = tu_spawn(argv, NULL, NULL, NULL);
	CU_ASSERT_FATAL(pid > 0);
	for (i = 0; i < 6000 && sq(k, "SELECT count(*) FROM run") < 1; i++)
		usleep(10000);
	src_of(k, src, sizeof(src));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run WHERE %s", src);
	for (i = 0; i < 6000 && on_server < 30; i++) {
		usleep(10000);
		on_server = pgu_q(&srv, sql);
	}
	CU_ASSERT(on_server >= 30);
	kill(pid, SIGKILL);
	CU_ASSERT_EQUAL(tu_wait(pid, 30), 128 + SIGKILL);
	CU_ASSERT(sq(k, "SELECT count(*) FROM run") < 200);

	argv[14] = "--resume";
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf),
			       120), 0);
	expect_in(out, "every part of");
	CU_ASSERT_EQUAL(sq(k, "SELECT count(DISTINCT part_id) FROM run"), 200);
	expect_same_counts(k, src);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT part_id) FROM run WHERE %s",
		 src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql), 200);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM session_end WHERE %s AND"
		 " status = 'interrupted'", src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql), 1);
	tu_vstation_stop(&vs);
}

/* How long each case took (the suite's share of .ci/run). */
static void timed_start(void)
{
	t_start = now_s();
}

static void timed_end(void)
{
	fprintf(stderr, " [%.1f s] ", now_s() - t_start);
}

/* station report --from-db SERVER --only tests.csv [args] into dir. */
static int tests_only(const char *dir, const char *a1, const char *a2,
		      const char *a3)
{
	char *argv[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			 "--only", "tests.csv", "--out", (char *)dir, (char *)a1,
			 (char *)a2, (char *)a3, NULL };

	return tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 120);
}

static void expect_same_tests(const char *dir_a, const char *dir_b)
{
	char pa[900], pb[900];

	snprintf(pa, sizeof(pa), "%s/tests.csv", dir_a);
	snprintf(pb, sizeof(pb), "%s/tests.csv", dir_b);
	CU_ASSERT_TRUE(same_file(pa, pb));
}

/* tests.csv streamed from the server (--only tests.csv: the server picks
 * the runs, nothing is pulled) against the report of the pulled file, at
 * the end, with every station file of the suite on the server (several
 * lots and stations, retests, a screened lot): the same bytes, final and
 * first pass, with a filter; and a filter that matches nothing fails as
 * the report does. */
static void test_tests_streamed(void)
{
	const char *demo_db = in_dir("demo/results.db");
	char *pull[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			 "--out", (char *)in_dir("st-pull"), NULL };
	char *pull_fp[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			    "--first-pass", "--out", (char *)in_dir("st-pull-fp"),
			    NULL };
	char *local[] = { STATION, "report", "-q", "--db", (char *)demo_db,
			  "--lot", "DEMO1", "--out", (char *)in_dir("st-demo"),
			  NULL };
	long long lines;

	CU_ASSERT_EQUAL(tu_run(pull, out, sizeof(out), errbuf, sizeof(errbuf),
			       120), 0);
	CU_ASSERT_EQUAL(tests_only(in_dir("st-stream"), NULL, NULL, NULL), 0);
	expect_same_tests(in_dir("st-pull"), in_dir("st-stream"));
	CU_ASSERT_EQUAL(tu_run(pull_fp, out, sizeof(out), errbuf, sizeof(errbuf),
			       120), 0);
	CU_ASSERT_EQUAL(tests_only(in_dir("st-stream-fp"), "--first-pass", NULL,
				   NULL), 0);
	expect_same_tests(in_dir("st-pull-fp"), in_dir("st-stream-fp"));
	/* retests make first pass and final differ: the test can tell */
	{
		char pa[900], pb[900];
		size_t la = 0, lb = 0;
		char *x, *y;

		snprintf(pa, sizeof(pa), "%s/tests.csv", in_dir("st-stream"));
		snprintf(pb, sizeof(pb), "%s/tests.csv", in_dir("st-stream-fp"));
		x = tu_slurp(pa, &la);
		y = tu_slurp(pb, &lb);
		CU_ASSERT(x && y && (la != lb || memcmp(x, y, la) != 0));
		lines = 0;
		for (size_t i = 0; x && i < la; i++)
			lines += x[i] == '\n';
		CU_ASSERT(lines > 3);
		/* the appended columns are in the comparison: the pass-only
		 * and log10 block, with a ratio test (lane_ber) read on log10 */
		CU_ASSERT(x && strstr(x, ",pass_mean,") != NULL);
		CU_ASSERT(x && strstr(x, ",pass_log10_cpk\n") != NULL);
		CU_ASSERT(x && strstr(x, ",log10,") != NULL);
		free(x);
		free(y);
	}
	/* one lot of one station file, against that file's own report */
	CU_ASSERT_EQUAL(tu_run(local, out, sizeof(out), errbuf, sizeof(errbuf),
			       120), 0);
	CU_ASSERT_EQUAL(tests_only(in_dir("st-stream-demo"), "--lot", "DEMO1",
				   NULL), 0);
	expect_same_tests(in_dir("st-demo"), in_dir("st-stream-demo"));
	/* nothing matches: an error naming the filter, nothing written */
	CU_ASSERT_EQUAL(tests_only(in_dir("st-none"), "--lot", "NO-SUCH-LOT",
				   NULL), 1);
	expect_in(errbuf, "lot=NO-SUCH-LOT");
	CU_ASSERT_NOT_EQUAL(access(in_dir("st-none/tests.csv"), F_OK), 0);
}

/* The n column of tests.csv's insertion_loss row in dir (-1: none). */
static long long tests_n(const char *d)
{
	char path[900];
	char *x, *row;
	long long n = -1;

	snprintf(path, sizeof(path), "%s/tests.csv", d);
	x = tu_slurp(path, NULL);
	row = x ? strstr(x, "\ninsertion_loss,dB,-4,-1,") : NULL;
	if (row)
		n = atoll(row + strlen("\ninsertion_loss,dB,-4,-1,"));
	free(x);
	return n;
}

/* Set the file's identity before its first sync: the order of files on
 * the server is their uuid order, and this test needs a known one. */
static void set_uuid(const char *db_path, const char *uuid)
{
	sqlite3 *h = NULL;
	char sql[200];

	snprintf(sql, sizeof(sql), "UPDATE sync_source SET uuid = '%s'", uuid);
	CU_ASSERT_EQUAL(sqlite3_open(db_path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/* One lot's report both ways (pulled file and streamed tests.csv), with
 * one more filter: the same tests.csv; the parts counted, from the
 * pulled yield.csv, and 8 times that in the streamed n (8 measurements a
 * part, invalid ones counted too); -1 when nothing matched (both fail). */
static long long twin_report(const char *tag, const char *opt, const char *val)
{
	char pd[700], sd[700], yp[900];
	char *pull[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			 "--lot", "TWIN", "--out", pd, (char *)opt, (char *)val,
			 NULL };
	char *stream[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			   "--only", "tests.csv", "--lot", "TWIN", "--out", sd,
			   (char *)opt, (char *)val, NULL };
	char *y;
	int rp, rs;
	long long parts = -1;

	snprintf(pd, sizeof(pd), "%s-pull", in_dir(tag));
	snprintf(sd, sizeof(sd), "%s-stream", in_dir(tag));
	rp = tu_run(pull, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	rs = tu_run(stream, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	CU_ASSERT_EQUAL(rp, rs);
	if (rp || rs)
		return -1;
	expect_same_tests(pd, sd);
	CU_ASSERT_EQUAL(tests_n(sd) % 8, 0);
	snprintf(yp, sizeof(yp), "%s/yield.csv", pd);
	y = tu_slurp(yp, NULL);
	if (y && strstr(y, "\nTWIN,"))
		parts = atoll(strstr(y, "\nTWIN,") + 6);
	free(y);
	CU_ASSERT_EQUAL(parts * 8, tests_n(sd));
	return parts;
}

/* One part (same lot and serial) tested in two station files on two
 * stations, both on the server. The rule (reports/rpt.h): a part's runs
 * in all the files that tested it are one part's runs; final = the
 * latest of them, first pass = the first, where a later file (uuid
 * order) counts as later; the filters then apply to that run. File A
 * (uuid first, cell-twin-a) tested parts 1-20, file B (cell-twin-b)
 * retested parts 1-10. Final: 1-10 by B, 11-20 by A; first pass: all
 * by A. The pulled report and the streamed tests.csv both say so. */
static void test_part_in_two_files(void)
{
	const char *a = in_dir("twin-a.db"), *b = in_dir("twin-b.db");

	CU_ASSERT_EQUAL_FATAL(pgu_make_results(a, "cell-twin-a", "TWIN", 20, 8,
					       11), 0);
	CU_ASSERT_EQUAL_FATAL(pgu_make_results(b, "cell-twin-b", "TWIN", 10, 8,
					       12), 0);
	set_uuid(a, "00000000000000000000000000000a13");
	set_uuid(b, "ffffffffffffffffffffffffffffb013");
	/* B first: the order of arrival does not matter, the files' does */
	CU_ASSERT_EQUAL_FATAL(sync_as(b, srv.conninfo, 60), 0);
	CU_ASSERT_EQUAL_FATAL(sync_as(a, srv.conninfo, 60), 0);
	CU_ASSERT_EQUAL(twin_report("twin-all", NULL, NULL), 20);
	/* parts 1-10's latest run is B's: not on cell-twin-a */
	CU_ASSERT_EQUAL(twin_report("twin-sa", "--station", "cell-twin-a"), 10);
	CU_ASSERT_EQUAL(twin_report("twin-sb", "--station", "cell-twin-b"), 10);
	/* first pass: A's run for all 20; none first-passed on B */
	CU_ASSERT_EQUAL(twin_report("twin-fp", "--first-pass", NULL), 20);
	{
		char *fa[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			       "--only", "tests.csv", "--lot", "TWIN",
			       "--first-pass", "--station", "cell-twin-a",
			       "--out", (char *)in_dir("twin-fpa"), NULL };
		char *fb[] = { STATION, "report", "-q", "--from-db", srv.conninfo,
			       "--lot", "TWIN", "--first-pass", "--station",
			       "cell-twin-b", "--out", (char *)in_dir("twin-fpb"),
			       NULL };

		CU_ASSERT_EQUAL(tu_run(fa, out, sizeof(out), errbuf,
				       sizeof(errbuf), 120), 0);
		CU_ASSERT_EQUAL(tests_n(in_dir("twin-fpa")), 20 * 8);
		CU_ASSERT_EQUAL(tu_run(fb, out, sizeof(out), errbuf,
				       sizeof(errbuf), 120), 1);
		expect_in(errbuf, "cell-twin-b");
	}
}

/* A value the server's column cannot hold (SQLite keeps text in a REAL
 * column): the upload fails with one line naming the file, table and
 * column, nothing of the file reaches the server and the file records no
 * progress; mended, the file goes whole. */
static void test_value_of_wrong_type(void)
{
	const char *db_path = in_dir("badtype.db");
	char src[128], sql[300];
	sqlite3 *h = NULL;

	CU_ASSERT_EQUAL_FATAL(pgu_make_results(db_path, "cell-bad", "BADTYPE", 3,
					       4, 21), 0);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(db_path, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "UPDATE measurement SET value = 'abc'"
				     " WHERE rowid = (SELECT max(rowid) FROM"
				     " measurement)", NULL, NULL, NULL), SQLITE_OK);
	src_of(db_path, src, sizeof(src));
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 1);
	expect_in(errbuf, "badtype.db: measurement: value is not of the"
		  " server's type");
	CU_ASSERT_EQUAL(strchr(errbuf, '\n'), errbuf + strlen(errbuf) - 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run WHERE %s", src);
	CU_ASSERT_EQUAL(pgu_q(&srv, sql), 0);
	CU_ASSERT_EQUAL(sq(db_path, "SELECT count(*) FROM sync_mark"), 0);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "UPDATE measurement SET value = -3.5"
				     " WHERE typeof(value) = 'text'", NULL, NULL,
				     NULL), SQLITE_OK);
	sqlite3_close(h);
	CU_ASSERT_EQUAL(sync_as(db_path, srv.conninfo, 60), 0);
	expect_same_counts(db_path, src);
}

/* KGD_SYNC_ONLY=<n>: run only the n-th case (1-based), to look at one. */
int cu_register(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "the central schema covers the file's", test_schema_covers_file },
		{ "sync, sync again, report from the server", test_sync_and_report },
		{ "server stopped mid-sync, restarted", test_server_stops_mid_sync },
		{ "two stations and one file twice at once", test_concurrent_syncs },
		{ "roles, wrong password, no rights, newer schema",
		  test_roles_and_refusals },
		{ "run --sync with the server down part of the lot",
		  test_run_sync_server_down },
		{ "kill -9 during a background sync, then --resume",
		  test_kill9_then_resume },
		{ "tests.csv streamed from the server", test_tests_streamed },
		{ "one part in two station files", test_part_in_two_files },
		{ "a value of the wrong type", test_value_of_wrong_type },
	};
	const char *only = getenv("KGD_SYNC_ONLY");
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("sync", suite_init,
		suite_clean, timed_start, timed_end);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!only || atoi(only) == (int)i + 1)
			CU_add_test(s, cases[i].name, cases[i].fn);
	return 0;
}
