/*
 * tests/test_plugin_trust.c - which code the station agrees to run
 * (issue 19, item 7), through the real `station` binary: a driver name is
 * never a path; a plugin in a folder or file others may write, or owned by
 * someone else, is refused before dlopen - so its constructor never runs;
 * the station's own plugins come first, so neither $KGD_PLUGIN_PATH nor a
 * config's plugin_path can shadow one; a file must carry its driver's
 * name; and `station check` dlopens a plugin only to confirm a class.
 * And what it ran is on record: each session stores per role the driver,
 * its ABI, the plugin file's SHA-256 and the instrument's identity, and
 * `station report` writes them to instruments.csv.
 *
 * The witness is abi-ctor-marker.so (tests/plugins): its constructor
 * creates the file $KGD_TEST_CTOR_MARKER names, so "the marker exists"
 * means "the station ran the plugin's code".
 */
#include <CUnit/CUnit.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/xport.h"
#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define MARKER_SO KGD_TEST_PLUGIN_DIR "/abi-ctor-marker.so"
#define GOOD_SO KGD_TEST_PLUGIN_DIR "/abi-good.so"
#define PM_SEQ KGD_SOURCE_DIR "/sequences/spine-power.yaml"

static char dir[512], id_seq[700], marker[700];
static char out[65536], errbuf[65536];

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Copy src to dst with mode. */
static void copy_file(const char *src, const char *dst, mode_t mode)
{
	size_t n = 0;
	char *bytes = tu_slurp(src, &n);
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	f = fopen(dst, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(bytes, 1, n, f), n);
	fclose(f);
	free(bytes);
	CU_ASSERT_EQUAL(chmod(dst, mode), 0);
}

/* A folder under the scratch dir with mode (umask does not apply). */
static void make_dir(char *path, size_t cap, const char *name, mode_t mode)
{
	snprintf(path, cap, "%s/%s", dir, name);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	CU_ASSERT_EQUAL(chmod(path, mode), 0);
}

/* A station config with one role `role` of driver `driver`, and
 * plugin_path [plugdir] when plugdir is given. */
static void write_config(const char *path, const char *role,
			 const char *driver, const char *plugdir)
{
	char text[2048];

	snprintf(text, sizeof(text), "station: trust\n%s%s%sinstruments:\n"
		 "  %s: {driver: \"%s\", uri: \"tcp://127.0.0.1:1\"}\n",
		 plugdir ? "plugin_path: [\"" : "", plugdir ? plugdir : "",
		 plugdir ? "\"]\n" : "", role, driver);
	CU_ASSERT_EQUAL(write_text(path, text), 0);
}

/* Run the station with the marker armed (and KGD_PLUGIN_PATH = env_path
 * if given); returns its exit code. */
static int station(char **argv, const char *env_path)
{
	int rc;

	unlink(marker);
	setenv("KGD_TEST_CTOR_MARKER", marker, 1);
	if (env_path)
		setenv("KGD_PLUGIN_PATH", env_path, 1);
	out[0] = errbuf[0] = '\0';
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	unsetenv("KGD_PLUGIN_PATH");
	unsetenv("KGD_TEST_CTOR_MARKER");
	return rc;
}

static int check(const char *seq, const char *cfg, const char *env_path)
{
	char *argv[] = {STATION, "check", (char *)seq, "--config", (char *)cfg,
			NULL};

	return station(argv, env_path);
}

static void expect_in(const char *text, const char *what)
{
	if (!strstr(text, what))
		fprintf(stderr, "\n  wanted \"%s\" in:\n%s\n", what, text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, what));
}

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("trust"));
	snprintf(marker, sizeof(marker), "%s/ctor-ran", dir);
	snprintf(id_seq, sizeof(id_seq), "%s/identify.yaml", dir);
	/* One role that only identifies: no class to confirm. */
	return write_text(id_seq, "sequence: trust-check\nversion: 1\nprocess: unit\n"
		   "main:\n  - step: dut.identify\n    name: ident\n"
		   "    params: {glob: \"*\"}\n"
		   "bins:\n  1: {name: PASS, pass: true}\n");
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

/* driver: "../../x/evil" was followed out of the plugin folders and its
 * constructor ran under `station check`, which only validates. */
static void test_driver_path_never_loaded(void)
{
	char plug[700], cfg[700], driver[1024];
	size_t used = 0;

	make_dir(plug, sizeof(plug), "elsewhere", 0755);
	snprintf(driver, sizeof(driver), "%s/evil.so", plug);
	copy_file(MARKER_SO, driver, 0755);
	/* From the build's plugin folder up to / and down to the file. */
	driver[0] = '\0';
	for (const char *p = KGD_PLUGIN_BUILD_DIR; *p; p++)
		if (*p == '/')
			used += (size_t)snprintf(driver + used, sizeof(driver) - used,
						 "../");
	snprintf(driver + used, sizeof(driver) - used, "%s/evil", plug + 1);
	snprintf(cfg, sizeof(cfg), "%s/path.yaml", dir);
	write_config(cfg, "dut", driver, NULL);

	CU_ASSERT_EQUAL(check(id_seq, cfg, NULL), 1);
	expect_in(errbuf, "bad driver name '../");
	expect_in(errbuf, "(a plugin's name, not a path)");
	CU_ASSERT_FALSE(exists(marker));
}

/* A plugin folder anyone may write: refused, naming it, never loaded -
 * by check, by run and by `station plugins`. */
static void test_writable_folder_refused(void)
{
	char plug[700], so[800], cfg[700], db[700], want[2048];
	char *run[] = {STATION, "run", id_seq, "--config", cfg, "--db", db,
		       "--lot", "L", "--units", "1", NULL};
	char *plugins[] = {STATION, "plugins", "--config", cfg, NULL};

	make_dir(plug, sizeof(plug), "open-to-all", 0777);
	snprintf(so, sizeof(so), "%s/abi-ctor-marker.so", plug);
	copy_file(MARKER_SO, so, 0755);
	snprintf(cfg, sizeof(cfg), "%s/open.yaml", dir);
	snprintf(db, sizeof(db), "%s/never.db", dir);
	write_config(cfg, "dut", "abi-ctor-marker", plug);
	snprintf(want, sizeof(want), "%s: refused: folder %s is writable by its "
		 "group or others (mode 0777)", so, plug);

	CU_ASSERT_EQUAL(check(id_seq, cfg, NULL), 1);
	expect_in(errbuf, want);
	CU_ASSERT_FALSE(exists(marker));

	CU_ASSERT_EQUAL(station(run, NULL), 1);
	expect_in(errbuf, want);
	CU_ASSERT_FALSE(exists(marker));
	CU_ASSERT_FALSE(exists(db));

	station(plugins, NULL);
	expect_in(out, "REJECTED ");
	expect_in(out, want);
	CU_ASSERT_FALSE(exists(marker));

	/* $KGD_PLUGIN_PATH gets the same treatment. */
	write_config(cfg, "dut", "abi-ctor-marker", NULL);
	CU_ASSERT_EQUAL(check(id_seq, cfg, plug), 1);
	expect_in(errbuf, want);
	CU_ASSERT_FALSE(exists(marker));
}

/* A plugin file its group may write, one owned by someone else, and a
 * symlink from a sound folder into an open one. */
static void test_file_owner_and_mode(void)
{
	char plug[700], open_dir[700], so[800], target[800], cfg[700];
	char want[2048];

	make_dir(plug, sizeof(plug), "sound", 0755);
	snprintf(so, sizeof(so), "%s/abi-ctor-marker.so", plug);
	copy_file(MARKER_SO, so, 0775);
	snprintf(cfg, sizeof(cfg), "%s/file.yaml", dir);
	write_config(cfg, "dut", "abi-ctor-marker", plug);
	snprintf(want, sizeof(want), "%s: refused: the plugin file is writable "
		 "by its group or others (mode 0775)", so);
	CU_ASSERT_EQUAL(check(id_seq, cfg, NULL), 1);
	expect_in(errbuf, want);
	CU_ASSERT_FALSE(exists(marker));

	CU_ASSERT_EQUAL(chmod(so, 0755), 0);
	if (geteuid() == 0) {
		CU_ASSERT_EQUAL_FATAL(chown(so, 65534, 65534), 0);
		snprintf(want, sizeof(want), "%s: refused: the plugin file belongs "
			 "to uid 65534, neither root nor this user (uid 0)", so);
		CU_ASSERT_EQUAL(check(id_seq, cfg, NULL), 1);
		expect_in(errbuf, want);
		CU_ASSERT_FALSE(exists(marker));
		CU_ASSERT_EQUAL(chown(so, 0, 0), 0);
	} else {
		fprintf(stderr, "(not root: foreign owner not tested) ");
	}

	/* The link sits in a sound folder; what it points at does not. */
	unlink(so);
	make_dir(open_dir, sizeof(open_dir), "open-behind-link", 0777);
	snprintf(target, sizeof(target), "%s/abi-ctor-marker.so", open_dir);
	copy_file(MARKER_SO, target, 0755);
	CU_ASSERT_EQUAL_FATAL(symlink(target, so), 0);
	snprintf(want, sizeof(want), "%s: refused: folder %s is writable by its "
		 "group or others (mode 0777)", so, open_dir);
	CU_ASSERT_EQUAL(check(id_seq, cfg, NULL), 1);
	expect_in(errbuf, want);
	CU_ASSERT_FALSE(exists(marker));
}

/* In a sound folder (under /tmp: a sticky, world-writable folder above
 * is fine) the role that only identifies is checked without dlopen;
 * `station run` must load it. */
static void test_check_without_dlopen(void)
{
	char plug[700], so[800], cfg[700], db[700];
	char *run[] = {STATION, "run", id_seq, "--config", cfg, "--db", db,
		       "--lot", "L", "--units", "1", NULL};

	make_dir(plug, sizeof(plug), "trusted", 0755);
	snprintf(so, sizeof(so), "%s/abi-ctor-marker.so", plug);
	copy_file(MARKER_SO, so, 0755);
	snprintf(cfg, sizeof(cfg), "%s/trusted.yaml", dir);
	snprintf(db, sizeof(db), "%s/trusted.db", dir);
	write_config(cfg, "dut", "abi-ctor-marker", plug);

	CU_ASSERT_EQUAL(check(id_seq, cfg, NULL), 0);
	if (exists(marker))
		fprintf(stderr, "\n  station check ran the plugin's code\n");
	CU_ASSERT_FALSE(exists(marker));
	/* run loads it (and then fails to reach tcp://127.0.0.1:1). */
	CU_ASSERT_EQUAL(station(run, NULL), 1);
	CU_ASSERT_TRUE(exists(marker));
}

/* A file named for one driver that calls itself another is refused. */
static void test_descriptor_name_must_match(void)
{
	char plug[700], so[800], cfg[700], want[1000];

	make_dir(plug, sizeof(plug), "misnamed", 0755);
	snprintf(so, sizeof(so), "%s/fake-meter.so", plug);
	copy_file(GOOD_SO, so, 0755);
	snprintf(cfg, sizeof(cfg), "%s/misnamed.yaml", dir);
	write_config(cfg, "pm", "fake-meter", plug);
	snprintf(want, sizeof(want), "%s: refused: the plugin calls itself "
		 "'abi-good', not 'fake-meter'", so);
	CU_ASSERT_EQUAL(check(PM_SEQ, cfg, NULL), 1);
	expect_in(errbuf, want);
}

/* A keysight-n774x.so elsewhere (here a BERT calling itself abi-good)
 * never shadows the station's own: not through $KGD_PLUGIN_PATH, not
 * through plugin_path. */
static void test_own_plugins_first(void)
{
	char plug[700], so[800], cfg[700];

	make_dir(plug, sizeof(plug), "shadow", 0755);
	snprintf(so, sizeof(so), "%s/keysight-n774x.so", plug);
	copy_file(GOOD_SO, so, 0755);
	snprintf(cfg, sizeof(cfg), "%s/shadow.yaml", dir);

	write_config(cfg, "pm", "keysight-n774x", NULL);
	CU_ASSERT_EQUAL(check(PM_SEQ, cfg, plug), 0);
	if (errbuf[0])
		fprintf(stderr, "\n  %s\n", errbuf);
	write_config(cfg, "pm", "keysight-n774x", plug);
	CU_ASSERT_EQUAL(check(PM_SEQ, cfg, NULL), 0);
	if (errbuf[0])
		fprintf(stderr, "\n  %s\n", errbuf);
}

/* Hex SHA-256 of a file, computed here independently of the station. */
static void sha256_hex(const char *path, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	size_t n = 0;
	char *bytes = tu_slurp(path, &n);

	hex[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	CU_ASSERT_TRUE(EVP_Digest(bytes, n, md, &md_len, EVP_sha256(), NULL));
	for (unsigned i = 0; i < md_len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(bytes);
}

static void q_text(const char *path, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(buf, cap, "<no row>");
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* Every session records, per role, the driver, its ABI, the plugin file
 * and its SHA-256, and the instrument's identity; station report shows
 * them in instruments.csv. */
static void test_session_records_instruments(void)
{
	const char *const sim_args[] = {"--latency-ms", "0", NULL};
	char cfg[700], db[700], out_dir[700], csv_path[800], so[800];
	char idn[256], sha[65], got[512], row[2048];
	char *run[] = {STATION, "run", PM_SEQ, "--config", cfg, "--db", db,
		       "--lot", "TRACE", "--units", "2", "--quiet", NULL};
	char *report[] = {STATION, "report", "--db", db, "--out", out_dir,
			  "--quiet", NULL};
	tu_vstation vs = {0};
	kgd_err err = {0};
	xport *x = NULL;
	char *csv;

	CU_ASSERT_EQUAL_FATAL(tu_vstation_start(dir, sim_args, &vs), 0);
	/* The identity the instrument gives, asked here directly. */
	CU_ASSERT_EQUAL_FATAL(xport_open(tu_vstation_uri(&vs, "pm"), 5000, &x,
					 &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(x, idn, sizeof(idn), &err, "*IDN?"), KGD_OK);
	xport_close(x);
	snprintf(so, sizeof(so), "%s/keysight-n774x.so", KGD_PLUGIN_BUILD_DIR);
	sha256_hex(so, sha);

	snprintf(cfg, sizeof(cfg), "%s/trace.yaml", dir);
	snprintf(db, sizeof(db), "%s/trace.db", dir);
	snprintf(out_dir, sizeof(out_dir), "%s/trace-report", dir);
	{
		char text[1024];

		snprintf(text, sizeof(text), "station: trace-cell\ninstruments:\n"
			 "  pm: {driver: keysight-n774x, uri: \"%s\"}\n",
			 tu_vstation_uri(&vs, "pm"));
		CU_ASSERT_EQUAL(write_text(cfg, text), 0);
	}
	CU_ASSERT_EQUAL(station(run, NULL), 0);
	tu_vstation_stop(&vs);

	q_text(db, "SELECT role || '|' || driver || '|' || abi_major || '.' ||"
	       " abi_minor || '|' || plugin_file || '|' || plugin_sha256 ||"
	       " '|' || identity FROM session_instrument WHERE session_id = 1",
	       got, sizeof(got));
	snprintf(row, sizeof(row), "pm|keysight-n774x|%d.%d|%s|%s|%s",
		 DRV_ABI_MAJOR, DRV_ABI_MINOR, so, sha, idn);
	CU_ASSERT_STRING_EQUAL(got, row);

	CU_ASSERT_EQUAL(mkdir(out_dir, 0755), 0);
	CU_ASSERT_EQUAL(station(report, NULL), 0);
	snprintf(csv_path, sizeof(csv_path), "%s/instruments.csv", out_dir);
	csv = tu_slurp(csv_path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	expect_in(csv, "session,lot,station,host,started_at,ended_at,status,runs,"
		  "role,driver,abi,plugin_sha256,identity,plugin_file\n1,TRACE,"
		  "trace-cell,");
	snprintf(row, sizeof(row), ",complete,2,pm,keysight-n774x,%d.%d,%s,",
		 DRV_ABI_MAJOR, DRV_ABI_MINOR, sha);
	expect_in(csv, row);
	expect_in(csv, so);
	free(csv);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("plugin_trust", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "a driver name is never a path",
		    test_driver_path_never_loaded);
	CU_add_test(s, "a folder others may write is refused before dlopen",
		    test_writable_folder_refused);
	CU_add_test(s, "file mode, owner and symlinks", test_file_owner_and_mode);
	CU_add_test(s, "check confirms only classes by dlopen",
		    test_check_without_dlopen);
	CU_add_test(s, "descriptor name must equal the driver name",
		    test_descriptor_name_must_match);
	CU_add_test(s, "the station's own plugins first", test_own_plugins_first);
	CU_add_test(s, "each session records driver, ABI, SHA-256, identity",
		    test_session_records_instruments);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
