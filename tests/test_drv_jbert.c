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
#include <time.h>

#include "drv_peer.h"
#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/xport.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/jbert-n4903b.so"

static void *dl;
static const drv_descriptor *drv;

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

static int suite_init(void)
{
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
	/* Counted: *IDN?, *CLS, 4 configure sets + 4 error checks, 3 gate
	 * sets + 3 error checks; the first GATE:STAT? poll of the running
	 * gate is never answered. */
	struct bert b = {.hang_after = 16};
	drv_ber_result r;
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &b, 300, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(g.h, 1, "PRBS31", 53.125, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(g.h, 1, 0.2, &r, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, ":SENS1:GATE:STAT?"));
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
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
