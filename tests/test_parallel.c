/*
 * tests/test_parallel.c - the sequencer's parallel forms, in process,
 * against fake instruments behind real drv_descriptor tables (the code
 * under test is exactly what `station run` executes; results are read
 * back from the real SQLite file):
 *  - parallel blocks: rows in file order whatever order branches finish,
 *    a failing branch ends only itself, the first branch in the file
 *    decides the bin, an error stops only the branches after it, an abort
 *    stops every branch and leaves no rows, cleanup runs once;
 *  - `station check`'s refusals of bad blocks, with file:line:column;
 *  - all-port power reads with retry: the same rows as point by point,
 *    with one read_power_all per wavelength;
 *  - multi-lane BER gates: one gate_start on ABI 1.1, lane by lane on a
 *    1.0 plugin.
 * Branches run on real threads; run the suite under ThreadSanitizer
 * (KGD_SANITIZE=thread) to check that the db handle and the fakes' shared
 * state are touched by one thread at a time.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_int.h"
#include "testutil.h"

static char dir[512];
static int file_no;

/* ---- fake instruments ------------------------------------------------------
 * The power meter's and the BERT's state are apart (each is touched only by
 * the branch that owns its role); the laser's only by cleanup. */

static struct {
	double dbm[17];             /* per port */
	int low_reads[17];          /* this many reads of the port read -40 dBm */
	int error_port;             /* reading this port times out */
	double read_delay_s;        /* each read / read_all takes this long */
	int reads, read_alls, setwl;
	int abort_at_read_all;      /* set the abort flag at this read_all */
} pm;

static struct {
	int sync_lost_lane;
	double ber;
	double gate_delay_s;        /* a lane-by-lane measure or gate_read */
	int measures, gate_starts, gate_reads, outputs_off;
	int lanes_in_gate;
} be;

static struct {
	int enables, disables;
} la;

static volatile sig_atomic_t *abort_flag;

static void fakes_reset(void)
{
	memset(&pm, 0, sizeof(pm));
	memset(&be, 0, sizeof(be));
	memset(&la, 0, sizeof(la));
	be.ber = 1e-14;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};

	if (s > 0)
		nanosleep(&ts, NULL);
}

static int f_open(xport *x, void **h, kgd_err *e) { (void)x; (void)e; *h = NULL; return 0; }
static void f_close(void *h) { (void)h; }
static int f_identify(void *h, char *buf, size_t cap, kgd_err *e)
{
	(void)h; (void)e;
	snprintf(buf, cap, "FAKE,1,2,3");
	return 0;
}

static double port_watts(int port)
{
	if (pm.low_reads[port] > 0) {
		pm.low_reads[port]--;
		return 1e-7;   /* -40 dBm */
	}
	return 1e-3 * pow(10.0, pm.dbm[port] / 10.0);
}

static int pm_setwl(void *h, int port, double nm, kgd_err *e)
{
	(void)h; (void)port; (void)nm; (void)e;
	pm.setwl++;
	return 0;
}

static int pm_read(void *h, int port, double *w, kgd_err *e)
{
	(void)h;
	pm.reads++;
	sleep_s(pm.read_delay_s);
	if (port == pm.error_port)
		return kgd_err_set(e, KGD_ERR_TIMEOUT, "fake://pm: no reply");
	*w = port_watts(port);
	return 0;
}

static int pm_read_all(void *h, double *w, int max, int *n, kgd_err *e)
{
	(void)h;
	pm.read_alls++;
	sleep_s(pm.read_delay_s);
	if (pm.abort_at_read_all && pm.read_alls == pm.abort_at_read_all)
		__atomic_store_n(abort_flag, 1, __ATOMIC_RELAXED);
	if (pm.error_port)
		return kgd_err_set(e, KGD_ERR_TIMEOUT, "fake://pm: no reply");
	*n = max < 16 ? max : 16;
	for (int p = 1; p <= *n; p++)
		w[p - 1] = port_watts(p);
	return 0;
}

static const drv_pm_ops pm_ops_all = {pm_setwl, pm_read, NULL, pm_read_all, NULL};
static const drv_pm_ops pm_ops_one = {pm_setwl, pm_read, NULL, NULL, NULL};

static int be_conf(void *h, int lane, const char *pat, double rate, kgd_err *e)
{
	(void)h; (void)lane; (void)pat; (void)rate; (void)e;
	return 0;
}

static int be_counts(int lane, double gate, drv_ber_result *r, kgd_err *e)
{
	r->bits = 53e9 * gate;
	if (lane == be.sync_lost_lane) {
		r->sync_lost = 1;
		return kgd_err_set(e, KGD_ERR_INSTRUMENT, "fake://bert: lane %d: sync lost",
				   lane);
	}
	r->errors = 0;
	r->ber = be.ber;
	return 0;
}

static int be_meas(void *h, int lane, double gate, drv_ber_result *r, kgd_err *e)
{
	(void)h;
	be.measures++;
	sleep_s(be.gate_delay_s);
	return be_counts(lane, gate, r, e);
}

static int be_output(void *h, int lane, int on, kgd_err *e)
{
	(void)h; (void)lane; (void)e;
	if (!on)
		be.outputs_off++;
	return 0;
}

static int be_conf_lanes(void *h, const int *lanes, size_t n, const char *pat,
			 double rate, kgd_err *e)
{
	(void)h; (void)lanes; (void)n; (void)pat; (void)rate; (void)e;
	return 0;
}

static int be_gate_start(void *h, const int *lanes, size_t n, double gate,
			 kgd_err *e)
{
	(void)h; (void)lanes; (void)gate; (void)e;
	be.gate_starts++;
	be.lanes_in_gate = (int)n;
	return 0;
}

static int be_gate_read(void *h, int lane, double gate, drv_ber_result *r,
			kgd_err *e)
{
	(void)h;
	/* The first read waits the gate out, the others find it closed. */
	if (be.gate_reads++ == 0)
		sleep_s(be.gate_delay_s);
	return be_counts(lane, gate, r, e);
}

static const drv_bert_ops bert_ops_11 = {be_conf, be_meas, be_output,
					 be_conf_lanes, be_gate_start, be_gate_read};
/* An ABI 1.0 plugin: the 1.1 slots are never read (its minor says so). */
static const drv_bert_ops bert_ops_10 = {be_conf, be_meas, be_output,
					 NULL, NULL, NULL};

static int la_channels(void *h, int *n, kgd_err *e) { (void)h; (void)e; *n = 8; return 0; }
static int la_enable(void *h, int ch, int on, kgd_err *e)
{
	(void)h; (void)ch; (void)e;
	if (on)
		la.enables++;
	else
		la.disables++;
	return 0;
}
static int la_read(void *h, int ch, drv_laser_reading *r, kgd_err *e)
{
	(void)h; (void)ch; (void)e;
	memset(r, 0, sizeof(*r));
	return 0;
}
static const drv_laser_ops laser_ops = {la_channels, la_enable, la_read, NULL};

static drv_descriptor descs[3] = {
	{1, 1, "fake-pm", "", DRV_CLASS_POWER_METER, f_open, f_close, f_identify,
	 &pm_ops_all, NULL, NULL, NULL, NULL},
	{1, 1, "fake-bert", "", DRV_CLASS_BERT, f_open, f_close, f_identify,
	 NULL, &bert_ops_11, NULL, NULL, NULL},
	{1, 1, "fake-laser", "", DRV_CLASS_LASER, f_open, f_close, f_identify,
	 NULL, NULL, NULL, &laser_ops, NULL},
};
static drv_plugin plugins[3];
static cfg_instrument insts[3] = {
	{"pm", "fake-pm", "fake://pm", 0, 1, 1},
	{"bert", "fake-bert", "fake://bert", 0, 2, 1},
	{"laser", "fake-laser", "fake://laser", 0, 3, 1},
};
static cfg_station station = {"fake.yaml", "test-cell", NULL, 0, insts, 3};

static void use_drivers(int pm_all, int bert_minor)
{
	descs[0].pm = pm_all ? &pm_ops_all : &pm_ops_one;
	descs[1].abi_minor = (uint16_t)bert_minor;
	descs[1].bert = bert_minor >= 1 ? &bert_ops_11 : &bert_ops_10;
}

static run_station *fake_station(void)
{
	run_station *rs = calloc(1, sizeof(*rs));

	for (int i = 0; i < 3; i++) {
		plugins[i].desc = &descs[i];
		rs->roles[i].inst = &insts[i];
		rs->roles[i].plugin = &plugins[i];
	}
	rs->n_roles = 3;
	return rs;
}

/* ---- helpers ---------------------------------------------------------------- */

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

static int run_one(lot *l, seq_sequence *s, int no_batch, int no_parallel)
{
	static const char *const one[] = {"SN1"};
	run_station *rs = fake_station();
	run_opts o = {0};

	memset(l, 0, sizeof(*l));
	snprintf(l->db_path, sizeof(l->db_path), "%s/%d.db", dir, ++file_no);
	if (db_open(l->db_path, &l->d, &l->err)) {
		free(rs);
		return -1;
	}
	o.lot = "LOT1";
	o.operator_name = "tester";
	o.serials = one;
	o.n_serials = 1;
	o.abort_flag = &l->abort_flag;
	o.no_batch = no_batch;
	o.no_parallel = no_parallel;
	abort_flag = &l->abort_flag;
	l->rc = run_lot(rs, s, &station, l->d, &o, &l->sum, &l->err);
	free(rs);
	db_close(l->d);
	l->d = NULL;
	return l->rc;
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

/* Every row of a query, "|"-joined per column and ";"-joined per row. */
static char *q_all(const lot *l, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t used = 0;

	buf[0] = '\0';
	if (sqlite3_open_v2(l->db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return buf;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && used < cap) {
			for (int c = 0; c < sqlite3_column_count(st) && used < cap; c++) {
				const unsigned char *t = sqlite3_column_text(st, c);

				used += (size_t)snprintf(buf + used, cap - used, "%s%s",
							 c ? "|" : "", t ? (const char *)t : "NULL");
			}
			if (used < cap)
				used += (size_t)snprintf(buf + used, cap - used, ";");
		}
		sqlite3_finalize(st);
	} else {
		fprintf(stderr, "\n  %s: %s\n", sql, sqlite3_errmsg(h));
	}
	sqlite3_close(h);
	return buf;
}

#define STEP_ROWS "SELECT step, status, coalesce(bin, 0), n_values FROM step_result ORDER BY id"
#define MEAS_ROWS "SELECT seq_no, step, coalesce(name, ''), coalesce(coords, ''), " \
		  "value, unit, pass FROM measurement ORDER BY seq_no"
#define RUN_ROW "SELECT status, soft_bin, hard_bin, coalesce(fail_reason, '') FROM run"

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("parallel"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* ---- the sequences ---------------------------------------------------------- */

#define HEAD "sequence: t\nversion: 1\nprocess: unit\nroles: [pm, bert, laser]\n"
#define TAIL \
	"cleanup:\n" \
	"  - {step: laser.disable, params: {channels: all}}\n" \
	"  - {step: bert.configure, name: bert_off, sweep: {lane: 1..4}, params: {output: off}}\n" \
	"bins:\n" \
	"  1: {name: PASS, pass: true}\n" \
	"  5: {name: OPTICAL}\n" \
	"  7: {name: BER}\n" \
	"  8: {name: AFTER}\n"

/* optical: two pm steps; electrical: two BER steps; then a step after. */
static const char *block_seq =
	HEAD
	"setup:\n"
	"  - {step: laser.enable, params: {channels: all}}\n"
	"main:\n"
	"  - parallel:\n"
	"      optical:\n"
	"        - step: pm.optical_power\n"
	"          name: power\n"
	"          sweep: {port: 1..4, wavelength_nm: [1301, 1302]}\n"
	"          limits: {low: -3, high: 3, unit: dBm}\n"
	"          on_fail: {bin: 5}\n"
	"        - step: pm.optical_power\n"
	"          name: power2\n"
	"          sweep: {port: 1..2}\n"
	"          limits: {low: -3, high: 3, unit: dBm}\n"
	"          on_fail: {bin: 5}\n"
	"      electrical:\n"
	"        - step: bert.ber\n"
	"          name: ber\n"
	"          sweep: {lane: 1..4}\n"
	"          params: {gate_s: 0.01}\n"
	"          limits: {high: 1.0e-12, unit: ratio}\n"
	"          on_fail: {bin: 7}\n"
	"        - step: bert.ber\n"
	"          name: ber2\n"
	"          sweep: {lane: 1..2}\n"
	"          params: {gate_s: 0.01}\n"
	"          limits: {high: 1.0e-12, unit: ratio}\n"
	"          on_fail: {bin: 7}\n"
	"  - step: pm.optical_power\n"
	"    name: after\n"
	"    sweep: {port: [1]}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"    on_fail: {bin: 8}\n"
	TAIL;

/* ---- parallel blocks ---------------------------------------------------------- */

/* The optical branch is slow, the electrical fast: the electrical rows are
 * known first, yet the database has them after the optical ones, exactly
 * as one-after-another gives them. */
static void test_rows_in_file_order(void)
{
	seq_sequence *s = load(block_seq);
	static char steps_par[2048], steps_ser[2048], meas_par[16384], meas_ser[16384];
	lot a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 1);
	fakes_reset();
	pm.read_delay_s = 0.02;
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_OK);
	/* 2 wavelengths, power2; `after` sweeps one port: a plain read. */
	CU_ASSERT_EQUAL(pm.read_alls, 2 + 1);
	CU_ASSERT_EQUAL(pm.reads, 1);
	CU_ASSERT_EQUAL(be.gate_starts, 2);
	fakes_reset();
	pm.read_delay_s = 0.02;
	CU_ASSERT_EQUAL(run_one(&b, s, 0, 1), KGD_OK);
	q_all(&a, STEP_ROWS, steps_par, sizeof(steps_par));
	q_all(&b, STEP_ROWS, steps_ser, sizeof(steps_ser));
	CU_ASSERT_STRING_EQUAL(steps_par,
		"laser.enable|pass|0|0;power|pass|0|8;power2|pass|0|2;ber|pass|0|8;"
		"ber2|pass|0|4;after|pass|0|1;laser.disable|pass|0|0;bert_off|pass|0|0;");
	CU_ASSERT_STRING_EQUAL(steps_par, steps_ser);
	q_all(&a, MEAS_ROWS, meas_par, sizeof(meas_par));
	q_all(&b, MEAS_ROWS, meas_ser, sizeof(meas_ser));
	CU_ASSERT_STRING_EQUAL(meas_par, meas_ser);
	CU_ASSERT_EQUAL(q(&a, "SELECT min(seq_no) FROM measurement WHERE step = 'ber'"),
			8 + 2 + 1);
	CU_ASSERT_EQUAL(q(&a, "SELECT soft_bin FROM run"), 1);
	seq_free(s);
}

/* A failing step without continue ends its branch only: the other branch
 * runs to its end; after the block, main stops. */
static void test_fail_ends_own_branch(void)
{
	seq_sequence *s = load(block_seq);
	char buf[2048];
	lot a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 1);
	fakes_reset();
	pm.dbm[3] = -10;                     /* port 3 fails power */
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_OK);
	q_all(&a, STEP_ROWS, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"laser.enable|pass|0|0;power|fail|5|8;ber|pass|0|8;ber2|pass|0|4;"
		"laser.disable|pass|0|0;bert_off|pass|0|0;");
	q_all(&a, RUN_ROW, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"fail|5|5|power {\"port\":3,\"wavelength_nm\":1301}: -10 dBm outside [-3, 3];");
	CU_ASSERT_EQUAL(la.disables, 1);     /* cleanup once */
	seq_free(s);
}

/* Both branches fail; the electrical one first in time. The optical
 * branch, first in the file, decides the bin. */
static void test_first_branch_in_file_decides(void)
{
	seq_sequence *s = load(block_seq);
	char buf[2048];
	lot a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 1);
	fakes_reset();
	pm.read_delay_s = 0.03;
	pm.dbm[4] = 6;                       /* optical fails, late */
	be.ber = 1e-6;                       /* electrical fails, early */
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_OK);
	q_all(&a, RUN_ROW, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"fail|5|5|power {\"port\":4,\"wavelength_nm\":1301}: 6 dBm outside [-3, 3];");
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM step_result WHERE step = 'ber' "
			     "AND status = 'fail' AND bin = 7"), 1);
	seq_free(s);
}

/* An error in the second branch (a BERT lane that cannot sync) does not
 * stop the first: its failure is still found and decides the bin. */
static void test_error_in_later_branch_spares_earlier(void)
{
	seq_sequence *s = load(block_seq);
	char buf[2048];
	lot a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 1);
	fakes_reset();
	pm.read_delay_s = 0.03;
	pm.dbm[2] = -20;
	be.sync_lost_lane = 2;
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_OK);
	q_all(&a, STEP_ROWS, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"laser.enable|pass|0|0;power|fail|5|8;ber|error|99|4;"
		"laser.disable|pass|0|0;bert_off|pass|0|0;");
	CU_ASSERT_EQUAL(q(&a, "SELECT soft_bin FROM run"), 5);
	CU_ASSERT_EQUAL(q(&a, "SELECT hard_bin FROM run"), 5);
	seq_free(s);
}

/* An error in the first branch stops the second at its next point: the
 * part is an error part, binned 99, and the cut step says error. */
static void test_error_stops_later_branch(void)
{
	seq_sequence *s = load(block_seq);
	char buf[2048];
	lot a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(0, 0);                   /* point by point: many points */
	fakes_reset();
	pm.error_port = 1;                   /* the first read times out */
	be.gate_delay_s = 0.05;              /* 12 lanes x 50 ms to run */
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_OK);
	q_all(&a, RUN_ROW, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
		"error|99|99|power {\"port\":1,\"wavelength_nm\":1301}: fake://pm: no reply;");
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM step_result WHERE step = 'ber' "
			     "AND status = 'error'"), 1);
	CU_ASSERT_TRUE(q(&a, "SELECT n_values FROM step_result WHERE step = 'ber'") < 8);
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM step_result WHERE step = 'ber2'"), 0);
	CU_ASSERT_TRUE(be.measures < 4);
	CU_ASSERT_EQUAL(be.outputs_off, 4);  /* cleanup ran, once */
	seq_free(s);
}

/* SIGINT in the middle of a block: every branch stops, cleanup runs once,
 * the part leaves no rows and the session says aborted. */
static void test_abort_in_block(void)
{
	seq_sequence *s = load(block_seq);
	lot a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 0);
	fakes_reset();
	pm.read_delay_s = 0.02;
	pm.abort_at_read_all = 1;
	be.gate_delay_s = 0.05;
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_ERR_ABORTED);
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM run"), 0);
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM measurement"), 0);
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM session WHERE status = 'aborted'"), 1);
	CU_ASSERT_EQUAL(la.disables, 1);
	CU_ASSERT_EQUAL(be.outputs_off, 4);
	CU_ASSERT_TRUE(be.measures < 4);     /* the BERT branch stopped too */
	CU_ASSERT_EQUAL(pm.read_alls, 1);
	seq_free(s);
}

/* ---- all ports, all lanes ------------------------------------------------------- */

static const char *sweep_seq =
	HEAD
	"main:\n"
	"  - step: pm.optical_power\n"
	"    name: power\n"
	"    sweep: {port: 1..16, wavelength_nm: [1301, 1302, 1303]}\n"
	"    limits: {low: -3, high: 3, unit: dBm}\n"
	"    on_fail: {bin: 5, continue: true}\n"
	"    retry: 1\n"
	"  - step: pm.insertion_loss\n"
	"    name: il\n"
	"    sweep: {port: 1..16, wavelength_nm: [1302]}\n"
	"    params: {reference_step: power}\n"
	"    limits: {low: -1, high: 1, unit: dB}\n"
	"    on_fail: {bin: 5, continue: true}\n"
	"  - step: bert.ber\n"
	"    name: ber\n"
	"    sweep: {lane: 1..16}\n"
	"    params: {gate_s: 0.01}\n"
	"    limits: {high: 1.0e-12, unit: ratio}\n"
	"    on_fail: {bin: 7}\n"
	TAIL;

/* A port that reads low once passes on its retry, a port low twice fails
 * after it: the batch path retries each failing point on its own, so it
 * logs what the point-by-point path logs, with one read of all ports per
 * wavelength. */
static void test_all_port_reads_with_retry(void)
{
	seq_sequence *s = load(sweep_seq);
	static char m1[65536], m2[65536], s1[2048], s2[2048], r1[1024], r2[1024];
	lot a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 1);
	for (int pass = 0; pass < 2; pass++) {
		fakes_reset();
		for (int p = 1; p <= 16; p++)
			pm.dbm[p] = 0.1 * p;
		pm.low_reads[5] = 1;
		pm.low_reads[9] = 2;
		CU_ASSERT_EQUAL(run_one(pass ? &b : &a, s, pass, 0), KGD_OK);
		if (pass == 0) {
			CU_ASSERT_EQUAL(pm.read_alls, 3 + 1);
			CU_ASSERT_EQUAL(pm.reads, 2);   /* the retries, one port each */
			CU_ASSERT_EQUAL(be.gate_starts, 1);
			CU_ASSERT_EQUAL(be.lanes_in_gate, 16);
			CU_ASSERT_EQUAL(be.measures, 0);
		} else {
			CU_ASSERT_EQUAL(pm.read_alls, 0);
			CU_ASSERT_EQUAL(pm.reads, 16 * 3 + 2 + 16);
			CU_ASSERT_EQUAL(be.measures, 16);
		}
	}
	q_all(&a, MEAS_ROWS, m1, sizeof(m1));
	q_all(&b, MEAS_ROWS, m2, sizeof(m2));
	CU_ASSERT_STRING_EQUAL(m1, m2);
	q_all(&a, STEP_ROWS, s1, sizeof(s1));
	q_all(&b, STEP_ROWS, s2, sizeof(s2));
	CU_ASSERT_STRING_EQUAL(s1, s2);
	q_all(&a, RUN_ROW, r1, sizeof(r1));
	q_all(&b, RUN_ROW, r2, sizeof(r2));
	CU_ASSERT_STRING_EQUAL(r1, r2);
	CU_ASSERT_STRING_EQUAL(r1, "fail|5|5|power {\"port\":9,\"wavelength_nm\":1301}: "
				   "-40 dBm outside [-3, 3];");
	/* Rows come port by port, as swept: port 2 follows port 1's three. */
	CU_ASSERT_EQUAL(q(&a, "SELECT seq_no FROM measurement WHERE step = 'power' AND "
			     "coords = '{\"port\":2,\"wavelength_nm\":1301}'"), 4);
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM measurement WHERE step = 'il'"), 16);
	seq_free(s);
}

/* A BERT plugin of ABI 1.0 still runs, lane by lane; a lane that loses
 * sync is that lane's error either way, and the lanes before it logged. */
static void test_bert_10_lane_by_lane(void)
{
	seq_sequence *s = load(sweep_seq);
	static char a10[65536], a11[65536];
	lot a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	use_drivers(1, 0);
	fakes_reset();
	be.sync_lost_lane = 7;
	CU_ASSERT_EQUAL(run_one(&a, s, 0, 0), KGD_OK);
	CU_ASSERT_EQUAL(be.gate_starts, 0);
	CU_ASSERT_EQUAL(be.measures, 7);
	use_drivers(1, 1);
	fakes_reset();
	be.sync_lost_lane = 7;
	CU_ASSERT_EQUAL(run_one(&b, s, 0, 0), KGD_OK);
	CU_ASSERT_EQUAL(be.gate_starts, 1);
	CU_ASSERT_EQUAL(be.measures, 0);
	q_all(&a, MEAS_ROWS " ", a10, sizeof(a10));
	q_all(&b, MEAS_ROWS " ", a11, sizeof(a11));
	CU_ASSERT_STRING_EQUAL(a10, a11);
	CU_ASSERT_EQUAL(q(&a, "SELECT count(*) FROM measurement WHERE step = 'ber' AND "
			     "name IS NULL"), 7);
	CU_ASSERT_EQUAL(q(&a, "SELECT soft_bin FROM run"), 99);
	seq_free(s);
}

/* ---- what check refuses ---------------------------------------------------------- */

static void collect(void *user, const char *msg)
{
	char *buf = user;
	size_t n = strlen(buf);

	snprintf(buf + n, 4096 - n, "%s\n", msg);
}

static void test_check_refuses_bad_blocks(void)
{
	char msgs[4096], want[4096];
	seq_sequence *s = NULL;
	kgd_err err;
	const char *path = write_tmp("bad.yaml",
		HEAD                                                   /* 1-4 */
		"main:\n"                                              /* 5 */
		"  - {step: pm.optical_power, name: first, sweep: {port: [1]}}\n"
		"  - parallel:\n"
		"      a:\n"
		"        - {step: pm.optical_power, name: pa, sweep: {port: [1]}}\n"
		"        - step: pm.insertion_loss\n"                  /* 10 */
		"          name: ila\n"
		"          sweep: {port: [1]}\n"
		"          params: {reference_step: pb}\n"
		"      b:\n"
		"        - {step: pm.optical_power, name: pb, sweep: {port: [2]}}\n" /* 15 */
		"        - step: bert.ber\n"
		"          name: bb\n"
		"          sweep: {lane: [1]}\n"
		"          skip_if: {failed: pa}\n"
		"        - step: pm.insertion_loss\n"                  /* 20 */
		"          name: ilb\n"
		"          sweep: {port: [1]}\n"
		"          params: {reference_step: first}\n"
		"bins:\n"
		"  1: {name: PASS, pass: true}\n");

	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(run_lint(s, NULL, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%1$s:13:20: reference_step 'pb' is in branch 'b', another branch of "
		 "this parallel block: branches run side by side\n"
		 "%1$s:15:11: role 'pm' is used by branches 'a' and 'b' of one parallel "
		 "block: each branch needs instruments of its own\n"
		 "%1$s:19:29: skip_if names step 'pa' is in branch 'a', another branch "
		 "of this parallel block: branches run side by side\n"
		 "%1$s:20:11: role 'pm' is used by branches 'a' and 'b' of one parallel "
		 "block: each branch needs instruments of its own\n", path);
	if (strcmp(msgs, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", msgs, want);
	CU_ASSERT_STRING_EQUAL(msgs, want);
	seq_free(s);

	/* What the loader refuses: nesting, an empty branch, one branch, a
	 * block outside main, a prompt in a branch (lint). */
	path = write_tmp("bad2.yaml",
		HEAD
		"setup:\n"                                             /* 5 */
		"  - parallel: {x: [{step: wait, params: {seconds: 0}}], "
		"y: [{step: wait, name: w2, params: {seconds: 0}}]}\n"
		"main:\n"
		"  - parallel:\n"
		"      a:\n"
		"        - parallel: {c: [], d: []}\n"                 /* 10 */
		"      b: []\n"
		"  - parallel:\n"
		"      only:\n"
		"        - {step: wait, name: w3, params: {seconds: 0}}\n"
		"bins:\n"                                              /* 15 */
		"  1: {name: PASS, pass: true}\n");
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(seq_check(path, collect, msgs, &err), KGD_ERR_PARSE);
	snprintf(want, sizeof(want),
		 "%1$s:6:5: parallel blocks are allowed in main only, not in setup\n"
		 "%1$s:10:11: a parallel block cannot be nested in a branch of another\n"
		 "%1$s:11:7: branch 'b' has no steps\n"
		 "%1$s:13:7: a parallel block needs at least two branches\n", path);
	if (strcmp(msgs, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", msgs, want);
	CU_ASSERT_STRING_EQUAL(msgs, want);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("parallel", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "rows in file order, as one after another", test_rows_in_file_order);
	CU_add_test(s, "a failing step ends its own branch only", test_fail_ends_own_branch);
	CU_add_test(s, "the first branch in the file decides the bin", test_first_branch_in_file_decides);
	CU_add_test(s, "an error in a later branch spares the earlier", test_error_in_later_branch_spares_earlier);
	CU_add_test(s, "an error stops the branches after it", test_error_stops_later_branch);
	CU_add_test(s, "abort in a block: no rows, cleanup once", test_abort_in_block);
	CU_add_test(s, "all-port reads with retry: point-by-point rows", test_all_port_reads_with_retry);
	CU_add_test(s, "BERT ABI 1.0 lane by lane, 1.1 one gate", test_bert_10_lane_by_lane);
	CU_add_test(s, "check refuses bad blocks", test_check_refuses_bad_blocks);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
