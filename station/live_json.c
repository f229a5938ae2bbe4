/*
 * station/live_json.c - the live state (live.h) as one JSON object for
 * the station page: identity, where the station is, counts per bin, wafer
 * and lot yield, pace, the last failures, an open prompt, why the lot
 * stopped, and the map cells the page has not been sent yet (a view's
 * cursor), so a long wafer costs each update only its new dies.
 *
 * Invariant: the state's mutex is held only while the text is built in
 * memory; the caller sends it after. Every string is escaped (control
 * characters as \u00XX), so the page can never be handed markup or a
 * broken object.
 */
#include "run_int.h"
#include "live_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct jbuf {
	char *p;
	size_t n, cap;
	int oom;
} jbuf;

static void put(jbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *grown;

		while (b->n + n + 1 > cap)
			cap *= 2;
		grown = realloc(b->p, cap);
		if (!grown) {
			b->oom = 1;
			return;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void putf(jbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(jbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* "key":"escaped", with a leading comma unless first. */
static void str(jbuf *b, const char *key, const char *v)
{
	putf(b, ",\"%s\":\"", key);
	for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
		if (*s == '"' || *s == '\\') {
			char e[2] = {'\\', (char)*s};

			put(b, e, 2);
		} else if (*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>' ||
			   *s == '&') {
			putf(b, "\\u%04x", *s);
		} else {
			put(b, (const char *)s, 1);
		}
	}
	put(b, "\"", 1);
}

static void counts(jbuf *b, const char *key, const size_t n[3])
{
	putf(b, ",\"%s\":{\"pass\":%zu,\"fail\":%zu,\"error\":%zu}", key, n[0],
	     n[1], n[2]);
}

char *run_live_json(run_live *lv, run_live_cursor *cur, size_t *len)
{
	jbuf b = {0};
	double now = live_mono();

	pthread_mutex_lock(&lv->mu);
	putf(&b, "{\"version\":%lu", lv->version);
	str(&b, "state", lv->state);
	str(&b, "lot", lv->lot);
	str(&b, "operator", lv->oper);
	str(&b, "station", lv->station);
	str(&b, "process", lv->process);
	str(&b, "product", lv->product);
	putf(&b, ",\"control\":%s", lv->control ? "true" : "false");
	str(&b, "wafer", lv->wafer);
	putf(&b, ",\"slot\":%d,\"gen\":%lu", lv->slot, lv->gen);
	putf(&b, ",\"done\":%zu,\"total\":%zu,\"tested\":%zu", lv->done,
	     lv->total, lv->tested);
	putf(&b, ",\"wafer_done\":%zu,\"wafer_total\":%zu,\"retested\":%zu",
	     lv->w_done, lv->w_total, lv->w_retested);
	counts(&b, "lot_counts", lv->lot_n);
	counts(&b, "wafer_counts", lv->w_n);
	if (lv->part_t0) {
		str(&b, "where", lv->where);
		str(&b, "step", lv->step);
		str(&b, "point", lv->point);
		putf(&b, ",\"part_s\":%.1f", now - lv->part_t0);
	}
	putf(&b, ",\"elapsed_s\":%.1f", lv->t_first ? now - lv->t_first : 0.0);
	put(&b, ",\"bins\":[", 9);
	for (size_t i = 0; i < lv->n_bins; i++) {
		putf(&b, "%s{\"bin\":%d,\"pass\":%s,\"lot\":%zu,\"wafer\":%zu",
		     i ? "," : "", lv->bins[i].number,
		     lv->bins[i].pass ? "true" : "false", lv->bins[i].lot,
		     lv->bins[i].wafer);
		str(&b, "name", lv->bins[i].name);
		put(&b, "}", 1);
	}
	put(&b, "],\"fails\":[", 11);
	for (size_t k = 0; k < LIVE_FAILS && k < lv->n_fails; k++) {
		const live_fail *f = &lv->fails[(lv->n_fails - 1 - k) % LIVE_FAILS];

		putf(&b, "%s{\"bin\":%d", k ? "," : "", f->bin);
		str(&b, "where", f->where);
		str(&b, "reason", f->reason);
		put(&b, "}", 1);
	}
	put(&b, "]", 1);
	if (lv->prompt_open) {
		putf(&b, ",\"prompt\":{\"id\":%lu", lv->prompt_id);
		str(&b, "text", lv->ptext);
		str(&b, "expect", lv->pexpect);
		put(&b, "}", 1);
	}
	if (lv->stopped) {
		str(&b, "why", lv->why);
		str(&b, "next", lv->next);
	}
	/* The map: from the start of the wafer when the view is new to it. */
	if (cur->gen != lv->gen || cur->parts > lv->n_cells) {
		cur->gen = lv->gen;
		cur->parts = 0;
		put(&b, ",\"reset\":true", 13);
	}
	put(&b, ",\"cells\":[", 10);
	for (size_t i = cur->parts; i < lv->n_cells; i++)
		putf(&b, "%s[%d,%d,%d,\"%c\"]", i > cur->parts ? "," : "",
		     lv->cells[i].x, lv->cells[i].y, lv->cells[i].bin,
		     lv->cells[i].status);
	put(&b, "]}", 2);
	cur->parts = lv->n_cells;
	cur->version = lv->version;
	pthread_mutex_unlock(&lv->mu);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}
