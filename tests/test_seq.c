/*
 * tests/test_seq.c - the sequence loader: a good file field by field, the
 * example sequence, and for every kind of mistake a file in tests/data/seq/
 * with the exact "file:line:column: message" it must produce.
 *
 * The expected positions are part of the contract (an operator's editor
 * jumps to them), so they are spelled out, not computed.
 */
#include <CUnit/CUnit.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seq_int.h"
#include "testutil.h"

#define SEQ_DATA KGD_SOURCE_DIR "/tests/data/seq/"

static void data_path(char *buf, size_t cap, const char *file)
{
	snprintf(buf, cap, "%s%s", SEQ_DATA, file);
}

/* Load file, expect status and "<path>:<where_msg>". */
static void expect_error(const char *file, int status, const char *where_msg)
{
	char path[1024], want[2048];
	seq_sequence *s = NULL;
	kgd_err err;
	int rc;

	data_path(path, sizeof(path), file);
	snprintf(want, sizeof(want), "%s:%s", path, where_msg);
	rc = seq_load(path, &s, &err);
	CU_ASSERT_EQUAL(rc, status);
	CU_ASSERT_EQUAL(err.status, status);
	CU_ASSERT_PTR_NULL(s);  /* untouched on error */
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	if (strcmp(err.msg, want) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err.msg, want);
	seq_free(s);
}

static void test_good_file(void)
{
	char path[1024];
	seq_sequence *s = NULL;
	const seq_step *st;
	kgd_err err;
	size_t i;

	data_path(path, sizeof(path), "good.yaml");
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(s->path, path);
	CU_ASSERT_STRING_EQUAL(s->name, "teraphy-kgd");
	CU_ASSERT_EQUAL(s->version, 3);
	CU_ASSERT_STRING_EQUAL(s->product, "TPHY-16x16");
	CU_ASSERT_EQUAL(s->process, SEQ_PROCESS_WAFER);

	/* setup: a flow mapping; its loc is the '{' */
	CU_ASSERT_EQUAL_FATAL(s->n_setup, 1);
	st = &s->setup[0];
	CU_ASSERT_STRING_EQUAL(st->role, "laser");
	CU_ASSERT_STRING_EQUAL(st->op, "enable");
	CU_ASSERT_STRING_EQUAL(st->name, "laser.enable");
	CU_ASSERT_EQUAL(st->loc.line, 9);
	CU_ASSERT_EQUAL(st->loc.column, 5);
	CU_ASSERT_EQUAL(st->n_params, 1);
	CU_ASSERT_STRING_EQUAL(seq_step_param(st, "channels")->value, "all");

	CU_ASSERT_EQUAL_FATAL(s->n_main, 2);
	st = &s->main[0];
	CU_ASSERT_STRING_EQUAL(st->role, "pm");
	CU_ASSERT_STRING_EQUAL(st->op, "optical_power");
	CU_ASSERT_STRING_EQUAL(st->name, "port_power");
	CU_ASSERT_EQUAL(st->loc.line, 11);
	CU_ASSERT_EQUAL(st->loc.column, 5);
	CU_ASSERT_EQUAL_FATAL(st->n_sweep, 2);
	CU_ASSERT_STRING_EQUAL(st->sweep[0].name, "port");
	CU_ASSERT_EQUAL(st->sweep[0].loc.line, 13);
	CU_ASSERT_EQUAL(st->sweep[0].loc.column, 13);
	CU_ASSERT_EQUAL_FATAL(st->sweep[0].n_values, 16);
	for (i = 0; i < 16; i++)
		CU_ASSERT_DOUBLE_EQUAL(st->sweep[0].values[i], (double)(i + 1), 0.0);
	CU_ASSERT_STRING_EQUAL(st->sweep[1].name, "wavelength_nm");
	CU_ASSERT_EQUAL_FATAL(st->sweep[1].n_values, 3);
	CU_ASSERT_DOUBLE_EQUAL(st->sweep[1].values[0], 1301.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st->sweep[1].values[1], 1302.6, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st->sweep[1].values[2], 1304.2, 1e-9);
	CU_ASSERT_EQUAL(st->n_params, 2);
	CU_ASSERT_STRING_EQUAL(seq_step_param(st, "averaging_s")->value, "0.01");
	CU_ASSERT_STRING_EQUAL(seq_step_param(st, "range")->value, "auto");
	CU_ASSERT_PTR_NULL(seq_step_param(st, "absent"));
	CU_ASSERT_TRUE(st->has_limits);
	CU_ASSERT_TRUE(st->limits.has_low);
	CU_ASSERT_TRUE(st->limits.has_high);
	CU_ASSERT_DOUBLE_EQUAL(st->limits.low, -6.0, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(st->limits.high, 3.0, 0.0);
	CU_ASSERT_STRING_EQUAL(st->limits.unit, "dBm");
	CU_ASSERT_EQUAL(st->limits.loc.line, 15);
	CU_ASSERT_EQUAL(st->limits.loc.column, 13);
	CU_ASSERT_EQUAL(st->fail_bin, 5);
	CU_ASSERT_EQUAL(st->fail_continue, 1);  /* written "yes" */
	CU_ASSERT_EQUAL(st->retry, 0);

	st = &s->main[1];
	CU_ASSERT_STRING_EQUAL(st->name, "lane_ber");
	CU_ASSERT_EQUAL(st->n_params, 3);
	CU_ASSERT_STRING_EQUAL(seq_step_param(st, "pattern")->value, "PRBS31");
	CU_ASSERT_STRING_EQUAL(seq_step_param(st, "rate_gbps")->value, "32");
	CU_ASSERT_STRING_EQUAL(seq_step_param(st, "gate_s")->value, "1.0");
	CU_ASSERT_EQUAL(seq_step_param(st, "gate_s")->loc.line, 22);
	CU_ASSERT_EQUAL_FATAL(st->n_sweep, 1);
	CU_ASSERT_STRING_EQUAL(st->sweep[0].name, "lane");
	CU_ASSERT_EQUAL_FATAL(st->sweep[0].n_values, 1);  /* a single number */
	CU_ASSERT_DOUBLE_EQUAL(st->sweep[0].values[0], 3.0, 0.0);
	CU_ASSERT_TRUE(st->has_limits);
	CU_ASSERT_FALSE(st->limits.has_low);
	CU_ASSERT_TRUE(st->limits.has_high);
	CU_ASSERT_DOUBLE_EQUAL(st->limits.high, 1.0e-12, 0.0);
	CU_ASSERT_STRING_EQUAL(st->limits.unit, "ratio");
	CU_ASSERT_TRUE(st->limits.has_unit);
	CU_ASSERT_EQUAL(st->retry, 2);
	CU_ASSERT_EQUAL(st->fail_bin, 7);
	CU_ASSERT_EQUAL(st->fail_continue, 0);

	CU_ASSERT_EQUAL_FATAL(s->n_cleanup, 1);
	CU_ASSERT_STRING_EQUAL(s->cleanup[0].name, "laser.disable");
	CU_ASSERT_FALSE(s->cleanup[0].has_limits);
	CU_ASSERT_EQUAL(s->cleanup[0].n_sweep, 0);

	CU_ASSERT_EQUAL_FATAL(s->n_bins, 3);
	CU_ASSERT_EQUAL(s->bins[0].number, 1);
	CU_ASSERT_STRING_EQUAL(s->bins[0].name, "PASS");
	CU_ASSERT_EQUAL(s->bins[0].pass, 1);
	CU_ASSERT_EQUAL(s->bins[0].loc.line, 31);
	CU_ASSERT_EQUAL(s->bins[0].loc.column, 3);
	CU_ASSERT_EQUAL(s->bins[1].number, 5);
	CU_ASSERT_STRING_EQUAL(s->bins[1].name, "OPTICAL_POWER");
	CU_ASSERT_EQUAL(s->bins[1].pass, 0);
	CU_ASSERT_EQUAL(s->bins[2].number, 7);
	CU_ASSERT_STRING_EQUAL(s->bins[2].name, "BER");
	CU_ASSERT_EQUAL(seq_pass_bin(s), 1);
	seq_free(s);
}

/* The identity is the SHA-256 of the file's bytes; checked against a tool
 * that shares no code with the loader. */
static void test_sha256_and_text(void)
{
	char path[1024], out[256];
	char *argv[] = { "/usr/bin/sha256sum", path, NULL };
	seq_sequence *s = NULL;
	kgd_err err;
	char *bytes;
	size_t len;

	data_path(path, sizeof(path), "good.yaml");
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	CU_ASSERT_EQUAL_FATAL(tu_run(argv, out, sizeof(out), NULL, 0, 10), 0);
	out[64] = '\0';
	CU_ASSERT_STRING_EQUAL(s->sha256, out);
	CU_ASSERT_EQUAL(strlen(s->sha256), 64);

	bytes = tu_slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	CU_ASSERT_EQUAL(s->text_len, len);
	CU_ASSERT_TRUE(memcmp(s->text, bytes, len) == 0);
	CU_ASSERT_EQUAL(s->text[s->text_len], '\0');
	free(bytes);
	seq_free(s);
}

static void test_defaults(void)
{
	char path[1024];
	seq_sequence *s = NULL;
	kgd_err err;

	data_path(path, sizeof(path), "minimal.yaml");
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	CU_ASSERT_PTR_NULL(s->product);
	CU_ASSERT_EQUAL(s->process, SEQ_PROCESS_UNIT);
	CU_ASSERT_EQUAL(s->n_setup, 0);
	CU_ASSERT_EQUAL(s->n_cleanup, 0);
	CU_ASSERT_EQUAL_FATAL(s->n_main, 1);
	CU_ASSERT_STRING_EQUAL(s->main[0].name, "pm.optical_power");
	CU_ASSERT_FALSE(s->main[0].has_limits);
	CU_ASSERT_EQUAL(s->main[0].fail_bin, 0);
	CU_ASSERT_EQUAL(s->main[0].retry, 0);
	CU_ASSERT_EQUAL_FATAL(s->n_bins, 1);  /* the default table */
	CU_ASSERT_EQUAL(s->bins[0].number, 1);
	CU_ASSERT_STRING_EQUAL(s->bins[0].name, "PASS");
	CU_ASSERT_EQUAL(s->bins[0].pass, 1);
	CU_ASSERT_EQUAL(seq_pass_bin(s), 1);
	seq_free(s);
}

static void test_example_sequence(void)
{
	const char *path = KGD_SOURCE_DIR "/sequences/spine-power.yaml";
	seq_sequence *s = NULL;
	const seq_step *st;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	CU_ASSERT_EQUAL(s->process, SEQ_PROCESS_UNIT);
	CU_ASSERT_EQUAL_FATAL(s->n_main, 1);
	st = &s->main[0];
	CU_ASSERT_STRING_EQUAL(st->role, "pm");
	CU_ASSERT_STRING_EQUAL(st->op, "optical_power");
	CU_ASSERT_EQUAL_FATAL(st->n_sweep, 2);
	CU_ASSERT_STRING_EQUAL(st->sweep[0].name, "port");
	CU_ASSERT_EQUAL(st->sweep[0].n_values, 8);
	CU_ASSERT_STRING_EQUAL(st->sweep[1].name, "wavelength_nm");
	CU_ASSERT_EQUAL(st->sweep[1].n_values, 2);
	CU_ASSERT_PTR_NOT_NULL(seq_step_param(st, "averaging_s"));
	CU_ASSERT_DOUBLE_EQUAL(st->limits.low, -3.0, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(st->limits.high, 6.0, 0.0);
	CU_ASSERT_STRING_EQUAL(st->limits.unit, "dBm");
	CU_ASSERT_EQUAL(st->fail_bin, 5);
	CU_ASSERT_EQUAL(st->fail_continue, 1);
	CU_ASSERT_EQUAL(s->n_bins, 2);
	seq_free(s);
}

/* A station running under a comma-decimal locale must read "-6.0" as -6. */
static void test_locale_independent(void)
{
	static const char *const comma_locales[] = {
		"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8", NULL
	};
	char path[1024], *old;
	seq_sequence *s = NULL;
	kgd_err err;
	int i;

	old = strdup(setlocale(LC_NUMERIC, NULL));
	CU_ASSERT_PTR_NOT_NULL_FATAL(old);
	for (i = 0; comma_locales[i]; i++)
		if (setlocale(LC_NUMERIC, comma_locales[i]))
			break;  /* C.UTF-8 at worst: the test then only runs the path */
	data_path(path, sizeof(path), "good.yaml");
	CU_ASSERT_EQUAL(seq_load(path, &s, &err), KGD_OK);
	if (s) {
		CU_ASSERT_DOUBLE_EQUAL(s->main[0].limits.low, -6.0, 0.0);
		CU_ASSERT_DOUBLE_EQUAL(s->main[0].sweep[1].values[1], 1302.6, 1e-9);
	}
	seq_free(s);
	setlocale(LC_NUMERIC, old);
	free(old);
}

static void test_err_missing_file(void)
{
	char path[1024], want[1100];
	seq_sequence *s = NULL;
	kgd_err err;

	data_path(path, sizeof(path), "does-not-exist.yaml");
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CU_ASSERT_EQUAL(seq_load(path, &s, &err), KGD_ERR_NOT_FOUND);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	CU_ASSERT_PTR_NULL(s);
}

static void test_err_syntax(void)
{
	expect_error("syntax.yaml", KGD_ERR_PARSE,
		     "6:1: did not find expected ',' or '}'");
}

static void test_err_missing_sequence(void)
{
	expect_error("missing_sequence.yaml", KGD_ERR_PARSE,
		     "1:1: missing required key 'sequence'");
}

static void test_err_unknown_key(void)
{
	expect_error("unknown_key.yaml", KGD_ERR_PARSE,
		     "5:5: unknown key 'limit' in step (expected one of: step, name, "
		     "sweep, zip, params, limits, on_fail, retry, skip_if)");
}

static void test_err_duplicate_key(void)
{
	expect_error("duplicate_key.yaml", KGD_ERR_PARSE,
		     "3:1: duplicate key 'version' (first at 2:1)");
}

static void test_err_bad_step(void)
{
	expect_error("bad_step.yaml", KGD_ERR_PARSE,
		     "4:11: bad step 'pm-optical_power': expected <role>.<operation> or "
		     "<operation>, each of [a-z0-9_]+");
}

static void test_err_duplicate_name(void)
{
	expect_error("duplicate_name.yaml", KGD_ERR_PARSE,
		     "6:5: duplicate step name 'port_power' (first at 4:5)");
	/* Default names collide too, across setup and cleanup. */
	expect_error("duplicate_default_name.yaml", KGD_ERR_PARSE,
		     "8:5: duplicate step name 'laser.enable' (first at 4:5)");
}

static void test_err_low_above_high(void)
{
	expect_error("low_high.yaml", KGD_ERR_PARSE,
		     "5:13: limits low 6 is greater than high -3");
}

static void test_err_unknown_unit(void)
{
	expect_error("unknown_unit.yaml", KGD_ERR_PARSE,
		     "5:31: unknown unit 'dbm' (expected one of: dBm, dB, W, mW, uW, "
		     "nW, nm, A, mA, V, C, ratio, s, count, uA, nA, mV, ohm, W/A, A/W, "
		     "%, nm/mW, um)");
}

static void test_err_unknown_bin(void)
{
	expect_error("unknown_bin.yaml", KGD_ERR_PARSE,
		     "6:20: on_fail bin 9 is not in bins");
}

static void test_err_no_pass_bin(void)
{
	expect_error("no_pass.yaml", KGD_ERR_PARSE, "6:3: no bin has pass: true");
}

static void test_err_bad_range(void)
{
	expect_error("bad_range.yaml", KGD_ERR_PARSE,
		     "5:19: bad range '5..1': start is greater than end");
}

static void test_err_empty_main(void)
{
	expect_error("empty_main.yaml", KGD_ERR_PARSE, "3:7: main has no steps");
}

static const char *check_second;
static int n_seen, second_matched;

static void match_second(void *user, const char *msg)
{
	(void)user;
	if (++n_seen == 2)
		second_matched = strcmp(msg, check_second) == 0;
}

static void test_err_quoted_number_and_nan(void)
{
	char path[1024], want[1100];
	kgd_err err;

	/* seq_load returns the first problem; the .nan limit is the second. */
	expect_error("quoted_version.yaml", KGD_ERR_PARSE,
		     "2:10: version must be an integer, not a quoted string");
	data_path(path, sizeof(path), "quoted_version.yaml");
	snprintf(want, sizeof(want), "%s:5:20: limits high must be a number, not '.nan'",
		 path);
	check_second = want;
	CU_ASSERT_EQUAL(seq_check(path, match_second, NULL, &err), KGD_ERR_PARSE);
	CU_ASSERT_EQUAL(n_seen, 2);
	CU_ASSERT_TRUE(second_matched);
}

static void test_err_second_document(void)
{
	expect_error("two_docs.yaml", KGD_ERR_PARSE,
		     "5:1: only one YAML document is allowed per file");
}

/* ---- seq_check ----------------------------------------------------------- */

typedef struct collected {
	char *msgs[32];
	size_t n;
} collected;

static void collect(void *user, const char *msg)
{
	collected *c = user;

	if (c->n < sizeof(c->msgs) / sizeof(c->msgs[0]))
		c->msgs[c->n] = strdup(msg);
	c->n++;
}

static void collected_free(collected *c)
{
	size_t i;

	for (i = 0; i < c->n && i < sizeof(c->msgs) / sizeof(c->msgs[0]); i++)
		free(c->msgs[i]);
}

static void test_check_reports_all(void)
{
	static const char *const want[] = {
		"3:10: version must be between 1 and 2147483647, not 0",
		"4:10: process must be 'unit' or 'wafer', not 'batch'",
		"7:19: bad range '1..x': expected <integer>..<integer>",
		"7:49: sweep wavelength_nm value must be a number, not 'nan'",
		"8:19: limits low must be a number, not '12abc'",
		"9:12: retry must be between 0 and 10, not 11",
		"10:5: duplicate step name 'pm.optical_power' (first at 6:5)",
		"11:5: unknown key 'color' in step (expected one of: step, name, "
		"sweep, zip, params, limits, on_fail, retry, skip_if)",
		"12:20: on_fail bin 1 is a pass bin",
		"12:33: on_fail continue must be true, false, yes, no, on or off, not 'maybe'",
		"13:5: missing required key 'step'",
		"16:3: duplicate bin 1 (first at 15:3)",
	};
	size_t n_want = sizeof(want) / sizeof(want[0]), i;
	char path[1024], line[2048];
	collected c = { { 0 }, 0 };
	kgd_err err;

	data_path(path, sizeof(path), "many.yaml");
	CU_ASSERT_EQUAL(seq_check(path, collect, &c, &err), KGD_ERR_PARSE);
	CU_ASSERT_EQUAL(c.n, n_want);
	for (i = 0; i < n_want && i < c.n; i++) {
		snprintf(line, sizeof(line), "%s:%s", path, want[i]);
		CU_ASSERT_STRING_EQUAL(c.msgs[i], line);
		if (strcmp(c.msgs[i], line) != 0)
			fprintf(stderr, "\n  got:  %s\n  want: %s\n", c.msgs[i], line);
	}
	/* err holds the first, as seq_load would return it */
	snprintf(line, sizeof(line), "%s:%s", path, want[0]);
	CU_ASSERT_STRING_EQUAL(err.msg, line);
	collected_free(&c);
}

/* Per-point limits: lists indexed by a sweep variable named with per. */
static void test_per_point_limits(void)
{
	char path[1024];
	seq_sequence *s = NULL;
	const seq_limits *wl, *pw, *bias;
	seq_limits at;
	kgd_err err;

	data_path(path, sizeof(path), "per_limits.yaml");
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	wl = seq_step_limits(&s->main[0], "wavelength");
	pw = seq_step_limits(&s->main[0], "power");
	bias = seq_step_limits(&s->main[0], "bias");
	CU_ASSERT_PTR_NOT_NULL_FATAL(wl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bias);
	CU_ASSERT_STRING_EQUAL(wl->per, "channel");
	CU_ASSERT_EQUAL(wl->per_loc.line, 10);
	CU_ASSERT_EQUAL(wl->per_loc.column, 14);
	CU_ASSERT_TRUE(wl->has_low && wl->has_high);
	CU_ASSERT_EQUAL_FATAL(wl->n_lows, 4);
	CU_ASSERT_EQUAL_FATAL(wl->n_highs, 4);
	CU_ASSERT_DOUBLE_EQUAL(wl->lows[1], 1303.04, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(wl->highs[3], 1307.92, 1e-9);
	CU_ASSERT_EQUAL(wl->lows_loc.line, 11);
	CU_ASSERT_EQUAL(wl->lows_loc.column, 14);
	CU_ASSERT_STRING_EQUAL(wl->unit, "nm");
	/* Entry i is the bounds at the i-th channel. */
	seq_limits_at(wl, 2, &at);
	CU_ASSERT_DOUBLE_EQUAL(at.low, 1305.28, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(at.high, 1305.68, 1e-9);
	CU_ASSERT_PTR_NULL(at.per);
	CU_ASSERT_PTR_NULL(at.lows);
	/* Past the end: NaN, which nothing passes. */
	seq_limits_at(wl, 4, &at);
	CU_ASSERT_TRUE(isnan(at.low) && isnan(at.high));
	/* A scalar low applies at every point beside a list high. */
	CU_ASSERT_PTR_NULL(pw->lows);
	CU_ASSERT_EQUAL_FATAL(pw->n_highs, 4);
	seq_limits_at(pw, 3, &at);
	CU_ASSERT_DOUBLE_EQUAL(at.low, -3.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(at.high, 5.0, 1e-9);
	/* The scalar form is unchanged. */
	CU_ASSERT_PTR_NULL(bias->per);
	CU_ASSERT_PTR_NULL(bias->lows);
	CU_ASSERT_PTR_NULL(bias->highs);
	seq_limits_at(bias, 1, &at);
	CU_ASSERT_DOUBLE_EQUAL(at.low, 45.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(at.high, 75.0, 1e-9);
	seq_free(s);
}

static void test_per_point_limits_errors(void)
{
	static const char *const want[] = {
		"8:25: limits low is a list: name the sweep variable it follows with 'per'",
		"9:21: limits high is a list: name the sweep variable it follows with 'per'",
		"10:38: limits low entry must be a number, not 'x45'",
		"11:45: limits low 50 is greater than high 40 (entry 2)",
		"12:48: limits low 40 is greater than high 35 (entry 2)",
		"15:19: bad per 'Port': expected a sweep variable name",
		"15:30: limits low is an empty list",
		"19:19: per needs a list low or high",
		"22:34: exclusive limits low 2 and high 2 leave no passing value (entry 2)",
	};
	size_t n_want = sizeof(want) / sizeof(want[0]), i;
	char path[1024], line[2048];
	collected c = { { 0 }, 0 };
	kgd_err err;

	data_path(path, sizeof(path), "per_limits_bad.yaml");
	CU_ASSERT_EQUAL(seq_check(path, collect, &c, &err), KGD_ERR_PARSE);
	CU_ASSERT_EQUAL(c.n, n_want);
	for (i = 0; i < n_want && i < c.n; i++) {
		snprintf(line, sizeof(line), "%s:%s", path, want[i]);
		CU_ASSERT_STRING_EQUAL(c.msgs[i], line);
		if (strcmp(c.msgs[i], line) != 0)
			fprintf(stderr, "\n  got:  %s\n  want: %s\n", c.msgs[i], line);
	}
	for (; i < c.n; i++)
		fprintf(stderr, "\n  extra: %s\n", c.msgs[i]);
	collected_free(&c);
}

static void test_check_good_and_missing(void)
{
	char path[1024];
	collected c = { { 0 }, 0 };
	kgd_err err;

	data_path(path, sizeof(path), "good.yaml");
	CU_ASSERT_EQUAL(seq_check(path, collect, &c, &err), KGD_OK);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_EQUAL(seq_check(path, NULL, NULL, NULL), KGD_OK);

	/* A missing file is one problem, reported like the others. */
	data_path(path, sizeof(path), "does-not-exist.yaml");
	CU_ASSERT_EQUAL(seq_check(path, collect, &c, &err), KGD_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL_FATAL(c.n, 1);
	CU_ASSERT_STRING_EQUAL(c.msgs[0], err.msg);
	collected_free(&c);
}

/* The digest of a sequence with include: covers every included file: the
 * kept text is the file's bytes, then each included file's. */
static void test_include_digest(void)
{
	char path[1024], lib[1024], sha[65];
	seq_sequence *s = NULL;
	kgd_err err;
	char *main_text, *lib_text;

	snprintf(path, sizeof(path), "%s/sequences/teraphy-kgd-parallel.yaml", KGD_SOURCE_DIR);
	snprintf(lib, sizeof(lib), "%s/sequences/lib/teraphy-16.yaml", KGD_SOURCE_DIR);
	CU_ASSERT_EQUAL_FATAL(seq_load(path, &s, &err), KGD_OK);
	main_text = tu_slurp(path, NULL);
	lib_text = tu_slurp(lib, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(main_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(lib_text);
	CU_ASSERT_EQUAL(s->n_files, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s->files[0], "sequences/lib/teraphy-16.yaml"));
	CU_ASSERT_EQUAL(strncmp(s->text, main_text, strlen(main_text)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(s->text, "# ---- include: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s->text, lib_text));
	CU_ASSERT_EQUAL(s->text_len, strlen(s->text));
	CU_ASSERT_EQUAL(seq_sha256_hex(s->text, s->text_len, sha), 0);
	CU_ASSERT_STRING_EQUAL(s->sha256, sha);
	CU_ASSERT_NOT_EQUAL(seq_sha256_hex(main_text, strlen(main_text), sha), -1);
	CU_ASSERT_STRING_NOT_EQUAL(s->sha256, sha);  /* not the file alone */
	/* the grid came from the library, the cleanup and bins too */
	CU_ASSERT_EQUAL(s->main[0].sweep[1].n_values, 16);
	CU_ASSERT_EQUAL(s->n_cleanup, 1);
	CU_ASSERT_EQUAL(s->n_bins, 5);
	free(main_text);
	free(lib_text);
	seq_free(s);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("seq", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "good file field by field", test_good_file);
	CU_add_test(s, "sha256 and text are the file's bytes", test_sha256_and_text);
	CU_add_test(s, "defaults", test_defaults);
	CU_add_test(s, "sequences/spine-power.yaml", test_example_sequence);
	CU_add_test(s, "numbers ignore LC_NUMERIC", test_locale_independent);
	CU_add_test(s, "error: missing file", test_err_missing_file);
	CU_add_test(s, "error: YAML syntax", test_err_syntax);
	CU_add_test(s, "error: missing sequence key", test_err_missing_sequence);
	CU_add_test(s, "error: unknown key", test_err_unknown_key);
	CU_add_test(s, "error: duplicate key", test_err_duplicate_key);
	CU_add_test(s, "error: bad step name", test_err_bad_step);
	CU_add_test(s, "error: duplicate step name", test_err_duplicate_name);
	CU_add_test(s, "error: limits low > high", test_err_low_above_high);
	CU_add_test(s, "error: unknown unit", test_err_unknown_unit);
	CU_add_test(s, "error: unknown on_fail bin", test_err_unknown_bin);
	CU_add_test(s, "error: no pass bin", test_err_no_pass_bin);
	CU_add_test(s, "error: range 5..1", test_err_bad_range);
	CU_add_test(s, "error: empty main", test_err_empty_main);
	CU_add_test(s, "error: quoted number", test_err_quoted_number_and_nan);
	CU_add_test(s, "error: second document", test_err_second_document);
	CU_add_test(s, "seq_check reports every problem", test_check_reports_all);
	CU_add_test(s, "per-point limits (per: <sweep variable>)", test_per_point_limits);
	CU_add_test(s, "per-point limits: every rule's message", test_per_point_limits_errors);
	CU_add_test(s, "seq_check good file and missing file",
		    test_check_good_and_missing);
	CU_add_test(s, "include: the digest covers every file", test_include_digest);
	return 0;
}
