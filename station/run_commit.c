/*
 * station/run_commit.c - the overlap of a part's commit with the prober's
 * move to the next die: a committer thread that runs db_run_commit() for
 * the part just binned while the station steps the prober on.
 *
 * Handoff, not sharing: the db handle is used by one thread at a time
 * (db.h). run_part_commit() hands the open run to the committer and the
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
 */
#include "run_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum commit_state { C_IDLE, C_QUEUED, C_DONE, C_QUIT };

struct run_committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum commit_state state;
	/* the job, written by the station thread before C_QUEUED */
	db *d;
	int64_t run_id;
	const char *status;
	int hard_bin, soft_bin;
	char reason[KGD_ERR_MSG_MAX];
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
		c->rc = db_run_commit(c->d, c->run_id, c->status, c->hard_bin,
				      c->soft_bin, c->reason[0] ? c->reason : NULL,
				      &c->err);
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
	const run_part *p = &cx->part;
	int rc = run_part_sync(cx, err);   /* never two in flight */

	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	c->d = cx->d;
	c->run_id = cx->run_id;
	c->status = run_verdict_status(p->verdict);
	c->hard_bin = run_part_hard_bin(cx);
	c->soft_bin = p->soft_bin;
	memcpy(c->reason, p->reason, sizeof(c->reason));
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
	free(c);
	cx->committer = NULL;
}
