/*
 * station/seq_core.c - the bottom of the sequence loader: what every
 * other part of it and every reader of a sequence use - positions, the
 * bin table, the file's digest, and finding steps and their limits. It
 * calls nothing else of the loader, so the loader's files call one way:
 * seq.c (the file) -> seq_steps.c (steps) -> seq_limits.c (limits) ->
 * seq_core.c.
 */
#include "seq_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

seq_loc seq_loc_of(const yaml_node_t *n)
{
	seq_loc loc = { (int)n->start_mark.line + 1, (int)n->start_mark.column + 1,
			(int)yu_mark_file(n->start_mark) };

	return loc;
}

const char *seq_loc_path(const seq_sequence *s, seq_loc loc)
{
	return loc.file >= 1 && (size_t)loc.file <= s->n_files
		? s->files[loc.file - 1] : s->path;
}

const seq_bin *seq_bin_in(const seq_bin *bins, size_t n, long number)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bins[i].number == number)
			return &bins[i];
	return NULL;
}

const seq_bin *seq_find_bin(const seq_sequence *s, long number)
{
	return seq_bin_in(s->bins, s->n_bins, number);
}

yaml_mark_t seq_mark_of(seq_loc loc)
{
	yaml_mark_t m = { 0, 0, 0 };

	m.line = loc.line > 0 ? (size_t)loc.line - 1 : 0;
	m.column = loc.column > 0 ? (size_t)loc.column - 1 : 0;
	m.index = loc.file > 0 ? YU_FILE_MARK(loc.file) : 0;
	return m;
}

int seq_sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0, i;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
		return -1;
	for (i = 0; i < md_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int seq_pass_bin(const seq_sequence *s)
{
	int best = 0;
	size_t i;

	for (i = 0; i < s->n_bins; i++)
		if (s->bins[i].pass && (best == 0 || s->bins[i].number < best))
			best = s->bins[i].number;
	return best ? best : 1;
}

int seq_hard_bin(const seq_sequence *s, int soft_bin)
{
	const seq_bin *b = seq_find_bin(s, soft_bin);

	return b ? b->hard : soft_bin;
}

size_t seq_n_steps(const seq_sequence *s)
{
	return s->n_setup + s->n_main + s->n_cleanup;
}

/* Steps of setup, main and cleanup as one run, in file order. */
const seq_step *seq_step_at(const seq_sequence *s, size_t i)
{
	return seq_step_mut((seq_sequence *)s, i);
}

/* The one place a step is found by index; the loader and the limits
 * file apply (seq_limset_apply) change steps through it, everyone else
 * reads them through seq_step_at. */
seq_step *seq_step_mut(seq_sequence *s, size_t i)
{
	if (i < s->n_setup)
		return &s->setup[i];
	i -= s->n_setup;
	if (i < s->n_main)
		return &s->main[i];
	return &s->cleanup[i - s->n_main];
}

size_t seq_step_points(const seq_step *st)
{
	size_t total = 1;
	int zipped = 0;

	for (size_t i = 0; i < st->n_sweep; i++) {
		if (st->sweep[i].zip && zipped)
			continue;  /* paired with the first zip variable */
		zipped |= st->sweep[i].zip;
		total *= st->sweep[i].n_values;
	}
	return total;
}

const seq_param *seq_step_param(const seq_step *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n_params; i++)
		if (st->params[i].key && strcmp(st->params[i].key, key) == 0)
			return &st->params[i];
	return NULL;
}

long seq_step_index(const seq_sequence *s, const char *name)
{
	size_t i, n = seq_n_steps(s);

	for (i = 0; name && i < n; i++)
		if (seq_step_at(s, i)->name &&
		    strcmp(seq_step_at(s, i)->name, name) == 0)
			return (long)i;
	return -1;
}

const seq_limits *seq_step_limits(const seq_step *st, const char *value)
{
	size_t i;

	if (!value)
		return st->has_limits ? &st->limits : NULL;
	for (i = 0; i < st->n_vlimits; i++)
		if (st->vlimits[i].value && strcmp(st->vlimits[i].value, value) == 0)
			return &st->vlimits[i];
	return NULL;
}

const seq_limits *seq_limits_at(const seq_limits *l, size_t i, seq_limits *out)
{
	*out = *l;
	out->per = NULL;
	out->lows = out->highs = NULL;
	out->n_lows = out->n_highs = 0;
	if (l->lows)
		out->low = i < l->n_lows ? l->lows[i] : NAN;
	if (l->highs)
		out->high = i < l->n_highs ? l->highs[i] : NAN;
	return out;
}
