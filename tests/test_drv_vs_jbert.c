/*
 * tests/test_drv_vs_jbert.c - the jbert-n4903b plugin against the virtual
 * station's 16-lane BERT (role bert of product teraphy): the built plugin
 * dlopen()ed and driven through its descriptor over a real tcp://
 * transport to a real kgd-vstation child. The BERT only sees a pattern
 * while the prober holds a die in contact, so the tests drive the real
 * mpi-sentio plugin on the same simulator too. Error counts are asserted
 * exactly: the simulator draws them from the model (a Poisson sample keyed
 * by lane and gate number), which this program recomputes. Faults: the
 * error queue, silence mid-gate, garbled counts, a failed contact. The
 * multi-lane gate (ABI 1.1) against the simulator's per-lane gate clocks,
 * and bert-v10, a driver of ABI 1.0, on the same BERT.
 * tests/test_drv_jbert.c keeps the scripted-peer cases (other models, a
 * 9.9E37 count, a gate that never closes).
 *
 * Invariant: every kgd-vstation is stopped by dvs_stop_all() in the suite
 * cleanup, whatever assertion aborted a test.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_vs.h"
#include "kgd/scpi.h"
#include "model.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/jbert-n4903b.so"
#define PROBER_PLUGIN KGD_PLUGIN_BUILD_DIR "/mpi-sentio.so"
#define V10_PLUGIN KGD_TEST_PLUGIN_DIR "/bert-v10.so"
#define SEED "5"
#define ROLE "bert"
/* 32 dies; (5,2) has a high-BER lane. A gate of 1 s lasts 10 ms. */
#define WAFER_ARGS "--product", "teraphy", "--seed", SEED, "--die", "40x40", \
	"--wafers", "1", "--time-scale", "0.01"
#define RATE 53.125
#define GATE_S 1.0

static const drv_descriptor *drv, *prober, *v10;
static sim_model model;   /* what kgd-vstation runs with WAFER_ARGS */
static sim_model model6;  /* the same with --seed 6: a die with a dead lane */

static int init_model(sim_model *m, uint64_t seed)
{
	sim_model_params p;

	sim_model_defaults(&p);
	p.seed = seed;
	p.product = SIM_PRODUCT_TERAPHY;
	p.die_w_mm = p.die_h_mm = 40;
	p.wafers = 1;
	return sim_model_init(m, &p);
}

static int suite_init(void)
{
	if (init_model(&model, strtoull(SEED, NULL, 10)) || init_model(&model6, 6))
		return -1;
	drv = dvs_load(PLUGIN);
	prober = dvs_load(PROBER_PLUGIN);
	v10 = dvs_load(V10_PLUGIN);
	return drv && prober && v10 ? 0 : -1;
}

static int suite_cleanup(void)
{
	dvs_stop_all();
	dvs_unload();
	return 0;
}

/* The error count the simulator of model m gives the gate-th gate
 * (0-based) of lane on die (col,row) of slot 1 in contact, at RATE for
 * gate_s. */
static double model_errors_at(const sim_model *m, int col, int row, int lane,
			      uint64_t gate, double gate_s)
{
	uint64_t s = sim_hash(m->key, 0x42455254, (uint64_t)lane, gate, 0);
	double ber = sim_die_ber(m, 1, col, row, lane, RATE);

	return (double)sim_poisson(ber * floor(RATE * 1e9 * gate_s), &s);
}

static double model_errors(int col, int row, int lane, uint64_t gate)
{
	return model_errors_at(&model, col, row, lane, gate, GATE_S);
}

/* Start the simulator with extra args (later ones override WAFER_ARGS),
 * open the BERT through bert_drv and the prober, load the wafer; NULL on
 * failure. */
static dvs_session *start_with(const drv_descriptor *bert_drv, const char *const *extra,
			       int timeout_ms, dvs_peer *pr)
{
	const char *args[24] = {WAFER_ARGS};
	char id[64];
	int n = 10;
	dvs_session *s;
	kgd_err err;

	for (; extra && *extra && n < 23; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	s = dvs_open(bert_drv, ROLE, timeout_ms, args);
	if (!s || dvs_open_role(s, prober, "prober", 2000, pr)
	    || prober->prober->load_wafer(pr->h, 1, id, sizeof(id), &err))
		return NULL;
	return s;
}

static dvs_session *start(const char *const *extra, int timeout_ms, dvs_peer *pr)
{
	return start_with(drv, extra, timeout_ms, pr);
}

/* Put the die (col,row) in contact. */
static int contact(dvs_peer *pr, int col, int row)
{
	kgd_err err;
	int rc = prober->prober->step_to(pr->h, (drv_die){col, row}, &err);

	return rc ? rc : prober->prober->contact(pr->h, &err);
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->abi_major, DRV_ABI_MAJOR);
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_BERT);
	CU_ASSERT_STRING_EQUAL(drv->name, "jbert-n4903b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->bert);
	CU_ASSERT_PTR_NOT_NULL(drv->bert->output);
}

/* Identify, configure, output: the instrument's state read back. */
static void test_configure_and_output(void)
{
	dvs_peer pr;
	dvs_session *s = start(NULL, 2000, &pr);
	char r[128];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->identify(s->h, r, sizeof(r), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "Keysight Technologies,N4903B,MY00000002,V1.0 (sim)");
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 16, "PRBS7", 26.5625, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":SOUR9:FREQ:CW?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "+2.65625000E+10");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":SOUR16:PATT:SEL?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "PRBS7");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":SENS16:PATT:SEL?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "PRBS7");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":OUTP16?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1");
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 16, "PRBS31", RATE, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":SOUR9:FREQ:CW?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "+5.31250000E+10");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":SENS16:PATT:SEL?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "PRBS31");
	CU_ASSERT_EQUAL(drv->bert->output(s->h, 16, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, ":OUTP16?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "0");
	/* Arguments the driver refuses before the instrument sees them. */
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 17, "PRBS31", RATE, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "lane 17") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 1, "PRBS9", RATE, &err), KGD_ERR_ARG);
	/* A rate the instrument refuses surfaces from its error queue. */
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 1, "PRBS31", 100.0, &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-222") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* A good die in contact: every lane synchronises, counts the model's
 * errors (none), and reports the 3/bits bound. */
static void test_good_die_is_the_bound(void)
{
	dvs_peer pr;
	dvs_session *s = start(NULL, 2000, &pr);
	const double bits = floor(RATE * 1e9 * GATE_S);
	drv_ber_result res;
	sim_truth t;
	sim_limits lim;
	int col = model.route[0][0], row = model.route[0][1];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	sim_limits_defaults(&lim);
	CU_ASSERT_FATAL(sim_truth_die(&model, &lim, 1, col, row, &t) == 0);
	CU_ASSERT_EQUAL_FATAL(t.defect, SIM_DEFECT_NONE);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, col, row), KGD_OK);
	for (int lane = 1; lane <= 16; lane++) {
		memset(&res, 0xff, sizeof(res));
		CU_ASSERT_EQUAL(drv->bert->configure(s->h, lane, "PRBS31", RATE, &err), KGD_OK);
		CU_ASSERT_EQUAL(drv->bert->measure(s->h, lane, GATE_S, &res, &err), KGD_OK);
		CU_ASSERT_EQUAL(res.bits, bits);
		CU_ASSERT_EQUAL(res.errors, model_errors(col, row, lane, 0));
		CU_ASSERT_EQUAL(res.errors, 0);
		CU_ASSERT_DOUBLE_EQUAL(res.ber, 3.0 / bits, 1e-25);
		CU_ASSERT_EQUAL(res.ber_is_bound, 1);
		CU_ASSERT_EQUAL(res.sync_lost, 0);
	}
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* The ground truth's high-BER lane counts its exact errors, a BER far
 * above the 1e-10 screen; its neighbour lane on the same die does not. */
static void test_high_ber_lane(void)
{
	dvs_peer pr;
	dvs_session *s = start(NULL, 2000, &pr);
	const double bits = floor(RATE * 1e9 * GATE_S);
	drv_ber_result res;
	sim_limits lim;
	sim_truth t = {0};
	int col = -1, row = -1, other;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	sim_limits_defaults(&lim);
	for (int i = 0; i < model.n_dies && col < 0; i++)
		if (sim_truth_die(&model, &lim, 1, model.route[i][0], model.route[i][1], &t) == 0
		    && t.defect == SIM_DEFECT_HIGH_BER) {
			col = model.route[i][0];
			row = model.route[i][1];
		}
	CU_ASSERT_FATAL(col == 5 && row == 2 && t.where == 7);
	other = t.where == 1 ? 2 : 1;
	CU_ASSERT_EQUAL_FATAL(contact(&pr, col, row), KGD_OK);

	CU_ASSERT_EQUAL(drv->bert->configure(s->h, t.where, "PRBS31", RATE, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, t.where, GATE_S, &res, &err), KGD_OK);
	CU_ASSERT_EQUAL(res.bits, bits);
	CU_ASSERT_EQUAL(res.errors, model_errors(col, row, t.where, 0));
	CU_ASSERT(res.errors >= 530);
	CU_ASSERT_DOUBLE_EQUAL(res.ber, res.errors / bits, 1e-20);
	CU_ASSERT(res.ber > 1e-10);
	CU_ASSERT_EQUAL(res.ber_is_bound, 0);
	/* A second gate draws a new sample, still the model's. */
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, t.where, GATE_S, &res, &err), KGD_OK);
	CU_ASSERT_EQUAL(res.errors, model_errors(col, row, t.where, 1));

	CU_ASSERT_EQUAL(drv->bert->configure(s->h, other, "PRBS31", RATE, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, other, GATE_S, &res, &err), KGD_OK);
	CU_ASSERT_EQUAL(res.errors, 0);
	CU_ASSERT_EQUAL(res.ber_is_bound, 1);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* No contact, no pattern: separated, or where contact failed (--fault
 * prober:contact-fail), the detector loses sync, and the driver reports
 * an error, never a BER. */
static void test_no_contact_is_sync_loss(void)
{
	const char *const extra[] = {"--fault", "prober:contact-fail:die=4,4", NULL};
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	drv_ber_result res;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 3, "PRBS31", RATE, &err), KGD_OK);
	/* At a good die, separated. */
	CU_ASSERT_EQUAL(prober->prober->step_to(pr.h, (drv_die){3, 4}, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, 3, GATE_S, &res, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(res.sync_lost, 1);
	CU_ASSERT(strstr(err.msg, "sync") && strstr(err.msg, s->uri));
	/* The die whose contact fails. */
	CU_ASSERT_EQUAL(contact(&pr, 4, 4), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, 3, GATE_S, &res, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(res.sync_lost, 1);
	/* The next die contacts, and the same lane measures. */
	CU_ASSERT_EQUAL(contact(&pr, 3, 4), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, 3, GATE_S, &res, &err), KGD_OK);
	CU_ASSERT_EQUAL(res.sync_lost, 0);
	CU_ASSERT_EQUAL(res.errors, model_errors(3, 4, 3, 2));
	/* A mismatched detector pattern cannot sync either. */
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, ":SENS3:PATT:SEL PRBS7"), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, 3, GATE_S, &res, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(res.sync_lost, 1);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* --fault bert:scpi-error: the -310 the BERT queues once surfaces as a
 * driver error, and the next configure is clean. */
static void test_instrument_error_surfaces(void)
{
	const char *const extra[] = {"--fault", "bert:scpi-error:after=4", NULL};
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	int rc = KGD_OK, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* open: *IDN?, *CLS (lines 1-2); a configure is one message (the
	 * rate when it changes, patterns, output) and its check: the second
	 * configure's message is line 5. */
	for (i = 0; i < 5 && rc == KGD_OK; i++)
		rc = drv->bert->configure(s->h, 1 + i, "PRBS31", RATE, &err);
	CU_ASSERT_EQUAL(rc, KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(i, 2);
	CU_ASSERT(strstr(err.msg, "-310") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 2, "PRBS31", RATE, &err), KGD_OK);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* The BERT goes silent while the gate runs: measure times out within
 * the transport timeout and names the URI. */
static void test_timeout_mid_gate(void)
{
	/* Lines: open 2, configure 2, gate mode and time 2, start 2 (each
	 * message checked); the first :GATE:STAT? poll is line 9. */
	const char *const extra[] = {"--fault", "bert:no-reply:after=8", NULL};
	dvs_peer pr;
	dvs_session *s = start(extra, 300, &pr);
	drv_ber_result res;
	double t0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, 3, 4), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 1, "PRBS31", RATE, &err), KGD_OK);
	t0 = dvs_now();
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, 1, GATE_S, &res, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(dvs_now() - t0 < 1.5);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT(strstr(err.msg, "GATE:STAT?") != NULL);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* --fault bert:garbage: counts that are not numbers are a protocol error,
 * never a BER. (The simulator has no overrange for the BERT; the 9.9E37
 * count is covered by tests/test_drv_jbert.c.) */
static void test_garbage_counts_are_not_a_ber(void)
{
	const char *const extra[] = {"--fault", "bert:garbage", NULL};
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	drv_ber_result res;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, 3, 4), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure(s->h, 1, "PRBS31", RATE, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->measure(s->h, 1, GATE_S, &res, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(strstr(err.msg, "#?garbage") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(res.ber, 0);
	CU_ASSERT_EQUAL(res.ber_is_bound, 0);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* ---- ABI 1.1: one gate on several lanes ---------------------------- */

/* The route's first die; it has no defect (asserted). */
static void good_die(int *col, int *row)
{
	sim_limits lim;
	sim_truth t;

	*col = model.route[0][0];
	*row = model.route[0][1];
	sim_limits_defaults(&lim);
	CU_ASSERT_FATAL(sim_truth_die(&model, &lim, 1, *col, *row, &t) == 0);
	CU_ASSERT_EQUAL_FATAL(t.defect, SIM_DEFECT_NONE);
}

/* Four lanes gated together take about one gate, not four, and each
 * counts the model's errors over the full gate. Time scale 0.1: a 3 s gate
 * lasts 0.3 s, lane by lane would be 1.2 s. */
static void test_multilane_takes_one_gate(void)
{
	const char *const extra[] = {"--time-scale", "0.1", NULL};
	const int lanes[] = {1, 2, 3, 4};
	const double gate = 3.0, wall = gate * 0.1, bits = floor(RATE * 1e9 * gate);
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	drv_ber_result res;
	int col, row;
	double t0, took;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	good_die(&col, &row);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, col, row), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(s->h, lanes, 4, "PRBS31", RATE, &err),
			KGD_OK);
	t0 = dvs_now();
	CU_ASSERT_EQUAL(drv->bert->gate_start(s->h, lanes, 4, gate, &err), KGD_OK);
	for (int i = 0; i < 4; i++) {
		memset(&res, 0xff, sizeof(res));
		CU_ASSERT_EQUAL(drv->bert->gate_read(s->h, lanes[i], gate, &res, &err), KGD_OK);
		CU_ASSERT_EQUAL(res.bits, bits);
		CU_ASSERT_EQUAL(res.errors, model_errors_at(&model, col, row, lanes[i], 0, gate));
		CU_ASSERT_EQUAL(res.ber_is_bound, res.errors == 0);
		CU_ASSERT_EQUAL(res.sync_lost, 0);
	}
	took = dvs_now() - t0;
	CU_ASSERT(took >= wall);
	CU_ASSERT(took < 2 * wall);
	if (took >= 2 * wall)
		fprintf(stderr, "\n4 lanes took %.3f s for a %.3f s gate\n", took, wall);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* An abort during a long gate ends the wait within a poll slice, not at
 * the gate's end: a 60 s gate at time scale 1, the flag set 0.3 s in from
 * another thread (as a signal handler would). */
static volatile sig_atomic_t gate_abort;

static void *set_abort_later(void *arg)
{
	struct timespec ts = {0, 300 * 1000000L};

	(void)arg;
	nanosleep(&ts, NULL);
	__atomic_store_n(&gate_abort, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_multilane_abort_mid_gate(void)
{
	const char *const extra[] = {NULL};
	const int lanes[] = {1, 2};
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	drv_ber_result res;
	pthread_t t;
	int col, row, rc;
	double t0, took;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	good_die(&col, &row);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, col, row), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(s->h, lanes, 2, "PRBS31", RATE, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(s->h, lanes, 2, 60.0, &err), KGD_OK);
	gate_abort = 0;
	xport_set_abort_flag(&gate_abort);
	t0 = dvs_now();
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, set_abort_later, NULL), 0);
	kgd_err_clear(&err);
	rc = drv->bert->gate_read(s->h, lanes[0], 60.0, &res, &err);
	took = dvs_now() - t0;
	pthread_join(t, NULL);
	xport_set_abort_flag(NULL);
	CU_ASSERT_EQUAL(rc, KGD_ERR_ABORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "lane 1: aborted during the gate"));
	CU_ASSERT(took < 1.5);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* Lanes of two overlapping starts of different gate times: each lane
 * counts over its own gate (bits = rate x its time, errors the model's
 * draw for that lane's gate number), whichever closes first. On the die
 * with a high-BER lane, that lane counts its errors beside clean ones. */
static void test_multilane_own_gates(void)
{
	const int all[] = {1, 2, 7, 8}, slow[] = {1, 7}, fast[] = {2, 8};
	const double t_slow = 30, t_fast = 10;  /* 0.3 s and 0.1 s of wall time */
	dvs_peer pr;
	dvs_session *s = start(NULL, 2000, &pr);
	drv_ber_result res;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, 5, 2), KGD_OK);  /* lane 7 high BER */
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(s->h, all, 4, "PRBS31", RATE, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(s->h, slow, 2, t_slow, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(s->h, fast, 2, t_fast, &err), KGD_OK);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(drv->bert->gate_read(s->h, fast[i], t_fast, &res, &err), KGD_OK);
		CU_ASSERT_EQUAL(res.bits, floor(RATE * 1e9 * t_fast));
		CU_ASSERT_EQUAL(res.errors, model_errors_at(&model, 5, 2, fast[i], 0, t_fast));
	}
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(drv->bert->gate_read(s->h, slow[i], t_slow, &res, &err), KGD_OK);
		CU_ASSERT_EQUAL(res.bits, floor(RATE * 1e9 * t_slow));
		CU_ASSERT_EQUAL(res.errors, model_errors_at(&model, 5, 2, slow[i], 0, t_slow));
	}
	CU_ASSERT(res.errors > 1000);  /* lane 7, 30 s at BER > 1e-8 */
	CU_ASSERT(res.ber > 1e-10);
	/* A second gate on the same lanes draws each lane's next sample. */
	CU_ASSERT_EQUAL(drv->bert->gate_start(s->h, all, 4, GATE_S, &err), KGD_OK);
	for (int i = 3; i >= 0; i--) {
		CU_ASSERT_EQUAL(drv->bert->gate_read(s->h, all[i], GATE_S, &res, &err), KGD_OK);
		CU_ASSERT_EQUAL(res.errors, model_errors(5, 2, all[i], 1));
	}
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* A die with a dead port (seed 6): its lane, gated with its neighbours,
 * is that lane's sync loss; the neighbours read the model's counts. */
static void test_multilane_dead_lane(void)
{
	const char *const extra[] = {"--seed", "6", NULL};
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	drv_ber_result res;
	sim_limits lim;
	sim_truth t = {0};
	int col = -1, row = -1, lanes[4];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	sim_limits_defaults(&lim);
	for (int i = 0; i < model6.n_dies && col < 0; i++)
		if (sim_truth_die(&model6, &lim, 1, model6.route[i][0], model6.route[i][1], &t) == 0
		    && t.defect == SIM_DEFECT_DEAD_PORT) {
			col = model6.route[i][0];
			row = model6.route[i][1];
		}
	CU_ASSERT_FATAL(col == 4 && row == 3 && t.where == 8);
	for (int i = 0; i < 4; i++)
		lanes[i] = t.where - 2 + i;  /* 6, 7, 8, 9 */
	CU_ASSERT_EQUAL_FATAL(contact(&pr, col, row), KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->configure_lanes(s->h, lanes, 4, "PRBS31", RATE, &err),
			KGD_OK);
	CU_ASSERT_EQUAL(drv->bert->gate_start(s->h, lanes, 4, GATE_S, &err), KGD_OK);
	for (int i = 0; i < 4; i++) {
		int rc = drv->bert->gate_read(s->h, lanes[i], GATE_S, &res, &err);

		if (lanes[i] == t.where) {
			CU_ASSERT_EQUAL(rc, KGD_ERR_INSTRUMENT);
			CU_ASSERT_EQUAL(res.sync_lost, 1);
			CU_ASSERT(strstr(err.msg, "lane 8") && strstr(err.msg, "sync")
				  && strstr(err.msg, s->uri));
			continue;
		}
		CU_ASSERT_EQUAL(rc, KGD_OK);
		CU_ASSERT_EQUAL(res.sync_lost, 0);
		CU_ASSERT_EQUAL(res.bits, floor(RATE * 1e9 * GATE_S));
		CU_ASSERT_EQUAL(res.errors, model_errors_at(&model6, col, row, lanes[i], 0,
							    GATE_S));
	}
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* bert-v10 (tests/plugins/): a driver of ABI 1.0 measures the simulator's
 * lanes one by one, the model's counts exactly; the station's lane-by-lane
 * path uses it. */
static void test_v10_driver_measures(void)
{
	dvs_peer pr;
	dvs_session *s = start_with(v10, NULL, 2000, &pr);
	const double bits = floor(RATE * 1e9 * GATE_S);
	drv_ber_result res;
	int col, row;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(v10->abi_minor, 0);
	good_die(&col, &row);
	CU_ASSERT_EQUAL_FATAL(contact(&pr, col, row), KGD_OK);
	for (int lane = 1; lane <= 2; lane++) {
		CU_ASSERT_EQUAL(v10->bert->configure(s->h, lane, "PRBS31", RATE, &err), KGD_OK);
		CU_ASSERT_EQUAL(v10->bert->measure(s->h, lane, GATE_S, &res, &err), KGD_OK);
		CU_ASSERT_EQUAL(res.bits, bits);
		CU_ASSERT_EQUAL(res.errors, model_errors(col, row, lane, 0));
		CU_ASSERT_EQUAL(res.ber_is_bound, res.errors == 0);
	}
	CU_ASSERT_EQUAL(v10->bert->output(s->h, 1, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(v10->bert->measure(s->h, 1, GATE_S, &res, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(res.sync_lost, 1);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_vs_jbert", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "configure and output", test_configure_and_output);
	CU_add_test(s, "good die: zero errors is the bound", test_good_die_is_the_bound);
	CU_add_test(s, "high-BER lane counts the model's errors", test_high_ber_lane);
	CU_add_test(s, "no contact is sync loss", test_no_contact_is_sync_loss);
	CU_add_test(s, "instrument error surfaces", test_instrument_error_surfaces);
	CU_add_test(s, "timeout mid-gate", test_timeout_mid_gate);
	CU_add_test(s, "garbage counts are not a BER", test_garbage_counts_are_not_a_ber);
	CU_add_test(s, "multi-lane: four lanes take one gate", test_multilane_takes_one_gate);
	CU_add_test(s, "multi-lane: each lane counts its own gate", test_multilane_own_gates);
	CU_add_test(s, "multi-lane: a dead lane beside good ones", test_multilane_dead_lane);
	CU_add_test(s, "ABI 1.0 driver (bert-v10) measures", test_v10_driver_measures);
	CU_add_test(s, "multi-lane: an abort ends a 60 s gate's wait", test_multilane_abort_mid_gate);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
