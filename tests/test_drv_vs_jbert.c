/*
 * tests/test_drv_vs_jbert.c - the jbert-n4903b plugin against the virtual
 * station's 16-lane BERT (role bert of product teraphy): the built plugin
 * dlopen()ed and driven through its descriptor over a real tcp://
 * transport to a real kgd-vstation child. The BERT only sees a pattern
 * while the prober holds a die in contact, so the tests drive the real
 * mpi-sentio plugin on the same simulator too. Error counts are asserted
 * exactly: the simulator draws them from the model (a Poisson sample keyed
 * by lane and gate number), which this program recomputes. Faults: the
 * error queue, silence mid-gate, garbled counts, a failed contact.
 * tests/test_drv_jbert.c keeps the scripted-peer cases (other models, a
 * 9.9E37 count, a gate that never closes).
 *
 * Invariant: every kgd-vstation is stopped by dvs_stop_all() in the suite
 * cleanup, whatever assertion aborted a test.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_vs.h"
#include "kgd/scpi.h"
#include "model.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/jbert-n4903b.so"
#define PROBER_PLUGIN KGD_PLUGIN_BUILD_DIR "/mpi-sentio.so"
#define SEED "5"
#define ROLE "bert"
/* 32 dies; (5,2) has a high-BER lane. A gate of 1 s lasts 10 ms. */
#define WAFER_ARGS "--product", "teraphy", "--seed", SEED, "--die", "40x40", \
	"--wafers", "1", "--time-scale", "0.01"
#define RATE 53.125
#define GATE_S 1.0

static const drv_descriptor *drv, *prober;
static sim_model model;   /* what kgd-vstation runs with WAFER_ARGS */

static int suite_init(void)
{
	sim_model_params p;

	sim_model_defaults(&p);
	p.seed = strtoull(SEED, NULL, 10);
	p.product = SIM_PRODUCT_TERAPHY;
	p.die_w_mm = p.die_h_mm = 40;
	p.wafers = 1;
	if (sim_model_init(&model, &p))
		return -1;
	drv = dvs_load(PLUGIN);
	prober = dvs_load(PROBER_PLUGIN);
	return drv && prober ? 0 : -1;
}

static int suite_cleanup(void)
{
	dvs_stop_all();
	dvs_unload();
	return 0;
}

/* The error count the simulator gives the gate-th gate (0-based) of lane
 * on die (col,row) of slot 1 in contact, at RATE for GATE_S. */
static double model_errors(int col, int row, int lane, uint64_t gate)
{
	uint64_t s = sim_hash(model.key, 0x42455254, (uint64_t)lane, gate, 0);
	double ber = sim_die_ber(&model, 1, col, row, lane, RATE);

	return (double)sim_poisson(ber * floor(RATE * 1e9 * GATE_S), &s);
}

/* Start the simulator with extra args, open the BERT and the prober, load
 * the wafer; NULL on failure. */
static dvs_session *start(const char *const *extra, int timeout_ms, dvs_peer *pr)
{
	const char *args[24] = {WAFER_ARGS};
	char id[64];
	int n = 10;
	dvs_session *s;
	kgd_err err;

	for (; extra && *extra && n < 23; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	s = dvs_open(drv, ROLE, timeout_ms, args);
	if (!s || dvs_open_role(s, prober, "prober", 2000, pr)
	    || prober->prober->load_wafer(pr->h, 1, id, sizeof(id), &err))
		return NULL;
	return s;
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
	const char *const extra[] = {"--fault", "bert:scpi-error:after=12", NULL};
	dvs_peer pr;
	dvs_session *s = start(extra, 2000, &pr);
	int rc = KGD_OK, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* open: *IDN?, *CLS (lines 1-2); a first configure sends the rate
	 * and three more commands, each checked (3-10); later ones 6 lines. */
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
	/* Lines: open 2, configure 8, gate mode, time and start 6 (checked);
	 * the first :GATE:STAT? poll is line 17. */
	const char *const extra[] = {"--fault", "bert:no-reply:after=16", NULL};
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
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
