/*
 * tests/test_align.c - integration: sequences/teraphy-align.yaml run by the
 * real `station` binary on kgd-vstation --fiber-align, where every die's
 * grating couplers sit off the positioner's nominal spot by a seeded
 * placement error and one die per wafer by 3 um. The alignment must find
 * every die's planted optimum within tolerance, and every die's bin must
 * be the model's ground truth (sim_truth_die with sim_limits.align):
 * a die the fiber cannot couple to bins 4 (ALIGN), then power (5).
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
#define SEQ KGD_SOURCE_DIR "/sequences/teraphy-align.yaml"
#define LIMITS KGD_SOURCE_DIR "/sequences/limits/teraphy-align-a0.yaml"
/* The sequence's tolerance_um is 0.1; the parabola lands well inside it
 * (readings' noise 0.02 dB), so a found optimum this close is found. */
#define FOUND_UM 0.15
/* Port power 6 sigma of reading noise from a limit could bin either way. */
#define MARGIN_DB 0.2

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("align"));
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
	snprintf(p.lot, sizeof(p.lot), "AL1");
	p.seed = 7;
	p.wafers = 2;
	p.die_w_mm = 24;
	p.die_h_mm = 24;
	p.fiber_align = 1;
	return sim_model_init(m, &p);
}

/* One die's run: bin and its align values; 0 with exactly one run. */
typedef struct die_row {
	int soft_bin;
	double offset_x, offset_y, moves, time_s;
	int have_offset;
} die_row;

static int die_result(sqlite3 *h, const char *wafer, int col, int row, die_row *d)
{
	sqlite3_stmt *st;
	int runs = 0;

	memset(d, 0, sizeof(*d));
	if (sqlite3_prepare_v2(h, "SELECT r.id, r.soft_bin FROM run r JOIN part p ON "
			       "r.part_id = p.id JOIN wafer w ON p.wafer_id = w.id "
			       "WHERE w.name = ?1 AND p.die_x = ?2 AND p.die_y = ?3",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, wafer, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, col);
	sqlite3_bind_int(st, 3, row);
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 run = sqlite3_column_int64(st, 0);
		sqlite3_stmt *m;

		d->soft_bin = sqlite3_column_int(st, 1);
		runs++;
		if (sqlite3_prepare_v2(h, "SELECT name, value FROM measurement WHERE "
				       "run_id = ?1 AND step = 'align'", -1, &m,
				       NULL) != SQLITE_OK)
			break;
		sqlite3_bind_int64(m, 1, run);
		while (sqlite3_step(m) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(m, 0);
			double v = sqlite3_column_double(m, 1);

			if (!strcmp(name, "offset_x"))
				d->offset_x = v, d->have_offset++;
			else if (!strcmp(name, "offset_y"))
				d->offset_y = v, d->have_offset++;
			else if (!strcmp(name, "moves"))
				d->moves = v;
			else if (!strcmp(name, "time"))
				d->time_s = v;
		}
		sqlite3_finalize(m);
	}
	sqlite3_finalize(st);
	return runs == 1 ? 0 : -1;
}

static void test_align_wafer_equals_truth(void)
{
	const char *args[] = {"--product", "teraphy", "--fiber-align", "--lot", "AL1",
			      "--seed", "7", "--wafers", "2", "--die", "24x24",
			      "--time-scale", "0.0002", NULL};
	char db[700];
	char *argv[] = {STATION, "run", SEQ, "--limits", LIMITS, "--config", NULL,
			"--db", db, "--lot", "AL1", "--wafers", "2", "--quiet", NULL};
	tu_vstation vs;
	sim_model m;
	sim_limits l;
	sqlite3 *h;
	int dies = 0, bad_bin = 0, missed = 0, marginal = 0, planted_found = 0;
	int planted_expected = 0;
	int bins[8] = {0};
	double worst = 0;

	snprintf(db, sizeof(db), "%s/align.db", dir);
	CU_ASSERT_EQUAL_FATAL(model_init(&m), 0);
	sim_limits_defaults(&l);
	l.align = 1;
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	argv[6] = vs.config;
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 240), 0);
	if (errbuf[0])
		fprintf(stderr, "\n  %s", errbuf);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			      SQLITE_OK);
	for (int slot = 1; slot <= m.p.wafers; slot++) {
		char wafer[48];

		sim_wafer_id(&m, slot, wafer, sizeof(wafer));
		for (int i = 0; i < m.n_dies; i++) {
			int col = m.route[i][0], row = m.route[i][1];
			sim_truth t;
			die_row d;

			sim_truth_die(&m, &l, slot, col, row, &t);
			dies++;
			if (fmin(fabs(t.min_dbm - l.die_power_low_dbm),
				 fabs(t.max_dbm - l.die_power_high_dbm)) < MARGIN_DB)
				marginal++;
			if (die_result(h, wafer, col, row, &d)) {
				bad_bin++;
				continue;
			}
			if (d.soft_bin >= 0 && d.soft_bin < 8)
				bins[d.soft_bin]++;
			if (d.soft_bin != t.expected_bin) {
				fprintf(stderr, "\n  %s (%d,%d) %s: bin %d, truth %d", wafer,
					col, row, sim_defect_name(t.defect), d.soft_bin,
					t.expected_bin);
				bad_bin++;
			}
			if (!t.align_pass)
				continue;
			planted_expected += i == sim_planted_die(&m, slot);
			/* The optimum is the nominal spot plus the placement error. */
			{
				double e = hypot(d.offset_x - t.coupler_x_um,
						 d.offset_y - t.coupler_y_um);

				worst = fmax(worst, e);
				if (d.have_offset != 2 || !(e <= FOUND_UM)) {
					fprintf(stderr, "\n  %s (%d,%d): found %.3f, %.3f um, "
						"planted %.3f, %.3f um", wafer, col, row,
						d.offset_x, d.offset_y, t.coupler_x_um,
						t.coupler_y_um);
					missed++;
				}
				if (i == sim_planted_die(&m, slot) && e <= FOUND_UM &&
				    fabs(hypot(t.coupler_x_um, t.coupler_y_um) -
					 m.p.planted_um) < 1e-9)
					planted_found++;
			}
		}
	}
	sqlite3_close(h);
	fprintf(stderr, "\n  %d dies, worst alignment error %.3f um; bins 1: %d, "
		"4: %d, 5: %d", dies, worst, bins[1], bins[4], bins[5]);
	CU_ASSERT_EQUAL(marginal, 0);
	CU_ASSERT_EQUAL(bad_bin, 0);
	CU_ASSERT_EQUAL(missed, 0);
	/* The 3 um die of each wafer aligned like every other (unless it is
	 * dark anyway). */
	CU_ASSERT_TRUE(planted_expected > 0);
	CU_ASSERT_EQUAL(planted_found, planted_expected);
	/* The lot exercises every outcome. */
	CU_ASSERT_TRUE(bins[1] > 0 && bins[4] > 0 && bins[5] > 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("align", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "TeraPHY aligned wafer sort: optimum found on every die, "
		    "bins = truth", test_align_wafer_equals_truth);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
