/*
 * station/seq.h - a sequence file, parsed (YAML via libyaml).
 *
 * A sequence names instrument roles ("pm"), never ports or URIs, so it moves
 * between stations unchanged. Every element keeps the line and column it came
 * from so the sequencer and `station check` can point at the source.
 *
 * File format (see docs/SEQUENCES.md):
 *
 *   sequence: elsfp-power        # name
 *   version: 1
 *   product: ELSFP-8
 *   process: unit                # unit | wafer
 *   main:
 *     - step: pm.optical_power   # <role>.<operation>
 *       name: port_power         # unique within the sequence
 *       sweep: {port: 1..8, wavelength_nm: [1301.0, 1302.6]}
 *       params: {averaging_s: 0.01}
 *       limits: {low: -6.0, high: 3.0, unit: dBm}
 *       on_fail: {bin: 5, continue: true}
 *     - parallel:                # branches run side by side
 *         optical: [ ...steps... ]
 *         electrical: [ ...steps... ]
 *   bins:
 *     1: {name: PASS, pass: true}
 *     5: {name: OPTICAL_POWER}
 */
#ifndef KGD_SEQ_H
#define KGD_SEQ_H

#include <stddef.h>
#include <stdio.h>
#include "kgd/status.h"

typedef struct seq_loc {
	int line, column;  /* 1-based, as an editor shows them */
	int file;          /* 0: the sequence file; k: included file k
	                      (seq_loc_path) */
} seq_loc;

/* One sweep variable: its name and the values it takes, in order.
 * "1..16" expands to 1,2,...,16; a list is taken as written. */
typedef struct seq_sweep_var {
	char *name;
	double *values;
	size_t n_values;
	seq_loc loc;
	seq_loc *value_locs;  /* where each value is written (a range: all
	                         at the range) */
	int zip;           /* 1: paired element by element with the other
	                      zip variables of its step (zip:), not swept */
} seq_sweep_var;

typedef struct seq_param {
	char *key;
	char *value;       /* scalar text as written */
	seq_loc loc;
} seq_param;

/* Limits of one value. With `per`, low and/or high may be lists indexed by
 * that sweep variable: entry i applies at its i-th value (in sweep order).
 * A list bound has has_low/has_high set and its scalar low/high unused; use
 * seq_limits_at() to get the bounds of one point. That per names a sweep
 * variable of the step and each list has one entry per value is run_lint's
 * check (a limits file's entry meets its step only when applied). */
typedef struct seq_limits {
	int has_low, has_high;
	double low, high;
	int exclusive;     /* inclusive: false - the bounds themselves fail */
	char unit[16];     /* "" for counts ("count" in the file) */
	int has_unit;      /* the file names a unit; run_lint refuses a
	                      numeric limit without one */
	seq_loc loc;
	char *value;       /* value name of a multi-value step; NULL: the step's */
	char *file;        /* NULL: the sequence file; else the limits file the
	                      entry came from (loc is in that file) */
	char *per;         /* sweep variable indexing the lists; NULL: none */
	double *lows, *highs;    /* per-point bounds (owned), NULL: scalar */
	size_t n_lows, n_highs;
	seq_loc per_loc, lows_loc, highs_loc;  /* the per value, the lists */
} seq_limits;

/* skip_if: the step runs only when an earlier step had (not) this outcome. */
typedef enum seq_skip_when {
	SEQ_SKIP_NEVER = 0,
	SEQ_SKIP_IF_FAILED = 1,   /* skip when <step> failed (or erred) */
	SEQ_SKIP_IF_PASSED = 2,   /* skip when <step> passed */
	SEQ_SKIP_IF_VALUE = 3,    /* skip when a value <step> measured is
	                             above / below a threshold */
} seq_skip_when;

/* What skip_if: {step: S, value: max, above: 3.0, unit: dBm} compares. */
typedef enum seq_skip_agg {
	SEQ_AGG_MAX = 1, SEQ_AGG_MIN, SEQ_AGG_MEAN, SEQ_AGG_LAST,
} seq_skip_agg;

typedef struct seq_skip_if {
	seq_skip_when when;
	char *step;        /* name of an earlier step */
	seq_loc loc;
	/* SEQ_SKIP_IF_VALUE: */
	char *value;       /* value name of a multi-value step ("S/power");
	                      NULL: the step's own */
	seq_skip_agg agg;  /* over every valid value the step measured */
	int has_above, has_below;
	double above, below;  /* skip when agg > above or agg < below */
	char unit[16];     /* of the thresholds (the limits' units) */
	seq_loc unit_loc;
} seq_skip_if;

typedef struct seq_step {
	char *role;        /* "pm" of "pm.optical_power"; NULL for a built-in
	                      step written without a role ("wait", "prompt") */
	char *op;          /* "optical_power" */
	char *name;        /* step name; defaults to "<role>.<op>" */
	seq_sweep_var *sweep;   /* product of all variables, first varies slowest */
	size_t n_sweep;
	seq_param *params;
	size_t n_params;
	seq_limits limits;      /* single-value steps */
	int has_limits;
	seq_limits *vlimits;    /* multi-value steps: one entry per named value */
	size_t n_vlimits;
	seq_skip_if skip_if;
	int fail_bin;      /* soft bin on failure; 0 = none given */
	int fail_continue; /* keep running the part's steps after a failure */
	int retry;         /* extra attempts on failure */
	seq_loc loc;       /* where "- step:" starts */
	int block;         /* 0, or the 1-based parallel block it is in */
	int branch;        /* in a block: its branch, 0-based in file order */
} seq_step;

/* A parallel block of main: branches of steps that run side by side, each
 * on its own thread (docs/SEQUENCES.md). Its steps are one contiguous run
 * of seq_step_at() indices [first, first + n), branch after branch in file
 * order, each step with .block and .branch set. */
typedef struct seq_block {
	size_t first, n;
	char **branch_names;
	seq_loc *branch_locs;
	size_t n_branches;
	seq_loc loc;       /* where "- parallel:" starts */
} seq_block;

typedef struct seq_bin {
	int number;
	char *name;
	int pass;
	int hard;          /* the hard bin this soft bin maps to (bins: only);
	                      its own number when there is no hard_bins table */
	seq_loc loc;
} seq_bin;

typedef enum seq_process {
	SEQ_PROCESS_UNIT = 0,
	SEQ_PROCESS_WAFER = 1,
} seq_process;

typedef struct seq_sequence {
	char *path;
	char *name;
	int version;
	char *product;       /* NULL when the file gives none */
	seq_process process;
	seq_step *setup, *main, *cleanup;
	size_t n_setup, n_main, n_cleanup;
	seq_bin *bins;       /* soft bins */
	size_t n_bins;
	seq_bin *hard_bins;  /* NULL when the file has no hard_bins table */
	size_t n_hard_bins;
	seq_block *blocks;   /* main's parallel blocks, in file order */
	size_t n_blocks;
	char **roles;        /* the roles: header; NULL when absent */
	seq_loc *role_locs;
	size_t n_roles;
	char *text;          /* the file's bytes, NUL-terminated; with
	                        include:, followed by each included file's
	                        (seq_include.c), so the run keeps them all */
	size_t text_len;
	char sha256[65];     /* hex SHA-256 of text */
	char **files;        /* included files, files[k - 1] is file k */
	char **chains;       /* and how each came in: " (included from
	                        seq.yaml:5:11)" */
	size_t n_files;
} seq_sequence;

/* The file a position is in: s->path or an included file. */
const char *seq_loc_path(const seq_sequence *s, seq_loc loc);

/* Parse and validate the file at path. On error, err->msg is
 * "path:line:column: message" and *out is untouched. On success *out owns
 * everything; release with seq_free(). */
int seq_load(const char *path, seq_sequence **out, kgd_err *err);
void seq_free(seq_sequence *s);

/* Check the file at path as seq_load does, but find EVERY problem: report
 * (may be NULL) is called once per problem with "path:line:column: message",
 * in file order (a missing or unreadable file, or a YAML syntax error, is one
 * problem: nothing after it can be read). Returns KGD_OK, KGD_ERR_PARSE,
 * KGD_ERR_NOT_FOUND or KGD_ERR_IO; err gets the first problem. For
 * `station check`. */
int seq_check(const char *path, void (*report)(void *user, const char *msg),
	      void *user, kgd_err *err);

/* Points of st's sweep: the product of its sweep variables' value counts,
 * its zip group (seq_sweep_var.zip) counting once. 1 without a sweep. */
size_t seq_step_points(const seq_step *st);

/* As seq_check, and *out gets the sequence as far as it could be read
 * (NULL when nothing could: a missing file, a YAML syntax error), even
 * with problems, so `station check` can check what is there against the
 * operations too, in the same pass. Such a sequence has no text or
 * digest and may lack any part that had a problem; release with
 * seq_free(). */
int seq_check_load(const char *path, void (*report)(void *user, const char *msg),
		   void *user, seq_sequence **out, kgd_err *err);

/* Print the sequence at path as YAML with its vars and includes
 * expanded (`station check --expand`): what the loader reads. */
int seq_print_expanded(const char *path, FILE *out, kgd_err *err);

/* Look a parameter up; NULL if absent. */
const seq_param *seq_step_param(const seq_step *st, const char *key);

/* The bin marked pass (the lowest-numbered one if several); 1 if none. */
int seq_pass_bin(const seq_sequence *s);

/* The hard bin a soft bin maps to: its bins: entry's hard bin, or the soft
 * bin itself when the table has none (RUN_BIN_FAIL/RUN_BIN_ERROR unless the
 * file lists them). */
int seq_hard_bin(const seq_sequence *s, int soft_bin);

/* Every step of setup, main and cleanup, in file order (i < seq_n_steps). */
size_t seq_n_steps(const seq_sequence *s);
const seq_step *seq_step_at(const seq_sequence *s, size_t i);
/* Index (as for seq_step_at) of the step called name, or -1. */
long seq_step_index(const seq_sequence *s, const char *name);
/* The limits of value `value` (NULL: the single value) of st, or NULL. */
const seq_limits *seq_step_limits(const seq_step *st, const char *value);
/* The scalar limits l gives at index i of its per variable: *out is l with
 * list bounds replaced by their entry i (NaN, which nothing passes, when i
 * is past a list's end) and no lists; out borrows l's strings. For a
 * scalar l, *out = *l. Returns out. */
const seq_limits *seq_limits_at(const seq_limits *l, size_t i, seq_limits *out);

/* ---- limits files --------------------------------------------------------
 *
 * A limits file carries the limits of one product variant so an engineer
 * can change them without editing (and re-hashing) the sequence:
 *
 *   limits: tphy-16x16-rev-a     # name (required)
 *   sequence: teraphy-kgd        # optional: must match the sequence's name
 *   product: TPHY-16x16          # optional: must match the sequence's
 *   steps:
 *     port_power: {low: -4.0, high: 4.0, unit: dBm}
 *     laser_read/power: {low: 9.0, high: 13.0, unit: dBm}
 *
 * A key is a step name, or step/value for one value of a multi-value step;
 * an entry replaces that step's (value's) limits as a whole.
 */
/* One limit set of a limits file's by_condition: its condition value
 * ("85" of temperature_c: 85) and its entries (as seq_limset's). */
typedef struct seq_limset_set {
	char *value;
	seq_loc loc;
	seq_limits *entries;
	char **steps;
	size_t n;
} seq_limset_set;

typedef struct seq_limset {
	char *path;
	char *name;
	char *sequence;       /* NULL when not given */
	char *product;        /* NULL when not given */
	seq_limits *entries;  /* value NULL or a value name; step in .step */
	char **steps;         /* step name of entries[i] */
	size_t n;
	seq_loc sequence_loc, product_loc;
	char *text;
	size_t text_len;
	char sha256[65];
	/* by_condition: {VAR: {VALUE: {step: limits, ...}, ...}} */
	char *cond_var;       /* NULL: the file has no limit sets */
	seq_loc cond_loc;
	seq_limset_set *sets;
	size_t n_sets;
} seq_limset;

/* Parse a limits file (format above). Errors as for seq_load. *out owns
 * everything; release with seq_limset_free(). */
int seq_limset_load(const char *path, seq_limset **out, kgd_err *err);
/* As seq_limset_load, reporting every problem (for `station check`). */
int seq_limset_check(const char *path,
		     void (*report)(void *user, const char *msg), void *user,
		     kgd_err *err);
/* As seq_limset_check, and *out gets the file as far as it could be read
 * (as seq_check_load). */
int seq_limset_check_load(const char *path,
			  void (*report)(void *user, const char *msg), void *user,
			  seq_limset **out, kgd_err *err);
void seq_limset_free(seq_limset *l);

/* Pick the limit set of condition "VAR=VALUE" (NULL: none given): its
 * entries join l's after the common ones, so they win where both name a
 * step. A file with sets needs a condition that names its variable and
 * one of its values (numbers compare as numbers); a file without sets
 * takes any condition (it is only recorded with the run). */
int seq_limset_select(seq_limset *l, const char *condition, kgd_err *err);
/* A condition as the command line gives it: VAR=VALUE, VAR [a-z0-9_]+,
 * VALUE a number or a name. 0 if well-formed. */
int seq_condition_ok(const char *condition);

/* Override s's limits with l's entries. Every problem (a step the
 * sequence does not have, a sequence or product that does not match) goes
 * to report (may be NULL) as "limits-path:line:column: message"; err gets
 * the first. s keeps its own copies. */
int seq_limset_apply(seq_sequence *s, const seq_limset *l,
		     void (*report)(void *user, const char *msg), void *user,
		     kgd_err *err);

#endif
