/*
 * tests/test_drv_jbert.c - the jbert-n4903b BERT plugin, dlopen()ed from
 * the build's plugins/ folder and driven through its descriptor over a real
 * tcp:// transport to a scripted 16-lane J-BERT (drv_peer.c) whose gates
 * really last their time, whose counts are refused before the gate closes,
 * and whose detector loses sync with the output off, as docs/INSTRUMENTS.md
 * describes the simulator.
 *
 * Invariant: every peer is stopped by the test that started it.
 */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drv_peer.h"
#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/xport.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/jbert-n4903b.so"

static void *dl;
static const drv_descriptor *drv;
static int rec_fd = -1;   /* every line the peers received (drv_peer_record) */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bert {
	double rate_hz;
	char gen[17][16], det[17][16];
	int out[17];
	double gate_s[17], gate_end[17];
	double errors[17];     /* errors per gate on each lane */
	int last_err;          /* SYST:ERR? queue of one */
	int hang_after, count;
	int endless_gate;      /* GATE:STAT? stays 1 */
	int overrange_bits;    /* BCO? answers 9.9E37 */
};

static int bert_respond(void *state, const char *line, char *reply, size_t cap)
{
	struct bert *b = state;
	char pat[16];
	double d;
	int n, v;

	if (b->hang_after && ++b->count > b->hang_after)
		return PEER_HANG;
	if (strcmp(line, "*IDN?") == 0) {
		snprintf(reply, cap, "Keysight Technologies,N4903B,DE00000001,1.0 (scripted)");
		return PEER_REPLY;
	}
	if (strcmp(line, "*CLS") == 0) {
		b->last_err = 0;
		return PEER_NONE;
	}
	if (strcmp(line, ":SYST:ERR?") == 0 || strcmp(line, "SYST:ERR?") == 0) {
		static const char *const text[] = {
			[1] = "-222,\"Data out of range\"",
			[2] = "-221,\"Settings conflict\"",
			[3] = "-113,\"Undefined header\"",
		};
		snprintf(reply, cap, "%s", b->last_err ? text[b->last_err] : "+0,\"No error\"");
		b->last_err = 0;
		return PEER_REPLY;
	}
	if (sscanf(line, ":SOUR9:FREQ:CW %lf", &d) == 1) {
		if (d < 1e9 || d > 58e9)
			b->last_err = 1;
		else
			b->rate_hz = d;
		return PEER_NONE;
	}
	if (sscanf(line, ":SOUR%d:PATT:SEL %15s", &n, pat) == 2 && n >= 1 && n <= 16) {
		snprintf(b->gen[n], sizeof(b->gen[n]), "%s", pat);
		return PEER_NONE;
	}
	if (sscanf(line, ":SENS%d:PATT:SEL %15s", &n, pat) == 2 && n >= 1 && n <= 16) {
		snprintf(b->det[n], sizeof(b->det[n]), "%s", pat);
		return PEER_NONE;
	}
	if (sscanf(line, ":OUTP%d:STAT %d", &n, &v) == 2 && n >= 1 && n <= 16) {
		b->out[n] = v;
		return PEER_NONE;
	}
	/* sscanf counts %d alone as a match, so fixed tails are strstr'ed. */
	if (strncmp(line, ":SENS", 5) == 0 && strstr(line, ":GATE:MODE SING"))
		return PEER_NONE;
	if (sscanf(line, ":SENS%d:GATE:PER:TIME %lf", &n, &d) == 2 && n >= 1 && n <= 16) {
		b->gate_s[n] = d;
		return PEER_NONE;
	}
	if (sscanf(line, ":SENS%d:GATE:STAT %d", &n, &v) == 2 && n >= 1 && n <= 16) {
		b->gate_end[n] = now_s() + b->gate_s[n];
		return PEER_NONE;
	}
	if (sscanf(line, ":SENS%d:GATE:STAT%1[?]", &n, pat) == 2 && n >= 1 && n <= 16) {
		snprintf(reply, cap, "%d", b->endless_gate || now_s() < b->gate_end[n]);
		return PEER_REPLY;
	}
	if (sscanf(line, ":STAT:QUES%d:COND%1[?]", &n, pat) == 2 && n >= 1 && n <= 16) {
		int sync = b->out[n] && strcmp(b->gen[n], b->det[n]) == 0;

		snprintf(reply, cap, "%d", sync ? 0 : 0x400);
		return PEER_REPLY;
	}
	if (sscanf(line, ":FETC:SENS%d:BCO%1[?]", &n, pat) == 2 && n >= 1 && n <= 16) {
		if (now_s() < b->gate_end[n]) {
			b->last_err = 2;
			return PEER_NONE;
		}
		if (b->overrange_bits)
			snprintf(reply, cap, "+9.90000000E+37");
		else
			snprintf(reply, cap, "%.10E", b->rate_hz * b->gate_s[n]);
		return PEER_REPLY;
	}
	if (sscanf(line, ":FETC:SENS%d:ECO%1[?]", &n, pat) == 2 && n >= 1 && n <= 16) {
		snprintf(reply, cap, "%.10E", b->errors[n]);
		return PEER_REPLY;
	}
	b->last_err = 3;
	return PEER_NONE;
}

struct rig {
	pid_t pid;
	char uri[64];
	xport *x;
	void *h;
};

static int rig_up(struct rig *g, struct bert *b, int timeout_ms, kgd_err *err)
{
	memset(g, 0, sizeof(*g));
	g->pid = drv_peer_tcp(bert_respond, b, g->uri, sizeof(g->uri));
	if (g->pid < 0 || xport_open(g->uri, timeout_ms, &g->x, err))
		return -1;
	return drv->open(g->x, &g->h, err);
}

static void rig_down(struct rig *g)
{
	if (g->h)
		drv->close(g->h);
	xport_close(g->x);
	drv_peer_stop(g->pid);
}

/* The record's size: a mark before a driver call. */
static off_t rec_mark(void)
{
	struct stat st;

	return fstat(rec_fd, &st) == 0 ? st.st_size : 0;
}

/* A mark once everything sent so far is on record: a line without a reply
 * (open's *CLS) may still be on its way, a query's line is recorded before
 * it is answered. */
static off_t rec_mark_synced(struct rig *g)
{
	char idn[128];
	kgd_err err;

	CU_ASSERT_EQUAL(scpi_query(g->x, idn, sizeof(idn), &err, "*IDN?"), KGD_OK);
	return rec_mark();
}

/* What the peer received since mark, as text. */
static const char *rec_since(off_t mark, char *buf, size_t cap)
{
	ssize_t n = pread(rec_fd, buf, cap - 1, mark);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void assert_text(const char *got, const char *want)
{
	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want))
		fprintf(stderr, "\n got: %s\nwant: %s\n", got, want);
}

static int suite_init(void)
{
	char path[] = "/tmp/kgd-jbert-record-XXXXXX";

	rec_fd = mkstemp(path);
	if (rec_fd < 0)
		return -1;
	unlink(path);
	drv_peer_record(rec_fd);
	dl = dlopen(PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", PLUGIN, dlerror());
		return -1;
	}
	drv = dlsym(dl, KGD_DRIVER_SYMBOL);
	return drv ? 0 : -1;
}

static int suite_cleanup(void)
{
	drv_peer_record(-1);
	if (rec_fd >= 0)
		close(rec_fd);
	if (dl)
		dlclose(dl);
	return 0;
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_BERT);
	CU_ASSERT_STRING_EQUAL(drv->name, "jbert-n4903b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->bert);
	CU_ASSERT_PTR_NOT_NULL(drv->bert->output);
	CU_ASSERT_PTR_NULL(drv->prober);
}

static void test_every_operation(void)
{
	struct bert b = {0};
	drv_ber_result r;
	struct rig g;
	char idn[128];
	double t0;
	kgd_err err;

	b.errors[2] = 530;
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->identify(g.h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT(strstr(idn, "N4903B") != NULL);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 53.125, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 2, "PRBS31", 53.125, &err), KGD_OK);
	/* The gate is honoured: the call returns after it closed. */
	t0 = now_s();
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 1, 0.3, &r, &err), KGD_OK);
	CU_ASSERT(now_s() - t0 >= 0.3);
	CU_ASSERT_DOUBLE_EQUAL(r.bits, 53.125e9 * 0.3, 1);
	CU_ASSERT_DOUBLE_EQUAL(r.errors, 0, 0);
	/* Zero errors: the bound 3/bits, never 0. */
	CU_ASSERT_EQUAL(r.ber_is_bound, 1);
	CU_ASSERT_DOUBLE_EQUAL(r.ber, 3.0 / (53.125e9 * 0.3), 1e-20);
	CU_ASSERT(r.ber > 0);
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 2, 0.1, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(r.ber_is_bound, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.ber, 530 / (53.125e9 * 0.1), 1e-18);
	CU_ASSERT_EQUAL(drv->bert->output(g.h, 1, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 17, "PRBS31", 53.125, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "lane 17") && strstr(err.msg, g.uri));
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS9", 53.125, &err), KGD_ERR_ARG);
	rig_down(&g);
}

static void test_sync_loss_is_an_error(void)
{
	struct bert b = {0};
	drv_ber_result r;
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 3, "PRBS7", 25.78125, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->output(g.h, 3, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 3, 0.05, &r, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(r.sync_lost, 1);
	CU_ASSERT(strstr(err.msg, "lost sync") && strstr(err.msg, "lane 3")
		  && strstr(err.msg, g.uri));
	rig_down(&g);
}

static void test_instrument_error_surfaces(void)
{
	struct bert b = {0};
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 100.0, &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-222") && strstr(err.msg, ":SOUR9:FREQ:CW")
		  && strstr(err.msg, g.uri));
	/* A failed rate is not cached: the next configure sends it again. */
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 100.0, &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 26.5625, &err), KGD_OK);
	rig_down(&g);
}

static void test_overrange_count_is_not_a_number(void)
{
	struct bert b = {.overrange_bits = 1};
	drv_ber_result r;
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 53.125, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 1, 0.05, &r, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT(strstr(err.msg, "BCO?") != NULL);
	CU_ASSERT_DOUBLE_EQUAL(r.ber, 0, 0);
	rig_down(&g);
}

static void test_gate_that_never_closes_times_out(void)
{
	struct bert b = {.endless_gate = 1};
	drv_ber_result r;
	struct rig g;
	double t0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 4, "PRBS15", 10.0, &err), KGD_OK);
	t0 = now_s();
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 4, 0.1, &r, &err), KGD_ERR_TIMEOUT);
	/* Bounded by the gate time: 1.5 x 0.1 s + 2 s. */
	CU_ASSERT(now_s() - t0 < 3.0);
	CU_ASSERT(strstr(err.msg, "gate") && strstr(err.msg, g.uri));
	rig_down(&g);
}

static void test_timeout_mid_gate(void)
{
	/* Counted per command (the peer splits messages at ';'): *IDN?,
	 * *CLS, configure's rate, 2 patterns, output and its error check,
	 * gate mode and time and their check, start and its check; the first
	 * GATE:STAT? poll of the running gate is never answered. */
	struct bert b = {.hang_after = 12};
	drv_ber_result r;
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 300, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 53.125, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 1, 0.2, &r, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, ":SENS1:GATE:STAT?"));
	rig_down(&g);
}

/* ---- ABI 1.1: one gate on several lanes ---------------------------- */

/* The exact program messages: configure_lanes is one checked message (the
 * rate only when it changed), gate_start one checked message of gate modes
 * and times and then ONE message of every start, gate_read its lane's
 * polls and the counts as measure reads them. Gates started together
 * close together: the later reads poll once, and the whole takes one gate. */
static void test_multilane_exact_bytes(void)
{
	static const char read_tail[] =
		":STAT:QUES2:COND?\n:FETC:SENS2:BCO?;:SYST:ERR?\n"
		":FETC:SENS2:ECO?;:SYST:ERR?\n";
	const int lanes[] = {1, 2, 3, 4}, more[] = {5, 6};
	struct bert b = {0};
	drv_ber_result r;
	struct rig g;
	char got[8192], want[512];
	const char *p;
	off_t mark;
	double t0;
	kgd_err err;

	b.errors[2] = 530;
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->bert->configure_lanes);
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	mark = rec_mark_synced(&g);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, lanes, 4, "PRBS31", 53.125, &err),
			KGD_OK);
	assert_text(rec_since(mark, got, sizeof(got)),
		    ":SOUR9:FREQ:CW 5.312500E+10;"
		    ":SOUR1:PATT:SEL PRBS31;:SENS1:PATT:SEL PRBS31;:OUTP1:STAT 1;"
		    ":SOUR2:PATT:SEL PRBS31;:SENS2:PATT:SEL PRBS31;:OUTP2:STAT 1;"
		    ":SOUR3:PATT:SEL PRBS31;:SENS3:PATT:SEL PRBS31;:OUTP3:STAT 1;"
		    ":SOUR4:PATT:SEL PRBS31;:SENS4:PATT:SEL PRBS31;:OUTP4:STAT 1\n"
		    "SYST:ERR?\n");
	/* The shared rate is known now: not sent again. */
	mark = rec_mark();
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, more, 2, "PRBS7", 53.125, &err),
			KGD_OK);
	assert_text(rec_since(mark, got, sizeof(got)),
		    ":SOUR5:PATT:SEL PRBS7;:SENS5:PATT:SEL PRBS7;:OUTP5:STAT 1;"
		    ":SOUR6:PATT:SEL PRBS7;:SENS6:PATT:SEL PRBS7;:OUTP6:STAT 1\n"
		    "SYST:ERR?\n");

	mark = rec_mark();
	t0 = now_s();
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, lanes, 4, 0.3, &err), KGD_OK);
	/* Returns at once: the gates run on. */
	CU_ASSERT(now_s() - t0 < 0.15);
	assert_text(rec_since(mark, got, sizeof(got)),
		    ":SENS1:GATE:MODE SING;:SENS1:GATE:PER:TIME 0.3;"
		    ":SENS2:GATE:MODE SING;:SENS2:GATE:PER:TIME 0.3;"
		    ":SENS3:GATE:MODE SING;:SENS3:GATE:PER:TIME 0.3;"
		    ":SENS4:GATE:MODE SING;:SENS4:GATE:PER:TIME 0.3\n"
		    "SYST:ERR?\n"
		    ":SENS1:GATE:STAT 1;:SENS2:GATE:STAT 1;:SENS3:GATE:STAT 1;"
		    ":SENS4:GATE:STAT 1\n"
		    "SYST:ERR?\n");

	/* The first read waits for the gate, polling its own lane. */
	mark = rec_mark();
	memset(&r, 0xff, sizeof(r));
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 2, 0.3, &r, &err), KGD_OK);
	CU_ASSERT(now_s() - t0 >= 0.3);
	CU_ASSERT_DOUBLE_EQUAL(r.bits, 53.125e9 * 0.3, 1);
	CU_ASSERT_EQUAL(r.errors, 530);
	CU_ASSERT_DOUBLE_EQUAL(r.ber, 530 / (53.125e9 * 0.3), 1e-18);
	CU_ASSERT_EQUAL(r.ber_is_bound, 0);
	CU_ASSERT_EQUAL(r.sync_lost, 0);
	p = rec_since(mark, got, sizeof(got));
	CU_ASSERT(strncmp(p, ":SENS2:GATE:STAT?\n", 18) == 0);
	while (strncmp(p, ":SENS2:GATE:STAT?\n", 18) == 0)
		p += 18;
	assert_text(p, read_tail);
	/* The others closed with it: one poll each, then their counts. */
	for (int lane = 1; lane <= 4; lane += lane == 1 ? 2 : 1) {
		mark = rec_mark();
		memset(&r, 0xff, sizeof(r));
		CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, lane, 0.3, &r, &err), KGD_OK);
		CU_ASSERT_DOUBLE_EQUAL(r.bits, 53.125e9 * 0.3, 1);
		CU_ASSERT_EQUAL(r.errors, 0);
		CU_ASSERT_DOUBLE_EQUAL(r.ber, 3.0 / (53.125e9 * 0.3), 1e-20);
		CU_ASSERT_EQUAL(r.ber_is_bound, 1);
		snprintf(want, sizeof(want), ":SENS%d:GATE:STAT?\n:STAT:QUES%d:COND?\n"
			 ":FETC:SENS%d:BCO?;:SYST:ERR?\n:FETC:SENS%d:ECO?;:SYST:ERR?\n",
			 lane, lane, lane, lane);
		assert_text(rec_since(mark, got, sizeof(got)), want);
	}
	/* Four lanes in about one gate (loosely: lane by lane is 1.2 s). */
	CU_ASSERT(now_s() - t0 < 0.6);
	rig_down(&g);
}

/* Sixteen lanes: settings split into messages under the length cap of
 * kgd/scpi.h's compound messages (SCPI_MSG_MAX), each as full as the cap
 * allows and each checked; the sixteen starts still go in one line. */
static void test_multilane_sixteen_lanes(void)
{
	int lanes[16];
	struct bert b = {0};
	drv_ber_result r;
	struct rig g;
	static char got[16384], joined[4096], want[4096], starts[512];
	size_t used = 0, n_starts = 0, prev_len = 0;
	int n_msgs = 0, longest = 0;
	off_t mark;
	kgd_err err;

	for (int i = 0; i < 16; i++)
		lanes[i] = i + 1;
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	mark = rec_mark_synced(&g);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, lanes, 16, "PRBS23", 26.5625, &err),
			KGD_OK);
	/* Messages alternate with their error checks; joined, they are every
	 * lane's commands in order. */
	rec_since(mark, got, sizeof(got));
	joined[0] = '\0';
	for (char *save = NULL, *line = strtok_r(got, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n_msgs++ % 2) {
			CU_ASSERT_STRING_EQUAL(line, "SYST:ERR?");
			continue;
		}
		if ((int)strlen(line) > longest)
			longest = (int)strlen(line);
		/* A message was sent only because this one's first command
		 * did not fit after it. */
		if (prev_len)
			CU_ASSERT(prev_len + 1 + strcspn(line, ";") >= SCPI_MSG_MAX);
		prev_len = strlen(line);
		used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s",
					 used ? ";" : "", line);
	}
	CU_ASSERT_EQUAL(n_msgs, 4);  /* two messages, each checked */
	CU_ASSERT(longest < SCPI_MSG_MAX);
	used = (size_t)snprintf(want, sizeof(want), ":SOUR9:FREQ:CW 2.656250E+10");
	for (int i = 1; i <= 16; i++)
		used += (size_t)snprintf(want + used, sizeof(want) - used,
					 ";:SOUR%d:PATT:SEL PRBS23;:SENS%d:PATT:SEL PRBS23;"
					 ":OUTP%d:STAT 1", i, i, i);
	assert_text(joined, want);

	mark = rec_mark();
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, lanes, 16, 0.05, &err), KGD_OK);
	for (int i = 1; i <= 16; i++)
		n_starts += (size_t)snprintf(starts + n_starts, sizeof(starts) - n_starts,
					     "%s:SENS%d:GATE:STAT 1", i > 1 ? ";" : "", i);
	rec_since(mark, got, sizeof(got));
	snprintf(want, sizeof(want), "\n%s\nSYST:ERR?\n", starts);
	CU_ASSERT(strlen(got) > strlen(want)
		  && strcmp(got + strlen(got) - strlen(want), want) == 0);
	for (int i = 1; i <= 16; i++) {
		CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, i, 0.05, &r, &err), KGD_OK);
		CU_ASSERT_DOUBLE_EQUAL(r.bits, 26.5625e9 * 0.05, 1);
	}
	rig_down(&g);
}

/* Arguments the driver refuses before the instrument sees a byte, and a
 * gate read once: never a count an earlier gate left behind. */
static void test_multilane_refusals(void)
{
	const int dup[] = {1, 2, 1}, bad[] = {1, 17}, two[] = {1, 2};
	struct bert b = {0};
	drv_ber_result r;
	struct rig g;
	char got[256];
	off_t mark;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	mark = rec_mark_synced(&g);
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 1, 0.05, &r, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "lane 1")
		  && strstr(err.msg, "gate_start"));
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, dup, 3, 0.05, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "lane 1 listed twice") != NULL);
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, bad, 2, 0.05, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "lane 17") && strstr(err.msg, g.uri));
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, two, 0, 0.05, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, two, 2, 0, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "lanes 1,2: gate time 0 s") != NULL);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, two, 2, "PRBS9", 53.125, &err),
			KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "lanes 1,2: pattern 'PRBS9'") != NULL);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, bad, 2, "PRBS31", 53.125, &err),
			KGD_ERR_ARG);
	/* Nothing went out but the *IDN? that brings the record up to date. */
	rec_mark_synced(&g);
	assert_text(rec_since(mark, got, sizeof(got)), "*IDN?\n");

	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, two, 2, "PRBS31", 53.125, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, two, 2, 0.05, &err), KGD_OK);
	/* Read as another gate time than was armed: refused, still armed. */
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 1, 0.1, &r, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "armed 0.05 s") != NULL);
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 1, 0.05, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 1, 0.05, &r, &err), KGD_ERR_ARG);
	/* measure runs its own gate: lane 2's armed one is gone. */
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 2, 0.05, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 2, 0.05, &r, &err), KGD_ERR_ARG);
	rig_down(&g);
}

/* One lane without sync (its output off) is that lane's instrument error;
 * the lanes gated with it read fine. */
static void test_multilane_sync_loss_one_lane(void)
{
	const int lanes[] = {1, 2, 3};
	struct bert b = {0};
	drv_ber_result r;
	struct rig g;
	kgd_err err;

	b.errors[3] = 7;
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, lanes, 3, "PRBS31", 53.125, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->output(g.h, 2, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, lanes, 3, 0.05, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 1, 0.05, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(r.ber_is_bound, 1);
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 2, 0.05, &r, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(r.sync_lost, 1);
	CU_ASSERT(strstr(err.msg, "lost sync") && strstr(err.msg, "lane 2")
		  && strstr(err.msg, g.uri));
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 3, 0.05, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(r.sync_lost, 0);
	CU_ASSERT_EQUAL(r.errors, 7);
	CU_ASSERT_DOUBLE_EQUAL(r.ber, 7 / (53.125e9 * 0.05), 1e-18);
	rig_down(&g);
}

/* A gate that never closes: gate_read gives up after gate time x 1.5 + 2 s
 * counted from the start, naming URI and lane; a lane of the same start
 * read later is already past that bound and fails at its first poll. */
static void test_multilane_gate_never_closes(void)
{
	const int lanes[] = {4, 5};
	struct bert b = {.endless_gate = 1};
	drv_ber_result r;
	struct rig g;
	double t0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(g.h, lanes, 2, "PRBS15", 10.0, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(g.h, lanes, 2, 0.1, &err), KGD_OK);
	t0 = now_s();
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 5, 0.1, &r, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(now_s() - t0 >= 2.15 && now_s() - t0 < 3.0);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "lane 5")
		  && strstr(err.msg, "gate of 0.1 s still running"));
	t0 = now_s();
	CU_ASSERT_EQUAL(drv->bert->gate_read(g.h, 4, 0.1, &r, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(now_s() - t0 < 0.5);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "lane 4"));
	rig_down(&g);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_jbert", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "every operation", test_every_operation);
	CU_add_test(s, "sync loss is an error", test_sync_loss_is_an_error);
	CU_add_test(s, "instrument error surfaces", test_instrument_error_surfaces);
	CU_add_test(s, "overrange count is not a number", test_overrange_count_is_not_a_number);
	CU_add_test(s, "gate that never closes times out", test_gate_that_never_closes_times_out);
	CU_add_test(s, "timeout mid-gate", test_timeout_mid_gate);
	CU_add_test(s, "multi-lane: exact bytes, one gate", test_multilane_exact_bytes);
	CU_add_test(s, "multi-lane: sixteen lanes", test_multilane_sixteen_lanes);
	CU_add_test(s, "multi-lane: refusals, one read per gate", test_multilane_refusals);
	CU_add_test(s, "multi-lane: sync loss on one lane", test_multilane_sync_loss_one_lane);
	CU_add_test(s, "multi-lane: gate that never closes", test_multilane_gate_never_closes);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
