/*
 * tests/test_sim_faults.c - the simulated PM100D and the fault kinds no
 * driver test reaches, spoken to over raw sockets (the transport and the
 * SCPI helpers, no driver): the PM100's command set, units, averaging
 * time and reset, and the disconnect fault cutting a prober reply.
 * The driver-level faults (no-reply, garbage, scpi-error, contact-fail on
 * the BERT, prober and adapter) are in tests/test_drv_vs_*.c.
 *
 * Invariant: every kgd-vstation is stopped in the suite cleanup.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_vs.h"
#include "kgd/scpi.h"
#include "model.h"

#define SEED "21"

static int suite_init(void)
{
	return 0;
}

static int suite_cleanup(void)
{
	dvs_stop_all();
	return 0;
}

/* The n-th reference reading (0-based) of the PM100 on a fiber station,
 * dBm, as the simulator prints it (%.8E). */
static double model_reference_dbm(uint64_t n)
{
	sim_model_params p;
	sim_model m;
	uint64_t s;
	char text[64];
	double dbm;

	sim_model_defaults(&p);
	p.seed = strtoull(SEED, NULL, 10);
	p.product = SIM_PRODUCT_FIBER;
	if (sim_model_init(&m, &p))
		return NAN;
	s = sim_hash(m.key, 0x504d3130, n, 0, 0);
	dbm = m.p.fiber_ref_dbm + m.p.noise_sigma_db * sim_gauss(&s);
	snprintf(text, sizeof(text), "%.8E", 10.0 * log10(pow(10.0, dbm / 10.0)));
	return strtod(text, NULL);
}

static void test_pm100_simulator(void)
{
	const char *const args[] = {"--product", "fiber", "--seed", SEED, NULL};
	dvs_session *s = dvs_start(NULL, "pm100", 3000, args);
	char r[128];
	double v = 0, t0, dt;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "*IDN?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "Thorlabs,PM100D,P0000001,2.7.0");
	/* Power-on state. */
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:POW:UNIT?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "W");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:CORR:WAV?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1310.0");
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err, "SENS:AVER:COUN?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1");
	/* dBm: the 0 dBm reference of a fiber station, sample by sample;
	 * MEAS:POW? and READ? both take a sample. */
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:POW:UNIT DBM"), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query_double(s->x, &v, &err, "MEAS:POW?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(v, model_reference_dbm(0), 1e-12);
	CU_ASSERT(fabs(v) < 0.2);
	CU_ASSERT_EQUAL(scpi_query_double(s->x, &v, &err, "READ?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(v, model_reference_dbm(1), 1e-12);
	/* Averaging costs 3 ms a sample (time scale 1): 100 samples, 0.3 s. */
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:AVER:COUN 100"), KGD_OK);
	t0 = dvs_now();
	CU_ASSERT_EQUAL(scpi_query_double(s->x, &v, &err, "MEAS:POW?"), KGD_OK);
	dt = dvs_now() - t0;
	CU_ASSERT(dt >= 0.29 && dt < 1.5);
	/* Out of range, unknown unit, unknown header: the error queue. */
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:CORR:WAV 300"), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-222") != NULL);
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:POW:UNIT V"), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:AVER:COUN 0"), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:FOO 1"), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-113") != NULL);
	/* *RST: watts, 1310 nm, no averaging. */
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "SENS:CORR:WAV 1550"), KGD_OK);
	CU_ASSERT_EQUAL(scpi_command(s->x, &err, "*RST"), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(s->x, r, sizeof(r), &err,
				   "SENS:POW:UNIT?;:SENS:CORR:WAV?;:SENS:AVER:COUN?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "W;1310.0;1");
	CU_ASSERT_EQUAL(scpi_query_double(s->x, &v, &err, "MEAS:POW?"), KGD_OK);
	CU_ASSERT(v > 0.9e-3 && v < 1.1e-3);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

/* --fault prober:disconnect:after=N: the reply to line N+1 is cut in half
 * and the connection closed; a new connection is served. */
static void test_prober_disconnect(void)
{
	const char *const args[] = {"--product", "teraphy", "--die", "40x40", "--wafers", "1",
				    "--fault", "prober:disconnect:after=1", NULL};
	dvs_session *s = dvs_start(NULL, "prober", 500, args);
	char r[128];
	size_t len = 0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(xport_write_line(s->x, "map:get_num_dies", &err), KGD_OK);
	CU_ASSERT_EQUAL(xport_read_line(s->x, r, sizeof(r), &len, &err), KGD_OK);
	CU_ASSERT(strncmp(r, "0,1,", 4) == 0);
	CU_ASSERT_EQUAL(xport_write_line(s->x, "map:get_num_dies", &err), KGD_OK);
	CU_ASSERT_NOT_EQUAL(xport_read_line(s->x, r, sizeof(r), &len, &err), KGD_OK);
	/* Once: a fresh connection gets whole replies. */
	CU_ASSERT_EQUAL(dvs_raw(s, "prober", "map:get_num_dies", r, sizeof(r)), KGD_OK);
	CU_ASSERT(strncmp(r, "0,", 2) == 0 && strlen(r) > 4);
	CU_ASSERT_EQUAL(dvs_stop(s), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("sim_faults", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "PM100 simulator", test_pm100_simulator);
	CU_add_test(s, "prober disconnect", test_prober_disconnect);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
