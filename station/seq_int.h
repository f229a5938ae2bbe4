/*
 * station/seq_int.h - what the sequence loader's files share (not for
 * other modules): seq.c (the file, bins, roles), seq_steps.c (steps,
 * sweeps, params, parallel blocks) and seq_limits.c (limits, limits
 * files). All walk one yu_doc and record problems there (yaml_util.h).
 */
#ifndef KGD_SEQ_INT_H
#define KGD_SEQ_INT_H

#include "seq.h"
#include "yaml_util.h"

#define SEQ_BIN_MAX 9999

seq_loc seq_loc_of(const yaml_node_t *n);
yaml_mark_t seq_mark_of(seq_loc loc);
/* seq_core.c: the loader's bottom layer (also seq_step_at & co, seq.h) */
const seq_bin *seq_bin_in(const seq_bin *bins, size_t n, long number);
const seq_bin *seq_find_bin(const seq_sequence *s, long number);
/* Hex SHA-256 of a file's bytes (OpenSSL); -1 if it cannot be computed. */
int seq_sha256_hex(const char *data, size_t len, char hex[65]);

/* seq_include.c: include: and vars: expanded in d's tree (every problem
 * recorded in d); after it the tree holds no $var and no use: item. */
int seq_expand(yu_doc *d);

/* seq_steps.c */
void seq_parse_steps(yu_doc *d, const yaml_node_t *root, const char *key,
		     int required, seq_sequence *s, size_t base,
		     seq_step **steps, size_t *n_steps);
void seq_check_step_names(yu_doc *d, const seq_sequence *s);
void seq_check_skip_if(yu_doc *d, const seq_sequence *s);
void seq_free_steps(seq_step *steps, size_t n);
/* seq_step_at, for the loader's own changes. */
seq_step *seq_step_mut(seq_sequence *s, size_t i);

/* seq_limits.c */
void seq_parse_limits(yu_doc *d, const yaml_node_t *n, seq_step *st);
void seq_free_limits(seq_limits *l);

#endif
