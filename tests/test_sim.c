/*
 * tests/test_sim.c - the virtual station (kgd-vstation) as a black box: a
 * real child process, a real TCP socket, plain POSIX on this side so the
 * simulator is tested independently of the project's transports.
 *
 * Invariant: every child this file starts is recorded in children[] and
 * killed and reaped in the suite cleanup, whatever failed; each child also
 * runs with --lifetime-s as a backstop.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"

#define VSTATION TU_VSTATION_BIN
#define IO_TIMEOUT_MS 3000
#define MAX_CHILDREN 16

static tu_vstation children[MAX_CHILDREN];
static int n_children;
static char scratch[512];

/* The suite's long-running simulator. */
static pid_t main_pid = -1;
static int main_port;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start kgd-vstation with extra args (NULL-terminated) through the shared
 * helper; its pm port into *port. Returns the pid or -1. */
static pid_t start_sim(int *port, const char *const *extra)
{
	tu_vstation *vs;
	const char *uri;

	if (n_children == MAX_CHILDREN)
		return -1;
	vs = &children[n_children];
	if (tu_vstation_start(scratch, extra, vs) != 0)
		return -1;
	n_children++;
	uri = tu_vstation_uri(vs, "pm");
	*port = uri && strncmp(uri, "tcp://127.0.0.1:", 16) == 0 ? atoi(uri + 16) : 0;
	return *port > 0 ? (pid_t)vs->pid : -1;
}

/* Wait up to timeout_s for pid; its exit status, or -1 (then it is killed). */
static int wait_exit(pid_t pid, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	int status;

	while (now_s() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			for (int i = 0; i < n_children; i++)
				if (children[i].pid == (int)pid)
					children[i].pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	return -1;
}

static int connect_to(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_line(int fd, const char *line)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	return send(fd, buf, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* Read exactly n bytes within IO_TIMEOUT_MS; 0 or -1. */
static int read_n(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	double deadline = now_s() + IO_TIMEOUT_MS / 1000.0;

	while (n > 0) {
		struct pollfd pf = {fd, POLLIN, 0};
		int left = (int)((deadline - now_s()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return -1;
		r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read one LF-terminated reply, LF stripped; 0 or -1 on timeout/close. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		if (read_n(fd, buf + n, 1))
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

static int query(int fd, const char *q, char *reply, size_t cap)
{
	reply[0] = '\0';
	if (send_line(fd, q))
		return -1;
	return read_line(fd, reply, cap);
}

static void model_for_seed(sim_model *m, uint64_t seed, int units)
{
	sim_model_params p;

	sim_model_defaults(&p);
	p.seed = seed;
	p.units = units;
	CU_ASSERT_FATAL(sim_model_init(m, &p) == 0);
}

static int suite_init(void)
{
	static const char *const args[] = {"--seed", "42", "--units", "25", NULL};

	snprintf(scratch, sizeof(scratch), "%s", tu_mkdtemp("sim"));
	main_pid = start_sim(&main_port, args);
	return main_pid > 0 ? 0 : -1;
}

static int suite_cleanup(void)
{
	for (int i = 0; i < n_children; i++)
		tu_vstation_stop(&children[i]);
	n_children = 0;
	tu_rmtree(scratch);
	return 0;
}

static void test_idn(void)
{
	char r[256];
	int fd = connect_to(main_port);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(query(fd, "*IDN?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "Keysight Technologies,N7745A,MY00000001,V1.0 (sim)");
	/* Lower case and CR LF are accepted too. */
	CU_ASSERT_EQUAL(query(fd, "*idn?\r", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "Keysight Technologies,N7745A,MY00000001,V1.0 (sim)");
	close(fd);
}

static void test_error_queue(void)
{
	char r[256];
	int fd = connect_to(main_port);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(query(fd, "*CLS;*OPC?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "1");
	CU_ASSERT_EQUAL(send_line(fd, ":FOO:BAR 3"), 0);
	CU_ASSERT_EQUAL(send_line(fd, ":SENS1:POW:UNIT banana"), 0);
	CU_ASSERT_EQUAL(send_line(fd, ":SENS9:POW:UNIT 1"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SYST:ERR?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "-113,\"Undefined header\"");
	CU_ASSERT_EQUAL(query(fd, ":SYSTem:ERRor:NEXT?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "-224,\"Illegal parameter value\"");
	CU_ASSERT_EQUAL(query(fd, "syst:err?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "-114,\"Header suffix out of range\"");
	CU_ASSERT_EQUAL(query(fd, ":SYST:ERR?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "+0,\"No error\"");
	/* A query-only command sent as a set is not a command either. */
	CU_ASSERT_EQUAL(send_line(fd, "*IDN"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SYST:ERR?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "-113,\"Undefined header\"");
	close(fd);
}

static void test_wavelength_roundtrip(void)
{
	char r[256];
	int fd = connect_to(main_port);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_line(fd, ":SENS3:POW:WAV 1310.5NM"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SENS3:POW:WAV?", r, sizeof(r)), 0);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1310.5e-9, 1e-18);
	/* Long form with the optional channel node, value in metres. */
	CU_ASSERT_EQUAL(send_line(fd, ":sense3:channel1:power:wavelength 1.55E-6"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SENSe3:CHAN1:POWer:WAVelength?", r, sizeof(r)), 0);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1550e-9, 1e-18);
	CU_ASSERT_EQUAL(query(fd, ":SYST:ERR?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "+0,\"No error\"");
	/* Outside the instrument's range: refused, setting kept. */
	CU_ASSERT_EQUAL(send_line(fd, ":SENS3:POW:WAV 2000NM"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SYST:ERR?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "-222,\"Data out of range\"");
	CU_ASSERT_EQUAL(query(fd, ":SENS3:POW:WAV?", r, sizeof(r)), 0);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1550e-9, 1e-18);
	/* Averaging time in ms comes back in seconds. */
	CU_ASSERT_EQUAL(send_line(fd, ":SENS3:POW:ATIM 20MS"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SENS3:POW:ATIM?", r, sizeof(r)), 0);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 0.02, 1e-12);
	close(fd);
}

static void test_read_all_block(void)
{
	char hdr[16], lf;
	uint8_t data[32];
	int fd = connect_to(main_port);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_line(fd, ":READ1:POW:ALL?"), 0);
	CU_ASSERT_FATAL(read_n(fd, hdr, 4) == 0);
	/* 8 ports x float32 = 32 bytes: "#2" + "32". */
	CU_ASSERT_FATAL(memcmp(hdr, "#232", 4) == 0);
	CU_ASSERT_FATAL(read_n(fd, data, sizeof(data)) == 0);
	CU_ASSERT_FATAL(read_n(fd, &lf, 1) == 0);
	CU_ASSERT_EQUAL(lf, '\n');
	for (int i = 0; i < 8; i++) {
		uint32_t bits = (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8
				| (uint32_t)data[4 * i + 2] << 16
				| (uint32_t)data[4 * i + 3] << 24;
		float w;

		memcpy(&w, &bits, sizeof(w));
		CU_ASSERT(w > 0.0f && w < 10e-3f);
	}
	close(fd);
}

/* A fresh simulator per seed, so the reading counters start at 0. Fills
 * out with 8 READ replies (ports 1..8, in W, at 1310 nm) of unit `dut`. */
static void readings_for_seed(const char *seed, int dut, char out[8][64])
{
	const char *const args[] = {"--seed", seed, NULL};
	char cmd[128];
	int port, fd;
	pid_t pid = start_sim(&port, args);

	CU_ASSERT_FATAL(pid > 0);
	fd = connect_to(port);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(cmd, sizeof(cmd), ":SIM:DUT %d", dut);
	CU_ASSERT_EQUAL(send_line(fd, cmd), 0);
	for (int p = 1; p <= 8; p++) {
		snprintf(cmd, sizeof(cmd), ":SENS%d:POW:UNIT 1;:SENS%d:POW:WAV 1310NM", p, p);
		CU_ASSERT_EQUAL(send_line(fd, cmd), 0);
		snprintf(cmd, sizeof(cmd), ":READ%d:POW?", p);
		CU_ASSERT_EQUAL(query(fd, cmd, out[p - 1], 64), 0);
	}
	close(fd);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(wait_exit(pid, 5), 0);
}

static void test_seed_determinism(void)
{
	char a[8][64], b[8][64], c[8][64];
	sim_model m;
	int differ = 0;

	readings_for_seed("1234", 2, a);
	readings_for_seed("1234", 2, b);
	readings_for_seed("1235", 2, c);
	model_for_seed(&m, 1234, 25);
	for (int p = 0; p < 8; p++) {
		char expect[64];

		CU_ASSERT_STRING_EQUAL(a[p], b[p]);
		differ |= strcmp(a[p], c[p]) != 0;
		/* The model is the ground truth: the first reading of each
		 * port is sample 0. */
		snprintf(expect, sizeof(expect), "%+.8E",
			 (double)(float)sim_model_power_w(&m, 2, p + 1, 1310.0, 0));
		CU_ASSERT_STRING_EQUAL(a[p], expect);
	}
	CU_ASSERT(differ);
}

static void test_dut_and_defects(void)
{
	char r[256], cmd[64];
	sim_model m;
	int fd = connect_to(main_port), dead_unit = -1, dead_port = 0;

	CU_ASSERT_FATAL(fd >= 0);
	model_for_seed(&m, 42, 25);
	for (int u = 0; u < 25 && dead_unit < 0; u++)
		if (sim_unit_defect(&m, u, &dead_port) == SIM_DEFECT_WEAK_LASER)
			dead_unit = u;
	CU_ASSERT_EQUAL(query(fd, ":SIM:DUT?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "0");
	CU_ASSERT_EQUAL(send_line(fd, ":SIM:DUT 25"), 0);
	CU_ASSERT_EQUAL(query(fd, ":SYST:ERR?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "-222,\"Data out of range\"");
	CU_ASSERT_EQUAL(query(fd, ":SIMulate:UNITs?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "25");
	if (dead_unit >= 0) {
		/* A weak laser reads far below the window (-3 dBm). */
		snprintf(cmd, sizeof(cmd), ":SIM:DUT %d;:SENS%d:POW:UNIT 1", dead_unit,
			 dead_port);
		CU_ASSERT_EQUAL(send_line(fd, cmd), 0);
		snprintf(cmd, sizeof(cmd), ":READ%d:CHAN1:POW?", dead_port);
		CU_ASSERT_EQUAL(query(fd, cmd, r, sizeof(r)), 0);
		CU_ASSERT(strtod(r, NULL) > 0 && strtod(r, NULL) < 0.5e-3);
	}
	CU_ASSERT_EQUAL(send_line(fd, ":SIM:DUT 0"), 0);
	close(fd);
	/* A new client is served after the last one left. */
	fd = connect_to(main_port);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(query(fd, ":SIM:DUT?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "0");
	close(fd);
}

/* A station's driver and an operator link (which swaps units with
 * :SIM:DUT) hold connections at the same time, sharing one instrument. */
static void test_two_clients_at_once(void)
{
	char r[256];
	int driver = connect_to(main_port);
	int operator = connect_to(main_port);

	CU_ASSERT_FATAL(driver >= 0 && operator >= 0);
	CU_ASSERT_EQUAL(query(driver, "*IDN?", r, sizeof(r)), 0);
	CU_ASSERT_EQUAL(send_line(operator, ":SIM:DUT 5"), 0);
	CU_ASSERT_EQUAL(query(operator, "*OPC?", r, sizeof(r)), 0);
	CU_ASSERT_EQUAL(query(driver, ":SIM:DUT?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "5");
	close(operator);
	/* The driver's session outlives the operator's. */
	CU_ASSERT_EQUAL(query(driver, ":SIM:DUT 0;:SIM:DUT?", r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "0");
	close(driver);
}

static void test_model_is_order_independent(void)
{
	sim_model m;
	double first, again;

	model_for_seed(&m, 7, 100);
	first = sim_model_power_w(&m, 37, 5, 1550.0, 3);
	for (int u = 0; u < 100; u++)
		(void)sim_model_power_w(&m, u, 1, 1310.0, 0);
	again = sim_model_power_w(&m, 37, 5, 1550.0, 3);
	CU_ASSERT_EQUAL(memcmp(&first, &again, sizeof(first)), 0);
}

static void test_exit_on_sigterm(void)
{
	int port;
	pid_t pid = start_sim(&port, NULL);
	int fd;

	CU_ASSERT_FATAL(pid > 0);
	/* Signal while a client is connected and idle. */
	fd = connect_to(port);
	CU_ASSERT(fd >= 0);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(wait_exit(pid, 3), 0);
	if (fd >= 0)
		close(fd);
}

static void test_exit_on_lifetime(void)
{
	const char *const args[] = {"--lifetime-s", "1", NULL};
	int port;
	double t0 = now_s();
	pid_t pid = start_sim(&port, args);

	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(wait_exit(pid, 5), 0);
	CU_ASSERT(now_s() - t0 < 4);
}

static void test_fault_options(void)
{
	const char *const args[] = {"--fault-no-reply-after", "1", "--fault-garbage", NULL};
	char r[256];
	int port, fd;
	pid_t pid = start_sim(&port, args);

	CU_ASSERT_FATAL(pid > 0);
	fd = connect_to(port);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(query(fd, ":READ1:POW?", r, sizeof(r)), 0);
	CU_ASSERT(strtod(r, NULL) == 0.0 && strstr(r, "garbage") != NULL);
	/* Second command: silence. */
	CU_ASSERT_EQUAL(send_line(fd, "*IDN?"), 0);
	{
		struct pollfd pf = {fd, POLLIN, 0};

		CU_ASSERT_EQUAL(poll(&pf, 1, 300), 0);
	}
	close(fd);
	kill(pid, SIGTERM);
	CU_ASSERT_EQUAL(wait_exit(pid, 3), 0);
}

static void test_help(void)
{
	char *argv[] = {VSTATION, "--help", NULL};
	char out[4096];

	CU_ASSERT_EQUAL(tu_run(argv, out, sizeof(out), NULL, 0, 10), 0);
	CU_ASSERT(strstr(out, "--fault-no-reply-after") != NULL);
	{
		char *bad[] = {VSTATION, "--seed", "pickle", NULL};

		CU_ASSERT_EQUAL(tu_run(bad, NULL, 0, NULL, 0, 10), 2);
	}
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("sim", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "idn", test_idn);
	CU_add_test(s, "error queue", test_error_queue);
	CU_add_test(s, "wavelength round trip", test_wavelength_roundtrip);
	CU_add_test(s, "READ:POW:ALL block", test_read_all_block);
	CU_add_test(s, "same seed same readings", test_seed_determinism);
	CU_add_test(s, "DUT selection and defects", test_dut_and_defects);
	CU_add_test(s, "two clients at once", test_two_clients_at_once);
	CU_add_test(s, "model order independent", test_model_is_order_independent);
	CU_add_test(s, "exit on SIGTERM", test_exit_on_sigterm);
	CU_add_test(s, "exit on lifetime", test_exit_on_lifetime);
	CU_add_test(s, "fault injection", test_fault_options);
	CU_add_test(s, "help and bad options", test_help);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
