/*
 * tests/test_drv_n774x.c - the keysight-n774x plugin as the station uses it:
 * dlopen()ed from the build's plugins/ folder, driven through its descriptor
 * over a real tcp:// transport to a real kgd-vstation child process (and,
 * for replies the simulator never gives, to a scripted fake instrument
 * forked from this program).
 *
 * Invariant: every child is recorded in children[] and killed and reaped in
 * the suite cleanup; simulators also carry --lifetime-s as a backstop and
 * fakes an alarm().
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kgd/driver.h"
#include "kgd/scpi.h"
#include "kgd/xport.h"
#include "model.h"
#include "testutil.h"

#define PLUGIN KGD_PLUGIN_BUILD_DIR "/keysight-n774x.so"
#define SEED 99
#define MAX_CHILDREN 16

static pid_t children[MAX_CHILDREN];   /* scripted fakes */
static int n_children;
static tu_vstation vstations[MAX_CHILDREN];
static int n_vstations;
static char scratch[512];
static void *dl;
static const drv_descriptor *drv;

/* The suite's simulator, transport and driver handle. */
static char sim_uri[64];
static xport *sim_x;
static void *sim_h;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void track(pid_t pid)
{
	if (n_children < MAX_CHILDREN)
		children[n_children++] = pid;
}

/* Start kgd-vstation --seed SEED plus extra args; its pm URI into uri. */
static int start_sim(char *uri, size_t cap, const char *const *extra)
{
	const char *args[32];
	char seed[16];
	int n = 0;
	tu_vstation *vs;

	if (n_vstations == MAX_CHILDREN)
		return -1;
	vs = &vstations[n_vstations];
	snprintf(seed, sizeof(seed), "%d", SEED);
	args[n++] = "--seed";
	args[n++] = seed;
	for (; extra && *extra && n < 30; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	if (tu_vstation_start(scratch, args, vs) != 0)
		return -1;
	n_vstations++;
	if (!tu_vstation_uri(vs, "pm") || strlen(tu_vstation_uri(vs, "pm")) >= cap)
		return -1;
	snprintf(uri, cap, "%s", tu_vstation_uri(vs, "pm"));
	return 0;
}

/* A scripted stand-in for instruments the simulator does not imitate:
 * answers *IDN? with idn, SYST:ERR? with no error, READ...ALL? with one
 * float32 block of all_value, other READ queries with read_reply. Serves one
 * client and exits. Its URI into uri. */
static int start_fake(char *uri, size_t cap, const char *idn, const char *read_reply,
		      float all_value)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1)
	    || getsockname(lfd, (struct sockaddr *)&sa, &sl))
		return -1;
	snprintf(uri, cap, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char line[512];
		size_t n = 0;
		int fd;

		alarm(20);
		fd = accept(lfd, NULL, NULL);
		while (fd >= 0 && read(fd, line + n, 1) == 1) {
			char reply[600];
			int len = 0;

			if (line[n] != '\n') {
				n += n < sizeof(line) - 2;
				continue;
			}
			line[n] = '\0';
			n = 0;
			/* A reading comes with the error queue in the same
			 * message (":READ1:POW?;:SYST:ERR?"): one reply line,
			 * the two answers joined by ';' as IEEE 488.2 says. */
			if (strstr(line, "IDN?"))
				len = snprintf(reply, sizeof(reply), "%s\n", idn);
			else if (strstr(line, "ALL?")) {
				memcpy(reply, "#14", 3);
				memcpy(reply + 3, &all_value, 4);  /* test host is LE */
				reply[7] = '\n';
				len = 8;
			} else if (strstr(line, "READ"))
				len = snprintf(reply, sizeof(reply), "%s%s\n", read_reply,
					       strstr(line, ";:SYST:ERR?")
						       ? ";+0,\"No error\"" : "");
			else if (strstr(line, "ERR"))
				len = snprintf(reply, sizeof(reply), "+0,\"No error\"\n");
			if (len > 0 && write(fd, reply, (size_t)len) != len)
				break;
		}
		_exit(0);
	}
	close(lfd);
	track(pid);
	return 0;
}

static int suite_init(void)
{
	kgd_err err;

	snprintf(scratch, sizeof(scratch), "%s", tu_mkdtemp("drv"));
	dl = dlopen(PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", PLUGIN, dlerror());
		return -1;
	}
	drv = dlsym(dl, KGD_DRIVER_SYMBOL);
	if (!drv || start_sim(sim_uri, sizeof(sim_uri), NULL))
		return -1;
	if (xport_open(sim_uri, 2000, &sim_x, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int suite_cleanup(void)
{
	if (sim_h)
		drv->close(sim_h);
	xport_close(sim_x);
	for (int i = 0; i < n_children; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	n_children = 0;
	for (int i = 0; i < n_vstations; i++)
		tu_vstation_stop(&vstations[i]);
	n_vstations = 0;
	if (dl)
		dlclose(dl);
	tu_rmtree(scratch);
	return 0;
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(drv->abi_major, DRV_ABI_MAJOR);
	CU_ASSERT_EQUAL(drv->klass, DRV_CLASS_POWER_METER);
	CU_ASSERT_STRING_EQUAL(drv->name, "keysight-n774x");
	CU_ASSERT_PTR_NOT_NULL(drv->open);
	CU_ASSERT_PTR_NOT_NULL(drv->close);
	CU_ASSERT_PTR_NOT_NULL(drv->identify);
	CU_ASSERT_PTR_NOT_NULL_FATAL(drv->pm);
	CU_ASSERT_PTR_NOT_NULL(drv->pm->set_wavelength);
	CU_ASSERT_PTR_NOT_NULL(drv->pm->read_power);
	CU_ASSERT_PTR_NULL(drv->bert);
	CU_ASSERT_PTR_NULL(drv->prober);
	CU_ASSERT_PTR_NULL(drv->laser);
}

static void test_open_identify(void)
{
	char idn[256], r[64];
	kgd_err err;

	CU_ASSERT_EQUAL_FATAL(drv->open(sim_x, &sim_h, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->identify(sim_h, idn, sizeof(idn), &err), KGD_OK);
	CU_ASSERT_STRING_EQUAL(idn, "Keysight Technologies,N7745A,MY00000001,V1.0 (sim)");
	CU_ASSERT_EQUAL(drv->identify(sim_h, idn, 8, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, sim_uri) != NULL);
	CU_ASSERT(strstr(err.msg, "does not fit 8 bytes") != NULL);
	CU_ASSERT_EQUAL(drv->identify(sim_h, NULL, 0, &err), KGD_ERR_ARG);
	/* open left every port in watts. */
	CU_ASSERT_EQUAL(scpi_query(sim_x, r, sizeof(r), &err, ":SENS8:POW:UNIT?"), KGD_OK);
	CU_ASSERT_STRING_EQUAL(r, "+1");
}

/* Runs before anything else reads port 3, so the reading is sample 0. */
static void test_read_power_matches_model(void)
{
	sim_model_params p;
	sim_model m;
	char expect[64], r[64];
	double w = 0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sim_h);
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 3, 1310.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(sim_x, r, sizeof(r), &err, ":SENS3:POW:WAV?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1310e-9, 1e-18);
	CU_ASSERT_EQUAL(drv->pm->read_power(sim_h, 3, &w, &err), KGD_OK);
	CU_ASSERT(w > 0 && w < 10e-3);
	sim_model_defaults(&p);
	p.seed = SEED;
	CU_ASSERT_FATAL(sim_model_init(&m, &p) == 0);
	/* The meter reads in single precision: the driver gives back exactly
	 * the float the simulator measured. */
	snprintf(expect, sizeof(expect), "%+.8E", sim_model_power_w(&m, 0, 3, 1310.0, 0));
	CU_ASSERT_EQUAL(w, (double)(float)sim_model_power_w(&m, 0, 3, 1310.0, 0));
	CU_ASSERT_DOUBLE_EQUAL(w, strtod(expect, NULL), fabs(w) * 1e-7);
}

static void test_port_out_of_range(void)
{
	double w;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sim_h);
	CU_ASSERT_EQUAL(drv->pm->read_power(sim_h, 9, &w, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "port 9") && strstr(err.msg, "N7745A"));
	CU_ASSERT(strstr(err.msg, sim_uri) != NULL);
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 0, 1310.0, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "port 0") != NULL);
}

static void test_instrument_error_surfaces(void)
{
	char r[64];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sim_h);
	/* 2000 nm is outside the meter's range: the instrument says so. */
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 2, 2000.0, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT(strstr(err.msg, "-222") != NULL);
	CU_ASSERT(strstr(err.msg, sim_uri) != NULL);
	/* Averaging: accepted in range, refused beyond 10 s. */
	CU_ASSERT_EQUAL(drv->pm->set_averaging(sim_h, 2, 0.05, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(sim_x, r, sizeof(r), &err, ":SENS2:POW:ATIM?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 0.05, 1e-12);
	CU_ASSERT_EQUAL(drv->pm->set_averaging(sim_h, 2, 20.0, &err), KGD_ERR_INSTRUMENT);
	/* The queue was drained: the next command is clean. */
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 2, 1550.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(sim_x, r, sizeof(r), &err, ":SENS2:POW:WAV?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1550e-9, 1e-18);
}

static void test_wavelength_cache(void)
{
	char r[64];
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sim_h);
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 4, 1301.0, &err), KGD_OK);
	/* Change it behind the driver's back: a repeated set is skipped, which
	 * is visible here (and is why a station owns its instruments). */
	CU_ASSERT_EQUAL(scpi_write(sim_x, &err, ":SENS4:POW:WAV 1302NM"), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 4, 1301.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(sim_x, r, sizeof(r), &err, ":SENS4:POW:WAV?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1302e-9, 1e-18);
	/* A failed set forgets the cached value, so the next set goes out. */
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 4, 9999.0, &err), KGD_ERR_INSTRUMENT);
	CU_ASSERT_EQUAL(drv->pm->set_wavelength(sim_h, 4, 1301.0, &err), KGD_OK);
	CU_ASSERT_EQUAL(scpi_query(sim_x, r, sizeof(r), &err, ":SENS4:POW:WAV?"), KGD_OK);
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1301e-9, 1e-18);
}

static void test_read_power_all(void)
{
	double w[16];
	int n = 0;
	kgd_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sim_h);
	CU_ASSERT_EQUAL(drv->pm->read_power_all(sim_h, w, 16, &n, &err), KGD_OK);
	CU_ASSERT_EQUAL(n, 8);
	for (int i = 0; i < n; i++)
		CU_ASSERT(w[i] > 0 && w[i] < 10e-3);
	CU_ASSERT_EQUAL(drv->pm->read_power_all(sim_h, w, 4, &n, &err), KGD_ERR_ARG);
}

static void test_unknown_instrument(void)
{
	char uri[64];
	xport *x = NULL;
	void *h = NULL;
	kgd_err err;

	CU_ASSERT_FATAL(start_fake(uri, sizeof(uri), "Acme Photonics,PM-9,42,1.0", "0", 0) == 0);
	CU_ASSERT_FATAL(xport_open(uri, 2000, &x, &err) == KGD_OK);
	CU_ASSERT_EQUAL(drv->open(x, &h, &err), KGD_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT(strstr(err.msg, uri) != NULL);
	CU_ASSERT(strstr(err.msg, "Acme Photonics,PM-9,42,1.0") != NULL);
	xport_close(x);
}

static void test_overrange_is_not_a_number(void)
{
	char uri[64];
	xport *x = NULL;
	void *h = NULL;
	double w = 1.0, all[8];
	int n = 0;
	kgd_err err;

	/* An older 4-port meter still branded Agilent, with no light range. */
	CU_ASSERT_FATAL(start_fake(uri, sizeof(uri), "Agilent Technologies,N7744A,DE1,1.2",
				   "+9.90000000E+037", 9.9e37f) == 0);
	CU_ASSERT_FATAL(xport_open(uri, 2000, &x, &err) == KGD_OK);
	CU_ASSERT_EQUAL_FATAL(drv->open(x, &h, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->read_power(h, 1, &w, &err), KGD_ERR_OVERRANGE);
	CU_ASSERT_EQUAL(drv->pm->read_power_all(h, all, 8, &n, &err), KGD_ERR_OVERRANGE);
	/* Four ports on this model. */
	CU_ASSERT_EQUAL(drv->pm->read_power(h, 5, &w, &err), KGD_ERR_ARG);
	CU_ASSERT(strstr(err.msg, "N7744A") && strstr(err.msg, "1..4"));
	drv->close(h);
	xport_close(x);
}

static void test_timeout_names_uri(void)
{
	const char *const silent[] = {"--fault-no-reply-after", "0", NULL};
	const char *const later[] = {"--fault-no-reply-after", "40", NULL};
	char uri[64];
	xport *x = NULL;
	void *h = NULL;
	double w, t0;
	int rc = KGD_OK;
	kgd_err err;

	/* Silent from the start: open itself times out. */
	CU_ASSERT_FATAL(start_sim(uri, sizeof(uri), silent) == 0);
	CU_ASSERT_FATAL(xport_open(uri, 300, &x, &err) == KGD_OK);
	t0 = now_s();
	CU_ASSERT_EQUAL(drv->open(x, &h, &err), KGD_ERR_TIMEOUT);
	CU_ASSERT(now_s() - t0 < 2.0);
	CU_ASSERT(strstr(err.msg, uri) != NULL);
	CU_ASSERT_PTR_NULL(h);
	xport_close(x);

	/* Silent mid-session: a reading times out. */
	CU_ASSERT_FATAL(start_sim(uri, sizeof(uri), later) == 0);
	CU_ASSERT_FATAL(xport_open(uri, 300, &x, &err) == KGD_OK);
	CU_ASSERT_EQUAL_FATAL(drv->open(x, &h, &err), KGD_OK);
	for (int i = 0; i < 50 && rc == KGD_OK; i++)
		rc = drv->pm->read_power(h, 1, &w, &err);
	CU_ASSERT_EQUAL(rc, KGD_ERR_TIMEOUT);
	CU_ASSERT(strstr(err.msg, uri) != NULL);
	drv->close(h);
	xport_close(x);
}

/* An error the meter queues while it measures comes back with that
 * reading, not at some later command: a driver that only looked at the
 * queue after settings would let the reading, and the part, pass. */
static void test_error_during_reading_is_not_a_value(void)
{
	const char *const fault[] = {"--fault", "pm:scpi-error:after=40", NULL};
	char uri[64];
	xport *x = NULL;
	void *h = NULL;
	double w;
	int ok = 0, failed = 0, rc;
	kgd_err err, first_fail;

	CU_ASSERT_FATAL(start_sim(uri, sizeof(uri), fault) == 0);
	CU_ASSERT_FATAL(xport_open(uri, 2000, &x, &err) == KGD_OK);
	CU_ASSERT_EQUAL_FATAL(drv->open(x, &h, &err), KGD_OK);
	/* Open takes fewer than 40 messages, so the fault fires on a reading. */
	for (int i = 0; i < 40; i++) {
		w = -1.0;
		rc = drv->pm->read_power(h, 1, &w, &err);
		if (rc == KGD_OK) {
			ok++;
			continue;
		}
		if (!failed++)
			first_fail = err;
		CU_ASSERT_EQUAL(rc, KGD_ERR_INSTRUMENT);
		CU_ASSERT_EQUAL(w, -1.0);   /* no value handed out */
	}
	CU_ASSERT_EQUAL(failed, 1);    /* the fault fires once */
	CU_ASSERT_EQUAL(ok, 39);       /* and the queue was left empty */
	if (failed) {
		CU_ASSERT(strstr(first_fail.msg, "-310") != NULL);
		CU_ASSERT(strstr(first_fail.msg, uri) != NULL);
		CU_ASSERT(strstr(first_fail.msg, ":READ1") != NULL);
	}
	drv->close(h);
	xport_close(x);
}

static void test_garbage_is_protocol_error(void)
{
	const char *const garbage[] = {"--fault-garbage", NULL};
	char uri[64];
	xport *x = NULL;
	void *h = NULL;
	double w;
	kgd_err err;

	CU_ASSERT_FATAL(start_sim(uri, sizeof(uri), garbage) == 0);
	CU_ASSERT_FATAL(xport_open(uri, 1000, &x, &err) == KGD_OK);
	CU_ASSERT_EQUAL_FATAL(drv->open(x, &h, &err), KGD_OK);
	CU_ASSERT_EQUAL(drv->pm->read_power(h, 1, &w, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT(strstr(err.msg, uri) != NULL);
	drv->close(h);
	xport_close(x);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("drv_n774x", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "open and identify", test_open_identify);
	CU_add_test(s, "read_power equals the model", test_read_power_matches_model);
	CU_add_test(s, "port out of range", test_port_out_of_range);
	CU_add_test(s, "instrument error surfaces", test_instrument_error_surfaces);
	CU_add_test(s, "wavelength cache", test_wavelength_cache);
	CU_add_test(s, "read_power_all", test_read_power_all);
	CU_add_test(s, "unknown instrument refused", test_unknown_instrument);
	CU_add_test(s, "overrange is not a number", test_overrange_is_not_a_number);
	CU_add_test(s, "timeout names the URI", test_timeout_names_uri);
	CU_add_test(s, "error during a reading is not a value",
		    test_error_during_reading_is_not_a_value);
	CU_add_test(s, "garbage is a protocol error", test_garbage_is_protocol_error);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
