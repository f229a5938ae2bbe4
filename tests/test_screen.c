/*
 * tests/test_screen.c - `station screen` (issue 16) through the real
 * binary and real databases:
 *  - dynamic PAT on a TeraPHY lot from kgd-vstation with a planted outlier
 *    (die 3,3 of every wafer 1.2 dB bright, inside the spec), checked
 *    against an independent computation (tests/test_screen_pat.py, Python's
 *    statistics module);
 *  - rerunning the screen changes nothing (every screen row byte for byte);
 *  - GDBN on hand-made maps: a ring of failures (3x3 and 5x5), the wafer
 *    edge, a corner;
 *  - bad screen configs: file:line:col, exit 1, nothing written.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define WAFER_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"

static char dir[512];

static int init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("screen"));
	return 0;
}

static int clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static const char *path_in(const char *name)
{
	static char buf[32][700];
	static int i;

	i = (i + 1) % 32;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* Every row of the screen tables, as text, in id order. */
static char *dump(const char *db)
{
	static const char sql[] =
		"SELECT 'S', id, lot_id, config_sha256, soft_bin, hard_bin, seq,"
		" result_sha256, screened_at, config_text, NULL, NULL FROM screen"
		" UNION ALL SELECT 'L', id, screen_id,"
		" method, wafer_id, step, name, coords, n, median, robust_sigma, k"
		" FROM screen_limit UNION ALL SELECT 'D', id, screen_id, part_id,"
		" run_id, soft_bin, hard_bin, reason, NULL, NULL, NULL, NULL FROM"
		" screen_die";
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);

	if (!out || sqlite3_open(db, &h) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		free(out);
		return NULL;
	}
	out[0] = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *t = (const char *)sqlite3_column_text(st, i);
			size_t n = t ? strlen(t) : 1;

			if (len + n + 2 >= cap) {
				char *nb = realloc(out, cap *= 2);

				if (!nb)
					break;
				out = nb;
			}
			memcpy(out + len, t ? t : "~", n);
			len += n;
			out[len++] = i + 1 == sqlite3_column_count(st) ? '\n' : '|';
			out[len] = 0;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

static long long q(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open(db, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static int screen(const char *db, const char *lot, const char *cfg, char *out,
		  size_t cap, char *errbuf, size_t ecap)
{
	char *argv[] = {STATION, "screen", "--db", (char *)db, "--lot",
			(char *)lot, "--config", (char *)cfg, NULL};
	int rc = tu_run(argv, out, cap, errbuf, ecap, 60);

	if (rc && !strstr(cfg, "bad.yaml"))
		fprintf(stderr, "\nstation screen %s %s: exit %d\n%s%s", lot, cfg,
			rc, out, errbuf);
	return rc;
}

/* ---- dynamic PAT on the virtual station, with a planted outlier -------- */

static void test_planted_outlier(void)
{
	const char *const sim_args[] = {"--product", "teraphy", "--wafers", "2",
					"--die", "40x40", "--time-scale", "0.0002",
					"--lot", "P", "--outlier", "3,3,1.2", NULL};
	const char *db = path_in("pat.db"), *cfg = path_in("pat.yaml");
	char out[4096], errbuf[4096], py[700];
	char *run[] = {STATION, "run", WAFER_SEQ, "--config", NULL, "--db",
		       (char *)db, "--lot", "P", "--wafers", "2", "--quiet", NULL};
	char *pyargv[] = {"/usr/bin/python3", py, (char *)db, "P", "port_power", "3", "3",
			  NULL};
	char *before, *after;
	tu_vstation vs = {0};
	int rc;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	run[4] = vs.config;
	rc = tu_run(run, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	tu_vstation_stop(&vs);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	write_file(cfg, "# port power of every port and wavelength, per wafer\n"
		   "soft_bin: 90\nhard_bin: 9\nmin_samples: 20\n"
		   "dpat:\n  k: 6\n  tests:\n    - step: port_power\n");
	rc = screen(db, "P", cfg, out, sizeof(out), errbuf, sizeof(errbuf));
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "yield 92.19% before"));
	/* the measurements and the run's own bins are untouched */
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM run r JOIN part p ON"
			  " p.id = r.part_id WHERE p.die_x = 3 AND p.die_y = 3"
			  " AND r.status = 'pass' AND r.hard_bin = 1"), 2);
	/* PAT rebins: the planted die of both wafers, soft 90 / hard 9 */
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM screen_die d JOIN part p ON"
			  " p.id = d.part_id WHERE p.die_x = 3 AND p.die_y = 3"
			  " AND d.soft_bin = 90 AND d.hard_bin = 9"), 2);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM screen WHERE length("
			  "config_sha256) = 64"), 1);
	snprintf(py, sizeof(py), "%s/tests/test_screen_pat.py", KGD_SOURCE_DIR);
	rc = tu_run(pyargv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
	if (rc)
		fprintf(stderr, "\n%s%s", out, errbuf);
	else
		fprintf(stderr, "\n%s", out);
	CU_ASSERT_EQUAL(rc, 0);

	/* the same screen again: nothing written, every row as it was */
	before = dump(db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	rc = screen(db, "P", cfg, out, sizeof(out), errbuf, sizeof(errbuf));
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "unchanged"));
	after = dump(db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(before, after);
	free(after);

	/* a k too wide for any outlier: a second screen, the latest */
	write_file(path_in("wide.yaml"), "soft_bin: 90\nhard_bin: 9\n"
		   "dpat:\n  k: 100\n  tests: all\n");
	rc = screen(db, "P", path_in("wide.yaml"), out, sizeof(out), errbuf,
		    sizeof(errbuf));
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM screen"), 2);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM screen_die WHERE screen_id ="
			  " (SELECT id FROM screen ORDER BY seq DESC LIMIT 1)"), 0);
	/* back to the first config: its rows again, now the latest; no third */
	rc = screen(db, "P", cfg, out, sizeof(out), errbuf, sizeof(errbuf));
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM screen"), 2);
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM screen_die WHERE screen_id ="
			  " (SELECT id FROM screen ORDER BY seq DESC LIMIT 1)"), 2);
	free(before);
}

/* ---- the reports of the screened lot ------------------------------------ */

static void test_report_after_screen(void)
{
	const char *db = path_in("pat.db"), *out = path_in("rep");
	char py[700], html[700], stdout_buf[4096], errbuf[8192], *csv;
	char *argv[] = {STATION, "report", "--db", (char *)db, "--out",
			(char *)out, "--html", "--stdf", (char *)path_in("stdf"),
			NULL};
	char *twice[] = {STATION, "report", "--db", (char *)db, "--db",
			 (char *)path_in("gdbn.db"), "--out", (char *)out, NULL};
	char *pyargv[] = {"/usr/bin/python3", py, html, dir, NULL};
	int rc;

	rc = tu_run(argv, stdout_buf, sizeof(stdout_buf), errbuf,
		    sizeof(errbuf), 60);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(stdout_buf, "report.html"));
	/* pre- and post-screen yield: one planted die per wafer */
	csv = tu_slurp(path_in("rep/yield.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, ",screened_passed,"
				      "screened_yield_pct\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nP,64,59,5,92.19,,59,92.19,0,0,"
				      "57,89.06\n"));
	free(csv);
	csv = tu_slurp(path_in("rep/pat_limits.csv"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "lot,wafer,step,name,coords,n,"
				      "median,robust_sigma,k,pat_low,pat_high,"
				      "spec_low,spec_high,outliers,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "\nP,P-W01,port_power,,"));
	free(csv);
	/* the manifest lists every file, report.html and pat_limits.csv too */
	csv = tu_slurp(path_in("rep/report.sha256"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "  report.html\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "  pat_limits.csv\n"));
	free(csv);
	/* STDF: final bins, read back against the database and the screen */
	snprintf(py, sizeof(py), "%s/tests/stdf_read.py", KGD_SOURCE_DIR);
	{
		char *sargv[] = {"/usr/bin/python3", py,
				 (char *)path_in("stdf/P_P-W01.stdf"), "--db",
				 (char *)db, "--lot", "P", "--wafer", "P-W01",
				 NULL};

		rc = tu_run(sargv, stdout_buf, sizeof(stdout_buf), errbuf,
			    sizeof(errbuf), 60);
		if (rc)
			fprintf(stderr, "\n%s%s", stdout_buf, errbuf);
		CU_ASSERT_EQUAL(rc, 0);
	}
	/* the wafer pictures: the prober's map geometry, asked through the
	 * driver (map:get_*) and stored on each wafer row, drawn and checked
	 * by tests/test_wafer_svg.py; report.html's maps are the same */
	CU_ASSERT_EQUAL(q(db, "SELECT count(*) FROM wafer WHERE map_diameter_mm ="
			  " 300 AND map_die_w_um = 40000 AND map_die_h_um = 40000"
			  " AND map_cols = 8 AND map_rows = 8 AND map_edge_mm = 3"
			  " AND map_notch_deg = 270"), 2);
	snprintf(py, sizeof(py), "%s/tests/test_wafer_svg.py", KGD_SOURCE_DIR);
	{
		char *wargv[] = {"/usr/bin/python3", py, (char *)db,
				 (char *)out, NULL};

		rc = tu_run(wargv, stdout_buf, sizeof(stdout_buf), errbuf,
			    sizeof(errbuf), 60);
		if (rc)
			fprintf(stderr, "\n%s%s", stdout_buf, errbuf);
		CU_ASSERT_EQUAL(rc, 0);
	}
	csv = tu_slurp(path_in("rep/wafermap_P_P-W01.svg"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "prober map: 300 mm wafer, die 40.000 x"
				      " 40.000 mm, 8 x 8 grid, edge 3.0 mm, notch"
				      " at 270 deg; 0 untested sites"));
	free(csv);
	/* real Chromium: no console message, a screenshot that is not blank */
	snprintf(py, sizeof(py), "%s/tests/test_report_html.py", KGD_SOURCE_DIR);
	snprintf(html, sizeof(html), "%s/rep/report.html", dir);
	rc = tu_run(pyargv, stdout_buf, sizeof(stdout_buf), errbuf,
		    sizeof(errbuf), 120);
	fprintf(stderr, "\n%s%s", stdout_buf, rc ? errbuf : "");
	CU_ASSERT_EQUAL(rc, 0);
	/* two databases: refused, naming both, nothing written */
	rc = tu_run(twice, stdout_buf, sizeof(stdout_buf), errbuf,
		    sizeof(errbuf), 60);
	CU_ASSERT_EQUAL(rc, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "--db given twice"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "gdbn.db"));
}

/* ---- GDBN on hand-made maps --------------------------------------------- */

/* One die of a hand-made map: pass or fail by the map's character. */
static int add_die(db *d, const char *lot, int x, int y, int pass)
{
	db_run_info info = {
		.station = "st", .host = "h", .lot = lot, .wafer = "W1",
		.die_x = x, .die_y = y, .has_xy = 1, .seq_name = "s",
		.seq_version = 1, .seq_sha256 = "s1", .seq_text = "t",
	};
	db_measurement m = { .step = "power", .unit = "dBm", .value = 0.5 * x,
			     .value_valid = 1, .low = -6, .high = 6,
			     .has_low = 1, .has_high = 1, .pass = pass };
	kgd_err err = { 0 };
	int64_t id;

	if (db_run_begin(d, &info, &id, &err) ||
	    db_measurement_add(d, id, &m, &err))
		return -1;
	return pass ? db_run_commit(d, id, DB_STATUS_PASS, 1, 1, NULL, &err)
		    : db_run_commit(d, id, DB_STATUS_FAIL, 5, 50, "power", &err);
}

/* map: rows top (y = 0) down, 'o' pass, 'x' fail, ' ' no die. */
static int add_map(db *d, const char *lot, const char *const rows[])
{
	for (int y = 0; rows[y]; y++)
		for (int x = 0; rows[y][x]; x++)
			if (rows[y][x] != ' ' &&
			    add_die(d, lot, x, y, rows[y][x] == 'o'))
				return -1;
	return 0;
}

/* "x,y x,y" of the dies the lot's latest screen rejects, by x then y. */
static void rejected(const char *dbp, const char *lot, char *out, size_t cap)
{
	char sql[512];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	out[0] = 0;
	snprintf(sql, sizeof(sql), "SELECT p.die_x, p.die_y FROM screen_die d"
		 " JOIN part p ON p.id = d.part_id JOIN screen s ON s.id ="
		 " d.screen_id JOIN lot l ON l.id = s.lot_id WHERE l.name = '%s'"
		 " AND d.reason LIKE 'gdbn %%' AND s.seq = (SELECT max(seq) FROM"
		 " screen WHERE lot_id = s.lot_id) ORDER BY 1, 2", lot);
	if (sqlite3_open(dbp, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW)
			snprintf(out + strlen(out), cap - strlen(out), "%s%d,%d",
				 out[0] ? " " : "", sqlite3_column_int(st, 0),
				 sqlite3_column_int(st, 1));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static void test_gdbn_maps(void)
{
	/* a ring of 8 failures round (2,2) */
	static const char *const ring[] = {
		"ooooo", "oxxxo", "oxoxo", "oxxxo", "ooooo", NULL };
	/* the right edge: (6,2) has 5 dies round it, all failing; the
	 * corner (0,0) has 3, all failing */
	static const char *const edge[] = {
		"oxooooo", "xxoooxx", "ooooxxo", "oooooxx", "ooooooo", NULL };
	/* a corner: (0,0) has 3 neighbours, all failing */
	static const char *const corner[] = {
		"oxooo", "xxooo", "ooooo", "ooooo", NULL };
	const char *dbp = path_in("gdbn.db");
	char out[4096], errbuf[4096], got[512];
	kgd_err err = { 0 };
	db *d = NULL;

	CU_ASSERT_EQUAL_FATAL(db_open(dbp, &d, &err), KGD_OK);
	{
		/* ring5 written explicitly: 7x7, (3,3) passes, the square two
		 * out fails, everything else passes */
		static const char *const r5[] = {
			"ooooooo", "oxxxxxo", "oxoooxo", "oxoooxo", "oxoooxo",
			"oxxxxxo", "ooooooo", NULL };

		CU_ASSERT_EQUAL_FATAL(add_map(d, "RING5", r5), 0);
	}
	CU_ASSERT_EQUAL_FATAL(add_map(d, "RING", ring), 0);
	CU_ASSERT_EQUAL_FATAL(add_map(d, "EDGE", edge), 0);
	CU_ASSERT_EQUAL_FATAL(add_map(d, "CORNER", corner), 0);
	db_close(d);

	write_file(path_in("g8.yaml"), "soft_bin: 91\nhard_bin: 9\ngdbn:\n"
		   "  neighbourhood: 3x3\n  min_bad: 8\n");
	CU_ASSERT_EQUAL(screen(dbp, "RING", path_in("g8.yaml"), out, sizeof(out),
			       errbuf, sizeof(errbuf)), 0);
	rejected(dbp, "RING", got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "2,2");
	CU_ASSERT_EQUAL(q(dbp, "SELECT count(*) FROM screen_die WHERE reason ="
			  " 'gdbn 8 of 8 neighbours fail (3x3)' AND soft_bin = 91"),
			1);

	/* 5x5: (3,3) sees all 16; under 3x3 it sees none */
	write_file(path_in("g16.yaml"), "soft_bin: 91\nhard_bin: 9\ngdbn:\n"
		   "  neighbourhood: 5x5\n  min_bad: 16\n");
	CU_ASSERT_EQUAL(screen(dbp, "RING5", path_in("g16.yaml"), out,
			       sizeof(out), errbuf, sizeof(errbuf)), 0);
	rejected(dbp, "RING5", got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "3,3");
	CU_ASSERT_EQUAL(screen(dbp, "RING5", path_in("g8.yaml"), out,
			       sizeof(out), errbuf, sizeof(errbuf)), 0);
	rejected(dbp, "RING5", got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "");

	/* the edge: 5 of 5 existing rejects (6,2) at N = 5; the corner's 3
	 * of 3 do not reach 5 - a missing site is not a failing one */
	write_file(path_in("g5.yaml"), "soft_bin: 91\nhard_bin: 9\ngdbn:\n"
		   "  min_bad: 5\n");
	CU_ASSERT_EQUAL(screen(dbp, "EDGE", path_in("g5.yaml"), out, sizeof(out),
			       errbuf, sizeof(errbuf)), 0);
	rejected(dbp, "EDGE", got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "6,2");

	/* the corner at N = 3: 3 of its 3 */
	write_file(path_in("g3.yaml"), "soft_bin: 91\nhard_bin: 9\ngdbn:\n"
		   "  min_bad: 3\n");
	CU_ASSERT_EQUAL(screen(dbp, "CORNER", path_in("g3.yaml"), out,
			       sizeof(out), errbuf, sizeof(errbuf)), 0);
	rejected(dbp, "CORNER", got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, "0,0");
}

/* ---- bad configs --------------------------------------------------------- */

static void test_bad_config(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"soft_bin: 90\nhard_bin: 9\ndpat:\n  k: 6\n  tests: all\n"
		 "  kk: 3\n", "bad.yaml:6:3: "},
		{"soft_bin: 90\nhard_bin: 9\ndpat:\n  k: -1\n  tests: all\n",
		 "bad.yaml:4:6: k must be above 0"},
		{"soft_bin: 90\nhard_bin: 9\ngdbn:\n  neighbourhood: 4x4\n"
		 "  min_bad: 3\n", "bad.yaml:4:18: neighbourhood must be"},
		{"soft_bin: 90\nhard_bin: 9\n", "bad.yaml:1:1: a screen config "
		 "needs at least one"},
		{"soft_bin: 90\nhard_bin: 70000\ngdbn: {min_bad: 3}\n",
		 "bad.yaml:2:11: "},
		{"soft_bin: 90\nhard_bin: 9\nstatic_pat: {k: 6, tests: all,"
		 " lots: [NOPE]}\n", "static PAT reference lot 'NOPE'"},
	};
	const char *dbp = path_in("gdbn.db"), *cfg = path_in("bad.yaml");
	char out[4096], errbuf[4096];
	long long n = q(dbp, "SELECT count(*) FROM screen");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(cfg, cases[i].text);
		CU_ASSERT_EQUAL(screen(dbp, "RING", cfg, out, sizeof(out), errbuf,
				       sizeof(errbuf)), 1);
		if (!strstr(errbuf, cases[i].want))
			fprintf(stderr, "\ncase %zu: want '%s' in: %s", i,
				cases[i].want, errbuf);
		CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, cases[i].want));
	}
	CU_ASSERT_EQUAL(q(dbp, "SELECT count(*) FROM screen"), n);
	/* an unknown lot, a missing database: exit 1, named */
	write_file(cfg, "soft_bin: 90\nhard_bin: 9\ngdbn: {min_bad: 3}\n");
	CU_ASSERT_EQUAL(screen(dbp, "NOLOT", cfg, out, sizeof(out), errbuf,
			       sizeof(errbuf)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "no lot named 'NOLOT'"));
	CU_ASSERT_EQUAL(screen(path_in("none.db"), "RING", cfg, out, sizeof(out),
			       errbuf, sizeof(errbuf)), 1);
	CU_ASSERT_EQUAL(access(path_in("none.db"), F_OK), -1);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("screen", init, clean);

	if (!s)
		return -1;
	CU_add_test(s, "planted outlier, independent PAT, rerun", test_planted_outlier);
	CU_add_test(s, "yield, pat_limits, STDF, report.html in Chromium",
		    test_report_after_screen);
	CU_add_test(s, "GDBN ring, 5x5, edge, corner", test_gdbn_maps);
	CU_add_test(s, "bad screen configs", test_bad_config);
	return 0;
}
