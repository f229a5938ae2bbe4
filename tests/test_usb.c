/*
 * tests/test_usb.c - integration: the station's real libusb USBTMC path
 * (instruments/xport_usbtmc.c) end to end, against kgd-vstation --usb: its
 * pm100 as an emulated Thorlabs PM100D on a umockdev testbed, every URB of
 * libusb answered by the virtual station's usbdevfs handler (usbfs.c) and
 * USBTMC function (usbtmc_dev.c). The `station` binary runs under
 * umockdev's preload library with the testbed's UMOCKDEV_DIR, as a user
 * runs it with `kgd-vstation --usb -- station ...`.
 *
 * What is proved: `station scan` lists the device with its usbtmc:// URI
 * and serial (and names the serial enumeration that failed); a
 * fiber-attach lot measuring its launch power with the PM100 gets the
 * model's ground-truth bins over usbtmc://1313:8078/SERIAL and over
 * usbtmc://1313:8078 (replies in 5-byte Bulk-IN transfers there); and each
 * USBTMC fault ends in a clear error, the part in the error bin, and the
 * recovery the spec asks for (the device's log says which requests came).
 * Every simulator and station started here is reaped before its test ends.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kgd/scpi.h"
#include "model.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define SEQ KGD_SOURCE_DIR "/tests/data/seq/fiber-attach-pm100.yaml"
#define USB_URI "usbtmc://1313:8078/P0000001"
#define TIME_SCALE "0.0002"
#define MARGIN_DB 0.2

static char dir[512];
static char out[65536], errbuf[65536];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("usb"));
	return 0;
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static int contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "\n  missing '%s' in:\n%s", needle, hay);
		return 0;
	}
	return 1;
}

/* kgd-vstation --usb (fiber) with extra args; the testbed's directory from
 * the config's "# umockdev: " line into umockdev_dir. */
static int usb_start(tu_vstation *vs, const char *const *extra, char *umockdev_dir,
		     size_t cap)
{
	const char *args[32] = {"--product", "fiber", "--usb", "--time-scale", TIME_SCALE};
	int n = 5;
	char *text, *p;

	for (; extra && *extra && n < 30; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	if (tu_vstation_start(dir, args, vs))
		return -1;
	text = tu_slurp(vs->config, NULL);
	p = text ? strstr(text, "# umockdev: ") : NULL;
	if (!p || sscanf(p + 12, "%511s", umockdev_dir) != 1 || strlen(umockdev_dir) >= cap) {
		free(text);
		tu_vstation_stop(vs);
		return -1;
	}
	free(text);
	return 0;
}

/* Run argv under the testbed: stdout/stderr into out/errbuf. Exit status,
 * or -1 when it had to be killed. */
static int run_usb(const char *umockdev_dir, char *const argv[], int timeout_s)
{
	static char env_dir[600], env_asan[600];
	const char *asan = getenv("ASAN_OPTIONS");
	const char *env[] = {"LD_PRELOAD=libumockdev-preload.so.0", env_dir, env_asan, NULL};
	char out_path[700], err_path[700], *o, *e;
	int pid, rc;

	snprintf(env_dir, sizeof(env_dir), "UMOCKDEV_DIR=%s", umockdev_dir);
	/* The preload comes before ASan's runtime in the sanitized build. */
	snprintf(env_asan, sizeof(env_asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 asan ? asan : "", asan && *asan ? ":" : "");
	snprintf(out_path, sizeof(out_path), "%s/run.out", dir);
	snprintf(err_path, sizeof(err_path), "%s/run.err", dir);
	pid = tu_spawn(argv, env, out_path, err_path);
	if (pid < 0)
		return -1;
	rc = tu_wait(pid, timeout_s);
	o = tu_slurp(out_path, NULL);
	e = tu_slurp(err_path, NULL);
	snprintf(out, sizeof(out), "%s", o ? o : "");
	snprintf(errbuf, sizeof(errbuf), "%s", e ? e : "");
	free(o);
	free(e);
	return rc;
}

static long long q_ll(const char *db, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static long long q_ll(const char *db, const char *fmt, ...)
{
	char sql[2048];
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);   /* allocated even when the open fails */
		return -3;
	}
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

/* ---- station scan ------------------------------------------------------- */

/* `kgd-vstation --usb -- station scan`: the PM100D with its URI and serial,
 * the failed serial enumeration named, exit 0 (the bug: exit 1 and
 * nothing listed). */
static void test_scan_lists_usbtmc(void)
{
	char cfg[700];
	char *argv[] = {TU_VSTATION_BIN, "--product", "fiber", "--usb", "--config-out", cfg,
			"--lifetime-s", "30", "--", STATION, "scan", NULL};

	snprintf(cfg, sizeof(cfg), "%s/scan.yaml", dir);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30), 0);
	CU_ASSERT_TRUE(contains(out, "usbtmc  " USB_URI));
	CU_ASSERT_TRUE(contains(out, "1313:8078 PM100D serial P0000001\n"));
	CU_ASSERT_TRUE(contains(errbuf, "station: scan: serial: cannot list serial ports"));
	/* The command's status is kgd-vstation's: a failing one fails it. */
	argv[10] = "--no-such-option";
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30), 2);
}

/* ---- a lot over USB against the ground truth ---------------------------- */

/* One `station run --serial` per unit, each unit put into the fixture first
 * over the test's own link to the pm; config is the station config to use,
 * seq the sequence; udir NULL: not under a testbed. */
static int run_lot_seq(const tu_vstation *vs, const char *udir, const char *config,
		       const char *seq, const sim_model *m, const char *db)
{
	xport *hands = NULL;
	kgd_err err;
	int failures = 0;

	if (xport_open(tu_vstation_uri(vs, "pm"), 2000, &hands, &err)) {
		fprintf(stderr, "\n  operator link: %s", err.msg);
		return -1;
	}
	for (int u = 0; u < m->p.units; u++) {
		char serial[64];
		char *argv[] = {STATION, "run", (char *)seq, "--config", (char *)config, "--db",
				(char *)db, "--lot", (char *)m->p.lot, "--serial", serial,
				"--quiet", NULL};
		int rc;

		sim_unit_serial(m, u, serial, sizeof(serial));
		if (scpi_command(hands, &err, ":SIMulate:DUT %d", u)) {
			failures++;
			continue;
		}
		rc = udir ? run_usb(udir, argv, 60)
			  : tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
		if (rc != 0) {
			fprintf(stderr, "\n  %s: station run exited %d: %s", serial, rc, errbuf);
			failures++;
		}
	}
	xport_close(hands);
	return failures;
}

static int run_lot(const tu_vstation *vs, const char *udir, const char *config,
		   const sim_model *m, const char *db)
{
	return run_lot_seq(vs, udir, config, SEQ, m, db);
}

/* Every unit's one run has the truth's status and bin; the number of
 * passing units into *pass. Mismatches, or -1. */
static int compare_with_truth(const char *db, const sim_model *m, int *pass)
{
	sim_limits l;
	int bad = 0;

	sim_limits_defaults(&l);   /* coupling loss <= 2.5 dB, as the sequence */
	*pass = 0;
	for (int u = 0; u < m->p.units; u++) {
		char serial[64];
		sim_truth t;
		long long bin;

		sim_unit_serial(m, u, serial, sizeof(serial));
		if (sim_truth_unit(m, &l, u, &t))
			return -1;
		if (fabs(t.max_loss_db - l.fiber_loss_max_db) < MARGIN_DB)
			return -1;   /* a lot the truth cannot speak for */
		*pass += t.expected_bin == 1;
		bin = q_ll(db, "SELECT r.soft_bin FROM run r JOIN part p ON r.part_id = "
			   "p.id WHERE p.serial = '%s' AND r.status = '%s'", serial,
			   t.expected_bin == 1 ? "pass" : "fail");
		if (bin != t.expected_bin) {
			fprintf(stderr, "\n  %s: bin %lld, truth %d", serial, bin, t.expected_bin);
			bad++;
		}
	}
	return bad;
}

static void check_usb_lot(const char *const *extra, int by_serial, const char *db_name)
{
	char udir[512], db[700], cfg[700];
	sim_model_params p;
	sim_model m;
	tu_vstation vs;
	int pass = -1;

	sim_model_defaults(&p);
	sim_product_parse("fiber", &p.product);
	snprintf(p.lot, sizeof(p.lot), "FA1");
	p.seed = 4;
	p.units = 8;    /* unit 5 is a misaligned fiber */
	CU_ASSERT_EQUAL_FATAL(sim_model_init(&m, &p), 0);
	snprintf(db, sizeof(db), "%s/%s", dir, db_name);
	const char *args[16] = {"--lot", "FA1", "--seed", "4", "--units", "8"};
	int n = 6;

	for (; extra && *extra && n < 14; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	CU_ASSERT_EQUAL_FATAL(usb_start(&vs, args, udir, sizeof(udir)), 0);
	CU_ASSERT_STRING_EQUAL(tu_vstation_uri(&vs, "pm100"), USB_URI);
	snprintf(cfg, sizeof(cfg), "%s", vs.config);
	if (!by_serial) {
		/* The same station config with the pm100 by VID:PID alone. */
		char *text = tu_slurp(vs.config, NULL), *at;
		FILE *f;

		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		at = strstr(text, USB_URI);
		CU_ASSERT_PTR_NOT_NULL_FATAL(at);
		memmove(at + 18, at + strlen(USB_URI), strlen(at + strlen(USB_URI)) + 1);
		CU_ASSERT_TRUE(contains(text, "uri: \"usbtmc://1313:8078\""));
		snprintf(cfg, sizeof(cfg), "%s/vidpid.yaml", dir);
		f = fopen(cfg, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs(text, f);
		fclose(f);
		free(text);
	}
	CU_ASSERT_EQUAL(run_lot(&vs, udir, cfg, &m, db), 0);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 8);
	CU_ASSERT_EQUAL(compare_with_truth(db, &m, &pass), 0);
	CU_ASSERT_TRUE(pass > 0 && pass < 8);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error'"), 0);
	/* The PM100 was in every part: one launch power per run. */
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM measurement WHERE step = "
			     "'launch_power' AND pass = 1"), 8);
}

static void test_lot_by_serial(void)
{
	check_usb_lot(NULL, 1, "by-serial.db");
}

/* By VID:PID, and every reply in Bulk-IN transfers of at most 5 bytes:
 * REQUEST_DEV_DEP_MSG_IN again and again until EOM. */
static void test_lot_by_vid_pid_split_replies(void)
{
	const char *const extra[] = {"--usb-max-transfer", "5", NULL};

	check_usb_lot(extra, 0, "by-vidpid.db");
}

/* ---- serial through libserialport ------------------------------------- */

/* `kgd-vstation --product elsfp --usb -- station scan`: libserialport lists
 * the adapter with its USB VID, PID and serial; both enumerations ran. */
static void test_scan_lists_usb_serial(void)
{
	char cfg[700];
	char *argv[] = {TU_VSTATION_BIN, "--product", "elsfp", "--usb", "--config-out", cfg,
			"--lifetime-s", "30", "--", STATION, "scan", NULL};

	snprintf(cfg, sizeof(cfg), "%s/scan-serial.yaml", dir);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30), 0);
	CU_ASSERT_TRUE(contains(out, "serial  serial:///dev/ttyUSB0?baud=9600"));
	CU_ASSERT_TRUE(contains(out, "0403:6001 FT232R USB UART - ELSFP0001 serial ELSFP0001\n"));
	CU_ASSERT_STRING_EQUAL(errbuf, "");
}

/* Each run's part, status and bins, one line per run in id order. */
static void db_verdicts(const char *db, char *buf, size_t cap)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t n = 0;

	buf[0] = '\0';
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return;
	}
	if (sqlite3_prepare_v2(h, "SELECT p.serial, r.status, r.soft_bin, r.hard_bin FROM "
			       "run r JOIN part p ON r.part_id = p.id ORDER BY r.id", -1,
			       &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s %s %d %d\n",
					      (const char *)sqlite3_column_text(st, 0),
					      (const char *)sqlite3_column_text(st, 1),
					      sqlite3_column_int(st, 2), sqlite3_column_int(st, 3));
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
}

/* The same ELSFP lot with the laser on the simulator's pty (termios) and
 * behind the emulated USB-serial adapter (libserialport: sp_list_ports,
 * sp_get_port_by_name, sp_open with its modem-line ioctls): the same
 * verdict for every part, good and bad ones among them. */
static void test_elsfp_lot_over_usb_serial(void)
{
	static char pty_rows[8192], usb_rows[8192];
	const char *base[] = {"--product", "elsfp", "--lot", "EL1", "--seed", "3",
			      "--units", "10", "--time-scale", TIME_SCALE, NULL};
	const char *usb_args[] = {"--product", "elsfp", "--lot", "EL1", "--seed", "3",
				  "--units", "10", "--usb-log", NULL, NULL};
	char udir[512], db1[700], db2[700], log_path[700], *log;
	const char *seq = KGD_SOURCE_DIR "/sequences/elsfp-module.yaml";
	sim_model_params p;
	sim_model m;
	tu_vstation vs;

	sim_model_defaults(&p);
	sim_product_parse("elsfp", &p.product);
	snprintf(p.lot, sizeof(p.lot), "EL1");
	p.seed = 3;
	p.units = 10;
	p.lasers = 8;
	CU_ASSERT_EQUAL_FATAL(sim_model_init(&m, &p), 0);
	snprintf(db1, sizeof(db1), "%s/elsfp-pty.db", dir);
	snprintf(db2, sizeof(db2), "%s/elsfp-usb.db", dir);
	snprintf(log_path, sizeof(log_path), "%s/elsfp-usb.log", dir);
	usb_args[9] = log_path;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, base, &vs), 0);
	CU_ASSERT_TRUE(strncmp(tu_vstation_uri(&vs, "laser"), "serial:///dev/pts/", 18) == 0);
	CU_ASSERT_EQUAL(run_lot_seq(&vs, NULL, vs.config, seq, &m, db1), 0);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);

	CU_ASSERT_EQUAL_FATAL(usb_start(&vs, usb_args, udir, sizeof(udir)), 0);
	CU_ASSERT_STRING_EQUAL(tu_vstation_uri(&vs, "laser"),
			       "serial:///dev/ttyUSB0?baud=115200");
	CU_ASSERT_EQUAL(run_lot_seq(&vs, udir, vs.config, seq, &m, db2), 0);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);

	db_verdicts(db1, pty_rows, sizeof(pty_rows));
	db_verdicts(db2, usb_rows, sizeof(usb_rows));
	CU_ASSERT_STRING_EQUAL(usb_rows, pty_rows);
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM run"), 10);
	CU_ASSERT_TRUE(q_ll(db2, "SELECT count(*) FROM run WHERE status = 'pass'") > 0);
	CU_ASSERT_TRUE(q_ll(db2, "SELECT count(*) FROM run WHERE status = 'fail'") > 0);
	CU_ASSERT_EQUAL(q_ll(db2, "SELECT count(*) FROM run WHERE status = 'error'"), 0);
	/* sp_open's modem lines: read, then DTR and RTS raised - the
	 * termios path never asks for them, so libserialport opened it. */
	log = tu_slurp(log_path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_TRUE(contains(log, "TIOCMGET 0x166\nTIOCMBIS 0x004\nTIOCMBIS 0x002\n"));
	free(log);
}

/* ---- faults ------------------------------------------------------------- */

/* A lot of 3 parts on a station whose PM100 has `fault`; its exit status.
 * The device's log of class requests into log (cap bytes). */
static int fault_lot(const char *const *fault, const char *db, const char *max_errors,
		     char *log, size_t cap)
{
	char udir[512], log_path[700], *text;
	const char *args[16] = {"--usb-log", log_path};
	char *argv[] = {STATION, "run", SEQ, "--config", NULL, "--db", (char *)db,
			"--lot", "FLT", "--units", "3", "--max-errors", (char *)max_errors,
			NULL};
	tu_vstation vs;
	int n = 2, rc;

	snprintf(log_path, sizeof(log_path), "%s.log", db);
	for (; *fault && n < 14; fault++)
		args[n++] = *fault;
	args[n] = NULL;
	if (usb_start(&vs, args, udir, sizeof(udir)))
		return -100;
	argv[4] = vs.config;
	rc = run_usb(udir, argv, 60);
	if (tu_vstation_stop(&vs) != 0)
		rc = -101;
	text = tu_slurp(log_path, NULL);
	snprintf(log, cap, "%s", text ? text : "");
	free(text);
	return rc;
}

/* Exactly one part (the first) is an instrument error naming the PM100's
 * URI and why; the other two pass (the device recovered). */
static void check_one_error(const char *db, const char *why)
{
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run"), 3);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' AND "
			     "soft_bin = 99 AND hard_bin = 99 AND fail_reason LIKE "
			     "'%%" USB_URI "%%%s%%'", why), 1);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 2);
}

/* The device never answers (the pm100 sim goes silent): the Bulk-IN read
 * times out, and the host runs USBTMC's abort: INITIATE_ABORT_BULK_IN for
 * the request's bTag (SUCCESS: it was pending), CHECK_ABORT_BULK_IN_STATUS. */
static void test_bulk_in_timeout_aborts(void)
{
	const char *const fault[] = {"--fault", "pm100:no-reply:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/timeout.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "1", log, sizeof(log)), 1);
	CU_ASSERT_TRUE(contains(errbuf, "(--max-errors 1); last: launch_power "
				"{\"wavelength_nm\":1310}: " USB_URI ": '"));
	CU_ASSERT_TRUE(contains(errbuf, "': no reply within 2000 ms"));
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'error' AND "
			     "soft_bin = 99 AND fail_reason LIKE '%%no reply within%%'"), 1);
	CU_ASSERT_TRUE(contains(log, "INITIATE_ABORT_BULK_IN wValue="));
	CU_ASSERT_TRUE(contains(log, "-> 0x01\nCHECK_ABORT_BULK_IN_STATUS wValue=0 -> 0x01\n"));
}

/* Bulk-IN halts: the host clears it with CLEAR_HALT (the device logs it),
 * and the next parts pass on the same device. */
static void test_stall_cleared(void)
{
	const char *const fault[] = {"--usb-fault", "stall:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/stall.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "3", log, sizeof(log)), 0);
	check_one_error(db, "bulk-IN endpoint 0x81 stalled (cleared with CLEAR_HALT)");
	CU_ASSERT_TRUE(contains(log, "fault stall at command "));
	CU_ASSERT_TRUE(contains(log, "\nCLEAR_HALT ep=0x81\n"));
}

/* A reply with another request's bTag is refused, never taken as the
 * reply; the abort finds no transfer left to cancel (FAILED). */
static void test_btag_mismatch(void)
{
	const char *const fault[] = {"--usb-fault", "btag:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/btag.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "3", log, sizeof(log)), 0);
	check_one_error(db, "does not answer request");
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE fail_reason LIKE "
			     "'%%usbtmc: bulk-IN bTag %%(inverse 0x%%) does not answer "
			     "request %%'"), 1);
	/* The reply was complete: nothing left to abort. */
	CU_ASSERT_TRUE(contains(log, "fault btag at command "));
	CU_ASSERT_TRUE(contains(log, "\nINITIATE_ABORT_BULK_IN wValue="));
	CU_ASSERT_TRUE(contains(log, " -> 0x80\n"));
}

/* The transfer ends (short packet) before its TransferSize. */
static void test_short_packet(void)
{
	const char *const fault[] = {"--usb-fault", "short:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/short.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "3", log, sizeof(log)), 0);
	check_one_error(db, "usbtmc: transfer size ");
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE fail_reason LIKE "
			     "'%%larger than received %%'"), 1);
}

/* A zero-length packet where the reply's header should be. */
static void test_zero_length_packet(void)
{
	const char *const fault[] = {"--usb-fault", "zlp:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/zlp.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "3", log, sizeof(log)), 0);
	check_one_error(db, "usbtmc: short bulk-IN header (0 of 12 bytes)");
}

/* Unplugged mid-transfer: the waiting transfer ends with ENODEV, the part
 * is an error, the station reopens the PM100 (re-plugged) and goes on. */
static void test_unplug_reopens(void)
{
	const char *const fault[] = {"--usb-fault", "unplug:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/unplug.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "3", log, sizeof(log)), 0);
	check_one_error(db, "device unplugged");
	CU_ASSERT_TRUE(contains(out, "role 'pm100' (" USB_URI "): connection lost "
				"(disconnected); reopening"));
}

/* The station's write is never accepted (the device NAKs its Bulk-OUT):
 * the write times out and the host aborts it - INITIATE_ABORT_BULK_OUT for
 * that bTag (SUCCESS), CHECK_ABORT_BULK_OUT_STATUS, CLEAR_HALT on Bulk-OUT
 * - and the next parts pass. */
static void test_bulk_out_timeout_aborts(void)
{
	const char *const fault[] = {"--usb-fault", "nak-out:after=8", NULL};
	char db[700], log[4096];

	snprintf(db, sizeof(db), "%s/nakout.db", dir);
	CU_ASSERT_EQUAL(fault_lot(fault, db, "3", log, sizeof(log)), 0);
	check_one_error(db, "device did not accept command within 2000 ms");
	CU_ASSERT_TRUE(contains(log, "fault nak-out at command "));
	CU_ASSERT_TRUE(contains(log, "\nINITIATE_ABORT_BULK_OUT wValue="));
	CU_ASSERT_TRUE(contains(log, "-> 0x01\nCHECK_ABORT_BULK_OUT_STATUS wValue=0 -> 0x01\n"
				"CLEAR_HALT ep=0x02\n"));
}

/* A device clear through the transport API (xport_clear): INITIATE_CLEAR
 * and CHECK_CLEAR_STATUS both SUCCESS, Bulk-OUT cleared, and the
 * instrument answers again. */
static void test_device_clear(void)
{
	char udir[512], o1[700], log_path[700], *text, *log;
	char *hold[] = {KGD_BIN_DIR "/usb_hold", USB_URI, "1", "clear", NULL};
	const char *args[] = {"--usb-log", log_path, NULL};
	static char env_dir[600], env_asan[600];
	const char *asan = getenv("ASAN_OPTIONS");
	const char *env[] = {"LD_PRELOAD=libumockdev-preload.so.0", env_dir, env_asan, NULL};
	tu_vstation vs;
	int pid;

	snprintf(o1, sizeof(o1), "%s/clear.out", dir);
	snprintf(log_path, sizeof(log_path), "%s/clear.log", dir);
	CU_ASSERT_EQUAL_FATAL(usb_start(&vs, args, udir, sizeof(udir)), 0);
	snprintf(env_dir, sizeof(env_dir), "UMOCKDEV_DIR=%s", udir);
	snprintf(env_asan, sizeof(env_asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 asan ? asan : "", asan && *asan ? ":" : "");
	pid = tu_spawn(hold, env, o1, NULL);
	CU_ASSERT_TRUE_FATAL(pid > 0);
	CU_ASSERT_EQUAL(tu_wait(pid, 30), 0);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);
	text = tu_slurp(o1, NULL);
	log = tu_slurp(log_path, NULL);
	CU_ASSERT_TRUE(text && contains(text, "cleared Thorlabs,PM100D,P0000001"));
	CU_ASSERT_TRUE(log && contains(log, "INITIATE_CLEAR wValue=0 -> 0x01\n"
				       "CHECK_CLEAR_STATUS wValue=0 -> 0x01\n"
				       "CLEAR_HALT ep=0x02\n"));
	free(text);
	free(log);
}

/* Another process (usb_hold, through the transport API) has the PM100
 * open: the station stops before the lot with a clear error naming the
 * URI; once it lets go, the same station runs. */
static void test_second_process_busy(void)
{
	char udir[512], db[700], o1[700], *text = NULL;
	char *hold[] = {KGD_BIN_DIR "/usb_hold", USB_URI, "30", NULL};
	char *argv[] = {STATION, "run", SEQ, "--config", NULL, "--db", db, "--lot", "BUSY",
			"--units", "1", NULL};
	static char env_dir[600], env_asan[600];
	const char *asan = getenv("ASAN_OPTIONS");
	const char *env[] = {"LD_PRELOAD=libumockdev-preload.so.0", env_dir, env_asan, NULL};
	tu_vstation vs;
	int pid, rc;

	snprintf(db, sizeof(db), "%s/busy.db", dir);
	snprintf(o1, sizeof(o1), "%s/hold.out", dir);
	CU_ASSERT_EQUAL_FATAL(usb_start(&vs, NULL, udir, sizeof(udir)), 0);
	argv[4] = vs.config;
	snprintf(env_dir, sizeof(env_dir), "UMOCKDEV_DIR=%s", udir);
	snprintf(env_asan, sizeof(env_asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 asan ? asan : "", asan && *asan ? ":" : "");
	pid = tu_spawn(hold, env, o1, NULL);
	CU_ASSERT_TRUE_FATAL(pid > 0);
	for (int i = 0; i < 500 && !(text && strstr(text, "open ")); i++) {
		free(text);
		usleep(20000);
		text = tu_slurp(o1, NULL);
	}
	CU_ASSERT_TRUE(text && contains(text, "open Thorlabs,PM100D,P0000001"));
	free(text);
	rc = run_usb(udir, argv, 30);
	CU_ASSERT_NOT_EQUAL(rc, 0);
	CU_ASSERT_TRUE(contains(errbuf, USB_URI ": cannot claim interface 0: Resource busy "
				"(another process has the instrument open)"));
	CU_ASSERT_TRUE(q_ll(db, "SELECT count(*) FROM run") <= 0);  /* no part run */
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(tu_wait(pid, 10), 0);
	CU_ASSERT_EQUAL(run_usb(udir, argv, 30), 0);
	CU_ASSERT_EQUAL(q_ll(db, "SELECT count(*) FROM run WHERE status = 'pass'"), 1);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("usb", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "station scan lists the USBTMC PM100D", test_scan_lists_usbtmc);
	CU_add_test(s, "fiber lot over usbtmc://VID:PID/SERIAL = truth", test_lot_by_serial);
	CU_add_test(s, "fiber lot over usbtmc://VID:PID, split replies = truth",
		    test_lot_by_vid_pid_split_replies);
	CU_add_test(s, "station scan lists the USB-serial adapter", test_scan_lists_usb_serial);
	CU_add_test(s, "ELSFP lot over libserialport = over the pty",
		    test_elsfp_lot_over_usb_serial);
	CU_add_test(s, "Bulk-IN timeout: abort sequence", test_bulk_in_timeout_aborts);
	CU_add_test(s, "Bulk-OUT timeout: abort sequence", test_bulk_out_timeout_aborts);
	CU_add_test(s, "device clear", test_device_clear);
	CU_add_test(s, "stalled Bulk-IN: CLEAR_HALT", test_stall_cleared);
	CU_add_test(s, "bTag mismatch", test_btag_mismatch);
	CU_add_test(s, "short packet", test_short_packet);
	CU_add_test(s, "zero-length packet", test_zero_length_packet);
	CU_add_test(s, "unplug mid-transfer: reopened", test_unplug_reopens);
	CU_add_test(s, "second process: interface busy", test_second_process_busy);
	return 0;
}
