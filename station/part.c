/*
 * station/part.c - one part: setup, main and cleanup, the parallel blocks
 * of main, and the part's verdict, record and error policy.
 *
 * Parallel blocks. Each branch runs its steps in order, with the rules of
 * step.c, on a thread of its own and on a copy of the part (its own rows,
 * verdict and references; the step status table is shared, each branch
 * writing only its own steps). A failing step without `continue` ends its
 * own branch only; an instrument error stops the branches after it in
 * the file at their next point, an abort stops them all (run_stopped,
 * which says why the branches before it run on). After the block, the
 * branches are folded into the part in file order - their rows appended
 * branch after branch, so rows come in the sequence's file order whatever
 * order the branches finished in - and the first branch in the file that
 * did not pass decides the block's verdict and bin. Main stops after the
 * block when any branch ended early. KGD_NO_PARALLEL=1
 * (run_opts.no_parallel) runs the branches one after another with the
 * same rules, for comparison.
 *
 * Invariant: nothing here touches the database. The part's rows wait in
 * cx->part.rec until run_part_commit() hands them to run_commit.c; an
 * aborted part's record is dropped, so it leaves no rows.
 */
#include "run_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void run_fill_info(const run_ctx *cx, db_run_info *info)
{
	memset(info, 0, sizeof(*info));
	info->station = cx->c->name;
	info->host = cx->host;
	info->operator_name = cx->o->operator_name;
	info->lot = cx->o->lot;
	info->seq_name = cx->s->name;
	info->seq_version = cx->s->version;
	info->seq_sha256 = cx->s->sha256;
	info->seq_text = cx->s->text;
	info->product = cx->s->product;
	info->session_id = cx->sum->session_id;
	info->condition = cx->o->condition;
	if (cx->o->limits) {
		info->limits_sha256 = cx->o->limits->sha256;
		info->limits_text = cx->o->limits->text;
	}
}

/* A fresh part for info: pass so far, no rows. */
static int part_reset(run_ctx *cx, const db_run_info *info, kgd_err *err)
{
	run_part *part = &cx->part;

	part->verdict = RUN_PASS;
	part->soft_bin = seq_pass_bin(cx->s);
	part->reason[0] = '\0';
	part->measurements = 0;
	part->n_recs = 0;
	part->err_role = NULL;
	part->err_status = KGD_OK;
	free(part->status);
	part->status = calloc(seq_n_steps(cx->s) + 1, 1);
	if (!part->status)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	run_record_clear(&part->rec);
	part->rec.info = *info;
	part->rec.info.started = run_now();
	if ((info->wafer && !(part->rec.wafer = strdup(info->wafer))) ||
	    (info->serial && !(part->rec.serial = strdup(info->serial))))
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	return KGD_OK;
}

void run_part_free(run_part *p)
{
	free(p->status);
	p->status = NULL;
	free(p->recs);
	p->recs = NULL;
	p->n_recs = p->cap_recs = 0;
	run_record_free(&p->rec);
}

/* ---- parallel blocks ------------------------------------------------------ */

typedef struct branch {
	run_ctx cx;                 /* a copy of the part's, with its own part */
	size_t first, end;          /* its steps, [first, end) */
	int stop, rc;
	kgd_err err;
	pthread_t thread;
	int threaded;
} branch;

static int steps_in_order(run_ctx *cx, size_t first, size_t end, int *stop,
			  kgd_err *err)
{
	for (size_t i = first; i < end && !*stop; i++) {
		int rc = run_step(cx, i, stop, err);

		if (rc)
			return rc;
	}
	return KGD_OK;
}

static void *branch_main(void *arg)
{
	branch *b = arg;

	b->rc = steps_in_order(&b->cx, b->first, b->end, &b->stop, &b->err);
	if (b->rc || b->cx.part.verdict == RUN_ERROR) {
		int first = atomic_load(b->cx.block_stop);

		/* first = min(first, this branch) */
		while (b->cx.branch_no < first &&
		       !atomic_compare_exchange_weak(b->cx.block_stop, &first,
						     b->cx.branch_no))
			;
	}
	return NULL;
}

/* The branch starts from the part as it is: the references measured
 * before the block are visible to it; its rows start empty. */
static int branch_init(branch *b, const run_ctx *cx, atomic_int *stop_flag,
		       int branch_no)
{
	run_part *p = &b->cx.part;

	memset(b, 0, sizeof(*b));
	b->cx = *cx;
	b->cx.block_stop = stop_flag;
	b->cx.branch_no = branch_no;
	memset(p, 0, sizeof(*p));
	p->verdict = RUN_PASS;
	p->soft_bin = cx->part.soft_bin;
	p->status = cx->part.status;
	if (cx->part.n_recs) {
		p->recs = malloc(cx->part.n_recs * sizeof(*p->recs));
		if (!p->recs)
			return -1;
		memcpy(p->recs, cx->part.recs, cx->part.n_recs * sizeof(*p->recs));
		p->n_recs = p->cap_recs = cx->part.n_recs;
	}
	return 0;
}

/* Fold a finished branch into the part: rows and references appended
 * (the branch's record is emptied), measurements counted. */
static int branch_fold_rows(run_ctx *cx, branch *b, size_t n_recs_before)
{
	run_part *p = &cx->part, *q = &b->cx.part;

	for (size_t i = 0; i < q->rec.n_rows; i++) {
		run_row *r = run_record_add(&p->rec);

		if (!r)
			return -1;
		*r = q->rec.rows[i];
		q->rec.rows[i].coords = NULL;   /* now the part's */
	}
	for (size_t i = n_recs_before; i < q->n_recs; i++) {
		run_rec *r = run_part_rec_add(p);

		if (!r)
			return -1;
		*r = q->recs[i];
	}
	p->measurements += q->measurements;
	return 0;
}

/* The block's verdict (its first branch in file order that did not pass)
 * joins the part's as a step's would: it only gets worse. */
static void fold_verdict(run_part *p, const run_part *q)
{
	if (q->verdict == RUN_PASS || p->verdict == RUN_ERROR ||
	    (p->verdict == RUN_FAIL && q->verdict == RUN_FAIL))
		return;
	p->verdict = q->verdict;
	p->soft_bin = q->soft_bin;
	memcpy(p->reason, q->reason, sizeof(p->reason));
	p->err_role = q->err_role;
	p->err_status = q->err_status;
}

static int run_block(run_ctx *cx, const seq_block *blk, int *stop, kgd_err *err)
{
	size_t nb = blk->n_branches, n_recs = cx->part.n_recs;
	branch *b = calloc(nb, sizeof(*b));
	atomic_int stop_flag;
	const run_part *decider = NULL;
	int rc = KGD_OK;

	if (!b)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	atomic_init(&stop_flag, INT_MAX);
	for (size_t k = 0, i = blk->first; k < nb; k++) {
		if (branch_init(&b[k], cx, &stop_flag, (int)k)) {
			rc = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			nb = k;
			goto out;
		}
		b[k].first = i;
		while (i < blk->first + blk->n &&
		       seq_step_at(cx->s, i)->branch == (int)k)
			i++;
		b[k].end = i;
	}
	/* A thread that cannot start runs its branch here afterwards: the same
	 * rules, only slower. */
	for (size_t k = 0; k < nb && !cx->o->no_parallel; k++)
		b[k].threaded = pthread_create(&b[k].thread, NULL, branch_main,
					       &b[k]) == 0;
	for (size_t k = 0; k < nb; k++) {
		if (b[k].threaded)
			pthread_join(b[k].thread, NULL);
		else
			branch_main(&b[k]);
	}
	for (size_t k = 0; k < nb; k++) {
		if (b[k].rc && rc == KGD_OK) {
			rc = b[k].rc;
			if (err)
				*err = b[k].err;
		}
		if (branch_fold_rows(cx, &b[k], n_recs) && rc == KGD_OK)
			rc = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		if (!decider && b[k].cx.part.verdict != RUN_PASS)
			decider = &b[k].cx.part;
		if (b[k].stop)
			*stop = 1;
	}
	if (decider)
		fold_verdict(&cx->part, decider);
out:
	for (size_t k = 0; k < nb; k++) {
		b[k].cx.part.status = NULL;     /* the part's own */
		run_part_free(&b[k].cx.part);
	}
	free(b);
	return rc;
}

/* Steps [first, end) of the sequence; a parallel block counts as one. */
static int run_steps(run_ctx *cx, size_t first, size_t end, int *stop,
		     kgd_err *err)
{
	size_t i = first;

	while (i < end && !*stop) {
		const seq_step *st = seq_step_at(cx->s, i);
		int rc;

		if (st->block) {
			const seq_block *blk = &cx->s->blocks[st->block - 1];

			rc = run_block(cx, blk, stop, err);
			i = blk->first + blk->n;
		} else {
			rc = run_step(cx, i, stop, err);
			i++;
		}
		if (rc)
			return rc;
	}
	return KGD_OK;
}

/* ---- the part ------------------------------------------------------------- */

int run_part_exec(run_ctx *cx, const db_run_info *info, kgd_err *err)
{
	const seq_sequence *s = cx->s;
	int stop = 0, cleanup_stop = 0, rc, crc;
	kgd_err cerr;

	rc = part_reset(cx, info, err);
	if (rc)
		return rc;
	cx->in_cleanup = 0;
	rc = run_steps(cx, 0, s->n_setup, &stop, err);
	if (!rc)
		rc = run_steps(cx, s->n_setup, s->n_setup + s->n_main, &stop, err);
	/* An abort that came while the last instrument call was waiting: that
	 * call's outcome is not the part's. */
	if (!rc && run_aborted(cx))
		rc = kgd_err_set(err, KGD_ERR_ABORTED, "aborted");
	/* Cleanup runs whatever happened above (lasers off, outputs off), even
	 * when the part is being abandoned. Its own failure cannot make a
	 * failed part pass, but its error makes a passing part an error. */
	cx->in_cleanup = 1;
	xport_abort_suspend(1);   /* the transports wait out cleanup's replies */
	kgd_err_clear(&cerr);
	crc = run_steps(cx, s->n_setup + s->n_main, seq_n_steps(s), &cleanup_stop,
			&cerr);
	xport_abort_suspend(0);
	if (!rc && crc) {
		rc = crc;
		if (err)
			*err = cerr;
	}
	cx->in_cleanup = 0;
	if (rc) {
		run_record_clear(&cx->part.rec);
		if (rc == KGD_ERR_ABORTED)
			kgd_err_set(err, rc, "aborted; the part in flight was discarded");
	}
	return rc;
}

void run_part_untested(run_ctx *cx, const db_run_info *info,
		       const char *reason)
{
	kgd_err ignore;

	/* Out of memory here leaves the record without its part's name:
	 * db_run_begin then refuses it, and the lot stops on that. */
	part_reset(cx, info, &ignore);
	cx->part.verdict = RUN_ERROR;
	cx->part.soft_bin = RUN_BIN_ERROR;
	run_part_reason(&cx->part, "%s", reason);
}

int run_part_hard_bin(const run_ctx *cx)
{
	return seq_hard_bin(cx->s, cx->part.verdict == RUN_PASS
					   ? seq_pass_bin(cx->s) : cx->part.soft_bin);
}

static void tally(run_ctx *cx)
{
	run_summary *sum = cx->sum;

	sum->tested++;
	sum->measurements += cx->part.measurements;
	if (cx->part.verdict == RUN_PASS)
		sum->passed++;
	else if (cx->part.verdict == RUN_FAIL)
		sum->failed++;
	else
		sum->errors++;
	if (cx->part.reason[0])
		snprintf(sum->last_fail, sizeof(sum->last_fail), "%.250s",
			 cx->part.reason);
}

int run_part_commit(run_ctx *cx, kgd_err *err)
{
	run_record *r = &cx->part.rec;
	int rc;

	r->status = run_verdict_status(cx->part.verdict);
	r->hard_bin = run_part_hard_bin(cx);
	r->soft_bin = cx->part.soft_bin;
	memcpy(r->reason, cx->part.reason, sizeof(r->reason));
	if (cx->committer) {
		rc = run_commit_submit(cx, err);
	} else {
		rc = run_record_write(cx->d, r, err);
		run_record_clear(r);
	}
	if (!rc)
		tally(cx);
	return rc;
}

int run_part_policy(run_ctx *cx, kgd_err *err)
{
	const run_part *p = &cx->part;
	run_role *r = p->err_role;
	kgd_err e2;

	if (p->verdict != RUN_ERROR) {
		cx->errors_in_row = 0;
		return KGD_OK;
	}
	cx->errors_in_row++;
	if (cx->o->max_errors && cx->errors_in_row >= cx->o->max_errors)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "stopping the lot: %u part%s in a row in the error "
				   "bin (--max-errors %u); last: %s", cx->errors_in_row,
				   cx->errors_in_row == 1 ? "" : "s", cx->o->max_errors,
				   p->reason);
	/* A timeout or a bad reply leaves the connection up (drivers drop
	 * stale input after a timeout), so only a lost connection is worth a
	 * new one; without it every later part would fail the same way. */
	if (!r || (p->err_status != KGD_ERR_CLOSED && p->err_status != KGD_ERR_IO))
		return KGD_OK;
	run_progress_note(cx, "role '%s' (%s): connection lost (%s); reopening",
			  r->inst->role, r->inst->uri, kgd_status_name(p->err_status));
	kgd_err_clear(&e2);
	if (run_reopen_role(r, &e2))
		return kgd_err_set(err, e2.status ? e2.status : KGD_ERR_IO,
				   "stopping the lot: role '%s' (%s) lost its connection "
				   "and could not be reopened: %s", r->inst->role,
				   r->inst->uri, e2.msg);
	return KGD_OK;
}
