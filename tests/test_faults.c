/*
 * tests/test_faults.c - integration: the real `station run` against
 * kgd-vstation with injected instrument faults (--fault ROLE:KIND), and
 * against a scripted prober for positions the simulator never reports.
 *
 * What every test here holds the station to (docs/SEQUENCES.md, "Errors
 * and policies"): a part an instrument failed on gets the error bin (99)
 * with a reason naming the instrument's URI, never a pass; the lot goes on
 * or stops exactly as the policy says (--max-errors, reopening a lost
 * connection, --contact-retries, a repeated die); a stopped lot exits 1
 * with its session 'error'; SIGINT/SIGTERM exit 130 with the session
 * 'aborted', no partial part and cleanup done on the instruments.
 *
 * Invariant: every simulator and peer a test starts is stopped by that
 * test (tu_vstation_stop, drv_peer_stop), and every station it runs is
 * bounded by a timeout, so a failing assertion leaves no process behind.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drv_peer.h"
#include "kgd/xport.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define ELSFP_SEQ KGD_SOURCE_DIR "/sequences/elsfp-module.yaml"
#define TERAPHY_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"

/* A small wafer (32 dies) at a fast clock: the tests are about faults,
 * not throughput. */
#define WAFER_ARGS "--product", "teraphy", "--wafers", "1", "--die", "40x40", \
	"--time-scale", "0.0002"

static char dir[512];
static char out[65536], errbuf[65536];
static int sql_quiet;   /* polling a database still being created */

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("faults"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static long long q_ll(const char *db_path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static long long q_ll(const char *db_path, const char *fmt, ...)
{
	char sql[2048];
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -3;
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		if (!sql_quiet)
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

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* A station config for the simulator's roles: every instrument but the
 * prober gets timeout_ms (short, so a silent instrument costs little); the
 * prober, if any, keeps a mechanical move's 15 s, or goes to prober_uri. */
static void write_config(const char *path, const tu_vstation *vs,
			 int timeout_ms, const char *prober_uri)
{
	char text[2048];
	size_t used;

	used = (size_t)snprintf(text, sizeof(text), "station: faults\ninstruments:\n");
	for (int i = 0; i < vs->n_roles && used < sizeof(text); i++) {
		const tu_vstation_role *r = &vs->roles[i];
		int prober = strcmp(r->name, "prober") == 0;

		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "  %s: {driver: %s, uri: \"%s\", timeout_ms: %d}\n",
					 r->name, r->driver,
					 prober && prober_uri ? prober_uri : r->uri,
					 prober ? 15000 : timeout_ms);
	}
	write_file(path, text);
}

/* Start the simulator with up to 6 extra args, write a config at cfg. */
static int sim_start(tu_vstation *vs, const char *cfg, int timeout_ms,
		     const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *args[] = {"--product", "elsfp", "--units", "20", a1, a2, a3, a4,
			      NULL};

	if (tu_vstation_start(dir, args, vs) != 0)
		return -1;
	write_config(cfg, vs, timeout_ms, NULL);
	return 0;
}

static int wafer_start(tu_vstation *vs, const char *cfg, const char *a1,
		       const char *a2, const char *a3, const char *a4)
{
	const char *args[] = {WAFER_ARGS, a1, a2, a3, a4, NULL};

	if (tu_vstation_start(dir, args, vs) != 0)
		return -1;
	write_config(cfg, vs, 3000, NULL);
	return 0;
}

/* One command to a simulated SCPI or SENTIO instrument over a connection
 * of its own (the simulator's state is shared by all its clients). 0 and
 * the reply line, or -1. */
static int sim_query(const char *uri, const char *cmd, char *reply, size_t cap)
{
	xport *x = NULL;
	size_t len;
	kgd_err e;
	int rc;

	kgd_err_clear(&e);
	rc = xport_open(uri, 3000, &x, &e);
	if (!rc)
		rc = xport_write_line(x, cmd, &e);
	if (!rc)
		rc = xport_read_line(x, reply, cap, &len, &e);
	xport_close(x);
	if (rc)
		fprintf(stderr, "\n  %s: %s\n", cmd, e.msg);
	return rc ? -1 : 0;
}

static int contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		return 1;
	fprintf(stderr, "\n  expected '%s' in:\n%s\n", needle, hay);
	return 0;
}

/* ---- unit process (ELSFP): pm and laser faults --------------------------- *
 * Command counts on the meter: opening it takes 19 commands and the first
 * part's set-up (wavelength, averaging) about 2 more; after that a part is
 * one all-port read (the driver keeps the settings it sent), so a fault
 * after 19 commands hits the first part and one after 22 the third. */

/* The pm drops the connection mid-part: that part is an error naming the
 * pm's URI, the pm is reopened (logged), and the rest of the lot passes. */
static void test_pm_disconnect_is_reopened(void)
{
	char cfg[700], db[700], note[400];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "DISC", "--units", "5", NULL};
	tu_vstation vs;
	const char *pm;

	snprintf(cfg, sizeof(cfg), "%s/disc.yaml", dir);
	snprintf(db, sizeof(db), "%s/disc.db", dir);
	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 1000, "--fault",
					"pm:disconnect:after=22", NULL, NULL), 0);
	pm = tu_vstation_uri(&vs, "pm");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	tu_vstation_stop(&vs);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 5);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND fail_reason LIKE '%%%s%%connection "
				 "closed%%'", pm), 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 4);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = "
				 "'complete'"), 1);
	snprintf(note, sizeof(note), "role 'pm' (%s): connection lost "
		 "(disconnected); reopening", pm);
	CU_ASSERT_TRUE(contains(out, note));
}

/* Garbage readings: every part is an error, never a pass, and the lot
 * stops after --max-errors (default 3) of them with exit 1, session
 * 'error' and one line saying why. */
static void test_pm_garbage_stops_lot(void)
{
	char cfg[700], db[700], want[600];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "GARB", "--units", "8", "--quiet", NULL};
	tu_vstation vs;
	const char *pm;

	snprintf(cfg, sizeof(cfg), "%s/garb.yaml", dir);
	snprintf(db, sizeof(db), "%s/garb.db", dir);
	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 1000, "--fault",
					"pm:garbage:after=19", NULL, NULL), 0);
	pm = tu_vstation_uri(&vs, "pm");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	tu_vstation_stop(&vs);
	snprintf(want, sizeof(want), "station: stopping the lot: 3 parts in a row "
		 "in the error bin (--max-errors 3); last: port_power "
		 "{\"port\":1,\"wavelength_nm\":1310}: %s: ':READ1:POW?': reply "
		 "'#?garbage@1' is not a number\n", pm);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 3);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND hard_bin = 99 AND fail_reason "
				 "LIKE '%%%s%%is not a number'", pm), 3);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = 'error'"), 1);
}

/* Overrange on every reading with --max-errors 0: the lot goes on to the
 * end, every part in the error bin, exit 0, session complete. */
static void test_pm_overrange_continues(void)
{
	char cfg[700], db[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "OVR", "--units", "4", "--max-errors", "0",
			"--quiet", NULL};
	tu_vstation vs;
	const char *pm;

	snprintf(cfg, sizeof(cfg), "%s/ovr.yaml", dir);
	snprintf(db, sizeof(db), "%s/ovr.db", dir);
	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 1000, "--fault",
					"pm:overrange:after=19", NULL, NULL), 0);
	pm = tu_vstation_uri(&vs, "pm");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	tu_vstation_stop(&vs);
	CU_ASSERT_STRING_EQUAL(errbuf, "");
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 4);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND fail_reason LIKE '%%%s%%no valid "
				 "value (''+9.90000000E+37'')'", pm), 4);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = "
				 "'complete'"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "4 tested, 0 passed, 0 failed, 4 errors"));
}

/* The pm goes silent: a timeout leaves the connection up (no reopen), the
 * parts are errors, and --max-errors 2 stops the lot after two. */
static void test_pm_no_reply_stops_after_max_errors(void)
{
	char cfg[700], db[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "SILENT", "--units", "5", "--max-errors", "2",
			NULL};
	tu_vstation vs;
	const char *pm;

	snprintf(cfg, sizeof(cfg), "%s/silent.yaml", dir);
	snprintf(db, sizeof(db), "%s/silent.db", dir);
	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 300, "--fault",
					"pm:no-reply:after=19", NULL, NULL), 0);
	pm = tu_vstation_uri(&vs, "pm");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	tu_vstation_stop(&vs);
	CU_ASSERT_TRUE(contains(errbuf, "station: stopping the lot: 2 parts in a row "
				"in the error bin (--max-errors 2); last: "));
	CU_ASSERT_TRUE(contains(errbuf, "no reply within 300 ms"));
	CU_ASSERT_PTR_NULL(strstr(out, "reopening"));
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 2);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND fail_reason LIKE '%%%s%%no reply "
				 "within 300 ms'", pm), 2);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = 'error'"), 1);
}

/* The meter answers SYST:ERR? with -310 once. A sequence without retries,
 * so the error cannot be retried away: that part is an error quoting the
 * instrument's error, the others pass. */
static void test_pm_scpi_error_is_error_bin(void)
{
	char cfg[700], db[700], seq[700];
	char *argv[] = {STATION, "run", seq, "--config", cfg, "--db", db,
			"--lot", "SCPI", "--units", "3", "--quiet", NULL};
	tu_vstation vs;
	const char *pm;

	snprintf(cfg, sizeof(cfg), "%s/scpi.yaml", dir);
	snprintf(db, sizeof(db), "%s/scpi.db", dir);
	snprintf(seq, sizeof(seq), "%s/pm-only.yaml", dir);
	write_file(seq, "sequence: pm-only\nversion: 1\nproduct: ELSFP-8\n"
			"process: unit\nroles: [pm]\nmain:\n"
			"  - step: pm.optical_power\n    name: port_power\n"
			"    sweep: {port: 1..8, wavelength_nm: [1310.0]}\n"
			"    limits: {low: -3.0, high: 6.0, unit: dBm}\n"
			"    on_fail: {bin: 5, continue: true}\n"
			"bins:\n  1: {name: PASS, pass: true}\n  5: {name: POWER}\n");
	/* Opening the meter takes 19 commands; the 20th sets port 1's
	 * wavelength, and its SYST:ERR? check reads the error. */
	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 1000, "--fault",
					"pm:scpi-error:after=19", NULL, NULL), 0);
	pm = tu_vstation_uri(&vs, "pm");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	tu_vstation_stop(&vs);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 3);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND fail_reason LIKE '%%%s%%-310,"
				 "\"System error\"%%'", pm), 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 2);
}

/* The laser module's adapter (a pty) refuses one read, then answers
 * garbage: the refusal is one error part and the lot goes on; garbage
 * with --max-errors 1 stops the lot at the first error part. */
static void test_laser_faults(void)
{
	char cfg[700], db[700], db2[700];
	char *argv[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db,
			"--lot", "LAS", "--units", "3", "--quiet", NULL};
	char *argv2[] = {STATION, "run", ELSFP_SEQ, "--config", cfg, "--db", db2,
			 "--lot", "LAS2", "--units", "3", "--max-errors", "1",
			 "--quiet", NULL};
	tu_vstation vs;
	const char *laser;

	snprintf(cfg, sizeof(cfg), "%s/laser.yaml", dir);
	snprintf(db, sizeof(db), "%s/laser.db", dir);
	snprintf(db2, sizeof(db2), "%s/laser2.db", dir);
	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 1000, "--fault",
					"laser:scpi-error:after=60", NULL, NULL), 0);
	laser = tu_vstation_uri(&vs, "laser");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	tu_vstation_stop(&vs);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 3);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND fail_reason LIKE '%%%s%%adapter "
				 "refused: ERR simulated fault'", laser), 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 2);

	CU_ASSERT_EQUAL_FATAL(sim_start(&vs, cfg, 1000, "--fault",
					"laser:garbage:after=60", NULL, NULL), 0);
	laser = tu_vstation_uri(&vs, "laser");
	CU_ASSERT_EQUAL(tu_run(argv2, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	tu_vstation_stop(&vs);
	CU_ASSERT_TRUE(contains(errbuf, "station: stopping the lot: 1 part in a row "
				"in the error bin (--max-errors 1); last: "));
	CU_ASSERT_TRUE(contains(errbuf, "malformed data in 'OK #?garbage'"));
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM run WHERE status = 'error' "
				  "AND fail_reason LIKE '%%%s%%'", laser), 1);
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM run WHERE status != 'error'"), 1);
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM session WHERE status = 'error'"), 1);
}

/* ---- wafer process (TeraPHY): prober and BERT faults --------------------- */

/* The bin the simulated prober recorded for a die of slot 1, or -1. */
static int prober_bin(const char *uri, int col, int row)
{
	char cmd[64], reply[256], *last;

	snprintf(cmd, sizeof(cmd), "sim:get_bin %d,%d,1", col, row);
	if (sim_query(uri, cmd, reply, sizeof(reply)))
		return -1;
	last = strrchr(reply, ',');
	return last && last[1] ? atoi(last + 1) : -1;
}

/* A refused contact is tried again (--contact-retries, default 1, logged);
 * refused again, the die is an error part binned on the prober too, and
 * the lot goes on. With --contact-retries 0 there is no second try. */
static void test_contact_fail_retried_then_error_bin(void)
{
	char cfg[700], db[700], db0[700], want[700];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db,
			"--lot", "CF", "--dies", "5,1;4,1;3,1", NULL};
	char *argv0[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db0,
			 "--lot", "CF0", "--dies", "4,1", "--contact-retries", "0",
			 NULL};
	tu_vstation vs;
	const char *pr;

	snprintf(cfg, sizeof(cfg), "%s/cf.yaml", dir);
	snprintf(db, sizeof(db), "%s/cf.db", dir);
	snprintf(db0, sizeof(db0), "%s/cf0.db", dir);
	CU_ASSERT_EQUAL_FATAL(wafer_start(&vs, cfg, "--fault",
					  "prober:contact-fail:die=4,1", NULL, NULL), 0);
	pr = tu_vstation_uri(&vs, "prober");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	CU_ASSERT_TRUE(contains(out, "die (4,1): contact refused ("));
	CU_ASSERT_TRUE(contains(out, "prober error 5: contact failed); contacting "
				"again (1 of 1)"));
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 3);
	/* The reason exactly, quotes doubled for SQL. */
	snprintf(want, sizeof(want), "prober (%s): contact at die (4,1) refused 2 "
		 "times: %s: ''move_chuck_contact'': prober error 5: contact failed",
		 pr, pr);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run r JOIN part p ON "
				 "p.id = r.part_id WHERE p.die_x = 4 AND p.die_y = 1 "
				 "AND r.status = 'error' AND r.soft_bin = 99 AND "
				 "r.hard_bin = 9 AND r.fail_reason = '%s'", want), 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 2);
	/* The prober's map says the same: the error die carries hard bin 9. */
	CU_ASSERT_EQUAL(prober_bin(pr, 4, 1), 9);
	CU_ASSERT_EQUAL(prober_bin(pr, 5, 1), 1);

	CU_ASSERT_EQUAL(tu_run(argv0, out, sizeof(out), errbuf, sizeof(errbuf), 60), 0);
	tu_vstation_stop(&vs);
	CU_ASSERT_PTR_NULL(strstr(out, "contacting again"));
	CU_ASSERT_EQUAL(q_ll(db0, "SELECT count(*) FROM run WHERE status = 'error' "
				  "AND fail_reason LIKE '%%refused 1 time: %%'"), 1);
}

/* The prober's connection drops: a prober error stops the lot at once
 * (the station no longer knows where the probes are), exit 1, the URI in
 * the message, session 'error', nothing half-committed. */
static void test_prober_disconnect_stops_lot(void)
{
	char cfg[700], db[700], want[400];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db,
			"--lot", "PD", "--wafers", "1", "--quiet", NULL};
	tu_vstation vs;

	snprintf(cfg, sizeof(cfg), "%s/pd.yaml", dir);
	snprintf(db, sizeof(db), "%s/pd.db", dir);
	/* Open, load, align and the die count take 6 commands, each die 4. */
	CU_ASSERT_EQUAL_FATAL(wafer_start(&vs, cfg, "--fault",
					  "prober:disconnect:after=16", NULL, NULL), 0);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	snprintf(want, sizeof(want), "station: prober (%s): ",
		 tu_vstation_uri(&vs, "prober"));
	tu_vstation_stop(&vs);
	CU_ASSERT_TRUE(contains(errbuf, want));
	CU_ASSERT_TRUE(contains(errbuf, "connection closed"));
	CU_ASSERT_TRUE(q_ll(db, "SELECT count(*) FROM run") < 32);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run r WHERE NOT EXISTS "
				 "(SELECT 1 FROM step_result s WHERE s.run_id = r.id)"), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = 'error'"), 1);
}

/* The BERT answers garbage counts: every die is an error (binned 9 on the
 * prober, never 1), and the lot stops after three in a row. */
static void test_bert_garbage_error_dies(void)
{
	char cfg[700], db[700];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db,
			"--lot", "BG", "--wafers", "1", "--quiet", NULL};
	tu_vstation vs;
	const char *bert, *pr;

	snprintf(cfg, sizeof(cfg), "%s/bg.yaml", dir);
	snprintf(db, sizeof(db), "%s/bg.db", dir);
	CU_ASSERT_EQUAL_FATAL(wafer_start(&vs, cfg, "--fault", "bert:garbage",
					  NULL, NULL), 0);
	bert = tu_vstation_uri(&vs, "bert");
	pr = tu_vstation_uri(&vs, "prober");
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	CU_ASSERT_TRUE(contains(errbuf, "station: stopping the lot: 3 parts in a "
				"row in the error bin (--max-errors 3); last: lane_ber"));
	/* Dies failing the optical screen never reach the BERT: only count
	 * the BER-tested ones, which must all be errors. */
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' "
				 "AND soft_bin = 99 AND hard_bin = 9 AND fail_reason "
				 "LIKE 'lane_ber%%%s%%'", bert), 3);
	CU_ASSERT_EQUAL(prober_bin(pr, 5, 1), 9);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = 'error'"), 1);
	tu_vstation_stop(&vs);
}

/* SIGINT or SIGTERM while a die is under test: exit 130, session aborted,
 * no partial die, and cleanup observable on the instruments: BERT outputs
 * off (the cleanup step), the wafer unloaded (the abort path). */
static void signal_during_die(int sig, const char *tag)
{
	char cfg[700], db[700], reply[256], cmd[32];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db,
			"--lot", (char *)tag, "--wafers", "1", "--quiet", NULL};
	/* A slow BERT keeps each die in flight for about a second. */
	const char *args[] = {WAFER_ARGS, "--latency", "bert=15ms", NULL};
	tu_vstation vs;
	long long runs = 0;
	int status = 0, outputs_on = 0;
	pid_t pid, done = 0;

	snprintf(cfg, sizeof(cfg), "%s/sig-%s.yaml", dir, tag);
	snprintf(db, sizeof(db), "%s/sig-%s.db", dir, tag);
	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, args, &vs), 0);
	write_config(cfg, &vs, 3000, NULL);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(STATION, argv);
		_exit(127);
	}
	CU_ASSERT_TRUE_FATAL(pid > 0);
	for (int i = 0; i < 3000 && runs < 2; i++) {
		struct stat st;

		usleep(10000);
		sql_quiet = 1;
		if (stat(db, &st) == 0)
			runs = q_ll(db, "SELECT count(*) FROM run");
		sql_quiet = 0;
	}
	/* Half-way into the third die: its BER lanes are running. */
	usleep(500000);
	kill(pid, sig);
	for (int i = 0; i < 3000 && done != pid; i++) {
		done = waitpid(pid, &status, WNOHANG);
		if (done != pid)
			usleep(10000);
	}
	if (done != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130);
	runs = q_ll(db, "SELECT count(*) FROM run");
	CU_ASSERT_TRUE(runs >= 2 && runs < 32);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = 'aborted'"), 1);
	/* No partial die: each committed run has every step it ran, and the
	 * measurements its step results count. */
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run r WHERE NOT EXISTS "
				 "(SELECT 1 FROM step_result s WHERE s.run_id = r.id)"), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM measurement"),
			q_ll(db, "SELECT sum(n_values) FROM step_result"));
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status NOT IN "
				 "('pass', 'fail')"), 0);
	for (int lane = 1; lane <= 16; lane++) {
		snprintf(cmd, sizeof(cmd), "OUTP%d?", lane);
		if (sim_query(tu_vstation_uri(&vs, "bert"), cmd, reply, sizeof(reply)) ||
		    atoi(reply) != 0)
			outputs_on++;
	}
	CU_ASSERT_EQUAL(outputs_on, 0);
	/* Wafer unloaded: the prober has no current die (error 2). */
	CU_ASSERT_EQUAL(sim_query(tu_vstation_uri(&vs, "prober"),
				  "map:die:get_current_index", reply, sizeof(reply)), 0);
	CU_ASSERT_EQUAL(atoi(reply) & 1023, 2);
	tu_vstation_stop(&vs);
}

static void test_sigint_during_die(void)
{
	signal_during_die(SIGINT, "SIGINT");
}

static void test_sigterm_during_die(void)
{
	signal_during_die(SIGTERM, "SIGTERM");
}

/* ---- a scripted prober: positions the simulator never reports ------------ */

typedef struct fake_prober {
	const char *route_die;   /* what step_first/step_next answer */
	const char *step_to_die; /* what step_die answers */
} fake_prober;

static int fake_prober_reply(void *state, const char *line, char *reply,
			     size_t cap)
{
	const fake_prober *fp = state;

	if (strcmp(line, "*RCS 1") == 0)
		return PEER_NONE;
	if (strcmp(line, "*IDN?") == 0)
		snprintf(reply, cap, "0,0,MPI Corporation,SENTIO,FAKE1,1.0");
	else if (strncmp(line, "loader:load_wafer", 17) == 0)
		snprintf(reply, cap, "0,0,FAKE-W01");
	else if (strcmp(line, "map:get_num_dies") == 0)
		snprintf(reply, cap, "0,0,5");
	else if (strcmp(line, "map:step_first_die") == 0 ||
		 strcmp(line, "map:step_next_die") == 0)
		snprintf(reply, cap, "0,0,%s", fp->route_die);
	else if (strncmp(line, "map:step_die", 12) == 0)
		snprintf(reply, cap, "0,0,%s", fp->step_to_die);
	else if (strcmp(line, "vis:align_wafer") == 0 ||
		 strcmp(line, "move_chuck_contact") == 0 ||
		 strcmp(line, "move_chuck_separation") == 0 ||
		 strncmp(line, "map:bins:set_bin", 16) == 0 ||
		 strcmp(line, "loader:unload_wafer") == 0)
		snprintf(reply, cap, "0,0,");
	else
		snprintf(reply, cap, "1,0,unknown command");
	return PEER_REPLY;
}

/* The prober names a die its route already gave (a shifted map, a lost
 * position): the station stops the lot before testing it twice. Asked for
 * one die it reaches another: a prober error, the lot stops. */
static void test_unexpected_die_position_stops_lot(void)
{
	fake_prober fp = {"2,3,0", "5,5,0"};
	char cfg[700], db[700], db2[700], uri[160], want[600];
	char *argv[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db,
			"--lot", "POS", "--wafers", "1", "--quiet", NULL};
	char *argv2[] = {STATION, "run", TERAPHY_SEQ, "--config", cfg, "--db", db2,
			 "--lot", "POS2", "--dies", "2,3", "--quiet", NULL};
	const char *args[] = {WAFER_ARGS, NULL};
	tu_vstation vs;
	pid_t peer;

	snprintf(cfg, sizeof(cfg), "%s/pos.yaml", dir);
	snprintf(db, sizeof(db), "%s/pos.db", dir);
	snprintf(db2, sizeof(db2), "%s/pos2.db", dir);
	peer = drv_peer_tcp(fake_prober_reply, &fp, uri, sizeof(uri));
	CU_ASSERT_TRUE_FATAL(peer > 0);
	if (tu_vstation_start(dir, args, &vs) != 0) {
		drv_peer_stop(peer);
		CU_FAIL_FATAL("kgd-vstation did not start");
	}
	write_config(cfg, &vs, 3000, uri);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	snprintf(want, sizeof(want), "station: prober (%s): unexpected die position: "
		 "the route reached die (2,3) of wafer FAKE-W01 a second time; "
		 "stopping, the probe position is not trustworthy\n", uri);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM session WHERE status = 'error'"), 1);

	CU_ASSERT_EQUAL(tu_run(argv2, out, sizeof(out), errbuf, sizeof(errbuf), 60), 1);
	tu_vstation_stop(&vs);
	drv_peer_stop(peer);
	CU_ASSERT_TRUE(contains(errbuf, "'map:step_die 2,3,0': prober went to 5,5"));
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM run"), 0);
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM session WHERE status = 'error'"), 1);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("faults", suite_init, suite_clean);

	CU_add_test(s, "pm disconnect: error part, reopened, lot goes on",
		    test_pm_disconnect_is_reopened);
	CU_add_test(s, "pm garbage: error parts, lot stops at --max-errors",
		    test_pm_garbage_stops_lot);
	CU_add_test(s, "pm overrange with --max-errors 0: lot goes on",
		    test_pm_overrange_continues);
	CU_add_test(s, "pm silent: timeouts, --max-errors 2 stops",
		    test_pm_no_reply_stops_after_max_errors);
	CU_add_test(s, "pm SCPI error: error part", test_pm_scpi_error_is_error_bin);
	CU_add_test(s, "laser adapter refusal and garbage", test_laser_faults);
	CU_add_test(s, "contact refused: retried, then error die",
		    test_contact_fail_retried_then_error_bin);
	CU_add_test(s, "prober disconnect stops the lot",
		    test_prober_disconnect_stops_lot);
	CU_add_test(s, "BERT garbage: error dies, never a pass",
		    test_bert_garbage_error_dies);
	CU_add_test(s, "SIGINT during a die", test_sigint_during_die);
	CU_add_test(s, "SIGTERM during a die", test_sigterm_during_die);
	CU_add_test(s, "unexpected die position stops the lot",
		    test_unexpected_die_position_stops_lot);
	return 0;
}
