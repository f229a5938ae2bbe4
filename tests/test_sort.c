/*
 * tests/test_sort.c - integration: sequences/teraphy-sort.yaml (alignment,
 * power and insertion loss, every port's photodiode dark current and
 * responsivity, every port's ring-heater tuning) run by the real
 * `station` binary on kgd-vstation --fiber-align --pd-ring, each
 * photodiode and heater on its own simulated Keithley 2400 and the
 * reference light from the simulated ELSFP source.
 *
 * Every die's bin must be the model's ground truth (sim_truth_die with
 * sim_limits.sort): the 3 um coupler die aligns and passes, the planted
 * leaky photodiode bins 8, the planted open heater 9, dark ports 5. On
 * every die that reaches them, each derived value must be the model's
 * own number - responsivity, dark current, the heater power that tunes
 * the ring onto the target, its cold resonance and its shift per mW -
 * so the steps measure what the parts are, not merely a bin.
 *
 * Beside it, smu.iv on the ELSFP lasers' 2400s: evenly spaced currents go
 * to the instrument as one staircase sweep (ABI 1.3), and what it logs
 * equals the point-by-point path (KGD_NO_BATCH) and the laser's law.
 *
 * Every simulator started here is stopped and reaped before the test
 * returns.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define SEQ KGD_SOURCE_DIR "/sequences/teraphy-sort.yaml"
#define LIMITS KGD_SOURCE_DIR "/sequences/limits/teraphy-sort-a0.yaml"
#define PORTS 16

/* How close a measured derived value must come to the model's. The
 * meter's reading noise is 0.02 dB (0.5 %), which the responsivity
 * carries; the ring's dip centre is fitted to 0.005 mW (test_analysis),
 * and the shift spans two dips 4.5 mW apart. */
#define RESP_REL 0.03
#define DARK_REL 0.01
#define TUNE_MW 0.02
#define SHIFT_REL 0.01
#define RES_NM 0.01

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("sort"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static int model_init(sim_model *m)
{
	sim_model_params p;

	sim_model_defaults(&p);
	p.product = SIM_PRODUCT_TERAPHY;
	snprintf(p.lot, sizeof(p.lot), "SO1");
	p.seed = 7;
	p.wafers = 1;
	p.die_w_mm = 40;
	p.die_h_mm = 40;
	p.fiber_align = 1;
	p.pd_ring = 1;
	return sim_model_init(m, &p);
}

/* One die's run id and soft bin; 0 with exactly one run. */
static int die_run(sqlite3 *h, const char *wafer, int col, int row,
		   sqlite3_int64 *run, int *bin)
{
	sqlite3_stmt *st;
	int runs = 0;

	if (sqlite3_prepare_v2(h, "SELECT r.id, r.soft_bin FROM run r JOIN part p ON "
			       "r.part_id = p.id JOIN wafer w ON p.wafer_id = w.id "
			       "WHERE w.name = ?1 AND p.die_x = ?2 AND p.die_y = ?3",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, wafer, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, col);
	sqlite3_bind_int(st, 3, row);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*run = sqlite3_column_int64(st, 0);
		*bin = sqlite3_column_int(st, 1);
		runs++;
	}
	sqlite3_finalize(st);
	return runs == 1 ? 0 : -1;
}

/* Value `name` of step `step` (name NULL: the step's only value) of run,
 * in the unit it was logged in; NAN when absent or NULL (no valid value). */
static double value_of(sqlite3 *h, sqlite3_int64 run, const char *step, const char *name)
{
	sqlite3_stmt *st;
	double v = NAN;

	if (sqlite3_prepare_v2(h, "SELECT value FROM measurement WHERE run_id = ?1 AND "
			       "step = ?2 AND (?3 IS NULL OR name = ?3)", -1, &st,
			       NULL) != SQLITE_OK)
		return NAN;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int near(double got, double want, double tol)
{
	return isfinite(got) && fabs(got - want) <= tol;
}

/* Every port's derived values against the model; the count of misses. */
static int check_values(sqlite3 *h, sqlite3_int64 run, const sim_model *m,
			const sim_limits *l, int slot, int col, int row, int ring_too)
{
	int bad = 0;

	for (int p = 1; p <= PORTS; p++) {
		char step[32];
		sim_pd pd;
		sim_ring r;
		double v, want;

		sim_die_pd(m, slot, col, row, p, &pd);
		snprintf(step, sizeof(step), "dark_%d", p);
		want = fabs(sim_pd_amps(&pd, -l->pd_reverse_v, 0)) * 1e9;   /* nA */
		v = value_of(h, run, step, NULL);
		if (!near(v, want, DARK_REL * want)) {
			fprintf(stderr, "\n  (%d,%d) %s: %.4g nA, model %.4g", col, row, step,
				v, want);
			bad++;
		}
		snprintf(step, sizeof(step), "resp_%d", p);
		v = value_of(h, run, step, "responsivity");
		if (!near(v, pd.resp_a_w, RESP_REL * pd.resp_a_w)) {
			fprintf(stderr, "\n  (%d,%d) %s: %.4g A/W, model %.4g", col, row,
				step, v, pd.resp_a_w);
			bad++;
		}
		if (!ring_too)
			continue;
		sim_die_ring(m, slot, col, row, p, &r);
		snprintf(step, sizeof(step), "ring_%d", p);
		v = value_of(h, run, step, "tuning_power");
		want = sim_ring_tuning_mw(m, &r, m->p.ring_channel);
		if (!near(v, want, TUNE_MW)) {
			fprintf(stderr, "\n  (%d,%d) %s: tuning %.4f mW, model %.4f", col,
				row, step, v, want);
			bad++;
		}
		v = value_of(h, run, step, "shift");
		if (!near(v, r.shift_nm_mw, SHIFT_REL * r.shift_nm_mw)) {
			fprintf(stderr, "\n  (%d,%d) %s: shift %.5f nm/mW, model %.5f", col,
				row, step, v, r.shift_nm_mw);
			bad++;
		}
		v = value_of(h, run, step, "resonance");
		if (!near(v, r.res0_nm, RES_NM)) {
			fprintf(stderr, "\n  (%d,%d) %s: resonance %.4f nm, model %.4f", col,
				row, step, v, r.res0_nm);
			bad++;
		}
	}
	return bad;
}

static void test_sort_equals_truth(void)
{
	const char *args[] = {"--product", "teraphy", "--fiber-align", "--pd-ring",
			      "--lot", "SO1", "--seed", "7", "--wafers", "1", "--die",
			      "40x40", "--time-scale", "0", NULL};
	char db[700];
	char *argv[] = {STATION, "run", SEQ, "--limits", LIMITS, "--config", NULL,
			"--db", db, "--lot", "SO1", "--wafers", "1", "--quiet", NULL};
	tu_vstation vs;
	sim_model m;
	sim_limits l;
	sqlite3 *h;
	int dies = 0, bad_bin = 0, bad_values = 0, bins[10] = {0};
	int leaky_seen = 0, heater_seen = 0, coupler_passed = 0;
	char wafer[48];

	snprintf(db, sizeof(db), "%s/sort.db", dir);
	CU_ASSERT_EQUAL_FATAL(model_init(&m), 0);
	sim_limits_defaults(&l);
	l.align = 1;
	l.sort = 1;
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	argv[6] = vs.config;
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 240), 0);
	if (errbuf[0])
		fprintf(stderr, "\n  %s", errbuf);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			      SQLITE_OK);
	sim_wafer_id(&m, 1, wafer, sizeof(wafer));
	for (int i = 0; i < m.n_dies; i++) {
		int col = m.route[i][0], row = m.route[i][1], bin = -1;
		sqlite3_int64 run = 0;
		sim_truth t;

		sim_truth_die(&m, &l, 1, col, row, &t);
		dies++;
		if (die_run(h, wafer, col, row, &run, &bin)) {
			bad_bin++;
			continue;
		}
		if (bin >= 0 && bin < 10)
			bins[bin]++;
		if (bin != t.expected_bin) {
			fprintf(stderr, "\n  (%d,%d) %s leaky %d heater %d: bin %d, truth %d",
				col, row, sim_defect_name(t.defect), t.leaky_pd,
				t.dead_heater, bin, t.expected_bin);
			bad_bin++;
		}
		if (i == sim_planted_die(&m, 1) && bin == 1)
			coupler_passed++;
		if (t.leaky_pd) {
			char step[32];

			/* The leak: 1 V over the 1 MOhm shunt, ~1000 nA. */
			snprintf(step, sizeof(step), "dark_%d", t.leaky_pd);
			leaky_seen += bin == 8 && value_of(h, run, step, NULL) > 500.0;
		}
		if (t.dead_heater) {
			char step[32];

			/* No dip in either scan: no tuning power at all. */
			snprintf(step, sizeof(step), "ring_%d", t.dead_heater);
			heater_seen += bin == 9 &&
				       isnan(value_of(h, run, step, "tuning_power")) &&
				       isnan(value_of(h, run, step, "shift"));
		}
		/* Values of every die whose photodiodes (and rings) were all
		 * measured: those that passed, and the open-heater die's
		 * photodiodes. */
		if (bin == 1 || bin == 9)
			bad_values += check_values(h, run, &m, &l, 1, col, row, bin == 1);
	}
	sqlite3_close(h);
	fprintf(stderr, "\n  %d dies; bins 1: %d, 4: %d, 5: %d, 8: %d, 9: %d", dies,
		bins[1], bins[4], bins[5], bins[8], bins[9]);
	CU_ASSERT_TRUE(dies > 20);
	CU_ASSERT_EQUAL(bad_bin, 0);
	CU_ASSERT_EQUAL(bad_values, 0);
	/* The planted parts, each found for what it is. */
	CU_ASSERT_EQUAL(coupler_passed, 1);
	CU_ASSERT_EQUAL(leaky_seen, 1);
	CU_ASSERT_EQUAL(heater_seen, 1);
	CU_ASSERT_TRUE(bins[1] > 0 && bins[5] > 0 && bins[8] == 1 && bins[9] == 1);
}

static const char iv_seq[] =
	"sequence: iv\nversion: 1\nprocess: unit\nroles: [smu2]\nmain:\n"
	"  - step: smu2.iv\n"
	"    name: iv_2\n"
	"    sweep: {current_ma: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56,"
	" 60, 64, 68, 72, 76, 80]}\n"
	"    params: {v_limit: 3.0}\n"
	"    limits: {series_resistance: {low: 2.0, high: 7.0, unit: ohm}}\n"
	"bins:\n  1: {name: PASS, pass: true}\n";

/* One run of iv_seq on module 1 into db (traced); the count of :READ?
 * sent to smu2, or -1. */
static int run_iv(const char *config, const char *seq, const char *db, const char *trace)
{
	char *argv[] = {STATION, "run", (char *)seq, "--config", (char *)config, "--db",
			(char *)db, "--lot", "IV1", "--serial", "IV1-E0001", "--trace",
			(char *)trace, "--quiet", NULL};
	char line[1024];
	int reads = 0;
	FILE *f;

	if (tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60) != 0) {
		fprintf(stderr, "\n  %s", errbuf);
		return -1;
	}
	f = fopen(trace, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		reads += strstr(line, " smu2 ") && strstr(line, "> :READ?") ? 1 : 0;
	fclose(f);
	return reads;
}

static void test_iv_sweep(void)
{
	const char *args[] = {"--product", "elsfp", "--seed", "5", "--lot", "IV1", "--units",
			      "2", "--time-scale", "0", NULL};
	char seq[700], db1[700], db2[700], tr[700];
	sqlite3 *h1, *h2;
	sqlite3_stmt *st;
	tu_vstation vs;
	sim_model_params p;
	sim_model m;
	sim_liv law;
	int rows = 0, bad = 0;
	FILE *f;

	sim_model_defaults(&p);
	p.seed = 5;
	snprintf(p.lot, sizeof(p.lot), "IV1");
	p.units = 2;
	CU_ASSERT_EQUAL_FATAL(sim_model_init(&m, &p), 0);
	sim_laser_liv(&m, 0, 2, &law);
	snprintf(seq, sizeof(seq), "%s/iv.yaml", dir);
	snprintf(db1, sizeof(db1), "%s/iv-sweep.db", dir);
	snprintf(db2, sizeof(db2), "%s/iv-points.db", dir);
	snprintf(tr, sizeof(tr), "%s/iv.trace", dir);
	f = fopen(seq, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(iv_seq, f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	/* The sweep: one :READ? for all 21 points; point by point: 21. */
	CU_ASSERT_EQUAL(run_iv(vs.config, seq, db1, tr), 1);
	setenv("KGD_NO_BATCH", "1", 1);
	CU_ASSERT_EQUAL(run_iv(vs.config, seq, db2, tr), 21);
	unsetenv("KGD_NO_BATCH");
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db1, &h1, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db2, &h2, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(h1, "SELECT seq_no, name, value, coords, "
						 "pass FROM measurement ORDER BY seq_no",
						 -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		double v = sqlite3_column_double(st, 2);
		sqlite3_stmt *o;
		double ma;

		rows++;
		/* The same row, point by point. */
		if (sqlite3_prepare_v2(h2, "SELECT value, coords, pass FROM measurement "
				       "WHERE seq_no = ?1 AND name = ?2", -1, &o, NULL) != SQLITE_OK)
			break;
		sqlite3_bind_int(o, 1, sqlite3_column_int(st, 0));
		sqlite3_bind_text(o, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(o) != SQLITE_ROW ||
		    fabs(sqlite3_column_double(o, 0) - v) > 1e-9 * (fabs(v) + 1) ||
		    strcmp((const char *)sqlite3_column_text(o, 1),
			   (const char *)sqlite3_column_text(st, 3)) ||
		    sqlite3_column_int(o, 2) != sqlite3_column_int(st, 4))
			bad++;
		sqlite3_finalize(o);
		/* And the law. */
		if (!strcmp(name, "voltage") &&
		    sscanf((const char *)sqlite3_column_text(st, 3), "{\"current_ma\":%lf", &ma) == 1 &&
		    fabs(v - sim_liv_volts(&law, ma * 1e-3)) > 1e-5)
			bad++;
		if (!strcmp(name, "series_resistance") &&
		    (fabs(v - law.rs_ohm) > 0.05 || !sqlite3_column_int(st, 4)))
			bad++;
	}
	sqlite3_finalize(st);
	sqlite3_close(h1);
	sqlite3_close(h2);
	/* 21 x (voltage, current) + series_resistance. */
	CU_ASSERT_EQUAL(rows, 43);
	CU_ASSERT_EQUAL(bad, 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("sort", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "TeraPHY full sort: bins and derived values = truth",
		    test_sort_equals_truth);
	CU_add_test(s, "smu.iv: the sweep in the instrument = point by point = the law",
		    test_iv_sweep);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
