/*
 * tests/test_drv_pm100.c - the thorlabs-pm100 power-meter plugin,
 * dlopen()ed from the build's plugins/ folder and driven through its
 * descriptor over a real tcp:// transport (the simulator's choice for this
 * SCPI set, see docs/INSTRUMENTS.md) to a scripted PM100D (drv_peer.c).
 *
 * Invariant: every peer is stopped by the test that started it.
 */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_peer.h"
#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/xport.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/thorlabs-pm100.so"

static void *dl;
static const drv_descriptor *drv;

struct pm100 {
	const char *idn;
	int watts, autorange, conf;
	double wl_nm;
	int averaging;
	int last_err;            /* 1: -222 */
	int hang_after, count;
	const char *reading;     /* MEAS:POW? reply */
	int wl_sets;             /* how many SENS:CORR:WAV went out */
};

static int pm_respond(void *state, const char *line, char *reply, size_t cap)
{
	struct pm100 *p = state;
	double d;
	int n;

	if (p->hang_after && ++p->count > p->hang_after)
		return PEER_HANG;
	if (strcmp(line, "*IDN?") == 0) {
		snprintf(reply, cap, "%s", p->idn ? p->idn : "Thorlabs,PM100D,P0000001,2.7.0");
		return PEER_REPLY;
	}
	/* Also as the second command of a reading's message (MEAS:POW?;:SYST:ERR?). */
	if (strcmp(line, "SYST:ERR?") == 0 || strcmp(line, ":SYST:ERR?") == 0) {
		snprintf(reply, cap, "%s", p->last_err ? "-222,\"Data out of range\""
						       : "+0,\"No error\"");
		p->last_err = 0;
		return PEER_REPLY;
	}
	if (strcmp(line, "*CLS") == 0)
		return PEER_NONE;
	if (strcmp(line, "SENS:POW:UNIT W") == 0)
		p->watts = 1;
	else if (strcmp(line, "SENS:POW:RANG:AUTO 1") == 0)
		p->autorange = 1;
	else if (strcmp(line, "CONF:POW") == 0)
		p->conf = 1;
	else if (sscanf(line, "SENS:CORR:WAV %lf", &d) == 1) {
		p->wl_sets++;
		if (d < 400 || d > 1800)
			p->last_err = 1;
		else
			p->wl_nm = d;
	} else if (sscanf(line, "SENS:AVER:COUN %d", &n) == 1)
		p->averaging = n;
	else if (strcmp(line, "MEAS:POW?") == 0) {
		if (!p->watts || !p->autorange || !p->conf)
			snprintf(reply, cap, "not set up");
		else
			snprintf(reply, cap, "%s", p->reading ? p->reading : "+1.25000000E-03");
		return PEER_REPLY;
	}
	return PEER_NONE;
}

struct rig {
	pid_t pid;
	char uri[64];
	xport *x;
	void *h;
};

static int rig_up(struct rig *g, struct pm100 *p, int timeout_ms, kgd_err *err)
{
	memset(g, 0, sizeof(*g));
	g->pid = drv_peer_tcp(pm_respond, p, g->uri, sizeof(g->uri));
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
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_POWER_METER);
	CU_ASSERT_STRING_EQUAL(drv->name, "thorlabs-pm100");
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->pm);
	CU_ASSERT_PTR_NOT_NULL(drv->pm->set_averaging);
	CU_ASSERT_PTR_NOT_NULL(drv->pm->read_power_all);
}

static void test_every_operation(void)
{
	struct pm100 p = {.reading = "+1.25000000E-03"};
	struct rig g;
	double w = 0, all[4];
	char idn[128];
	int n = 0;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->identify(g.h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(idn, "Thorlabs,PM100D,P0000001,2.7.0");
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(g.h, 1, 1310.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->set_averaging(g.h, 1, 0.1, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->read_power(g.h, 1, &w, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(w, 1.25e-3, 1e-15);
	CU_ASSERT_EQUAL(drv->pm->read_power_all(g.h, all, 4, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_DOUBLE_EQUAL(all[0], 1.25e-3, 1e-15);
	CU_ASSERT_EQUAL(drv->pm->read_power(g.h, 2, &w, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "port 2") && strstr(err.msg, "PM100D"));
	CU_ASSERT_EQUAL(drv->pm->set_averaging(g.h, 1, 100.0, &err), KGD_ERR_ARG);
	rig_down(&g);
}

static void test_models_by_idn(void)
{
	static const char *const ok[] = {
		"Thorlabs,PM100USB,1,1.0", "Thorlabs,PM101,1,1.0",
		"Thorlabs,PM100A,1,1.0", "Thorlabs,PM400,1,1.0",
	};
	struct pm100 p = {0};
	struct rig g;
	kgd_err err;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		p.idn = ok[i];
		CU_ASSERT_EQUAL(rig_up(&g, &p, 1000, &err), KGD_OK);
		rig_down(&g);
	}
	p.idn = "Newport,1936-R,1,1.0";
	CU_ASSERT_EQUAL(rig_up(&g, &p, 1000, &err), KGD_ERR_UNSUPPORTED);
	CU_ASSERT(strstr(err.msg, "Newport,1936-R") && strstr(err.msg, g.uri));
	CU_ASSERT_PTR_NULL(g.h);
	rig_down(&g);
}

static void test_instrument_error_surfaces(void)
{
	struct pm100 p = {0};
	struct rig g;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(g.h, 1, 2500.0, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-222") && strstr(err.msg, "SENS:CORR:WAV")
		  && strstr(err.msg, g.uri));
	rig_down(&g);
}

static void test_overrange_is_not_a_number(void)
{
	struct pm100 p = {.reading = "9.9E37"};
	struct rig g;
	double w = 1;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->read_power(g.h, 1, &w, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT_DOUBLE_EQUAL(w, 1, 0);
	rig_down(&g);
	p.reading = "NaN";
	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 1000, &err), KGD_OK);
	CU_ASSERT_NOT_EQUAL(drv->pm->read_power(g.h, 1, &w, &err), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(w, 1, 0);
	rig_down(&g);
}

static void test_timeout_mid_operation(void)
{
	/* *IDN?, *CLS, 3 setup commands with their error checks: 8 answered. */
	struct pm100 p = {.hang_after = 8, .reading = "1e-3"};
	struct rig g;
	double w;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(rig_up(&g, &p, 300, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->read_power(g.h, 1, &w, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, g.uri) && strstr(err.msg, "MEAS:POW?"));
	rig_down(&g);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_pm100", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "every operation", test_every_operation);
	CU_add_test(s, "models by *IDN?", test_models_by_idn);
	CU_add_test(s, "instrument error surfaces", test_instrument_error_surfaces);
	CU_add_test(s, "overrange is not a number", test_overrange_is_not_a_number);
	CU_add_test(s, "timeout mid-operation", test_timeout_mid_operation);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
