/*
 * sync/pgs.c - the front of sync/ (all of pgs.h): one upload, the
 * background uploader that runs beside a lot, and the pull for reports.
 *
 * The background uploader is one thread with its own SQLite and server
 * connections; the station only starts and stops it. It never takes
 * the file's write lock except for a moment to write its marks, and a
 * slow or absent server only delays the thread: it says so once, backs
 * off (1 s doubling to 30 s) and catches up when the server answers.
 */
#include "pgs_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PGS_BACKOFF_MIN_MS 1000
#define PGS_BACKOFF_MAX_MS 30000

int pgs_schema_version(void)
{
	return pgs_schema_newest();
}

/* Connect (if not connected), check or migrate the schema, upload. */
static int sync_on(pgs_conn *c, int *connected, const char *db_path,
		   const char *target, const pgs_options *o, pgs_stats *st,
		   kgd_err *err)
{
	int status;

	if (!*connected) {
		status = pgs_connect(c, target, err);
		if (status)
			return status;
		*connected = 1;
		status = pgs_schema_ready(c, err);
		if (status)
			return status;
	}
	if (st)
		snprintf(st->server, sizeof(st->server), "%s", c->label);
	return pgs_up_run(c, db_path, o, st, err);
}

int pgs_sync(const char *db_path, const char *target, const pgs_options *o,
	     pgs_stats *st, kgd_err *err)
{
	pgs_stats local;
	pgs_conn c;
	int connected = 0, status;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	status = sync_on(&c, &connected, db_path, target, o, st, err);
	if (connected)
		pgs_disconnect(&c);
	return status;
}

int pgs_waiting_count(const char *db_path, const char *server_uuid,
		      pgs_waiting *w, kgd_err *err)
{
	return pgs_up_waiting(db_path, server_uuid, w, err);
}

/* The readers' start: connect, name the server in st (zeroed first), and
 * check its schema; on failure nothing stays open. */
static int read_open(pgs_conn *c, const char *target, pgs_stats *st,
		     kgd_err *err)
{
	int status;

	memset(st, 0, sizeof(*st));
	status = pgs_connect(c, target, err);
	if (status)
		return status;
	snprintf(st->server, sizeof(st->server), "%s", c->label);
	status = pgs_schema_ready(c, err);
	if (status)
		pgs_disconnect(c);
	return status;
}

int pgs_pull(const char *target, const char *out_path, const pgs_filter *f,
	     pgs_stats *st, kgd_err *err)
{
	pgs_stats local;
	pgs_conn c;
	int status;

	if (!st)
		st = &local;
	status = read_open(&c, target, st, err);
	if (status)
		return status;
	status = pgs_pull_run(&c, out_path, f, st, err);
	pgs_disconnect(&c);
	return status;
}

int pgs_measurements(const char *target, const pgs_select *sel,
		     pgs_meas_fn fn, void *user, pgs_stats *st, kgd_err *err)
{
	pgs_stats local;
	pgs_conn c;
	int status;

	if (!st)
		st = &local;
	status = read_open(&c, target, st, err);
	if (status)
		return status;
	status = pgs_tests_run(&c, sel, fn, user, st, err);
	pgs_disconnect(&c);
	return status;
}

/* ---- the background uploader -------------------------------------------- */

struct pgs_bg {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	char *path, *target;
	int poll_ms;
	pgs_say_fn say;
	void *user;
	char server_uuid[64];      /* once reached */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What decides whether there is something to send: the newest run and
 * session, and how many sessions still run (an end is news too). */
static void fingerprint(sqlite3 *h, long long fp[3])
{
	sqlite3_stmt *st = NULL;

	fp[0] = fp[1] = fp[2] = -1;
	if (sqlite3_prepare_v2(h, "SELECT (SELECT coalesce(max(id), 0) FROM run),"
			       " (SELECT coalesce(max(id), 0) FROM session),"
			       " (SELECT count(*) FROM session WHERE status ="
			       " 'running')", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			fp[i] = sqlite3_column_int64(st, i);
	sqlite3_finalize(st);
}

static void say(pgs_bg *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(pgs_bg *b, const char *fmt, ...)
{
	char line[KGD_ERR_MSG_MAX + 200];
	va_list ap;

	if (!b->say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->say(b->user, line);
}

static void *bg_main(void *arg)
{
	pgs_bg *b = arg;
	sqlite3 *h = NULL;
	pgs_conn c;
	pgs_stats st;
	kgd_err err;
	long long seen[3] = { -2, -2, -2 }, fp[3];
	double next_try = 0;
	int connected = 0, failing = 0, backoff = PGS_BACKOFF_MIN_MS, stopping;

	memset(&c, 0, sizeof(c));
	if (sqlite3_open_v2(b->path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		sqlite3_busy_timeout(h, 2000);
	for (;;) {
		struct timespec until;

		pthread_mutex_lock(&b->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)b->poll_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!b->stop &&
		       pthread_cond_timedwait(&b->cv, &b->mu, &until) != ETIMEDOUT)
			;
		stopping = b->stop;
		pthread_mutex_unlock(&b->mu);

		fingerprint(h, fp);
		if (!stopping && failing && now_ms() < next_try)
			continue;
		if (!failing && !memcmp(fp, seen, sizeof(fp))) {
			if (stopping)
				break;
			continue;
		}
		kgd_err_clear(&err);
		memset(&st, 0, sizeof(st));
		if (!sync_on(&c, &connected, b->path, b->target, NULL, &st, &err)) {
			memcpy(seen, fp, sizeof(seen));
			snprintf(b->server_uuid, sizeof(b->server_uuid), "%s",
				 c.server_uuid);
			if (failing)
				say(b, "sync: %s answers again; caught up (%lld "
				    "parts sent)", c.label, st.runs);
			failing = 0;
			backoff = PGS_BACKOFF_MIN_MS;
		} else {
			if (connected)
				pgs_disconnect(&c);
			connected = 0;
			if (!failing)
				say(b, "sync: %s; testing goes on, the results "
				    "wait in %s and are sent when the server "
				    "answers", err.msg, b->path);
			failing = 1;
			next_try = now_ms() + backoff;
			backoff = backoff * 2 > PGS_BACKOFF_MAX_MS
					  ? PGS_BACKOFF_MAX_MS : backoff * 2;
		}
		if (stopping)
			break;
	}
	if (connected)
		pgs_disconnect(&c);
	sqlite3_close(h);
	return NULL;
}

int pgs_bg_start(const char *db_path, const char *target, int poll_ms,
		 pgs_say_fn sayfn, void *user, pgs_bg **out, kgd_err *err)
{
	pgs_bg *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	b->path = strdup(db_path);
	b->target = strdup(target);
	b->poll_ms = poll_ms > 0 ? poll_ms : 200;
	b->say = sayfn;
	b->user = user;
	if (!b->path || !b->target) {
		free(b->path);
		free(b->target);
		free(b);
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (pthread_create(&b->th, NULL, bg_main, b)) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->cv);
		free(b->path);
		free(b->target);
		free(b);
		return kgd_err_set(err, KGD_ERR_IO, "sync: cannot start the "
				   "upload thread");
	}
	*out = b;
	return KGD_OK;
}

void pgs_bg_stop(pgs_bg *b, pgs_waiting *w)
{
	kgd_err err;

	if (w)
		memset(w, 0, sizeof(*w));
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	if (w)
		pgs_up_waiting(b->path, b->server_uuid[0] ? b->server_uuid : NULL,
			       w, &err);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b->path);
	free(b->target);
	free(b);
}
