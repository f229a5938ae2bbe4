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
 *   bins:
 *     1: {name: PASS, pass: true}
 *     5: {name: OPTICAL_POWER}
 */
#ifndef KGD_SEQ_H
#define KGD_SEQ_H

#include <stddef.h>
#include "kgd/status.h"

typedef struct seq_loc {
	int line, column;  /* 1-based, as an editor shows them */
} seq_loc;

/* One sweep variable: its name and the values it takes, in order.
 * "1..16" expands to 1,2,...,16; a list is taken as written. */
typedef struct seq_sweep_var {
	char *name;
	double *values;
	size_t n_values;
	seq_loc loc;
} seq_sweep_var;

typedef struct seq_param {
	char *key;
	char *value;       /* scalar text as written */
	seq_loc loc;
} seq_param;

typedef struct seq_limits {
	int has_low, has_high;
	double low, high;
	char unit[16];     /* "" when the step gives none */
	seq_loc loc;
} seq_limits;

typedef struct seq_step {
	char *role;        /* "pm" of "pm.optical_power" */
	char *op;          /* "optical_power" */
	char *name;        /* step name; defaults to "<role>.<op>" */
	seq_sweep_var *sweep;   /* product of all variables, first varies slowest */
	size_t n_sweep;
	seq_param *params;
	size_t n_params;
	seq_limits limits;
	int has_limits;
	int fail_bin;      /* soft bin on failure; 0 = none given */
	int fail_continue; /* keep running the part's steps after a failure */
	int retry;         /* extra attempts on failure */
	seq_loc loc;       /* where "- step:" starts */
} seq_step;

typedef struct seq_bin {
	int number;
	char *name;
	int pass;
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
	seq_bin *bins;
	size_t n_bins;
	char *text;          /* the file's bytes, NUL-terminated */
	size_t text_len;
	char sha256[65];     /* hex SHA-256 of text */
} seq_sequence;

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

/* Look a parameter up; NULL if absent. */
const seq_param *seq_step_param(const seq_step *st, const char *key);

/* The bin marked pass (the lowest-numbered one if several); 1 if none. */
int seq_pass_bin(const seq_sequence *s);

#endif
