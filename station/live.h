/*
 * station/live.h - the lot's live state, as the operator sees it: one
 * state, kept by the progress sink (progress.c) from what the sequencer
 * reports, and two views of it - the terminal (progress.c) and the station
 * page (ui_http.c, which reads it as JSON through live_json.c).
 *
 * Invariants:
 *  - The views only read. Nothing here feeds back into a verdict, a row or
 *    a bin; the one input the state takes from outside is a prompt answer
 *    (run_live_answer), which goes exactly where a typed answer goes.
 *  - The sequencer never waits for a view: every call holds the state's
 *    mutex for a copy or a counter, never across I/O to a browser.
 *  - The lot's counts are the lot's, not the session's: the earlier
 *    sessions' latest run of each part is loaded at start (run_live_seed),
 *    and a part tested again replaces its earlier outcome, as the reports
 *    count it.
 */
#ifndef KGD_LIVE_H
#define KGD_LIVE_H

#include <stddef.h>
#include <stdio.h>

typedef struct run_live run_live;

/* The state of one lot. progress: where the terminal lines go (NULL:
 * quiet); tty: redraw one line in place, with a heartbeat every second.
 * NULL when out of memory. */
run_live *run_live_new(FILE *progress, int tty);
void run_live_free(run_live *lv);

/* The page is up at url; with control, a prompt may also be answered from
 * it (the terminal's input is then polled, first answer wins). */
void run_live_set_ui(run_live *lv, const char *url, int control);

/* The lot has stopped: state is "complete", "aborted" or "error"; why and
 * next are what the page shows in large text (what happened, what to do). */
void run_live_stop(run_live *lv, const char *state, const char *why,
		   const char *next);

/* A view's place in the state: the wafer (generation) and how many of its
 * parts it has been sent. Zeroed for a new view. */
typedef struct run_live_cursor {
	unsigned long gen;
	size_t parts;
	unsigned long version;
} run_live_cursor;

/* Wait up to timeout_ms for a change after cur->version; 1 if there is
 * one (or the state is stopped and cur has not seen it), 0 if not. */
int run_live_wait(run_live *lv, const run_live_cursor *cur, int timeout_ms);

/* The state as one JSON object (malloc'ed, *len bytes without the NUL),
 * with the parts cur has not been sent yet; cur moves on. NULL when out of
 * memory. */
char *run_live_json(run_live *lv, run_live_cursor *cur, size_t *len);

/* An answer to prompt `id` from the page: 0 when taken, -1 when no such
 * prompt is open (already answered - the first answer wins - or gone), -2
 * when the text is not an answer (control characters, too long). */
int run_live_answer(run_live *lv, unsigned long id, const char *text);

/* 1 once run_live_stop() was called. */
int run_live_stopped(run_live *lv);

#endif
