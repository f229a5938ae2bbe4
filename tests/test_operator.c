/*
 * tests/test_operator.c - integration (issue 15): the operator's terminal,
 * through the real `station run` against kgd-vstation. The terminal cases
 * run the station on a pseudo-terminal (forkpty), as an operator's shell
 * does, and answer its prompts there; the piped cases run it as the other
 * tests and scripts do.
 *
 * What it holds the station to: the operator id asked for on a terminal
 * and recorded; the prompt layout (a question on a line of its own,
 * "[yes]: "); the heartbeat redrawn in place and the wafer summary; piped
 * output one line per part with no control characters; the lot yield
 * right across --resume (against the database, counted as the reports
 * count it); the retest notice; the abort message's cell state and a
 * resume command that, run as printed, finishes the lot; the wafer id /
 * lot mismatch refused on a "no", passed with --yes.
 *
 * Invariant: every station and simulator a test starts is killed if it
 * outlives its bound and reaped; the suite leaves no process behind.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
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
#define TERAPHY_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"
/* Dies of the virtual prober's map, along its first rows. */
#define DIES3 "21,1;20,1;19,1"

static char dir[512];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("operator"));
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

/* ---- a program on a pseudo-terminal ---------------------------------------- */

typedef struct pty_proc {
	int pid, fd;
	char out[1 << 18];
	size_t n;
} pty_proc;

/* env: "NAME=VALUE" set, "NAME" unset, in the child. */
static int pty_start(pty_proc *p, char *const argv[], const char *const *env)
{
	struct winsize ws = {40, 160, 0, 0};

	p->n = 0;
	p->out[0] = '\0';
	p->pid = forkpty(&p->fd, NULL, NULL, &ws);
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		for (size_t i = 0; env && env[i]; i++) {
			const char *eq = strchr(env[i], '=');

			if (eq) {
				char name[64];

				snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]),
					 env[i]);
				setenv(name, eq + 1, 1);
			} else {
				unsetenv(env[i]);
			}
		}
		if (chdir(dir) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return 0;
}

/* Read what is there within wait_s; 0 at end of output. */
static int pty_pump(pty_proc *p, double wait_s)
{
	struct pollfd pfd = {p->fd, POLLIN, 0};
	ssize_t r;

	if (poll(&pfd, 1, (int)(wait_s * 1000)) <= 0)
		return 1;
	if (p->n + 1 >= sizeof(p->out))
		p->n = 0;   /* a runaway: keep the tail */
	r = read(p->fd, p->out + p->n, sizeof(p->out) - 1 - p->n);
	if (r <= 0)
		return 0;   /* EIO: the child closed its side */
	p->n += (size_t)r;
	p->out[p->n] = '\0';
	return 1;
}

/* Wait for needle to appear after offset `from`; its offset or -1. */
static long pty_expect(pty_proc *p, const char *needle, size_t from,
		       double timeout_s)
{
	double end = now_s() + timeout_s;

	for (;;) {
		const char *hit = from <= p->n ? strstr(p->out + from, needle) : NULL;

		if (hit)
			return hit - p->out;
		if (now_s() > end || !pty_pump(p, 0.1))
			return -1;
	}
}

static void pty_send(pty_proc *p, const char *s)
{
	if (write(p->fd, s, strlen(s)) < 0)
		CU_FAIL("write to the pty");
}

/* Read to the end, reap; the exit status, 128+signal, -1 on timeout. */
static int pty_finish(pty_proc *p, double timeout_s)
{
	double end = now_s() + timeout_s;
	int st, rc = -1;

	while (now_s() < end && pty_pump(p, 0.1))
		;
	while (now_s() < end) {
		pid_t w = waitpid(p->pid, &st, WNOHANG);

		if (w == p->pid) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		pty_pump(p, 0.05);
	}
	if (rc == -1) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
	}
	close(p->fd);
	return rc;
}

/* ---- the database ---------------------------------------------------------- */

static int q_text(const char *db, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int ok = -1;

	buf[0] = '\0';
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		snprintf(buf, cap, "%s", sqlite3_column_text(st, 0)
			 ? (const char *)sqlite3_column_text(st, 0) : "");
		ok = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return ok;
}

static long q_int(const char *db, const char *sql)
{
	char buf[64];

	return q_text(db, sql, buf, sizeof(buf)) ? -1 : atol(buf);
}

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

/* ---- unit process: the operator id, the prompt layout ----------------------- */

static const char prompt_seq[] =
	"sequence: ui-prompt\n"
	"version: 1\n"
	"product: ELSFP-8\n"
	"process: unit\n"
	"roles: [pm]\n"
	"main:\n"
	"  - step: pm.optical_power\n"
	"    name: port_power\n"
	"    sweep: {port: 1..2, wavelength_nm: [1310.0]}\n"
	"    limits: {low: -60.0, high: 20.0, unit: dBm}\n"
	"  - step: prompt\n"
	"    name: visual\n"
	"    params: {text: \"Fiber seated?\", expect: yes}\n"
	"    on_fail: {bin: 4}\n"
	"bins:\n"
	"  1: {name: PASS, pass: true}\n"
	"  4: {name: VISUAL}\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void test_operator_asked(void)
{
	static const char *const no_user[] = {"USER", NULL};
	static const char *const args[] = {"--product", "elsfp", NULL};
	char db[600], db2[600], buf[128];
	tu_vstation vs;
	pty_proc *p = calloc(1, sizeof(*p));
	long at;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	path_in(db, sizeof(db), "op.db");
	{
		char *argv[] = {STATION, "run", KGD_SOURCE_DIR
				"/sequences/elsfp-module.yaml", "--config", vs.config,
				"--db", db, "--lot", "OPL", "--units", "1", NULL};

		CU_ASSERT_EQUAL_FATAL(pty_start(p, argv, no_user), 0);
		/* No --operator, no $USER: asked; an empty answer is no id. */
		at = pty_expect(p, "operator id: ", 0, 10);
		CU_ASSERT(at >= 0);
		pty_send(p, "\n");
		at = pty_expect(p, "an operator id is required", (size_t)(at + 1), 10);
		CU_ASSERT(at >= 0);
		at = pty_expect(p, "operator id: ", (size_t)(at + 1), 10);
		CU_ASSERT(at >= 0);
		pty_send(p, "alice\n");
		CU_ASSERT_EQUAL(pty_finish(p, 60), 0);
	}
	CU_ASSERT_EQUAL(q_text(db, "SELECT group_concat(o.name) FROM run r JOIN "
			       "operator o ON o.id = r.operator_id", buf,
			       sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "alice");

	/* Three times nothing: refused before anything is opened or written. */
	path_in(db2, sizeof(db2), "op-none.db");
	{
		char *argv[] = {STATION, "run", KGD_SOURCE_DIR
				"/sequences/elsfp-module.yaml", "--config", vs.config,
				"--db", db2, "--lot", "OPL", "--units", "1", NULL};

		CU_ASSERT_EQUAL_FATAL(pty_start(p, argv, no_user), 0);
		at = 0;
		for (int i = 0; i < 3; i++) {
			at = pty_expect(p, "operator id: ", (size_t)at, 10);
			CU_ASSERT(at >= 0);
			if (at < 0)
				break;
			at++;
			pty_send(p, "\n");
		}
		CU_ASSERT_EQUAL(pty_finish(p, 30), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "give --operator ID"));
	}
	CU_ASSERT_NOT_EQUAL(access(db2, F_OK), 0);
	tu_vstation_stop(&vs);
	free(p);
}

static void test_prompt_layout(void)
{
	static const char *const args[] = {"--product", "elsfp", NULL};
	char db[600], seq[600];
	tu_vstation vs;
	pty_proc *p = calloc(1, sizeof(*p));
	long at, at2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	path_in(db, sizeof(db), "prompt.db");
	path_in(seq, sizeof(seq), "prompt.yaml");
	write_file(seq, prompt_seq);
	{
		/* Serials from the terminal: the serial prompt, then the step's. */
		char *argv[] = {STATION, "run", seq, "--config", vs.config, "--db", db,
				"--lot", "PRL", "--operator", "bob", NULL};

		CU_ASSERT_EQUAL_FATAL(pty_start(p, argv, NULL), 0);
		at = pty_expect(p, "serial number (empty line ends the lot): ", 0, 20);
		CU_ASSERT_FATAL(at >= 0);
		pty_send(p, "SN1\n");
		at = pty_expect(p, "Fiber seated? [yes]: ", (size_t)at, 20);
		CU_ASSERT_FATAL(at >= 0);
		/* The question starts a line. */
		CU_ASSERT(at > 0 && p->out[at - 1] == '\n');
		pty_send(p, "y\n");
		at2 = pty_expect(p, "serial number (empty line ends the lot): ",
				 (size_t)at, 20);
		CU_ASSERT_FATAL(at2 >= 0);
		/* After the part's line, the serial prompt on its own line. */
		CU_ASSERT_PTR_NOT_NULL(strstr(p->out + at, "SN1: pass bin 1"));
		CU_ASSERT(p->out[at2 - 1] == '\n');
		pty_send(p, "\n");
		CU_ASSERT_EQUAL(pty_finish(p, 30), 0);
	}
	CU_ASSERT_PTR_NULL(strstr(p->out, "[yes: ]"));
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM run WHERE status = 'pass'"),
			1);
	tu_vstation_stop(&vs);
	free(p);
}

/* ---- wafer process ---------------------------------------------------------- */

static int start_teraphy(tu_vstation *vs, const char *scale)
{
	const char *args[] = {"--product", "teraphy", "--seed", "7", "--wafers",
			      "2", "--time-scale", scale, NULL};

	return tu_vstation_start(dir, args, vs);
}

static void test_heartbeat_and_summary(void)
{
	char db[600];
	tu_vstation vs;
	pty_proc *p = calloc(1, sizeof(*p));
	const char *hb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* About 2.5 s a die: the heartbeat redraws while each is tested. */
	CU_ASSERT_EQUAL_FATAL(start_teraphy(&vs, "1"), 0);
	path_in(db, sizeof(db), "hb.db");
	{
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--dies", DIES3,
				"--operator", "bob", NULL};

		CU_ASSERT_EQUAL_FATAL(pty_start(p, argv, NULL), 0);
		CU_ASSERT_EQUAL(pty_finish(p, 90), 0);
	}
	/* "[1/3] wafer LOT1-W01 die (21,1) 0s | <step> [point] | wafer 0.0%
	 * lot 0.0%" redrawn in place, each second of each die. */
	hb = strstr(p->out, "\r\033[K[1/3] wafer LOT1-W01 die (21,1) ");
	CU_ASSERT_PTR_NOT_NULL(hb);
	if (hb) {
		CU_ASSERT(hb[36] >= '1' && hb[36] <= '9');   /* after the prefix */
		CU_ASSERT(strstr(hb, "s | port_power") || strstr(hb, "s | ber") ||
			  strstr(hb, "s | starting"));
		CU_ASSERT_PTR_NOT_NULL(strstr(hb, " | wafer 0.0% lot 0.0%"));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "\r\033[K[2/3] wafer LOT1-W01 die "
				      "(20,1) "));
	/* The seconds in the die count up. */
	CU_ASSERT(strstr(p->out, ") 1s | ") || strstr(p->out, ") 2s | "));
	CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "\r\033[K[3/3] wafer LOT1-W01 die "
				      "(19,1): "));
	CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "wafer LOT1-W01 done: 3 dies, "));
	if (CU_get_number_of_failures())
		fprintf(stderr, "\nthe terminal showed:\n%s\n", p->out);
	tu_vstation_stop(&vs);
	free(p);
}

/* Piped: one line per part, nothing but printable text and newlines. */
static void check_piped(const char *out, int parts)
{
	int lines = 0;

	for (const char *s = out; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\n') {
			CU_FAIL("a control character in piped output");
			break;
		}
	for (const char *s = out; s; s = strchr(s, '\n')) {
		if (*s == '\n')
			s++;
		if (*s == '[')
			lines++;
	}
	CU_ASSERT_EQUAL(lines, parts);
}

static void test_resume_yield_and_retest(void)
{
	/* 24 dies of rows 4 and 5, some of which fail (seed 7: 15,4 24,4
	 * 23,5 17,5 16,5). */
	static const char first[] =
		"13,4;14,4;15,4;16,4;17,4;18,4;19,4;20,4;21,4;22,4;23,4;24,4";
	static const char all[] =
		"13,4;14,4;15,4;16,4;17,4;18,4;19,4;20,4;21,4;22,4;23,4;24,4;"
		"23,5;22,5;21,5;20,5;19,5;18,5;17,5;16,5;15,5;14,5;13,5;12,5";
	char db[600], want[128], yield[64];
	char *out = malloc(1 << 16), err[4096];
	tu_vstation vs;
	long parts, passed;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL_FATAL(start_teraphy(&vs, "0.01"), 0);
	path_in(db, sizeof(db), "resume.db");
	{
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--dies", (char *)first,
				"--operator", "bob", NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, err, sizeof(err), 60), 0);
		check_piped(out, 12);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "wafer LOT1-W01 done: 12 dies, "));
	}
	{
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--dies", (char *)all,
				"--resume", "--operator", "bob", NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, err, sizeof(err), 60), 0);
		check_piped(out, 12);
		/* The wafer's summary and the lot's yield count all 24. */
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "wafer LOT1-W01 done: 24 dies, "));
		parts = q_int(db, "SELECT count(DISTINCT part_id) FROM run");
		passed = q_int(db, "SELECT count(*) FROM run r WHERE r.id IN (SELECT "
			       "max(id) FROM run GROUP BY part_id) AND status = 'pass'");
		CU_ASSERT_EQUAL(parts, 24);
		snprintf(yield, sizeof(yield), "%.1f%%", 100.0 * (double)passed /
			 (double)parts);
		snprintf(want, sizeof(want), "lot yield %s of 24 parts", yield);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		/* Every part line gives the lot's yield so far; the last, all 24. */
		snprintf(want, sizeof(want), "[24/24] wafer LOT1-W01 die (12,5): ");
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		snprintf(want, sizeof(want), "yield %s", yield);
		CU_ASSERT_PTR_NOT_NULL(strstr(strstr(out, "[24/24]") ? strstr(out,
					      "[24/24]") : out, want));
		if (passed == parts)
			CU_FAIL("seed 7 was meant to fail some of these dies");
	}
	{
		/* A die with results, tested again without --resume: said so. */
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--dies", "13,4",
				"--operator", "bob", NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, err, sizeof(err), 60), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "notice: die (13,4) of wafer "
					      "LOT1-W01 already has results"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "; 1 tested again"));
		check_piped(out, 1);
	}
	tu_vstation_stop(&vs);
	free(out);
}

static void test_abort_message_resumes(void)
{
	static const char dies[] =
		"21,1;20,1;19,1;18,1;17,1;16,1;12,2;13,2;14,2;15,2";
	char db[600], cmd[4096], *out = malloc(1 << 16), err[4096];
	tu_vstation vs;
	pty_proc *p = calloc(1, sizeof(*p));
	const char *c, *eol;
	long at;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL_FATAL(start_teraphy(&vs, "0.05"), 0);
	path_in(db, sizeof(db), "abort.db");
	{
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--dies", (char *)dies,
				"--operator", "bob", NULL};

		CU_ASSERT_EQUAL_FATAL(pty_start(p, argv, NULL), 0);
		at = pty_expect(p, "[3/10] ", 0, 60);
		CU_ASSERT(at >= 0);
		kill(p->pid, SIGINT);
		CU_ASSERT_EQUAL(pty_finish(p, 30), 130);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "the cell: probes up ("));
	CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "wafer LOT1-W01 unloaded (back in "
				      "slot 1)"));
	c = strstr(p->out, "to continue the lot where it stopped: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	c += strlen("to continue the lot where it stopped: ");
	eol = strpbrk(c, "\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(eol);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %.*s", dir, (int)(eol - c), c);
	CU_ASSERT_PTR_NOT_NULL(strstr(cmd, " --resume"));
	{
		/* The command as printed finishes the lot. */
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, err, sizeof(err), 60), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "already tested (skipped)"));
	}
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(DISTINCT part_id) FROM run"), 10);
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM run"), 10);
	tu_vstation_stop(&vs);
	free(p);
	free(out);
}

static void test_lot_mismatch(void)
{
	char db[600], *out = malloc(1 << 16), err[4096];
	tu_vstation vs;
	pty_proc *p = calloc(1, sizeof(*p));
	long at;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL_FATAL(start_teraphy(&vs, "0.01"), 0);
	path_in(db, sizeof(db), "mismatch.db");
	{
		/* The prober's wafers are LOT1's: asked, "no" stops the lot. */
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "OTHER", "--dies", "21,1",
				"--operator", "bob", NULL};

		CU_ASSERT_EQUAL_FATAL(pty_start(p, argv, NULL), 0);
		at = pty_expect(p, "Test wafer LOT1-W01 as lot OTHER anyway? [yes]: ",
				0, 30);
		CU_ASSERT(at >= 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "warning: the prober's wafer id "
					      "LOT1-W01 (slot 1) does not name lot "
					      "OTHER"));
		pty_send(p, "no\n");
		CU_ASSERT_EQUAL(pty_finish(p, 30), 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(p->out, "was not confirmed"));
	}
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM run"), 0);
	{
		/* --yes: warned, tested. */
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "OTHER", "--dies", "21,1",
				"--operator", "bob", "--yes", NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, err, sizeof(err), 60), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "does not name lot OTHER (--lot); "
					      "tested as given (--yes)"));
	}
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM run"), 1);
	tu_vstation_stop(&vs);
	free(p);
	free(out);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("operator terminal", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "operator id asked on a terminal and recorded",
		    test_operator_asked);
	CU_add_test(s, "prompts on their own line, [yes]: ", test_prompt_layout);
	CU_add_test(s, "heartbeat in place, wafer summary", test_heartbeat_and_summary);
	CU_add_test(s, "lot yield across --resume, retest notice, piped lines",
		    test_resume_yield_and_retest);
	CU_add_test(s, "abort: cell state and a resume command that works",
		    test_abort_message_resumes);
	CU_add_test(s, "wafer id naming another lot: asked, or --yes",
		    test_lot_mismatch);
	return 0;
}
