/*
 * tests/test_corpus.c - the bad-input corpus (tests/corpus/) against the
 * real `station` binary: every malformed sequence, limits file, station
 * config and command line gives its exact expected message and exit code.
 *
 * Layout: tests/corpus/{sequences,limits,configs}/NAME.yaml with NAME.expect
 * ("exit N", then the exact stderr, the file's path written @FILE@ and the
 * sequence it is checked with @SEQ@), and tests/corpus/cli.txt (format in
 * its header). Sequences run through `station check FILE`, limits files
 * through `station check SEQ --limits FILE`, configs through `station check
 * SEQ --config FILE`; each rejected file is also given to `station run`,
 * which must refuse it too, naming it.
 *
 * Invariant: nothing is written for bad input - every `station run` here
 * names a results file that must still not exist afterwards.
 */
#include <CUnit/CUnit.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define CORPUS KGD_SOURCE_DIR "/tests/corpus"
#define UNIT_SEQ KGD_SOURCE_DIR "/sequences/elsfp-module.yaml"
#define WAFER_SEQ KGD_SOURCE_DIR "/sequences/teraphy-kgd.yaml"

static char dir[512];
static char cfg[700], db[700], missing[700], empty[700], binary[700], folder[700];
static char out[65536], errbuf[65536];

static void write_bytes(const char *path, const char *bytes, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fwrite(bytes, 1, n, f);
		fclose(f);
	}
}

static int suite_init(void)
{
	static const char garbage[] = "\x7f" "ELF\x02\x01\x01\x00\xff\xfe\x00\x9c";
	static const char config[] =
		"station: corpus\ninstruments:\n"
		"  pm: {driver: keysight-n774x, uri: \"tcp://127.0.0.1:1\"}\n"
		"  laser: {driver: elsfp-cmis, uri: \"tcp://127.0.0.1:1\"}\n";

	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("corpus"));
	snprintf(cfg, sizeof(cfg), "%s/station.yaml", dir);
	snprintf(db, sizeof(db), "%s/never.db", dir);
	snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);
	snprintf(empty, sizeof(empty), "%s/empty.yaml", dir);
	snprintf(binary, sizeof(binary), "%s/binary.yaml", dir);
	snprintf(folder, sizeof(folder), "%s/folder.yaml", dir);
	write_bytes(cfg, config, sizeof(config) - 1);
	write_bytes(empty, "", 0);
	write_bytes(binary, garbage, sizeof(garbage) - 1);
	return mkdir(folder, 0755);
}

static int suite_clean(void)
{
	tu_rmtree(dir);
	return 0;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Replace every placeholder in text (in place, into a buffer of cap). */
static void expand(char *text, size_t cap, const char *file, const char *seq)
{
	const struct {
		const char *key, *value;
	} subst[] = {
		{"@FILE@", file}, {"@SEQ@", seq ? seq : UNIT_SEQ},
		{"@WSEQ@", WAFER_SEQ}, {"@CFG@", cfg}, {"@DB@", db},
		{"@DIR@", folder}, {"@MISSING@", missing}, {"@EMPTY@", empty},
		{"@BINARY@", binary}, {"@CORPUS@", CORPUS},
		{"@SRC@", KGD_SOURCE_DIR},
	};
	char *tmp = malloc(cap);

	if (!tmp)
		return;
	for (size_t i = 0; i < sizeof(subst) / sizeof(subst[0]); i++) {
		char *p;

		if (!subst[i].value)
			continue;
		while ((p = strstr(text, subst[i].key))) {
			snprintf(tmp, cap, "%.*s%s%s", (int)(p - text), text,
				 subst[i].value, p + strlen(subst[i].key));
			snprintf(text, cap, "%s", tmp);
		}
	}
	free(tmp);
}

/* Run argv; compare exit code and stderr exactly; nothing written. */
static int check_case(const char *name, char *const argv[], int want_exit,
		      const char *want_err)
{
	int rc;

	unlink(db);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	if (rc != want_exit || strcmp(errbuf, want_err) != 0 || exists(db)) {
		fprintf(stderr, "\n  %s: exit %d (want %d)%s\n  got stderr:\n%s"
			"  want stderr:\n%s", name, rc, want_exit,
			exists(db) ? ", results file written" : "", errbuf, want_err);
		return 0;
	}
	return 1;
}

/* One folder of YAML cases; returns how many it ran. */
static int run_folder(const char *sub, const char *flag)
{
	char path[1024], expect_path[1024], *expect, want[8192];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", CORPUS, sub);
	d = opendir(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		int want_exit;
		char *nl;

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", CORPUS, sub, de->d_name);
		snprintf(expect_path, sizeof(expect_path), "%s/%s/%.*s.expect", CORPUS,
			 sub, (int)len - 5, de->d_name);
		expect = tu_slurp(expect_path, NULL);
		CU_ASSERT_PTR_NOT_NULL(expect);
		if (!expect)
			continue;
		nl = strchr(expect, '\n');
		CU_ASSERT_TRUE(sscanf(expect, "exit %d", &want_exit) == 1 && nl);
		snprintf(want, sizeof(want), "%s", nl ? nl + 1 : "");
		expand(want, sizeof(want), path, UNIT_SEQ);
		free(expect);
		{
			char *check_file[] = {STATION, "check", path, NULL};
			char *check_with[] = {STATION, "check", UNIT_SEQ, (char *)flag,
					      path, NULL};

			CU_ASSERT_TRUE(check_case(de->d_name, flag ? check_with : check_file,
						  want_exit, want));
		}
		/* `station run` refuses what check refuses, naming the file,
		 * before any results file exists. */
		if (want_exit != 0) {
			char *run_file[] = {STATION, "run", path, "--config", cfg, "--db",
					    db, "--lot", "L", "--units", "1", NULL};
			char *run_limits[] = {STATION, "run", UNIT_SEQ, "--config", cfg,
					      "--limits", path, "--db", db, "--lot", "L",
					      "--units", "1", NULL};
			char *run_config[] = {STATION, "run", UNIT_SEQ, "--config", path,
					      "--db", db, "--lot", "L", "--units", "1",
					      NULL};
			char **run = !flag ? run_file : strcmp(flag, "--limits") == 0
							? run_limits : run_config;
			int rc;

			unlink(db);
			rc = tu_run(run, out, sizeof(out), errbuf,
				    sizeof(errbuf), 30);
			/* 2 when the file is readable enough to show it is for
			 * the other process (a usage error), 1 otherwise. */
			if ((rc != 1 && rc != 2) || !strstr(errbuf, path) || exists(db))
				fprintf(stderr, "\n  run %s: exit %d, stderr:\n%s", de->d_name,
					rc, errbuf);
			CU_ASSERT_TRUE(rc == 1 || rc == 2);
			CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, path));
			CU_ASSERT_FALSE(exists(db));
		}
		n++;
	}
	closedir(d);
	return n;
}

static void test_sequences(void)
{
	CU_ASSERT_TRUE(run_folder("sequences", NULL) >= 25);
}

static void test_limits(void)
{
	CU_ASSERT_TRUE(run_folder("limits", "--limits") >= 8);
}

static void test_configs(void)
{
	CU_ASSERT_TRUE(run_folder("configs", "--config") >= 10);
}

/* An argument of cli.txt, in place: '' is the empty argument, \xNN a byte
 * (a blank, a control character, a byte that is not UTF-8). */
static char *unescape_arg(char *tok)
{
	char *r = tok, *w = tok;

	if (strcmp(tok, "''") == 0) {
		tok[0] = '\0';
		return tok;
	}
	while (*r) {
		if (r[0] == '\\' && r[1] == 'x' && isxdigit((unsigned char)r[2]) &&
		    isxdigit((unsigned char)r[3])) {
			char hex[3] = {r[2], r[3], '\0'};

			*w++ = (char)strtol(hex, NULL, 16);
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return tok;
}

/* cli.txt: "EXIT | ARGS | STDERR" per line. */
static void test_cli(void)
{
	char *text = tu_slurp(CORPUS "/cli.txt", NULL), *line, *save = NULL;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char args[4096], want[8192], *bar1, *bar2, *argv[64], *tok, *s2 = NULL;
		int want_exit, argc = 0;
		size_t w = 0;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		bar1 = strstr(line, " | ");
		bar2 = bar1 ? strstr(bar1 + 3, " | ") : NULL;
		CU_ASSERT_PTR_NOT_NULL(bar2);
		if (!bar2)
			continue;
		want_exit = atoi(line);
		snprintf(args, sizeof(args), "%.*s", (int)(bar2 - bar1 - 3), bar1 + 3);
		expand(args, sizeof(args), NULL, NULL);
		/* "\n" in the expected text is a line break. */
		for (const char *p = bar2 + 3; *p && w + 2 < sizeof(want); p++) {
			if (p[0] == '\\' && p[1] == 'n') {
				want[w++] = '\n';
				p++;
			} else {
				want[w++] = *p;
			}
		}
		want[w++] = '\n';
		want[w] = '\0';
		expand(want, sizeof(want), NULL, NULL);
		argv[argc++] = STATION;
		for (tok = strtok_r(args, " ", &s2); tok && argc < 63;
		     tok = strtok_r(NULL, " ", &s2))
			argv[argc++] = unescape_arg(tok);
		argv[argc] = NULL;
		CU_ASSERT_TRUE(check_case(line, argv, want_exit, want));
		n++;
	}
	free(text);
	CU_ASSERT_TRUE(n >= 20);
}

/* A file the station may not read (only meaningful when not root). */
static void test_unreadable(void)
{
	char path[700], want[1024];
	char *argv[] = {STATION, "run", path, "--config", cfg, "--db", db,
			"--lot", "L", "--units", "1", NULL};

	if (geteuid() == 0) {
		fprintf(stderr, "(root reads every file: skipped) ");
		return;
	}
	snprintf(path, sizeof(path), "%s/unreadable.yaml", dir);
	write_bytes(path, "sequence: x\n", 12);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0), 0);
	snprintf(want, sizeof(want), "station: %s: Permission denied\n", path);
	CU_ASSERT_TRUE(check_case("unreadable", argv, 1, want));
}

/* `station check` says which files it checked and how each fared, and
 * --format json gives the same problems, sorted, as one document. */
static void test_check_files_and_json(void)
{
	char lim[700], seq[700], badlim[700], want[8192];
	char *all[] = {STATION, "check", UNIT_SEQ, "--limits", lim, "--config", cfg,
		       NULL};
	char *bad[] = {STATION, "check", seq, "--format", "json", NULL};
	char *badtext[] = {STATION, "check", UNIT_SEQ, "--limits", badlim, NULL};
	char *fmt[] = {STATION, "check", seq, "--format", "xml", NULL};
	int rc;

	snprintf(lim, sizeof(lim), "%s/sequences/limits/elsfp-8-std.yaml",
		 KGD_SOURCE_DIR);
	snprintf(seq, sizeof(seq), "%s/sequences/three-mistakes.yaml", CORPUS);
	snprintf(badlim, sizeof(badlim), "%s/limits/no-unit.yaml", CORPUS);
	rc = tu_run(all, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	CU_ASSERT_EQUAL(rc, 0);
	snprintf(want, sizeof(want), "%s: ok (sequence)\n%s: ok (limits)\n"
		 "%s: ok (config)\n", UNIT_SEQ, lim, cfg);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", out, want);
	CU_ASSERT_STRING_EQUAL(out, want);

	rc = tu_run(badtext, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "%s: ok (sequence)\n%s: 2 problems (limits)\n",
		 UNIT_SEQ, badlim);
	CU_ASSERT_STRING_EQUAL(out, want);

	rc = tu_run(bad, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_STRING_EQUAL(errbuf, "");
	snprintf(want, sizeof(want),
		 "{\"files\": [{\"path\": \"%1$s\", \"role\": \"sequence\", \"problems\": 3}],\n"
		 " \"problems\": [\n"
		 "  {\"file\": \"%1$s\", \"line\": 8, \"column\": 41, \"message\": "
		 "\"1.31: wavelength_nm must be 1000..1700; did you mean 1310 (um -> nm)?\"},\n"
		 "  {\"file\": \"%1$s\", \"line\": 9, \"column\": 38, \"message\": "
		 "\"unknown unit 'dbm' (expected one of: dBm, dB, W, mW, uW, nW, nm, A, mA, V, C, ratio, s, count, uA, nA, mV, ohm, W/A, A/W, %%, nm/mW, um)\"},\n"
		 "  {\"file\": \"%1$s\", \"line\": 10, \"column\": 5, \"message\": "
		 "\"unknown operation 'laser.set_current' (role 'laser' is a laser: enable, disable, read, identify)\"}\n"
		 " ],\n"
		 " \"ok\": false}\n", seq);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", out, want);
	CU_ASSERT_STRING_EQUAL(out, want);

	rc = tu_run(fmt, out, sizeof(out), errbuf, sizeof(errbuf), 30);
	CU_ASSERT_EQUAL(rc, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "--format must be text or json, not 'xml'"));
}

/* --expand prints what the station reads: vars and includes expanded. */
static void test_check_expand(void)
{
	char seq[700];
	char *argv[] = {STATION, "check", seq, "--expand", NULL};

	snprintf(seq, sizeof(seq), "%s/sequences/include-ok.yaml", CORPUS);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30), 0);
	CU_ASSERT_STRING_EQUAL(out,
		"sequence: x\nversion: 1\nprocess: unit\nroles: [pm]\nmain:\n"
		"- step: pm.optical_power\n  name: port_power\n"
		"  zip: {port: 1..4, wavelength_nm: [1301.00, 1302.12, 1303.24, 1304.36]}\n"
		"  limits: {low: -3.0, high: 6.0, unit: dBm}\n"
		"- step: pm.optical_power\n  name: one_port\n"
		"  sweep: {port: 1, wavelength_nm: 1310.0}\n"
		"  limits: {low: -3.0, high: 6.0, unit: dBm}\n"
		"bins:\n  1: {name: PASS, pass: true}\n  5: {name: POWER}\n");
	/* a sequence with problems: the problems, no YAML */
	snprintf(seq, sizeof(seq), "%s/sequences/var-unknown.yaml", CORPUS);
	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30), 1);
	CU_ASSERT_PTR_NULL(strstr(out, "sequence: x"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "unknown var '$gird'"));
}

/* --dry-run: one part walked against the configured drivers (the corpus
 * config's instruments are at a port nothing listens on: nothing is
 * opened), the estimate from their declared timing; nothing written. */
static void test_dry_run(void)
{
	char want[4096], pm100[700];
	char *argv[] = {STATION, "run", UNIT_SEQ, "--config", cfg, "--db", db,
			"--lot", "L", "--dry-run", NULL};
	char *one_port[] = {STATION, "run", UNIT_SEQ, "--config", pm100, "--dry-run",
			    NULL};
	static const char pm100_cfg[] =
		"station: corpus\ninstruments:\n"
		"  pm: {driver: thorlabs-pm100, uri: \"tcp://127.0.0.1:1\"}\n"
		"  laser: {driver: elsfp-cmis, uri: \"tcp://127.0.0.1:1\"}\n";

	CU_ASSERT_TRUE(check_case("dry-run", argv, 0, ""));
	snprintf(want, sizeof(want),
		 "dry run of %s on %s, one part (no instrument opened, nothing written)\n"
		 "  list     step                 operation              driver             points   estimate\n"
		 "  setup    adapter_id           laser.identify         elsfp-cmis              1    0.000 s\n"
		 "  setup    laser.enable         laser.enable           elsfp-cmis              1    0.005 s\n"
		 "  setup    thermal_settle       wait                   -                       1    0.050 s\n"
		 "  main     laser                laser.read             elsfp-cmis              8    0.160 s\n"
		 "  main     port_power           pm.optical_power       keysight-n774x          8    0.020 s\n"
		 "                                (all-port read: 1 reads of 8 ports)\n"
		 "  cleanup  laser.disable        laser.disable          elsfp-cmis              1    0.005 s\n"
		 "per part: 6 steps, 20 points, about 0.240 s (retries not counted)\n",
		 UNIT_SEQ, cfg);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "\n got:\n%s want:\n%s", out, want);
	CU_ASSERT_STRING_EQUAL(out, want);
	/* a one-port meter (thorlabs-pm100 declares 1 port) cannot take 8 */
	snprintf(pm100, sizeof(pm100), "%s/pm100.yaml", dir);
	write_bytes(pm100, pm100_cfg, sizeof(pm100_cfg) - 1);
	snprintf(want, sizeof(want),
		 "station: %s:50:13: port 2: driver 'thorlabs-pm100' of role 'pm' declares port 1..1\n",
		 UNIT_SEQ);
	CU_ASSERT_TRUE(check_case("dry-run pm100", one_port, 1, want));
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("corpus", suite_init, suite_clean);

	CU_add_test(s, "malformed sequences", test_sequences);
	CU_add_test(s, "malformed limits files", test_limits);
	CU_add_test(s, "malformed station configs", test_configs);
	CU_add_test(s, "bad command lines", test_cli);
	CU_add_test(s, "unreadable file", test_unreadable);
	CU_add_test(s, "check: files checked, --format json", test_check_files_and_json);
	CU_add_test(s, "check --expand", test_check_expand);
	CU_add_test(s, "run --dry-run", test_dry_run);
	return 0;
}
