/*
 * station/ui.h - the station page: `station run --ui [ADDR:]PORT` serves
 * the lot's live state (live.h) to a browser over HTTP (libmicrohttpd):
 * one page with its HTML, CSS and JS built into the binary, and a
 * Server-Sent Events stream of the state as JSON. Read-only unless a
 * control token is given (--ui-control): then the page may answer a
 * prompt and abort the lot, each request carrying the token.
 *
 * Invariants: the sequencer never waits for a browser - each view is its
 * own thread that copies the state under its mutex and writes outside it,
 * a view that does not read is dropped after UI_STALL_S, and at most
 * UI_MAX_VIEWS are served (more are refused with 503). Anything but
 * GET /, GET /events, GET /state.json and (with control) POST /answer and
 * POST /abort is 404 (unknown path) or 405 (a known path, another method).
 */
#ifndef KGD_UI_H
#define KGD_UI_H

#include "kgd/status.h"
#include "live.h"

#define UI_MAX_VIEWS 16
#define UI_STALL_S 10

typedef struct ui_server ui_server;

/* Listen on spec ("PORT" or "ADDR:PORT"; ADDR 127.0.0.1 when not given,
 * PORT 0: any free one). token: NULL for a read-only page; else the
 * control token the page's requests must carry. abort_fn(abort_user)
 * is called for a POST /abort with the right token. Errors name the
 * spec (bad address, port in use). */
int ui_start(const char *spec, run_live *lv, const char *token,
	     void (*abort_fn)(void *), void *abort_user, ui_server **out,
	     kgd_err *err);
/* "http://ADDR:PORT/" */
const char *ui_url(const ui_server *u);
/* Let the views have the final state (up to 2 s), then close. NULL ok. */
void ui_stop(ui_server *u);
/* Views being served now (tests, bench). */
int ui_views(ui_server *u);

#endif
