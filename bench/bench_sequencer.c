/*
 * bench/bench_sequencer.c - what the sequencer itself costs per sweep
 * point, with an instrument that costs nothing (bench/null-pm, a real
 * driver plugin loaded through the station config's plugin_path).
 *
 * One unit-process part sweeps pm.optical_power over 100,000 points
 * (port 1..25000 x 4 wavelengths), every point logged to a results
 * database in a temporary directory. Three arms, alternating in rounds so
 * machine noise hits all alike, each timed per point:
 *   sequencer   run_lot(): session, part, 100,000 x (find op and role,
 *               set_wavelength + read_power through the descriptor, unit
 *               conversion W -> dBm, limits, coords JSON, remember the
 *               value, db_measurement_add), step result, commit;
 *   driver      the same two driver calls on the same handle, in a loop;
 *   db          db_measurement_add of the same rows (coords made before
 *               timing), begin/commit around them.
 * The sequencer's own overhead per point is sequencer - driver - db; the
 * goal is < 2 us. The ratio printed is sequencer / (driver + db): 1.00
 * would be a sequencer that adds nothing to the work it must do.
 * A measurement, not a test: it exits 0 unless it cannot run at all.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "run_int.h"

#define PORTS 25000
#define N_WL 4
#define POINTS (PORTS * N_WL)
#define ROUNDS 5

static const double wl[N_WL] = { 1301.0, 1302.12, 1303.24, 1304.36 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A listener on 127.0.0.1 the station's TCP transport can connect to: the
 * kernel completes the handshake from the backlog, and the null driver
 * never sends a byte, so nothing needs to accept. */
static int open_listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int write_inputs(const char *dir, int port, char *seq_path,
			char *cfg_path, size_t cap)
{
	char text[1024];

	snprintf(seq_path, cap, "%s/sweep.yaml", dir);
	snprintf(cfg_path, cap, "%s/station.yaml", dir);
	snprintf(text, sizeof(text),
		 "sequence: bench-sweep\nversion: 1\nproduct: BENCH\n"
		 "process: unit\nroles: [pm]\nmain:\n"
		 "  - step: pm.optical_power\n    name: port_power\n"
		 "    sweep: {port: 1..%d, wavelength_nm: [%.2f, %.2f, %.2f, %.2f]}\n"
		 "    limits: {low: -10.0, high: 10.0, unit: dBm}\n"
		 "bins:\n  1: {name: PASS, pass: true}\n",
		 PORTS, wl[0], wl[1], wl[2], wl[3]);
	if (write_file(seq_path, text))
		return -1;
	snprintf(text, sizeof(text),
		 "station: bench\nplugin_path: [\"%s\"]\ninstruments:\n"
		 "  pm: {driver: null-pm, uri: \"tcp://127.0.0.1:%d\"}\n",
		 KGD_BENCH_PLUGIN_DIR, port);
	return write_file(cfg_path, text);
}

/* ---- arm 1: the whole sequencer ---------------------------------------- */

static int arm_sequencer(run_station *rs, const seq_sequence *s,
			 const cfg_station *c, db *d, int round, double *t)
{
	char serial[32], lot[32];
	const char *serials[1] = { serial };
	run_opts o = {0};
	run_summary sum;
	kgd_err err;
	double t0;

	snprintf(serial, sizeof(serial), "B-%04d", round);
	snprintf(lot, sizeof(lot), "BENCH%d", round);
	o.lot = lot;
	o.operator_name = "bench";
	o.serials = serials;
	o.n_serials = 1;
	kgd_err_clear(&err);
	t0 = now_s();
	if (run_lot(rs, s, c, d, &o, &sum, &err)) {
		fprintf(stderr, "bench_sequencer: %s\n", err.msg);
		return -1;
	}
	*t = now_s() - t0;
	if (sum.measurements != POINTS || sum.passed != 1) {
		fprintf(stderr, "bench_sequencer: expected %d passing points, got %zu\n",
			POINTS, sum.measurements);
		return -1;
	}
	return 0;
}

/* ---- arm 2: the driver, called directly -------------------------------- */

static int arm_driver(run_station *rs, double *t)
{
	run_role *r = run_find_role(rs, "pm");
	const drv_pm_ops *pm = r->plugin->desc->pm;
	double t0, w, sink = 0;
	kgd_err err;

	t0 = now_s();
	for (int p = 1; p <= PORTS; p++)
		for (int k = 0; k < N_WL; k++) {
			if (pm->set_wavelength(r->h, p, wl[k], &err) ||
			    pm->read_power(r->h, p, &w, &err))
				return -1;
			sink += w;
		}
	*t = now_s() - t0;
	return sink > 0 ? 0 : -1;
}

/* ---- arm 3: db_measurement_add alone ----------------------------------- */

static char (*coords)[64];

static int arm_db(db *d, int round, double *t)
{
	db_run_info info = {
		.station = "bench", .host = "bench-host", .operator_name = "bench",
		.lot = "RAW", .seq_name = "bench-sweep", .seq_version = 1,
		.seq_sha256 = "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
		.seq_text = "raw\n", .product = "BENCH",
	};
	char serial[32];
	int64_t run_id;
	kgd_err err;
	double t0;

	snprintf(serial, sizeof(serial), "R-%04d", round);
	info.serial = serial;
	t0 = now_s();
	if (db_run_begin(d, &info, &run_id, &err))
		goto fail;
	for (int i = 0; i < POINTS; i++) {
		db_measurement m = {
			.step = "port_power", .coords = coords[i], .value = 0.0,
			.value_valid = 1, .unit = "dBm", .low = -10.0,
			.high = 10.0, .has_low = 1, .has_high = 1, .pass = 1,
		};

		if (db_measurement_add(d, run_id, &m, &err))
			goto fail;
	}
	if (db_run_commit(d, run_id, DB_STATUS_PASS, 1, 1, NULL, &err))
		goto fail;
	*t = now_s() - t0;
	return 0;
fail:
	fprintf(stderr, "bench_sequencer: raw db: %s\n", err.msg);
	return -1;
}

/* ---- main ---------------------------------------------------------------- */

static void remove_db(const char *path)
{
	char side[700];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

int main(void)
{
	char dir[512], seq_path[600], cfg_path[600], db_seq[600], db_raw[600];
	const char *tmp = getenv("TMPDIR");
	double ts[ROUNDS], td[ROUNDS], tb[ROUNDS], seq_us, drv_us, db_us;
	seq_sequence *s = NULL;
	cfg_station *c = NULL;
	run_station *rs = NULL;
	db *d_seq = NULL, *d_raw = NULL;
	kgd_err err;
	int lfd = -1, port, status = 1;

	kgd_err_clear(&err);
	snprintf(dir, sizeof(dir), "%s/bench_sequencer-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_sequencer: mkdtemp");
		return 1;
	}
	snprintf(db_seq, sizeof(db_seq), "%s/seq.db", dir);
	snprintf(db_raw, sizeof(db_raw), "%s/raw.db", dir);
	coords = malloc(sizeof(*coords) * POINTS);
	if (!coords)
		goto out;
	/* The exact text the sequencer stores, so the db arm writes the same
	 * bytes. */
	for (int i = 0; i < POINTS; i++)
		snprintf(coords[i], sizeof(coords[i]),
			 "{\"port\":%.10g,\"wavelength_nm\":%.10g}",
			 (double)(1 + i / N_WL), wl[i % N_WL]);
	lfd = open_listener(&port);
	if (lfd < 0 || write_inputs(dir, port, seq_path, cfg_path, sizeof(seq_path))) {
		perror("bench_sequencer: setup");
		goto out;
	}
	if (seq_load(seq_path, &s, &err) || cfg_load(cfg_path, &c, &err) ||
	    run_station_open(s, c, &rs, &err) || db_open(db_seq, &d_seq, &err) ||
	    db_open(db_raw, &d_raw, &err)) {
		fprintf(stderr, "bench_sequencer: %s\n", err.msg);
		goto out;
	}
	/* One untimed round of each: pages, WAL and statement caches warm. */
	if (arm_sequencer(rs, s, c, d_seq, 0, &ts[0]) || arm_driver(rs, &td[0]) ||
	    arm_db(d_raw, 0, &tb[0]))
		goto out;
	for (int r = 0; r < ROUNDS; r++)
		if (arm_sequencer(rs, s, c, d_seq, r + 1, &ts[r]) ||
		    arm_driver(rs, &td[r]) || arm_db(d_raw, r + 1, &tb[r]))
			goto out;
	seq_us = median(ts, ROUNDS) / POINTS * 1e6;
	drv_us = median(td, ROUNDS) / POINTS * 1e6;
	db_us = median(tb, ROUNDS) / POINTS * 1e6;
	printf("one part, %d sweep points of pm.optical_power (null driver), "
	       "median of %d rounds\n", POINTS, ROUNDS);
	printf("  sequencer (run_lot)     %8.3f us/point\n", seq_us);
	printf("  baseline: driver ops    %8.3f us/point\n", drv_us);
	printf("  baseline: db row add    %8.3f us/point\n", db_us);
	printf("  sequencer overhead      %8.3f us/point  (goal < 2 us)\n",
	       seq_us - drv_us - db_us);
	printf("  ratio                   %8.2f  (sequencer / (driver + db))\n",
	       seq_us / (drv_us + db_us));
	status = 0;
out:
	run_station_close(rs);
	db_close(d_seq);
	db_close(d_raw);
	cfg_free(c);
	seq_free(s);
	free(coords);
	if (lfd >= 0)
		close(lfd);
	remove_db(db_seq);
	remove_db(db_raw);
	unlink(seq_path);
	unlink(cfg_path);
	rmdir(dir);
	return status;
}
