/*
 * tests/test_drv_vs_elsfp.c - the elsfp-cmis plugin against the virtual
 * station's USB-I2C adapter and ELSFP modules (role laser of product
 * elsfp): the built plugin dlopen()ed and driven through its descriptor
 * over a real serial:// transport on the simulator's pseudo-terminal.
 * Every reading is compared with the model's value quantised to the CMIS
 * register's resolution, which is exactly what the driver can report.
 * Faults: the adapter's ERR reply, silence mid-operation, garbled reads.
 * tests/test_drv_elsfp.c keeps the scripted-peer cases (module Fault,
 * saturated monitors and other invalid registers, which the simulator
 * never reports).
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
#include "model.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/elsfp-cmis.so"
#define SEED "3"
#define ROLE "laser"
/* Unit 0 (in the fixture at start): 16 lasers, good. Unit 1: 8 lasers,
 * laser 8 weak. */
#define LOT_ARGS "--product", "elsfp", "--seed", SEED, "--lasers", "mixed", \
	"--units", "12"

static const drv_descriptor *drv;
static sim_model model;   /* what kgd-vstation runs with LOT_ARGS */

static int suite_init(void)
{
	sim_model_params p;

	sim_model_defaults(&p);
	p.seed = strtoull(SEED, NULL, 10);
	p.product = SIM_PRODUCT_ELSFP;
	p.lasers = 0;
	p.units = 12;
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

/* What the driver must report for laser of unit at power sample `sample`:
 * the model's values in the registers' units (0.1 uW, 2 uA, 0.05 nm,
 * 0.1 dB, 1/256 degC). */
static drv_laser_reading model_reading(int unit, int laser, uint64_t sample)
{
	drv_laser_reading r;
	sim_laser l;

	sim_laser_read(&model, unit, laser, sample, &l);
	r.power_w = (double)lround(1e-3 * pow(10.0, l.power_dbm / 10.0) / 1e-7) * 0.1e-6;
	r.bias_a = (double)lround(l.bias_ma * 1e-3 / 2e-6) * 2e-6;
	r.wavelength_nm = (double)lround(l.wavelength_nm / 0.05) * 0.05;
	r.smsr_db = (double)lround(l.smsr_db / 0.1) * 0.1;
	r.temperature_c = (double)lround(l.temp_c * 256.0) * (1.0 / 256);
	return r;
}

static int same_reading(drv_laser_reading a, drv_laser_reading b)
{
	return fabs(a.power_w - b.power_w) < 1e-15 && fabs(a.bias_a - b.bias_a) < 1e-15
	       && fabs(a.wavelength_nm - b.wavelength_nm) < 1e-9
	       && fabs(a.smsr_db - b.smsr_db) < 1e-9
	       && fabs(a.temperature_c - b.temperature_c) < 1e-9;
}

/* One adapter line on the driver's own transport (the test owns it). */
static int adapter(dvs_session *s, const char *line, char *reply, size_t cap)
{
	size_t len;
	kgd_err err;
	int rc = xport_write_line(s->x, line, &err);

	return rc ? rc : xport_read_line(s->x, reply, cap, &len, &err);
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->abi_major, DRV_ABI_MAJOR);
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_LASER);
	CU_ASSERT_STRING_EQUAL(drv->name, "elsfp-cmis");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->laser);
	CU_ASSERT_PTR_NOT_NULL(drv->laser->serial);
}

/* Channels, serial and every laser's reading equal the model's; a second
 * reading is the next power sample. */
static void test_readings_equal_the_model(void)
{
	const char *const args[] = {LOT_ARGS, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	drv_laser_reading r;
	char text[64], expect[64];
	int n = 0, all_same = 1;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->identify(s->h, text, sizeof(text), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(text, "KGD,USB-I2C,A0000001,1.0");
	CU_ASSERT_EQUAL(drv->laser->channels(s->h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, sim_unit_channels(&model, 0));
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(drv->laser->serial(s->h, text, sizeof(text), &err), KGD_OK);
	sim_unit_serial(&model, 0, expect, sizeof(expect));
	CU_ASSERT_STRING_EQUAL(text, expect);
	CU_ASSERT_STRING_EQUAL(text, "LOT1-E0001");

	for (int laser = 1; laser <= 16; laser++) {
		memset(&r, 0, sizeof(r));
		CU_ASSERT_EQUAL(drv->laser->read(s->h, laser, &r, &err), KGD_OK);
		all_same &= same_reading(r, model_reading(0, laser, 0));
		/* Plausible for a good module: ~1.5 dBm on the grid. */
		CU_ASSERT(r.power_w > 1e-3 && r.power_w < 2e-3);
		CU_ASSERT(fabs(r.wavelength_nm - sim_grid_nm(&model, laser - 1)) < 0.2);
	}
	CU_ASSERT(all_same);
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 5, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(0, 5, 1)));
	/* Laser 17 does not exist; 0 (all) is not a reading. */
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 17, &r, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "1..16") && strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 0, &r, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* Enable and disable, one laser and all, through the CMIS control bytes,
 * including a module held in low power. */
static void test_enable_disable(void)
{
	const char *const args[] = {LOT_ARGS, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	drv_laser_reading r;
	char reply[128];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 3, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(adapter(s, "R 0.10 82 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK 04");
	/* Dark: power and bias 0, the rest still the laser's. */
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 3, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(r.power_w, 0);
	CU_ASSERT_EQUAL(r.bias_a, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.wavelength_nm, model_reading(0, 3, 0).wavelength_nm, 1e-9);
	/* Its neighbour is untouched. */
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 4, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(0, 4, 0)));
	/* Lane 11 lives in bank 1. */
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 11, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(adapter(s, "R 1.10 82 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK 04");
	CU_ASSERT_EQUAL(adapter(s, "R 0.10 82 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK 04");
	/* Back on: the next reading is the lane's first power sample (a dark
	 * lane draws none). */
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 3, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 3, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(0, 3, 0)));
	/* All off, all on. */
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 0, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(adapter(s, "R 0.10 82 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK FF");
	CU_ASSERT_EQUAL(adapter(s, "R 1.10 82 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK FF");
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 16, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(r.power_w, 0);
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 0, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(adapter(s, "R 1.10 82 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK 00");
	/* A module put in low power: every lane dark until enable releases
	 * it and the module reports Ready. */
	CU_ASSERT_EQUAL(adapter(s, "W 0.00 1A 10", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK");
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 16, &r, &err), KGD_OK);
	CU_ASSERT_EQUAL(r.power_w, 0);
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 16, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(adapter(s, "R 0.00 1A 1", reply, sizeof(reply)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(reply, "OK 00");
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 16, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(0, 16, 0)));
	/* Channel 17 is refused before the adapter sees it. */
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 17, 1, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* Another module in the fixture (SIM DUT 1): 8 lasers, its own serial,
 * and the ground truth's weak laser reads below the power limit. */
static void test_eight_laser_module_and_weak_laser(void)
{
	const char *const args[] = {LOT_ARGS, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	drv_laser_reading r;
	sim_limits lim;
	sim_truth t;
	char text[64], expect[64];
	int n = 0;
	void *h = NULL;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	sim_limits_defaults(&lim);
	CU_ASSERT_FATAL(sim_truth_unit(&model, &lim, 1, &t) == 0);
	CU_ASSERT_EQUAL_FATAL(t.defect, SIM_DEFECT_WEAK_LASER);
	CU_ASSERT_EQUAL_FATAL(t.where, 8);
	CU_ASSERT_EQUAL(adapter(s, "SIM DUT 1", text, sizeof(text)), KGD_OK);
	CU_ASSERT_STRING_EQUAL(text, "OK");
	/* The lane count is read at open: a new module is a new open. */
	CU_ASSERT_EQUAL_FATAL(drv->open(s->x, &h, &err), KGD_OK);
	drv->close(s->h);
	s->h = h;
	CU_ASSERT_EQUAL(drv->laser->channels(s->h, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(drv->laser->serial(s->h, text, sizeof(text), &err), KGD_OK);
	sim_unit_serial(&model, 1, expect, sizeof(expect));
	CU_ASSERT_STRING_EQUAL(text, expect);
	CU_ASSERT_STRING_EQUAL(text, "LOT1-E0002");
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 9, &r, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "1..8") != NULL);
	/* Laser 8: no reading of lane 8 yet in this simulator, sample 0. */
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 8, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(1, 8, 0)));
	CU_ASSERT(10 * log10(r.power_w / 1e-3) < lim.laser_power_low_dbm);
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 7, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(1, 7, 0)));
	CU_ASSERT(10 * log10(r.power_w / 1e-3) > lim.laser_power_low_dbm);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* --fault laser:scpi-error: the adapter's ERR reply is a driver error
 * naming the URI, once; the next read is the model's again. */
static void test_adapter_error_surfaces(void)
{
	/* open: *IDN?, lasers, state (lines 1-3); a read is 4 lines. */
	const char *const args[] = {LOT_ARGS, "--fault", "laser:scpi-error:after=9", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	drv_laser_reading r;
	int rc = KGD_OK, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (i = 0; i < 5 && rc == KGD_OK; i++)
		rc = drv->laser->read(s->h, 2, &r, &err);
	CU_ASSERT_EQUAL(rc, KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(i, 2);  /* line 10: the 2nd read's bias read */
	CU_ASSERT(strstr(err.msg, "simulated fault") && strstr(err.msg, s->uri));
	/* Lane 2 drew sample 0 (1st read), 1 (the failed read's power
	 * line came first): the next is sample 2. */
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 2, &r, &err), KGD_OK);
	CU_ASSERT(same_reading(r, model_reading(0, 2, 2)));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* The adapter goes silent mid-session: the operation times out within
 * the transport timeout, names the URI, and leaves the reading alone. */
static void test_timeout_mid_operation(void)
{
	const char *const args[] = {LOT_ARGS, "--fault", "laser:no-reply:after=5", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 300, args);
	drv_laser_reading r = {.power_w = -1};
	double t0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	t0 = dvs_now();
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 1, &r, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(dvs_now() - t0 < 1.5);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(r.power_w, -1);
	CU_ASSERT_EQUAL(drv->laser->enable(s->h, 1, 0, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* --fault laser:garbage: register reads that are not hex bytes are a
 * protocol error, never a reading or a serial number. (The simulator has
 * no overrange for the adapter; saturated monitors are covered by
 * tests/test_drv_elsfp.c.) */
static void test_garbage_is_not_a_reading(void)
{
	const char *const args[] = {LOT_ARGS, "--fault", "laser:garbage:after=3", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	drv_laser_reading r = {.power_w = -1};
	char sn[64] = "untouched";
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->laser->read(s->h, 1, &r, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(r.power_w, -1);
	CU_ASSERT_EQUAL(drv->laser->serial(s->h, sn, sizeof(sn), &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(sn, "untouched");
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_vs_elsfp", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "readings equal the model", test_readings_equal_the_model);
	CU_add_test(s, "enable and disable", test_enable_disable);
	CU_add_test(s, "8-laser module, weak laser", test_eight_laser_module_and_weak_laser);
	CU_add_test(s, "adapter error surfaces", test_adapter_error_surfaces);
	CU_add_test(s, "timeout mid-operation", test_timeout_mid_operation);
	CU_add_test(s, "garbage is not a reading", test_garbage_is_not_a_reading);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
