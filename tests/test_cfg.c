/*
 * tests/test_cfg.c - the station-config loader: a good file field by field
 * and, for every kind of mistake, a file in tests/data/cfg/ with the exact
 * "file:line:column: message" it must produce.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

#define CFG_DATA KGD_SOURCE_DIR "/tests/data/cfg/"

static void data_path(char *buf, size_t cap, const char *file)
{
	snprintf(buf, cap, "%s%s", CFG_DATA, file);
}

static void expect_error(const char *file, int status, const char *where_msg)
{
	char path[1024], want[2048];
	cfg_station *c = NULL;
	kgd_err err;

	data_path(path, sizeof(path), file);
	snprintf(want, sizeof(want), "%s:%s", path, where_msg);
	CU_ASSERT_EQUAL(cfg_load(path, &c, &err), status);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	if (strcmp(err.msg, want) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err.msg, want);
	cfg_free(c);
}

static void test_good_file(void)
{
	char path[1024];
	cfg_station *c = NULL;
	const cfg_instrument *in;
	kgd_err err;

	data_path(path, sizeof(path), "good.yaml");
	CU_ASSERT_EQUAL_FATAL(cfg_load(path, &c, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(c->path, path);
	CU_ASSERT_STRING_EQUAL(c->name, "cell-3");
	CU_ASSERT_EQUAL_FATAL(c->n_plugin_path, 2);
	CU_ASSERT_STRING_EQUAL(c->plugin_path[0], "/opt/kgd/plugins");
	CU_ASSERT_STRING_EQUAL(c->plugin_path[1], "/srv/kgd/plugins");
	CU_ASSERT_EQUAL_FATAL(c->n_instruments, 2);

	in = cfg_find_role(c, "pm");
	CU_ASSERT_PTR_EQUAL_FATAL(in, &c->instruments[0]);
	CU_ASSERT_STRING_EQUAL(in->role, "pm");
	CU_ASSERT_STRING_EQUAL(in->driver, "keysight-n774x");
	CU_ASSERT_STRING_EQUAL(in->uri, "tcp://127.0.0.1:5025");
	CU_ASSERT_EQUAL(in->timeout_ms, 2000);
	CU_ASSERT_EQUAL(in->line, 5);
	CU_ASSERT_EQUAL(in->column, 3);

	in = cfg_find_role(c, "laser");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_STRING_EQUAL(in->driver, "elsfp-cmis");
	CU_ASSERT_STRING_EQUAL(in->uri, "serial:///dev/ttyUSB0?baud=115200&term=lf");
	CU_ASSERT_EQUAL(in->timeout_ms, 0);  /* transport default */
	CU_ASSERT_EQUAL(in->line, 6);

	CU_ASSERT_PTR_NULL(cfg_find_role(c, "bert"));
	cfg_free(c);
}

static void test_minimal(void)
{
	char path[1024];
	cfg_station *c = NULL;
	kgd_err err;

	data_path(path, sizeof(path), "minimal.yaml");
	CU_ASSERT_EQUAL_FATAL(cfg_load(path, &c, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(c->name, "bench");
	CU_ASSERT_EQUAL(c->n_plugin_path, 0);
	CU_ASSERT_EQUAL(c->n_instruments, 0);
	cfg_free(c);
}

static void test_err_missing_file(void)
{
	char path[1024], want[1100];
	cfg_station *c = NULL;
	kgd_err err;

	data_path(path, sizeof(path), "does-not-exist.yaml");
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CU_ASSERT_EQUAL(cfg_load(path, &c, &err), KGD_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	CU_ASSERT_PTR_NULL(c);
}

static void test_err_syntax(void)
{
	expect_error("syntax.yaml", KGD_ERR_PARSE,
		     "4:1: found unexpected end of stream");
}

static void test_err_missing_station(void)
{
	expect_error("missing_station.yaml", KGD_ERR_PARSE,
		     "1:1: missing required key 'station'");
}

static void test_err_bad_role(void)
{
	expect_error("bad_role.yaml", KGD_ERR_PARSE,
		     "3:3: bad role 'Power-Meter': expected [a-z0-9_]+");
}

static void test_err_missing_uri(void)
{
	expect_error("missing_uri.yaml", KGD_ERR_PARSE,
		     "3:7: missing required key 'uri'");
}

static void test_err_unknown_key(void)
{
	expect_error("unknown_key.yaml", KGD_ERR_PARSE,
		     "3:61: unknown key 'timeout' in instrument (expected one of: "
		     "driver, uri, timeout_ms)");
}

typedef struct collected {
	char *msgs[16];
	size_t n;
} collected;

static void collect(void *user, const char *msg)
{
	collected *c = user;

	if (c->n < sizeof(c->msgs) / sizeof(c->msgs[0]))
		c->msgs[c->n] = strdup(msg);
	c->n++;
}

static void test_check_reports_all(void)
{
	static const char *const want[] = {
		"1:10: station must not be empty",
		"2:14: plugin_path must be a list",
		"4:37: uri '127.0.0.1:5025' has no scheme (expected e.g. tcp://host:port)",
		"4:67: timeout_ms must be an integer, not '2s'",
		"5:3: duplicate key 'pm' (first at 4:3)",
		"6:9: missing required key 'driver'",
	};
	size_t n_want = sizeof(want) / sizeof(want[0]), i;
	char path[1024], line[2048];
	collected c = { { 0 }, 0 };
	kgd_err err;

	data_path(path, sizeof(path), "many.yaml");
	CU_ASSERT_EQUAL(cfg_check(path, collect, &c, &err), KGD_ERR_PARSE);
	CU_ASSERT_EQUAL(c.n, n_want);
	for (i = 0; i < n_want && i < c.n; i++) {
		snprintf(line, sizeof(line), "%s:%s", path, want[i]);
		CU_ASSERT_STRING_EQUAL(c.msgs[i], line);
		if (strcmp(c.msgs[i], line) != 0)
			fprintf(stderr, "\n  got:  %s\n  want: %s\n", c.msgs[i], line);
	}
	for (i = 0; i < c.n && i < sizeof(c.msgs) / sizeof(c.msgs[0]); i++)
		free(c.msgs[i]);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("cfg", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "good file field by field", test_good_file);
	CU_add_test(s, "minimal file", test_minimal);
	CU_add_test(s, "error: missing file", test_err_missing_file);
	CU_add_test(s, "error: YAML syntax", test_err_syntax);
	CU_add_test(s, "error: missing station key", test_err_missing_station);
	CU_add_test(s, "error: bad role name", test_err_bad_role);
	CU_add_test(s, "error: missing uri", test_err_missing_uri);
	CU_add_test(s, "error: unknown key", test_err_unknown_key);
	CU_add_test(s, "cfg_check reports every problem", test_check_reports_all);
	return 0;
}
