/*
 * tests/test_ui.c - integration (issue 15): the station page, through the
 * real `station run --ui` against kgd-vstation.
 *
 *  - In a real browser: Debian's headless Chromium, driven over the
 *    DevTools protocol by tests/ui_browser.js (Node's own modules only),
 *    watches a wafer lot: the part count and the map grow, the bin counts
 *    and parts at the end match the database, and a screenshot taken
 *    mid-wafer shows the map (pass-green pixels, many colours). A unit lot
 *    with a prompt step is answered on the page: the answers are recorded.
 *  - With plain sockets: unknown paths (404), a bad method (405), no or a
 *    wrong token (403), 100 clients at once (at most UI_MAX_VIEWS streams,
 *    every other one refused, none hangs), and a client that never reads
 *    (dropped while the lot goes on); then the page's abort stops the lot
 *    as SIGINT does.
 *
 * Invariant: every station, simulator and browser a test starts is killed
 * if it outlives its bound and reaped.
 */
#define _GNU_SOURCE   /* POLLRDHUP */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define TERAPHY_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"
#define BROWSER_JS KGD_SOURCE_DIR "/tests/ui_browser.js"
#define MAX_VIEWS 16   /* station/ui.h UI_MAX_VIEWS */

static char dir[512];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("ui"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static void nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

static long q_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* The page's URL (and token) from the station's first line. */
static int station_url(const char *out_path, char *url, size_t cap,
		       char *token, size_t tcap)
{
	for (int i = 0; i < 200; i++) {
		char *text = tu_slurp(out_path, NULL);
		char *u = text ? strstr(text, "station page: http://") : NULL;

		if (u) {
			char *end = u + 14 + strcspn(u + 14, "? \n");
			char *t = strstr(u, "?token=");

			snprintf(url, cap, "%.*s", (int)(end - (u + 14)), u + 14);
			if (t && token)
				snprintf(token, tcap, "%.32s", t + 7);
			free(text);
			return 0;
		}
		free(text);
		nap(0.05);
	}
	return -1;
}

/* ---- in Chromium ------------------------------------------------------------ */

typedef struct facts {
	long samples[4096];
	int n_samples;
	long final_parts, final_cells;
	char final_state[32];
	long bins[100];
	int answered_ok;
	long shot_colours, shot_pass;
	char shot[600];
} facts;

static void parse_facts(const char *out, facts *f)
{
	const char *line = out;

	memset(f, 0, sizeof(*f));
	f->final_parts = f->final_cells = -1;
	for (int i = 0; i < 100; i++)
		f->bins[i] = -1;
	while (line && *line) {
		long a, b;
		char s[600];

		if (sscanf(line, "sample %ld %ld", &a, &b) == 2 && f->n_samples < 4096)
			f->samples[f->n_samples++] = a;
		else if (sscanf(line, "final_parts %ld", &a) == 1)
			f->final_parts = a;
		else if (sscanf(line, "final_cells %ld", &a) == 1)
			f->final_cells = a;
		else if (sscanf(line, "final_state %31s", f->final_state) == 1)
			;
		else if (sscanf(line, "final_bin %ld %ld", &a, &b) == 2 && a >= 0 &&
			 a < 100)
			f->bins[a] = b;
		else if (sscanf(line, "screenshot %599s %ld %ld", s, &a, &b) == 3) {
			snprintf(f->shot, sizeof(f->shot), "%s", s);
			f->shot_colours = a;
			f->shot_pass = b;
		} else if (strncmp(line, "answered ", 9) == 0 &&
			   strstr(line, " ok") && strchr(line, '\n') > strstr(line, " ok"))
			f->answered_ok++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

static void test_browser_wafer(void)
{
	static const char *const args[] = {"--product", "teraphy", "--seed", "7",
					   "--wafers", "1", "--time-scale", "0.05",
					   NULL};
	/* Rows 5 to 7 of the map (78 dies, 9 failing with seed 7), about a
	 * quarter of a second a die. */
	static const char dies[] =
		"30,5;29,5;28,5;27,5;26,5;25,5;24,5;23,5;22,5;21,5;20,5;19,5;18,5;"
		"17,5;16,5;15,5;14,5;13,5;12,5;11,5;10,5;9,5;8,5;7,5;6,6;7,6;8,6;"
		"9,6;10,6;11,6;12,6;13,6;14,6;15,6;16,6;17,6;18,6;19,6;20,6;21,6;"
		"22,6;23,6;24,6;25,6;26,6;27,6;28,6;29,6;30,6;31,6;32,7;31,7;30,7;"
		"29,7;28,7;27,7;26,7;25,7;24,7;23,7;22,7;21,7;20,7;19,7;18,7;17,7;"
		"16,7;15,7;14,7;13,7;12,7;11,7;10,7;9,7;8,7;7,7;6,7;5,7";
	char db[600], out_path[600], url[256], *out = malloc(1 << 16);
	facts *f = calloc(1, sizeof(*f));
	tu_vstation vs;
	int pid, grew = 0, failures = (int)CU_get_number_of_failures();

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	snprintf(db, sizeof(db), "%s/page.db", dir);
	snprintf(out_path, sizeof(out_path), "%s/page.out", dir);
	{
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--dies", (char *)dies,
				"--operator", "bob", "--ui", "0", NULL};

		pid = tu_spawn(argv, NULL, out_path, NULL);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(station_url(out_path, url, sizeof(url), NULL, 0), 0);
	{
		/* The screenshot mid-wafer: 40 of 78 dies. */
		char *argv[] = {"/usr/bin/node", BROWSER_JS, url, dir, "90", "40",
				NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, NULL, 0, 100), 0);
	}
	CU_ASSERT_EQUAL(tu_wait(pid, 30), 0);
	parse_facts(out, f);
	/* The count grew while the page watched. */
	for (int i = 1; i < f->n_samples; i++)
		if (f->samples[i] > f->samples[i - 1] && f->samples[i - 1] > 0)
			grew++;
	CU_ASSERT(grew >= 2);
	/* At the end, the page and the database agree. */
	CU_ASSERT_STRING_EQUAL(f->final_state, "complete");
	CU_ASSERT_EQUAL(f->final_parts, q_int(db, "SELECT count(DISTINCT part_id) "
					       "FROM run"));
	CU_ASSERT_EQUAL(f->final_parts, 78);
	CU_ASSERT_EQUAL(f->final_cells, 78);
	{
		int checked = 0;

		for (int b = 0; b < 100; b++) {
			char sql[200];

			if (f->bins[b] < 0)
				continue;
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM run WHERE "
				 "soft_bin = %d", b);
			CU_ASSERT_EQUAL(f->bins[b], q_int(db, sql));
			checked++;
		}
		CU_ASSERT(checked >= 2);
		CU_ASSERT(f->bins[1] > 0);
		/* failing bins too, not only the pass bin */
		CU_ASSERT(f->bins[5] + f->bins[7] > 0);
	}
	/* The mid-wafer picture is the page, not a blank: the map's green
	 * and the page's many colours. */
	CU_ASSERT(f->shot[0] != '\0');
	CU_ASSERT(f->shot_colours >= 8);
	CU_ASSERT(f->shot_pass >= 3 * 64);
	if (f->shot[0] && getenv("KGD_UI_SCREENSHOT")) {
		char *argv[] = {"/bin/cp", f->shot, getenv("KGD_UI_SCREENSHOT"), NULL};

		tu_run(argv, NULL, 0, NULL, 0, 10);
	}
	if ((int)CU_get_number_of_failures() > failures)
		fprintf(stderr, "browser said:\n%s\n", out);
	tu_vstation_stop(&vs);
	free(out);
	free(f);
}

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

static void test_browser_prompt(void)
{
	static const char *const args[] = {"--product", "elsfp", NULL};
	char db[600], seq[600], out_path[600], url[256], token[40] = "";
	char full[400], *out = malloc(1 << 16);
	facts *f = calloc(1, sizeof(*f));
	tu_vstation vs;
	FILE *sf;
	int pid, failures = (int)CU_get_number_of_failures();

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	snprintf(db, sizeof(db), "%s/prompt.db", dir);
	snprintf(seq, sizeof(seq), "%s/prompt.yaml", dir);
	snprintf(out_path, sizeof(out_path), "%s/prompt.out", dir);
	sf = fopen(seq, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sf);
	fputs(prompt_seq, sf);
	fclose(sf);
	{
		/* stdin is /dev/null: only the page can answer. */
		char *argv[] = {STATION, "run", seq, "--config", vs.config, "--db", db,
				"--lot", "PRL", "--units", "2", "--operator", "bob",
				"--ui", "127.0.0.1:0", "--ui-control", NULL};

		pid = tu_spawn(argv, NULL, out_path, NULL);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(station_url(out_path, url, sizeof(url), token,
				    sizeof(token)), 0);
	snprintf(full, sizeof(full), "%s?token=%s", url, token);
	{
		char *argv[] = {"/usr/bin/node", BROWSER_JS, full, dir, "60", "1000",
				"yes", "no", NULL};

		CU_ASSERT_EQUAL(tu_run(argv, out, 1 << 16, NULL, 0, 70), 0);
	}
	CU_ASSERT_EQUAL(tu_wait(pid, 30), 0);
	parse_facts(out, f);
	CU_ASSERT_EQUAL(f->answered_ok, 2);
	/* The page's answers are the parts' verdicts and the recorded text. */
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM run WHERE soft_bin = 1"), 1);
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM run WHERE soft_bin = 4"), 1);
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM measurement WHERE step = "
			      "'visual' AND coords = '{\"text\":\"yes\"}'"), 1);
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM measurement WHERE step = "
			      "'visual' AND coords = '{\"text\":\"no\"}'"), 1);
	if ((int)CU_get_number_of_failures() > failures)
		fprintf(stderr, "browser said:\n%s\n", out);
	tu_vstation_stop(&vs);
	free(out);
	free(f);
}

/* ---- plain sockets ---------------------------------------------------------- */

static int port_of(const char *url)
{
	const char *c = strrchr(url, ':');

	return c ? atoi(c + 1) : 0;
}

static int dial(int port, int rcvbuf)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_str(int fd, const char *s)
{
	/* A refused client's write may fail: its read() says so. */
	ssize_t r = write(fd, s, strlen(s));

	(void)r;
}

/* The status code of the reply on fd within timeout_s; 0 closed, -1 none. */
static int status_of(int fd, double timeout_s)
{
	struct pollfd p = {fd, POLLIN, 0};
	char buf[64] = "";
	ssize_t n;

	if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strncmp(buf, "HTTP/1.", 7) == 0 ? atoi(buf + 9) : -2;
}

static int request(int port, const char *req)
{
	int fd = dial(port, 0), code;

	if (fd < 0)
		return -1;
	send_str(fd, req);
	code = status_of(fd, 5);
	close(fd);
	return code;
}

static long done_now(int port)
{
	int fd = dial(port, 0);
	char *buf = malloc(1 << 20);
	size_t n = 0;
	long done = -1;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	send_str(fd, "GET /state.json HTTP/1.0\r\n\r\n");
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0 || n + 1 >= (1 << 20))
			break;
		r = read(fd, buf + n, (1 << 20) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (strstr(buf, "\"done\":"))
		done = atol(strstr(buf, "\"done\":") + 7);
	close(fd);
	free(buf);
	return done;
}

static void test_http_sockets(void)
{
	static const char *const args[] = {"--product", "teraphy", "--seed", "7",
					   "--wafers", "1", "--time-scale", "0.01",
					   NULL};
	static const char *const env[] = {"KGD_UI_STALL_S=1", NULL};
	char db[600], out_path[600], err_path[600], url[256], token[40] = "";
	char req[300], *err_text;
	int clients[100], stall, pid, port, ok = 0, refused = 0, other = 0;
	long d0, d1;
	tu_vstation vs;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	snprintf(db, sizeof(db), "%s/http.db", dir);
	snprintf(out_path, sizeof(out_path), "%s/http.out", dir);
	snprintf(err_path, sizeof(err_path), "%s/http.err", dir);
	{
		/* The whole wafer (about 45 s): stopped from the page below. */
		char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", vs.config,
				"--db", db, "--lot", "LOT1", "--wafers", "1",
				"--operator", "bob", "--ui", "0", "--ui-control", NULL};

		pid = tu_spawn(argv, env, out_path, err_path);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL_FATAL(station_url(out_path, url, sizeof(url), token,
					  sizeof(token)), 0);
	port = port_of(url);

	CU_ASSERT_EQUAL(request(port, "GET / HTTP/1.0\r\n\r\n"), 200);
	CU_ASSERT_EQUAL(request(port, "GET /nope HTTP/1.0\r\n\r\n"), 404);
	CU_ASSERT_EQUAL(request(port, "GET /../etc/passwd HTTP/1.0\r\n\r\n"), 404);
	CU_ASSERT_EQUAL(request(port, "POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n"),
			405);
	CU_ASSERT_EQUAL(request(port, "DELETE /events HTTP/1.0\r\n\r\n"), 405);
	CU_ASSERT_EQUAL(request(port, "GET /abort HTTP/1.0\r\n\r\n"), 405);
	CU_ASSERT_EQUAL(request(port, "POST /abort HTTP/1.0\r\nContent-Length: 0"
				"\r\n\r\n"), 403);
	CU_ASSERT_EQUAL(request(port, "POST /abort HTTP/1.0\r\nX-KGD-Token: "
				"0123456789abcdef0123456789abcdef\r\nContent-Length: 0"
				"\r\n\r\n"), 403);
	snprintf(req, sizeof(req), "POST /answer?id=1 HTTP/1.0\r\nX-KGD-Token: %s"
		 "\r\nContent-Length: 3\r\n\r\nyes", token);
	CU_ASSERT_EQUAL(request(port, req), 409);   /* no prompt open */

	/* One that never reads, with a small window. */
	stall = dial(port, 2048);
	CU_ASSERT_FATAL(stall >= 0);
	send_str(stall, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
	/* 100 at once: some streams, every other one refused, none hangs. */
	for (int i = 0; i < 100; i++) {
		clients[i] = dial(port, 0);
		if (clients[i] >= 0)
			send_str(clients[i], "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	for (int i = 0; i < 100; i++) {
		int code = clients[i] >= 0 ? status_of(clients[i], 5) : 0;

		if (code == 200)
			ok++;
		else if (code == 503 || code == 0)
			refused++;
		else
			other++;
	}
	CU_ASSERT(ok >= 1);
	CU_ASSERT(ok <= MAX_VIEWS);
	CU_ASSERT_EQUAL(ok + refused, 100);
	CU_ASSERT_EQUAL(other, 0);
	/* Testing goes on meanwhile. */
	d0 = done_now(port);
	nap(1.5);
	d1 = done_now(port);
	CU_ASSERT(d0 >= 0 && d1 > d0);
	for (int i = 0; i < 100; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	/* The one that never reads is dropped while the lot runs: the
	 * server closes it when its buffers stay full (KGD_UI_STALL_S=1).
	 * Its FIN waits behind the data it never read, so read it now: a
	 * stream still served would not end while the station runs. */
	nap(6);
	{
		char buf[4096];
		int ended = 0;

		for (int i = 0; i < 500 && !ended; i++) {
			struct pollfd p = {stall, POLLIN, 0};
			ssize_t r;

			if (poll(&p, 1, 100) <= 0)
				break;
			r = read(stall, buf, sizeof(buf));
			if (r <= 0)
				ended = 1;
		}
		CU_ASSERT(ended);
		CU_ASSERT_EQUAL(waitpid(pid, NULL, WNOHANG), 0);   /* still testing */
	}
	close(stall);
	/* Places free again: a new page is served. */
	{
		int fd = dial(port, 0);

		send_str(fd, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
		CU_ASSERT_EQUAL(status_of(fd, 5), 200);
		close(fd);
	}
	/* The abort button, with the token: as SIGINT. */
	snprintf(req, sizeof(req), "POST /abort HTTP/1.0\r\nX-KGD-Token: %s\r\n"
		 "Content-Length: 0\r\n\r\n", token);
	CU_ASSERT_EQUAL(request(port, req), 200);
	CU_ASSERT_EQUAL(tu_wait(pid, 20), 130);
	err_text = tu_slurp(err_path, NULL);
	CU_ASSERT_PTR_NOT_NULL(err_text && strstr(err_text, "aborted from the "
						   "station page"));
	free(err_text);
	err_text = tu_slurp(out_path, NULL);
	CU_ASSERT_PTR_NOT_NULL(err_text && strstr(err_text, "to continue the lot "
						   "where it stopped: "));
	CU_ASSERT_PTR_NOT_NULL(err_text && strstr(err_text, " --resume\n"));
	free(err_text);
	CU_ASSERT_EQUAL(q_int(db, "SELECT count(*) FROM session WHERE status = "
			      "'aborted'"), 1);
	tu_vstation_stop(&vs);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("station page", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "HTTP with plain sockets; abort from the page",
		    test_http_sockets);
	CU_add_test(s, "Chromium watches a wafer lot", test_browser_wafer);
	CU_add_test(s, "Chromium answers prompts", test_browser_prompt);
	return 0;
}
