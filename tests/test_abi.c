/*
 * tests/test_abi.c - the driver ABI as the station enforces it: tiny real
 * plugins (tests/plugins/, built into test-plugins/) that are each wrong in
 * one way are refused by drv_plugin_load with the exact message, and
 * `station plugins` lists them as REJECTED with those reasons beside the
 * good one as OK. The real drivers of plugins/ must all load.
 *
 * Invariant: the expected messages are written out in full here, so a
 * change of wording is a deliberate change of this test.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "testutil.h"

#define DIR KGD_TEST_PLUGIN_DIR
#define STATION KGD_BIN_DIR "/station"

/* Load DIR/<name>.so; expect failure with status and message exactly. */
static void expect_refused(const char *name, int status, const char *fmt_tail)
{
	char path[512], want[1024];
	drv_plugin *p = NULL;
	kgd_err err;

	snprintf(path, sizeof(path), "%s/%s.so", DIR, name);
	snprintf(want, sizeof(want), "%s: %s", path, fmt_tail);
	CU_ASSERT_EQUAL(drv_plugin_load(path, &p, &err), status);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	if (strcmp(err.msg, want))
		fprintf(stderr, "\n got: %s\nwant: %s\n", err.msg, want);
}

static void test_good_plugin_loads(void)
{
	drv_plugin *p = NULL;
	char ops[256];
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(drv_plugin_load(DIR "/abi-good.so", &p, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(p->desc->name, "abi-good");
	drv_plugin_ops(p, ops, sizeof(ops));
	CU_ASSERT_STRING_EQUAL(ops, "open close identify configure measure");
	/* A BERT of this minor without the multi-lane group gates lane by
	 * lane. */
	CU_ASSERT_EQUAL(p->desc->abi_minor, DRV_ABI_MINOR);
	CU_ASSERT_EQUAL(drv_plugin_bert_multilane(p), 0);
	drv_plugin_unload(p);
}

static void test_wrong_major(void)
{
	expect_refused("abi-wrong-major", KGD_ERR_ABI,
		       "plugin built for driver ABI 2.0, station speaks 1.4");
}

static void test_missing_symbol(void)
{
	expect_refused("abi-no-symbol", KGD_ERR_ABI,
		       "not a station driver (no 'kgd_driver' symbol)");
}

static void test_missing_operation(void)
{
	expect_refused("abi-missing-op", KGD_ERR_ABI,
		       "driver 'abi-missing-op' lacks required operation measure");
}

static void test_unknown_class(void)
{
	expect_refused("abi-unknown-class", KGD_ERR_ABI,
		       "driver 'abi-unknown-class' has unknown class 9 (ABI 1.4 "
		       "knows power-meter 1, bert 2, prober 3, laser 4, smu 5)");
}

/* One or two of the three 1.1 operations is a broken driver: a caller
 * that found gate_start could not read the gate. */
static void test_partial_multilane(void)
{
	expect_refused("abi-partial-multilane", KGD_ERR_ABI,
		       "driver 'abi-partial-multilane' sets only part of the "
		       "multi-lane operations (has gate_start; lacks configure_lanes "
		       "gate_read): a driver sets all of them or none");
}

/* A plugin of minor 0 has no 1.1 slots, whatever its memory holds there:
 * the loader never reads them, so it is not multi-lane. */
static void test_minor0_slots_never_read(void)
{
	drv_plugin *p = NULL;
	char ops[256];
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(drv_plugin_load(DIR "/abi-minor0-multilane.so", &p, &err),
			      KGD_OK);
	CU_ASSERT_EQUAL(p->desc->abi_minor, 0);
	CU_ASSERT_PTR_NOT_NULL(p->desc->bert->gate_start);
	drv_plugin_ops(p, ops, sizeof(ops));
	CU_ASSERT_STRING_EQUAL(ops, "open close identify configure measure");
	CU_ASSERT_EQUAL(drv_plugin_bert_multilane(p), 0);
	drv_plugin_unload(p);
}

/* bert-v10's table is the 1.0 struct of three operations: loading,
 * listing and asking for the multi-lane group read nothing past it (the
 * sanitized build would report the read). */
static void test_v10_bert_is_lane_by_lane(void)
{
	drv_plugin *p = NULL;
	char ops[256];
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(drv_plugin_load(DIR "/bert-v10.so", &p, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(p->desc->name, "bert-v10");
	CU_ASSERT_EQUAL(p->desc->abi_major, 1);
	CU_ASSERT_EQUAL(p->desc->abi_minor, 0);
	drv_plugin_ops(p, ops, sizeof(ops));
	CU_ASSERT_STRING_EQUAL(ops, "open close identify configure measure output");
	CU_ASSERT_EQUAL(drv_plugin_bert_multilane(p), 0);
	drv_plugin_unload(p);
}

static void test_missing_file(void)
{
	drv_plugin *p = NULL;
	const char *dirs[] = {DIR};
	kgd_err err;

	CU_ASSERT_EQUAL(drv_plugin_find("no-such-driver", dirs, 1, &p, &err),
			KGD_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(err.msg, "unknown driver 'no-such-driver': no "
			       "no-such-driver.so in " DIR);
}

/* Every driver of this project loads, with its class and full table. */
static void test_real_drivers_load(void)
{
	static const struct {
		const char *name;
		int klass;
		const char *ops;
		int multilane;
	} want[] = {
		{"keysight-n774x", DRV_CLASS_POWER_METER, "open close identify "
		 "set_wavelength read_power set_averaging read_power_all "
		 "set_wavelength_ports", 0},
		{"mpi-sentio", DRV_CLASS_PROBER, "open close identify load_wafer "
		 "step_first step_next step_to contact separate bin_die "
		 "unload_wafer current_die die_count fiber_move fiber_position map_geometry", 0},
		{"thorlabs-pm100", DRV_CLASS_POWER_METER, "open close identify "
		 "set_wavelength read_power set_averaging read_power_all", 0},
		{"jbert-n4903b", DRV_CLASS_BERT, "open close identify configure "
		 "measure output configure_lanes gate_start gate_read", 1},
		{"elsfp-cmis", DRV_CLASS_LASER, "open close identify channels "
		 "enable read serial", 0},
		{"keithley-24xx", DRV_CLASS_SMU, "open close identify "
		 "source_current source_voltage measure output sweep", 0},
	};
	const char *dirs[] = {KGD_PLUGIN_BUILD_DIR};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		drv_plugin *p = NULL;
		char ops[512];
		kgd_err err;

		CU_ASSERT_EQUAL(drv_plugin_find(want[i].name, dirs, 1, &p, &err), KGD_OK);
		if (!p) {
			fprintf(stderr, "\n%s\n", err.msg);
			continue;
		}
		CU_ASSERT_EQUAL(p->desc->klass, want[i].klass);
		drv_plugin_ops(p, ops, sizeof(ops));
		CU_ASSERT_STRING_EQUAL(ops, want[i].ops);
		CU_ASSERT_EQUAL(p->desc->abi_minor, DRV_ABI_MINOR);
		CU_ASSERT_EQUAL(drv_plugin_bert_multilane(p), want[i].multilane);
		drv_plugin_unload(p);
	}
}

static void test_station_plugins_lists_reasons(void)
{
	char *argv[] = {STATION, "plugins", NULL};
	static char out[16384], errb[4096];
	char v10[512];
	int rc;

	setenv("KGD_PLUGIN_PATH", DIR, 1);
	rc = tu_run(argv, out, sizeof(out), errb, sizeof(errb), 30);
	unsetenv("KGD_PLUGIN_PATH");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(strstr(out, "OK       abi-good             bert         1.4   "
			 DIR "/abi-good.so") != NULL);
	CU_ASSERT(strstr(out, "REJECTED " DIR "/abi-wrong-major.so: plugin built "
			 "for driver ABI 2.0, station speaks 1.4\n") != NULL);
	CU_ASSERT(strstr(out, "REJECTED " DIR "/abi-partial-multilane.so: driver "
			 "'abi-partial-multilane' sets only part of the multi-lane "
			 "operations") != NULL);
	/* A 1.0 plugin is listed with its minor and its 1.0 operations; the
	 * operations come from the loader's rows, so jbert shows 1.1's. */
	snprintf(v10, sizeof(v10), "OK       bert-v10             bert         1.0   "
		 DIR "/bert-v10.so\n%47s%s\n", "",
		 "open close identify configure measure output");
	CU_ASSERT(strstr(out, v10) != NULL);
	CU_ASSERT(strstr(out, "open close identify configure measure output "
			 "configure_lanes gate_start gate_read\n") != NULL);
	CU_ASSERT(strstr(out, "REJECTED " DIR "/abi-no-symbol.so: not a station "
			 "driver (no 'kgd_driver' symbol)\n") != NULL);
	CU_ASSERT(strstr(out, "REJECTED " DIR "/abi-missing-op.so: driver "
			 "'abi-missing-op' lacks required operation measure\n") != NULL);
	CU_ASSERT(strstr(out, "REJECTED " DIR "/abi-unknown-class.so: driver "
			 "'abi-unknown-class' has unknown class 9") != NULL);
	/* The build's own drivers follow the configured folder. */
	CU_ASSERT(strstr(out, "OK       mpi-sentio") != NULL);
	if (rc != 0 || !strstr(out, "abi-good"))
		fprintf(stderr, "\n%s\n%s\n", out, errb);
}

static void test_station_plugins_help_names_path(void)
{
	char *argv[] = {STATION, "plugins", "--help", NULL};
	static char out[4096];

	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), NULL, 0, 30), 0);
	CU_ASSERT(strstr(out, "KGD_PLUGIN_PATH") && strstr(out, "plugin_path")
		  && strstr(out, KGD_PLUGIN_BUILD_DIR));
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("abi", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "good plugin loads", test_good_plugin_loads);
	CU_add_test(s, "wrong major refused", test_wrong_major);
	CU_add_test(s, "missing symbol refused", test_missing_symbol);
	CU_add_test(s, "missing operation refused", test_missing_operation);
	CU_add_test(s, "unknown class refused", test_unknown_class);
	CU_add_test(s, "partial multi-lane group refused", test_partial_multilane);
	CU_add_test(s, "minor 0: 1.1 slots never read", test_minor0_slots_never_read);
	CU_add_test(s, "1.0 BERT plugin is lane by lane", test_v10_bert_is_lane_by_lane);
	CU_add_test(s, "missing driver names folders", test_missing_file);
	CU_add_test(s, "real drivers load", test_real_drivers_load);
	CU_add_test(s, "station plugins lists reasons", test_station_plugins_lists_reasons);
	CU_add_test(s, "station plugins --help names the path",
		    test_station_plugins_help_names_path);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
