/*
 * tests/test_drv_vs_keithley.c - the keithley-24xx plugin (dlopen'ed, as
 * the station loads it) against kgd-vstation's simulated 2400s on the
 * ELSFP lasers: sourcing and readings equal to the model's L-I-V law,
 * compliance, the output off, and the error paths (measure before any
 * source, levels beyond the model's range, a garbage reply, an over-range
 * reading), each with a message naming the instrument.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_vs.h"
#include "model.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/keithley-24xx.so"
#define LOT_ARGS "--product", "elsfp", "--seed", "3", "--units", "4"

static const drv_descriptor *drv;
static sim_model model;

static int suite_init(void)
{
	sim_model_params p;

	sim_model_defaults(&p);
	p.seed = 3;
	p.product = SIM_PRODUCT_ELSFP;
	p.units = 4;
	if (sim_model_init(&model, &p))
		return -1;
	drv = dvs_load(PLUGIN);
	return drv && drv->klass == DRV_CLASS_SMU && drv->smu ? 0 : -1;
}

static int suite_cleanup(void)
{
	dvs_stop_all();
	dvs_unload();
	return 0;
}

/* SMU 3 drives laser 3 of unit 0: at 40 mA the voltage is the law's. */
static void test_source_and_measure(void)
{
	const char *args[] = {LOT_ARGS, NULL};
	dvs_session *s = dvs_open(drv, "smu3", 2000, args);
	double v = 0, i = 0;
	char idn[256];
	sim_liv law;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->identify(s->h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(idn, "MODEL 2400"));
	/* Nothing sourced yet: no reading to take. */
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing is sourced"));

	sim_laser_liv(&model, 0, 3, &law);
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, 0.040, 3.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(i, 0.040, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(v, sim_liv_volts(&law, 0.040), 1e-5);
	/* Compliance: 1.0 V cannot drive 40 mA; the reading sits at the
	 * limit with the current the law gives there. */
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, 0.040, 1.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(v, 1.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(i, sim_liv_amps(&law, 1.0), 1e-6);
	CU_ASSERT(i < 0.040);
	/* Reverse bias: the laser's leak, the current negative. */
	CU_ASSERT_EQUAL(drv->smu->source_voltage(s->h, -1.0, 1e-3, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(v, -1.0, 1e-9);
	CU_ASSERT(i < 0 && i > -1e-8);
	/* Output off: the 2400 has no reading to give; the driver says so
	 * at once rather than wait out a :READ? that gets no answer. */
	CU_ASSERT_EQUAL(drv->smu->output(s->h, 0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "output is off"));
	/* Back on: readings again. */
	CU_ASSERT_EQUAL(drv->smu->output(s->h, 1, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_OK);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* Beyond the 2400's ranges: refused before anything is sent, naming the
 * model and the range. */
static void test_range_refused(void)
{
	const char *args[] = {LOT_ARGS, NULL};
	dvs_session *s = dvs_open(drv, "smu1", 2000, args);
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, 2.0, 3.0, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "MODEL 2400"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(drv->smu->source_voltage(s->h, 1.0, 0, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "compliance"));
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, NAN, 3.0, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* A reply that is not two numbers, and the overflow value. */
static void test_bad_replies(void)
{
	const char *garbage[] = {LOT_ARGS, "--fault", "smu1:garbage", NULL};
	const char *over[] = {LOT_ARGS, "--fault", "smu1:overrange", NULL};
	dvs_session *s = dvs_open(drv, "smu1", 2000, garbage);
	double v, i;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, 0.01, 3.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":READ?"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);

	s = dvs_open(drv, "smu1", 2000, over);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, 0.01, 3.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v, &i, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* ABI 1.3: the 2400's staircase sweep (:SOUR:CURR:MODE SWE, one :READ?
 * for every point) equals the law point by point, compliance included;
 * it leaves the output off, and the source fixed again: a single
 * source + measure afterwards reads one point, not a sweep. */
static void test_sweep(void)
{
	const char *args[] = {LOT_ARGS, NULL};
	dvs_session *s = dvs_open(drv, "smu3", 2000, args);
	double v[DRV_SMU_SWEEP_MAX], i[DRV_SMU_SWEEP_MAX], v1, i1;
	sim_liv law;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(drv->abi_minor >= 3 && drv->smu->sweep != NULL, 1);
	sim_laser_liv(&model, 0, 3, &law);
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 0.080, 21, 3.0, v, i, &err), KGD_OK);
	for (int k = 0; k < 21; k++) {
		CU_ASSERT_DOUBLE_EQUAL(i[k], 0.004 * k, 1e-9);
		CU_ASSERT_DOUBLE_EQUAL(v[k], sim_liv_volts(&law, 0.004 * k), 1e-5);
	}
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v1, &i1, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(drv->smu->source_current(s->h, 0.040, 3.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->smu->measure(s->h, &v1, &i1, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(i1, 0.040, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(v1, sim_liv_volts(&law, 0.040), 1e-5);
	/* Compliance inside a sweep: the top points sit at 1.0 V. */
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 0.080, 5, 1.0, v, i, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(v[4], 1.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(i[4], sim_liv_amps(&law, 1.0), 1e-6);
	/* A voltage sweep: reverse bias, the laser's 1 GOhm leak. */
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 0, -2.0, 0.0, 3, 1e-3, v, i, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(v[0], -2.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(i[0], -2e-9, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(v[1], -1.0, 1e-9);
	/* Refused before anything is sent. */
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 0.08, 1, 3.0, v, i, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "points"));
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 0.08, DRV_SMU_SWEEP_MAX + 1, 3.0, v,
					i, &err), KGD_ERR_ARG);
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 2.0, 5, 3.0, v, i, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "MODEL 2400"));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* A sweep's reply that is not its pairs, and an over-range in it: errors
 * naming the instrument and the command, the output still switched off. */
static void test_sweep_bad_replies(void)
{
	const char *garbage[] = {LOT_ARGS, "--fault", "smu2:garbage", NULL};
	const char *over[] = {LOT_ARGS, "--fault", "smu2:overrange", NULL};
	dvs_session *s = dvs_open(drv, "smu2", 2000, garbage);
	double v[8], i[8];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 0.02, 5, 3.0, v, i, &err),
			KGD_ERR_PROTOCOL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":READ?"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, s->uri));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);

	s = dvs_open(drv, "smu2", 2000, over);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(drv->smu->sweep(s->h, 1, 0.0, 0.02, 5, 3.0, v, i, &err),
			KGD_ERR_OVERRANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "point 1 of 5"));
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_vs_keithley", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "source, measure, compliance, output off = the model",
		    test_source_and_measure);
	CU_add_test(s, "levels beyond the model's range refused", test_range_refused);
	CU_add_test(s, "garbage and over-range replies", test_bad_replies);
	CU_add_test(s, "staircase sweep (ABI 1.3) = the model", test_sweep);
	CU_add_test(s, "sweep: garbage and over-range replies", test_sweep_bad_replies);
	return 0;
}
