/*
 * db/db_check.c - the integrity check: the station never adds to a
 * damaged results file (issue 19). At open, PRAGMA quick_check, bounded in
 * time (db.c sets d->check_ms); a file too large for it gets a cheaper
 * check of everything but the bulk tables, and owes a full
 * integrity_check at the end of its session (db.c runs it through
 * db_check_run). docs/GUARANTEES.md says what this does and does not see.
 *
 * Place in db/: below db.c and schema.c, above db_core.c (db_fail); it
 * never touches the statement cache.
 *
 * Invariant: the checks only read. A damaged file gets one message
 * (db_damaged) naming it and saying what to do.
 */
#include "db_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A watchdog for one check: SQLite (3.40) runs a whole quick_check inside
 * one VDBE operation, so a progress handler is not called until it is
 * over; sqlite3_interrupt() from another thread is what stops it. */
struct watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *h;
	struct timespec deadline;   /* CLOCK_MONOTONIC */
	int finished, fired;
};

static void *watch_main(void *p)
{
	struct watch *w = p;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->finished && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &w->deadline);
	/* Under the lock: the check is still running, or has returned and
	 * its statement is not yet finalized (an interrupt then only marks
	 * a statement that is done). */
	if (!w->finished) {
		sqlite3_interrupt(w->h);
		w->fired = 1;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int db_check_run(db *d, const char *sql, int budget_ms, char *first,
		 size_t cap, int *done, kgd_err *err)
{
	struct watch w;
	pthread_condattr_t ca;
	pthread_t th;
	sqlite3_stmt *st = NULL;
	int rc, watching = 0, status = KGD_OK;

	memset(&w, 0, sizeof(w));
	w.h = d->h;
	*done = 1;
	snprintf(first, cap, "ok");
	if (budget_ms > 0) {
		pthread_mutex_init(&w.mu, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w.cv, &ca);
		pthread_condattr_destroy(&ca);
		clock_gettime(CLOCK_MONOTONIC, &w.deadline);
		w.deadline.tv_sec += budget_ms / 1000;
		w.deadline.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
		if (w.deadline.tv_nsec >= 1000000000L) {
			w.deadline.tv_sec++;
			w.deadline.tv_nsec -= 1000000000L;
		}
		watching = pthread_create(&th, NULL, watch_main, &w) == 0;
	}
	rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		const char *msg = t ? (const char *)t : "?";
		char *nl;

		/* Its first problem, without the banner. */
		if (strncmp(msg, "*** in database main ***", 24) == 0)
			msg += 24;
		msg += strspn(msg, " \n");
		snprintf(first, cap, "%s", msg);
		/* On one line. */
		while ((nl = strchr(first, '\n')))
			*nl = ' ';
		rc = SQLITE_DONE;
	}
	if (watching) {
		pthread_mutex_lock(&w.mu);
		w.finished = 1;
		pthread_cond_signal(&w.cv);
		pthread_mutex_unlock(&w.mu);
		pthread_join(th, NULL);
	}
	if (rc == SQLITE_INTERRUPT && w.fired)
		*done = 0;
	else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		snprintf(first, cap, "%s", sqlite3_errmsg(d->h));
	else if (rc != SQLITE_DONE)
		status = db_fail(d->h, d->path, err, "checking the file");
	sqlite3_finalize(st);
	if (budget_ms > 0) {
		pthread_cond_destroy(&w.cv);
		pthread_mutex_destroy(&w.mu);
	}
	return status;
}

int db_damaged(db *d, kgd_err *err, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return kgd_err_set(err, KGD_ERR_DB, "%s: %s. Restore the last good copy "
			   "of the file, or recover what is readable into a new "
			   "one (sqlite3 %s .recover | sqlite3 NEW.db) and test "
			   "into that (--db NEW.db)", d->path, what, d->path);
}

/* The bulk of a results file (a thousand values per part): the cheaper
 * check leaves them to the full check at the end of the session. */
static int bulk_table(const char *name)
{
	return strcmp(name, "measurement") == 0 || strcmp(name, "step_result") == 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The cheaper check, when quick_check ran out of time: quick_check of
 * every table but the bulk ones, with their indexes - runs, parts, lots,
 * sessions, what resuming a lot and naming a part read, a few per cent of
 * the file - within five times the budget. */
static int check_small_tables(db *d, int budget_ms, char *first, size_t cap,
			      int *done, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	struct timespec t0;
	long left;
	char *sql;
	int status = KGD_OK;

	*done = 1;
	snprintf(first, cap, "ok");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (sqlite3_prepare_v2(d->h, "SELECT name FROM sqlite_master WHERE "
			       "type = 'table' ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK) {
		snprintf(first, cap, "%s", sqlite3_errmsg(d->h));
		return KGD_OK;
	}
	while (!status && *done && strcmp(first, "ok") == 0 &&
	       sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (!name || bulk_table(name))
			continue;
		left = 5L * budget_ms - ms_since(&t0);
		sql = sqlite3_mprintf("PRAGMA quick_check(\"%w\")", name);
		if (!sql)
			status = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory",
					     d->path);
		else
			status = db_check_run(d, sql, left > 1 ? (int)left : 1,
					      first, cap, done, err);
		sqlite3_free(sql);
	}
	sqlite3_finalize(st);
	return status;
}

/* Before anything is written: PRAGMA quick_check (every page of every
 * b-tree, the free list, NOT NULL and CHECK constraints) for at most
 * d->check_ms; on a file too large for that the cheaper check stands in
 * and the full check is owed at the end of the session (d->check_due). A
 * damaged file is refused: the station never adds to one. */
int db_check_at_open(db *d, kgd_err *err)
{
	char first[200];
	int done, status;

	/* A negative budget (a test's) is time already up. */
	done = 0;
	status = KGD_OK;
	if (d->check_ms >= 0)
		status = db_check_run(d, "PRAGMA quick_check", d->check_ms,
				      first, sizeof(first), &done, err);
	if (!status && !done) {
		d->check_due = 1;
		status = check_small_tables(d, d->check_ms > 0 ? d->check_ms
						    : DB_CHECK_MS, first,
					    sizeof(first), &done, err);
	}
	if (!status && strcmp(first, "ok") != 0)
		status = db_damaged(d, err, "the file is damaged (quick_check: "
				    "%.150s); nothing was added to it", first);
	return status;
}
