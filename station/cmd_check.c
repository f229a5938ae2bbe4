/*
 * station/cmd_check.c - `station check`: validate a sequence (and its
 * limits file, and its fit to a station) without running anything. Prints
 * every problem as file:line:column: message so an editor can jump to
 * each (or, with --format json, one JSON document for an editor), says
 * which files it checked, and exits non-zero if there was any problem.
 *
 * Checks run in layers, each reporting all it finds: the YAML of the
 * sequence, of the limits file and of the config; then the limits applied
 * to the sequence; then the sequence against the operations the sequencer
 * implements and (with --config) against the station's roles and drivers.
 * A layer runs on whatever the layers below could read (seq_check_load),
 * so one pass shows every problem; only a file that cannot be read at all
 * (missing, YAML syntax) stops the layers that need it.
 *
 * Invariant: problems are printed once all layers ran, sorted by file
 * (in the order the files are listed) and position, whatever layer found
 * them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "runner.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "c:L:f:eK:h"
#define MAX_FILES 40

static void help(void)
{
	printf(
"usage: station check SEQUENCE [--limits LIMITS.yaml] [--config STATION.yaml]\n"
"                     [--format text|json] [--expand] [--condition VAR=VALUE]\n\n"
"Validate SEQUENCE: YAML syntax, keys, step kinds and operations, sweep\n"
"variables and params of each operation and their plausible ranges (a\n"
"wavelength of 1.31 is a unit slip), limits (a unit on every numeric\n"
"limit, one the value converts to; low <= high; reachable in that unit),\n"
"bins, roles, skip_if and reference_step references. With --limits, also\n"
"the limits file and how it applies to SEQUENCE. With a station config\n"
"(--config, else $KGD_STATION_CONFIG, else " KGD_SYSTEM_CONFIG "\n"
"for an installed station), also the fit to that station: every role\n"
"configured, every driver found in the\n"
"plugin folders and trusted (its name, owner and permissions; checked\n"
"without loading it), and loaded - only then - to confirm the class the\n"
"sequence needs. Opens no instrument and writes nothing.\n\n"
"Every problem is reported in one pass, sorted by file and position, as\n"
"FILE:LINE:COLUMN: message on stderr; stdout says which files were\n"
"checked and how each fared.\n"
"  --format json  one JSON document on stdout instead: {\"files\": [{\"path\",\n"
"                 \"role\", \"problems\"}], \"problems\": [{\"file\", \"line\",\n"
"                 \"column\", \"message\"}], \"ok\"} (line and column 0: none)\n"
"  --condition VAR=VALUE  check the limits file's limit set for it (without:\n"
"                 every limit set of the file, one after another)\n"
"  --expand       valid: print SEQUENCE as the station reads it, vars and\n"
"                 includes expanded (YAML), instead of the files line\n"
"Exit 0 valid, 1 not.\n");
}

typedef struct problem {
	char *file;        /* NULL: not at a position of a known file */
	int file_no;       /* index in the checked files, MAX_FILES if none */
	int line, column;
	char *text;        /* the message after "file:line:column: " */
	char *whole;       /* as reported */
	size_t order;      /* report order: ties keep it */
} problem;

typedef struct checked_file {
	const char *path;
	const char *role;  /* sequence, include, limits, config */
	int problems;
} checked_file;

typedef struct check_run {
	problem *p;
	size_t n, cap;
	checked_file files[MAX_FILES];
	size_t n_files;
	int nomem;
} check_run;

static void add_file(check_run *cr, const char *path, const char *role)
{
	for (size_t i = 0; i < cr->n_files; i++)
		if (strcmp(cr->files[i].path, path) == 0)
			return;
	if (cr->n_files < MAX_FILES)
		cr->files[cr->n_files++] = (checked_file){path, role, 0};
}

/* "file:line:column: text" of a file being checked, into p. */
static void locate(const check_run *cr, const char *msg, problem *p)
{
	p->file_no = MAX_FILES;
	for (size_t i = 0; i < cr->n_files; i++) {
		size_t len = strlen(cr->files[i].path);
		int line, column, used = 0;

		if (strncmp(msg, cr->files[i].path, len) != 0 || msg[len] != ':')
			continue;
		if (sscanf(msg + len, ":%d:%d: %n", &line, &column, &used) == 2 &&
		    used > 0) {
			p->line = line;
			p->column = column;
			p->text = strdup(msg + len + used);
		} else {
			/* "file: message" (missing, unreadable) */
			p->text = strdup(msg[len + 1] == ' ' ? msg + len + 2 : msg + len + 1);
		}
		p->file_no = (int)i;
		p->file = strdup(cr->files[i].path);
		return;
	}
	p->text = strdup(msg);
}

static void collect(void *user, const char *msg)
{
	check_run *cr = user;
	problem *p;

	/* The limit sets are checked one by one over the same sequence:
	 * what one pass found, another need not say again. */
	for (size_t i = 0; i < cr->n; i++)
		if (strcmp(cr->p[i].whole, msg) == 0)
			return;

	if (cr->n == cr->cap) {
		size_t cap = cr->cap ? 2 * cr->cap : 16;
		problem *grown = realloc(cr->p, cap * sizeof(*grown));

		if (!grown) {
			cr->nomem = 1;
			return;
		}
		cr->p = grown;
		cr->cap = cap;
	}
	p = &cr->p[cr->n];
	memset(p, 0, sizeof(*p));
	p->order = cr->n;
	p->whole = strdup(msg);
	locate(cr, msg, p);
	if (!p->whole || !p->text) {
		free(p->whole);
		free(p->text);
		free(p->file);
		cr->nomem = 1;
		return;
	}
	cr->n++;
}

static int by_position(const void *a, const void *b)
{
	const problem *x = a, *y = b;

	if (x->file_no != y->file_no)
		return x->file_no < y->file_no ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A file-level failure (missing file) that reported nothing through the
 * callback: count it as a problem too. */
static int checked(check_run *cr, int rc, size_t before, const kgd_err *err)
{
	if (rc && cr->n == before)
		collect(cr, err->msg[0] ? err->msg : kgd_status_name(err->status));
	return rc;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_json(const check_run *cr)
{
	printf("{\"files\": [");
	for (size_t i = 0; i < cr->n_files; i++) {
		printf("%s{\"path\": ", i ? ", " : "");
		json_str(stdout, cr->files[i].path);
		printf(", \"role\": \"%s\", \"problems\": %d}", cr->files[i].role,
		       cr->files[i].problems);
	}
	printf("],\n \"problems\": [");
	for (size_t i = 0; i < cr->n; i++) {
		const problem *p = &cr->p[i];

		printf("%s\n  {\"file\": ", i ? "," : "");
		if (p->file)
			json_str(stdout, p->file);
		else
			printf("null");
		printf(", \"line\": %d, \"column\": %d, \"message\": ", p->line,
		       p->column);
		json_str(stdout, p->text);
		printf("}");
	}
	printf("%s],\n \"ok\": %s}\n", cr->n ? "\n " : "", cr->n ? "false" : "true");
}

static void print_text(const check_run *cr, const char *path)
{
	for (size_t i = 0; i < cr->n; i++)
		fprintf(stderr, "%s\n", cr->p[i].whole);
	for (size_t i = 0; i < cr->n_files; i++) {
		if (cr->files[i].problems)
			printf("%s: %d problem%s (%s)\n", cr->files[i].path,
			       cr->files[i].problems,
			       cr->files[i].problems == 1 ? "" : "s", cr->files[i].role);
		else
			printf("%s: ok (%s)\n", cr->files[i].path, cr->files[i].role);
	}
	if (cr->n)
		fprintf(stderr, "%s: %zu problem%s\n", path, cr->n,
			cr->n == 1 ? "" : "s");
}

/* Each limit set of a limits file applied to the sequence and checked,
 * as a run with --condition VAR=VALUE would. */
static void check_sets(check_run *cr, const char *path, const char *limits_path,
		       const seq_limset *lim, const cfg_station *c, kgd_err *err)
{
	for (size_t i = 0; i < lim->n_sets; i++) {
		seq_sequence *s2 = NULL;
		seq_limset *l2 = NULL;
		char cond[200];
		kgd_err e;

		if (!lim->sets[i].value)
			continue;
		snprintf(cond, sizeof(cond), "%s=%s", lim->cond_var, lim->sets[i].value);
		seq_check_load(path, NULL, NULL, &s2, &e);
		seq_limset_check_load(limits_path, NULL, NULL, &l2, &e);
		if (s2 && l2 && seq_limset_select(l2, cond, &e) == KGD_OK) {
			seq_limset_apply(s2, l2, collect, cr, err);
			run_lint(s2, c, collect, cr, err);
		}
		seq_limset_free(l2);
		seq_free(s2);
	}
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'},
		{"limits", required_argument, 0, 'L'},
		{"format", required_argument, 0, 'f'},
		{"expand", no_argument, 0, 'e'},
		{"condition", required_argument, 0, 'K'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *config_path = NULL, *limits_path = NULL, *path, *condition = NULL;
	seq_sequence *s = NULL;
	seq_limset *lim = NULL;
	cfg_station *c = NULL;
	check_run cr;
	kgd_err err;
	int ch, json = 0, expand = 0, cfg_ok = 1, rc;
	size_t before;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'L': limits_path = optarg; break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return cli_usage("check", "--format must be text or json, not '%s'",
						 optarg);
			json = strcmp(optarg, "json") == 0;
			break;
		case 'e': expand = 1; break;
		case 'K':
			if (seq_condition_ok(optarg))
				return cli_usage("check", "--condition wants VAR=VALUE (e.g. temperature_c=85), not '%s'",
						 optarg);
			condition = optarg;
			break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("check", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage("check", "give exactly one SEQUENCE file");
	path = argv[optind];

	memset(&cr, 0, sizeof(cr));
	kgd_err_clear(&err);
	add_file(&cr, path, "sequence");
	before = cr.n;
	checked(&cr, seq_check_load(path, collect, &cr, &s, &err), before, &err);
	for (size_t i = 0; s && i < s->n_files; i++)
		add_file(&cr, s->files[i], "include");
	if (limits_path) {
		add_file(&cr, limits_path, "limits");
		before = cr.n;
		checked(&cr, seq_limset_check_load(limits_path, collect, &cr, &lim,
						   &err), before, &err);
	}
	config_path = cli_config_path(config_path);
	if (config_path) {
		add_file(&cr, config_path, "config");
		before = cr.n;
		cfg_ok = !checked(&cr, cfg_check(config_path, collect, &cr, &err),
				  before, &err);
	}
	if (s) {
		kgd_err serr;

		if (lim && condition && seq_limset_select(lim, condition, &serr) != KGD_OK)
			collect(&cr, serr.msg);
		if (lim)
			seq_limset_apply(s, lim, collect, &cr, &err);
		if (cfg_ok && config_path)
			cfg_load(config_path, &c, &err);
		run_lint(s, c, collect, &cr, &err);
		/* Without --condition, every limit set of the file in turn. */
		if (lim && !condition && lim->cond_var)
			check_sets(&cr, path, limits_path, lim, c, &err);
	}
	if (cr.nomem) {
		kgd_err_set(&err, KGD_ERR_NOMEM, "out of memory");
		rc = cli_fail(&err);
		goto out;
	}
	if (cr.n)   /* qsort(NULL, 0, ...) is undefined (UBSan) */
		qsort(cr.p, cr.n, sizeof(*cr.p), by_position);
	for (size_t i = 0; i < cr.n; i++)
		if (cr.p[i].file_no < (int)cr.n_files)
			cr.files[cr.p[i].file_no].problems++;
	if (json)
		print_json(&cr);
	else if (!expand || cr.n)
		print_text(&cr, path);
	if (expand && !cr.n && seq_print_expanded(path, stdout, &err) != KGD_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	rc = cr.n ? CLI_ERROR : CLI_OK;
out:
	for (size_t i = 0; i < cr.n; i++) {
		free(cr.p[i].file);
		free(cr.p[i].text);
		free(cr.p[i].whole);
	}
	free(cr.p);
	cfg_free(c);
	seq_limset_free(lim);
	seq_free(s);
	return rc;
}
