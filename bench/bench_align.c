/*
 * bench/bench_align.c - time per die of the fiber-array alignment
 * (prober.align, station/ops_align.c) against the scan's modelled minimum,
 * on the virtual station with modelled instrument times (issue 17).
 *
 * kgd-vstation --product teraphy --fiber-align maps each die's grating
 * coupler with a seeded placement error (and one die per wafer off by
 * 3 um); the step searches for it with the SENTIO SiPh positioner
 * (siph:move_nanocube_xy) and power-meter port 1. Every probe of the
 * search is one positioner move and one averaged reading, and the step
 * ends with one position query, so the least time the instruments need
 * for a die's search is
 *
 *     moves x (SIM_T_NANOCUBE_S + averaging) + SIM_T_NANOCUBE_S
 *
 * with SIM_T_NANOCUBE_S from the simulator's own header and `moves` the
 * step's logged count: the minimum for the search the step chose to make.
 * The measured time is the step's own logged `time` (its first move to
 * its last reading). Printed: dies, mean moves, mean measured and modelled
 * time per die, their ratio (mean and worst die), and the same run at
 * --time-scale 0, whose time per die is the station's and the IPC's own
 * cost. A measurement, not a test: it exits 0 unless it cannot run.
 * BENCH_ALIGN_DIE=WxH (mm) picks the die size; the default 40x40 gives
 * 32 dies on one wafer.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prober.h"
#include "testutil.h"

#define AVERAGING_S 0.001

static const char sequence[] =
	"sequence: bench-align\nversion: 1\nproduct: TPHY-16x16\n"
	"process: wafer\nroles: [prober, pm]\nmain:\n"
	"  - step: prober.align\n    name: align\n"
	"    params: {meter: pm, port: 1, wavelength_nm: 1309.96,\n"
	"             averaging_s: 0.001, reference_dbm: 4.0,\n"
	"             coarse_step_um: 2.0, coarse_radius_um: 6.0,\n"
	"             tolerance_um: 0.1, budget_s: 20.0}\n"
	"    limits: {coupling_loss: {high: 10.0, unit: dB}}\n"
	"    on_fail: {bin: 4}\n"
	"bins:\n  1: {name: PASS, pass: true}\n  4: {name: ALIGN}\n";

typedef struct arm {
	const char *time_scale;
	int dies;
	double moves, measured, modelled;  /* means per die, s */
	double worst;                      /* largest measured/modelled */
} arm;

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Per die (run) of the align step: its logged moves and time. */
static int read_results(const char *dbp, arm *a)
{
	static const char sql[] =
		"SELECT m.value, t.value FROM measurement m JOIN measurement t"
		" ON t.run_id = m.run_id AND t.step = 'align' AND t.name = 'time'"
		" WHERE m.step = 'align' AND m.name = 'moves'";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_align: %s: %s\n", dbp, sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		double moves = sqlite3_column_double(st, 0);
		double took = sqlite3_column_double(st, 1);
		double model = moves * (SIM_T_NANOCUBE_S + AVERAGING_S) + SIM_T_NANOCUBE_S;

		a->dies++;
		a->moves += moves;
		a->measured += took;
		a->modelled += model;
		if (took / model > a->worst)
			a->worst = took / model;
	}
	if (a->dies > 0) {
		a->moves /= a->dies;
		a->measured /= a->dies;
		a->modelled /= a->dies;
		rc = 0;
	} else {
		fprintf(stderr, "bench_align: %s: no aligned die\n", dbp);
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int run_arm(const char *dir, const char *die, arm *a, int k)
{
	/* one lot name for both arms: the same seeded couplers */
	const char *args[] = {
		"--product", "teraphy", "--fiber-align", "--seed", "7",
		"--lot", "ALIGN", "--wafers", "1", "--die", die,
		"--time-scale", a->time_scale, "--lifetime-s", "900", NULL
	};
	char dbp[600], seq[600], p[640], errs[1024] = "";
	tu_vstation vs;
	int status;

	snprintf(dbp, sizeof(dbp), "%s/results%d.db", dir, k);
	snprintf(seq, sizeof(seq), "%s/align.yaml", dir);
	if (tu_vstation_start(dir, args, &vs)) {
		fprintf(stderr, "bench_align: kgd-vstation did not start\n");
		return -1;
	}
	{
		char *argv[] = {
			KGD_BIN_DIR "/station", "run", seq, "--config", vs.config,
			"--db", dbp, "--lot", "ALIGN", "--wafers", "1", "--quiet",
			NULL
		};

		status = tu_run(argv, NULL, 0, errs, sizeof(errs), 900);
	}
	tu_vstation_stop(&vs);
	/* bin 4 dies make station run exit 0 too: a bin is a result */
	if (status != 0)
		fprintf(stderr, "bench_align: station run at time scale %s failed"
			" (status %d): %s\n", a->time_scale, status, errs);
	else
		status = read_results(dbp, a);
	unlink(vs.config);
	unlink(dbp);
	snprintf(p, sizeof(p), "%s-wal", dbp);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbp);
	unlink(p);
	return status;
}

int main(void)
{
	char dir[512], seq[600];
	const char *tmp = getenv("TMPDIR"), *die = getenv("BENCH_ALIGN_DIE");
	arm arms[2] = { { .time_scale = "1" }, { .time_scale = "0" } };
	int status = 1;

	if (!die || !*die)
		die = "40x40";
	snprintf(dir, sizeof(dir), "%s/bench_align-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_align: mkdtemp");
		return 1;
	}
	snprintf(seq, sizeof(seq), "%s/align.yaml", dir);
	if (write_file(seq, sequence)) {
		perror("bench_align: sequence");
		goto out;
	}
	for (int k = 0; k < 2; k++)
		if (run_arm(dir, die, &arms[k], k))
			goto out;
	printf("fiber alignment, one wafer of %d dies (die %s mm), spiral 2 um to"
	       " 6 um, hill climb to 0.1 um, %.0f ms move + %.0f ms reading\n",
	       arms[0].dies, die, SIM_T_NANOCUBE_S * 1e3, AVERAGING_S * 1e3);
	printf("  modelled times:  %.1f moves/die  measured %.3f s/die  modelled"
	       " minimum %.3f s/die  ratio %.3f (worst die %.3f)\n",
	       arms[0].moves, arms[0].measured, arms[0].modelled,
	       arms[0].measured / arms[0].modelled, arms[0].worst);
	printf("  time scale 0:    %.1f moves/die  %.2f ms/die = %.3f ms per move"
	       " and reading (station + IPC)\n", arms[1].moves,
	       arms[1].measured * 1e3, arms[1].measured * 1e3 / arms[1].moves);
	status = 0;
out:
	unlink(seq);
	if (rmdir(dir) && errno != ENOENT)
		fprintf(stderr, "bench_align: %s left behind\n", dir);
	return status;
}
