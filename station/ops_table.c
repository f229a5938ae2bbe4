/*
 * station/ops_table.c - what a sequence step may do, as data: each run_ops
 * row names the operation, the instrument class it needs, how it is
 * judged, the values it returns with their native units, the sweep
 * variables and params it understands, the function that performs it at
 * one sweep point, where the instrument has one its parallel form (a
 * batch over all ports or all lanes), and the plausible range of every
 * sweep variable and numeric param. A new operation is a row here and
 * one function in ops_<class>.c.
 *
 * Invariant: lint.c checks a sequence against exactly this table, so what
 * `station check` accepts is what a run can do.
 */
#include "run_int.h"

#include <stdio.h>
#include <string.h>

#define NO_VALUES {{NULL, NULL}}
/* The ranges column: the plausible values of each sweep variable and
 * numeric param (run_range). An index is 1..64: the widest instrument the
 * station drives. */
#define R_PORT {"port", 1, 64, "", 1}
#define R_LANE {"lane", 1, 64, "", 1}
#define R_CHANNEL {"channel", 1, 64, "", 1}
#define R_WAVELENGTH {"wavelength_nm", 1000, 1700, "nm", 0}
#define R_AVERAGING {"averaging_s", 0, 60, "s", 0}
#define R_RATE {"rate_gbps", 1, 224, "Gb/s", 0}

static const run_op run_ops[] = {
	{"optical_power", DRV_CLASS_POWER_METER, RUN_KIND_NUMERIC,
	 {{NULL, "W"}}, {"port", "wavelength_nm"},
	 {{"averaging_s", RUN_P_NUMBER}}, run_op_pm_optical_power, 0,
	 "port", run_batch_pm_optical_power, run_can_batch_pm,
	 {R_PORT, R_WAVELENGTH, R_AVERAGING}},
	{"insertion_loss", DRV_CLASS_POWER_METER, RUN_KIND_NUMERIC,
	 {{NULL, "dB"}}, {"port", "wavelength_nm"},
	 {{"averaging_s", RUN_P_NUMBER}, {"reference_dbm", RUN_P_NUMBER},
	  {"reference_step", RUN_P_STEPREF},
	  {"reference_match", RUN_P_STRING}},
	 run_op_pm_insertion_loss, 0,
	 "port", run_batch_pm_insertion_loss, run_can_batch_pm,
	 {R_PORT, R_WAVELENGTH, R_AVERAGING,
	  {"reference_dbm", -60, 40, "dBm", 0}}},
	{"configure", DRV_CLASS_BERT, RUN_KIND_ACTION, NO_VALUES, {"lane"},
	 {{"pattern", RUN_P_PATTERN}, {"rate_gbps", RUN_P_NUMBER},
	  {"output", RUN_P_BOOL}},
	 run_op_bert_configure, 0, NULL, NULL, NULL, {R_LANE, R_RATE}},
	/* errors = 0 flags ber as the zero-error bound 3/bits. */
	{"ber", DRV_CLASS_BERT, RUN_KIND_NUMERIC,
	 {{NULL, "ratio"}, {"errors", ""}}, {"lane"},
	 {{"pattern", RUN_P_PATTERN}, {"rate_gbps", RUN_P_NUMBER},
	  {"gate_s", RUN_P_NUMBER}},
	 run_op_bert_ber, 0, "lane", run_batch_bert_ber, run_can_batch_bert,
	 {R_LANE, R_RATE, {"gate_s", 0.001, 3600, "s", 0}}},
	{"enable", DRV_CLASS_LASER, RUN_KIND_ACTION, NO_VALUES, {"channel"},
	 {{"channels", RUN_P_CHANNELS}}, run_op_laser_enable, 0, NULL, NULL, NULL,
	 {R_CHANNEL}},
	{"disable", DRV_CLASS_LASER, RUN_KIND_ACTION, NO_VALUES, {"channel"},
	 {{"channels", RUN_P_CHANNELS}}, run_op_laser_disable, 0, NULL, NULL,
	 NULL, {R_CHANNEL}},
	{"read", DRV_CLASS_LASER, RUN_KIND_NUMERIC,
	 {{"power", "W"}, {"wavelength", "nm"}, {"bias", "A"},
	  {"temperature", "C"}, {"smsr", "dB"}}, {"channel"}, {{NULL, 0}},
	 run_op_laser_read, 0, NULL, NULL, NULL, {R_CHANNEL}},
	{"identify", 0, RUN_KIND_MATCH, NO_VALUES, {NULL},
	 {{"glob", RUN_P_STRING}, {"regex", RUN_P_REGEX}}, run_op_identify, 0,
	 NULL, NULL, NULL, {{NULL, 0, 0, NULL, 0}}},
	{"wait", -1, RUN_KIND_ACTION, NO_VALUES, {NULL},
	 {{"seconds", RUN_P_NUMBER}}, run_op_wait, 0, NULL, NULL, NULL,
	 {{"seconds", 0, 3600, "s", 0}}},
	{"prompt", -1, RUN_KIND_PROMPT, NO_VALUES, {NULL},
	 {{"text", RUN_P_STRING}, {"expect", RUN_P_STRING}}, run_op_prompt, 1,
	 NULL, NULL, NULL, {{NULL, 0, 0, NULL, 0}}},
	/* LIV: per point of current_ma (mA) the light on the meter's port
	 * and the SMU's voltage; once per sweep the derived values
	 * (ops_smu.c from analysis.c), each a row with its own limits. */
	{"liv", DRV_CLASS_SMU, RUN_KIND_NUMERIC,
	 {{"power", "W"}, {"voltage", "V"}, {"threshold", "A"},
	  {"slope_efficiency", "W/A"}, {"kink", "%"},
	  {"series_resistance", "ohm"}}, {"current_ma"},
	 {{"meter", RUN_P_PM_ROLE}, {"port", RUN_P_NUMBER},
	  {"wavelength_nm", RUN_P_NUMBER}, {"v_limit", RUN_P_NUMBER}},
	 run_op_smu_liv, 0, NULL, NULL, NULL,
	 {{"current_ma", 0, 2000, "mA", 0}, R_PORT, R_WAVELENGTH,
	  {"v_limit", 0.1, 210, "V", 0}}},
	{"dark_current", DRV_CLASS_SMU, RUN_KIND_NUMERIC, {{NULL, "A"}}, {NULL},
	 {{"reverse_v", RUN_P_NUMBER}, {"i_limit", RUN_P_NUMBER}},
	 run_op_smu_dark_current, 0, NULL, NULL, NULL,
	 {{"reverse_v", 0, 210, "V", 0}, {"i_limit", 1e-9, 1.05, "A", 0}}},
	{"off", DRV_CLASS_SMU, RUN_KIND_ACTION, NO_VALUES, {NULL}, {{NULL, 0}},
	 run_op_smu_off, 0, NULL, NULL, NULL, {{NULL, 0, 0, NULL, 0}}},
	/* IV: per point of current_ma (mA) the voltage and the current read
	 * back; with a 1.3 driver's sweep, evenly spaced points go as one
	 * staircase sweep in the instrument. Once per sweep the series
	 * resistance (ops_smu.c). */
	{"iv", DRV_CLASS_SMU, RUN_KIND_NUMERIC,
	 {{"voltage", "V"}, {"current", "A"}, {"series_resistance", "ohm"}},
	 {"current_ma"}, {{"v_limit", RUN_P_NUMBER}},
	 run_op_smu_iv, 0, "current_ma", run_batch_smu_iv, run_can_batch_smu,
	 {{"current_ma", -2000, 2000, "mA", 0}, {"v_limit", 0.1, 210, "V", 0}}},
	/* A photodiode's photocurrent at a reverse bias against the power
	 * meter's reading of the same port, per wavelength_nm; once per
	 * sweep the responsivity (ops_smu.c). */
	{"responsivity", DRV_CLASS_SMU, RUN_KIND_NUMERIC,
	 {{"photocurrent", "A"}, {"power", "W"}, {"responsivity", "A/W"}},
	 {"wavelength_nm"},
	 {{"meter", RUN_P_PM_ROLE}, {"port", RUN_P_NUMBER},
	  {"wavelength_nm", RUN_P_NUMBER}, {"reverse_v", RUN_P_NUMBER},
	  {"i_limit", RUN_P_NUMBER}},
	 run_op_smu_responsivity, 0, NULL, NULL, NULL,
	 {R_WAVELENGTH, R_PORT, {"reverse_v", 0, 210, "V", 0},
	  {"i_limit", 1e-9, 1.05, "A", 0}}},
	/* A ring heater's tuning: per wavelength_nm a scan of heater_mw
	 * against the through port on the meter; once per sweep the power
	 * that tunes the ring onto the first wavelength, the cold
	 * resonance and the shift per mW (ops_smu.c). */
	{"ring_tune", DRV_CLASS_SMU, RUN_KIND_NUMERIC,
	 {{"heater_power", "mW"}, {"through_power", "W"},
	  {"tuning_power", "mW"}, {"resonance", "nm"}, {"shift", "nm/mW"}},
	 {"wavelength_nm", "heater_mw"},
	 {{"meter", RUN_P_PM_ROLE}, {"port", RUN_P_NUMBER},
	  {"heater_ohm", RUN_P_NUMBER}, {"i_limit", RUN_P_NUMBER}},
	 run_op_smu_ring_tune, 0, NULL, NULL, NULL,
	 {R_WAVELENGTH, {"heater_mw", 0, 1000, "mW", 0}, R_PORT,
	  {"heater_ohm", 1, 1e7, "ohm", 0}, {"i_limit", 1e-9, 1.05, "A", 0}}},
	/* Fiber alignment on the prober's positioner against a monitor port
	 * (ops_align.c): spiral, hill climb, parabola; the result's values. */
	{"align", DRV_CLASS_PROBER, RUN_KIND_NUMERIC,
	 {{"peak_power", "W"}, {"coupling_loss", "dB"}, {"offset_x", "um"},
	  {"offset_y", "um"}, {"offset", "um"}, {"moves", ""}, {"time", "s"}},
	 {NULL},
	 {{"meter", RUN_P_PM_ROLE}, {"port", RUN_P_NUMBER},
	  {"wavelength_nm", RUN_P_NUMBER}, {"averaging_s", RUN_P_NUMBER},
	  {"reference_dbm", RUN_P_NUMBER}, {"coarse_step_um", RUN_P_NUMBER},
	  {"coarse_radius_um", RUN_P_NUMBER}, {"tolerance_um", RUN_P_NUMBER},
	  {"budget_s", RUN_P_NUMBER}},
	 run_op_prober_align, 0, NULL, NULL, NULL,
	 {R_PORT, R_WAVELENGTH, R_AVERAGING, {"reference_dbm", -60, 40, "dBm", 0},
	  {"coarse_step_um", 0.1, 20, "um", 0},
	  {"coarse_radius_um", 0, 50, "um", 0},
	  {"tolerance_um", 0.001, 10, "um", 0}, {"budget_s", 0.01, 600, "s", 0}}},
};

/* Operations with derived values: from which value on, and the function
 * that computes them from the sweep's points. */
static const run_derive run_derives[] = {
	{"liv", 2, run_derive_smu_liv},
	{"responsivity", 2, run_derive_smu_responsivity},
	{"ring_tune", 2, run_derive_smu_ring_tune},
	{"iv", 2, run_derive_smu_iv},
};

#define N_OPS (sizeof(run_ops) / sizeof(run_ops[0]))

const run_op *run_find_op(const char *name)
{
	for (size_t i = 0; name && i < N_OPS; i++)
		if (strcmp(run_ops[i].name, name) == 0)
			return &run_ops[i];
	return NULL;
}

const run_derive *run_op_derive(const run_op *op)
{
	for (size_t i = 0; op && i < sizeof(run_derives) / sizeof(run_derives[0]); i++)
		if (strcmp(run_derives[i].op, op->name) == 0)
			return &run_derives[i];
	return NULL;
}

int run_value_derived(const run_op *op, int vi)
{
	const run_derive *d = run_op_derive(op);

	return d && vi >= d->first;
}

const char *run_op_names(void)
{
	static char names[256];

	if (!names[0]) {
		size_t used = 0;

		for (size_t i = 0; i < N_OPS && used < sizeof(names); i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used,
						 "%s%s", i ? ", " : "", run_ops[i].name);
	}
	return names;
}


size_t run_n_ops(void)
{
	return N_OPS;
}

const run_op *run_op_at(size_t i)
{
	return i < N_OPS ? &run_ops[i] : NULL;
}

const char *run_op_names_of(int klass, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_OPS && used < cap; i++)
		if (run_ops[i].klass == klass || run_ops[i].klass == 0)
			used += (size_t)snprintf(buf + used, cap - used, "%s%s",
						 used ? ", " : "", run_ops[i].name);
	return buf;
}

const run_range *run_op_range(const run_op *op, const char *name)
{
	for (size_t i = 0; i < RUN_MAX_RANGES && op->ranges[i].name; i++)
		if (strcmp(op->ranges[i].name, name) == 0)
			return &op->ranges[i];
	return NULL;
}
