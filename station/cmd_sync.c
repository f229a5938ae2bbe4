/*
 * station/cmd_sync.c - `station sync`: send a results file to the fab's
 * central PostgreSQL server (sync/, pgs.h); and the pull behind
 * `station report --from-db`, which reports from the server by pulling
 * the selection into a scratch station file and running the same report
 * code on it - or, for tests.csv alone, by streaming the selected
 * measurements from the server into the report's own accumulator. This file only parses options, prints, and owns the
 * scratch folder.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "pgs.h"
#include "report_cli.h"
#include "report_set.h"
#include "rpt.h"

#define OPTSTRING "d:t:qh"

static void help(void)
{
	printf(
"usage: station sync --db RESULTS.db --to SERVER [--batch N] [-q]\n\n"
"Send everything committed in RESULTS.db that the central PostgreSQL\n"
"server has not got yet: sessions, parts, runs, measurements, step\n"
"results, limits, sequences, bins, what measured and the lot's outlier\n"
"screens (station screen; a rescreen is sent as a new version). COPY in\n"
"batches of whole runs (--batch measurements per server transaction,\n"
"default 200000); an upload cut anywhere resumes where the server's last\n"
"commit left it, never sending a row twice. A part still being tested is\n"
"not in the file yet and is not sent. A screen goes after the runs it\n"
"judged.\n\n"
"SERVER is a postgresql:// URL, a libpq key=value string or a service\n"
"name (pg_service.conf). Never put a password in it: libpq reads it from\n"
"~/.pgpass (PGPASSFILE), the service file or PGPASSWORD. sslmode and the\n"
"other libpq options pass through. The first sync by a role that may\n"
"create tables makes (or upgrades) the central schema; docs/CENTRAL_DB.md.\n"
"  -q, --quiet   print nothing but errors\n");
}

int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, 0, 'd'},
		{"to", required_argument, 0, 't'},
		{"batch", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *db_path = NULL, *target = NULL;
	pgs_options o = { 0 };
	pgs_stats st;
	unsigned long v;
	kgd_err err;
	db *d = NULL;
	int ch, verbose = 1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'd': db_path = optarg; break;
		case 't': target = optarg; break;
		case 'b':
			if (cli_parse_uint(optarg, 100000000ul, &v) || v == 0)
				return cli_usage("sync", "--batch: not a positive "
						 "number: '%s'", optarg);
			o.batch_rows = (long)v;
			break;
		case 'q': verbose = 0; break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("sync", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc)
		return cli_usage("sync", "unexpected argument '%s'", argv[optind]);
	if (!db_path || !target)
		return cli_usage("sync", "--db and --to are required");
	if (access(db_path, F_OK) != 0) {
		cli_error("%s: no such results file", db_path);
		return CLI_ERROR;
	}
	kgd_err_clear(&err);
	/* Opening checks the file and brings it to this schema (its sync
	 * marks are a migration); a file being tested opens all the same. */
	if (db_open(db_path, &d, &err)) {
		db_close(d);
		return cli_fail(&err);
	}
	db_close(d);
	if (pgs_sync(db_path, target, &o, &st, &err))
		return cli_fail(&err);
	if (verbose) {
		if (st.batches == 0 && st.screens == 0)
			printf("%s: nothing new for %s\n", db_path, st.server);
		else
			printf("%s -> %s: %lld parts tested (runs), %lld "
			       "measurements, %lld screen%s, %lld rows in %lld "
			       "batch%s\n", db_path, st.server, st.runs,
			       st.measurements, st.screens,
			       st.screens == 1 ? "" : "s", st.rows, st.batches,
			       st.batches == 1 ? "" : "es");
	}
	return CLI_OK;
}

/* The measurement callback: into the report's own accumulator. */
static int add_measurement(void *user, const char *step, const char *name,
			   const char *unit, const double *low,
			   const double *high, const double *value, int pass)
{
	kgd_err e;

	return rpt_tests_acc_add(user, step, name, unit, low, high, value, pass,
				 &e);
}

/* tests.csv alone: no pull. The server picks the runs and streams their
 * measurements (pgs_measurements) into the report's own arithmetic
 * (rpt_tests_acc), written into the folder's set like any report. */
static int tests_from_db(const char *target, const char *out_dir,
			 const rpt_options *opt, int verbose)
{
	pgs_select sel;
	rpt_tests_acc *acc = NULL;
	pgs_stats st;
	kgd_err err;
	rset set;
	char *path = NULL;
	int status, begun = 0;

	if ((opt->from && !rpt_date_ok(opt->from)) ||
	    (opt->to && !rpt_date_ok(opt->to)))
		return cli_usage("report", "dates are ISO-8601,"
				 " YYYY-MM-DD[THH:MM:SS] (got '%s')",
				 opt->from && !rpt_date_ok(opt->from) ? opt->from
								      : opt->to);
	memset(&sel, 0, sizeof(sel));
	sel.f.lot = opt->lot;
	sel.f.wafer = opt->wafer;
	sel.f.station = opt->station;
	sel.f.from = opt->from;
	sel.f.to = opt->to;
	sel.product = opt->product;
	sel.seq_version = opt->seq_version;
	sel.has_seq_version = opt->has_seq_version;
	sel.first_pass = opt->first_pass;
	kgd_err_clear(&err);
	if (mkdir(out_dir, 0777) && errno != EEXIST) {
		cli_error("%s: cannot create folder: %s", out_dir, strerror(errno));
		return CLI_ERROR;
	}
	status = rpt_tests_acc_new(&acc, &err);
	if (!status)
		status = pgs_measurements(target, &sel, add_measurement, acc, &st,
					  &err);
	if (!status && st.runs == 0)
		status = rpt_no_match(st.server, opt, &err);
	if (!status) {
		status = rset_begin(&set, out_dir, "report.sha256", &err);
		begun = !status;
	}
	if (!status) {
		size_t n = strlen(set.stage) + sizeof("/tests.csv");

		path = malloc(n);
		if (!path)
			status = kgd_err_set(&err, KGD_ERR_NOMEM, "out of memory");
		else
			snprintf(path, n, "%s/tests.csv", set.stage);
	}
	if (!status)
		status = rpt_tests_acc_write(acc, path, &err);
	if (!status)
		status = rset_commit(&set, &err);
	if (begun)
		rset_end(&set);
	free(path);
	rpt_tests_acc_free(acc);
	if (status)
		return cli_fail(&err);
	if (st.runs == 0)
		fprintf(stderr, "station: note: %s holds no tested part; tests.csv "
			"has its header row only\n", st.server);
	if (verbose)
		printf("tests.csv of %lld parts (%lld measurements, streamed from "
		       "%s) into %s\n", st.runs, st.measurements, st.server,
		       out_dir);
	return CLI_OK;
}

int sync_report_from_db(const char *target, const char *out_dir,
			const char *stdf_dir, const rpt_options *opt,
			unsigned which, int verbose)
{
	char dir[] = "/tmp/kgd-report-XXXXXX";
	const char *tmp = getenv("TMPDIR");
	char *d = NULL;
	pgs_filter f = { 0 };
	pgs_stats st;
	kgd_err err;
	int rc;

	if (which == RPT_TESTS && !stdf_dir && out_dir)
		return tests_from_db(target, out_dir, opt, verbose);
	if (tmp && *tmp && strlen(tmp) < 400) {
		size_t n = strlen(tmp) + 24;

		d = malloc(n);
		if (d)
			snprintf(d, n, "%s/kgd-report-XXXXXX", tmp);
	}
	if (!mkdtemp(d ? d : dir)) {
		cli_error("cannot make a scratch folder for the pull");
		free(d);
		return CLI_ERROR;
	}
	{
		const char *base = d ? d : dir;
		size_t n = strlen(base) + 16;
		char *p = malloc(n);

		if (!p) {
			free(d);
			return CLI_ERROR;
		}
		snprintf(p, n, "%s/pulled.db", base);
		if (opt) {
			f.lot = opt->lot;
			f.wafer = opt->wafer;
			f.station = opt->station;
			f.from = opt->from;
			f.to = opt->to;
		}
		kgd_err_clear(&err);
		rc = pgs_pull(target, p, &f, &st, &err) ? cli_fail(&err) : CLI_OK;
		if (rc == CLI_OK) {
			if (verbose)
				printf("pulled %lld parts tested (runs), %lld "
				       "measurements from %s\n", st.runs,
				       st.measurements, st.server);
			rc = report_cli_which(p, out_dir, stdf_dir, opt, which,
					      verbose);
		}
		unlink(p);
		snprintf(p, n, "%s/pulled.db-wal", base);
		unlink(p);
		snprintf(p, n, "%s/pulled.db-shm", base);
		unlink(p);
		free(p);
		rmdir(base);
	}
	free(d);
	return rc;
}
