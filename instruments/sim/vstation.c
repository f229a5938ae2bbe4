/*
 * instruments/sim/vstation.c - kgd-vstation, the virtual station: the
 * simulated instruments a product needs, each a real peer on 127.0.0.1 or
 * a pseudo-terminal, over one seeded model of a lot (model.c) and one
 * shared part-under-test state (station.h). This file owns options,
 * signals and the station config; loop.c moves the bytes; one file per
 * instrument answers its command set.
 *
 * Invariants:
 *  - it never outlives --lifetime-s, so a crashed test cannot leave it behind;
 *  - the --config-out file appears whole or not at all (written to .tmp,
 *    then renamed), and only once every instrument listens, so a reader
 *    that sees it can connect at once;
 *  - SIGINT/SIGTERM close every socket and the pty and exit 0;
 *  - with --usb the pm100 is a USB device on a umockdev testbed (usbfs.c)
 *    whose directory is removed at exit, and a command given after "--"
 *    runs under that testbed; we exit with its status when it ends.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bert.h"
#include "elsfp.h"
#include "loop.h"
#include "model.h"
#include "pm_scpi.h"
#include "prober.h"
#include "smu.h"
#include "station.h"
#include "usb_station.h"

/* SMUs 1..8 drive the ELSFP module's lasers 1..8 (smu.h); with
 * --pd-ring, pd1..pd16 and heater1..heater16 a TeraPHY die's photodiodes
 * and ring heaters. */
enum { EP_PM, EP_PM100, EP_BERT, EP_PROBER, EP_LASER, EP_SMU1,
       EP_SMU8 = EP_SMU1 + SIM_SMU_MAX - 1, EP_PD1,
       EP_PD16 = EP_PD1 + SIM_MAX_PORTS - 1, EP_HTR1,
       EP_HTR16 = EP_HTR1 + SIM_MAX_PORTS - 1, EP_COUNT };

#define SMU_ROLE(ep, name) [ep] = {name, "keithley-24xx", 2000}

static const struct {
	const char *role, *driver;
	int timeout_ms;
} roles[EP_COUNT] = {
	[EP_PM] = {"pm", "keysight-n774x", 5000},
	[EP_PM100] = {"pm100", "thorlabs-pm100", 2000},
	[EP_BERT] = {"bert", "jbert-n4903b", 5000},
	[EP_PROBER] = {"prober", "mpi-sentio", 15000},
	[EP_LASER] = {"laser", "elsfp-cmis", 2000},
	[EP_SMU1] = {"smu1", "keithley-24xx", 2000},
	[EP_SMU1 + 1] = {"smu2", "keithley-24xx", 2000},
	[EP_SMU1 + 2] = {"smu3", "keithley-24xx", 2000},
	[EP_SMU1 + 3] = {"smu4", "keithley-24xx", 2000},
	[EP_SMU1 + 4] = {"smu5", "keithley-24xx", 2000},
	[EP_SMU1 + 5] = {"smu6", "keithley-24xx", 2000},
	[EP_SMU1 + 6] = {"smu7", "keithley-24xx", 2000},
	[EP_SMU8] = {"smu8", "keithley-24xx", 2000},
	SMU_ROLE(EP_PD1, "pd1"), SMU_ROLE(EP_PD1 + 1, "pd2"),
	SMU_ROLE(EP_PD1 + 2, "pd3"), SMU_ROLE(EP_PD1 + 3, "pd4"),
	SMU_ROLE(EP_PD1 + 4, "pd5"), SMU_ROLE(EP_PD1 + 5, "pd6"),
	SMU_ROLE(EP_PD1 + 6, "pd7"), SMU_ROLE(EP_PD1 + 7, "pd8"),
	SMU_ROLE(EP_PD1 + 8, "pd9"), SMU_ROLE(EP_PD1 + 9, "pd10"),
	SMU_ROLE(EP_PD1 + 10, "pd11"), SMU_ROLE(EP_PD1 + 11, "pd12"),
	SMU_ROLE(EP_PD1 + 12, "pd13"), SMU_ROLE(EP_PD1 + 13, "pd14"),
	SMU_ROLE(EP_PD1 + 14, "pd15"), SMU_ROLE(EP_PD16, "pd16"),
	SMU_ROLE(EP_HTR1, "heater1"), SMU_ROLE(EP_HTR1 + 1, "heater2"),
	SMU_ROLE(EP_HTR1 + 2, "heater3"), SMU_ROLE(EP_HTR1 + 3, "heater4"),
	SMU_ROLE(EP_HTR1 + 4, "heater5"), SMU_ROLE(EP_HTR1 + 5, "heater6"),
	SMU_ROLE(EP_HTR1 + 6, "heater7"), SMU_ROLE(EP_HTR1 + 7, "heater8"),
	SMU_ROLE(EP_HTR1 + 8, "heater9"), SMU_ROLE(EP_HTR1 + 9, "heater10"),
	SMU_ROLE(EP_HTR1 + 10, "heater11"), SMU_ROLE(EP_HTR1 + 11, "heater12"),
	SMU_ROLE(EP_HTR1 + 12, "heater13"), SMU_ROLE(EP_HTR1 + 13, "heater14"),
	SMU_ROLE(EP_HTR1 + 14, "heater15"), SMU_ROLE(EP_HTR16, "heater16"),
};

struct options {
	sim_model_params model;
	const char *config_out;
	const char *stats_out;     /* busy-time statistics at exit, or NULL */
	double lifetime_s, time_scale;
	int pm_ports;              /* 0: as the product needs */
	int ground_truth;
	double latency_s[EP_COUNT];
	sim_fault faults[EP_COUNT][SIM_MAX_FAULTS];
	int n_faults[EP_COUNT];
	int fail_dies[SIM_PROBER_MAX_FAIL][2];
	int n_fail_dies;
	/* --usb: the pm100 as an emulated USB device */
	int usb;
	usbtmc_dev usb_dev;        /* faults and max_transfer only */
	const char *usb_log;
	char **cmd;                /* after "--", or NULL */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kgd-vstation [options]\n"
		"The virtual KGD test station: simulated instruments on 127.0.0.1 (and a\n"
		"pty) over one seeded model of a lot. docs/VIRTUAL_STATION.md has it all.\n"
		"\n"
		"  --product P              teraphy (wafer process: pm, pm100, bert, prober),\n"
		"                           elsfp (unit: pm, laser, smu1..smu8; default), fiber\n"
		"                           (unit: pm, pm100)\n"
		"  --seed N                 model seed (default 1)\n"
		"  --lot ID                 lot id (default LOT1); wafer ids are <lot>-W<slot>\n"
		"  --wafers N               wafers in the cassette, slots 1..N (default 2)\n"
		"  --units N                modules/assemblies in the lot (default 25); select\n"
		"                           one with :SIMulate:DUT <n> or SIM DUT <n>\n"
		"  --lasers 8|16|mixed      lasers per ELSFP module (default 8)\n"
		"  --fibers N               fibers per assembly (default 16)\n"
		"  --die WxH                die size in mm (default 8x9)\n"
		"  --edge-mm MM             edge exclusion (default 3)\n"
		"  --pm-ports 8|16          power meter ports (default: what the product needs)\n"
		"  --time-scale F           multiply modelled times (gate, moves, averaging) by F\n"
		"                           (default 1.0)\n"
		"  --latency R=T[,R=T...]   extra delay per command, e.g. pm=2ms,prober=50ms\n"
		"  --latency-ms N           the same delay for every instrument\n"
		"  --fault SPEC             R:KIND[:after=N][:die=C,R]; KIND no-reply, garbage,\n"
		"                           disconnect, scpi-error, overrange, contact-fail\n"
		"                           (repeatable)\n"
		"  --fault-no-reply-after N alias of --fault pm:no-reply:after=N\n"
		"  --fault-garbage          alias of --fault pm:garbage\n"
		"  --config-out PATH        write the station config (roles -> driver + URI)\n"
		"                           once listening (atomic rename)\n"
		"  --lifetime-s N           exit by itself after N seconds (default 600)\n"
		"  --stats-out PATH         at exit, write each instrument's busy time and\n"
		"                           their union (CSV; for bench_wafer)\n"
		"  --outlier C,R,DB         plant an outlier: die (C,R) of every wafer reads DB dB\n"
		"                           more on every port (up to 4; for the PAT screen)\n"
		"  --fiber-align            teraphy: each die's couplers sit off the nominal\n"
		"                           fiber spot (seeded, one die per wafer by 3 um);\n"
		"                           the fiber must be aligned (siph:move_nanocube_xy)\n"
		"  --pd-ring                teraphy: a photodiode and a heated ring per port on\n"
		"                           Keithley 2400s (pd1..pdN, heater1..heaterN), the\n"
		"                           reference light from an ELSFP source (laser, channel\n"
		"                           n into port n); one leaky photodiode and one open\n"
		"                           heater per wafer\n"
		"  --ground-truth           print every part's defects and expected bin as CSV\n"
		"                           and exit\n"
		"  --usb                    USB instruments on a umockdev testbed: the pm100 as\n"
		"                           a Thorlabs PM100D (usbtmc://1313:8078/" USBFS_SERIAL "),\n"
		"                           the laser behind a USB-serial adapter (" USBSERIAL_NODE ",\n"
		"                           0403:6001); the config names the URIs and the testbed\n"
		"  --usb-fault KIND[:after=N]  stall, btag, short, zlp or unplug at the reply\n"
		"                           to USB command N+1, nak-out at that command\n"
		"                           (repeatable)\n"
		"  --usb-max-transfer N     at most N reply bytes per Bulk-IN transfer\n"
		"  --usb-log PATH           log the USBTMC class requests and faults\n"
		"  -- CMD [ARG...]          (with --usb) run CMD under the testbed; exit with\n"
		"                           its status when it ends\n"
		"  --help                   this text\n"
		"\n"
		"Without --config-out, prints 'listening <role> <uri>' lines on stdout.\n"
		"Exits 0 on SIGINT, SIGTERM or end of lifetime.\n");
}

static int role_index(const char *name, size_t len)
{
	for (int i = 0; i < EP_COUNT; i++)
		if (strlen(roles[i].role) == len && strncmp(roles[i].role, name, len) == 0)
			return i;
	return -1;
}

/* "pm=2ms,prober=50ms" (ms, s or us; bare number = ms). */
static int parse_latency(const char *v, struct options *o)
{
	while (*v) {
		const char *eq = strchr(v, '=');
		char *end;
		double t;
		int r;

		if (!eq || (r = role_index(v, (size_t)(eq - v))) < 0)
			return -1;
		t = strtod(eq + 1, &end);
		if (end == eq + 1 || t < 0)
			return -1;
		if (strncasecmp(end, "ms", 2) == 0)
			t *= 1e-3, end += 2;
		else if (strncasecmp(end, "us", 2) == 0)
			t *= 1e-6, end += 2;
		else if (*end == 's' || *end == 'S')
			end++;
		else
			t *= 1e-3;
		if (*end && *end != ',')
			return -1;
		o->latency_s[r] = t;
		v = *end ? end + 1 : end;
	}
	return 0;
}

static int add_fault(struct options *o, int r, enum sim_fault_kind kind, long after)
{
	if (o->n_faults[r] == SIM_MAX_FAULTS)
		return -1;
	o->faults[r][o->n_faults[r]++] = (sim_fault){kind, after, 0};
	return 0;
}

/* "prober:contact-fail:die=3,4", "pm:no-reply:after=100", "bert:garbage" */
static int parse_fault(const char *v, struct options *o)
{
	static const char *const kinds[] = {"no-reply", "garbage", "disconnect",
					    "scpi-error", "overrange", "contact-fail"};
	char buf[128], *save = NULL, *role, *kind, *opt;
	long after = 0;
	int r, k = -1, col = -1, row = -1;

	snprintf(buf, sizeof(buf), "%s", v);
	role = strtok_r(buf, ":", &save);
	kind = strtok_r(NULL, ":", &save);
	if (!role || !kind || (r = role_index(role, strlen(role))) < 0)
		return -1;
	for (int i = 0; i < 6; i++)
		if (strcmp(kind, kinds[i]) == 0)
			k = i;
	if (k < 0)
		return -1;
	while ((opt = strtok_r(NULL, ":", &save))) {
		if (sscanf(opt, "after=%ld", &after) == 1 && after >= 0)
			continue;
		if (sscanf(opt, "die=%d,%d", &col, &row) == 2)
			continue;
		return -1;
	}
	if (k == SIM_FAULT_CONTACT_FAIL) {
		if (r != EP_PROBER || col < 0 || o->n_fail_dies == SIM_PROBER_MAX_FAIL)
			return -1;
		o->fail_dies[o->n_fail_dies][0] = col;
		o->fail_dies[o->n_fail_dies][1] = row;
		o->n_fail_dies++;
		return 0;
	}
	return add_fault(o, r, (enum sim_fault_kind)k, after);
}

static int parse_num(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return (end == s || *end) ? -1 : 0;
}

enum {
	OPT_HELP = 256, OPT_FAULT_GARBAGE, OPT_GROUND_TRUTH, OPT_CONFIG_OUT,
	OPT_STATS_OUT, OPT_PRODUCT, OPT_LOT, OPT_LASERS, OPT_DIE, OPT_LATENCY,
	OPT_FAULT, OPT_SEED, OPT_UNITS, OPT_WAFERS, OPT_FIBERS, OPT_EDGE_MM,
	OPT_PM_PORTS, OPT_TIME_SCALE, OPT_LIFETIME_S, OPT_LATENCY_MS,
	OPT_FAULT_NO_REPLY_AFTER, OPT_USB, OPT_USB_FAULT, OPT_USB_MAX_TRANSFER,
	OPT_USB_LOG, OPT_OUTLIER, OPT_FIBER_ALIGN, OPT_PD_RING,
};

static const struct option long_options[] = {
	{"help", no_argument, NULL, OPT_HELP},
	{"fault-garbage", no_argument, NULL, OPT_FAULT_GARBAGE},
	{"ground-truth", no_argument, NULL, OPT_GROUND_TRUTH},
	{"config-out", required_argument, NULL, OPT_CONFIG_OUT},
	{"stats-out", required_argument, NULL, OPT_STATS_OUT},
	{"product", required_argument, NULL, OPT_PRODUCT},
	{"lot", required_argument, NULL, OPT_LOT},
	{"lasers", required_argument, NULL, OPT_LASERS},
	{"die", required_argument, NULL, OPT_DIE},
	{"latency", required_argument, NULL, OPT_LATENCY},
	{"fault", required_argument, NULL, OPT_FAULT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"units", required_argument, NULL, OPT_UNITS},
	{"wafers", required_argument, NULL, OPT_WAFERS},
	{"fibers", required_argument, NULL, OPT_FIBERS},
	{"edge-mm", required_argument, NULL, OPT_EDGE_MM},
	{"pm-ports", required_argument, NULL, OPT_PM_PORTS},
	{"time-scale", required_argument, NULL, OPT_TIME_SCALE},
	{"lifetime-s", required_argument, NULL, OPT_LIFETIME_S},
	{"latency-ms", required_argument, NULL, OPT_LATENCY_MS},
	{"fault-no-reply-after", required_argument, NULL, OPT_FAULT_NO_REPLY_AFTER},
	{"usb", no_argument, NULL, OPT_USB},
	{"usb-fault", required_argument, NULL, OPT_USB_FAULT},
	{"usb-max-transfer", required_argument, NULL, OPT_USB_MAX_TRANSFER},
	{"usb-log", required_argument, NULL, OPT_USB_LOG},
	{"outlier", required_argument, NULL, OPT_OUTLIER},
	{"fiber-align", no_argument, NULL, OPT_FIBER_ALIGN},
	{"pd-ring", no_argument, NULL, OPT_PD_RING},
	{NULL, 0, NULL, 0},
};

/* One option's value v into o; -1 if it is not a value the option takes. */
static int set_option(int opt, const char *v, struct options *o)
{
	double d = 0;

	switch (opt) {
	case OPT_CONFIG_OUT:
		o->config_out = v;
		return 0;
	case OPT_STATS_OUT:
		o->stats_out = v;
		return 0;
	case OPT_PRODUCT:
		return sim_product_parse(v, &o->model.product) ? -1 : 0;
	case OPT_LOT:
		if (!*v || strlen(v) >= sizeof(o->model.lot) || strpbrk(v, ",\"\n :"))
			return -1;
		strcpy(o->model.lot, v);
		return 0;
	case OPT_LASERS:
		if (strcmp(v, "mixed") != 0 && strcmp(v, "8") != 0 && strcmp(v, "16") != 0)
			return -1;
		o->model.lasers = atoi(v);  /* "mixed": 0 */
		return 0;
	case OPT_OUTLIER: {
		/* "C,R,DB": die (C, R) of every wafer DB dB brighter */
		sim_model_params *m = &o->model;
		char tail;

		if (m->n_outliers >= 4 ||
		    sscanf(v, "%d,%d,%lf%c", &m->outlier_col[m->n_outliers],
			   &m->outlier_row[m->n_outliers],
			   &m->outlier_db[m->n_outliers], &tail) != 3 ||
		    !isfinite(m->outlier_db[m->n_outliers]))
			return -1;
		m->n_outliers++;
		return 0;
	}
	case OPT_DIE:
		return sscanf(v, "%lfx%lf", &o->model.die_w_mm, &o->model.die_h_mm) == 2
		       ? 0 : -1;
	case OPT_LATENCY:
		return parse_latency(v, o);
	case OPT_FAULT:
		return parse_fault(v, o);
	case OPT_USB_FAULT:
		return usbtmc_dev_add_fault(&o->usb_dev, v);
	case OPT_USB_LOG:
		o->usb_log = v;
		return 0;
	}
	/* The rest are numbers in a range (a NaN is in none). */
	if (parse_num(v, &d))
		return -1;
	if (opt == OPT_SEED && d >= 0)
		o->model.seed = strtoull(v, NULL, 10);
	else if (opt == OPT_UNITS && d >= 1 && d <= 1e6)
		o->model.units = (int)d;
	else if (opt == OPT_WAFERS && d >= 1 && d <= 25)
		o->model.wafers = (int)d;
	else if (opt == OPT_FIBERS && d >= 1 && d <= SIM_MAX_PORTS)
		o->model.fibers = (int)d;
	else if (opt == OPT_EDGE_MM && d >= 0)
		o->model.edge_mm = d;
	else if (opt == OPT_PM_PORTS && (d == 8 || d == 16))
		o->pm_ports = (int)d;
	else if (opt == OPT_TIME_SCALE && d >= 0 && d <= 100)
		o->time_scale = d;
	else if (opt == OPT_LIFETIME_S && d > 0)
		o->lifetime_s = d;
	else if (opt == OPT_LATENCY_MS && d >= 0 && d <= 60000)
		for (int r = 0; r < EP_COUNT; r++)
			o->latency_s[r] = d / 1000.0;
	else if (opt == OPT_FAULT_NO_REPLY_AFTER && d >= 0)
		add_fault(o, EP_PM, SIM_FAULT_NO_REPLY, (long)d);
	else if (opt == OPT_USB_MAX_TRANSFER && d >= 1 && d <= 4096)
		o->usb_dev.max_transfer = (size_t)d;
	else
		return -1;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	int opt, idx = 0, at = 1;  /* at: the argument being parsed */

	memset(o, 0, sizeof(*o));
	sim_model_defaults(&o->model);
	o->lifetime_s = 600;
	o->time_scale = 1.0;

	/* Long options only. "+": stop at the first argument that is not an
	 * option (refused below); ":" and opterr 0: a missing value or an
	 * unknown option is reported here, in one message, not by getopt. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", long_options, &idx)) != -1) {
		if (opt == OPT_HELP) {
			usage(stdout);
			exit(0);
		} else if (opt == OPT_FAULT_GARBAGE) {
			add_fault(o, EP_PM, SIM_FAULT_GARBAGE, 0);
		} else if (opt == OPT_GROUND_TRUTH) {
			o->ground_truth = 1;
		} else if (opt == OPT_USB) {
			o->usb = 1;
		} else if (opt == OPT_FIBER_ALIGN) {
			o->model.fiber_align = 1;
		} else if (opt == OPT_PD_RING) {
			o->model.pd_ring = 1;
		} else if (opt == '?' || opt == ':') {
			fprintf(stderr, "kgd-vstation: %s: unknown option or missing value\n",
				argv[at]);
			return -1;
		} else if (set_option(opt, optarg, o)) {
			fprintf(stderr, "kgd-vstation: --%s: bad value '%s'\n",
				long_options[idx].name, optarg);
			return -1;
		}
		at = optind;
	}
	/* getopt consumed a "--": what follows is the command to run. */
	if (optind < argc && o->usb && optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
		o->cmd = argv + optind;
		return 0;
	}
	if (optind < argc) {
		fprintf(stderr, "kgd-vstation: %s: unknown option or missing value%s\n",
			argv[optind], o->usb ? "" : " (a command after -- needs --usb)");
		return -1;
	}
	if (o->usb_dev.n_faults && !o->usb) {
		fprintf(stderr, "kgd-vstation: --usb-fault needs --usb\n");
		return -1;
	}
	return 0;
}

/* Which roles a product needs (pm always); pd_ring: TeraPHY's
 * photodiodes, heaters and their source, one per port of the die. */
static int product_needs(enum sim_product p, int pd_ring, int ports, int ep)
{
	if (p == SIM_PRODUCT_TERAPHY && pd_ring &&
	    (ep == EP_LASER || (ep >= EP_PD1 && ep < EP_PD1 + ports) ||
	     (ep >= EP_HTR1 && ep < EP_HTR1 + ports)))
		return 1;
	switch (ep) {
	case EP_PM:
		return 1;
	case EP_PM100:
		return p == SIM_PRODUCT_TERAPHY || p == SIM_PRODUCT_FIBER;
	case EP_BERT:
	case EP_PROBER:
		return p == SIM_PRODUCT_TERAPHY;
	case EP_LASER:
		return p == SIM_PRODUCT_ELSFP;
	}
	if (ep >= EP_SMU1 && ep <= EP_SMU8)
		return p == SIM_PRODUCT_ELSFP;
	return 0;
}

/* The URI the config gives endpoint e: the pm100's USB address with --usb. */
static void config_uri(const sim_endpoint *e, int usb, char *buf, size_t cap)
{
	if (usb && e->exec == sim_pm100_execute)
		snprintf(buf, cap, "usbtmc://%04x:%04x/%s", USBFS_VID, USBFS_PID, USBFS_SERIAL);
	else
		sim_endpoint_uri(e, buf, cap);
}

static int write_config(const char *path, sim_endpoint *eps, int n, int usb)
{
	char tmp[4096], uri[128];
	FILE *f;
	int rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "# written by kgd-vstation; valid while it runs\n");
	if (usb)
		fprintf(f, "# umockdev: %s\n", usbfs_dir());
	fprintf(f, "station: virtual-1\n"
		   "instruments:\n");
	for (int i = 0; i < n; i++) {
		config_uri(&eps[i], usb, uri, sizeof(uri));
		fprintf(f, "  %s: {driver: %s, uri: \"%s\", timeout_ms: %d}\n", eps[i].role,
			eps[i].driver, uri, eps[i].timeout_ms);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0)
		goto out;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (rc)
		unlink(tmp);
	return rc;
}

int main(int argc, char **argv)
{
	static sim_station st;  /* large (the wafer map): not on the stack */
	struct options o;
	struct sigaction sa;
	sim_endpoint eps[EP_COUNT];
	pid_t child = -1;
	int n = 0, rc = 1;
	double deadline;

	memset(eps, 0, sizeof(eps));
	if (parse_options(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (sim_model_init(&st.model, &o.model) != 0) {
		fprintf(stderr, "kgd-vstation: invalid model parameters\n");
		return 2;
	}
	sim_limits_defaults(&st.limits);
	st.time_scale = o.time_scale;
	st.fiber_x = st.fiber_y = SIM_FIBER_ORIGIN_UM;
	if (o.ground_truth)
		return sim_truth_write_csv(&st.model, &st.limits, stdout) ? 1 : 0;
	deadline = sim_now() + o.lifetime_s;

	/* No SA_RESTART: a signal must interrupt poll() so we exit promptly. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (int r = 0; r < EP_COUNT; r++) {
		sim_endpoint *e;

		if (!product_needs(o.model.product, o.model.pd_ring, o.model.die_ports, r))
			continue;
		e = &eps[n++];
		e->role = roles[r].role;
		e->driver = roles[r].driver;
		e->timeout_ms = roles[r].timeout_ms;
		e->latency_s = o.latency_s[r];
		memcpy(e->faults, o.faults[r], sizeof(e->faults));
		e->n_faults = o.n_faults[r];
		switch (r) {
		case EP_PM: {
			int ports = o.pm_ports;

			if (!ports)
				ports = o.model.product == SIM_PRODUCT_TERAPHY ? o.model.die_ports
					: o.model.product == SIM_PRODUCT_FIBER ? o.model.fibers
					: o.model.lasers == 8 ? 8 : 16;
			e->inst = sim_pm_new(&st, ports > 8 ? 16 : 8);
			e->exec = sim_pm_execute;
			break;
		}
		case EP_PM100:
			e->inst = sim_pm100_new(&st);
			e->exec = sim_pm100_execute;
			break;
		case EP_BERT:
			e->inst = sim_bert_new(&st);
			e->exec = sim_bert_execute;
			break;
		case EP_PROBER:
			e->inst = sim_prober_new(&st, (const int (*)[2])o.fail_dies, o.n_fail_dies);
			e->exec = sim_prober_execute;
			break;
		case EP_LASER:
			e->inst = sim_elsfp_new(&st);
			e->exec = sim_elsfp_execute;
			e->is_pty = 1;
			break;
		default:   /* the SMUs */
			if (r >= EP_HTR1)
				e->inst = sim_smu_new_kind(&st, SIM_SMU_HEATER, r - EP_HTR1 + 1);
			else if (r >= EP_PD1)
				e->inst = sim_smu_new_kind(&st, SIM_SMU_PD, r - EP_PD1 + 1);
			else
				e->inst = sim_smu_new(&st, r - EP_SMU1 + 1);
			e->exec = sim_smu_execute;
			break;
		}
		if (!e->inst) {
			fprintf(stderr, "kgd-vstation: out of memory\n");
			goto out;
		}
		if (sim_endpoint_open(e) != 0) {
			fprintf(stderr, "kgd-vstation: %s: cannot open %s: %s\n", e->role,
				e->is_pty ? "a pseudo-terminal" : "a socket on 127.0.0.1",
				strerror(errno));
			goto out;
		}
	}
	if (o.usb && sim_usb_start(eps, n, &o.usb_dev, o.usb_log) != 0)
		goto out;
	if (o.config_out && write_config(o.config_out, eps, n, o.usb) != 0) {
		fprintf(stderr, "kgd-vstation: cannot write %s: %s\n", o.config_out,
			strerror(errno));
		goto out;
	}
	/* With a config file that file is the handshake; stay quiet so a
	 * parent's own output (station demo) is not interleaved with ours. */
	if (!o.config_out) {
		for (int i = 0; i < n; i++) {
			char uri[128];

			config_uri(&eps[i], o.usb, uri, sizeof(uri));
			printf("listening %s %s\n", eps[i].role, uri);
		}
		if (o.usb)
			printf("umockdev %s\n", usbfs_dir());
		fflush(stdout);
	}
	if (o.cmd) {
		sigaction(SIGCHLD, &sa, NULL);
		child = usbfs_spawn(o.cmd);
		if (child < 0) {
			fprintf(stderr, "kgd-vstation: cannot start %s: %s\n", o.cmd[0],
				strerror(errno));
			goto out;
		}
	}
	sim_loop_run(eps, n, o.time_scale, deadline, &stop_signal);
	rc = 0;
	if (child > 0)
		rc = sim_usb_end_child(child);
	if (o.stats_out && sim_loop_stats_write(eps, n, o.stats_out)) {
		fprintf(stderr, "kgd-vstation: cannot write %s: %s\n", o.stats_out,
			strerror(errno));
		rc = 1;
	}
out:
	sim_usb_stop();
	for (int i = 0; i < n; i++) {
		sim_endpoint_close(&eps[i]);
		if (eps[i].exec == sim_pm_execute)
			sim_pm_free(eps[i].inst);
		else if (eps[i].exec == sim_pm100_execute)
			sim_pm100_free(eps[i].inst);
		else if (eps[i].exec == sim_bert_execute)
			sim_bert_free(eps[i].inst);
		else if (eps[i].exec == sim_prober_execute)
			sim_prober_free(eps[i].inst);
		else if (eps[i].exec == sim_elsfp_execute)
			sim_elsfp_free(eps[i].inst);
		else if (eps[i].exec == sim_smu_execute)
			sim_smu_free(eps[i].inst);
	}
	return rc;
}
