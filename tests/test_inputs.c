/*
 * tests/test_inputs.c - inputs that used to break later stages, through the
 * real `station` binary (issue 19, item 8). The command-line and YAML cases
 * with a fixed message are in tests/corpus/ (test_corpus.c); here are the
 * ones that need a running virtual station, stdin, the environment, a
 * generated file or a clock:
 *  - a serial number on stdin with a NUL ("SN\0HIDDEN" used to be stored
 *    as "SN") or too long stops the lot naming the line; the parts before
 *    stay, nothing of the bad line is stored, the session is 'error';
 *  - a wafer id from the prober with a control character stops the lot
 *    before any die of that wafer;
 *  - the longest lot name still gives every report and STDF file;
 *  - an operator name from $USER is checked like --operator;
 *  - YAML nested 100,000 levels deep is refused at once (it took 20-40 s),
 *    64 levels are allowed, 65 are not;
 *  - the 16 MiB file cap is 16 MiB (files up to 32 MiB went through).
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define ELSFP_SEQ KGD_SOURCE_DIR "/sequences/elsfp-module.yaml"
#define WAFER_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"
#define YU_MAX_FILE (16L * 1024 * 1024)

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("inputs"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The first column of the first row of sql, as text ("" for no row). */
static void q_text(const char *db, const char *sql, char *v, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(v, cap, "(error)");
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);

			snprintf(v, cap, "%s", t ? (const char *)t : "(null)");
		} else {
			v[0] = '\0';
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* Run argv with stdin from the n bytes at in; stderr into errbuf. Returns
 * the exit status, or -1. */
static int run_stdin(char *const argv[], const char *in, size_t n)
{
	char in_path[700], err_path[700];
	int status = -1, pid;
	FILE *f;
	size_t len;

	snprintf(in_path, sizeof(in_path), "%s/stdin", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	f = fopen(in_path, "wb");
	if (!f)
		return -1;
	fwrite(in, 1, n, f);
	fclose(f);
	pid = fork();
	if (pid == 0) {
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int i = open(in_path, O_RDONLY);
		int o = open("/dev/null", O_WRONLY);

		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	status = tu_wait(pid, 60);
	{
		char *text = tu_slurp(err_path, &len);

		snprintf(errbuf, sizeof(errbuf), "%s", text ? text : "");
		free(text);
	}
	return status;
}

/* The last line of errbuf (the error line after any progress notes). */
static const char *last_line(void)
{
	size_t n = strlen(errbuf);
	const char *p;

	if (n && errbuf[n - 1] == '\n')
		n--;
	for (p = errbuf + n; p > errbuf && p[-1] != '\n'; p--)
		;
	return p;
}

/* ---- serial numbers on stdin ------------------------------------------- */

static void test_stdin_serials(void)
{
	const char *const sim_args[] = {"--product", "elsfp", "--units", "4", NULL};
	char db[700], v[256];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", NULL, "--db", db,
			"--lot", "NUL", "--quiet", NULL};
	static const char nul_in[] = "SN1\nSN\0HIDDEN\nSN3\n";
	char long_in[200];
	tu_vstation vs = {0};
	int rc;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	argv[4] = vs.config;

	/* SN\0HIDDEN: the lot stops at line 2, SN1 stays, nothing of
	 * line 2 (no part "SN") nor of line 3. */
	snprintf(db, sizeof(db), "%s/nul.db", dir);
	rc = run_stdin(argv, nul_in, sizeof(nul_in) - 1);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_STRING_EQUAL(last_line(), "station: stdin line 2: the serial "
			       "number 'SN\\x00HIDDEN' holds a control character "
			       "(\\x00 at byte 3)\n");
	q_text(db, "SELECT group_concat(serial, ',') FROM (SELECT serial FROM"
	       " part ORDER BY id)", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "SN1");
	q_text(db, "SELECT count(*) FROM run", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "1");
	q_text(db, "SELECT status FROM session", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "error");

	/* A first line of 129 bytes: no part at all. */
	snprintf(db, sizeof(db), "%s/long.db", dir);
	memset(long_in, 'S', 129);
	long_in[129] = '\n';
	rc = run_stdin(argv, long_in, 130);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_STRING_EQUAL(last_line(), "station: stdin line 1: the serial "
			       "number is 129 bytes long; at most 128 are allowed\n");
	q_text(db, "SELECT count(*) FROM part", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "0");

	/* A tab inside a serial (trailing blanks and CR/LF are line ends). */
	snprintf(db, sizeof(db), "%s/tab.db", dir);
	rc = run_stdin(argv, "A\tB \r\n", 6);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_STRING_EQUAL(last_line(), "station: stdin line 1: the serial "
			       "number 'A\\x09B' holds a control character "
			       "(\\x09 at byte 2)\n");

	/* Good lines still make a lot, ended by the empty line. */
	snprintf(db, sizeof(db), "%s/good.db", dir);
	rc = run_stdin(argv, "S-1 \r\n\xc3\xa9t\xc3\xa9\n\nignored\n", 18);
	CU_ASSERT_EQUAL(rc, 0);
	q_text(db, "SELECT group_concat(serial, ',') FROM (SELECT serial FROM"
	       " part ORDER BY id)", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "S-1,\xc3\xa9t\xc3\xa9");
	tu_vstation_stop(&vs);
}

/* ---- names from the prober and the longest names in reports ------------ */

static void test_wafer_id_from_prober(void)
{
	const char *const sim_args[] = {"--product", "teraphy", "--wafers", "1",
					"--die", "40x40", "--time-scale", "0.0002",
					"--lot", "A\tB", NULL};
	char db[700], v[64], want[512];
	char *argv[] = {STATION, "run", WAFER_SEQ, "--config", NULL, "--db", db,
			"--lot", "L", "--wafers", "1", "--quiet", NULL};
	tu_vstation vs = {0};
	int rc;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	argv[4] = vs.config;
	snprintf(db, sizeof(db), "%s/wafer.db", dir);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "station: prober (%s): load slot 1: the "
		 "wafer id 'A\\x09B-W01' holds a control character (\\x09 at "
		 "byte 2)\n", tu_vstation_uri(&vs, "prober"));
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	q_text(db, "SELECT count(*) FROM wafer", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "0");
	q_text(db, "SELECT count(*) FROM run", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "0");
	tu_vstation_stop(&vs);
}

/* A lot name of the longest length allowed (64) on a wafer: the report and
 * STDF file names built from it stay writable. (300 used to be accepted
 * and then broke every report; tests/corpus/cli.txt has it refused.) */
static void test_longest_lot_reports(void)
{
	const char *const sim_args[] = {"--product", "teraphy", "--wafers", "1",
					"--die", "40x40", "--time-scale", "0.0002",
					NULL};
	char db[700], rdir[700], sdir[700], lot[65], path[1200];
	char *run[] = {STATION, "run", WAFER_SEQ, "--config", NULL, "--db", db,
		       "--lot", lot, "--wafers", "1", "--quiet", NULL};
	char *report[] = {STATION, "report", "--db", db, "--out", rdir, "--stdf",
			  sdir, "--quiet", NULL};
	tu_vstation vs = {0};
	int rc;

	memset(lot, 'L', 64);
	lot[64] = '\0';
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	run[4] = vs.config;
	snprintf(db, sizeof(db), "%s/longest.db", dir);
	snprintf(rdir, sizeof(rdir), "%s/longest-csv", dir);
	snprintf(sdir, sizeof(sdir), "%s/longest-stdf", dir);
	rc = tu_run(run, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	if (rc != 0)
		fprintf(stderr, "\n  run: exit %d\n%s", rc, errbuf);
	CU_ASSERT_EQUAL(rc, 0);
	tu_vstation_stop(&vs);
	rc = tu_run(report, out, sizeof(out), errbuf, sizeof(errbuf), 60);
	if (rc != 0)
		fprintf(stderr, "\n  report: exit %d\n%s", rc, errbuf);
	CU_ASSERT_EQUAL(rc, 0);
	snprintf(path, sizeof(path), "%s/wafermap_%s_LOT1-W01.svg", rdir, lot);
	CU_ASSERT_TRUE(exists(path));
	snprintf(path, sizeof(path), "%s/%s_LOT1-W01.stdf", sdir, lot);
	CU_ASSERT_TRUE(exists(path));
}

/* $USER is the operator when --operator is not given: checked the same. */
static void test_operator_from_env(void)
{
	char cfg[700], db[700], err_path[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "L", "--units", "1", NULL};
	const char *const bad_env[] = {"USER=a\nb", NULL};
	const char *const empty_env[] = {"USER=", NULL};
	FILE *f;
	char *text;
	int pid;

	snprintf(cfg, sizeof(cfg), "%s/unreachable.yaml", dir);
	snprintf(db, sizeof(db), "%s/never.db", dir);
	snprintf(err_path, sizeof(err_path), "%s/env.stderr", dir);
	f = fopen(cfg, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("station: inputs\ninstruments:\n"
	      "  pm: {driver: keysight-n774x, uri: \"tcp://127.0.0.1:1\"}\n"
	      "  laser: {driver: elsfp-cmis, uri: \"tcp://127.0.0.1:1\"}\n", f);
	fclose(f);

	pid = tu_spawn(argv, bad_env, NULL, err_path);
	CU_ASSERT_EQUAL(tu_wait(pid, 30), 2);
	text = tu_slurp(err_path, NULL);
	CU_ASSERT_STRING_EQUAL(text ? text : "", "station run: $USER: the "
			       "operator name 'a\\x0ab' holds a control character "
			       "(\\x0a at byte 2); give --operator\n"
			       "(see `station run --help`)\n");
	free(text);
	CU_ASSERT_FALSE(exists(db));

	/* An empty $USER is no operator, as an unset one: the run goes on
	 * (to the unreachable instruments). */
	pid = tu_spawn(argv, empty_env, NULL, err_path);
	CU_ASSERT_EQUAL(tu_wait(pid, 30), 1);
	text = tu_slurp(err_path, NULL);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "Connection refused") : NULL);
	free(text);
}

/* ---- YAML: nesting depth and file size --------------------------------- */

/* "main: " and depth '[' then as many ']' (a sequence nested that deep). */
static void write_nested(const char *path, long depth)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	fputs("sequence: deep\nversion: 1\nmain: ", f);
	for (long i = 0; i < depth; i++)
		fputc('[', f);
	for (long i = 0; i < depth; i++)
		fputc(']', f);
	fputc('\n', f);
	fclose(f);
}

static void test_yaml_depth(void)
{
	char path[700], want[2048];
	char *argv[] = {STATION, "check", path, NULL};
	double t0, took;
	int rc;

	/* 100,000 levels in 200 KB: refused at once (took 19-40 s). */
	snprintf(path, sizeof(path), "%s/deep100k.yaml", dir);
	write_nested(path, 100000);
	t0 = now_s();
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	took = now_s() - t0;
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "%s:3:70: lists and mappings nested deeper "
		 "than 64 levels\n%s: 1 problem\n", path, path);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	if (took >= 2.0)
		fprintf(stderr, "\n  100,000 levels took %.1f s ", took);
	CU_ASSERT_TRUE(took < 2.0);

	/* The top mapping is level 1: 64 lists in it are 65 levels, the same
	 * one error at the 64th '['; 63 lists are no depth problem (the file
	 * then fails on what main holds, not on its depth). */
	snprintf(path, sizeof(path), "%s/deep65.yaml", dir);
	write_nested(path, 64);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "%s:3:70: lists and mappings nested deeper "
		 "than 64 levels\n%s: 1 problem\n", path, path);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	snprintf(path, sizeof(path), "%s/deep64.yaml", dir);
	write_nested(path, 63);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NULL(strstr(errbuf, "nested deeper"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "deep64.yaml:3:"));
}

/* A file of n bytes of YAML comment lines (no document: "the file is
 * empty" once it is read). */
static void write_comments(const char *path, long n)
{
	static char line[1024];
	FILE *f = fopen(path, "w");
	long left = n;

	if (!f)
		return;
	memset(line, 'x', sizeof(line));
	line[0] = '#';
	line[sizeof(line) - 1] = '\n';
	while (left > 0) {
		long k = left < (long)sizeof(line) ? left : (long)sizeof(line);

		fwrite(line + sizeof(line) - (size_t)k, 1, (size_t)k, f);
		left -= k;
	}
	fclose(f);
}

static void test_yaml_size_cap(void)
{
	static const long sizes[] = {YU_MAX_FILE, YU_MAX_FILE + 1,
				     YU_MAX_FILE + YU_MAX_FILE / 2};
	char path[700], want[2048];
	char *argv[] = {STATION, "check", path, NULL};

	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct stat st;
		int rc;

		write_comments(path, sizes[i]);
		CU_ASSERT_TRUE_FATAL(stat(path, &st) == 0 && st.st_size == sizes[i]);
		rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
		CU_ASSERT_EQUAL(rc, 1);
		if (i == 0)
			snprintf(want, sizeof(want), "%s:1:1: the file is empty\n"
				 "%s: 1 problem\n", path, path);
		else
			snprintf(want, sizeof(want), "%s: file too large (over "
				 "16777216 bytes)\n%s: 1 problem\n", path, path);
		if (strcmp(errbuf, want) != 0)
			fprintf(stderr, "\n  %ld bytes: got\n%s", sizes[i], errbuf);
		CU_ASSERT_STRING_EQUAL(errbuf, want);
	}
	unlink(path);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("inputs", suite_init, suite_clean);

	CU_add_test(s, "serial numbers on stdin", test_stdin_serials);
	CU_add_test(s, "wafer id from the prober", test_wafer_id_from_prober);
	CU_add_test(s, "longest lot name in reports", test_longest_lot_reports);
	CU_add_test(s, "operator from $USER", test_operator_from_env);
	CU_add_test(s, "YAML nesting depth", test_yaml_depth);
	CU_add_test(s, "YAML file size cap", test_yaml_size_cap);
	return 0;
}
