/*
 * station/progress.c - the operator's terminal, and the live state it
 * shares with the station page (live.h: one state, two views).
 *
 * The sequencer reports what it does (a wafer loaded, a part begun, a
 * step's sweep point, a part's verdict, a wafer done); this file keeps it
 * in the state and draws the terminal:
 *  - on a tty, one line redrawn in place (carriage return, erase to end of
 *    line), and while a part is in flight a heartbeat thread redraws it
 *    every second with the step, its sweep point and the seconds in the
 *    part, so a 30 s die never looks like a hang;
 *  - anywhere else (a log, a pipe), one plain line per part and no control
 *    characters, which greps well.
 * Notes (wafer summaries, retests, interrupted sessions) get a line of
 * their own either way. Prompts (run_progress_ask) end the open line
 * first and stop the heartbeat until answered - from the terminal or, with
 * --ui-control, the page: whichever answers first.
 *
 * Invariants: everything written to the terminal is written under the
 * state's mutex, so the heartbeat never cuts into a line; after
 * run_progress_end() the cursor is at the start of a fresh line; nothing
 * here changes a verdict or a row (the sink is fed, it never calls back).
 */
#include "run_int.h"
#include "live_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_TTY 150

static int st_index(char status)
{
	return status == 'p' ? 0 : status == 'f' ? 1 : 2;
}

static double yield(const size_t n[3])
{
	size_t all = n[0] + n[1] + n[2];

	return all ? 100.0 * (double)n[0] / (double)all : 0.0;
}

static live_bin *bin_of(run_live *lv, int number)
{
	for (size_t i = 0; i < lv->n_bins; i++)
		if (lv->bins[i].number == number)
			return &lv->bins[i];
	if (lv->n_bins == LIVE_MAX_BINS)
		return NULL;
	lv->bins[lv->n_bins] = (live_bin){.number = number};
	snprintf(lv->bins[lv->n_bins].name, sizeof(lv->bins[0].name), "%s",
		 number == RUN_BIN_ERROR ? "error" : number == RUN_BIN_FAIL
		 ? "fail" : "bin");
	return &lv->bins[lv->n_bins++];
}

static void changed(run_live *lv)
{
	lv->version++;
	pthread_cond_broadcast(&lv->cv);
}

/* ---- the state's life ---------------------------------------------------- */

static void *heartbeat(void *arg);

run_live *run_live_new(FILE *progress, int tty)
{
	run_live *lv = calloc(1, sizeof(*lv));
	pthread_condattr_t ca;

	if (!lv)
		return NULL;
	pthread_mutex_init(&lv->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lv->cv, &ca);
	pthread_cond_init(&lv->hb_cv, &ca);
	pthread_condattr_destroy(&ca);
	lv->out = progress;
	lv->tty = progress && tty;
	snprintf(lv->state, sizeof(lv->state), "starting");
	if (lv->tty && pthread_create(&lv->hb, NULL, heartbeat, lv) == 0)
		lv->hb_started = 1;
	return lv;
}

void run_live_free(run_live *lv)
{
	if (!lv)
		return;
	if (lv->hb_started) {
		pthread_mutex_lock(&lv->mu);
		lv->hb_quit = 1;
		pthread_cond_broadcast(&lv->hb_cv);
		pthread_mutex_unlock(&lv->mu);
		pthread_join(lv->hb, NULL);
	}
	live_tally_free(&lv->tally);
	free(lv->cells);
	pthread_cond_destroy(&lv->cv);
	pthread_cond_destroy(&lv->hb_cv);
	pthread_mutex_destroy(&lv->mu);
	free(lv);
}

void run_live_set_ui(run_live *lv, const char *url, int control)
{
	pthread_mutex_lock(&lv->mu);
	snprintf(lv->url, sizeof(lv->url), "%s", url);
	lv->control = control;
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
}

void run_live_stop(run_live *lv, const char *state, const char *why,
		   const char *next)
{
	pthread_mutex_lock(&lv->mu);
	snprintf(lv->state, sizeof(lv->state), "%s", state);
	snprintf(lv->why, sizeof(lv->why), "%s", why ? why : "");
	snprintf(lv->next, sizeof(lv->next), "%s", next ? next : "");
	lv->stopped = 1;
	lv->part_t0 = 0;
	lv->prompt_open = 0;
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
}

int run_live_stopped(run_live *lv)
{
	int s;

	pthread_mutex_lock(&lv->mu);
	s = lv->stopped;
	pthread_mutex_unlock(&lv->mu);
	return s;
}

int run_live_wait(run_live *lv, const run_live_cursor *cur, int timeout_ms)
{
	struct timespec ts;
	int changed_since;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lv->mu);
	while (lv->version == cur->version &&
	       pthread_cond_timedwait(&lv->cv, &lv->mu, &ts) == 0)
		;
	changed_since = lv->version != cur->version;
	pthread_mutex_unlock(&lv->mu);
	return changed_since;
}

int run_live_answer(run_live *lv, unsigned long id, const char *text)
{
	size_t n = strlen(text);
	int rc = -1;

	if (n >= sizeof(lv->answer))
		return -2;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return -2;
	pthread_mutex_lock(&lv->mu);
	if (lv->prompt_open && !lv->answered && lv->prompt_id == id &&
	    lv->control) {
		memcpy(lv->answer, text, n + 1);
		lv->answered = 2;   /* by the page */
		changed(lv);
		rc = 0;
	}
	pthread_mutex_unlock(&lv->mu);
	return rc;
}

/* ---- the terminal line --------------------------------------------------- */

static size_t term_width(run_live *lv)
{
	struct winsize ws;

	if (ioctl(fileno(lv->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col - 1 < 400 ? (size_t)ws.ws_col - 1 : 400;
	return LINE_MAX_TTY;
}

/* Cut at n bytes, not inside a UTF-8 sequence. */
static void cut_utf8(char *s, size_t n)
{
	if (strlen(s) <= n)
		return;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/* Dies per hour and time left, as text ("" when unknown). */
static void pace(run_live *lv, char *buf, size_t cap)
{
	double el = lv->t_first ? live_mono() - lv->t_first : 0;
	double per_s = el > 0 ? (double)lv->tested / el : 0;

	buf[0] = '\0';
	if (per_s <= 0)
		return;
	if (lv->total > lv->done) {
		double left = (double)(lv->total - lv->done) / per_s;

		snprintf(buf, cap, " | %.0f/h, %d:%02d left", per_s * 3600,
			 (int)(left / 3600), (int)(left / 60) % 60);
	} else {
		snprintf(buf, cap, " | %.0f/h", per_s * 3600);
	}
}

/* The heartbeat: where the station is inside the part in flight. */
static void draw_heartbeat(run_live *lv)
{
	char line[1024], tot[32] = "?", p[64], y[64];
	size_t total = lv->has_xy ? lv->w_total : lv->total;

	if (total)
		snprintf(tot, sizeof(tot), "%zu", total);
	pace(lv, p, sizeof(p));
	if (lv->has_xy)
		snprintf(y, sizeof(y), "wafer %.1f%% lot %.1f%%", yield(lv->w_n),
			 yield(lv->lot_n));
	else
		snprintf(y, sizeof(y), "yield %.1f%%", yield(lv->lot_n));
	snprintf(line, sizeof(line), "[%zu/%s] %s %.0fs | %s%s%s | %s%s",
		 (lv->has_xy ? lv->w_done : lv->done) + 1, tot, lv->where,
		 live_mono() - lv->part_t0,
		 lv->step[0] ? lv->step : "starting", lv->point[0] ? " " : "",
		 lv->point, y, p);
	cut_utf8(line, term_width(lv));
	fprintf(lv->out, "\r\033[K%s", line);
	fflush(lv->out);
	lv->line_open = 1;
}

static void *heartbeat(void *arg)
{
	run_live *lv = arg;
	struct timespec ts;

	pthread_mutex_lock(&lv->mu);
	while (!lv->hb_quit) {
		/* On each whole second into the part in flight (a part that
		 * takes less never replaces the last part's line). */
		double now = live_mono(), t0 = lv->part_t0;
		double at = t0 ? t0 + (double)((long)(now - t0) + 1) : now + 1;
		int rc;

		ts.tv_sec = (time_t)at;
		ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
		rc = pthread_cond_timedwait(&lv->hb_cv, &lv->mu, &ts);
		if (rc == ETIMEDOUT && !lv->hb_quit && lv->part_t0 &&
		    lv->part_t0 == t0 && !lv->prompt_open)
			draw_heartbeat(lv);
	}
	pthread_mutex_unlock(&lv->mu);
	return NULL;
}

static void end_line(run_live *lv)
{
	if (lv->out && lv->line_open) {
		fputs("\r\033[K", lv->out);
		fflush(lv->out);
	}
	lv->line_open = 0;
}

/* ---- what the sequencer reports ----------------------------------------- */

void run_progress_lot(run_ctx *cx)
{
	run_live *lv = cx->live;
	const seq_sequence *s = cx->s;

	pthread_mutex_lock(&lv->mu);
	snprintf(lv->lot, sizeof(lv->lot), "%s", cx->o->lot);
	snprintf(lv->oper, sizeof(lv->oper), "%s",
		 cx->o->operator_name ? cx->o->operator_name : "");
	snprintf(lv->station, sizeof(lv->station), "%s", cx->c->name);
	snprintf(lv->process, sizeof(lv->process), "%s",
		 s->process == SEQ_PROCESS_WAFER ? "wafer" : "unit");
	snprintf(lv->product, sizeof(lv->product), "%s",
		 s->product ? s->product : "");
	for (size_t i = 0; i < s->n_bins; i++) {
		live_bin *b = bin_of(lv, s->bins[i].number);

		if (b) {
			snprintf(b->name, sizeof(b->name), "%s", s->bins[i].name);
			b->pass = s->bins[i].pass;
		}
	}
	snprintf(lv->state, sizeof(lv->state), "running");
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
}

/* Count a part's new outcome, taking back its earlier one. */
static void account(run_live *lv, live_part *p, int created, char status,
		    int bin)
{
	int same_wafer = !p->wafer || strcmp(p->wafer, lv->wafer) == 0;
	live_bin *b;

	if (!created) {
		lv->lot_n[st_index(p->status)]--;
		if ((b = bin_of(lv, p->bin)) != NULL) {
			b->lot--;
			if (same_wafer && b->wafer)
				b->wafer--;
		}
		if (same_wafer && lv->w_n[st_index(p->status)])
			lv->w_n[st_index(p->status)]--;
	}
	p->status = status;
	p->bin = bin;
	lv->lot_n[st_index(status)]++;
	if ((b = bin_of(lv, bin)) != NULL) {
		b->lot++;
		if (same_wafer)
			b->wafer++;
	}
	if (same_wafer)
		lv->w_n[st_index(status)]++;
}

static void add_cell(run_live *lv, int x, int y, char status, int bin)
{
	if (lv->n_cells == lv->cap_cells) {
		size_t cap = lv->cap_cells ? 2 * lv->cap_cells : 512;
		live_cell *grown = realloc(lv->cells, cap * sizeof(*grown));

		if (!grown)
			return;   /* the map misses a cell; the counts do not */
		lv->cells = grown;
		lv->cap_cells = cap;
	}
	lv->cells[lv->n_cells++] = (live_cell){x, y, bin, status};
}

int run_progress_seed(void *user, const char *wafer, const char *serial,
		      int x, int y, const char *status, int soft_bin)
{
	run_live *lv = user;
	char key[300], st = status[0] == 'p' ? 'p' : status[0] == 'f' ? 'f' : 'e';
	live_part *p;
	int created;

	live_key(key, sizeof(key), wafer, serial, x, y);
	pthread_mutex_lock(&lv->mu);
	p = live_tally_add(&lv->tally, key, wafer, x, y, &created);
	if (p) {
		account(lv, p, created, st, soft_bin);
		if (!wafer)   /* unit process: the strip shows the lot */
			add_cell(lv, (int)(lv->n_cells % 25),
				 (int)(lv->n_cells / 25), st, soft_bin);
	}
	pthread_mutex_unlock(&lv->mu);
	return p ? 0 : -1;
}

void run_progress_total(run_ctx *cx, size_t total)
{
	pthread_mutex_lock(&cx->live->mu);
	cx->live->total = total;
	pthread_mutex_unlock(&cx->live->mu);
}

void run_progress_wafer(run_ctx *cx, const char *wafer, int slot,
			size_t w_total, size_t slots_left)
{
	run_live *lv = cx->live;
	live_tally *t = &lv->tally;

	pthread_mutex_lock(&lv->mu);
	snprintf(lv->wafer, sizeof(lv->wafer), "%s", wafer);
	lv->slot = slot;
	lv->gen++;
	lv->w_done = 0;
	lv->w_total = w_total;
	lv->total = w_total ? lv->done + w_total * slots_left : 0;
	lv->w_retested = 0;
	memset(lv->w_n, 0, sizeof(lv->w_n));
	lv->n_cells = 0;
	for (size_t i = 0; i < lv->n_bins; i++)
		lv->bins[i].wafer = 0;
	/* The wafer's earlier results (--resume, a retest): on the map and
	 * in its counts from the start. */
	for (size_t i = 0; i < t->cap; i++) {
		live_part *p = &t->v[i];
		live_bin *b;

		if (!p->key || !p->wafer || strcmp(p->wafer, wafer) != 0)
			continue;
		lv->w_n[st_index(p->status)]++;
		if ((b = bin_of(lv, p->bin)) != NULL)
			b->wafer++;
		add_cell(lv, p->x, p->y, p->status, p->bin);
	}
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_wafer_end(run_ctx *cx)
{
	run_live *lv = cx->live;
	char bins[512] = "";
	size_t used = 0, all;

	pthread_mutex_lock(&lv->mu);
	all = lv->w_n[0] + lv->w_n[1] + lv->w_n[2];
	for (size_t i = 0; i < lv->n_bins && used < sizeof(bins) - 32; i++)
		if (lv->bins[i].wafer)
			used += (size_t)snprintf(bins + used, sizeof(bins) - used,
						 "%s%d:%zu", used ? " " : "",
						 lv->bins[i].number,
						 lv->bins[i].wafer);
	if (lv->out) {
		end_line(lv);
		fprintf(lv->out, "wafer %s done: %zu dies, %zu pass, %zu fail, "
			"%zu error, yield %.1f%% (bins %s)", lv->wafer, all,
			lv->w_n[0], lv->w_n[1], lv->w_n[2], yield(lv->w_n),
			used ? bins : "none");
		if (lv->w_retested)
			fprintf(lv->out, "; %zu tested again", lv->w_retested);
		fprintf(lv->out, "; lot yield %.1f%%\n", yield(lv->lot_n));
		fflush(lv->out);
	}
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_begin(run_ctx *cx, const db_run_info *info)
{
	run_live *lv = cx->live;
	live_part *p;
	int first;

	pthread_mutex_lock(&lv->mu);
	live_key(lv->key, sizeof(lv->key), info->has_xy ? info->wafer : NULL,
		 info->serial, info->die_x, info->die_y);
	lv->has_xy = info->has_xy;
	lv->cur_x = info->die_x;
	lv->cur_y = info->die_y;
	if (info->has_xy)
		snprintf(lv->where, sizeof(lv->where), "wafer %s die (%d,%d)",
			 info->wafer, info->die_x, info->die_y);
	else
		snprintf(lv->where, sizeof(lv->where), "%s", info->serial);
	lv->step[0] = lv->point[0] = '\0';
	lv->part_t0 = live_mono();
	if (!lv->t_first)
		lv->t_first = lv->part_t0;
	if (lv->hb_started)
		pthread_cond_broadcast(&lv->hb_cv);   /* a line for it now */
	/* A part with results is tested again: a new run, the latest counts.
	 * Said once per wafer (the summary gives the count), once per serial. */
	p = live_tally_find(&lv->tally, lv->key);
	if (p) {
		first = lv->w_retested++ == 0;
		if (lv->out && (first || !info->has_xy)) {
			end_line(lv);
			if (info->has_xy)
				fprintf(lv->out, "notice: die (%d,%d) of wafer %s already "
					"has results (%s, bin %d): dies with results are "
					"tested again as new runs; the latest counts\n",
					info->die_x, info->die_y, info->wafer,
					p->status == 'p' ? "pass" : p->status == 'f'
					? "fail" : "error", p->bin);
			else
				fprintf(lv->out, "notice: %s already has results (%s, "
					"bin %d): tested again as a new run; the latest "
					"counts\n", info->serial, p->status == 'p'
					? "pass" : p->status == 'f' ? "fail" : "error",
					p->bin);
			fflush(lv->out);
		}
	}
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_point(run_ctx *cx, const seq_step *st, const run_point *pt)
{
	run_live *lv = cx->live;
	size_t used = 0;

	pthread_mutex_lock(&lv->mu);
	snprintf(lv->step, sizeof(lv->step), "%s", st->name);
	lv->point[0] = '\0';
	for (size_t i = 0; pt && i < st->n_sweep && used < sizeof(lv->point) - 1;
	     i++)
		used += (size_t)snprintf(lv->point + used, sizeof(lv->point) - used,
					 "%s%s=%g", i ? " " : "", st->sweep[i].name,
					 pt->vals[i]);
	if (!pt && st->n_sweep)
		snprintf(lv->point, sizeof(lv->point), "(all points at once)");
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_skip(run_ctx *cx)
{
	pthread_mutex_lock(&cx->live->mu);
	cx->live->done++;
	cx->live->w_done++;
	pthread_mutex_unlock(&cx->live->mu);
}

void run_progress_part(run_ctx *cx, const char *where, size_t done,
		       size_t total)
{
	run_live *lv = cx->live;
	const run_summary *sum = cx->sum;
	char line[512], tot[32] = "?", st;
	live_part *p;
	int n, created;

	st = cx->part.verdict == RUN_PASS ? 'p' : cx->part.verdict == RUN_FAIL
		? 'f' : 'e';
	pthread_mutex_lock(&lv->mu);
	p = live_tally_add(&lv->tally, lv->key, lv->has_xy ? lv->wafer : NULL,
			   lv->cur_x, lv->cur_y, &created);
	if (p)
		account(lv, p, created, st, cx->part.soft_bin);
	if (lv->has_xy)
		add_cell(lv, lv->cur_x, lv->cur_y, st, cx->part.soft_bin);
	else
		add_cell(lv, (int)(lv->n_cells % 25), (int)(lv->n_cells / 25), st,
			 cx->part.soft_bin);
	lv->tested++;
	lv->done++;
	lv->w_done++;
	lv->part_t0 = 0;
	if (st != 'p') {
		live_fail *f = &lv->fails[lv->n_fails++ % LIVE_FAILS];

		snprintf(f->where, sizeof(f->where), "%s", where);
		snprintf(f->reason, sizeof(f->reason), "%.199s", cx->part.reason);
		f->bin = cx->part.soft_bin;
	}
	changed(lv);
	if (!lv->out)
		goto out;
	if (total)
		snprintf(tot, sizeof(tot), "%zu", total);
	n = snprintf(line, sizeof(line), "[%zu/%s] %s: %s bin %d  yield %.1f%%",
		     done, tot, where, run_verdict_status(cx->part.verdict),
		     cx->part.soft_bin, yield(lv->lot_n));
	if (lv->tty) {
		if (sum->last_fail[0] && n > 0 && (size_t)n < sizeof(line))
			snprintf(line + n, sizeof(line) - (size_t)n, "  last fail: %s",
				 sum->last_fail);
		cut_utf8(line, term_width(lv));
		fprintf(lv->out, "\r\033[K%s", line);
		lv->line_open = 1;
	} else {
		fprintf(lv->out, "%s%s%s\n", line, cx->part.reason[0] ? "  " : "",
			cx->part.reason);
	}
	fflush(lv->out);
out:
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_note(run_ctx *cx, const char *fmt, ...)
{
	run_live *lv = cx->live;
	va_list ap;

	if (!lv->out)
		return;
	pthread_mutex_lock(&lv->mu);
	end_line(lv);
	va_start(ap, fmt);
	vfprintf(lv->out, fmt, ap);
	va_end(ap);
	fputc('\n', lv->out);
	fflush(lv->out);
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_end(run_ctx *cx)
{
	run_live *lv = cx->live;

	pthread_mutex_lock(&lv->mu);
	lv->part_t0 = 0;
	if (lv->out && lv->line_open) {
		fputc('\n', lv->out);
		fflush(lv->out);
	}
	lv->line_open = 0;
	pthread_mutex_unlock(&lv->mu);
}

void run_progress_lot_counts(run_ctx *cx, size_t *parts, size_t *passed)
{
	pthread_mutex_lock(&cx->live->mu);
	*parts = cx->live->lot_n[0] + cx->live->lot_n[1] + cx->live->lot_n[2];
	*passed = cx->live->lot_n[0];
	pthread_mutex_unlock(&cx->live->mu);
}

/* ---- prompts ------------------------------------------------------------- */

static int abort_set(const run_ctx *cx)
{
	return cx->o->abort_flag &&
	       __atomic_load_n(cx->o->abort_flag, __ATOMIC_RELAXED);
}

/* A line from the terminal, the page's answer, an abort or the end of
 * input; 1 for a line (in ans), 2 for the page's, 0 for end of input,
 * -1 for an abort. */
static int wait_answer(run_ctx *cx, FILE *in, char *ans, size_t cap)
{
	run_live *lv = cx->live;
	struct pollfd pfd = {fileno(in), POLLIN, 0};
	int page;

	if (!lv->control) {
		/* No page can answer: a plain read, as a script feeds it. */
		errno = 0;
		if (fgets(ans, (int)cap, in))
			return 1;
		return abort_set(cx) || errno == EINTR ? -1 : 0;
	}
	for (;;) {
		pthread_mutex_lock(&lv->mu);
		page = lv->answered == 2;
		if (page)
			snprintf(ans, cap, "%s", lv->answer);
		pthread_mutex_unlock(&lv->mu);
		if (page)
			return 2;
		if (abort_set(cx))
			return -1;
		if (pfd.fd < 0) {
			struct timespec ts = {0, 100000000L};

			nanosleep(&ts, NULL);
		} else if (poll(&pfd, 1, 100) > 0) {
			errno = 0;
			if (!fgets(ans, (int)cap, in)) {
				if (abort_set(cx) || errno == EINTR)
					return -1;
				/* The terminal's input ended; the page can still
				 * answer (or the operator abort). */
				pfd.fd = -1;
				continue;
			}
			pthread_mutex_lock(&lv->mu);
			page = lv->answered == 2;   /* the page was first */
			if (page)
				snprintf(ans, cap, "%s", lv->answer);
			else
				lv->answered = 1;
			pthread_mutex_unlock(&lv->mu);
			return page ? 2 : 1;
		}
	}
}

int run_progress_ask(run_ctx *cx, const char *text, const char *expect,
		     char *ans, size_t cap, kgd_err *err)
{
	run_live *lv = cx->live;
	const run_opts *o = cx->o;
	FILE *in = o->prompt_in ? o->prompt_in : stdin;
	FILE *out = o->prompt_out ? o->prompt_out : stderr;
	size_t n;
	int got;

	pthread_mutex_lock(&lv->mu);
	lv->prompt_id++;
	lv->prompt_open = 1;
	lv->answered = 0;
	snprintf(lv->ptext, sizeof(lv->ptext), "%s", text);
	snprintf(lv->pexpect, sizeof(lv->pexpect), "%s", expect ? expect : "");
	end_line(lv);
	if (o->progress) {
		/* The question on a line of its own, the answer after it. */
		if (expect)
			fprintf(out, "%s [%s]: ", text, expect);
		else
			fprintf(out, "%s: ", text);
		fflush(out);
	}
	changed(lv);
	pthread_mutex_unlock(&lv->mu);

	got = wait_answer(cx, in, ans, cap);

	pthread_mutex_lock(&lv->mu);
	lv->prompt_open = 0;
	if (got == 2 && o->progress) {
		fprintf(out, "%s  (answered on the station page)\n", ans);
		fflush(out);
		if (isatty(fileno(in)))
			tcflush(fileno(in), TCIFLUSH);   /* a half-typed answer */
	}
	changed(lv);
	pthread_mutex_unlock(&lv->mu);
	if (got < 0)
		return kgd_err_set(err, KGD_ERR_ABORTED, "aborted at a prompt");
	if (got == 0)
		return kgd_err_set(err, KGD_ERR_IO,
				   "no operator answer to '%s' (input ended)", text);
	n = strlen(ans);
	while (n && (ans[n - 1] == '\n' || ans[n - 1] == '\r' ||
		     ans[n - 1] == ' '))
		ans[--n] = '\0';
	return KGD_OK;
}

int run_progress_confirm(run_ctx *cx, const char *question, kgd_err *err)
{
	char ans[64];
	int rc = run_progress_ask(cx, question, "yes", ans, sizeof(ans), err);

	if (rc)
		return rc;
	return strcasecmp(ans, "yes") == 0 || strcasecmp(ans, "y") == 0;
}
