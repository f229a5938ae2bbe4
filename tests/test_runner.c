/*
 * tests/test_runner.c - the sequencer's rules, in process, against scripted
 * fake instruments (no sockets): bin assignment, retry, cleanup after
 * fail/error/abort, skip_if, limits-file override, sweep logging,
 * multi-value steps, prompts, the wafer process on a fake prober, resume
 * exactly once, and run_lint's every-problem report with positions.
 *
 * The fakes sit behind real drv_descriptor tables in a hand-built
 * run_station, so the runner code under test is exactly what `station run`
 * executes; the results are read back from the real SQLite file.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "testutil.h"

static char dir[512];
static int file_no;

/* ---- fake instruments ---------------------------------------------------- */

static struct {
	double dbm[17];            /* per port */
	int low_reads[17];         /* this many reads of the port read -40 dBm */
	int error_port;            /* reading this port fails (timeout) */
	int reads;
	int abort_at_read;         /* set the abort flag at this read (1-based) */
	volatile sig_atomic_t *abort_flag;
	int laser_on, enables, disables;
	double laser_step_w;       /* laser k reads 2 mW + k * this */
	int sync_lost_lane;
	double ber;
	char idn[64];
	/* prober */
	run_die map[8];
	int n_map, at, contacted, loaded, unloaded;
	int bins[8];               /* bin given per map index, 0 = none */
} fk;

static void fake_reset(void)
{
	memset(&fk, 0, sizeof(fk));
	for (int i = 0; i < 17; i++)
		fk.dbm[i] = 0.0;
	fk.ber = 1e-14;
	snprintf(fk.idn, sizeof(fk.idn), "KEYSIGHT,N7745A,MY123,1.0");
}

static int f_open(xport *x, void **h, kgd_err *e) { (void)x; (void)e; *h = &fk; return 0; }
static void f_close(void *h) { (void)h; }
static int f_identify(void *h, char *buf, size_t cap, kgd_err *e)
{
	(void)h; (void)e;
	snprintf(buf, cap, "%s", fk.idn);
	return 0;
}

static int pm_setwl(void *h, int port, double nm, kgd_err *e)
{
	(void)h; (void)port; (void)nm; (void)e;
	return 0;
}

static int pm_read(void *h, int port, double *w, kgd_err *e)
{
	(void)h;
	fk.reads++;
	if (fk.abort_at_read && fk.reads == fk.abort_at_read && fk.abort_flag)
		*fk.abort_flag = 1;
	if (port == fk.error_port)
		return kgd_err_set(e, KGD_ERR_TIMEOUT, "tcp://fake: no reply");
	if (fk.low_reads[port] > 0) {
		fk.low_reads[port]--;
		*w = 1e-7;   /* -40 dBm */
		return 0;
	}
	*w = 1e-3 * pow(10.0, fk.dbm[port] / 10.0);
	return 0;
}

static const drv_pm_ops pm_ops = {pm_setwl, pm_read, NULL, NULL, NULL};

static int la_channels(void *h, int *n, kgd_err *e) { (void)h; (void)e; *n = 8; return 0; }
static int la_enable(void *h, int ch, int on, kgd_err *e)
{
	(void)h; (void)ch; (void)e;
	fk.laser_on = on;
	if (on)
		fk.enables++;
	else
		fk.disables++;
	return 0;
}
static int la_read(void *h, int ch, drv_laser_reading *r, kgd_err *e)
{
	(void)h; (void)e;
	r->power_w = 2e-3 + ch * fk.laser_step_w;   /* 3.01 dBm */
	r->wavelength_nm = 1300.0 + ch;
	r->bias_a = 0.060;
	r->temperature_c = 45.0;
	r->smsr_db = ch == 3 ? 20.0 : 45.0;   /* laser 3: poor SMSR */
	return 0;
}
static const drv_laser_ops laser_ops = {la_channels, la_enable, la_read, NULL};

static int be_conf(void *h, int lane, const char *pat, double rate, kgd_err *e)
{
	(void)h; (void)lane; (void)rate; (void)e;
	return strcmp(pat, "PRBS31") == 0 ? 0 : kgd_err_set(e, KGD_ERR_ARG, "pattern");
}
static int be_meas(void *h, int lane, double gate, drv_ber_result *r, kgd_err *e)
{
	(void)h;
	r->bits = 53e9 * gate;
	if (lane == fk.sync_lost_lane)
		return kgd_err_set(e, KGD_ERR_INSTRUMENT, "lane %d: sync lost", lane);
	r->errors = 0;
	r->ber = fk.ber > 0 ? fk.ber : 3.0 / r->bits;
	r->ber_is_bound = fk.ber <= 0;
	return 0;
}
static const drv_bert_ops bert_ops = {be_conf, be_meas, NULL, NULL, NULL, NULL};

static int pr_load(void *h, int slot, char *id, size_t cap, kgd_err *e)
{
	(void)h; (void)e;
	fk.loaded++;
	fk.at = -1;
	snprintf(id, cap, "FAKE-W%02d", slot);
	return 0;
}
static int pr_first(void *h, drv_die *d, int *end, kgd_err *e)
{
	(void)h; (void)e;
	fk.at = 0;
	*end = fk.n_map == 0;
	if (!*end)
		*d = (drv_die){fk.map[0].x, fk.map[0].y};
	return 0;
}
static int pr_next(void *h, drv_die *d, int *end, kgd_err *e)
{
	(void)h; (void)e;
	*end = ++fk.at >= fk.n_map;
	if (!*end)
		*d = (drv_die){fk.map[fk.at].x, fk.map[fk.at].y};
	return 0;
}
static int pr_to(void *h, drv_die d, kgd_err *e)
{
	(void)h;
	for (int i = 0; i < fk.n_map; i++)
		if (fk.map[i].x == d.x && fk.map[i].y == d.y) {
			fk.at = i;
			return 0;
		}
	return kgd_err_set(e, KGD_ERR_INSTRUMENT, "step outside the map");
}
static int pr_contact(void *h, kgd_err *e) { (void)h; (void)e; fk.contacted = 1; return 0; }
static int pr_separate(void *h, kgd_err *e) { (void)h; (void)e; fk.contacted = 0; return 0; }
static int pr_bin(void *h, drv_die d, int bin, kgd_err *e)
{
	(void)h; (void)e;
	for (int i = 0; i < fk.n_map; i++)
		if (fk.map[i].x == d.x && fk.map[i].y == d.y)
			fk.bins[i] = bin;
	return 0;
}
static int pr_unload(void *h, kgd_err *e) { (void)h; (void)e; fk.unloaded++; return 0; }
static int pr_count(void *h, int *n, kgd_err *e) { (void)h; (void)e; *n = fk.n_map; return 0; }
static const drv_prober_ops prober_ops = {pr_load, pr_first, pr_next, pr_to,
	pr_contact, pr_separate, pr_bin, pr_unload, NULL, pr_count, NULL, NULL, NULL};

static const drv_descriptor descs[] = {
	{1, 0, "fake-pm", "", DRV_CLASS_POWER_METER, f_open, f_close, f_identify,
	 &pm_ops, NULL, NULL, NULL, NULL},
	{1, 0, "fake-laser", "", DRV_CLASS_LASER, f_open, f_close, f_identify,
	 NULL, NULL, NULL, &laser_ops, NULL},
	{1, 0, "fake-bert", "", DRV_CLASS_BERT, f_open, f_close, f_identify,
	 NULL, &bert_ops, NULL, NULL, NULL},
	{1, 0, "fake-prober", "", DRV_CLASS_PROBER, f_open, f_close, f_identify,
	 NULL, NULL, &prober_ops, NULL, NULL},
};
static drv_plugin plugins[4];
static cfg_instrument insts[4] = {
	{"pm", "fake-pm", "fake://pm", 0, 1, 1},
	{"laser", "fake-laser", "fake://laser", 0, 2, 1},
	{"bert", "fake-bert", "fake://bert", 0, 3, 1},
	{"prober", "fake-prober", "fake://prober", 0, 4, 1},
};
static cfg_station station = {"fake.yaml", "test-cell", NULL, 0, insts, 4};

static run_station *fake_station(void)
{
	run_station *rs = calloc(1, sizeof(*rs));

	for (int i = 0; i < 4; i++) {
		plugins[i].desc = &descs[i];
		rs->roles[i].inst = &insts[i];
		rs->roles[i].plugin = &plugins[i];
		rs->roles[i].h = &fk;
	}
	rs->n_roles = 4;
	return rs;
}

/* ---- helpers ------------------------------------------------------------- */

static const char *write_tmp(const char *name, const char *text)
{
	static char path[8][700];
	static int slot;
	char *p = path[slot++ % 8];
	FILE *f;

	snprintf(p, 700, "%s/%d-%s", dir, ++file_no, name);
	f = fopen(p, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return p;
}

static seq_sequence *load(const char *text)
{
	seq_sequence *s = NULL;
	kgd_err err;
	const char *path = write_tmp("seq.yaml", text);

	if (seq_load(path, &s, &err) != KGD_OK) {
		fprintf(stderr, "\n  %s\n", err.msg);
		return NULL;
	}
	if (run_lint(s, NULL, NULL, NULL, &err) != KGD_OK) {
		fprintf(stderr, "\n  lint: %s\n", err.msg);
		seq_free(s);
		return NULL;
	}
	return s;
}

typedef struct lot {
	char db_path[700];
	db *d;
	run_summary sum;
	kgd_err err;
	int rc;
	volatile sig_atomic_t abort_flag;
} lot;

static int run_units(lot *l, seq_sequence *s, const char *const *serials,
		     size_t n, int resume, FILE *prompt_in)
{
	run_station *rs = fake_station();
	run_opts o = {0};

	if (!l->d) {
		snprintf(l->db_path, sizeof(l->db_path), "%s/%d.db", dir, ++file_no);
		if (db_open(l->db_path, &l->d, &l->err))
			return -1;
	}
	o.lot = "LOT1";
	o.operator_name = "tester";
	o.serials = serials;
	o.n_serials = n;
	o.resume = resume;
	o.abort_flag = &l->abort_flag;
	o.prompt_in = prompt_in;
	fk.abort_flag = &l->abort_flag;
	kgd_err_clear(&l->err);
	l->rc = run_lot(rs, s, &station, l->d, &o, &l->sum, &l->err);
	free(rs);
	return l->rc;
}

static void lot_close(lot *l)
{
	db_close(l->d);
	l->d = NULL;
}

static long long q(const lot *l, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open_v2(l->db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -3;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "\n  %s: %s\n", sql, sqlite3_errmsg(h));
		sqlite3_close(h);
		return -2;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static char *q_text(const lot *l, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h;
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (sqlite3_open_v2(l->db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return buf;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(buf, cap, "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return buf;
}

static const char *const one[] = {"SN1"};

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("runner"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* ---- bins ---------------------------------------------------------------- */

#define HEAD "sequence: t\nversion: 1\nprocess: unit\n"

static const char *bins_seq =
	HEAD
	"setup:\n"
	"  - {step: laser.enable, params: {channels: all}}\n"
	"main:\n"
	"  - step: pm.optical_power\n"
	"    name: p1\n"
	"    sweep: {port: [1]}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"    on_fail: {bin: 5, continue: true}\n"
	"  - step: pm.optical_power\n"
	"    name: p2\n"
	"    sweep: {port: [2]}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"    on_fail: {bin: 6, continue: true}\n"
	"  - step: pm.optical_power\n"
	"    name: p3\n"
	"    sweep: {port: [3]}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"cleanup:\n"
	"  - {step: laser.disable, params: {channels: all}}\n"
	"hard_bins:\n"
	"  1: {name: GOOD, pass: true}\n"
	"  2: {name: REJECT}\n"
	"bins:\n"
	"  1: {name: PASS, pass: true, hard: 1}\n"
	"  5: {name: P1, hard: 2}\n"
	"  6: {name: P2, hard: 2}\n";

static void test_bins_first_failing_step(void)
{
	seq_sequence *s = load(bins_seq);
	lot l = {0};
	char buf[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* All pass: pass bin, its hard bin. */
	fake_reset();
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin * 100 + hard_bin FROM run ORDER BY id DESC"), 101);
	/* p2 then p1 failing in file order p1, p2: the first failing step's bin. */
	fake_reset();
	fk.dbm[1] = -10;
	fk.dbm[2] = -10;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin * 100 + hard_bin FROM run ORDER BY id DESC"), 502);
	CU_ASSERT_PTR_NOT_NULL(strstr(q_text(&l, "SELECT fail_reason FROM run ORDER BY id DESC",
					     buf, sizeof(buf)), "p1 {\"port\":1}"));
	/* Only p2 fails: its bin. p3 without on_fail.bin: RUN_BIN_FAIL. */
	fake_reset();
	fk.dbm[2] = 10;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin FROM run ORDER BY id DESC"), 6);
	fake_reset();
	fk.dbm[3] = 10;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin * 100 + hard_bin FROM run ORDER BY id DESC"),
			RUN_BIN_FAIL * 100 + RUN_BIN_FAIL);
	/* An instrument error after a limit failure: the error bin, never pass. */
	fake_reset();
	fk.dbm[1] = -10;
	fk.error_port = 3;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin FROM run ORDER BY id DESC"), RUN_BIN_ERROR);
	CU_ASSERT_EQUAL(q(&l, "SELECT status = 'error' FROM run ORDER BY id DESC"), 1);
	CU_ASSERT_EQUAL(fk.disables, 1);   /* cleanup ran */
	/* Step results: one per step that ran, with its bin. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM step_result WHERE run_id = "
			  "(SELECT max(id) FROM run)"), 5);
	CU_ASSERT_EQUAL(q(&l, "SELECT bin FROM step_result WHERE step = 'p1' AND run_id = "
			  "(SELECT max(id) FROM run)"), 5);
	CU_ASSERT_EQUAL(q(&l, "SELECT bin FROM step_result WHERE step = 'p3' AND run_id = "
			  "(SELECT max(id) FROM run)"), RUN_BIN_ERROR);
	/* The session holds the bin table and ended complete. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM session WHERE status = 'complete'"), 5);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM bin"), 3);
	lot_close(&l);
	seq_free(s);
}

/* ---- retry, stop, cleanup ------------------------------------------------ */

static void test_retry(void)
{
	seq_sequence *s = load(HEAD
		"main:\n"
		"  - step: pm.optical_power\n"
		"    sweep: {port: 1..2}\n"
		"    limits: {low: -3, high: 3, unit: dBm}\n"
		"    retry: 2\n"
		"    on_fail: {bin: 5}\n"
		"bins: {1: {name: PASS, pass: true}, 5: {name: P}}\n");
	lot l = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Two bad reads, then good: passes on the third attempt; one row. */
	fake_reset();
	fk.low_reads[1] = 2;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(fk.reads, 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT status = 'pass' FROM run ORDER BY id DESC"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement"), 2);
	/* Three bad reads: retries exhausted, fails with the last value. */
	fake_reset();
	fk.low_reads[1] = 3;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(fk.reads, 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin FROM run ORDER BY id DESC"), 5);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE run_id = "
			  "(SELECT max(id) FROM run) AND pass = 0 AND value < -39"), 1);
	lot_close(&l);
	seq_free(s);
}

static const char *cleanup_seq =
	HEAD
	"setup:\n"
	"  - {step: laser.enable, params: {channels: all}}\n"
	"main:\n"
	"  - step: pm.optical_power\n"
	"    name: first\n"
	"    sweep: {port: 1..4}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"    on_fail: {bin: 5}\n"
	"  - step: pm.optical_power\n"
	"    name: second\n"
	"    sweep: {port: 5..6}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"cleanup:\n"
	"  - {step: laser.disable, params: {channels: all}}\n"
	"bins: {1: {name: PASS, pass: true}, 5: {name: P}}\n";

static void test_cleanup_after_fail_error_abort(void)
{
	seq_sequence *s = load(cleanup_seq);
	const char *const two[] = {"A", "B"};
	lot l = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Fail without continue: the rest of the sweep is measured, the next
	 * step is not, cleanup runs. */
	fake_reset();
	fk.dbm[2] = -10;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(fk.reads, 4);
	CU_ASSERT_EQUAL(fk.disables, 1);
	CU_ASSERT_EQUAL(fk.laser_on, 0);
	/* Error: stops at once, cleanup runs. */
	fake_reset();
	fk.error_port = 2;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(fk.reads, 2);
	CU_ASSERT_EQUAL(fk.disables, 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE run_id = "
			  "(SELECT max(id) FROM run) AND value IS NULL"), 1);
	/* Abort in the second part: cleanup runs, the part leaves no rows,
	 * the first part stays, the session is aborted. */
	fake_reset();
	fk.abort_at_read = 8;
	l.abort_flag = 0;
	CU_ASSERT_EQUAL(run_units(&l, s, two, 2, 0, NULL), KGD_ERR_ABORTED);
	CU_ASSERT_EQUAL(fk.disables, 2);
	CU_ASSERT_EQUAL(fk.laser_on, 0);
	CU_ASSERT_EQUAL(l.sum.tested, 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run r JOIN part p ON r.part_id = p.id "
			  "WHERE p.serial = 'B'"), 0);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run r JOIN part p ON r.part_id = p.id "
			  "WHERE p.serial = 'A'"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT status = 'aborted' FROM session ORDER BY id DESC"), 1);
	lot_close(&l);
	seq_free(s);
}

/* ---- skip_if ------------------------------------------------------------- */

static void test_skip_if(void)
{
	seq_sequence *s = load(HEAD
		"main:\n"
		"  - step: pm.optical_power\n"
		"    name: coarse\n"
		"    sweep: {port: [1]}\n"
		"    limits: {low: -3, high: 3, unit: dBm}\n"
		"    on_fail: {bin: 5, continue: true}\n"
		"  - step: pm.optical_power\n"
		"    name: fine\n"
		"    sweep: {port: [2]}\n"
		"    limits: {low: -3, high: 3, unit: dBm}\n"
		"    skip_if: {failed: coarse}\n"
		"  - step: pm.optical_power\n"
		"    name: diagnose\n"
		"    sweep: {port: [3]}\n"
		"    skip_if: {passed: coarse}\n"
		"bins: {1: {name: PASS, pass: true}, 5: {name: P}}\n");
	lot l = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE step = 'fine'"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE step = 'diagnose'"), 0);
	fake_reset();
	fk.dbm[1] = -10;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE step = 'fine'"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE step = 'diagnose'"), 1);
	/* A skipped step has no step result. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM step_result WHERE run_id = "
			  "(SELECT max(id) FROM run)"), 2);
	lot_close(&l);
	seq_free(s);
}

/* ---- sweeps, multi-value, limits file ------------------------------------ */

static const char *laser_seq =
	HEAD
	"roles: [laser, pm]\n"
	"main:\n"
	"  - step: laser.read\n"
	"    name: lasers\n"
	"    sweep: {channel: 1..4}\n"
	"    limits:\n"
	"      power: {low: 0, high: 6, unit: dBm}\n"
	"      bias: {low: 40, high: 80, unit: mA}\n"
	"      smsr: {low: 30, unit: dB}\n"
	"    on_fail: {bin: 5, continue: true}\n"
	"  - step: pm.optical_power\n"
	"    name: grid\n"
	"    sweep: {port: 1..2, wavelength_nm: [1301.0, 1302.5, 1304.0]}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"bins: {1: {name: PASS, pass: true}, 5: {name: LASER}}\n";

static void test_sweep_and_multi_value_logging(void)
{
	seq_sequence *s = load(laser_seq);
	lot l = {0};
	char buf[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	/* 4 channels x 5 values + 2 ports x 3 wavelengths. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement"), 4 * 5 + 6);
	/* Port varies slowest; coordinates in sweep order. */
	q_text(&l, "SELECT group_concat(coords, ' ') FROM (SELECT coords FROM "
		   "measurement WHERE step = 'grid' ORDER BY seq_no)", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"{\"port\":1,\"wavelength_nm\":1301} {\"port\":1,\"wavelength_nm\":1302.5} "
		"{\"port\":1,\"wavelength_nm\":1304} {\"port\":2,\"wavelength_nm\":1301} "
		"{\"port\":2,\"wavelength_nm\":1302.5} {\"port\":2,\"wavelength_nm\":1304}");
	/* Values in the limit's unit, named; unlimited values logged too. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'bias' "
			  "AND unit = 'mA' AND abs(value - 60) < 1e-9"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'wavelength' "
			  "AND unit = 'nm' AND low IS NULL AND pass = 1"), 4);
	/* Laser 3's SMSR fails; everything else passes. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE pass = 0"), 1);
	q_text(&l, "SELECT coords FROM measurement WHERE pass = 0", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "{\"channel\":3}");
	CU_ASSERT_EQUAL(q(&l, "SELECT soft_bin FROM run"), 5);
	q_text(&l, "SELECT fail_reason FROM run", buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lasers/smsr {\"channel\":3}: 20 dB outside [30, +inf]"));
	lot_close(&l);
	seq_free(s);
}

/* zip pairs port k with wavelength k; reference_match pairs the loss
 * step's port k with the laser's channel k (sharing no variable, every
 * port would take channel 4's reading, and check refuses it). */
static void test_zip_and_reference_match(void)
{
	seq_sequence *s = load(HEAD
		"roles: [laser, pm]\n"
		"main:\n"
		"  - step: laser.read\n"
		"    name: lasers\n"
		"    sweep: {channel: 1..4}\n"
		"    limits: {power: {low: -10, high: 10, unit: dBm}}\n"
		"  - step: pm.optical_power\n"
		"    name: zipped\n"
		"    zip: {port: 1..3, wavelength_nm: [1301.0, 1302.5, 1304.0]}\n"
		"    limits: {low: -50, high: 50, unit: dBm}\n"
		"  - step: pm.insertion_loss\n"
		"    name: loss\n"
		"    sweep: {port: 1..4}\n"
		"    params: {reference_step: lasers/power, reference_match: port=channel}\n"
		"    limits: {low: -50, high: 50, unit: dB}\n"
		"bins: {1: {name: PASS, pass: true}}\n");
	lot l = {0};
	char buf[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(seq_step_points(seq_step_at(s, 1)), 3);
	fake_reset();
	fk.laser_step_w = 1e-3;
	for (int p = 1; p <= 4; p++)
		fk.dbm[p] = -p;
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	q_text(&l, "SELECT group_concat(coords, ' ') FROM (SELECT coords FROM "
		   "measurement WHERE step = 'zipped' ORDER BY seq_no)", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"{\"port\":1,\"wavelength_nm\":1301} {\"port\":2,\"wavelength_nm\":1302.5} "
		"{\"port\":3,\"wavelength_nm\":1304}");
	/* loss at port k = laser k's power (2 + k mW) in dBm + k */
	for (int p = 1; p <= 4; p++) {
		char sql[256];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM measurement WHERE "
			 "step = 'loss' AND coords = '{\"port\":%d}' AND "
			 "abs(value - %.9f) < 1e-6", p,
			 10.0 * log10((2e-3 + p * 1e-3) * 1e3) + p);
		CU_ASSERT_EQUAL(q(&l, sql), 1);
	}
	lot_close(&l);
	seq_free(s);
}

static void test_limits_file_override(void)
{
	seq_sequence *s = load(laser_seq);
	seq_limset *lim = NULL;
	kgd_err err;
	const char *path = write_tmp("limits.yaml",
		"limits: variant-b\n"
		"sequence: t\n"
		"steps:\n"
		"  lasers/smsr: {low: 15, unit: dB}\n"
		"  lasers/temperature: {low: 40, high: 50, unit: C, inclusive: false}\n"
		"  grid: {low: -1, high: 1, unit: mW}\n");
	lot l = {0};
	run_station *rs;
	run_opts o = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(seq_limset_load(path, &lim, &err), KGD_OK);
	CU_ASSERT_EQUAL(strlen(lim->sha256), 64);
	CU_ASSERT_EQUAL_FATAL(seq_limset_apply(s, lim, NULL, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(run_lint(s, NULL, NULL, NULL, &err), KGD_OK);
	fake_reset();
	snprintf(l.db_path, sizeof(l.db_path), "%s/lim.db", dir);
	CU_ASSERT_EQUAL_FATAL(db_open(l.db_path, &l.d, &err), KGD_OK);
	rs = fake_station();
	o.lot = "LOT1";
	o.serials = one;
	o.n_serials = 1;
	o.limits = lim;
	CU_ASSERT_EQUAL(run_lot(rs, s, &station, l.d, &o, &l.sum, &err), KGD_OK);
	free(rs);
	/* SMSR 20 now passes; the new temperature limit is applied. */
	CU_ASSERT_EQUAL(q(&l, "SELECT status = 'pass' FROM run"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'smsr' AND low = 15"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'temperature' "
			  "AND low = 40 AND high = 50"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE step = 'grid' "
			  "AND unit = 'mW' AND abs(value - 1) < 1e-9"), 6);
	/* The run and session carry the limits file's identity. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM limits_set"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run WHERE limits_id IS NOT NULL"), 1);
	lot_close(&l);
	seq_free(s);
	seq_limset_free(lim);
}

/* Limits by condition: --condition temperature_c=85 picks the 85 set
 * over the common entries, and every run stores the condition. */
static void test_limits_by_condition(void)
{
	seq_sequence *s = load(laser_seq);
	seq_limset *lim = NULL;
	kgd_err err;
	const char *path = write_tmp("cond-limits.yaml",
		"limits: by-temp\n"
		"steps:\n"
		"  lasers/smsr: {low: 15, unit: dB}\n"
		"by_condition:\n"
		"  temperature_c:\n"
		"    25: {lasers/bias: {low: 40, high: 80, unit: mA}}\n"
		"    85: {lasers/bias: {low: 61, high: 95, unit: mA}}\n");
	lot l = {0};
	run_station *rs;
	run_opts o = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(seq_limset_load(path, &lim, &err), KGD_OK);
	CU_ASSERT_EQUAL(seq_limset_select(lim, NULL, &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":5:3: the limits are set by temperature_c (25, 85): pick one with --condition temperature_c=VALUE"));
	CU_ASSERT_EQUAL(seq_limset_select(lim, "temperature_c=40", &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no limit set for temperature_c=40 (sets: 25, 85)"));
	CU_ASSERT_EQUAL(seq_limset_select(lim, "voltage=1", &err), KGD_ERR_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "the limits are set by temperature_c, not by 'voltage'"));
	CU_ASSERT_EQUAL_FATAL(seq_limset_select(lim, "temperature_c=85.0", &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(seq_limset_apply(s, lim, NULL, NULL, &err), KGD_OK);
	CU_ASSERT_EQUAL(run_lint(s, NULL, NULL, NULL, &err), KGD_OK);
	fake_reset();
	snprintf(l.db_path, sizeof(l.db_path), "%s/cond.db", dir);
	CU_ASSERT_EQUAL_FATAL(db_open(l.db_path, &l.d, &err), KGD_OK);
	rs = fake_station();
	o.lot = "LOT1";
	o.serials = one;
	o.n_serials = 1;
	o.limits = lim;
	o.condition = "temperature_c=85.0";
	CU_ASSERT_EQUAL(run_lot(rs, s, &station, l.d, &o, &l.sum, &err), KGD_OK);
	free(rs);
	/* bias 60 mA fails the 85 C set (61..95); SMSR 20 passes the common 15 */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'bias' "
			  "AND low = 61 AND high = 95 AND pass = 0"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'smsr' "
			  "AND low = 15 AND pass = 1"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run WHERE condition = 'temperature_c=85.0'"), 1);
	lot_close(&l);
	seq_free(s);
	seq_limset_free(lim);
}

/* skip_if on a value: the max port power of an earlier step above a
 * threshold skips the step; below it, the step runs. */
static void test_skip_if_value(void)
{
	seq_sequence *s = load(HEAD
		"roles: [pm]\n"
		"main:\n"
		"  - step: pm.optical_power\n"
		"    name: port_power\n"
		"    sweep: {port: 1..3}\n"
		"    limits: {low: -50, high: 50, unit: dBm}\n"
		"    on_fail: {continue: true}\n"
		"  - step: pm.optical_power\n"
		"    name: hot_check\n"
		"    sweep: {port: 1}\n"
		"    skip_if: {step: port_power, value: max, above: 3.0, unit: dBm}\n"
		"    limits: {low: -50, high: 50, unit: dBm}\n"
		"  - step: pm.optical_power\n"
		"    name: dim_check\n"
		"    sweep: {port: 1}\n"
		"    skip_if: {step: port_power, value: mean, below: 0.5, unit: mW}\n"
		"    limits: {low: -50, high: 50, unit: dBm}\n"
		"bins: {1: {name: PASS, pass: true}}\n");
	lot l = {0};
	static const char *const two[] = {"SN1", "SN2"};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	fk.dbm[1] = 0.0;
	fk.dbm[2] = 4.0;     /* max 4 dBm > 3: hot_check skipped */
	fk.dbm[3] = -10.0;   /* mean (1 + 2.51 + 0.1) / 3 = 1.2 mW: dim_check runs */
	CU_ASSERT_EQUAL(run_units(&l, s, two, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM step_result WHERE step = 'hot_check'"), 0);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM step_result WHERE step = 'dim_check' AND status = 'pass'"), 1);
	/* (a skipped step leaves no step result) */
	fk.dbm[1] = -30.0;
	fk.dbm[2] = 0.0;     /* max 0 dBm: hot_check runs */
	fk.dbm[3] = -20.0;   /* mean (0.001 + 1 + 0.01) / 3 = 0.34 mW: dim_check skipped */
	CU_ASSERT_EQUAL(run_units(&l, s, two + 1, 1, 0, NULL), KGD_OK);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM step_result WHERE step = 'hot_check' AND status = 'pass'"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM step_result WHERE step = 'dim_check'"), 1);  /* SN1's only */
	lot_close(&l);
	seq_free(s);
}

static void collect(void *user, const char *msg)
{
	char *buf = user;

	strncat(buf, msg, 8191 - strlen(buf));
	strncat(buf, "\n", 8191 - strlen(buf));
}

static void test_limits_file_errors(void)
{
	seq_sequence *s = load(laser_seq);
	seq_limset *lim = NULL;
	static char msgs[8192];
	char want[2048];
	kgd_err err;
	const char *path = write_tmp("badlim.yaml",
		"limits: x\n"
		"sequence: other\n"
		"steps:\n"
		"  nosuch: {low: 1}\n"
		"  lasers/colour: {low: 1}\n"
		"  grid: {low: 1, unit: nm}\n");
	const char *bad = write_tmp("badlim2.yaml",
		"limits: x\n"
		"steps:\n"
		"  grid: {low: 3, high: 1}\n"
		"  grid/a/b: {low: 1}\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(seq_limset_check(bad, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want), "%s:3:9: limits low 3 is greater than high 1\n"
		 "%s:4:3: bad entry 'grid/a/b': expected <step> or <step>/<value>\n", bad, bad);
	CU_ASSERT_STRING_EQUAL(msgs, want);

	CU_ASSERT_EQUAL_FATAL(seq_limset_load(path, &lim, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(seq_limset_apply(s, lim, collect, msgs, &err), KGD_ERR_PARSE);
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%s:2:11: limits are for sequence 'other', not 't'\n"
		 "%s:4:3: the sequence has no step 'nosuch'\n"
		 "%s:5:3: operation 'read' has no value 'colour'\n"
		 "%s:6:3: step 'grid' measures W, which cannot be given in nm\n",
		 path, path, path, path);
	if (strcmp(msgs, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", msgs, want);
	CU_ASSERT_STRING_EQUAL(msgs, want);
	seq_limset_free(lim);
	seq_free(s);
}

/* ---- per-point limits ---------------------------------------------------- */

/* The fake reads channel k at 1300 + k nm. Channel 3 (1303 nm) is inside
 * the band 1300.9 .. 1304.1 but outside its own window 1303.4 .. 1303.6. */
static const char *per_seq =
	HEAD
	"roles: [laser]\n"
	"main:\n"
	"  - step: laser.read\n"
	"    name: lasers\n"
	"    sweep: {channel: 1..4}\n"
	"    limits:\n"
	"      wavelength:\n"
	"        per: channel\n"
	"        low: [1300.9, 1301.9, 1303.4, 1303.9]\n"
	"        high: [1301.1, 1302.1, 1303.6, 1304.1]\n"
	"        unit: nm\n"
	"      power: {per: channel, low: 0, high: [6, 6, 6, 6], unit: dBm}\n"
	"    on_fail: {bin: 5, continue: true}\n"
	"bins: {1: {name: PASS, pass: true}, 5: {name: LASER}}\n";

static void test_per_point_limits(void)
{
	seq_sequence *s = load(per_seq);
	lot l = {0};
	char buf[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	CU_ASSERT_EQUAL(run_units(&l, s, one, 1, 0, NULL), KGD_OK);
	/* Point i judged against entry i, and the row stores what it applied. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'wavelength'"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'wavelength' "
			  "AND abs(low - (value - 0.1)) < 1e-9 AND abs(high - (value + 0.1)) < 1e-9 "
			  "AND pass = 1 AND coords <> '{\"channel\":3}'"), 3);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'wavelength' "
			  "AND coords = '{\"channel\":3}' AND abs(value - 1303) < 1e-9 "
			  "AND abs(low - 1303.4) < 1e-9 AND abs(high - 1303.6) < 1e-9 "
			  "AND pass = 0"), 1);
	/* A scalar low beside a list high applies at every point. */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'power' "
			  "AND low = 0 AND high = 6 AND pass = 1"), 4);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE pass = 0"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT status = 'fail' AND soft_bin = 5 FROM run"), 1);
	q_text(&l, "SELECT fail_reason FROM run", buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lasers/wavelength {\"channel\":3}: 1303 nm "
				      "outside [1303.4, 1303.6]"));
	lot_close(&l);
	seq_free(s);
}

/* A limits file's per-point entry replaces the sequence's, lists and all. */
static void test_per_point_limits_file(void)
{
	seq_sequence *s = load(per_seq);
	seq_limset *lim = NULL;
	kgd_err err;
	const char *path = write_tmp("per-limits.yaml",
		"limits: wide-3\n"
		"sequence: t\n"
		"steps:\n"
		"  lasers/wavelength:\n"
		"    per: channel\n"
		"    low: [1300.9, 1301.9, 1302.9, 1303.9]\n"
		"    high: 1304.1\n"
		"    unit: nm\n");
	lot l = {0};
	run_station *rs;
	run_opts o = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(seq_limset_load(path, &lim, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(seq_limset_apply(s, lim, NULL, NULL, &err), KGD_OK);
	/* The sequence holds its own copy: the limits file may go. */
	seq_limset_free(lim);
	CU_ASSERT_EQUAL(run_lint(s, NULL, NULL, NULL, &err), KGD_OK);
	fake_reset();
	snprintf(l.db_path, sizeof(l.db_path), "%s/per-lim.db", dir);
	CU_ASSERT_EQUAL_FATAL(db_open(l.db_path, &l.d, &err), KGD_OK);
	rs = fake_station();
	o.lot = "LOT1";
	o.serials = one;
	o.n_serials = 1;
	CU_ASSERT_EQUAL(run_lot(rs, s, &station, l.d, &o, &l.sum, &err), KGD_OK);
	free(rs);
	CU_ASSERT_EQUAL(q(&l, "SELECT status = 'pass' FROM run"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM measurement WHERE name = 'wavelength' "
			  "AND coords = '{\"channel\":3}' AND abs(low - 1302.9) < 1e-9 "
			  "AND abs(high - 1304.1) < 1e-9 AND pass = 1"), 1);
	lot_close(&l);
	seq_free(s);
}

/* per names a sweep variable of the step; one list entry per value of it -
 * in the sequence and in a limits file, each at its own file:line:column. */
static void test_per_point_limits_lint(void)
{
	static char msgs[8192];
	char want[4096];
	seq_sequence *s = NULL;
	seq_limset *lim = NULL;
	kgd_err err;
	const char *seq = write_tmp("per-bad.yaml",
		HEAD
		"main:\n"
		"  - step: laser.read\n"                                   /* 5 */
		"    name: lasers\n"
		"    sweep: {channel: 1..4}\n"
		"    limits:\n"
		"      wavelength: {per: port, low: [1, 2, 3, 4], unit: nm}\n"   /* 9 */
		"      power: {per: channel, low: [1, 2, 3], high: [5, 5, 5, 5, 5], unit: dBm}\n"
		"  - step: pm.optical_power\n"
		"    name: grid\n"
		"    sweep: {port: 1..2, wavelength_nm: [1301.0, 1302.5]}\n"
		"    limits: {per: wavelength_nm, high: [1, 2, 3], unit: dBm}\n"); /* 14 */
	const char *lpath = write_tmp("per-bad-limits.yaml",
		"limits: x\n"
		"steps:\n"
		"  lasers/bias: {per: lane, low: [1, 2, 3, 4], unit: mA}\n"
		"  grid: {per: port, high: [1, 2, 3, 4], unit: dBm}\n");

	CU_ASSERT_EQUAL_FATAL(seq_load(seq, &s, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(seq_limset_load(lpath, &lim, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%1$s:9:25: per: 'port' is not a sweep variable of step 'lasers'\n"
		 "%1$s:10:34: limits low has 3 entries, but channel takes 4 values\n"
		 "%1$s:10:51: limits high has 5 entries, but channel takes 4 values\n"
		 "%1$s:14:40: limits high has 3 entries, but wavelength_nm takes 2 values\n",
		 seq);
	if (strcmp(msgs, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", msgs, want);
	CU_ASSERT_STRING_EQUAL(msgs, want);
	/* The limits file's entries, positions in the limits file. */
	CU_ASSERT_EQUAL(seq_limset_apply(s, lim, NULL, NULL, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, ":3:22: per: 'lane' is not a sweep variable of step 'lasers'\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, ":4:27: limits high has 4 entries, but port takes 2 values\n"));
	if (!strstr(msgs, lpath))
		fprintf(stderr, "\n got:\n%s", msgs);
	seq_limset_free(lim);
	seq_free(s);
}

/* ---- lint ---------------------------------------------------------------- */

static void test_lint_reports_every_problem(void)
{
	static char msgs[8192];
	char want[4096];
	seq_sequence *s = NULL;
	kgd_err err;
	const char *path = write_tmp("lint.yaml",
		"sequence: t\n"                                   /* 1 */
		"version: 1\n"
		"process: wafer\n"
		"roles: [pm, bert]\n"
		"main:\n"                                         /* 5 */
		"  - step: pm.frobnicate\n"
		"  - step: pm.optical_power\n"
		"    sweep: {lane: 1..2}\n"
		"    params: {averaging_s: fast, colour: red}\n"
		"  - step: laser.read\n"                          /* 10 */
		"    limits: {low: 1}\n"
		"  - step: prompt\n"
		"    params: {text: hi}\n"
		"  - step: bert.ber\n"
		"    params: {pattern: PRBS9}\n"                  /* 15 */
		"    limits: {high: 1.0e-12, unit: dB}\n"
		"  - step: pm.wait\n"
		"  - step: bert.configure\n"
		"    limits: {high: 1}\n"
		"  - step: pm.insertion_loss\n"                   /* 20 */
		"    name: il\n"
		"    params: {reference_step: nothere}\n"
		"  - step: frob\n");

	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%1$s:6:5: unknown operation 'pm.frobnicate' (role 'pm' is a power-meter: optical_power, insertion_loss, identify)\n"
		 "%1$s:8:13: operation 'optical_power' has no sweep variable 'lane'\n"
		 "%1$s:9:14: param averaging_s must be a number, not 'fast'\n"
		 "%1$s:9:33: operation 'optical_power' has no parameter 'colour'\n"
		 "%1$s:10:5: role 'laser' is not in roles\n"
		 "%1$s:11:13: operation 'read' measures several values: give limits per value (e.g. power: {low: ..})\n"
		 "%1$s:12:5: 'prompt' needs an operator: only in the unit process\n"
		 "%1$s:15:14: pattern must be PRBS7, PRBS15, PRBS23 or PRBS31, not 'PRBS9'\n"
		 "%1$s:16:13: step 'bert.ber' measures ratio, which cannot be given in dB\n"
		 "%1$s:17:5: 'wait' is a built-in step: write 'step: wait' without a role\n"
		 "%1$s:17:5: step 'pm.wait' needs param seconds\n"
		 "%1$s:19:13: step 'bert.configure' measures no value, so it takes no limits\n"
		 "%1$s:22:14: reference_step 'nothere' is not a step that runs before this one\n"
		 "%1$s:23:5: unknown step kind 'frob' (built-in steps: wait, prompt)\n"
		 "%1$s:4:9: the wafer process needs role 'prober' in roles\n",
		 path);
	if (strcmp(msgs, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", msgs, want);
	CU_ASSERT_STRING_EQUAL(msgs, want);
	seq_free(s);
}

/* Defects a review found: a full role table (RUN_MAX_ROLES) without
 * prober crashed the check (a NULL prober entry), roles past it were
 * dropped without a word, and a
 * step reference past 127 characters was cut silently. */
static void test_lint_role_table_and_long_refs(void)
{
	char msgs[4096], want[4096], text[4096], ref[200];
	seq_sequence *s = NULL;
	kgd_err err;
	const char *path;
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "sequence: t\nversion: 1\nprocess: wafer\nroles: [");
	for (int i = 1; i <= RUN_MAX_ROLES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sr%d",
				      i > 1 ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n,
		 "]\nmain:\n  - {step: wait, params: {seconds: 0}}\n"
		 "bins:\n  1: {name: PASS, pass: true}\n");
	path = write_tmp("rolesfull.yaml", text);
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%1$s:4:9: the sequence uses %2$d instrument roles, at most %3$d\n"
		 "%1$s:4:9: the wafer process needs role 'prober' in roles\n", path,
		 RUN_MAX_ROLES + 1, RUN_MAX_ROLES);
	CU_ASSERT_STRING_EQUAL(msgs, want);
	seq_free(s);

	memset(ref, 'a', sizeof(ref) - 1);
	ref[sizeof(ref) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "sequence: t\nversion: 1\nprocess: unit\n"
		 "main:\n"
		 "  - {step: pm.optical_power, name: %.130s, sweep: {port: [1]}}\n"
		 "  - step: pm.insertion_loss\n"
		 "    sweep: {port: [1]}\n"
		 "    params: {reference_step: %s}\n"
		 "bins:\n  1: {name: PASS, pass: true}\n", ref, ref);
	path = write_tmp("longref.yaml", text);
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%s:8:14: reference_step '%.60s...' is longer than 127 characters\n",
		 path, ref);
	CU_ASSERT_STRING_EQUAL(msgs, want);
	seq_free(s);
}

/* ---- prompts ------------------------------------------------------------- */

static void test_prompt(void)
{
	seq_sequence *s = load(HEAD
		"main:\n"
		"  - step: prompt\n"
		"    name: visual\n"
		"    params: {text: \"Fiber seated?\", expect: yes}\n"
		"    on_fail: {bin: 4}\n"
		"bins: {1: {name: PASS, pass: true}, 4: {name: VISUAL}}\n");
	const char *const three[] = {"A", "B", "C"};
	char answers[] = "y\nno\n";
	FILE *in = fmemopen(answers, strlen(answers), "r");
	lot l = {0};
	char buf[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	CU_ASSERT_EQUAL(run_units(&l, s, three, 3, 0, in), KGD_OK);
	fclose(in);
	q_text(&l, "SELECT group_concat(soft_bin, ',') FROM (SELECT soft_bin FROM run ORDER BY id)",
	       buf, sizeof(buf));
	/* y -> pass; no -> its bin; end of input -> error bin, never a pass. */
	CU_ASSERT_STRING_EQUAL(buf, "1,4,99");
	q_text(&l, "SELECT coords FROM measurement ORDER BY id LIMIT 1 OFFSET 1", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "{\"text\":\"no\"}");
	lot_close(&l);
	seq_free(s);
}

/* ---- resume -------------------------------------------------------------- */

static void test_resume_units_exactly_once(void)
{
	seq_sequence *s = load(cleanup_seq);
	const char *const five[] = {"U1", "U2", "U3", "U4", "U5"};
	lot l = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	fk.abort_at_read = 6 * 2 + 3;  /* inside U3 */
	CU_ASSERT_EQUAL(run_units(&l, s, five, 5, 0, NULL), KGD_ERR_ABORTED);
	CU_ASSERT_EQUAL(l.sum.tested, 2);
	fake_reset();
	l.abort_flag = 0;
	CU_ASSERT_EQUAL(run_units(&l, s, five, 5, 1, NULL), KGD_OK);
	CU_ASSERT_EQUAL(l.sum.tested, 3);
	CU_ASSERT_EQUAL(l.sum.skipped, 2);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run"), 5);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(DISTINCT part_id) FROM run"), 5);
	CU_ASSERT_EQUAL(q(&l, "SELECT max(retest) FROM run"), 0);
	lot_close(&l);
	seq_free(s);
}

/* ---- the wafer process on a fake prober ---------------------------------- */

static const char *wafer_seq =
	"sequence: w\nversion: 1\nprocess: wafer\n"
	"roles: [prober, pm]\n"
	"main:\n"
	"  - step: pm.optical_power\n"
	"    name: power\n"
	"    sweep: {port: 1..2}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"    on_fail: {bin: 5}\n"
	"bins: {1: {name: PASS, pass: true}, 5: {name: P}}\n";

static int run_wafer(lot *l, seq_sequence *s, const int *slots, size_t n_slots,
		     const run_die *dies, size_t n_dies, int resume)
{
	run_station *rs = fake_station();
	run_opts o = {0};

	if (!l->d) {
		snprintf(l->db_path, sizeof(l->db_path), "%s/%d.db", dir, ++file_no);
		if (db_open(l->db_path, &l->d, &l->err))
			return -1;
	}
	o.lot = "WLOT";
	o.slots = slots;
	o.n_slots = n_slots;
	o.dies = dies;
	o.n_dies = n_dies;
	o.resume = resume;
	o.abort_flag = &l->abort_flag;
	fk.abort_flag = &l->abort_flag;
	l->rc = run_lot(rs, s, &station, l->d, &o, &l->sum, &l->err);
	free(rs);
	return l->rc;
}

static void fake_map(void)
{
	static const run_die map[] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}, {-1, 1}};

	fk.n_map = 5;
	memcpy(fk.map, map, sizeof(map));
}

static void test_wafer_process(void)
{
	seq_sequence *s = load(wafer_seq);
	static const int slots[] = {2, 5};
	static const run_die retest[] = {{1, 1}, {-1, 1}};
	lot l = {0};
	char buf[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	fake_map();
	fk.dbm[2] = 0;
	CU_ASSERT_EQUAL(run_wafer(&l, s, slots, 2, NULL, 0, 0), KGD_OK);
	CU_ASSERT_EQUAL(l.sum.wafers, 2);
	CU_ASSERT_EQUAL(l.sum.tested, 10);
	CU_ASSERT_EQUAL(fk.loaded, 2);
	CU_ASSERT_EQUAL(fk.unloaded, 2);
	CU_ASSERT_EQUAL(fk.contacted, 0);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(DISTINCT wafer_id) FROM part"), 2);
	q_text(&l, "SELECT group_concat(w.name, ',') FROM (SELECT DISTINCT name FROM wafer "
		   "ORDER BY name) w", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "FAKE-W02,FAKE-W05");
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM part WHERE die_x = -1 AND die_y = 1"), 2);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(fk.bins[i], 1);
	/* Retest two dies of slot 2: new runs (retest 1), binned on the prober. */
	fake_reset();
	fake_map();
	fk.dbm[1] = -20;
	CU_ASSERT_EQUAL(run_wafer(&l, s, slots, 1, retest, 2, 0), KGD_OK);
	CU_ASSERT_EQUAL(l.sum.tested, 2);
	CU_ASSERT_EQUAL(fk.bins[2], 5);
	CU_ASSERT_EQUAL(fk.bins[4], 5);
	CU_ASSERT_EQUAL(fk.bins[0], 0);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run WHERE retest = 1 AND soft_bin = 5"), 2);
	lot_close(&l);
	seq_free(s);
}

static void test_wafer_abort_and_resume(void)
{
	seq_sequence *s = load(wafer_seq);
	static const int slots[] = {1, 2};
	lot l = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fake_reset();
	fake_map();
	fk.abort_at_read = 2 * 7 + 1;  /* in the 3rd die of wafer 2 */
	CU_ASSERT_EQUAL(run_wafer(&l, s, slots, 2, NULL, 0, 0), KGD_ERR_ABORTED);
	CU_ASSERT_EQUAL(l.sum.tested, 7);
	CU_ASSERT_EQUAL(fk.contacted, 0);   /* probes lifted */
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run"), 7);
	fake_reset();
	fake_map();
	l.abort_flag = 0;
	CU_ASSERT_EQUAL(run_wafer(&l, s, slots, 2, NULL, 0, 1), KGD_OK);
	CU_ASSERT_EQUAL(l.sum.tested, 3);
	CU_ASSERT_EQUAL(l.sum.skipped, 7);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM run"), 10);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(DISTINCT part_id) FROM run"), 10);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM session WHERE status = 'aborted'"), 1);
	CU_ASSERT_EQUAL(q(&l, "SELECT count(*) FROM session WHERE status = 'complete'"), 1);
	lot_close(&l);
	seq_free(s);
}

/* The ranges column of the operations table: every sweep variable and
 * numeric param of every operation declares its plausible values, so a
 * new operation without them fails here, not on a wafer. */
static void test_ops_declare_ranges(void)
{
	CU_ASSERT_TRUE(run_n_ops() >= 10);
	for (size_t i = 0; i < run_n_ops(); i++) {
		const run_op *op = run_op_at(i);

		for (int k = 0; k < RUN_MAX_SWEEP && op->sweep_vars[k]; k++) {
			const run_range *r = run_op_range(op, op->sweep_vars[k]);

			if (!r)
				fprintf(stderr, "\n  %s: no range for sweep variable %s",
					op->name, op->sweep_vars[k]);
			CU_ASSERT_TRUE(r && r->lo < r->hi);
		}
		for (int k = 0; k < RUN_MAX_PARAMS && op->params[k].name; k++) {
			const run_range *r = run_op_range(op, op->params[k].name);

			if (op->params[k].type != RUN_P_NUMBER)
				continue;
			if (!r)
				fprintf(stderr, "\n  %s: no range for param %s", op->name,
					op->params[k].name);
			CU_ASSERT_TRUE(r && r->lo < r->hi);
		}
		/* and nothing else: a range names what the operation takes */
		for (int k = 0; k < RUN_MAX_RANGES && op->ranges[k].name; k++) {
			const char *name = op->ranges[k].name;
			int known = run_op_param(op, name) != NULL;

			for (int j = 0; j < RUN_MAX_SWEEP && op->sweep_vars[j]; j++)
				known |= strcmp(op->sweep_vars[j], name) == 0;
			CU_ASSERT_TRUE(known);
		}
	}
	CU_ASSERT_PTR_NULL(run_op_at(run_n_ops()));
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("runner", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "bins: first failing step, hard bins, error bin", test_bins_first_failing_step);
	CU_add_test(s, "retry", test_retry);
	CU_add_test(s, "cleanup after fail, error and abort", test_cleanup_after_fail_error_abort);
	CU_add_test(s, "skip_if", test_skip_if);
	CU_add_test(s, "sweep and multi-value logging", test_sweep_and_multi_value_logging);
	CU_add_test(s, "limits file override", test_limits_file_override);
	CU_add_test(s, "limits file errors", test_limits_file_errors);
	CU_add_test(s, "lint reports every problem", test_lint_reports_every_problem);
	CU_add_test(s, "per-point limits: point i judged by entry i", test_per_point_limits);
	CU_add_test(s, "per-point limits from a limits file", test_per_point_limits_file);
	CU_add_test(s, "per-point limits: lint positions", test_per_point_limits_lint);
	CU_add_test(s, "lint: role table and long references", test_lint_role_table_and_long_refs);
	CU_add_test(s, "prompt", test_prompt);
	CU_add_test(s, "resume units exactly once", test_resume_units_exactly_once);
	CU_add_test(s, "wafer process", test_wafer_process);
	CU_add_test(s, "wafer abort and resume", test_wafer_abort_and_resume);
	CU_add_test(s, "ops table: every number has a range", test_ops_declare_ranges);
	CU_add_test(s, "zip sweeps and reference_match", test_zip_and_reference_match);
	CU_add_test(s, "limits by condition", test_limits_by_condition);
	CU_add_test(s, "skip_if on a value", test_skip_if_value);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
