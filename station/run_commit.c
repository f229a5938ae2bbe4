/*
 * station/run_commit.c - the commit sink: a finished part's record (its
 * run, rows and verdict) written in one transaction, and the overlap of
 * that write with the prober's move to the next die - a committer thread
 * that writes the part just binned while the station steps the prober on.
 *
 * The record is built in memory while the part is measured (part.c,
 * step.c) and only written here, so the write lock is held for the
 * commit alone, never for a measurement, and a part that does not finish
 * leaves nothing.
 *
 * Handoff, not sharing: the db handle is used by one thread at a time
 * (db.h). run_commit_submit() hands the record to the committer and the
 * station thread does not touch the handle again until run_part_sync()
 * has seen that commit finish - the process model calls it before the
 * next contact (or resume lookup), and run_lot() before ending the
 * session. The mutex makes everything the station thread wrote before
 * the handoff visible to the committer and back.
 *
 * What a crash can lose: the part whose commit is in flight, which the
 * prober has already binned - exactly one die, the die in flight, as
 * without the overlap (its commit came after binning there too). The next
 * die is not contacted until that commit is known, so at no moment are two
 * dies' results uncommitted; --resume tests the lost die again because the
 * database, not the prober map, is the record of truth.
 *
 * A commit that fails stops the lot at the next sync point with the
 * database's message; the part, already counted in the summary, is
 * counted out again.
 *
 * This file calls only db/ and the C library: it is a sink.
 */
#include "run_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- the record ---------------------------------------------------------- */

run_row *run_record_add(run_record *r)
{
	if (r->n_rows == r->cap_rows) {
		size_t cap = r->cap_rows ? 2 * r->cap_rows : 256;
		run_row *grown = realloc(r->rows, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		r->rows = grown;
		r->cap_rows = cap;
	}
	memset(&r->rows[r->n_rows], 0, sizeof(r->rows[0]));
	return &r->rows[r->n_rows++];
}

void run_record_clear(run_record *r)
{
	for (size_t i = 0; i < r->n_rows; i++)
		free(r->rows[i].coords);
	r->n_rows = 0;
	free(r->wafer);
	free(r->serial);
	r->wafer = r->serial = NULL;
}

void run_record_free(run_record *r)
{
	run_record_clear(r);
	free(r->rows);
	r->rows = NULL;
	r->cap_rows = 0;
}

int run_record_write(db *d, const run_record *r, kgd_err *err)
{
	db_run_info info = r->info;
	int64_t run_id;
	int rc;

	/* The part's own copies: the process model's buffers move on. */
	info.wafer = r->wafer;
	info.serial = r->serial;
	rc = db_run_begin(d, &info, &run_id, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->n_rows && rc == KGD_OK; i++) {
		const run_row *w = &r->rows[i];

		if (w->is_step) {
			rc = db_step_result_add_timed(d, run_id, w->step, w->status,
						      w->bin, w->n_values, w->started,
						      w->ended, err);
		} else {
			db_measurement m = {0};

			m.step = w->step;
			m.name = w->name;
			m.coords = w->coords;
			m.value = w->value;
			m.value_valid = w->value_valid;
			m.unit = w->unit;
			m.low = w->low;
			m.high = w->high;
			m.has_low = w->has_low;
			m.has_high = w->has_high;
			m.pass = w->pass;
			rc = db_measurement_add(d, run_id, &m, err);
		}
	}
	if (rc == KGD_OK)
		rc = db_run_commit(d, run_id, r->status, r->hard_bin, r->soft_bin,
				   r->reason[0] ? r->reason : NULL, err);
	if (rc)
		db_run_rollback(d);
	return rc;
}

/* ---- the committer thread -------------------------------------------------- */

enum commit_state { C_IDLE, C_QUEUED, C_DONE, C_QUIT };

struct run_committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum commit_state state;
	/* the job, written by the station thread before C_QUEUED */
	db *d;
	run_record job;
	enum run_verdict verdict;     /* to count the part out on failure */
	size_t measurements;
	/* the outcome, written by the committer before C_DONE */
	int rc;
	kgd_err err;
};

static void *committer_main(void *arg)
{
	run_committer *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->state != C_QUEUED && c->state != C_QUIT)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->state == C_QUIT)
			break;
		pthread_mutex_unlock(&c->mu);
		kgd_err_clear(&c->err);
		c->rc = run_record_write(c->d, &c->job, &c->err);
		run_record_clear(&c->job);
		pthread_mutex_lock(&c->mu);
		c->state = C_DONE;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int run_commit_open(run_ctx *cx, kgd_err *err)
{
	run_committer *c = calloc(1, sizeof(*c));

	if (!c)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&c->mu, NULL))
		goto fail_mutex;
	if (pthread_cond_init(&c->cv, NULL))
		goto fail_cond;
	if (pthread_create(&c->thread, NULL, committer_main, c))
		goto fail_thread;
	cx->committer = c;
	return KGD_OK;
fail_thread:
	pthread_cond_destroy(&c->cv);
fail_cond:
	pthread_mutex_destroy(&c->mu);
fail_mutex:
	free(c);
	return kgd_err_set(err, KGD_ERR_NOMEM, "cannot start the commit thread");
}

int run_commit_submit(run_ctx *cx, kgd_err *err)
{
	run_committer *c = cx->committer;
	run_part *p = &cx->part;
	int rc = run_part_sync(cx, err);   /* never two in flight */

	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	c->d = cx->d;
	/* Swap, not copy: the part gets the committer's emptied record (and
	 * its memory) back for the next part. */
	{
		run_record done = c->job;

		c->job = p->rec;
		p->rec = done;
	}
	c->verdict = p->verdict;
	c->measurements = p->measurements;
	c->state = C_QUEUED;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return KGD_OK;
}

int run_part_sync(run_ctx *cx, kgd_err *err)
{
	run_committer *c = cx->committer;
	run_summary *sum = cx->sum;
	int rc = KGD_OK;

	if (!c)
		return KGD_OK;
	pthread_mutex_lock(&c->mu);
	while (c->state == C_QUEUED)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->state == C_DONE) {
		c->state = C_IDLE;
		rc = c->rc;
		if (rc) {
			if (err)
				*err = c->err;
			/* Counted when handed off; it is not stored. */
			sum->tested--;
			sum->measurements -= c->measurements;
			if (c->verdict == RUN_PASS)
				sum->passed--;
			else if (c->verdict == RUN_FAIL)
				sum->failed--;
			else
				sum->errors--;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void run_commit_close(run_ctx *cx)
{
	run_committer *c = cx->committer;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	while (c->state == C_QUEUED)
		pthread_cond_wait(&c->cv, &c->mu);
	c->state = C_QUIT;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	run_record_free(&c->job);
	free(c);
	cx->committer = NULL;
}
