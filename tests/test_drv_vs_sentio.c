/*
 * tests/test_drv_vs_sentio.c - the mpi-sentio plugin against the virtual
 * station's SENTIO prober (role prober of product teraphy): the built
 * plugin dlopen()ed and driven through its descriptor over a real tcp://
 * transport to a real kgd-vstation child. A small wafer (40 x 40 mm dies,
 * 32 in the map) is walked to the end of its route, every die contacted,
 * separated and binned with the ground truth's bin, and the bins read back
 * with the simulator-only `sim:get_bin`. Faults: a die off the map, a
 * failed contact, the prober's simulated error, silence mid-route and a
 * garbled die. tests/test_drv_sentio.c keeps the scripted-peer cases.
 *
 * Invariant: every kgd-vstation is stopped by dvs_stop_all() in the suite
 * cleanup, whatever assertion aborted a test.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_vs.h"
#include "model.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/mpi-sentio.so"
#define SEED "5"
#define ROLE "prober"
#define WAFER_ARGS "--product", "teraphy", "--seed", SEED, "--die", "40x40", \
	"--wafers", "1", "--time-scale", "0.01"

static const drv_descriptor *drv;
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
	return drv ? 0 : -1;
}

static int suite_cleanup(void)
{
	dvs_stop_all();
	dvs_unload();
	return 0;
}

static int is_die(drv_die d, int col, int row)
{
	return d.x == col && d.y == row;
}

/* The bin the simulator recorded for a die of the loaded (or last loaded)
 * wafer, read with `sim:get_bin` over a connection of its own: the bin, 0
 * when not binned, -1 when the prober refused or did not answer. */
static int sim_bin(const dvs_session *s, int col, int row)
{
	char query[64], reply[128];
	int code = -1, used = 0;
	long id;

	snprintf(query, sizeof(query), "sim:get_bin %d,%d", col, row);
	if (dvs_raw(s, ROLE, query, reply, sizeof(reply)) != KGD_OK
	    || sscanf(reply, "%d,%ld,%n", &code, &id, &used) < 2 || code != 0 || !used)
		return -1;
	return reply[used] ? atoi(reply + used) : 0;
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->abi_major, DRV_ABI_MAJOR);
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_PROBER);
	CU_ASSERT_STRING_EQUAL(drv->name, "mpi-sentio");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->prober);
	CU_ASSERT_PTR_NOT_NULL(drv->prober->current_die);
	CU_ASSERT_PTR_NOT_NULL(drv->prober->die_count);
}

/* Load, walk the whole route contacting and binning every die, read the
 * bins back from the prober, unload. */
static void test_whole_wafer(void)
{
	const char *const args[] = {WAFER_ARGS, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	sim_limits lim;
	char text[256], expect[256];
	drv_die die = {-1, -1}, cur = {-1, -1};
	int n = -1, end = -1, walked = 0, in_order = 1, rc = KGD_OK;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	sim_limits_defaults(&lim);
	/* The simulator does not know *IDN?: the generic identity. */
	CU_ASSERT_EQUAL(drv->identify(s->h, text, sizeof(text), &err), KGD_OK);
	snprintf(expect, sizeof(expect), "MPI SENTIO prober at %s", s->uri);
	CU_ASSERT_STRING_EQUAL(text, expect);

	CU_ASSERT_EQUAL(drv->prober->die_count(s->h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, model.n_dies);
	CU_ASSERT_EQUAL(n, 32);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 1, text, sizeof(text), &err), KGD_OK);
	sim_wafer_id(&model, 1, expect, sizeof(expect));
	CU_ASSERT_STRING_EQUAL(text, expect);
	CU_ASSERT_STRING_EQUAL(text, "LOT1-W01");

	CU_ASSERT_EQUAL(sim_bin(s, 3, 3), 0);  /* nothing binned yet */
	/* The route, die by die, in the model's serpentine order. */
	rc = drv->prober->step_first(s->h, &die, &end, &err);
	while (rc == KGD_OK && !end && walked < 100) {
		sim_truth t;

		in_order &= walked < model.n_dies
			&& is_die(die, model.route[walked][0], model.route[walked][1]);
		rc = drv->prober->current_die(s->h, &cur, &err);
		in_order &= rc == KGD_OK && is_die(cur, die.x, die.y);
		if (rc == KGD_OK)
			rc = drv->prober->contact(s->h, &err);
		if (rc == KGD_OK)
			rc = drv->prober->separate(s->h, &err);
		if (rc == KGD_OK && sim_truth_die(&model, &lim, 1, die.x, die.y, &t) == 0)
			rc = drv->prober->bin_die(s->h, die, t.expected_bin, &err);
		walked++;
		if (rc == KGD_OK)
			rc = drv->prober->step_next(s->h, &die, &end, &err);
	}
	CU_ASSERT_EQUAL(rc, KGD_OK);
	CU_ASSERT_EQUAL(end, 1);
	CU_ASSERT_EQUAL(walked, model.n_dies);
	CU_ASSERT(in_order);
	/* End of route: the die is left alone, and stays the end. */
	CU_ASSERT(is_die(die, model.route[model.n_dies - 1][0],
			 model.route[model.n_dies - 1][1]));
	end = 0;
	CU_ASSERT_EQUAL(drv->prober->step_next(s->h, &die, &end, &err), KGD_OK);
	CU_ASSERT_EQUAL(end, 1);

	/* Every die carries the bin the ground truth gives it, 7 for the one
	 * high-BER die of this wafer and 1 for the rest. */
	for (int i = 0; i < model.n_dies; i++) {
		sim_truth t;
		int col = model.route[i][0], row = model.route[i][1];

		CU_ASSERT_FATAL(sim_truth_die(&model, &lim, 1, col, row, &t) == 0);
		CU_ASSERT_EQUAL(sim_bin(s, col, row), t.expected_bin);
		CU_ASSERT(t.expected_bin == (col == 5 && row == 2 ? 7 : 1));
	}

	/* step_to anywhere on the map, and back to the first die. */
	CU_ASSERT_EQUAL(drv->prober->step_to(s->h, (drv_die){3, 3}, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->current_die(s->h, &cur, &err), KGD_OK);
	CU_ASSERT(is_die(cur, 3, 3));
	/* A re-bin overwrites. */
	CU_ASSERT_EQUAL(drv->prober->bin_die(s->h, (drv_die){3, 3}, 9, &err), KGD_OK);
	CU_ASSERT_EQUAL(sim_bin(s, 3, 3), 9);
	CU_ASSERT_EQUAL(drv->prober->step_first(s->h, &die, &end, &err), KGD_OK);
	CU_ASSERT_EQUAL(end, 0);
	CU_ASSERT(is_die(die, model.route[0][0], model.route[0][1]));

	CU_ASSERT_EQUAL(drv->prober->unload_wafer(s->h, &err), KGD_OK);
	/* The bins outlive the unload (sim:get_bin reads the last wafer). */
	CU_ASSERT_EQUAL(sim_bin(s, 5, 2), 7);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* ABI 1.4 map_geometry: SENTIO's map:get_* answers are the model's wafer,
 * and the whole dies inside its usable radius, counted from the answers
 * alone, are the prober's map (map:get_num_dies). */
static void test_map_geometry(void)
{
	const char *const args[] = {WAFER_ARGS, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	drv_map_geometry g;
	int n = -1, sites = 0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->prober->map_geometry);
	CU_ASSERT(drv->abi_minor >= 4);
	CU_ASSERT_EQUAL_FATAL(drv->prober->map_geometry(s->h, &g, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(g.diameter_mm, model.p.wafer_mm, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(g.die_w_um, 40000, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(g.die_h_um, 40000, 1e-9);
	CU_ASSERT_EQUAL(g.cols, model.cols);
	CU_ASSERT_EQUAL(g.rows, model.rows);
	CU_ASSERT_DOUBLE_EQUAL(g.edge_um, model.p.edge_mm * 1000, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(g.notch_deg, 270, 1e-9);
	for (int j = 0; j < g.rows; j++)
		for (int i = 0; i < g.cols; i++) {
			double r = g.diameter_mm / 2 - g.edge_um / 1000;
			int in = 1;

			for (int k = 0; k < 4; k++) {
				double x = (i + (k & 1) - g.cols / 2.0) * g.die_w_um / 1000;
				double y = (j + (k >> 1) - g.rows / 2.0) * g.die_h_um / 1000;

				in &= x * x + y * y <= r * r;
			}
			sites += in;
		}
	CU_ASSERT_EQUAL(drv->prober->die_count(s->h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(sites, n);
	CU_ASSERT_EQUAL(sites, 32);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* What the prober refuses comes back as a driver error with its message
 * and the URI, and the driver keeps working. */
static void test_prober_error_surfaces(void)
{
	const char *const args[] = {WAFER_ARGS, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	char id[64];
	drv_die die = {-1, -1}, cur;
	int end = -1;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* No wafer yet. */
	CU_ASSERT_EQUAL(drv->prober->step_first(s->h, &die, &end, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "no wafer loaded") && strstr(err.msg, s->uri));
	CU_ASSERT(is_die(die, -1, -1));
	/* One wafer in the cassette: slot 2 is empty. */
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 2, id, sizeof(id), &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "no such slot") != NULL);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 1, id, sizeof(id), &err), KGD_OK);
	/* Contact before any step: not at a die. */
	CU_ASSERT_EQUAL(drv->prober->contact(s->h, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "not at a die") != NULL);
	/* A die outside the map (its corner is off the wafer). */
	CU_ASSERT_EQUAL(drv->prober->step_to(s->h, (drv_die){0, 0}, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "no such die") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->prober->bin_die(s->h, (drv_die){0, 0}, 1, &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "no such die") != NULL);
	/* Loading twice. */
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 1, id, sizeof(id), &err),
			KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "already loaded") != NULL);
	/* Still in business. */
	CU_ASSERT_EQUAL(drv->prober->step_to(s->h, (drv_die){4, 4}, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->current_die(s->h, &cur, &err), KGD_OK);
	CU_ASSERT(is_die(cur, 4, 4));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* --fault prober:contact-fail:die=C,R: contact there fails (error 5),
 * elsewhere it works; --fault prober:scpi-error: error 8 once. */
static void test_contact_fail_and_fault(void)
{
	const char *const args[] = {WAFER_ARGS, "--fault", "prober:contact-fail:die=4,4",
				    "--fault", "prober:scpi-error:after=10", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	char id[64];
	drv_die die = {-1, -1};
	int end = 0, rc = KGD_OK, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Lines 1-4: *RCS 1, *IDN?, load, align. */
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 1, id, sizeof(id), &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->prober->step_to(s->h, (drv_die){4, 4}, &err), KGD_OK);   /* 5 */
	CU_ASSERT_EQUAL(drv->prober->contact(s->h, &err), KGD_ERR_INSTRUMENT);        /* 6 */
	CU_ASSERT(strstr(err.msg, "contact failed") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->prober->step_to(s->h, (drv_die){3, 4}, &err), KGD_OK);   /* 7 */
	CU_ASSERT_EQUAL(drv->prober->contact(s->h, &err), KGD_OK);                    /* 8 */
	CU_ASSERT_EQUAL(drv->prober->separate(s->h, &err), KGD_OK);                   /* 9 */
	/* Line 11 answers "simulated fault", once. */
	for (i = 0; i < 5 && rc == KGD_OK; i++)
		rc = drv->prober->step_next(s->h, &die, &end, &err);
	CU_ASSERT_EQUAL(rc, KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(i, 2);
	CU_ASSERT(strstr(err.msg, "simulated fault") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->prober->step_first(s->h, &die, &end, &err), KGD_OK);
	CU_ASSERT(is_die(die, model.route[0][0], model.route[0][1]));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* The prober goes silent mid-route: the step times out within the
 * transport timeout, names the URI, and the caller's die is untouched. */
static void test_timeout_mid_route(void)
{
	const char *const args[] = {WAFER_ARGS, "--fault", "prober:no-reply:after=8", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 300, args);
	char id[64];
	drv_die die = {-1, -1};
	double t0 = dvs_now();
	int end = 0, rc, i = 0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 1, id, sizeof(id), &err), KGD_OK);
	rc = drv->prober->step_first(s->h, &die, &end, &err);         /* line 5 */
	while (rc == KGD_OK && i < 10) {                                /* 6, 7, 8, 9 */
		i++;
		die.x = die.y = -1;
		t0 = dvs_now();
		rc = drv->prober->step_next(s->h, &die, &end, &err);
	}
	CU_ASSERT_EQUAL(rc, KGD_ERR_TIMEOUT);
	CU_ASSERT_EQUAL(i, 4);
	CU_ASSERT(dvs_now() - t0 < 1.5);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT(is_die(die, -1, -1));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* A garbled die coordinate or die count is a protocol error, never a die
 * and never a number. */
static void test_garbage_is_not_a_die(void)
{
	const char *const args[] = {WAFER_ARGS, "--fault", "prober:garbage:after=4", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	char id[64];
	drv_die die = {-1, -1};
	int end = -1, n = -1;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->prober->load_wafer(s->h, 1, id, sizeof(id), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(id, "LOT1-W01");
	CU_ASSERT_EQUAL(drv->prober->step_first(s->h, &die, &end, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(strstr(err.msg, "#?garbage") && strstr(err.msg, s->uri));
	CU_ASSERT(is_die(die, -1, -1));
	CU_ASSERT_EQUAL(drv->prober->current_die(s->h, &die, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(is_die(die, -1, -1));
	CU_ASSERT_EQUAL(drv->prober->die_count(s->h, &n, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(n, -1);
	{
		drv_map_geometry g;

		CU_ASSERT_EQUAL(drv->prober->map_geometry(s->h, &g, &err),
				KGD_ERR_PROTOCOL);
		CU_ASSERT(strstr(err.msg, "map:get_diameter") && strstr(err.msg, s->uri));
	}
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_vs_sentio", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "whole wafer: route, contact, bins", test_whole_wafer);
	CU_add_test(s, "prober error surfaces", test_prober_error_surfaces);
	CU_add_test(s, "map geometry (ABI 1.4)", test_map_geometry);
	CU_add_test(s, "contact-fail and simulated fault", test_contact_fail_and_fault);
	CU_add_test(s, "timeout mid-route", test_timeout_mid_route);
	CU_add_test(s, "garbage is not a die", test_garbage_is_not_a_die);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
