/*
 * tests/test_products.c - integration: the unit-process example sequences
 * (sequences/elsfp-module.yaml, elsfp16-module.yaml, fiber-attach.yaml,
 * with their limits files) run by the
 * real `station` binary on kgd-vstation, every part's verdict checked
 * against the model's ground truth (sim_truth_unit).
 *
 * The test plays the operator: before each part it selects the simulated
 * unit with :SIMulate:DUT over its own connection to the pm (as `station
 * demo` does) and runs `station run --serial <the unit's serial>`, so the
 * database rows can be matched to the model's units by serial. Every
 * simulator started here is stopped and reaped before the test returns.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kgd/scpi.h"
#include "model.h"
#include "seq.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define SEQ_DIR KGD_SOURCE_DIR "/sequences/"
#define ELSFP_SEQ SEQ_DIR "elsfp-module.yaml"
#define ELSFP_STD SEQ_DIR "limits/elsfp-8-std.yaml"
#define ELSFP_HP SEQ_DIR "limits/elsfp-8-hp.yaml"
#define ELSFP16_SEQ SEQ_DIR "elsfp16-module.yaml"
#define ELSFP16_STD SEQ_DIR "limits/elsfp-16-std.yaml"
#define FIBER_SEQ SEQ_DIR "fiber-attach.yaml"
#define LIV_SEQ SEQ_DIR "elsfp-liv.yaml"
#define LIV_STD SEQ_DIR "limits/elsfp-8-liv.yaml"
#define FIBER_STD SEQ_DIR "limits/fiber-16-std.yaml"
#define TIME_SCALE "0.0002"
/* Readings carry 0.02 dB of noise (6 sigma 0.12 dB); a part whose
 * noise-free power lies closer than this to a limit could bin either way. */
#define MARGIN_DB 0.2

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("products"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* ---- the model's side ---------------------------------------------------- */

/* One lot as both the simulator and the truth see it. */
typedef struct lot_spec {
	const char *product;   /* elsfp | fiber */
	const char *lot;
	const char *seed;
	const char *units;
	const char *lasers;    /* "8", "16", "mixed"; NULL for fiber */
} lot_spec;

static int model_init(const lot_spec *ls, sim_model *m)
{
	sim_model_params p;

	sim_model_defaults(&p);
	if (sim_product_parse(ls->product, &p.product))
		return -1;
	snprintf(p.lot, sizeof(p.lot), "%s", ls->lot);
	p.seed = strtoull(ls->seed, NULL, 10);
	p.units = atoi(ls->units);
	if (ls->lasers)
		p.lasers = strcmp(ls->lasers, "mixed") == 0 ? 0 : atoi(ls->lasers);
	return sim_model_init(m, &p);
}

/* Parts whose noise-free power (ELSFP) or loss (fiber) is within
 * MARGIN_DB of a limit: the truth cannot promise their bin. */
static int marginal_units(const sim_model *m, const sim_limits *l)
{
	int n = 0;

	for (int u = 0; u < m->p.units; u++) {
		sim_truth t;
		double d;

		if (sim_truth_unit(m, l, u, &t))
			return -1;
		if (m->p.product == SIM_PRODUCT_FIBER)
			d = fabs(t.max_loss_db - l->fiber_loss_max_db);
		else
			d = fmin(fabs(t.min_dbm - l->laser_power_low_dbm),
				 fabs(t.max_dbm - l->laser_power_high_dbm));
		n += d < MARGIN_DB;
	}
	return n;
}

/* ---- the station's side -------------------------------------------------- */

static long long db_ll(const char *db_path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -3;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "\n  %s: %s", sql, sqlite3_errmsg(h));
		v = -2;
	} else {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

/* The verdict of the part with this serial: 0 with exactly one run. */
typedef struct verdict {
	char status[16];
	int soft_bin, hard_bin;
} verdict;

static int db_verdict(sqlite3 *h, const char *serial, verdict *v)
{
	sqlite3_stmt *st;
	int rows = 0;

	if (sqlite3_prepare_v2(h, "SELECT r.status, r.soft_bin, r.hard_bin FROM run r "
			       "JOIN part p ON r.part_id = p.id WHERE p.serial = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(v->status, sizeof(v->status), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		v->soft_bin = sqlite3_column_int(st, 1);
		v->hard_bin = sqlite3_column_int(st, 2);
		rows++;
	}
	sqlite3_finalize(st);
	return rows == 1 ? 0 : -1;
}

/* Every unit of the model: one run, status/soft/hard bin as the truth says
 * (these sequences have no hard_bins table: hard = soft). Returns the
 * mismatches; *truth_pass counts the good units. */
static int compare_with_truth(const char *db_path, const sim_model *m,
			      const sim_limits *l, int *truth_pass)
{
	sqlite3 *h;
	int bad = 0;

	*truth_pass = 0;
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	for (int u = 0; u < m->p.units; u++) {
		char serial[64];
		sim_truth t;
		verdict v = {"", -1, -1};

		sim_unit_serial(m, u, serial, sizeof(serial));
		sim_truth_unit(m, l, u, &t);
		*truth_pass += t.expected_bin == 1;
		if (db_verdict(h, serial, &v) || v.soft_bin != t.expected_bin ||
		    v.hard_bin != t.expected_bin ||
		    strcmp(v.status, t.expected_bin == 1 ? "pass" : "fail")) {
			fprintf(stderr, "\n  %s (%s, channel %d): %s bin %d/%d, truth %d",
				serial, sim_defect_name(t.defect), t.where, v.status,
				v.soft_bin, v.hard_bin, t.expected_bin);
			bad++;
		}
	}
	sqlite3_close(h);
	return bad;
}

/* The committed sequence and limits file a lot tests its parts with, by
 * the part's channel count (8 or 16); NULL: no part of that count. */
typedef struct lot_files {
	const char *seq8, *limits8;
	const char *seq16, *limits16;
} lot_files;

/* Run a whole lot, one `station run` per unit with the unit put into the
 * fixture first, each with the files for its channel count; 0 when every
 * run exited 0. */
static int run_lot(const lot_spec *ls, const sim_model *m, const lot_files *f,
		   const char *db)
{
	const char *args[] = {"--product", ls->product, "--lot", ls->lot, "--seed",
			      ls->seed, "--units", ls->units, "--time-scale", TIME_SCALE,
			      ls->lasers ? "--lasers" : NULL, ls->lasers, NULL};
	tu_vstation vs;
	xport *hands = NULL;
	kgd_err err;
	int failures = 0;

	if (tu_vstation_start(dir, args, &vs))
		return -1;
	if (xport_open(tu_vstation_uri(&vs, "pm"), 2000, &hands, &err)) {
		fprintf(stderr, "\n  operator link: %s", err.msg);
		tu_vstation_stop(&vs);
		return -1;
	}
	for (int u = 0; u < m->p.units; u++) {
		char serial[64];
		int channels = sim_unit_channels(m, u);
		const char *seq = channels == 8 ? f->seq8 : channels == 16 ? f->seq16 : NULL;
		const char *limits = channels == 8 ? f->limits8 : f->limits16;
		char *argv[] = {STATION, "run", (char *)seq, "--limits", (char *)limits,
				"--config", vs.config, "--db", (char *)db, "--lot",
				(char *)ls->lot, "--serial", serial, "--quiet", NULL};
		int rc;

		sim_unit_serial(m, u, serial, sizeof(serial));
		if (!seq || scpi_command(hands, &err, ":SIMulate:DUT %d", u)) {
			failures++;
			continue;
		}
		rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
		if (rc != 0) {
			fprintf(stderr, "\n  %s: station run exited %d: %s", serial, rc, errbuf);
			failures++;
		}
	}
	xport_close(hands);
	if (tu_vstation_stop(&vs) != 0)
		failures++;
	return failures;
}

/* A lot against the truth under `l`: both bins present, no marginal part,
 * every verdict and the yield equal. */
static void check_lot(const lot_spec *ls, const lot_files *f, const sim_limits *l,
		      const char *db_name)
{
	char db[700];
	sim_model m;
	int truth_pass = -1, n;

	snprintf(db, sizeof(db), "%s/%s", dir, db_name);
	CU_ASSERT_EQUAL_FATAL(model_init(ls, &m), 0);
	n = m.p.units;
	/* The lot must be one the truth can speak for, and must fail somewhere. */
	CU_ASSERT_EQUAL(marginal_units(&m, l), 0);

	CU_ASSERT_EQUAL(run_lot(ls, &m, f, db), 0);
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM run"), n);
	CU_ASSERT_EQUAL(compare_with_truth(db, &m, l, &truth_pass), 0);
	CU_ASSERT_TRUE(truth_pass > 0 && truth_pass < n);
	/* Yield: the database's passing parts are the truth's good ones. */
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"),
			truth_pass);
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM run WHERE status = 'error'"), 0);
	/* One session per part, each with the limits file it was judged by. */
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM session WHERE "
			       "status = 'complete' AND limits_id IS NOT NULL"), n);
}

static const lot_files elsfp_std = {ELSFP_SEQ, ELSFP_STD, NULL, NULL};
static const lot_files elsfp_hp = {ELSFP_SEQ, ELSFP_HP, NULL, NULL};
static const lot_files elsfp_mixed = {ELSFP_SEQ, ELSFP_STD, ELSFP16_SEQ, ELSFP16_STD};
static const lot_files fiber_std = {NULL, NULL, FIBER_SEQ, FIBER_STD};

static void test_elsfp_std_equals_truth(void)
{
	const lot_spec ls = {"elsfp", "EL1", "3", "24", "8"};
	sim_limits l;

	sim_limits_defaults(&l);   /* -3..6 dBm: what elsfp-8-std.yaml says */
	check_lot(&ls, &elsfp_std, &l, "elsfp-std.db");
}

static void test_elsfp_hp_equals_truth(void)
{
	const lot_spec ls = {"elsfp", "EL1", "3", "24", "8"};
	sim_limits l;

	sim_limits_defaults(&l);
	l.laser_power_low_dbm = 0.0;   /* elsfp-8-hp.yaml: >= 0 dBm per laser */
	check_lot(&ls, &elsfp_hp, &l, "elsfp-hp.db");
}

/* Half the modules have 16 lasers: each tested on all of its lasers with
 * elsfp16-module.yaml, every laser in its own channel's wavelength window. */
static void test_elsfp_mixed_equals_truth(void)
{
	const lot_spec ls = {"elsfp", "EL2", "5", "24", "mixed"};
	sim_limits l;
	sim_model m;
	char db[700];
	int sixteen = 0;

	sim_limits_defaults(&l);
	CU_ASSERT_EQUAL_FATAL(model_init(&ls, &m), 0);
	for (int u = 0; u < m.p.units; u++)
		sixteen += sim_unit_channels(&m, u) == 16;
	CU_ASSERT_TRUE(sixteen > 0 && sixteen < m.p.units);
	check_lot(&ls, &elsfp_mixed, &l, "elsfp-mixed.db");
	/* Each laser judged by its own channel's window: laser 16 of every
	 * 16-laser module against 1317.60 .. 1318.00 nm. */
	snprintf(db, sizeof(db), "%s/elsfp-mixed.db", dir);
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM measurement WHERE name = "
			       "'wavelength' AND coords = '{\"channel\":16}' AND pass = 1 "
			       "AND abs(low - 1317.60) < 1e-9 AND abs(high - 1318.00) < 1e-9"),
			sixteen);
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM measurement WHERE name = "
			       "'wavelength' AND pass = 0"), 0);
}

static void test_fiber_equals_truth(void)
{
	const lot_spec ls = {"fiber", "FA1", "4", "24", NULL};
	sim_limits l;

	sim_limits_defaults(&l);   /* loss <= 2.5 dB: fiber-16-std.yaml */
	check_lot(&ls, &fiber_std, &l, "fiber.db");
}

/* A derived value of one laser's LIV step of the part with this serial;
 * NAN when there is not exactly one. */
static double liv_value(sqlite3 *h, const char *serial, int laser, const char *name)
{
	sqlite3_stmt *st;
	char step[16];
	double v = NAN;
	int rows = 0;

	snprintf(step, sizeof(step), "liv_%d", laser);
	if (sqlite3_prepare_v2(h, "SELECT m.value FROM measurement m JOIN run r ON "
			       "m.run_id = r.id JOIN part p ON r.part_id = p.id WHERE "
			       "p.serial = ?1 AND m.step = ?2 AND m.name = ?3", -1, &st,
			       NULL) != SQLITE_OK)
		return NAN;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_double(st, 0);
		rows++;
	}
	sqlite3_finalize(st);
	return rows == 1 ? v : NAN;
}

/* The LIV screen (elsfp-liv.yaml): every module's bin is the truth's LIV
 * bin (a kinked, weak or drifting laser fails it), and every laser's
 * derived values are the model's: threshold and series resistance of
 * its L-I-V law, a kink of the planted slope drop on the kinked laser
 * and none elsewhere. The raw points are logged beside them. */
static void test_elsfp_liv_equals_truth(void)
{
	const lot_spec ls = {"elsfp", "EL1", "3", "24", "8"};
	const lot_files files = {LIV_SEQ, LIV_STD, NULL, NULL};
	sim_limits l;
	sim_model m;
	sqlite3 *h;
	char db[700];
	int kinked = 0, bad = 0;

	sim_limits_defaults(&l);
	l.liv = 1;
	check_lot(&ls, &files, &l, "elsfp-liv.db");
	snprintf(db, sizeof(db), "%s/elsfp-liv.db", dir);
	CU_ASSERT_EQUAL_FATAL(model_init(&ls, &m), 0);
	/* 21 points x (power, voltage) + 4 derived values per laser. */
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM measurement WHERE step "
			       "LIKE 'liv_%' AND coords LIKE '{\"current_ma\":%'"),
			24LL * 8 * 21 * 2);
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM measurement WHERE name IN "
			       "('threshold', 'slope_efficiency', 'kink', "
			       "'series_resistance') AND coords LIKE '{\"points\":21,%'"),
			24LL * 8 * 4);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			      SQLITE_OK);
	for (int u = 0; u < m.p.units; u++) {
		char serial[64];
		int k = sim_unit_kinked_laser(&m, u);

		sim_unit_serial(&m, u, serial, sizeof(serial));
		kinked += k > 0;
		for (int laser = 1; laser <= 8; laser++) {
			sim_liv law;
			double ith = liv_value(h, serial, laser, "threshold");
			double rs = liv_value(h, serial, laser, "series_resistance");
			double kink = liv_value(h, serial, laser, "kink");

			sim_laser_liv(&m, u, laser, &law);
			if (laser == k) {
				/* The slope drops by kink_slope_drop (40 %). */
				if (!(fabs(kink - 100 * m.p.kink_slope_drop) < 5)) {
					fprintf(stderr, "\n  %s laser %d: kink %g %%, planted "
						"%g %%", serial, laser, kink,
						100 * m.p.kink_slope_drop);
					bad++;
				}
				continue;
			}
			if (!(fabs(ith - law.ith_a * 1e3) < 0.2) ||
			    !(fabs(rs - law.rs_ohm) < 0.05) || !(kink < 10)) {
				fprintf(stderr, "\n  %s laser %d: threshold %g mA (model "
					"%g), rs %g ohm (model %g), kink %g %%", serial,
					laser, ith, law.ith_a * 1e3, rs, law.rs_ohm, kink);
				bad++;
			}
		}
	}
	sqlite3_close(h);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_TRUE(kinked > 0);
}

/* ---- station demo --product elsfp|fiber ---------------------------------- */

/* Values a measuring step logs per sweep point (docs/SEQUENCES.md, step
 * kinds); 0 for the pass/fail steps, which log a step result only. */
static int values_per_point(const seq_step *s)
{
	if (!strcmp(s->op, "read"))
		return 5;    /* power, wavelength, bias, temperature, smsr */
	if (!strcmp(s->op, "optical_power") || !strcmp(s->op, "insertion_loss") ||
	    !strcmp(s->op, "identify"))
		return 1;
	return 0;
}

/* Every run of db has, for every step of the sequence, one row per sweep
 * point and value; returns the steps that do not. */
static int rows_match_sequence(const char *db, const char *seq_path, int runs)
{
	seq_sequence *s;
	int bad = 0;

	if (seq_load(seq_path, &s, NULL))
		return -1;
	const seq_step *groups[3] = {s->setup, s->main, s->cleanup};
	size_t counts[3] = {s->n_setup, s->n_main, s->n_cleanup};
	for (int g = 0; g < 3; g++)
		for (size_t i = 0; i < counts[g]; i++) {
			const seq_step *st = &groups[g][i];
			long long points = 1, want, got, runs_with;
			char sql[512];

			for (size_t k = 0; k < st->n_sweep; k++)
				points *= (long long)st->sweep[k].n_values;
			want = points * values_per_point(st);
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM measurement "
				 "WHERE step = '%s'", st->name);
			got = db_ll(db, sql);
			/* ... and no run with a different count. */
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM run r WHERE "
				 "(SELECT count(*) FROM measurement m WHERE m.run_id = r.id "
				 "AND m.step = '%s') = %lld", st->name, want);
			runs_with = db_ll(db, sql);
			if (got != want * runs || runs_with != runs) {
				fprintf(stderr, "\n  step %s: %lld rows, want %lld x %d runs",
					st->name, got, want, runs);
				bad++;
			}
		}
	seq_free(s);
	return bad;
}

static void check_demo(const char *product, const char *seq_path, const char *tag)
{
	char demo[600], db[700], csv_path[700], want[128];
	char *argv[] = {STATION, "demo", "--product", (char *)product, "--out", demo,
			"--units", "24", "--seed", "9", "--quiet", NULL};
	/* The demo's lot: DEMO<seed>, units 0..23 inserted in order. */
	const lot_spec ls = {product, "DEMO9", "9", "24", NULL};
	sim_limits l;
	sim_model m;
	long long passed, truth_pass = 0, bad = 0;
	char *csv;

	snprintf(demo, sizeof(demo), "%s/demo-%s", dir, tag);
	snprintf(db, sizeof(db), "%s/results.db", demo);
	snprintf(csv_path, sizeof(csv_path), "%s/yield.csv", demo);
	CU_ASSERT_EQUAL_FATAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 120), 0);

	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM run"), 24);
	CU_ASSERT_EQUAL(rows_match_sequence(db, seq_path, 24), 0);
	CU_ASSERT_EQUAL(db_ll(db, "SELECT count(*) FROM measurement WHERE "
			       "pass != (value IS NOT NULL AND (low IS NULL OR value >= low) "
			       "AND (high IS NULL OR value <= high))"), 0);
	/* Bins in insertion order are the truth's. */
	sim_limits_defaults(&l);
	CU_ASSERT_EQUAL_FATAL(model_init(&ls, &m), 0);
	for (int u = 0; u < m.p.units; u++) {
		sim_truth t;
		char sql[256];

		sim_truth_unit(&m, &l, u, &t);
		truth_pass += t.expected_bin == 1;
		snprintf(sql, sizeof(sql), "SELECT soft_bin FROM run ORDER BY id "
			 "LIMIT 1 OFFSET %d", u);
		bad += db_ll(db, sql) != t.expected_bin;
	}
	CU_ASSERT_EQUAL(bad, 0);
	passed = db_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'");
	CU_ASSERT_EQUAL(passed, truth_pass);
	CU_ASSERT_TRUE(truth_pass > 0 && truth_pass < 24);

	/* yield.csv says what the database says. */
	csv = tu_slurp(csv_path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, "lot,tested,passed,failed,yield_pct"));
	snprintf(want, sizeof(want), "\nDEMO9,24,%lld,%lld,", passed, 24 - passed);
	CU_ASSERT_PTR_NOT_NULL(strstr(csv, want));
	free(csv);
}

static void test_demo_elsfp(void)
{
	check_demo("elsfp", ELSFP_SEQ, "elsfp");
}

static void test_demo_fiber(void)
{
	check_demo("fiber", FIBER_SEQ, "fiber");
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("products", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "ELSFP-8 std limits: every module's bins = truth",
		    test_elsfp_std_equals_truth);
	CU_add_test(s, "ELSFP-8 high-power limits: every module's bins = truth",
		    test_elsfp_hp_equals_truth);
	CU_add_test(s, "ELSFP mixed 8/16-laser lot: bins = truth",
		    test_elsfp_mixed_equals_truth);
	CU_add_test(s, "fiber attach: every assembly's bins = truth",
		    test_fiber_equals_truth);
	CU_add_test(s, "ELSFP-8 LIV screen: bins and derived values = truth",
		    test_elsfp_liv_equals_truth);
	CU_add_test(s, "demo --product elsfp: rows, bins, yield.csv", test_demo_elsfp);
	CU_add_test(s, "demo --product fiber: rows, bins, yield.csv", test_demo_fiber);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
