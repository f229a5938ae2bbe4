/*
 * tests/test_drv_vs_pm100.c - the thorlabs-pm100 plugin against the virtual
 * station's PM100D (role pm100 of product teraphy): the built plugin is
 * dlopen()ed and driven through its descriptor over a real tcp://
 * transport to a real kgd-vstation child, with the simulator's faults for
 * an instrument error, a timeout, an overrange and a garbled reading.
 * tests/test_drv_pm100.c keeps the scripted-peer cases the simulator
 * cannot produce (other models, a NaN reading).
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

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/thorlabs-pm100.so"
#define SEED "11"
#define ROLE "pm100"

static const drv_descriptor *drv;

static int suite_init(void)
{
	drv = dvs_load(PLUGIN);
	return drv ? 0 : -1;
}

static int suite_cleanup(void)
{
	dvs_stop_all();
	dvs_unload();
	return 0;
}

/* What the simulated PM100 reads on a TeraPHY station for its n-th
 * MEAS:POW? (0-based): the reference laser with reading noise, printed to
 * 9 significant digits as the simulator prints it. */
static double model_reference_w(uint64_t n)
{
	sim_model_params p;
	sim_model m;
	uint64_t s;
	char text[64];
	double dbm;

	sim_model_defaults(&p);
	p.seed = strtoull(SEED, NULL, 10);
	p.product = SIM_PRODUCT_TERAPHY;
	if (sim_model_init(&m, &p))
		return NAN;
	s = sim_hash(m.key, 0x504d3130, n, 0, 0);
	dbm = m.p.ref_dbm + m.p.noise_sigma_db * sim_gauss(&s);
	snprintf(text, sizeof(text), "%.8E", 1e-3 * pow(10.0, dbm / 10.0));
	return strtod(text, NULL);
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->abi_major, DRV_ABI_MAJOR);
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_POWER_METER);
	CU_ASSERT_STRING_EQUAL(drv->name, "thorlabs-pm100");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->pm);
	CU_ASSERT_PTR_NOT_NULL(drv->pm->set_averaging);
	CU_ASSERT_PTR_NOT_NULL(drv->pm->read_power_all);
}

/* Every operation, with the instrument's state read back over the same
 * link and every reading equal to the model's. */
static void test_every_operation(void)
{
	const char *const args[] = {"--product", "teraphy", "--seed", SEED, NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	char idn[128], r[64];
	double w = 0, all[4] = {0}, t0, dt;
	int n = 0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->identify(s->h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(idn, "Thorlabs,PM100D,P0000001,2.7.0");
	/* open left the meter in watts and auto range. */
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:POW:UNIT?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "W");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:POW:RANG:AUTO?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1");

	CU_ASSERT_EQUAL(drv->pm->set_wavelength(s->h, 1, 1301.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:CORR:WAV?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1301.0");

	/* Readings 0, 1 and 2 of the meter: the model's, to the digit. */
	CU_ASSERT_EQUAL(drv->pm->read_power(s->h, 1, &w, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(w, model_reference_w(0), 1e-15);
	CU_ASSERT(fabs(10 * log10(w / 1e-3) - 4.0) < 0.2);  /* the 4 dBm reference */
	CU_ASSERT_EQUAL(drv->pm->read_power(s->h, 1, &w, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(w, model_reference_w(1), 1e-15);
	CU_ASSERT_EQUAL(drv->pm->read_power_all(s->h, all, 4, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_DOUBLE_EQUAL(all[0], model_reference_w(2), 1e-15);

	/* Averaging: seconds to a sample count at 3 ms a sample. */
	CU_ASSERT_EQUAL(drv->pm->set_averaging(s->h, 1, 0.03, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:AVER:COUN?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "10");
	CU_ASSERT_EQUAL(drv->pm->set_averaging(s->h, 1, 31.0, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:AVER:COUN?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "10");
	/* An averaged reading is still the model's next sample, and the
	 * simulator takes the 0.03 s the driver asked for (3 ms a sample on
	 * both sides, time scale 1). */
	t0 = dvs_now();
	CU_ASSERT_EQUAL(drv->pm->read_power(s->h, 1, &w, &err), KGD_OK);
	dt = dvs_now() - t0;
	CU_ASSERT(dt >= 0.029 && dt < 1.0);
	CU_ASSERT_DOUBLE_EQUAL(w, model_reference_w(3), 1e-15);

	/* One port only. */
	CU_ASSERT_EQUAL(drv->pm->read_power(s->h, 2, &w, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* The meter's own error queue surfaces as a driver error naming the code
 * and the URI; the queue is drained so the next command is clean. */
static void test_instrument_error_surfaces(void)
{
	const char *const args[] = {"--product", "teraphy", "--seed", SEED,
				    "--fault", "pm100:scpi-error:after=20", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, args);
	char r[64];
	int rc = KGD_OK, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Out of the sensor's range: the simulator queues -222. */
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(s->h, 1, 2000.0, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-222") != NULL);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:CORR:WAV?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1310.0");  /* unchanged: the reset value */

	/* --fault scpi-error: command 21 queues -310 once. Each set is a
	 * command and a SYST:ERR? check, so one of them reports it. */
	for (i = 0; i < 20 && rc == KGD_OK; i++)
		rc = drv->pm->set_wavelength(s->h, 1, i % 2 ? 1300.0 : 1550.0, &err);
	CU_ASSERT_EQUAL(rc, KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-310") != NULL);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	/* open sends 8 lines (*IDN?, *CLS, then 3 commands each checked with
	 * SYST:ERR?) and the -222 exchange 3 more: the 5th set (lines 20 and
	 * 21) is the one. */
	CU_ASSERT_EQUAL(i, 5);
	/* Once: the queue is empty again and a set goes through. */
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(s->h, 1, 1320.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:CORR:WAV?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1320.0");
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* The meter stops answering mid-session: the read times out within the
 * transport timeout, names the URI, and leaves the caller's value alone. */
static void test_timeout_mid_operation(void)
{
	const char *const args[] = {"--product", "teraphy", "--seed", SEED,
				    "--fault", "pm100:no-reply:after=12", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 300, args);
	double w = 0, t0, slowest = 0;
	int rc = KGD_OK, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (i = 0; i < 20 && rc == KGD_OK; i++) {
		w = -1.0;
		t0 = dvs_now();
		rc = drv->pm->read_power(s->h, 1, &w, &err);
		slowest = fmax(slowest, dvs_now() - t0);
	}
	/* open sends 8 lines: readings 1 to 4 are answered, the 5th not. */
	CU_ASSERT_EQUAL(i, 5);
	CU_ASSERT_EQUAL(rc, KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(w, -1.0);
	CU_ASSERT(slowest < 1.5);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* Overrange (9.9E37) is KGD_ERR_OVERRANGE and never a number; a reply
 * that is no number at all is a protocol error. */
static void test_invalid_reading_is_not_a_number(void)
{
	const char *const over[] = {"--product", "teraphy", "--seed", SEED,
				    "--fault", "pm100:overrange", NULL};
	const char *const garbage[] = {"--product", "teraphy", "--seed", SEED,
				       "--fault", "pm100:garbage", NULL};
	dvs_session *s = dvs_open(drv, ROLE, 2000, over);
	double w = -1.0, all[2] = {-1.0, -1.0};
	int n = -1;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->pm->read_power(s->h, 1, &w, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT_EQUAL(w, -1.0);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(drv->pm->read_power_all(s->h, all, 2, &n, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT_EQUAL(all[0], -1.0);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);

	s = dvs_open(drv, ROLE, 2000, garbage);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->pm->read_power(s->h, 1, &w, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(w, -1.0);
	CU_ASSERT(strstr(err.msg, s->uri) != NULL);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_vs_pm100", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "every operation equals the model", test_every_operation);
	CU_add_test(s, "instrument error surfaces", test_instrument_error_surfaces);
	CU_add_test(s, "timeout mid-operation", test_timeout_mid_operation);
	CU_add_test(s, "invalid reading is not a number", test_invalid_reading_is_not_a_number);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
