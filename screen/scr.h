/*
 * screen/scr.h - the outlier screen after wafer sort (`station screen`):
 * dynamic PAT per wafer, static PAT from earlier lots (AEC-Q001 part
 * average testing) and good-die-in-bad-neighbourhood (GDBN), from the
 * results database alone.
 *
 * Invariants:
 *  - Raw measurements and a run's own bins are never changed: a screen
 *    is a record of its own (tables screen, screen_limit, screen_die;
 *    db/README.md), keyed by lot and the config's SHA-256, written in one
 *    transaction. Reports apply the lot's latest screen (reports/).
 *  - The same data and config give the same rows: rerunning a screen
 *    whose result is unchanged writes nothing; a changed result (a retest
 *    since) replaces that screen's rows, never adds a second screen.
 *  - The method and formulas are docs/REPORTS.md "The outlier screen".
 */
#ifndef KGD_SCR_H
#define KGD_SCR_H

#include <stddef.h>
#include "kgd/status.h"

/* One "which tests" entry: a step, optionally a value name and sweep
 * coordinates (a JSON object text whose every key must match), and its
 * own k (0: the section's k). */
typedef struct scr_test {
	char *step;
	char *name;          /* NULL: every value name of the step */
	char *coords;        /* NULL: every sweep point */
	double k;
} scr_test;

/* One PAT method's settings (dynamic or static). */
typedef struct scr_pat {
	int on;
	double k;            /* default 6 */
	int all;             /* every numeric test */
	scr_test *tests;
	size_t n_tests;
	char **lots;         /* static PAT: the reference lots */
	size_t n_lots;
} scr_pat;

typedef struct scr_config {
	char *path;          /* for messages */
	char *text;          /* the file's bytes (its SHA-256 is the identity) */
	size_t len;
	int soft_bin, hard_bin;   /* what a rejected die becomes */
	long min_samples;         /* fewer passing dies: not screened */
	scr_pat dpat, spat;
	int gdbn;                 /* GDBN on */
	int gdbn_size;            /* 3 (8 neighbours) or 5 (24) */
	int gdbn_min_bad;         /* N failing neighbours reject a die */
	int gdbn_soft_bin, gdbn_hard_bin;
} scr_config;

void scr_config_free(scr_config *c);

/* What a screen did, for the caller to print. */
typedef struct scr_summary {
	long long tested, passed;      /* dies, by their run's own verdict */
	long long rejected;            /* passing dies the screen rejects */
	long long dpat_rejects, spat_rejects, gdbn_rejects; /* may overlap */
	long long limits, not_screened; /* limit rows; of them unscreened */
	int unchanged;                 /* an identical screen was already there */
	long long screen_id;
	char config_sha256[65];
	char first_unscreened[256];    /* one "not screened" note, for the user */
} scr_summary;

/* Screen lot `lot` of the station database at db_path (already at the
 * current schema: open it with db_open() first) with cfg. KGD_ERR_NOT_FOUND
 * for an unknown lot or reference lot; KGD_ERR_DB when a station holds
 * the lot's lease (it is still being tested), for a file older than
 * schema 8 and for SQLite failures; each message names the file. */
int scr_run(const char *db_path, const char *lot, const scr_config *cfg,
	    scr_summary *sum, kgd_err *err);

#endif
