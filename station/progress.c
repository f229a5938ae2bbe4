/*
 * station/progress.c - live progress of a lot on the terminal: where the
 * station is (wafer, die x/y or serial), parts done / total, running yield
 * and the last failure reason.
 *
 * On a tty it is one line rewritten in place (carriage return, erase to end
 * of line), so a 2000-die wafer does not scroll away the operator's
 * screen; anywhere else (a log file, a pipe) it is one plain line per part,
 * which greps well. Notes (interrupted sessions, wafer changes) always get
 * a line of their own. Invariant: after run_progress_end() the cursor is at
 * the start of a fresh line.
 */
#include "run_int.h"

#include <stdarg.h>
#include <string.h>

#define LINE_MAX_TTY 150

void run_progress_part(run_ctx *cx, const char *where, size_t done,
		       size_t total)
{
	const run_summary *sum = cx->sum;
	FILE *f = cx->o->progress;
	char line[512], tot[32] = "?";
	int n;

	if (!f)
		return;
	if (total)
		snprintf(tot, sizeof(tot), "%zu", total);
	n = snprintf(line, sizeof(line), "[%zu/%s] %s: %s bin %d  yield %.1f%%",
		     done, tot, where, run_verdict_status(cx->part.verdict),
		     cx->part.soft_bin,
		     sum->tested ? 100.0 * (double)sum->passed / (double)sum->tested : 0.0);
	if (cx->o->progress_tty) {
		if (sum->last_fail[0] && n > 0 && (size_t)n < sizeof(line))
			snprintf(line + n, sizeof(line) - (size_t)n, "  last fail: %s",
				 sum->last_fail);
		line[LINE_MAX_TTY] = '\0';
		fprintf(f, "\r\033[K%s", line);
		cx->line_open = 1;
	} else {
		fprintf(f, "%s%s%s\n", line, cx->part.reason[0] ? "  " : "",
			cx->part.reason);
	}
	fflush(f);
}

void run_progress_note(run_ctx *cx, const char *fmt, ...)
{
	FILE *f = cx->o->progress;
	va_list ap;

	if (!f)
		return;
	if (cx->line_open)
		fputs("\r\033[K", f);
	cx->line_open = 0;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

void run_progress_end(run_ctx *cx)
{
	if (cx->o->progress && cx->line_open) {
		fputc('\n', cx->o->progress);
		fflush(cx->o->progress);
	}
	cx->line_open = 0;
}
