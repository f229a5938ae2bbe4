/*
 * tests/test_xport.c - the transports against real peers: a loopback TCP
 * server thread and a pseudo-terminal whose master side the test drives.
 * Nothing below the transport is mocked; only USB is absent, so usbtmc://
 * is checked for its not-found message.
 *
 * Every peer stops by itself (it exits when the client closes, and after
 * an idle limit), every thread is joined, and every timeout used here is
 * short, so the program ends in bounded time.
 */
/* posix_openpt/grantpt/unlockpt/ptsname are XSI, beyond _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kgd/xport.h"
#include "scan.h"
#include "testutil.h"


static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- loopback TCP peer ------------------------------------------------ */

static void send_str(int fd, const char *s)
{
	tu_send_all(fd, s, strlen(s));
}

/* Answer one command line; returns 0 to drop the connection. */
static int peer_answer(void *user, int fd, const char *line)
{
	char big[200];

	(void)user;

	if (strncmp(line, "ECHO ", 5) == 0) {
		send_str(fd, line + 5);
		send_str(fd, "\n");
	} else if (strcmp(line, "TWO") == 0) {
		send_str(fd, "one\ntwo\n"); /* one segment, two replies */
	} else if (strcmp(line, "NOTERM") == 0) {
		send_str(fd, "abc");
	} else if (strcmp(line, "LONG") == 0) {
		memset(big, 'x', 100);
		big[100] = '\n';
		tu_send_all(fd, big, 101);
		send_str(fd, "after\n");
	} else if (strcmp(line, "SPLIT") == 0) {
		send_str(fd, "sp");
		sleep_ms(50);
		send_str(fd, "lit\n");
	} else if (strcmp(line, "BIN") == 0) {
		tu_send_all(fd, "\x00\x01\n\x02\x03tail\n", 10);
	} else if (strcmp(line, "HALF") == 0) {
		send_str(fd, "par");
		return 0;
	}
	/* Anything else (e.g. SILENT) gets no reply, like an instrument that
	 * does not know the command. */
	return 1;
}

/* Open a TCP transport to a fresh peer. */
static xport *tcp_open_peer(tu_peer *p, int timeout_ms)
{
	xport *x = NULL;
	kgd_err err;

	CU_ASSERT_FATAL(tu_peer_start(p, peer_answer, NULL) == 0);
	CU_ASSERT_EQUAL(xport_open(p->uri, timeout_ms, &x, &err), KGD_OK);
	if (!x)
		fprintf(stderr, "open %s: %s\n", p->uri, err.msg);
	return x;
}

static void test_tcp_roundtrip(void)
{
	tu_peer p;
	xport *x = tcp_open_peer(&p, 1000);
	char line[64];
	size_t len = 0;

	if (x) {
		CU_ASSERT_STRING_EQUAL(xport_uri(x), p.uri);
		CU_ASSERT_EQUAL(xport_timeout(x), 1000);
		CU_ASSERT_STRING_EQUAL(xport_terminator(x), "\n");
		CU_ASSERT_EQUAL(xport_write_line(x, "ECHO hello world", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), &len, NULL), KGD_OK);
		CU_ASSERT_STRING_EQUAL(line, "hello world");
		CU_ASSERT_EQUAL(len, 11);
		/* A reply that arrives in two pieces is still one line. */
		CU_ASSERT_EQUAL(xport_write(x, "SPLIT\n", 6, NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), &len, NULL), KGD_OK);
		CU_ASSERT_STRING_EQUAL(line, "split");
	}
	xport_close(x);
	tu_peer_join(&p);
}

static void test_tcp_leftover(void)
{
	tu_peer p;
	xport *x = tcp_open_peer(&p, 1000);
	char line[64], bin[5];

	if (x) {
		/* Both replies arrive in one segment; the second must survive. */
		CU_ASSERT_EQUAL(xport_write_line(x, "TWO", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, NULL), KGD_OK);
		CU_ASSERT_STRING_EQUAL(line, "one");
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, NULL), KGD_OK);
		CU_ASSERT_STRING_EQUAL(line, "two");
		/* Binary read_n, with an LF inside, then the line after it. */
		CU_ASSERT_EQUAL(xport_write_line(x, "BIN", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_n(x, bin, 5, NULL), KGD_OK);
		CU_ASSERT_EQUAL(memcmp(bin, "\x00\x01\n\x02\x03", 5), 0);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, NULL), KGD_OK);
		CU_ASSERT_STRING_EQUAL(line, "tail");
	}
	xport_close(x);
	tu_peer_join(&p);
}

static void test_tcp_timeout(void)
{
	tu_peer p;
	xport *x = tcp_open_peer(&p, 200);
	char line[64], want[160];
	long long t0, dt;
	kgd_err err;

	if (x) {
		CU_ASSERT_EQUAL(xport_write_line(x, "SILENT", NULL), KGD_OK);
		t0 = now_ms();
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, &err),
				KGD_ERR_TIMEOUT);
		dt = now_ms() - t0;
		CU_ASSERT(dt >= 190 && dt < 1000);
		snprintf(want, sizeof(want), "%s: no reply within 200 ms", p.uri);
		CU_ASSERT_STRING_EQUAL(err.msg, want);
		CU_ASSERT_EQUAL(err.status, KGD_ERR_TIMEOUT);

		/* Part of a reply, then silence: the message says so. */
		xport_set_timeout(x, 150);
		CU_ASSERT_EQUAL(xport_write_line(x, "NOTERM", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, &err),
				KGD_ERR_TIMEOUT);
		snprintf(want, sizeof(want),
			 "%s: reply incomplete after 150 ms (3 bytes without terminator)", p.uri);
		CU_ASSERT_STRING_EQUAL(err.msg, want);

		/* read_n short of its count times out too, naming the count. */
		CU_ASSERT_EQUAL(xport_write_line(x, "SILENT", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_n(x, line, 4, &err), KGD_ERR_TIMEOUT);
		snprintf(want, sizeof(want), "%s: got 0 of 4 bytes within 150 ms", p.uri);
		CU_ASSERT_STRING_EQUAL(err.msg, want);
	}
	xport_close(x);
	tu_peer_join(&p);
}

static void test_tcp_long_reply(void)
{
	tu_peer p;
	xport *x = tcp_open_peer(&p, 1000);
	char line[16], want[160];
	size_t len = 99;
	kgd_err err;

	if (x) {
		CU_ASSERT_EQUAL(xport_write_line(x, "LONG", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), &len, &err),
				KGD_ERR_PROTOCOL);
		snprintf(want, sizeof(want), "%s: reply of 100 bytes longer than buffer (15)",
			 p.uri);
		CU_ASSERT_STRING_EQUAL(err.msg, want);
		CU_ASSERT_EQUAL(strlen(line), 15); /* truncated, still terminated */
		/* The over-long reply was consumed whole: the next one is intact. */
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), &len, NULL), KGD_OK);
		CU_ASSERT_STRING_EQUAL(line, "after");
	}
	xport_close(x);
	tu_peer_join(&p);
}

static void test_tcp_disconnect(void)
{
	tu_peer p;
	xport *x = tcp_open_peer(&p, 1000);
	char line[64], want[160];
	kgd_err err;

	if (x) {
		CU_ASSERT_EQUAL(xport_write_line(x, "HALF", NULL), KGD_OK);
		CU_ASSERT_EQUAL(xport_read_line(x, line, sizeof(line), NULL, &err),
				KGD_ERR_CLOSED);
		snprintf(want, sizeof(want), "%s: connection closed by peer", p.uri);
		CU_ASSERT_STRING_EQUAL(err.msg, want);
	}
	xport_close(x);
	tu_peer_join(&p);
}

static void test_tcp_refused(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	char uri[64], want[160];
	xport *x = (xport *)&a;
	kgd_err err;
	int fd;

	/* A port bound but not listening refuses, and nobody else can take
	 * it while we hold it. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	CU_ASSERT_EQUAL(xport_open(uri, 500, &x, &err), KGD_ERR_IO);
	CU_ASSERT_PTR_NULL(x);
	snprintf(want, sizeof(want), "%s: connect: Connection refused", uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	close(fd);
}

/* ---- URIs that must be refused before anything is opened ------------- */

static void expect_open_error(const char *uri, int status, const char *msg)
{
	xport *x = NULL;
	kgd_err err;

	kgd_err_clear(&err);
	CU_ASSERT_EQUAL(xport_open(uri, 200, &x, &err), status);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_STRING_EQUAL(err.msg, msg);
	if (strcmp(err.msg, msg) != 0)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err.msg, msg);
	xport_close(x);
}

static void test_bad_uris(void)
{
	expect_open_error("gpib://0/12", KGD_ERR_ARG,
			  "gpib://0/12: unknown scheme 'gpib' (expected tcp, serial or usbtmc)");
	expect_open_error("127.0.0.1:5025", KGD_ERR_ARG,
			  "127.0.0.1:5025: not a transport URI (expected scheme://..., "
			  "e.g. tcp://host:5025)");
	expect_open_error("tcp://127.0.0.1:99999", KGD_ERR_ARG,
			  "tcp://127.0.0.1:99999: bad port '99999' (expected 1..65535)");
	expect_open_error("tcp://127.0.0.1:50x", KGD_ERR_ARG,
			  "tcp://127.0.0.1:50x: bad port '50x' (expected 1..65535)");
	expect_open_error("tcp://127.0.0.1", KGD_ERR_ARG,
			  "tcp://127.0.0.1: missing port (expected tcp://host:port)");
	expect_open_error("tcp://127.0.0.1:5025?baud=9600", KGD_ERR_ARG,
			  "tcp://127.0.0.1:5025?baud=9600: unknown parameter 'baud' for tcp://");
	expect_open_error("serial:///dev/ttyUSB0?baud=fast", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?baud=fast: bad baud 'fast' (expected a rate "
			  "such as 115200)");
	expect_open_error("serial:///dev/ttyUSB0?baud=-9600", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?baud=-9600: bad baud '-9600' (expected a rate "
			  "such as 115200)");
	expect_open_error("serial:///dev/ttyUSB0?baud=9600&speed=1", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?baud=9600&speed=1: unknown parameter 'speed' "
			  "for serial://");
	expect_open_error("serial:///dev/ttyUSB0?parity=maybe", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?parity=maybe: bad parity 'maybe' (expected "
			  "none, odd, even, mark or space)");
	expect_open_error("serial:///dev/ttyUSB0?stop=3", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?stop=3: bad stop '3' (expected 1 or 2)");
	expect_open_error("serial:///dev/ttyUSB0?bits=9", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?bits=9: bad bits '9' (expected 5..8)");
	expect_open_error("serial:///dev/ttyUSB0?term=nl", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?term=nl: bad term 'nl' (expected lf, crlf or cr)");
	expect_open_error("serial:///dev/ttyUSB0?baud", KGD_ERR_ARG,
			  "serial:///dev/ttyUSB0?baud: malformed parameter 'baud' (expected "
			  "key=value)");
	expect_open_error("serial://ttyUSB0", KGD_ERR_ARG,
			  "serial://ttyUSB0: expected an absolute device path "
			  "(serial:///dev/ttyUSB0?baud=...)");
	expect_open_error("serial:///dev/kgd-no-such-port?baud=9600", KGD_ERR_NOT_FOUND,
			  "serial:///dev/kgd-no-such-port?baud=9600: no such port "
			  "/dev/kgd-no-such-port");
	expect_open_error("serial:///dev/null?baud=9600", KGD_ERR_IO,
			  "serial:///dev/null?baud=9600: /dev/null is not a serial port");
	expect_open_error("usbtmc://13:8078", KGD_ERR_ARG,
			  "usbtmc://13:8078: malformed address (expected "
			  "usbtmc://VVVV:PPPP[/SERIAL], hexadecimal VID and PID)");
	expect_open_error("usbtmc://1313:8078/", KGD_ERR_ARG,
			  "usbtmc://1313:8078/: malformed address (expected "
			  "usbtmc://VVVV:PPPP[/SERIAL], hexadecimal VID and PID)");
}

static void test_usbtmc_not_found(void)
{
	static const char *const uri[] = {"usbtmc://1313:8078", "usbtmc://1313:8078/P0027168"};
	xport *x = NULL;
	kgd_err err;

	/* No USB hardware here (maybe no USB at all): not found, naming the
	 * URI and the device asked for, whatever libusb_init said. */
	for (int i = 0; i < 2; i++) {
		char want[200];

		CU_ASSERT_EQUAL(xport_open(uri[i], 200, &x, &err), KGD_ERR_NOT_FOUND);
		CU_ASSERT_PTR_NULL(x);
		snprintf(want, sizeof(want), "%s: no USBTMC device 1313:8078", uri[i]);
		CU_ASSERT_EQUAL(strncmp(err.msg, want, strlen(want)), 0);
	}
}

/* ---- pseudo-terminal peer -------------------------------------------- */

/* The master side of a fresh pty; *uri names its slave. */
static int pty_master(char *uri, size_t cap, const char *params)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	const char *slave;

	CU_ASSERT_FATAL(m >= 0);
	CU_ASSERT_FATAL(grantpt(m) == 0 && unlockpt(m) == 0);
	slave = ptsname(m);
	CU_ASSERT_FATAL(slave != NULL);
	snprintf(uri, cap, "serial://%s?%s", slave, params);
	return m;
}

/* Read exactly n bytes from the master within 1 s; returns bytes read. */
static size_t master_read(int m, char *buf, size_t n)
{
	struct pollfd pfd = {.fd = m, .events = POLLIN};
	size_t got = 0;

	while (got < n && poll(&pfd, 1, 1000) == 1) {
		ssize_t r = read(m, buf + got, n - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void test_pty_roundtrip(void)
{
	char uri[128], buf[64];
	xport *x = NULL;
	size_t len = 0;
	kgd_err err;
	int m = pty_master(uri, sizeof(uri), "baud=115200");

	CU_ASSERT_EQUAL_FATAL(xport_open(uri, 500, &x, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(xport_uri(x), uri);
	/* Raw mode: the LF reaches the peer as LF (no CR added, no echo). */
	CU_ASSERT_EQUAL(xport_write_line(x, "*IDN?", &err), KGD_OK);
	CU_ASSERT_EQUAL(master_read(m, buf, 6), 6);
	CU_ASSERT_EQUAL(memcmp(buf, "*IDN?\n", 6), 0);
	CU_ASSERT_EQUAL(write(m, "ACME,PTY,1,0\n", 13), 13);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), &len, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "ACME,PTY,1,0");
	CU_ASSERT_EQUAL(len, 12);
	/* Two replies in one write: the second is kept for the next read. */
	CU_ASSERT_EQUAL(write(m, "one\ntwo\n", 8), 8);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "one");
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "two");
	xport_close(x);
	close(m);
}

static void test_pty_crlf(void)
{
	char uri[128], buf[64];
	xport *x = NULL;
	kgd_err err;
	int m = pty_master(uri, sizeof(uri), "baud=38400&parity=none&stop=1&bits=8&term=crlf");

	CU_ASSERT_EQUAL_FATAL(xport_open(uri, 500, &x, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(xport_terminator(x), "\r\n");
	CU_ASSERT_EQUAL(xport_write_line(x, "PM:P?", &err), KGD_OK);
	CU_ASSERT_EQUAL(master_read(m, buf, 7), 7);
	CU_ASSERT_EQUAL(memcmp(buf, "PM:P?\r\n", 7), 0);
	/* A lone CR inside a reply is data; only CR LF ends it. */
	CU_ASSERT_EQUAL(write(m, "1.5E-3\r\na\rb\r\n", 13), 13);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "1.5E-3");
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "a\rb");
	xport_close(x);
	close(m);
}

static void test_pty_timeout_and_hangup(void)
{
	char uri[128], buf[64], want[200];
	xport *x = NULL;
	long long t0, dt;
	kgd_err err;
	int m = pty_master(uri, sizeof(uri), "baud=115200");

	CU_ASSERT_EQUAL_FATAL(xport_open(uri, 200, &x, &err), KGD_OK);
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_ERR_TIMEOUT);
	dt = now_ms() - t0;
	CU_ASSERT(dt >= 190 && dt < 1000);
	snprintf(want, sizeof(want), "%s: no reply within 200 ms", uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	/* Half a reply, then the far end goes away. */
	CU_ASSERT_EQUAL(write(m, "par", 3), 3);
	close(m);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_ERR_CLOSED);
	snprintf(want, sizeof(want), "%s: port hung up", uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	xport_close(x);
}

/* ---- discovery ------------------------------------------------------- */

static void scan_count(const xport_scan_dev *d, void *user)
{
	int *n = user;
	size_t k = strlen(d->kind);

	/* Whatever this machine has, each entry is self-consistent. */
	CU_ASSERT(strcmp(d->kind, "serial") == 0 || strcmp(d->kind, "usbtmc") == 0);
	CU_ASSERT(strncmp(d->uri, d->kind, k) == 0 && strncmp(d->uri + k, "://", 3) == 0);
	CU_ASSERT_PTR_NOT_NULL(d->description);
	CU_ASSERT_PTR_NOT_NULL(d->serial);
	(*n)++;
}

static void test_scan(void)
{
	kgd_err err;
	int n = 0;

	kgd_err_clear(&err);
	CU_ASSERT_EQUAL(xport_scan(scan_count, NULL, &n, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(err.msg, "");
	CU_ASSERT(n >= 0);
	CU_ASSERT_EQUAL(xport_scan(NULL, NULL, NULL, &err), KGD_ERR_ARG);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("xport", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "tcp: write, read_line, split reply", test_tcp_roundtrip);
	CU_add_test(s, "tcp: leftover bytes, read_n", test_tcp_leftover);
	CU_add_test(s, "tcp: timeouts name the URI", test_tcp_timeout);
	CU_add_test(s, "tcp: reply longer than buffer", test_tcp_long_reply);
	CU_add_test(s, "tcp: peer closes mid-reply", test_tcp_disconnect);
	CU_add_test(s, "tcp: connection refused", test_tcp_refused);
	CU_add_test(s, "malformed URIs", test_bad_uris);
	CU_add_test(s, "usbtmc: no device", test_usbtmc_not_found);
	CU_add_test(s, "pty: write, read_line, leftover", test_pty_roundtrip);
	CU_add_test(s, "pty: term=crlf", test_pty_crlf);
	CU_add_test(s, "pty: timeout, hang-up mid-reply", test_pty_timeout_and_hangup);
	CU_add_test(s, "scan", test_scan);
	return 0;
}
