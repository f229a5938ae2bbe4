/*
 * bench/bench_die.c - time per die of the TeraPHY screen on the virtual
 * station against the modelled physical limit of its instruments (issue
 * 12): the same steps one after another (serial) and in two branches
 * (`parallel`: optical | electrical), each through the real `station run`
 * on a fresh kgd-vstation, on one row of good dies.
 *
 * Steps: optical power of port 1..16 x 16 grid wavelengths and insertion
 * loss of port 1..16 at the centre channel (power meter, 100 ms
 * averaging), BER of lane 1..16 with a 1.0 s gate (BERT); limits and bins
 * of sequences/teraphy-kgd.yaml, with the BER limit at 1e-10 as a 1 s gate
 * needs (docs/VIRTUAL_STATION.md), so every good die passes.
 *
 * Die time: run.started_at is stamped after contact, so from one die's
 * start to the next die's covers its measurement, cleanup, separation,
 * bin, the step to the next die of the row and the contact there - one
 * die cycle - and leaves the wafer load, align, the first step from the
 * loader and the unload outside. Per die = (start of the last die - start
 * of the first) / (dies - 1), from the results database.
 *
 * The limit comes from the simulator's own code, not from copies of its
 * numbers: the bench links prober.c and pm_scpi.c and asks them what the
 * fewest commands a die needs cost in modelled time - separation, the set
 * of the bin, the step to the next die of the row, contact; per wavelength
 * the wavelength of every port and one all-port read, plus one for
 * insertion loss (17 averaging times). The BERT's part is one gate: the
 * simulator models no time for set-up commands (wavelength, averaging,
 * pattern, gate time) and the bench adds no --latency, so set-up costs
 * nothing in the limit and everything the station spends on it counts
 * against the station. Limit = (prober + the longer branch) x time scale.
 *
 * A third arm runs the serial file point by point when the station offers
 * the switch (KGD_NO_BATCH=1 named in its binary). Exits 1 when a run
 * could not be measured (the parallel file refused, a run failed, a good
 * die did not pass); missing the goal prints MISS and exits 0.
 * BENCH_DIE_TIME_SCALE (default 0.1) and BENCH_DIE_N (dies, default 10)
 * override the set-up.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "pm_scpi.h"
#include "prober.h"
#include "station.h"

#define SEED 7
#define LOT "BENCHDIE"
#define AVERAGING_S 0.1
#define GATE_S 1.0
#define GOAL 1.15
#define RUN_TIMEOUT_S 600.0    /* one station run, then it is killed */
#define MAX_DIES 32

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

typedef int (*sim_exec_fn)(void *inst, const char *line, const sim_fx *fx,
			   sim_buf *out, double *busy_s);

/* Run argv with stdout/stderr to files (NULL: /dev/null), the station's
 * switches at their defaults but KGD_NO_BATCH=1 when no_batch. */
static pid_t spawn(char *const argv[], const char *out, const char *errf,
		   int no_batch)
{
	pid_t pid = fork();

	if (pid == 0) {
		unsetenv("KGD_NO_BATCH");
		unsetenv("KGD_NO_OVERLAP");
		if (no_batch)
			setenv("KGD_NO_BATCH", "1", 1);
		if (!freopen(out ? out : "/dev/null", "w", stdout) ||
		    !freopen(errf ? errf : "/dev/null", "w", stderr))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid at most timeout_s (less on a signal to the bench), then
 * SIGTERM and 5 s later SIGKILL: a child never outlives the bench. The
 * exit status, -1 when it had to be stopped. */
static int reap(pid_t pid, double timeout_s)
{
	double end = now_s() + timeout_s;
	int status, stopping = 0;

	if (pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return !stopping && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (stopping == 0 && (now_s() > end || stop_signal)) {
			kill(pid, SIGTERM);
			end = now_s() + 5;
			stopping = 1;
		} else if (stopping == 1 && now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(10);
	}
}

static void stop_child(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		reap(pid, 5);
	}
}

/* The first lines of a file, indented, for a message. */
static void print_head(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (!f)
		return;
	while (lines-- > 0 && fgets(line, sizeof(line), f))
		fprintf(stderr, "    %s%s", line, strchr(line, '\n') ? "" : "\n");
	fclose(f);
}

/* ---- the dies: one row of good dies from the simulator's ground truth ---- */

typedef struct row_pick {
	int row, col[MAX_DIES], n;
	char arg[MAX_DIES * 12];  /* --dies "c,r;c,r;..." */
} row_pick;

/* The column of a header field, or -1. */
static int field_index(const char *header, const char *name)
{
	size_t n = strlen(name);
	int i = 0;

	for (const char *p = header; p; p = strchr(p, ','), p = p ? p + 1 : NULL, i++)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\n' || !p[n]))
			return i;
	return -1;
}

/* The field k of a CSV line (no quoting in the ground truth). */
static long field_long(const char *line, int k)
{
	while (k-- > 0 && (line = strchr(line, ',')))
		line++;
	return line ? strtol(line, NULL, 10) : -1;
}

/* The row with the longest run of good dies side by side; its first n. */
static int pick_dies(const char *truth, int n, row_pick *pk)
{
	static unsigned char good[SIM_MAX_GRID][SIM_MAX_GRID];  /* [row][col] */
	char line[1024];
	FILE *f = fopen(truth, "r");
	int ic, ir, ib, best = 0;

	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	ic = field_index(line, "col");
	ir = field_index(line, "row");
	ib = field_index(line, "expected_bin");
	memset(good, 0, sizeof(good));
	while (ic >= 0 && ir >= 0 && ib >= 0 && fgets(line, sizeof(line), f)) {
		long c = field_long(line, ic), r = field_long(line, ir);

		if (c >= 0 && c < SIM_MAX_GRID && r >= 0 && r < SIM_MAX_GRID)
			good[r][c] = field_long(line, ib) == 1;
	}
	fclose(f);
	for (int r = 0; r < SIM_MAX_GRID; r++)
		for (int c = 0, run = 0; c < SIM_MAX_GRID; c++) {
			run = good[r][c] ? run + 1 : 0;
			if (run > best) {
				best = run;
				pk->row = r;
				pk->col[0] = c - run + 1;
			}
		}
	pk->n = best < n ? best : n;
	if (pk->n < 3)
		return -1;
	pk->arg[0] = '\0';
	for (int i = 0; i < pk->n; i++) {
		size_t len = strlen(pk->arg);

		pk->col[i] = pk->col[0] + i;
		snprintf(pk->arg + len, sizeof(pk->arg) - len, "%s%d,%d", i ? ";" : "",
			 pk->col[i], pk->row);
	}
	return 0;
}

/* ---- the limit, from the simulator's own command handlers ---------------- */

typedef struct limit {
	double prober, optical, electrical;  /* modelled s per die, unscaled */
	double step_mm;
} limit;

/* Modelled busy time of one command; -1 when the simulator refused it. */
static double sim_cmd(sim_exec_fn exec, void *inst, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static double sim_cmd(sim_exec_fn exec, void *inst, const char *fmt, ...)
{
	sim_fx fx = {0, 0, 0};
	sim_buf out = {0};
	char line[256];
	double busy = 0;
	va_list ap;
	int bad;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	bad = exec(inst, line, &fx, &out, &busy) != 0;
	/* A prober reply starts with its error code. */
	if (exec == sim_prober_execute && (!out.len || out.data[0] != '0'))
		bad = 1;
	sim_buf_free(&out);
	return bad ? -1 : busy;
}

/* Adds a command's modelled time to *sum; -1 when it was refused. */
static int add_cmd(double *sum, double t)
{
	if (t < 0)
		return -1;
	*sum += t;
	return 0;
}

static int model_limit(sim_station *st, const row_pick *pk, limit *lim)
{
	const sim_model *m = &st->model;
	int ports = m->p.die_ports, wls = m->p.die_wavelengths;
	sim_prober *pr = sim_prober_new(st, NULL, 0);
	sim_pm *pm = sim_pm_new(st, ports);
	double sum = 0, setup = 0;
	int rc = -1;

	memset(lim, 0, sizeof(*lim));
	lim->step_mm = m->p.die_w_mm;
	if (!pr || !pm)
		goto out;
	/* The prober: what a die after the first costs, as proc_wafer.c
	 * drives it with --dies (separate, bin, step, contact). */
	if (add_cmd(&setup, sim_cmd(sim_prober_execute, pr, "loader:load_wafer 1")) ||
	    add_cmd(&setup, sim_cmd(sim_prober_execute, pr, "map:step_die %d,%d,0",
				    pk->col[0], pk->row)) ||
	    add_cmd(&setup, sim_cmd(sim_prober_execute, pr, "move_chuck_contact")))
		goto out;
	for (int i = 1; i < pk->n; i++)
		if (add_cmd(&sum, sim_cmd(sim_prober_execute, pr, "move_chuck_separation")) ||
		    add_cmd(&sum, sim_cmd(sim_prober_execute, pr, "map:bins:set_bin 1,%d,%d",
					  pk->col[i - 1], pk->row)) ||
		    add_cmd(&sum, sim_cmd(sim_prober_execute, pr, "map:step_die %d,%d,0",
					  pk->col[i], pk->row)) ||
		    add_cmd(&sum, sim_cmd(sim_prober_execute, pr, "move_chuck_contact")))
			goto out;
	lim->prober = sum / (pk->n - 1);
	/* The power meter: averaging on every port, then per wavelength every
	 * port's wavelength and one all-port read; insertion loss the same
	 * at the centre channel. */
	sum = 0;
	for (int p = 1; p <= ports; p++)
		if (add_cmd(&sum, sim_cmd(sim_pm_execute, pm, ":SENS%d:POW:ATIM %gS", p,
					  AVERAGING_S)))
			goto out;
	for (int k = 0; k <= wls; k++) {
		double nm = sim_grid_nm(m, k < wls ? k : wls / 2), t;

		for (int p = 1; p <= ports; p++)
			if (add_cmd(&sum, sim_cmd(sim_pm_execute, pm, ":SENS%d:POW:WAV %.2fNM",
						  p, nm)))
				goto out;
		t = sim_cmd(sim_pm_execute, pm, ":READ1:POW:ALL?");
		if (t <= 0)
			goto out;
		sum += t;
	}
	lim->optical = sum;
	/* The BERT: every lane gated at once; set-up has no modelled time. */
	lim->electrical = GATE_S;
	rc = 0;
out:
	sim_prober_free(pr);
	sim_pm_free(pm);
	return rc;
}

/* ---- the sequences ----------------------------------------------------------- */

typedef struct text {
	char buf[16384];
	size_t len;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = t->len + (size_t)n < sizeof(t->buf) ? t->len + (size_t)n
							     : sizeof(t->buf) - 1;
}

static void put_optical(text *t, const char *in, const sim_model *m)
{
	put(t, "%s- step: pm.optical_power\n%s  name: port_power\n"
	       "%s  sweep:\n%s    port: 1..%d\n%s    wavelength_nm: [",
	    in, in, in, in, m->p.die_ports, in);
	for (int k = 0; k < m->p.die_wavelengths; k++)
		put(t, "%s%.2f", k ? ", " : "", sim_grid_nm(m, k));
	put(t, "]\n%s  params: {averaging_s: %g}\n"
	       "%s  limits: {low: -7.0, high: 5.0, unit: dBm}\n"
	       "%s  on_fail: {bin: 5}\n%s  retry: 1\n", in, AVERAGING_S, in, in, in);
	put(t, "%s- step: pm.insertion_loss\n%s  name: insertion_loss\n"
	       "%s  sweep: {port: 1..%d, wavelength_nm: [%.2f]}\n"
	       "%s  params: {reference_dbm: 4.0, averaging_s: %g}\n"
	       "%s  limits: {low: -1.0, high: 11.0, unit: dB}\n%s  on_fail: {bin: 5}\n",
	    in, in, in, m->p.die_ports, sim_grid_nm(m, m->p.die_wavelengths / 2), in,
	    AVERAGING_S, in, in);
}

static void put_electrical(text *t, const char *in, const sim_model *m)
{
	put(t, "%s- step: bert.ber\n%s  name: lane_ber\n%s  sweep: {lane: 1..%d}\n"
	       "%s  params: {pattern: PRBS31, rate_gbps: 53.125, gate_s: %.1f}\n"
	       "%s  limits: {high: 1.0e-10, unit: ratio}\n%s  on_fail: {bin: 7}\n",
	    in, in, in, m->p.die_ports, in, GATE_S, in, in);
}

static int write_sequence(const char *path, const sim_model *m, int parallel)
{
	static text t;
	FILE *f;

	t.len = 0;
	put(&t, "# bench_die: the TeraPHY KGD steps (sequences/teraphy-kgd.yaml), %s\n"
	       "sequence: bench-die-%s\nversion: 1\nproduct: TPHY-16x16\n"
	       "process: wafer\nroles: [prober, pm, bert]\n\nmain:\n",
	    parallel ? "optical and electrical side by side" : "one after another",
	    parallel ? "parallel" : "serial");
	if (parallel) {
		put(&t, "  - parallel:\n      optical:\n");
		put_optical(&t, "        ", m);
		put(&t, "      electrical:\n");
		put_electrical(&t, "        ", m);
	} else {
		put_optical(&t, "  ", m);
		put_electrical(&t, "  ", m);
	}
	put(&t, "\ncleanup:\n  - step: bert.configure\n    name: bert_off\n"
		"    sweep: {lane: 1..%d}\n"
		"    params: {pattern: PRBS31, rate_gbps: 53.125, output: off}\n\n"
		"hard_bins:\n  1: {name: KGD, pass: true}\n  2: {name: OPTICAL_REJECT}\n"
		"  3: {name: ELECTRICAL_REJECT}\n  9: {name: TEST_ERROR}\n"
		"bins:\n  1: {name: PASS, pass: true, hard: 1}\n"
		"  5: {name: OPTICAL_POWER, hard: 2}\n  7: {name: BER, hard: 3}\n"
		"  98: {name: FAIL_UNBINNED, hard: 2}\n"
		"  99: {name: INSTRUMENT_ERROR, hard: 9}\n", m->p.die_ports);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fwrite(t.buf, 1, t.len, f);
	return fclose(f);
}

/* ---- one arm: station check, fresh simulator, station run, the database -- */

typedef struct arm {
	const char *name, *seq;
	int no_batch;
	int measured;
	const char *why;          /* when not measured */
	double per_die, wall;
	double lo, hi;            /* shortest and longest die cycle */
	int runs, passed;
	char steps[256];          /* mean time per step (schema 4), or "" */
} arm;

/* Per die from run.started_at (see the top of the file). */
static int die_times(const char *dbp, arm *a)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double first = 0, last = 0, prev = 0;
	int rc = -1;

	if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT julianday(started_at), status = 'pass'"
			       " FROM run ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		goto out;
	a->runs = a->passed = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		double d;

		prev = last;
		last = sqlite3_column_double(st, 0);
		d = (last - prev) * 86400.0;
		if (a->runs == 1 || (a->runs > 1 && d < a->lo))
			a->lo = d;
		if (a->runs == 1 || (a->runs > 1 && d > a->hi))
			a->hi = d;
		if (a->runs++ == 0)
			first = last;
		a->passed += sqlite3_column_int(st, 1);
	}
	if (a->runs >= 2) {
		a->per_die = (last - first) * 86400.0 / (a->runs - 1);
		rc = 0;
	}
	/* Where a die's time goes, from the step timing of schema 4 (absent
	 * in older files: no line then). */
	sqlite3_finalize(st);
	st = NULL;
	a->steps[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT step, avg(duration_s) FROM step_result"
			       " GROUP BY step ORDER BY min(id)", -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW &&
		       sqlite3_column_type(st, 1) != SQLITE_NULL) {
			size_t len = strlen(a->steps);

			snprintf(a->steps + len, sizeof(a->steps) - len, "%s%s %.4f s",
				 len ? ", " : "", (const char *)sqlite3_column_text(st, 0),
				 sqlite3_column_double(st, 1));
		}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int run_arm(const char *dir, const char *scale, const row_pick *pk, arm *a, int k)
{
	char station[600], vstation[600], seq[600], cfg[600], dbp[600], log[600];
	char lot[32], seed[16], dies[sizeof(pk->arg)];
	pid_t sim, st;
	int status;
	double t0;

	snprintf(seq, sizeof(seq), "%s/%s", dir, a->seq);
	snprintf(cfg, sizeof(cfg), "%s/station%d.yaml", dir, k);
	snprintf(dbp, sizeof(dbp), "%s/results%d.db", dir, k);
	snprintf(log, sizeof(log), "%s/station%d.log", dir, k);
	snprintf(station, sizeof(station), "%s/station", KGD_BIN_DIR);
	snprintf(vstation, sizeof(vstation), "%s/kgd-vstation", KGD_BIN_DIR);
	snprintf(lot, sizeof(lot), "%s", LOT);
	snprintf(seed, sizeof(seed), "%d", SEED);
	memcpy(dies, pk->arg, sizeof(dies));
	a->why = "station run failed";
	{
		char *argv[] = {station, "check", seq, NULL};

		status = reap(spawn(argv, log, log, a->no_batch), 60);
		if (status != 0) {
			a->why = "the station refused the sequence (station check above)";
			fprintf(stderr, "bench_die: %s: station check %s:\n", a->name, a->seq);
			print_head(log, 8);
			return -1;
		}
	}
	{
		char *argv[] = {vstation, "--product", "teraphy", "--seed", seed, "--lot", lot,
				"--wafers", "1", "--time-scale", (char *)scale,
				"--config-out", cfg, "--lifetime-s", "900", NULL};

		sim = spawn(argv, NULL, NULL, 0);
	}
	for (int i = 0; i < 1000 && access(cfg, R_OK) != 0 && !stop_signal; i++)
		sleep_ms(10);
	if (sim < 0 || access(cfg, R_OK) != 0) {
		fprintf(stderr, "bench_die: kgd-vstation wrote no config\n");
		a->why = "kgd-vstation did not start";
		stop_child(sim);
		return -1;
	}
	{
		char *argv[] = {station, "run", seq, "--config", cfg, "--db", dbp, "--lot", lot,
				"--wafers", "1", "--dies", dies, "--quiet", NULL};

		t0 = now_s();
		st = spawn(argv, log, log, a->no_batch);
		status = reap(st, RUN_TIMEOUT_S);
		a->wall = now_s() - t0;
	}
	stop_child(sim);
	if (status != 0) {
		fprintf(stderr, "bench_die: %s: station run exited %d:\n", a->name, status);
		print_head(log, 12);
		return -1;
	}
	if (die_times(dbp, a)) {
		fprintf(stderr, "bench_die: %s: no die times in %s\n", a->name, dbp);
		a->why = "no die times in the database";
		return -1;
	}
	if (a->runs != pk->n || a->passed != pk->n) {
		fprintf(stderr, "bench_die: %s: %d of %d good dies tested and passed (%d runs)\n",
			a->name, a->passed, pk->n, a->runs);
		a->why = "good dies did not all pass";
		return -1;
	}
	a->measured = 1;
	return 0;
}

/* Does the station binary name this switch? (It is static: the sequencer
 * is in it.) */
static int binary_mentions(const char *path, const char *word)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(word), have = 0, got;
	static char buf[1 << 16];
	int found = 0;

	if (!f)
		return 0;
	while (!found && (got = fread(buf + have, 1, sizeof(buf) - have, f)) > 0) {
		have += got;
		for (size_t i = 0; i + n <= have && !found; i++)
			found = memcmp(buf + i, word, n) == 0;
		/* keep the tail: a word may straddle two reads */
		if (have >= n) {
			memmove(buf, buf + have - (n - 1), n - 1);
			have = n - 1;
		}
	}
	fclose(f);
	return found;
}

static void remove_files(const char *dir)
{
	static const char *const names[] = {
		"serial.yaml", "parallel.yaml", "truth.csv", "station%d.yaml",
		"station%d.yaml.tmp", "station%d.log", "results%d.db", "results%d.db-wal",
		"results%d.db-shm"};
	char p[700], name[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), names[i], k);
			snprintf(p, sizeof(p), "%s/%s", dir, name);
			unlink(p);
		}
	if (rmdir(dir) && errno != ENOENT)
		fprintf(stderr, "bench_die: %s left behind\n", dir);
}

int main(void)
{
	static sim_station st;  /* the wafer map: not on the stack */
	const char *tmp = getenv("TMPDIR"), *scale = getenv("BENCH_DIE_TIME_SCALE"),
		   *nenv = getenv("BENCH_DIE_N");
	char dir[512], truth[600], path[600];
	arm arms[3] = {
		{.name = "serial", .seq = "serial.yaml"},
		{.name = "parallel", .seq = "parallel.yaml"},
		{.name = "point by point", .seq = "serial.yaml", .no_batch = 1},
	};
	sim_model_params mp;
	struct sigaction sa;
	row_pick pk;
	limit lim;
	double ts, lim_s;
	int n = nenv ? atoi(nenv) : 10, n_arms = 2, failed = 0, rc = 1;

	if (!scale || !*scale)
		scale = "0.1";
	ts = strtod(scale, NULL);
	if (ts <= 0 || ts > 10 || n < 3 || n > MAX_DIES) {
		fprintf(stderr, "bench_die: BENCH_DIE_TIME_SCALE in (0, 10], "
				"BENCH_DIE_N in 3..%d\n", MAX_DIES);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* A closed stdout (| head) or a hang-up stops the bench the same way:
	 * children stopped, temporary folder removed. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);

	sim_model_defaults(&mp);
	mp.product = SIM_PRODUCT_TERAPHY;
	mp.seed = SEED;
	snprintf(mp.lot, sizeof(mp.lot), "%s", LOT);
	mp.wafers = 1;
	if (sim_model_init(&st.model, &mp)) {
		fprintf(stderr, "bench_die: the simulator's model did not initialise\n");
		return 1;
	}
	sim_limits_defaults(&st.limits);
	st.time_scale = 1;

	snprintf(dir, sizeof(dir), "%s/bench_die-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_die: mkdtemp");
		return 1;
	}
	snprintf(truth, sizeof(truth), "%s/truth.csv", dir);
	{
		char exe[600], seed[16];
		char *argv[] = {exe, "--product", "teraphy", "--seed", seed, "--lot", LOT,
				"--wafers", "1", "--ground-truth", NULL};

		snprintf(exe, sizeof(exe), "%s/kgd-vstation", KGD_BIN_DIR);
		snprintf(seed, sizeof(seed), "%d", SEED);
		if (reap(spawn(argv, truth, NULL, 0), 60) != 0 || pick_dies(truth, n, &pk)) {
			fprintf(stderr, "bench_die: no row of good dies in the ground truth\n");
			goto out;
		}
	}
	if (model_limit(&st, &pk, &lim)) {
		fprintf(stderr, "bench_die: the simulated prober or power meter refused a command\n");
		goto out;
	}
	lim_s = ts * (lim.prober + (lim.optical > lim.electrical ? lim.optical : lim.electrical));
	snprintf(path, sizeof(path), "%s/serial.yaml", dir);
	if (write_sequence(path, &st.model, 0))
		goto write_failed;
	snprintf(path, sizeof(path), "%s/parallel.yaml", dir);
	if (write_sequence(path, &st.model, 1))
		goto write_failed;
	snprintf(path, sizeof(path), "%s/station", KGD_BIN_DIR);
	if (binary_mentions(path, "KGD_NO_BATCH"))
		n_arms = 3;

	printf("TeraPHY die time: %d good dies of row %d (cols %d..%d), lot %s seed %d, "
	       "time scale %s\n", pk.n, pk.row, pk.col[0], pk.col[pk.n - 1], LOT, SEED, scale);
	printf("modelled limit per die %.4f s = (prober %.4f s + longer branch %.4f s) x %s\n",
	       lim_s, lim.prober, lim.optical > lim.electrical ? lim.optical : lim.electrical,
	       scale);
	printf("  prober: separate, bin, step %.0f mm, contact; optical: %d all-port reads "
	       "x %g s = %.3f s; electrical: one %.1f s gate\n", lim.step_mm,
	       st.model.p.die_wavelengths + 1, AVERAGING_S, lim.optical, lim.electrical);
	fflush(stdout);
	for (int k = 0; k < n_arms && !stop_signal; k++) {
		arm *a = &arms[k];

		if (run_arm(dir, scale, &pk, a, k)) {
			failed = 1;
			printf("  %-15s NOT MEASURED: %s\n", a->name, a->why);
		} else {
			printf("  %-15s %8.4f s per die (%.4f..%.4f)  / limit %7.2f"
			       "  (station run %.1f s)\n", a->name, a->per_die, a->lo, a->hi,
			       a->per_die / lim_s, a->wall);
			if (a->steps[0])
				printf("  %-15s   steps: %s\n", "", a->steps);
		}
		fflush(stdout);
	}
	if (n_arms == 2)
		printf("  %-15s skipped: this station has no KGD_NO_BATCH switch\n",
		       "point by point");
	if (arms[1].measured)
		printf("  goal: parallel / limit <= %.2f: %s (%.2f)\n", GOAL,
		       arms[1].per_die / lim_s <= GOAL ? "PASS" : "MISS",
		       arms[1].per_die / lim_s);
	else
		printf("  goal: parallel / limit <= %.2f: NOT MEASURED\n", GOAL);
	rc = stop_signal ? 130 : failed;
	goto out;
write_failed:
	perror("bench_die: sequence");
out:
	remove_files(dir);
	return rc;
}
