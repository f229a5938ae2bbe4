/*
 * tests/test_xport_abort.c - the transports' abort (kgd/xport.h, "abort"):
 * a wait of a minute ends within a slice of the abort flag being set, from
 * a thread or from a real signal handler; a new exchange after the abort
 * gets its one slice of grace; xport_abort_suspend() lets cleanup wait to
 * the timeout; the reply of an abandoned read is not taken for the next
 * one. Real peers: a loopback TCP listener the test itself accepts on, and
 * a pseudo-terminal whose master side the test drives.
 *
 * Every wait here is bounded (the longest a 60 s timeout that the abort
 * must cut), every thread is joined, and the abort flag is cleared and
 * handed back (NULL) after each test, so one failure cannot hang the rest.
 */
/* posix_openpt/grantpt/unlockpt/ptsname are XSI, beyond _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kgd/xport.h"

static volatile sig_atomic_t flag;

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

/* Each test is a new run: flag clear, handed over afresh. */
static void fresh(void)
{
	flag = 0;
	xport_set_abort_flag(&flag);
}

static int suite_init(void)
{
	fresh();
	return 0;
}

static int suite_clean(void)
{
	xport_set_abort_flag(NULL);
	return 0;
}

/* ---- peers --------------------------------------------------------------- */

/* A listener on 127.0.0.1 with an ephemeral port. The kernel completes a
 * client's connect from the backlog, so the test opens the transport first
 * and accepts after: the accepted socket is the instrument, silent unless
 * the test writes to it. */
static int listener(char *uri, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(listen(fd, 4) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	snprintf(uri, cap, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	return fd;
}

/* Open uri with timeout_ms and accept its connection on lfd. */
static xport *open_tcp(const char *uri, int lfd, int timeout_ms, int *peer)
{
	xport *x = NULL;
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(xport_open(uri, timeout_ms, &x, &err), KGD_OK);
	*peer = accept(lfd, NULL, NULL);
	CU_ASSERT_FATAL(*peer >= 0);
	return x;
}

static int pty_master(char *uri, size_t cap)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	const char *slave;

	CU_ASSERT_FATAL(m >= 0);
	CU_ASSERT_FATAL(grantpt(m) == 0 && unlockpt(m) == 0);
	slave = ptsname(m);
	CU_ASSERT_FATAL(slave != NULL);
	snprintf(uri, cap, "serial://%s?baud=115200", slave);
	return m;
}

/* ---- who sets the flag --------------------------------------------------- */

typedef struct setter {
	pthread_t th;
	int after_ms;
	pthread_t target;   /* signalled with SIGUSR1 when by_signal */
	int by_signal;
	int trickle_fd;     /* >= 0: send a byte every 20 ms until the flag */
} setter;

static void on_usr1(int sig)
{
	(void)sig;
	flag = 1;
}

static void *setter_main(void *arg)
{
	setter *s = arg;
	long long at = now_ms() + s->after_ms;

	while (now_ms() < at) {
		if (s->trickle_fd >= 0 && write(s->trickle_fd, "x", 1) != 1)
			break;
		sleep_ms(s->trickle_fd >= 0 ? 20 : 5);
	}
	if (s->by_signal)
		pthread_kill(s->target, SIGUSR1);
	else
		__atomic_store_n(&flag, 1, __ATOMIC_RELAXED);
	/* A trickling instrument keeps trickling after the abort. */
	for (int i = 0; s->trickle_fd >= 0 && i < 50; i++) {
		if (write(s->trickle_fd, "x", 1) != 1)
			break;
		sleep_ms(20);
	}
	return NULL;
}

/* Set the flag after_ms from now, on a thread (the wait ends on its next
 * slice) or through SIGUSR1 to this thread (poll returns EINTR at once). */
static void setter_start(setter *s, int after_ms, int by_signal, int trickle_fd)
{
	memset(s, 0, sizeof(*s));
	s->after_ms = after_ms;
	s->by_signal = by_signal;
	s->target = pthread_self();
	s->trickle_fd = trickle_fd;
	if (by_signal) {
		struct sigaction sa;

		/* No SA_RESTART, as the station installs its handlers. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
	}
	CU_ASSERT_FATAL(pthread_create(&s->th, NULL, setter_main, s) == 0);
}

static void setter_join(setter *s)
{
	pthread_join(s->th, NULL);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- tests --------------------------------------------------------------- */

/* A 60 s read ends within a slice of the abort, with the URI and the
 * reason; the same through a signal handler. */
static void read_aborted(int by_signal)
{
	char uri[64], buf[64], want[128];
	int lfd = listener(uri, sizeof(uri)), peer;
	xport *x = open_tcp(uri, lfd, 60000, &peer);
	long long t0, dt;
	setter s;
	kgd_err err;

	fresh();
	setter_start(&s, 300, by_signal, -1);
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err),
			KGD_ERR_ABORTED);
	dt = now_ms() - t0;
	setter_join(&s);
	CU_ASSERT_TRUE(dt >= 290 && dt < 300 + XPORT_ABORT_SLICE_MS + 200);
	snprintf(want, sizeof(want), "%s: aborted while waiting for a reply", uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	flag = 0;
	xport_close(x);
	close(peer);
	close(lfd);
}

static void test_tcp_read_aborted(void)
{
	read_aborted(0);
}

static void test_tcp_read_aborted_by_signal(void)
{
	read_aborted(1);
}

/* An instrument trickling bytes without ever ending its reply never lets
 * a single wait last a slice: the read as a whole still ends. */
static void test_tcp_trickle_aborted(void)
{
	char uri[64], buf[4096];
	int lfd = listener(uri, sizeof(uri)), peer;
	xport *x = open_tcp(uri, lfd, 60000, &peer);
	long long t0, dt;
	setter s;
	kgd_err err;

	fresh();
	setter_start(&s, 300, 0, peer);
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err),
			KGD_ERR_ABORTED);
	dt = now_ms() - t0;
	CU_ASSERT_TRUE(dt < 300 + XPORT_ABORT_SLICE_MS + 200);
	setter_join(&s);
	flag = 0;
	xport_close(x);
	close(peer);
	close(lfd);
}

/* A peer that reads nothing: the socket buffers fill and the write waits.
 * The abort ends that wait too. */
static void test_tcp_write_aborted(void)
{
	enum { BIG = 64 << 20 };
	char uri[64], want[128];
	int lfd = listener(uri, sizeof(uri)), peer;
	xport *x = open_tcp(uri, lfd, 60000, &peer);
	char *big = calloc(1, BIG);
	long long t0, dt;
	setter s;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	fresh();
	setter_start(&s, 300, 0, -1);
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_write(x, big, BIG, &err), KGD_ERR_ABORTED);
	dt = now_ms() - t0;
	setter_join(&s);
	CU_ASSERT_TRUE(dt < 300 + XPORT_ABORT_SLICE_MS + 200);
	snprintf(want, sizeof(want), "%s: aborted while waiting to send", uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	flag = 0;
	free(big);
	xport_close(x);
	close(peer);
	close(lfd);
}

/* After the abort: an exchange with a responsive instrument (reply within
 * a slice) still completes - what a safe-state command nobody marked as
 * cleanup relies on, however long after the abort it comes - while a
 * silent one ends after one slice, not its timeout. */
static void test_grace_after_abort(void)
{
	char uri[64], buf[64], cmd[16];
	int lfd = listener(uri, sizeof(uri)), peer;
	xport *x = open_tcp(uri, lfd, 60000, &peer);
	long long t0, dt;
	kgd_err err;

	fresh();
	flag = 1;
	CU_ASSERT_EQUAL(xport_abort_pending(), 1);
	CU_ASSERT_EQUAL(xport_write_line(x, "OUTP OFF", &err), KGD_OK);
	CU_ASSERT_EQUAL(recv(peer, cmd, sizeof(cmd), 0), 9);
	CU_ASSERT_EQUAL(send(peer, "0\n", 2, 0), 2);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "0");
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err),
			KGD_ERR_ABORTED);
	dt = now_ms() - t0;
	CU_ASSERT_TRUE(dt >= XPORT_ABORT_SLICE_MS - 10 &&
		       dt < XPORT_ABORT_SLICE_MS + 200);
	/* Long after the abort, still one slice each. */
	sleep_ms(1000);
	CU_ASSERT_EQUAL(xport_write_line(x, "OUTP2 0", &err), KGD_OK);
	CU_ASSERT_EQUAL(recv(peer, cmd, sizeof(cmd), 0), 8);
	CU_ASSERT_EQUAL(send(peer, "0\n", 2, 0), 2);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	flag = 0;
	xport_close(x);
	close(peer);
	close(lfd);
}

/* Cleanup in progress: while suspended the flag is ignored and a read
 * runs to its timeout. Suspends nest; an unmatched resume is ignored. */
static void test_suspend(void)
{
	char uri[64], buf[64];
	int lfd = listener(uri, sizeof(uri)), peer;
	xport *x = open_tcp(uri, lfd, 400, &peer);
	long long t0, dt;
	kgd_err err;

	fresh();
	flag = 1;
	xport_abort_suspend(1);
	CU_ASSERT_EQUAL(xport_abort_pending(), 0);
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err),
			KGD_ERR_TIMEOUT);
	dt = now_ms() - t0;
	CU_ASSERT_TRUE(dt >= 390 && dt < 1000);
	xport_abort_suspend(1);
	xport_abort_suspend(0);
	CU_ASSERT_EQUAL(xport_abort_pending(), 0);
	xport_abort_suspend(0);
	CU_ASSERT_EQUAL(xport_abort_pending(), 1);
	xport_abort_suspend(0);     /* unmatched: no effect */
	xport_abort_suspend(1);
	CU_ASSERT_EQUAL(xport_abort_pending(), 0);
	xport_abort_suspend(0);
	CU_ASSERT_EQUAL(xport_abort_pending(), 1);
	/* No flag, no abort. */
	xport_set_abort_flag(NULL);
	CU_ASSERT_EQUAL(xport_abort_pending(), 0);
	xport_set_abort_flag(&flag);
	flag = 0;
	CU_ASSERT_EQUAL(xport_abort_pending(), 0);
	xport_close(x);
	close(peer);
	close(lfd);
}

/* The reply of the read the abort cut short arrives late. The next
 * command's reply must be its own, not that one. */
static void test_abandoned_reply_dropped(void)
{
	char uri[64], buf[64], cmd[16];
	int lfd = listener(uri, sizeof(uri)), peer;
	xport *x = open_tcp(uri, lfd, 60000, &peer);
	kgd_err err;
	setter s;

	fresh();
	setter_start(&s, 150, 0, -1);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err),
			KGD_ERR_ABORTED);
	setter_join(&s);
	flag = 0;
	CU_ASSERT_EQUAL(send(peer, "stale reply\n", 12, 0), 12);
	sleep_ms(50);
	CU_ASSERT_EQUAL(xport_write_line(x, "LAS:OFF?", &err), KGD_OK);
	CU_ASSERT_EQUAL(recv(peer, cmd, sizeof(cmd), 0), 9);
	CU_ASSERT_EQUAL(send(peer, "OFF\n", 4, 0), 4);
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(buf, "OFF");
	xport_close(x);
	close(peer);
	close(lfd);
}

/* The serial transport (a pty, as the ELSFP adapter): a 60 s read ends
 * within a slice of the abort. */
static void test_pty_read_aborted(void)
{
	char uri[128], buf[64], want[200];
	int m = pty_master(uri, sizeof(uri));
	long long t0, dt;
	xport *x = NULL;
	kgd_err err;
	setter s;

	fresh();
	CU_ASSERT_EQUAL_FATAL(xport_open(uri, 60000, &x, &err), KGD_OK);
	setter_start(&s, 300, 0, -1);
	t0 = now_ms();
	CU_ASSERT_EQUAL(xport_read_line(x, buf, sizeof(buf), NULL, &err),
			KGD_ERR_ABORTED);
	dt = now_ms() - t0;
	setter_join(&s);
	CU_ASSERT_TRUE(dt >= 290 && dt < 300 + XPORT_ABORT_SLICE_MS + 200);
	snprintf(want, sizeof(want), "%s: aborted while waiting for a reply", uri);
	CU_ASSERT_STRING_EQUAL(err.msg, want);
	flag = 0;
	xport_close(x);
	close(m);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("xport_abort", suite_init, suite_clean);

	if (!s)
		return -1;
	CU_add_test(s, "tcp: 60 s read ends on the abort", test_tcp_read_aborted);
	CU_add_test(s, "tcp: 60 s read ends on a signal's abort",
		    test_tcp_read_aborted_by_signal);
	CU_add_test(s, "tcp: trickling reply ends on the abort",
		    test_tcp_trickle_aborted);
	CU_add_test(s, "tcp: blocked write ends on the abort", test_tcp_write_aborted);
	CU_add_test(s, "one slice of grace after the abort", test_grace_after_abort);
	CU_add_test(s, "suspend: cleanup waits to the timeout", test_suspend);
	CU_add_test(s, "an abandoned reply is not the next one's",
		    test_abandoned_reply_dropped);
	CU_add_test(s, "pty: 60 s read ends on the abort", test_pty_read_aborted);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
