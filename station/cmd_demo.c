/*
 * station/cmd_demo.c - `station demo`: a whole simulated lot, end to end.
 *
 * Starts the virtual station (kgd-vstation, beside this executable) on
 * 127.0.0.1, lets it write the station config, runs the product's sequence
 * for a lot on it exactly as `station run` would, writes the reports, and
 * stops the simulator; a wafer lot ends screened (`station screen`: DPAT +
 * GDBN, one planted outlier die per wafer) with report.html. The flagship
 * flow is the default: TeraPHY wafer sort (wafer process, prober + power
 * meter + BERT) on a reduced die grid so it finishes in seconds. For the unit products (elsfp, fiber) the demo plays
 * the operator: before each part it tells the simulator which unit is now
 * in the fixture (:SIMulate:DUT), over its own connection, the way a person
 * would swap the module.
 *
 * The simulator is always stopped and reaped, whatever fails; it also has a
 * lifetime of its own as a backstop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cli.h"
#include "kgd/scpi.h"
#include "report_cli.h"
#include "run_cli.h"
#include "screen_cli.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "p:w:L:o:n:s:S:qh"

/* The products' files, under cli_data_dir(): the source tree's for a
 * build-tree station, the installed ones beside an installed station. */
#define SEQ_DIR "sequences/"
#define DEMO_SIM_LIFETIME_S "900"
#define DEMO_SIM_START_S 10
/* A 40 x 40 mm "die" leaves 32 sites per 300 mm wafer: a whole lot in
 * seconds, every defect kind of the model still possible. Modelled times
 * (BERT gates, chuck moves) run at 1/5000. */
#define DEMO_DIE "40x40"
#define DEMO_TIME_SCALE "0.0002"
/* Die (3,3) of every wafer 1.2 dB bright: inside the spec, some 10-25
 * robust sigmas above its wafer - what only the screen rejects. */
#define DEMO_OUTLIER "3,3,1.2"
/* The demo's screen (docs/REPORTS.md "The outlier screen"). Its bins are
 * numbers the demo's sequences do not use (their hard bin 9 is
 * TEST_ERROR), so an analyst reads a screened die as SCREEN_REJECT in
 * both the soft and the hard view, never as an instrument error. */
static const char demo_screen_yaml[] =
	"# written by station demo: the screen it runs after wafer sort\n"
	"soft_bin: 90\n"
	"hard_bin: 4\n"
	"min_samples: 20\n"
	"dpat:\n"
	"  k: 6\n"
	"  tests: all\n"
	"gdbn:\n"
	"  neighbourhood: 3x3\n"
	"  min_bad: 4\n";

/* What the demo runs for each product of the virtual station. */
static const struct demo_product {
	const char *name;
	const char *sequence, *limits;
	int wafer;                 /* wafer process: lot = wafers */
} products[] = {
	{"teraphy", SEQ_DIR "teraphy-kgd-parallel.yaml",
	 SEQ_DIR "limits/teraphy-16x16-a0.yaml", 1},
	{"elsfp", SEQ_DIR "elsfp-module.yaml", SEQ_DIR "limits/elsfp-8-std.yaml", 0},
	{"fiber", SEQ_DIR "fiber-attach.yaml", SEQ_DIR "limits/fiber-16-std.yaml", 0},
};

/* Write the demo's screen config into out and screen the lot with it. */
static int demo_screen(const char *out, const char *db_path, const char *lot,
		       scr_summary *sum)
{
	char path[4200];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/screen.yaml", out);
	f = fopen(path, "w");
	ok = f && fputs(demo_screen_yaml, f) != EOF;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok) {
		cli_error("%s: cannot write: %s", path, strerror(errno));
		return CLI_ERROR;
	}
	return screen_cli(db_path, lot, path, 1, sum);
}

static void help(void)
{
	printf(
"usage: station demo [--product teraphy|elsfp|fiber] [--out DIR] [--wafers N]\n"
"                    [--units N] [--seed N] [--sequence FILE] [--limits FILE]\n"
"                    [--quiet]\n\n"
"Run a simulated lot on the virtual station, no hardware needed: starts\n"
"kgd-vstation on 127.0.0.1 with the product's model, runs the product's\n"
"sequence over the lot, writes the results database and the reports into\n"
"DIR (report.html too), and stops the simulator. A wafer lot is then\n"
"screened (DPAT + GDBN, DIR/screen.yaml; one die per wafer is planted as an\n"
"outlier) and the demo prints the yield before and after the screen.\n"
"Default: TeraPHY wafer sort of 2 wafers on a reduced die grid\n"
"(sequences/teraphy-kgd-parallel.yaml: the optical and electrical screens\n"
"side by side; well under a minute).\n\n"
"  -p, --product P      teraphy (wafer sort, default), elsfp or fiber (units)\n"
"  -o, --out DIR        output folder (default: kgd-demo-YYYYMMDD-HHMMSS)\n"
"  -w, --wafers N       teraphy: wafers in the lot (default 2)\n"
"  -n, --units N        elsfp/fiber: lot size (default 12)\n"
"  -s, --seed N         model seed: same seed, same parts (default 1)\n"
"  -S, --sequence FILE  sequence to run instead of the product's\n"
"  -L, --limits FILE    limits file instead of the product's (with the\n"
"                       product's sequence only)\n"
"  -q, --quiet          no per-part progress lines\n");
}

typedef struct demo_sim {
	pid_t pid;
	xport *operator_link;   /* the "hands" that swap units in the fixture */
} demo_sim;

static int sim_start(demo_sim *sim, const char *config_path,
		     const char *product, const char *lot, unsigned long seed,
		     unsigned long units, unsigned long wafers, int wafers_lot,
		     kgd_err *err)
{
	char exe[4200], seed_s[32], units_s[32], wafers_s[32];
	struct timespec nap = {0, 20 * 1000 * 1000};
	time_t deadline;

	snprintf(exe, sizeof(exe), "%s/kgd-vstation", cli_exe_dir());
	snprintf(seed_s, sizeof(seed_s), "%lu", seed);
	snprintf(units_s, sizeof(units_s), "%lu", units);
	snprintf(wafers_s, sizeof(wafers_s), "%lu", wafers);
	if (access(exe, X_OK))
		return kgd_err_set(err, KGD_ERR_NOT_FOUND,
				   "%s: simulator not found: %s", exe, strerror(errno));
	sim->pid = fork();
	if (sim->pid < 0)
		return kgd_err_set(err, KGD_ERR_IO, "fork: %s", strerror(errno));
	if (sim->pid == 0) {
		execl(exe, exe, "--product", product, "--lot", lot, "--seed", seed_s,
		      "--units", units_s, "--wafers", wafers_s, "--die", DEMO_DIE,
		      "--time-scale", DEMO_TIME_SCALE, "--config-out", config_path,
		      "--lifetime-s", DEMO_SIM_LIFETIME_S,
		      /* wafers: one die planted as a PAT outlier (last, so
		       * the unit products stop the list here) */
		      wafers_lot ? "--outlier" : (char *)NULL, DEMO_OUTLIER,
		      (char *)NULL);
		fprintf(stderr, "station: exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	/* The config file appears (atomically) once the simulator listens. */
	deadline = time(NULL) + DEMO_SIM_START_S;
	while (access(config_path, F_OK)) {
		int status;

		if (waitpid(sim->pid, &status, WNOHANG) == sim->pid) {
			sim->pid = 0;
			return kgd_err_set(err, KGD_ERR_IO,
					   "%s exited before it was ready", exe);
		}
		if (time(NULL) > deadline)
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
				"%s did not write %s within %d s", exe,
				config_path, DEMO_SIM_START_S);
		nanosleep(&nap, NULL);
	}
	return KGD_OK;
}

static void sim_stop(demo_sim *sim)
{
	int status;

	xport_close(sim->operator_link);
	sim->operator_link = NULL;
	if (sim->pid <= 0)
		return;
	kill(sim->pid, SIGTERM);
	for (int i = 0; i < 250; i++) {
		if (waitpid(sim->pid, &status, WNOHANG) == sim->pid) {
			sim->pid = 0;
			return;
		}
		usleep(20000);
	}
	kill(sim->pid, SIGKILL);
	waitpid(sim->pid, &status, 0);
	sim->pid = 0;
}

/* run_insert_fn: put unit `index` into the simulated fixture. */
static int insert_unit(void *user, size_t index, const char *serial,
		       kgd_err *err)
{
	demo_sim *sim = user;

	(void)serial;
	return scpi_command(sim->operator_link, err, ":SIMulate:DUT %zu", index);
}

static int make_out_dir(char *out, size_t cap, const char *given)
{
	char probe[4200];

	if (given)
		snprintf(out, cap, "%s", given);
	else {
		time_t t = time(NULL);
		struct tm tm;

		strftime(out, cap, "kgd-demo-%Y%m%d-%H%M%S", localtime_r(&t, &tm));
	}
	if (mkdir(out, 0777) && errno != EEXIST) {
		cli_error("%s: cannot create folder: %s", out, strerror(errno));
		return -1;
	}
	/* Never mix two demos' results in one database. */
	snprintf(probe, sizeof(probe), "%s/results.db", out);
	if (access(probe, F_OK) == 0) {
		cli_error("%s already holds a results.db; choose another --out", out);
		return -1;
	}
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{"product", required_argument, 0, 'p'},
		{"wafers", required_argument, 0, 'w'},
		{"limits", required_argument, 0, 'L'},
		{"out", required_argument, 0, 'o'},
		{"units", required_argument, 0, 'n'},
		{"seed", required_argument, 0, 's'},
		{"sequence", required_argument, 0, 'S'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *out_arg = NULL, *seq_path = NULL, *limits_path = NULL;
	const struct demo_product *prod = &products[0];
	unsigned long units = 12, seed = 1, wafers = 2;
	int *slots = NULL;
	char out[4096], config_path[4200], db_path[4200], lot[64];
	char prod_seq[4200], prod_limits[4200];
	demo_sim sim = {0};
	cfg_station *c = NULL;
	run_cli_args a = {0};
	scr_summary scr = {0};
	kgd_err err;
	int ch, rc = CLI_ERROR, quiet = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			prod = NULL;
			for (size_t i = 0; i < sizeof(products) / sizeof(products[0]); i++)
				if (strcmp(optarg, products[i].name) == 0)
					prod = &products[i];
			if (!prod)
				return cli_usage("demo", "--product wants teraphy, elsfp or fiber, not '%s'", optarg);
			break;
		case 'w':
			if (cli_parse_uint(optarg, 25, &wafers) || !wafers)
				return cli_usage("demo", "--wafers wants 1..25, not '%s'", optarg);
			break;
		case 'L': limits_path = optarg; break;
		case 'o': out_arg = optarg; break;
		case 'n':
			if (cli_parse_uint(optarg, 100000, &units) || !units)
				return cli_usage("demo", "--units wants 1..100000, not '%s'", optarg);
			break;
		case 's':
			if (cli_parse_uint(optarg, 0xffffffffUL, &seed))
				return cli_usage("demo", "--seed wants a number, not '%s'", optarg);
			break;
		case 'S': seq_path = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("demo", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc)
		return cli_usage("demo", "unexpected argument '%s'", argv[optind]);
	/* The product's limits belong to the product's sequence only. */
	if (!limits_path && !seq_path) {
		snprintf(prod_limits, sizeof(prod_limits), "%s/%s", cli_data_dir(),
			 prod->limits);
		limits_path = prod_limits;
	}
	if (!seq_path) {
		snprintf(prod_seq, sizeof(prod_seq), "%s/%s", cli_data_dir(),
			 prod->sequence);
		seq_path = prod_seq;
	}
	if (make_out_dir(out, sizeof(out), out_arg))
		return CLI_ERROR;
	snprintf(config_path, sizeof(config_path), "%s/station.yaml", out);
	snprintf(db_path, sizeof(db_path), "%s/results.db", out);
	snprintf(lot, sizeof(lot), "DEMO%lu", seed);
	unlink(config_path);   /* a stale one would look like a ready simulator */

	kgd_err_clear(&err);
	if (sim_start(&sim, config_path, prod->name, lot, seed, units, wafers,
		      prod->wafer, &err) ||
	    cfg_load(config_path, &c, &err)) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!cfg_find_role(c, "pm")) {
		cli_error("%s: the virtual station offers no 'pm' role", config_path);
		goto out;
	}
	if (xport_open(cfg_find_role(c, "pm")->uri, XPORT_DEFAULT_TIMEOUT_MS,
		       &sim.operator_link, &err)) {
		rc = cli_fail(&err);
		goto out;
	}
	printf("virtual station up: %s\n", config_path);

	a.seq_path = seq_path;
	a.limits_path = limits_path;
	a.config_path = config_path;
	a.db_path = db_path;
	a.lot = lot;
	a.operator_name = "demo";
	a.quiet = quiet;
	if (prod->wafer) {
		slots = malloc(wafers * sizeof(*slots));
		if (!slots) {
			cli_error("out of memory");
			goto out;
		}
		for (unsigned long i = 0; i < wafers; i++)
			slots[i] = (int)i + 1;
		a.slots = slots;
		a.n_slots = wafers;
	} else {
		a.units = units;
		a.insert = insert_unit;
		a.insert_user = &sim;
	}
	/* KGD_TRACE=FILE traces the demo's instruments as it does a run's. */
	rc = cli_trace_start(NULL);
	if (rc == CLI_OK) {
		rc = run_cli(&a);
		cli_trace_stop();
	}
	/* Wafer sort ends with the screen: known good means no outliers. */
	if (rc == CLI_OK && prod->wafer)
		rc = demo_screen(out, db_path, lot, &scr);
	if (rc == CLI_OK)
		rc = report_cli_html(db_path, out, NULL, NULL, 1, 1);
	if (rc == CLI_OK) {
		printf("demo done: %s, %zu %s, yield %.1f%%\n",
		       prod->name, a.summary.tested, prod->wafer ? "dies" : "units",
		       a.summary.tested ? 100.0 * (double)a.summary.passed /
						  (double)a.summary.tested : 0.0);
		if (prod->wafer)
			printf("  screened (DPAT + GDBN): yield %.1f%% before, "
			       "%.1f%% after the screen (%lld dies rejected)\n",
			       scr.tested ? 100.0 * (double)scr.passed /
			       (double)scr.tested : 0.0,
			       scr.tested ? 100.0 * (double)(scr.passed -
			       scr.rejected) / (double)scr.tested : 0.0,
			       scr.rejected);
		printf("  results database: %s\n  reports:          %s/\n"
		       "  lot report:       %s/report.html\n"
		       "  station config:   %s\n", db_path, out, out, config_path);
	}
out:
	sim_stop(&sim);
	cfg_free(c);
	free(slots);
	return rc;
}
