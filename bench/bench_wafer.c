/*
 * bench/bench_wafer.c - a 1,000-die wafer on the virtual station with
 * modelled instrument times: the station's wall time against the time the
 * instruments were busy on its critical path, with the commit overlap
 * (run_commit.c) and without it (KGD_NO_OVERLAP=1) in the same run.
 *
 * kgd-vstation --product teraphy --die 7x9 maps exactly 1,000 dies on one
 * wafer. Times are scaled by 0.2 (step ~13 ms, contact 6 ms, separation
 * 4 ms, load/align/unload) and every command carries a LAN-like latency
 * (pm 0.5 ms, prober 2 ms); each die measures 8 points: optical power of
 * ports 1..4 at two wavelengths with a 10 ms averaging time (2 ms
 * scaled). The simulator reports (--stats-out) the union of its
 * instruments' busy intervals - command taken to reply written - which is
 * the time the station had to wait for instruments: the station drives
 * one instrument at a time, so nothing it does can go below that. Wall
 * time is the `station run` process, start to exit.
 *
 * Printed per arm: busy, wall, wall/busy, and the station's own share
 * (wall - busy) per die. Goal: wall within 3 % of busy with the overlap.
 * BENCH_WAFER_DIE=WxH runs a smaller wafer (e.g. 20x20) for a quick look.
 * A measurement, not a test: it exits 0 unless it cannot run at all.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIME_SCALE "0.2"
#define LATENCY "pm=0.5ms,prober=2ms"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static const char sequence[] =
	"sequence: bench-wafer\nversion: 1\nproduct: TPHY-16x16\n"
	"process: wafer\nroles: [prober, pm]\nmain:\n"
	"  - step: pm.optical_power\n    name: port_power\n"
	"    sweep: {port: 1..4, wavelength_nm: [1301.00, 1309.96]}\n"
	"    params: {averaging_s: 0.01}\n"
	"    limits: {low: -7.0, high: 5.0, unit: dBm}\n"
	"    on_fail: {bin: 5}\n"
	"bins:\n  1: {name: PASS, pass: true}\n  5: {name: OPTICAL_POWER}\n";

static pid_t spawn(char *const argv[], const char *no_overlap)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (no_overlap)
			setenv("KGD_NO_OVERLAP", no_overlap, 1);
		else
			unsetenv("KGD_NO_OVERLAP");
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The union row of the simulator's statistics. */
static int read_union(const char *path, double *busy, long *commands)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long n;
	double b;
	int found = 0;

	if (!f)
		return -1;
	*commands = 0;
	while (fgets(line, sizeof(line), f)) {
		char role[32];

		if (sscanf(line, "union,,,%lf", busy) == 1)
			found = 1;
		else if (sscanf(line, "%31[^,],%ld,%*d,%lf", role, &n, &b) == 3)
			*commands += n;
	}
	fclose(f);
	return found ? 0 : -1;
}

typedef struct arm {
	const char *name;
	const char *no_overlap;       /* KGD_NO_OVERLAP value, NULL = overlap */
	double busy, wall;
	long commands;
} arm;

static int run_arm(const char *dir, const char *die, arm *a, int k)
{
	char cfg[600], stats[600], dbp[600], seq[600], lot[32];
	pid_t sim, st;
	int status;
	double t0;

	snprintf(cfg, sizeof(cfg), "%s/station%d.yaml", dir, k);
	snprintf(stats, sizeof(stats), "%s/stats%d.csv", dir, k);
	snprintf(dbp, sizeof(dbp), "%s/results%d.db", dir, k);
	snprintf(seq, sizeof(seq), "%s/wafer.yaml", dir);
	snprintf(lot, sizeof(lot), "BENCH%d", k);
	{
		char *argv[] = {
			KGD_BIN_DIR "/kgd-vstation", "--product", "teraphy",
			"--seed", "7", "--lot", lot, "--wafers", "1",
			"--die", (char *)die, "--time-scale", TIME_SCALE,
			"--latency", LATENCY, "--config-out", cfg,
			"--stats-out", stats, "--lifetime-s", "1800", NULL
		};

		sim = spawn(argv, NULL);
	}
	if (sim < 0)
		return -1;
	for (int i = 0; i < 1000 && access(cfg, R_OK) != 0; i++)
		usleep(10000);
	if (access(cfg, R_OK) != 0) {
		fprintf(stderr, "bench_wafer: kgd-vstation wrote no config\n");
		kill(sim, SIGTERM);
		waitpid(sim, NULL, 0);
		return -1;
	}
	{
		char *argv[] = {
			KGD_BIN_DIR "/station", "run", seq, "--config", cfg,
			"--db", dbp, "--lot", lot, "--wafers", "1", "--quiet", NULL
		};

		t0 = now_s();
		st = spawn(argv, a->no_overlap);
		if (st < 0 || waitpid(st, &status, 0) < 0)
			status = -1;
		a->wall = now_s() - t0;
	}
	kill(sim, SIGTERM);
	waitpid(sim, NULL, 0);
	if (status != 0) {
		fprintf(stderr, "bench_wafer: station run (%s) failed (status %d)\n",
			a->name, status);
		return -1;
	}
	if (read_union(stats, &a->busy, &a->commands)) {
		fprintf(stderr, "bench_wafer: no statistics in %s\n", stats);
		return -1;
	}
	unlink(cfg);
	unlink(stats);
	return 0;
}

static void remove_db(const char *dir, int k)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/results%d.db", dir, k);
	unlink(p);
	snprintf(p, sizeof(p), "%s/results%d.db-wal", dir, k);
	unlink(p);
	snprintf(p, sizeof(p), "%s/results%d.db-shm", dir, k);
	unlink(p);
}

int main(void)
{
	char dir[512], seq[600];
	const char *tmp = getenv("TMPDIR"), *die = getenv("BENCH_WAFER_DIE");
	arm arms[2] = {
		{"overlap", NULL, 0, 0, 0},
		{"no overlap", "1", 0, 0, 0},
	};
	int status = 1;
	long dies;

	if (!die || !*die)
		die = "7x9";
	dies = strcmp(die, "7x9") == 0 ? 1000 : 0;
	snprintf(dir, sizeof(dir), "%s/bench_wafer-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_wafer: mkdtemp");
		return 1;
	}
	snprintf(seq, sizeof(seq), "%s/wafer.yaml", dir);
	if (write_file(seq, sequence)) {
		perror("bench_wafer: sequence");
		goto out;
	}
	for (int k = 0; k < 2; k++)
		if (run_arm(dir, die, &arms[k], k))
			goto out;
	printf("one wafer, die %s%s, 8 points per die, time scale %s, latency %s\n",
	       die, dies ? " (1,000 dies)" : "", TIME_SCALE, LATENCY);
	for (int k = 0; k < 2; k++) {
		arm *a = &arms[k];

		printf("  %-10s  busy %8.2f s  wall %8.2f s  wall/busy %6.4f"
		       "  station's own %6.2f%%\n", a->name, a->busy, a->wall,
		       a->wall / a->busy, 100.0 * (a->wall - a->busy) / a->busy);
	}
	printf("  goal: wall/busy <= 1.03 with the overlap\n");
	status = 0;
out:
	for (int k = 0; k < 2; k++)
		remove_db(dir, k);
	unlink(seq);
	if (rmdir(dir) && errno != ENOENT)
		fprintf(stderr, "bench_wafer: %s left behind\n", dir);
	return status;
}
