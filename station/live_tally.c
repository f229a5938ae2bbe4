/*
 * station/live_tally.c - the lot's parts, each with the outcome of its
 * latest run, for the live counts (live.h): a hash table keyed by the
 * part's name (wafer and die, or serial), so a part tested again replaces
 * its earlier outcome instead of counting twice, as the reports count it.
 * Invariant: n < cap / 2 (open addressing never runs full).
 */
#include "live_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double live_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void live_key(char *buf, size_t cap, const char *wafer, const char *serial,
	      int x, int y)
{
	if (wafer)
		snprintf(buf, cap, "W\x1f%s\x1f%d\x1f%d", wafer, x, y);
	else
		snprintf(buf, cap, "S\x1f%s", serial ? serial : "");
}

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static live_part *slot_of(live_part *v, size_t cap, const char *key)
{
	size_t i = hash(key) & (cap - 1);

	while (v[i].key && strcmp(v[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

live_part *live_tally_find(live_tally *t, const char *key)
{
	live_part *p;

	if (!t->cap)
		return NULL;
	p = slot_of(t->v, t->cap, key);
	return p->key ? p : NULL;
}

static int grow(live_tally *t)
{
	size_t cap = t->cap ? 2 * t->cap : 1024;
	live_part *v = calloc(cap, sizeof(*v));

	if (!v)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].key)
			*slot_of(v, cap, t->v[i].key) = t->v[i];
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

live_part *live_tally_add(live_tally *t, const char *key, const char *wafer,
			  int x, int y, int *created)
{
	live_part *p = live_tally_find(t, key);

	*created = 0;
	if (p)
		return p;
	if ((t->n + 1) * 2 > t->cap && grow(t))
		return NULL;
	p = slot_of(t->v, t->cap, key);
	p->key = strdup(key);
	p->wafer = wafer ? strdup(wafer) : NULL;
	if (!p->key || (wafer && !p->wafer)) {
		free(p->key);
		free(p->wafer);
		memset(p, 0, sizeof(*p));
		return NULL;
	}
	p->x = x;
	p->y = y;
	p->status = 0;
	p->bin = 0;
	t->n++;
	*created = 1;
	return p;
}

void live_tally_free(live_tally *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->v[i].key);
		free(t->v[i].wafer);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}
