/*
 * station/run_cli.c - see run_cli.h. Order matters for "nothing
 * half-written": the names given (lot, serials, operator), the sequence,
 * the config and every instrument are checked and opened before the
 * results database is touched, so a bad name or file or an unreachable
 * instrument never creates or changes a database.
 */
#include "run_cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ident.h"
#include "pgs.h"
#include "kgd/xport.h"
#include "live.h"
#include "ui.h"

#include <errno.h>
#include <sys/random.h>

/* Set by the signal handler (cli_signals_catch); the runner checks it at
 * every safe point and the transports end their waits on it. */
static volatile sig_atomic_t abort_requested;

/* Serials from stdin, one per line; blank line or EOF ends the lot. A line
 * that is no serial number (ident.h: a NUL, another control character, too
 * long) stops the lot, naming the line; checked on getline's length, so a
 * NUL cannot cut "SN\0HIDDEN" to "SN" unseen. */
typedef struct stdin_serials {
	char *line;
	size_t cap;
	unsigned long lineno;
	int prompt;
} stdin_serials;

static int next_stdin_serial(void *user, const char **serial, kgd_err *err)
{
	stdin_serials *ss = user;
	char why[IDENT_WHY_MAX];
	ssize_t n;

	*serial = NULL;
	if (ss->prompt) {
		fputs("serial number (empty line ends the lot): ", stderr);
		fflush(stderr);
	}
	n = getline(&ss->line, &ss->cap, stdin);
	if (n <= 0)
		return KGD_OK;
	ss->lineno++;
	while (n > 0 && (ss->line[n - 1] == '\n' || ss->line[n - 1] == '\r' ||
			 ss->line[n - 1] == ' '))
		ss->line[--n] = '\0';
	if (n == 0)
		return KGD_OK;
	if (ident_check(IDENT_SERIAL, ss->line, (size_t)n, why, sizeof(why)))
		return kgd_err_set(err, KGD_ERR_ARG, "stdin line %lu: %s",
				   ss->lineno, why);
	*serial = ss->line;
	return KGD_OK;
}

/* The names the run will store (ident.h), checked before anything is
 * opened: a bad one is a usage error, exit 2, nothing written. An empty
 * $USER counts as none. Returns 0 or the exit code. */
static int check_names(const run_cli_args *a, const char **operator_name)
{
	const char *op = a->operator_name;
	char why[IDENT_WHY_MAX];

	if (a->lot && ident_check(IDENT_LOT, a->lot, strlen(a->lot), why, sizeof(why)))
		return cli_usage("run", "--lot: %s", why);
	for (size_t i = 0; i < a->n_serials; i++)
		if (ident_check(IDENT_SERIAL, a->serials[i], strlen(a->serials[i]),
				why, sizeof(why)))
			return cli_usage("run", "--serial: %s", why);
	if (op && ident_check(IDENT_OPERATOR, op, strlen(op), why, sizeof(why)))
		return cli_usage("run", "--operator: %s", why);
	if (!op && (op = getenv("USER")) && !*op)
		op = NULL;
	if (!a->operator_name && op &&
	    ident_check(IDENT_OPERATOR, op, strlen(op), why, sizeof(why)))
		return cli_usage("run", "$USER: %s; give --operator", why);
	*operator_name = op;
	return 0;
}

/* The background uploader's lines (pgs_bg_start): said as they come. */
static void sync_say(void *user, const char *line)
{
	(void)user;
	fprintf(stderr, "station: %s\n", line);
}

/* --sync: what the end of the lot leaves waiting for the server. */
static void sync_report(const run_cli_args *a, pgs_bg *bg)
{
	pgs_waiting w;

	pgs_bg_stop(bg, &w);
	if (w.known && w.runs == 0)
		printf("sync: every part of %s is on the server\n", a->db_path);
	else
		printf("sync: %lld parts tested (%lld measurements) in %s still "
		       "wait for the server%s; `station sync --db %s --to SERVER` "
		       "sends them\n", w.runs, w.measurements, a->db_path,
		       w.known ? "" : " (not reached during this lot)", a->db_path);
	fflush(stdout);
}

/* On a terminal the operator says who they are (unless --operator did):
 * a login shared by the shift is no operator id. Asked up to three times;
 * an empty answer takes $USER when there is one. Returns 0 or the exit
 * code; *op points into buf or the environment. */
static int ask_operator(const char **op, char *buf, size_t cap)
{
	const char *user = getenv("USER");
	char why[IDENT_WHY_MAX];

	if (user && (!*user || ident_check(IDENT_OPERATOR, user, strlen(user),
					    why, sizeof(why))))
		user = NULL;
	for (int tries = 0; tries < 3; tries++) {
		size_t n;

		if (user)
			fprintf(stderr, "operator id [%s]: ", user);
		else
			fputs("operator id: ", stderr);
		fflush(stderr);
		if (!fgets(buf, (int)cap, stdin))
			break;
		n = strcspn(buf, "\r\n");
		buf[n] = '\0';
		while (n && buf[n - 1] == ' ')
			buf[--n] = '\0';
		if (n == 0 && user) {
			*op = user;
			return 0;
		}
		if (n && !ident_check(IDENT_OPERATOR, buf, n, why, sizeof(why))) {
			*op = buf;
			return 0;
		}
		fprintf(stderr, "station run: %s\n", n ? why
			: "an operator id is required on a terminal");
	}
	return cli_usage("run", "no operator id: give --operator ID (required "
			 "when the station runs on a terminal)");
}

/* A word as the shell reads it back: as is when plain, else in single
 * quotes. */
static void shell_word(FILE *f, const char *w)
{
	if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_./:=,@%+-") == strlen(w)) {
		fputs(w, f);
		return;
	}
	fputc('\'', f);
	for (; *w; w++)
		if (*w == '\'')
			fputs("'\\''", f);
		else
			fputc(*w, f);
	fputc('\'', f);
}

/* The command that continues the lot: the one given, with --resume (and
 * the operator id asked for, so it is not asked again). */
static void print_resume(FILE *f, const run_cli_args *a, const char *asked_op)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int has_resume = 0;

	/* The binary that ran, by its full path: the command works from any
	 * shell, PATH or not. */
	self[n > 0 ? n : 0] = '\0';
	shell_word(f, n > 0 ? self : "station");
	fputs(" run", f);
	for (int i = 1; i < a->argc; i++) {
		fputc(' ', f);
		shell_word(f, a->argv[i]);
		if (!strcmp(a->argv[i], "--resume") || !strcmp(a->argv[i], "-r"))
			has_resume = 1;
	}
	if (asked_op) {
		fputs(" --operator ", f);
		shell_word(f, asked_op);
	}
	if (!has_resume)
		fputs(" --resume", f);
}

/* The page's abort button: the signal handler's path, as SIGINT. */
static volatile sig_atomic_t ui_abort_asked;

static void ui_abort(void *user)
{
	(void)user;
	__atomic_store_n(&ui_abort_asked, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&abort_requested, 1, __ATOMIC_RELAXED);
}

/* LOT-0001 .. LOT-N, in one block so one free() releases them. */
static char **make_serials(const char *lot, unsigned long n)
{
	size_t each = strlen(lot) + 16;
	char **v = malloc(n * (sizeof(char *) + each));
	char *text = (char *)(v + n);

	if (!v)
		return NULL;
	for (unsigned long i = 0; i < n; i++, text += each) {
		snprintf(text, each, "%s-%04lu", lot, i + 1);
		v[i] = text;
	}
	return v;
}

/* Load the sequence and apply the limits file, if any. */
static int load_sequence(const run_cli_args *a, seq_sequence **s,
			 seq_limset **lim, kgd_err *err)
{
	int rc = seq_load(a->seq_path, s, err);

	if (rc || !a->limits_path)
		return rc;
	rc = seq_limset_load(a->limits_path, lim, err);
	if (!rc)
		rc = seq_limset_select(*lim, a->condition, err);
	if (!rc)
		rc = seq_limset_apply(*s, *lim, NULL, NULL, err);
	return rc;
}

/* The process decides which part options make sense. */
static int check_process_args(const run_cli_args *a, const seq_sequence *s)
{
	if (s->process == SEQ_PROCESS_WAFER &&
	    (a->units || a->n_serials)) {
		cli_usage("run", "%s is a wafer sequence: give --wafers/--slots "
			  "(and --dies), not --serial/--units", a->seq_path);
		return -1;
	}
	if (s->process == SEQ_PROCESS_UNIT && (a->slots || a->dies)) {
		cli_usage("run", "%s is a unit sequence: give --serial/--units, not "
			  "--wafers/--slots/--dies", a->seq_path);
		return -1;
	}
	return 0;
}

/* An environment switch: set, non-empty and not "0". */
static int env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

int run_cli(run_cli_args *a)
{
	static const int slot_one[] = {1};
	seq_limset *lim = NULL;
	seq_sequence *s = NULL;
	cfg_station *c = NULL;
	run_station *rs = NULL;
	db *d = NULL;
	char **generated = NULL;
	stdin_serials ss = {0};
	cli_signals sigs;
	run_opts o = {0};
	pgs_bg *bg = NULL;
	run_live *live = NULL;
	ui_server *ui = NULL;
	char op_buf[256], token[33] = "", why[600], next[1400];
	const char *asked_op = NULL;
	kgd_err err;
	int rc, exit_code = check_names(a, &o.operator_name);

	if (exit_code)
		return exit_code;
	o.interactive = isatty(0);
	if (!a->operator_name && o.interactive && !a->dry_run) {
		exit_code = ask_operator(&o.operator_name, op_buf, sizeof(op_buf));
		if (exit_code)
			return exit_code;
		asked_op = o.operator_name;
	}
	exit_code = CLI_ERROR;
	/* Every signal that ends a run takes the abort path (cli.h), from
	 * here on: a signal while the instruments open (whose waits it ends,
	 * kgd/xport.h) or the database migrates stops the run before its lot
	 * begins, never half-way through a migration. */
	abort_requested = 0;
	cli_signals_catch(&abort_requested, &sigs);
	xport_set_abort_flag(&abort_requested);
	kgd_err_clear(&err);
	if (load_sequence(a, &s, &lim, &err)) {
		exit_code = cli_fail(&err);
		goto out;
	}
	if (a->dry_run) {
		/* Nothing opens, nothing is written: no database, no lot. */
		if (cfg_load(a->config_path, &c, &err) || run_dry(s, c, stdout, &err))
			exit_code = cli_fail(&err);
		else
			exit_code = CLI_OK;
		goto out;
	}
	if (check_process_args(a, s)) {
		exit_code = CLI_USAGE;
		goto out;
	}
	live = run_live_new(a->quiet ? NULL : stdout, isatty(1));
	if (!live) {
		cli_error("out of memory");
		goto out;
	}
	if (a->ui_spec) {
		unsigned char raw[16];

		if (a->ui_control) {
			if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
				cli_error("--ui-control: no random token: %s",
					  strerror(errno));
				goto out;
			}
			for (size_t i = 0; i < sizeof(raw); i++)
				snprintf(token + 2 * i, 3, "%02x", raw[i]);
			/* Prompts race the page: stdin must hide nothing in a
			 * buffer from poll() (progress.c). */
			setvbuf(stdin, NULL, _IONBF, 0);
		}
		if (ui_start(a->ui_spec, live, a->ui_control ? token : NULL,
			     ui_abort, NULL, &ui, &err)) {
			exit_code = cli_fail(&err);
			goto out;
		}
		run_live_set_ui(live, ui_url(ui), a->ui_control);
		if (a->ui_control)
			printf("station page: %s?token=%s (control token %s: it can "
			       "answer prompts and abort the lot)\n", ui_url(ui),
			       token, token);
		else
			printf("station page: %s\n", ui_url(ui));
		fflush(stdout);
	}
	if (cfg_load(a->config_path, &c, &err) ||
	    run_station_open(s, c, &rs, &err) || db_open(a->db_path, &d, &err)) {
		exit_code = cli_fail(&err);
		goto out;
	}

	o.lot = a->lot;
	o.insert = a->insert;
	o.insert_user = a->insert_user;
	o.progress = a->quiet ? NULL : stdout;
	o.progress_tty = isatty(1);
	o.live = live;
	o.assume_yes = a->assume_yes;
	o.abort_flag = &abort_requested;
	o.limits = lim;
	o.condition = a->condition;
	o.resume = a->resume;
	o.max_errors = a->max_errors_given ? a->max_errors : RUN_CLI_MAX_ERRORS;
	o.contact_retries = a->contact_retries_given ? a->contact_retries
						     : RUN_CLI_CONTACT_RETRIES;
	o.slots = a->slots ? a->slots : slot_one;
	o.n_slots = a->slots ? a->n_slots : 1;
	o.dies = a->dies;
	o.n_dies = a->n_dies;
	/* KGD_NO_OVERLAP=1: commit each die before the prober moves on, the
	 * baseline bench_wafer measures the commit thread against. */
	o.no_overlap = env_flag("KGD_NO_OVERLAP");
	/* KGD_NO_BATCH=1: point by point even where a driver reads all ports
	 * or gates all lanes at once; KGD_NO_PARALLEL=1: the branches of a
	 * parallel block one after another. Same rows, slower: the baselines
	 * of bench_die, and a way to tell whether a difference is the
	 * parallelism's. */
	o.no_batch = env_flag("KGD_NO_BATCH");
	o.no_parallel = env_flag("KGD_NO_PARALLEL");
	if (s->process == SEQ_PROCESS_WAFER) {
		/* dies come from the prober */
	} else if (a->units) {
		generated = make_serials(a->lot, a->units);
		if (!generated) {
			cli_error("out of memory");
			goto out;
		}
		o.serials = (const char *const *)generated;
		o.n_serials = a->units;
	} else if (a->serials_from_stdin) {
		ss.prompt = isatty(0);
		o.next = next_stdin_serial;
		o.next_user = &ss;
	} else {
		o.serials = a->serials;
		o.n_serials = a->n_serials;
	}

	if (abort_requested) {
		kgd_err_set(&err, KGD_ERR_ABORTED, "aborted before the lot began; "
			    "nothing was tested");
		exit_code = cli_fail(&err);
		goto out;
	}
	/* The uploader reads the file on its own connections: only what
	 * run_lot has committed, never the part in flight. */
	if (a->sync_target &&
	    pgs_bg_start(a->db_path, a->sync_target, 200, sync_say, NULL, &bg,
			 &err)) {
		exit_code = cli_fail(&err);
		goto out;
	}
	rc = run_lot(rs, s, c, d, &o, &a->summary, &err);
	/* Drivers closing their instruments below are never cut short. */
	xport_set_abort_flag(NULL);

	printf("lot %s%s: %zu tested, %zu passed, %zu failed, %zu errors",
	       a->lot, rc == KGD_ERR_ABORTED ? " (aborted)" : "",
	       a->summary.tested, a->summary.passed, a->summary.failed,
	       a->summary.errors);
	if (a->summary.tested)
		printf(", yield %.1f%%", 100.0 * (double)a->summary.passed /
					 (double)a->summary.tested);
	/* The lot's yield, its earlier sessions included (--resume, retests:
	 * each part by its latest run, as `station report` counts it). */
	if (a->summary.lot_parts != a->summary.tested)
		printf("; lot yield %.1f%% of %zu parts", a->summary.lot_parts ?
		       100.0 * (double)a->summary.lot_passed /
		       (double)a->summary.lot_parts : 0.0, a->summary.lot_parts);
	if (s->process == SEQ_PROCESS_WAFER)
		printf(", %zu wafer%s", a->summary.wafers,
		       a->summary.wafers == 1 ? "" : "s");
	if (a->summary.skipped)
		printf(", %zu already tested (skipped)", a->summary.skipped);
	printf(", %zu measurements -> %s (session %lld", a->summary.measurements,
	       a->db_path, (long long)a->summary.session_id);
	if (a->summary.n_interrupted)
		printf("; %d interrupted earlier session%s found",
		       a->summary.n_interrupted,
		       a->summary.n_interrupted == 1 ? "" : "s");
	printf(")\n");
	/* Not a word before: the first line is the first part's. */
	if (!o.operator_name)
		printf("warning: no operator id recorded (no --operator; $USER "
		       "empty or unset)\n");
	fflush(stdout);
	if (bg) {
		sync_report(a, bg);
		bg = NULL;
	}
	if (rc == KGD_ERR_ABORTED && ui_abort_asked && !cli_signal_caught()) {
		cli_error("aborted from the station page: %s", err.msg);
		exit_code = CLI_ABORTED;
	} else {
		exit_code = rc ? cli_fail(&err) : CLI_OK;
	}
	/* What state the cell is in and how to go on: the operator's next
	 * move, on the terminal and (large) on the page. */
	snprintf(why, sizeof(why), "%s", rc == KGD_OK ? "the lot is done"
		 : err.msg);
	if (rc) {
		char *cmd = NULL;
		size_t cmd_len = 0;
		FILE *mf = open_memstream(&cmd, &cmd_len);

		if (mf) {
			print_resume(mf, a, asked_op);
			fclose(mf);
		}
		/* On stdout, after the summary: stderr keeps its one line
		 * saying why. */
		if (a->summary.cell[0])
			printf("the cell: %s\n", a->summary.cell);
		printf("to continue the lot where it stopped: %s\n",
		       cmd ? cmd : "the same command with --resume");
		fflush(stdout);
		snprintf(next, sizeof(next), "%s%s%sTo continue the lot: %s",
			 a->summary.cell, a->summary.cell[0] ? ". " : "",
			 rc == KGD_ERR_ABORTED ? "" : "Fix the cause above. ",
			 cmd ? cmd : "the same command with --resume");
		free(cmd);
	} else {
		snprintf(next, sizeof(next), "Nothing to do: every part has a "
			 "verdict. `station report` writes the lot's reports.");
	}
	run_live_stop(live, rc == KGD_OK ? "complete" : rc == KGD_ERR_ABORTED
		      ? "aborted" : "error", why, next);
out:
	pgs_bg_stop(bg, NULL);
	xport_set_abort_flag(NULL);
	if (live && !run_live_stopped(live))
		run_live_stop(live, "error", "the station stopped before the lot "
			      "began (see its terminal)", "");
	ui_stop(ui);
	run_live_free(live);
	free(ss.line);
	free(generated);
	db_close(d);
	run_station_close(rs);
	cfg_free(c);
	seq_free(s);
	seq_limset_free(lim);
	/* Only now: a signal while the database and instruments close is
	 * noted, not fatal half-way through. */
	cli_signals_restore(&sigs);
	return exit_code;
}
