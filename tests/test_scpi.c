/*
 * tests/test_scpi.c - the SCPI helpers: the pure parsers on strings, then
 * command/query/error-queue/block traffic against a real loopback peer that
 * behaves like an instrument (an error queue, sentinel values, blocks).
 *
 * The peer thread stops when the client closes or after an idle limit and
 * is always joined; timeouts here are short, so the program ends in bounded
 * time.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <locale.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kgd/scpi.h"
#include "testutil.h"


/* ---- pure parsers ---------------------------------------------------- */

static void test_parse_double(void)
{
	static const struct { const char *s; double v; } ok[] = {
		{"+1.234E-03", 1.234E-03}, {" 42 ", 42.0}, {"-0.5", -0.5},
		{"1e3", 1000.0}, {".5", 0.5}, {"5.", 5.0}, {"-1.0E+20", -1.0E+20},
		{"+1.55000000E-006", 1.55E-6}, {"0", 0.0}, {"-12.34\r", -12.34},
	};
	static const char *const over[] = {
		"9.9E37", "+9.9E+37", "-9.9E37", "9.91E37", "1.1e20", "-3e21",
		"1e400", "NAN", "nan", "INF", "-inf", "+Infinity",
	};
	static const char *const junk[] = {
		"", "   ", "abc", "1.5 dBm", "0x10", "1,5", "1e", "--1", "1.2.3",
		"+", ".", "e5", "1.5W",
	};
	kgd_err err;
	double v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -999;
		CU_ASSERT_EQUAL(scpi_parse_double(ok[i].s, &v, &err), KGD_OK);
		CU_ASSERT_EQUAL(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		v = -999;
		CU_ASSERT_EQUAL(scpi_parse_double(over[i], &v, &err), KGD_ERR_OVERRANGE);
		CU_ASSERT_EQUAL(v, -999); /* never a number */
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		CU_ASSERT_EQUAL(scpi_parse_double(junk[i], &v, &err), KGD_ERR_PROTOCOL);
	scpi_parse_double("9.9E37", &v, &err);
	CU_ASSERT_STRING_EQUAL(err.msg, "no valid value ('9.9E37')");
	scpi_parse_double("1.5 dBm", &v, &err);
	CU_ASSERT_STRING_EQUAL(err.msg, "reply '1.5 dBm' is not a number");
	/* 1e20 itself is still a value; only beyond is a sentinel. */
	CU_ASSERT_EQUAL(scpi_parse_double("1e20", &v, &err), KGD_OK);
}

static void test_parse_double_locale(void)
{
	static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
					    "C.UTF-8"};
	double v = 0;
	int switched = 0;

	/* A library must not care which locale its host process chose. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !switched; i++)
		switched = setlocale(LC_NUMERIC, names[i]) != NULL;
	CU_ASSERT_EQUAL(scpi_parse_double("1.5", &v, NULL), KGD_OK);
	CU_ASSERT_EQUAL(v, 1.5);
	CU_ASSERT_EQUAL(scpi_parse_double("1,5", &v, NULL), KGD_ERR_PROTOCOL);
	setlocale(LC_NUMERIC, "C");
}

static void test_parse_long(void)
{
	long v = 0;

	CU_ASSERT_EQUAL(scpi_parse_long("+1.00000E+00", &v, NULL), KGD_OK);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(scpi_parse_long("-17", &v, NULL), KGD_OK);
	CU_ASSERT_EQUAL(v, -17);
	CU_ASSERT_EQUAL(scpi_parse_long("1.5", &v, NULL), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_parse_long("9.9E37", &v, NULL), KGD_ERR_OVERRANGE);
}

static void test_parse_error(void)
{
	char text[64];
	int code = 99;

	CU_ASSERT_EQUAL(scpi_parse_error("-113,\"Undefined header\"", &code, text,
					 sizeof(text), NULL), KGD_OK);
	CU_ASSERT_EQUAL(code, -113);
	CU_ASSERT_STRING_EQUAL(text, "Undefined header");
	CU_ASSERT_EQUAL(scpi_parse_error("+0,\"No error\"", &code, text, sizeof(text), NULL),
			KGD_OK);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_STRING_EQUAL(text, "No error");
	CU_ASSERT_EQUAL(scpi_parse_error("0", &code, text, sizeof(text), NULL), KGD_OK);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_STRING_EQUAL(text, "");
	CU_ASSERT_EQUAL(scpi_parse_error("-222, \"Data \"\"x\"\" out of range\"", &code, text,
					 sizeof(text), NULL), KGD_OK);
	CU_ASSERT_EQUAL(code, -222);
	CU_ASSERT_STRING_EQUAL(text, "Data \"x\" out of range");
	CU_ASSERT_EQUAL(scpi_parse_error("No error", &code, text, sizeof(text), NULL),
			KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_parse_error("-113;oops", &code, text, sizeof(text), NULL),
			KGD_ERR_PROTOCOL);
}

static void test_parse_idn(void)
{
	static const char *const keysight[] = {"Keysight Technologies",
					       "Agilent Technologies", NULL};
	struct scpi_idn f;
	kgd_err err;

	CU_ASSERT_EQUAL(scpi_parse_idn("Thorlabs,PM100D,P0027168,2.7.0", &f, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(f.vendor, "Thorlabs");
	CU_ASSERT_STRING_EQUAL(f.model, "PM100D");
	CU_ASSERT_STRING_EQUAL(f.serial, "P0027168");
	CU_ASSERT_STRING_EQUAL(f.firmware, "2.7.0");
	CU_ASSERT_EQUAL(scpi_parse_idn("Thorlabs,PM100D", &f, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "reply 'Thorlabs,PM100D' is not "
			       "vendor,model,serial,firmware");
	/* Whole fields: a model prefix or another vendor is no match. */
	CU_ASSERT_TRUE(scpi_idn_matches("Agilent Technologies,N7744A,DE1,1.2",
					keysight, "N7744A"));
	CU_ASSERT_FALSE(scpi_idn_matches("Agilent Technologies,N7744A,DE1,1.2",
					 keysight, "N7744"));
	CU_ASSERT_FALSE(scpi_idn_matches("Keysight Technologies,N7745A-16,S,1",
					 keysight, "N7745A"));
	CU_ASSERT_FALSE(scpi_idn_matches("Acme,N7744A,1,1", keysight, "N7744A"));
	CU_ASSERT_FALSE(scpi_idn_matches("garbage", keysight, "N7744A"));
}

static void test_parse_block(void)
{
	size_t h = 0, d = 0;
	const char *data = NULL;
	kgd_err err;

	CU_ASSERT_EQUAL(scpi_parse_block_header("#15hello", 8, &h, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(h, 3);
	CU_ASSERT_EQUAL(d, 5);
	CU_ASSERT_EQUAL(scpi_parse_block_header("#3012", 5, &h, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(h, 5);
	CU_ASSERT_EQUAL(d, 12);
	CU_ASSERT_EQUAL(scpi_parse_block_header("#0hello\n", 8, &h, &d, &err),
			KGD_ERR_UNSUPPORTED);
	CU_ASSERT_STRING_EQUAL(err.msg, "indefinite-length block (#0) not supported");
	CU_ASSERT_EQUAL(scpi_parse_block_header("#", 1, &h, &d, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_parse_block_header("#31", 3, &h, &d, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "block header truncated (3 of 5 bytes)");
	CU_ASSERT_EQUAL(scpi_parse_block_header("15hello", 7, &h, &d, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_parse_block_header("#A5", 3, &h, &d, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_parse_block_header("#2x5", 4, &h, &d, &err), KGD_ERR_PROTOCOL);

	CU_ASSERT_EQUAL(scpi_parse_block("#15hello", 8, &data, &d, &err), KGD_OK);
	CU_ASSERT_EQUAL(d, 5);
	CU_ASSERT_EQUAL(memcmp(data, "hello", 5), 0);
	CU_ASSERT_EQUAL(scpi_parse_block("#15hel", 6, &data, &d, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "block truncated (3 of 5 data bytes)");
}

/* ---- a loopback SCPI instrument -------------------------------------- */

struct inst {
	tu_peer peer;
	char uri[64];
	char queue[64][48];   /* SYST:ERR? entries, oldest first */
	int nq;
	int bad_idn;          /* after ":BADIDN": *IDN? without its commas */
	int garble;           /* after ":GARBLE": SYST:ERR? is not an error */
};

/* One send per reply: two small sends would meet Nagle and delayed ACK
 * and cost 40 ms each. */
static void reply(int fd, const char *s)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s\n", s);

	tu_send_all(fd, buf, (size_t)n);
}

static void push_error(struct inst *in, const char *e)
{
	if (in->nq < 64)
		snprintf(in->queue[in->nq++], sizeof(in->queue[0]), "%s", e);
}

/* One program message; 0 drops the connection. */
static int inst_answer(void *user, int fd, const char *cmd)
{
	struct inst *in = user;

	if (strcmp(cmd, "*IDN?") == 0) {
		reply(fd, in->bad_idn ? "ACME PM-1" : "ACME,PM-1,SN42,1.0.3");
	} else if (strcmp(cmd, ":BADIDN") == 0) {
		in->bad_idn = 1;
	} else if (strcmp(cmd, ":GARBLE") == 0) {
		in->garble = 1;
	} else if (strcmp(cmd, "SYST:ERR?") == 0 && in->garble) {
		reply(fd, "garbage");
		in->garble = 0;
	} else if (strcmp(cmd, ":UNIT?;:SYST:ERR?") == 0) {
		reply(fd, "1.5 dBm;+0,\"No error\"");
	} else if (strcmp(cmd, ":GARBLED?;:SYST:ERR?") == 0) {
		reply(fd, "1.5;garbage");
	} else if (strcmp(cmd, "*OPC?") == 0) {
		reply(fd, "1");
	} else if (strcmp(cmd, "*CLS") == 0 || strcmp(cmd, "*RST") == 0) {
		in->nq = 0;
	} else if (strcmp(cmd, "SYST:ERR?") == 0) {
		if (in->nq == 0) {
			reply(fd, "+0,\"No error\"");
		} else {
			reply(fd, in->queue[0]);
			memmove(in->queue[0], in->queue[1], sizeof(in->queue[0]) * (size_t)--in->nq);
		}
	} else if (strcmp(cmd, ":SENS1:POW:WAV 1550NM") == 0) {
		/* accepted silently */
	} else if (strcmp(cmd, ":TWOERR") == 0) {
		push_error(in, "-222,\"Data out of range\"");
		push_error(in, "-113,\"Undefined header\"");
	} else if (strcmp(cmd, ":FLOOD") == 0) {
		for (int i = 0; i < 40; i++)
			push_error(in, "-350,\"Queue overflow\"");
	} else if (strcmp(cmd, ":READ1:POW?") == 0) {
		reply(fd, "-1.234E+01\r"); /* CRLF instrument on an LF link */
	} else if (strcmp(cmd, ":OVER?") == 0) {
		reply(fd, "9.9E37");
	} else if (strcmp(cmd, ":NAN?") == 0) {
		reply(fd, "9.91E37");
	} else if (strcmp(cmd, ":UNIT?") == 0) {
		reply(fd, "1.5 dBm");
	} else if (strcmp(cmd, ":COUNT?") == 0) {
		reply(fd, "+16");
	} else if (strcmp(cmd, ":BLOCK?") == 0) {
		reply(fd, "#15hello");
	} else if (strcmp(cmd, ":BIN?") == 0) {
		tu_send_all(fd, "#18\x00\x00\x80\x3f\n\x00\x00\x00\n", 12);
	} else if (strcmp(cmd, ":EMPTY?") == 0) {
		reply(fd, "#10");
	} else if (strcmp(cmd, ":INDEF?") == 0) {
		reply(fd, "#0hello");
	} else if (strcmp(cmd, ":NOTBLOCK?") == 0) {
		reply(fd, "1.0");
	} else if (strcmp(cmd, ":EXTRA?") == 0) {
		reply(fd, "#12hiXYZ");
	} else if (strcmp(cmd, ":TRUNC?") == 0) {
		tu_send_all(fd, "#210abc", 7);
		return 0;
	} else if (strcmp(cmd, ":SILENT?") == 0) {
		/* never answers */
	} else {
		push_error(in, "-113,\"Undefined header\"");
	}
	return 1;
}

static xport *inst_start(struct inst *in, int timeout_ms)
{
	xport *x = NULL;
	kgd_err err;

	memset(in, 0, sizeof(*in));
	CU_ASSERT_FATAL(tu_peer_start(&in->peer, inst_answer, in) == 0);
	snprintf(in->uri, sizeof(in->uri), "%s", in->peer.uri);
	CU_ASSERT_EQUAL(xport_open(in->uri, timeout_ms, &x, &err), KGD_OK);
	return x;
}

static void inst_stop(struct inst *in, xport *x)
{
	xport_close(x);
	tu_peer_join(&in->peer);
}

/* err.msg must be "<uri>: <rest>". */
static void assert_msg(const struct inst *in, const kgd_err *err, const char *rest)
{
	char want[KGD_ERR_MSG_MAX];

	snprintf(want, sizeof(want), "%s: %s", in->uri, rest);
	CU_ASSERT_STRING_EQUAL(err->msg, want);
	if (strcmp(err->msg, want) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err->msg, want);
}

static void test_query_and_errors(void)
{
	struct inst in;
	xport *x = inst_start(&in, 1000);
	struct scpi_idn idn;
	char r[64];
	kgd_err err;

	if (!x)
		goto out;
	CU_ASSERT_EQUAL(scpi_idn(x, &idn, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(idn.vendor, "ACME");
	CU_ASSERT_STRING_EQUAL(idn.model, "PM-1");
	CU_ASSERT_STRING_EQUAL(idn.serial, "SN42");
	CU_ASSERT_STRING_EQUAL(idn.firmware, "1.0.3");
	CU_ASSERT_EQUAL(scpi_query(x, r, sizeof(r), &err, "*%s?", "IDN"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "ACME,PM-1,SN42,1.0.3");
	CU_ASSERT_EQUAL(scpi_opc(x, &err), KGD_OK);

	/* An accepted command: queue drains at the first "+0". */
	CU_ASSERT_EQUAL(scpi_command(x, &err, ":SENS1:POW:WAV %dNM", 1550), KGD_OK);
	/* A bad header: the instrument's text comes through verbatim. */
	CU_ASSERT_EQUAL(scpi_command(x, &err, ":SENS1:POW:WAVX 1550NM"), KGD_ERR_INSTRUMENT);
	assert_msg(&in, &err, "':SENS1:POW:WAVX 1550NM': -113,\"Undefined header\"");
	CU_ASSERT_EQUAL(err.status, KGD_ERR_INSTRUMENT);
	/* The queue was drained: the next command is clean. */
	CU_ASSERT_EQUAL(scpi_check_error(x, NULL, &err), KGD_OK);
	/* Two errors: the first is reported, the other counted. */
	CU_ASSERT_EQUAL(scpi_command(x, &err, ":TWOERR"), KGD_ERR_INSTRUMENT);
	assert_msg(&in, &err, "':TWOERR': -222,\"Data out of range\" (1 more)");
	/* A queue that never drains is bounded. */
	CU_ASSERT_EQUAL(scpi_command(x, &err, ":FLOOD"), KGD_ERR_INSTRUMENT);
	assert_msg(&in, &err, "':FLOOD': -350,\"Queue overflow\" (31 more, queue not drained)");
	CU_ASSERT_EQUAL(scpi_cls(x, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_check_error(x, "*CLS", &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_write(x, &err, ":NOPE"), KGD_OK);
	CU_ASSERT_EQUAL(scpi_check_error(x, NULL, &err), KGD_ERR_INSTRUMENT);
	assert_msg(&in, &err, "-113,\"Undefined header\"");
	CU_ASSERT_EQUAL(scpi_rst(x, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_opc(x, &err), KGD_OK);
out:
	inst_stop(&in, x);
}

static void test_numbers(void)
{
	struct inst in;
	xport *x = inst_start(&in, 1000);
	double v = 0;
	long n = 0;
	kgd_err err;

	if (!x)
		goto out;
	CU_ASSERT_EQUAL(scpi_query_double(x, &v, &err, ":READ%d:POW?", 1), KGD_OK);
	CU_ASSERT_EQUAL(v, -12.34);
	v = 7;
	CU_ASSERT_EQUAL(scpi_query_double(x, &v, &err, ":OVER?"), KGD_ERR_OVERRANGE);
	assert_msg(&in, &err, "':OVER?': no valid value ('9.9E37')");
	CU_ASSERT_EQUAL(v, 7);
	CU_ASSERT_EQUAL(scpi_query_double(x, &v, &err, ":NAN?"), KGD_ERR_OVERRANGE);
	CU_ASSERT_EQUAL(scpi_query_double(x, &v, &err, ":UNIT?"), KGD_ERR_PROTOCOL);
	assert_msg(&in, &err, "':UNIT?': reply '1.5 dBm' is not a number");
	CU_ASSERT_EQUAL(scpi_query_long(x, &n, &err, ":COUNT?"), KGD_OK);
	CU_ASSERT_EQUAL(n, 16);
out:
	inst_stop(&in, x);
}

/* A NULL error context drops the message, never the status (status.h):
 * a reply that does not parse is KGD_ERR_PROTOCOL with or without one. */
static void test_null_err_keeps_status(void)
{
	struct inst in;
	xport *x = inst_start(&in, 1000);
	struct scpi_idn idn;
	double v = 0;
	kgd_err err;

	if (!x)
		goto out;
	CU_ASSERT_EQUAL(scpi_measure_double(x, &v, NULL, ":UNIT?"), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_measure_double(x, &v, &err, ":UNIT?"), KGD_ERR_PROTOCOL);
	assert_msg(&in, &err, "':UNIT?': reply '1.5 dBm' is not a number");
	CU_ASSERT_EQUAL(scpi_measure_double(x, &v, NULL, ":GARBLED?"), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_command(x, NULL, ":GARBLE"), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_write(x, NULL, ":BADIDN"), KGD_OK);
	CU_ASSERT_EQUAL(scpi_idn(x, &idn, NULL), KGD_ERR_PROTOCOL);
	CU_ASSERT_EQUAL(scpi_idn(x, &idn, &err), KGD_ERR_PROTOCOL);
	assert_msg(&in, &err, "'*IDN?': reply 'ACME PM-1' is not vendor,model,serial,firmware");
out:
	inst_stop(&in, x);
}

static void test_timeout_names_command(void)
{
	struct inst in;
	xport *x = inst_start(&in, 200);
	char r[32];
	kgd_err err;

	if (!x)
		goto out;
	CU_ASSERT_EQUAL(scpi_query(x, r, sizeof(r), &err, ":SILENT?"), KGD_ERR_TIMEOUT);
	assert_msg(&in, &err, "':SILENT?': no reply within 200 ms");
out:
	inst_stop(&in, x);
}

/* A long compound message (many lanes' settings on one line) is quoted
 * cut to 160 characters, so the instrument's reason, or the transport's,
 * still ends the message. */
static void test_long_command_quoted_cut(void)
{
	struct inst in;
	xport *x = inst_start(&in, 200);
	char cmd[400] = "", want[KGD_ERR_MSG_MAX], r[32];
	size_t used = 0;
	kgd_err err;

	if (!x)
		goto out;
	for (int i = 1; i <= 16; i++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used,
					 "%s:SENS%d:POW:WAV 1550NM", i > 1 ? ";" : "", i);
	CU_ASSERT_FATAL(used > 160 && used < sizeof(cmd));
	CU_ASSERT_EQUAL(scpi_command(x, &err, "%s", cmd), KGD_ERR_INSTRUMENT);
	snprintf(want, sizeof(want), "'%.160s...': -113,\"Undefined header\"", cmd);
	assert_msg(&in, &err, want);
	/* A query nobody answers: the timeout after the cut quote. */
	CU_ASSERT_EQUAL(scpi_query(x, r, sizeof(r), &err, "%s?", cmd), KGD_ERR_TIMEOUT);
	snprintf(want, sizeof(want), "'%.160s...': no reply within 200 ms", cmd);
	assert_msg(&in, &err, want);
out:
	inst_stop(&in, x);
}

static void test_query_block(void)
{
	struct inst in;
	xport *x = inst_start(&in, 500);
	uint8_t *d = NULL;
	size_t len = 99;
	float f[2];
	char r[32];
	kgd_err err;

	if (!x)
		goto out;
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":BLOCK?"), KGD_OK);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT(d && memcmp(d, "hello", 5) == 0);
	free(d);
	/* Binary payload with LF and NUL inside: 1.0f, then raw bytes. */
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":BIN?"), KGD_OK);
	CU_ASSERT_EQUAL(len, 8);
	if (d && len == 8) {
		memcpy(f, d, 8);
		CU_ASSERT_EQUAL(f[0], 1.0f);
		CU_ASSERT_EQUAL(d[4], '\n');
	}
	free(d);
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":EMPTY?"), KGD_OK);
	CU_ASSERT_EQUAL(len, 0);
	free(d);
	/* The link stays in step after each block. */
	CU_ASSERT_EQUAL(scpi_query(x, r, sizeof(r), &err, "*OPC?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "1");

	d = (uint8_t *)r;
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":INDEF?"), KGD_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(d);
	assert_msg(&in, &err, "':INDEF?': indefinite-length block (#0) not supported");
	/* The rest of the refused reply was consumed: the link is in step. */
	CU_ASSERT_EQUAL(scpi_opc(x, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":EXTRA?"), KGD_ERR_PROTOCOL);
	assert_msg(&in, &err, "':EXTRA?': 3 unexpected bytes after block");
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":NOTBLOCK?"), KGD_ERR_PROTOCOL);
	assert_msg(&in, &err, "':NOTBLOCK?': expected a block ('#'), got 0x31");
	CU_ASSERT_EQUAL(scpi_opc(x, &err), KGD_OK);
	/* Ten bytes announced, three sent, then the peer hangs up. */
	CU_ASSERT_EQUAL(scpi_query_block(x, &d, &len, &err, ":TRUNC?"), KGD_ERR_CLOSED);
	CU_ASSERT_PTR_NULL(d);
	assert_msg(&in, &err, "':TRUNC?': connection closed by peer");
out:
	inst_stop(&in, x);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("scpi", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "parse numbers and no-valid-value", test_parse_double);
	CU_add_test(s, "parse is locale-independent", test_parse_double_locale);
	CU_add_test(s, "parse integers", test_parse_long);
	CU_add_test(s, "parse SYST:ERR? replies", test_parse_error);
	CU_add_test(s, "parse *IDN? replies", test_parse_idn);
	CU_add_test(s, "parse definite-length blocks", test_parse_block);
	CU_add_test(s, "query, command, error queue", test_query_and_errors);
	CU_add_test(s, "numbers over the wire", test_numbers);
	CU_add_test(s, "NULL error context keeps the status", test_null_err_keeps_status);
	CU_add_test(s, "timeout names URI and command", test_timeout_names_command);
	CU_add_test(s, "long commands are quoted cut", test_long_command_quoted_cut);
	CU_add_test(s, "query_block over TCP", test_query_block);
	return 0;
}
