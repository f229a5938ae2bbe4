/*
 * tests/test_sim_station.c - the virtual station's model and its wafer,
 * BERT and laser-module instruments: model statistics and ground truth
 * from the C API, then the prober walking a whole route over a real
 * socket, the power meter depending on contact, BERT gating, and the ELSFP
 * adapter over a real pty.
 *
 * Invariant: every kgd-vstation this file starts is stopped through
 * tu_vstation_stop() in the suite cleanup, whatever failed.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"

static char scratch[512];
static tu_vstation wafer_vs, elsfp_vs;
static sim_model model;   /* large: static */

static int open_uri(const char *uri)
{
	struct sockaddr_in sa;
	int fd;

	if (!uri)
		return -1;
	if (strncmp(uri, "serial://", 9) == 0) {
		char path[128];
		struct termios t;

		sscanf(uri + 9, "%127[^?]", path);
		fd = open(path, O_RDWR | O_NOCTTY);
		if (fd >= 0 && tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(fd, TCSANOW, &t);
		}
		return fd;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(strrchr(uri, ':') + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send a line; if a reply is expected, read one LF-terminated line (3 s). */
static int ask(int fd, const char *line, char *reply, size_t cap)
{
	char buf[512];
	size_t n = 0;
	int len = snprintf(buf, sizeof(buf), "%s\n", line);

	if (write(fd, buf, (size_t)len) != len)
		return -1;
	if (!reply)
		return 0;
	while (n + 1 < cap) {
		struct pollfd pf = {fd, POLLIN, 0};

		if (poll(&pf, 1, 3000) <= 0 || read(fd, reply + n, 1) != 1)
			return -1;
		if (reply[n] == '\n')
			break;
		n++;
	}
	reply[n] = '\0';
	return 0;
}

static int suite_init(void)
{
	static const char *const wafer_args[] = {
		"--product", "teraphy", "--seed", "5", "--wafers", "1", "--time-scale", "0.01",
		"--fault", "prober:contact-fail:die=0,0", NULL};
	static const char *const elsfp_args[] = {"--product", "elsfp", "--seed", "5",
						 "--lasers", "16", NULL};
	sim_model_params p;

	snprintf(scratch, sizeof(scratch), "%s", tu_mkdtemp("simst"));
	sim_model_defaults(&p);
	p.product = SIM_PRODUCT_TERAPHY;
	p.seed = 5;
	p.wafers = 1;
	if (sim_model_init(&model, &p))
		return -1;
	if (tu_vstation_start(scratch, wafer_args, &wafer_vs)
	    || tu_vstation_start(scratch, elsfp_args, &elsfp_vs))
		return -1;
	return 0;
}

static int suite_cleanup(void)
{
	tu_vstation_stop(&wafer_vs);
	tu_vstation_stop(&elsfp_vs);
	tu_rmtree(scratch);
	return 0;
}

static void test_config_roles(void)
{
	CU_ASSERT_EQUAL(wafer_vs.n_roles, 4);
	CU_ASSERT_PTR_NOT_NULL(tu_vstation_uri(&wafer_vs, "pm"));
	CU_ASSERT_PTR_NOT_NULL(tu_vstation_uri(&wafer_vs, "pm100"));
	CU_ASSERT_PTR_NOT_NULL(tu_vstation_uri(&wafer_vs, "bert"));
	CU_ASSERT_PTR_NOT_NULL(tu_vstation_uri(&wafer_vs, "prober"));
	for (int i = 0; i < wafer_vs.n_roles; i++)
		if (strcmp(wafer_vs.roles[i].name, "prober") == 0)
			CU_ASSERT_STRING_EQUAL(wafer_vs.roles[i].driver, "mpi-sentio");
	/* pm, laser and the SMUs of the eight lasers (smu1..smu8). */
	CU_ASSERT_EQUAL(elsfp_vs.n_roles, 10);
	CU_ASSERT_PTR_NOT_NULL(tu_vstation_uri(&elsfp_vs, "smu8"));
	CU_ASSERT(strncmp(tu_vstation_uri(&elsfp_vs, "laser"), "serial:///dev/pts/", 18) == 0);
}

/* Over a whole lot of 5 wafers: every good die sits inside the limits, the
 * process mean and spread are what the parameters say, defect rates match. */
static void test_model_statistics(void)
{
	static sim_model m;
	sim_model_params p;
	sim_limits l;
	double sum = 0, sum2 = 0, n = 0, defects = 0, dies = 0, shorted = 0;

	sim_model_defaults(&p);
	p.product = SIM_PRODUCT_TERAPHY;
	p.wafers = 5;
	p.seed = 11;
	CU_ASSERT_FATAL(sim_model_init(&m, &p) == 0);
	sim_limits_defaults(&l);
	CU_ASSERT(m.n_dies > 700 && m.n_dies < 1000);
	for (int s = 1; s <= 5; s++)
		for (int i = 0; i < m.n_dies; i++) {
			int col = m.route[i][0], row = m.route[i][1];
			enum sim_defect d = sim_die_defect(&m, s, col, row, NULL, NULL);
			sim_truth t;

			dies++;
			CU_ASSERT_EQUAL(sim_truth_die(&m, &l, s, col, row, &t), 0);
			if (d == SIM_DEFECT_SHORTED)
				shorted++;
			if (d != SIM_DEFECT_NONE && d != SIM_DEFECT_SCRATCH)
				defects++;
			if (d != SIM_DEFECT_NONE) {
				CU_ASSERT(t.expected_bin != 1);
				continue;
			}
			/* Good dies: exact pass, margin of at least 6 x noise. */
			CU_ASSERT_EQUAL(t.expected_bin, 1);
			CU_ASSERT(t.min_dbm > l.die_power_low_dbm + 6 * p.noise_sigma_db);
			CU_ASSERT(t.max_ber < l.die_ber_max);
			/* Centre dies (no radial term to speak of): spread of port 1, ch 0. */
			if (sim_die_radius_mm(&m, col, row) < 40) {
				double v = sim_die_mean_dbm(&m, s, col, row, 1, 0);

				sum += v;
				sum2 += v * v;
				n++;
			}
		}
	{
		double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
		double expect_sd = sqrt(0.10 * 0.10 + 0.15 * 0.15 + 0.10 * 0.10 + 0.10 * 0.10);

		CU_ASSERT_DOUBLE_EQUAL(mean, p.ref_dbm - p.il_db - 0.03, 0.15);
		CU_ASSERT_DOUBLE_EQUAL(sd, expect_sd, 0.08);
	}
	CU_ASSERT_DOUBLE_EQUAL(defects / dies, 0.055, 0.012);
	CU_ASSERT_DOUBLE_EQUAL(shorted / dies, 0.01, 0.005);
}

static void test_ground_truth_seeded(void)
{
	char out_a[1 << 16], out_b[1 << 16], out_c[1 << 16];
	char *a[] = {TU_VSTATION_BIN, "--product", "fiber", "--seed", "3", "--ground-truth", NULL};
	char *c[] = {TU_VSTATION_BIN, "--product", "fiber", "--seed", "4", "--ground-truth", NULL};

	CU_ASSERT_EQUAL(tu_run(a, out_a, sizeof(out_a), NULL, 0, 10), 0);
	CU_ASSERT_EQUAL(tu_run(a, out_b, sizeof(out_b), NULL, 0, 10), 0);
	CU_ASSERT_EQUAL(tu_run(c, out_c, sizeof(out_c), NULL, 0, 10), 0);
	CU_ASSERT_STRING_EQUAL(out_a, out_b);
	CU_ASSERT(strcmp(out_a, out_c) != 0);
	CU_ASSERT(strncmp(out_a, "lot,unit,serial,channels,defect", 31) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_a, "LOT1-F0001"));
}

/* The whole route, end of route, bins read back, pm dark unless in contact. */
static void test_prober_route_and_contact(void)
{
	int fd = open_uri(tu_vstation_uri(&wafer_vs, "prober"));
	int pm = open_uri(tu_vstation_uri(&wafer_vs, "pm"));
	char r[256], cmd[128];
	int col, row, steps = 1, code;

	CU_ASSERT_FATAL(fd >= 0 && pm >= 0);
	CU_ASSERT_EQUAL(ask(fd, "*RCS 1", NULL, 0), 0);
	CU_ASSERT_EQUAL(ask(fd, "map:step_first_die", r, sizeof(r)), 0);
	CU_ASSERT(strncmp(r, "2,", 2) == 0);  /* no wafer loaded */
	CU_ASSERT_EQUAL(ask(fd, "frobnicate", r, sizeof(r)), 0);
	CU_ASSERT(strncmp(r, "1,", 2) == 0);
	CU_ASSERT_EQUAL(ask(fd, "loader:load_wafer 1", r, sizeof(r)), 0);
	CU_ASSERT(strstr(r, ",LOT1-W01") != NULL);
	CU_ASSERT_EQUAL(ask(fd, "vis:align_wafer", r, sizeof(r)), 0);
	CU_ASSERT(strncmp(r, "0,", 2) == 0);
	CU_ASSERT_EQUAL(ask(fd, "map:get_num_dies", r, sizeof(r)), 0);
	CU_ASSERT_EQUAL(atoi(strrchr(r, ',') + 1), model.n_dies);
	CU_ASSERT_EQUAL(ask(fd, "map:step_first_die", r, sizeof(r)), 0);
	CU_ASSERT_EQUAL(sscanf(r, "%d,%*d,%d,%d", &code, &col, &row), 3);
	CU_ASSERT_EQUAL(col, model.route[0][0]);
	CU_ASSERT_EQUAL(row, model.route[0][1]);
	/* pm: separated -> dark; in contact -> the die's light at channel 0. */
	ask(pm, ":SENS1:POW:UNIT 1;:SENS1:POW:WAV 1301NM", NULL, 0);
	ask(pm, ":READ1:POW?", r, sizeof(r));
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 1e-9, 1e-15);
	ask(fd, "move_chuck_contact", r, sizeof(r));
	CU_ASSERT(strncmp(r, "0,", 2) == 0);
	ask(pm, ":READ1:POW?", r, sizeof(r));
	{
		double w = strtod(r, NULL);
		double mean = 1e-3 * pow(10, sim_die_mean_dbm(&model, 1, col, row, 1, 0) / 10);

		CU_ASSERT(fabs(w / mean - 1) < 0.05 || sim_die_defect(&model, 1, col, row, NULL, NULL));
	}
	ask(fd, "map:bins:set_bin 7,0,0", r, sizeof(r));
	CU_ASSERT(strncmp(r, "3,", 2) == 0 || strncmp(r, "0,", 2) == 0);
	snprintf(cmd, sizeof(cmd), "map:bins:set_bin 5,%d,%d", col, row);
	ask(fd, cmd, r, sizeof(r));
	CU_ASSERT(strncmp(r, "0,", 2) == 0);
	for (;;) {
		CU_ASSERT_FATAL(ask(fd, "map:step_next_die", r, sizeof(r)) == 0);
		code = atoi(r);
		if (code != 0)
			break;
		steps++;
	}
	CU_ASSERT_EQUAL(code >> 10, 1);  /* EndOfRoute */
	CU_ASSERT_EQUAL(steps, model.n_dies);
	snprintf(cmd, sizeof(cmd), "sim:get_bin %d,%d", col, row);
	ask(fd, cmd, r, sizeof(r));
	CU_ASSERT(strcmp(strrchr(r, ',') + 1, "5") == 0);
	/* contact-fail fault at die 0,0 (if the map has it) */
	if (sim_die_index(&model, 0, 0) < 0) {
		ask(fd, "map:step_die 0,0,0", r, sizeof(r));
		CU_ASSERT(strncmp(r, "3,", 2) == 0);
	}
	ask(fd, "loader:unload_wafer", r, sizeof(r));
	CU_ASSERT(strncmp(r, "0,", 2) == 0);
	close(fd);
	close(pm);
}

/* Load the wafer on the prober pr and put a die without defects in
 * contact; 0 on success. */
static int contact_good_die(int pr)
{
	char r[256], cmd[64];
	int good = -1;

	for (int i = 0; i < model.n_dies && good < 0; i++)
		if (sim_die_defect(&model, 1, model.route[i][0], model.route[i][1], NULL, NULL)
		    == SIM_DEFECT_NONE)
			good = i;
	if (good < 0)
		return -1;
	ask(pr, "*RCS 1", NULL, 0);
	ask(pr, "loader:load_wafer 1", r, sizeof(r));
	snprintf(cmd, sizeof(cmd), "map:step_die %d,%d,0", model.route[good][0],
		 model.route[good][1]);
	ask(pr, cmd, r, sizeof(r));
	if (ask(pr, "move_chuck_contact", r, sizeof(r)) || strncmp(r, "0,", 2))
		return -1;
	return 0;
}

static void test_bert_gate(void)
{
	int fd = open_uri(tu_vstation_uri(&wafer_vs, "bert"));
	int pr = open_uri(tu_vstation_uri(&wafer_vs, "prober"));
	char r[256];

	CU_ASSERT_FATAL(fd >= 0 && pr >= 0);
	ask(fd, "*IDN?", r, sizeof(r));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "N4903B"));
	CU_ASSERT_FATAL(contact_good_die(pr) == 0);
	ask(fd, ":SOUR9:FREQ:CW 5.3125E10;:OUTP3:STAT 1;:SENS3:GATE:PER:TIME 1", NULL, 0);
	ask(fd, ":SENS3:GATE:STAT 1;:SENS3:GATE:STAT?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "1");
	ask(fd, ":FETC:SENS3:ECO?", NULL, 0);
	ask(fd, ":SYST:ERR?", r, sizeof(r));
	CU_ASSERT(strncmp(r, "-221", 4) == 0);
	usleep(30000);  /* 1 s x time scale 0.01 */
	ask(fd, ":SENS3:GATE:STAT?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "0");
	ask(fd, ":FETC:SENS3:BCO?", r, sizeof(r));
	CU_ASSERT_DOUBLE_EQUAL(strtod(r, NULL), 5.3125e10, 1);
	ask(fd, ":FETC:SENS3:ECO?", r, sizeof(r));
	CU_ASSERT(strtod(r, NULL) < 3);
	ask(fd, ":STAT:QUES3:COND?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "0");
	/* Output off: no sync. */
	ask(fd, ":OUTP3:STAT 0;:SENS3:GATE:STAT 1", NULL, 0);
	usleep(30000);
	ask(fd, ":STAT:QUES3:COND?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "1024");
	ask(fd, ":BOGUS:CMD", NULL, 0);
	ask(fd, ":SYST:ERR?", r, sizeof(r));
	CU_ASSERT(strncmp(r, "-113", 4) == 0);
	ask(pr, "loader:unload_wafer", r, sizeof(r));
	close(fd);
	close(pr);
}

/* Gates started in one compound message start together, and each lane
 * keeps its own gate clock and counts: lanes 1 and 2 gate 10 s (0.1 s of
 * wall time at scale 0.01), lane 3 gates 50 s (0.5 s), all from one line. */
static void test_bert_lanes_gated_together(void)
{
	int fd = open_uri(tu_vstation_uri(&wafer_vs, "bert"));
	int pr = open_uri(tu_vstation_uri(&wafer_vs, "prober"));
	char r[256];

	CU_ASSERT_FATAL(fd >= 0 && pr >= 0);
	CU_ASSERT_FATAL(contact_good_die(pr) == 0);
	ask(fd, "*CLS;:SOUR9:FREQ:CW 5.3125E10;:OUTP1:STAT 1;:OUTP2:STAT 1;:OUTP3:STAT 1;"
	    ":SENS1:GATE:MODE SING;:SENS1:GATE:PER:TIME 10;:SENS2:GATE:MODE SING;"
	    ":SENS2:GATE:PER:TIME 10;:SENS3:GATE:MODE SING;:SENS3:GATE:PER:TIME 50", NULL, 0);
	ask(fd, ":SENS1:GATE:STAT 1;:SENS2:GATE:STAT 1;:SENS3:GATE:STAT 1;"
	    ":SENS1:GATE:STAT?;:SENS2:GATE:STAT?;:SENS3:GATE:STAT?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "1;1;1");
	usleep(250000);
	ask(fd, ":SENS1:GATE:STAT?;:SENS2:GATE:STAT?;:SENS3:GATE:STAT?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "0;0;1");
	ask(fd, ":FETC:SENS1:BCO?;:FETC:SENS2:BCO?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "531250000000;531250000000");
	usleep(350000);
	ask(fd, ":SENS3:GATE:STAT?;:FETC:SENS3:BCO?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "0;2656250000000");
	ask(fd, ":STAT:QUES1:COND?;:STAT:QUES2:COND?;:STAT:QUES3:COND?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "0;0;0");
	ask(fd, ":SYST:ERR?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "+0,\"No error\"");
	ask(pr, "loader:unload_wafer", r, sizeof(r));
	close(fd);
	close(pr);
}

static void test_elsfp_pty(void)
{
	int fd = open_uri(tu_vstation_uri(&elsfp_vs, "laser"));
	char r[512];
	static sim_model em;
	sim_model_params p;
	char serial[32];

	CU_ASSERT_FATAL(fd >= 0);
	sim_model_defaults(&p);
	p.seed = 5;
	p.lasers = 16;
	CU_ASSERT_FATAL(sim_model_init(&em, &p) == 0);
	ask(fd, "*IDN?", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "KGD,USB-I2C,A0000001,1.0");
	ask(fd, "SIM DUT 2", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "OK");
	ask(fd, "R 0.00 A6 10", r, sizeof(r));
	sim_unit_serial(&em, 2, serial, sizeof(serial));
	{
		char text[32] = {0};

		for (int i = 0; i < 10; i++)
			text[i] = (char)strtol(r + 3 + 3 * i, NULL, 16);
		CU_ASSERT(strncmp(text, serial, strlen(serial)) == 0);
	}
	ask(fd, "R 0.B0 80 1", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "OK 10");
	/* Lane 1 lasing, then disabled: power reads 0. */
	ask(fd, "R 0.11 9A 2", r, sizeof(r));
	CU_ASSERT(strcmp(r, "OK 00 00") != 0);
	ask(fd, "W 0.10 82 01", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "OK");
	ask(fd, "R 0.11 9A 2", r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "OK 00 00");
	ask(fd, "R 1.11 AA 2", r, sizeof(r));  /* lane 9 bias ~60 mA = 30000 x 2 uA */
	CU_ASSERT(strtol(r + 3, NULL, 16) * 256 + strtol(r + 6, NULL, 16) > 25000);
	ask(fd, "R 0.42 00 1", r, sizeof(r));
	CU_ASSERT(strncmp(r, "ERR", 3) == 0);
	ask(fd, "R 0.00 F0 32", r, sizeof(r));
	CU_ASSERT(strncmp(r, "ERR", 3) == 0);
	ask(fd, "HELLO", r, sizeof(r));
	CU_ASSERT(strncmp(r, "ERR", 3) == 0);
	close(fd);
}

static void test_faults(void)
{
	const char *const args[] = {"--fault", "pm:scpi-error:after=1", "--fault",
				    "pm:overrange:after=2", "--fault", "pm:disconnect:after=4", NULL};
	tu_vstation vs;
	char r[256];
	int fd;

	CU_ASSERT_FATAL(tu_vstation_start(scratch, args, &vs) == 0);
	fd = open_uri(tu_vstation_uri(&vs, "pm"));
	CU_ASSERT_FATAL(fd >= 0);
	ask(fd, ":SENS1:POW:ATIM 1MS", NULL, 0);             /* 1 */
	ask(fd, ":SYST:ERR?", r, sizeof(r));                  /* 2: error queued now */
	CU_ASSERT(strncmp(r, "-310", 4) == 0);
	ask(fd, ":READ1:POW?", r, sizeof(r));                 /* 3 */
	CU_ASSERT(strtod(r, NULL) > 1e37);
	ask(fd, "*IDN?", r, sizeof(r));                       /* 4 */
	CU_ASSERT_EQUAL(ask(fd, "*IDN?", r, sizeof(r)), -1);  /* 5: half, then closed */
	close(fd);
	CU_ASSERT_EQUAL(tu_vstation_stop(&vs), 0);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("sim_station", suite_init, suite_cleanup);

	if (!s)
		return -1;
	CU_add_test(s, "config roles and drivers", test_config_roles);
	CU_add_test(s, "model statistics over a lot", test_model_statistics);
	CU_add_test(s, "ground truth seeded", test_ground_truth_seeded);
	CU_add_test(s, "prober route, bins, pm contact", test_prober_route_and_contact);
	CU_add_test(s, "BERT gate, counts, sync", test_bert_gate);
	CU_add_test(s, "BERT lanes gated in one message", test_bert_lanes_gated_together);
	CU_add_test(s, "ELSFP adapter over a pty", test_elsfp_pty);
	CU_add_test(s, "fault injection", test_faults);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
