/*
 * station/ops_bert.c - BERT operations of the sequencer: configure a lane
 * (pattern, rate, output) and measure its bit-error ratio over a gate.
 * Defaults: PRBS31 at 32 Gb/s, 1 s gate.
 */
#include "run_int.h"

static int configure_lane(run_call *c, int lane, kgd_err *err)
{
	const drv_bert_ops *b = c->r->plugin->desc->bert;
	int rc;

	rc = b->configure(c->r->h, lane, run_param_str(c->st, "pattern", "PRBS31"),
			  run_param_num(c->st, "rate_gbps", 32.0), err);
	if (rc)
		return rc;
	if (seq_step_param(c->st, "output")) {
		if (!b->output)
			return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				"driver '%s' cannot switch the generator output",
				c->r->plugin->desc->name);
		rc = b->output(c->r->h, lane, run_param_bool(c->st, "output", 1), err);
	}
	return rc;
}

static int lane_of(const run_call *c)
{
	double lane = 1;

	run_point_get(c->pt, "lane", &lane);
	return (int)lane;
}

int run_op_bert_configure(run_call *c, kgd_err *err)
{
	return configure_lane(c, lane_of(c), err);
}

/* Sync loss comes back from the driver as KGD_ERR_INSTRUMENT: an error,
 * never a number. With zero errors the driver's ber is the bound 3/bits;
 * the logged errors value (0) flags it. */
int run_op_bert_ber(run_call *c, kgd_err *err)
{
	drv_ber_result res = {0};
	int lane = lane_of(c), rc;

	rc = configure_lane(c, lane, err);
	if (rc)
		return rc;
	rc = c->r->plugin->desc->bert->measure(c->r->h, lane,
					       run_param_num(c->st, "gate_s", 1.0),
					       &res, err);
	if (rc)
		return rc;
	if (res.sync_lost)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT, "lane %d lost pattern sync",
				   lane);
	c->v[0] = res.ber;
	c->v[1] = res.errors;
	return KGD_OK;
}

/* ---- all lanes in one gate ------------------------------------------------ */

/* A BERT of ABI 1.1 that offers the multi-lane gate; a 1.0 plugin (its
 * table ends before those slots) gates lane by lane. */
int run_can_batch_bert(const run_role *r)
{
	return drv_plugin_bert_multilane(r->plugin);
}

/* Configure every lane, start one gate on all of them, then read each
 * lane's counts when its gate has closed. A lane that lost sync or erred is that lane's
 * error, exactly as lane by lane. */
int run_batch_bert_ber(run_call *calls, size_t n, kgd_err *err)
{
	const run_role *r = calls[0].r;
	const drv_bert_ops *b = r->plugin->desc->bert;
	const seq_step *st = calls[0].st;
	double gate_s = run_param_num(st, "gate_s", 1.0);
	int lanes[RUN_MAX_BATCH];
	kgd_err e;
	int rc;

	for (size_t i = 0; i < n; i++)
		lanes[i] = lane_of(&calls[i]);
	kgd_err_clear(&e);
	rc = b->configure_lanes(r->h, lanes, n, run_param_str(st, "pattern", "PRBS31"),
				run_param_num(st, "rate_gbps", 32.0), &e);
	if (rc == KGD_OK)
		rc = b->gate_start(r->h, lanes, n, gate_s, &e);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			calls[i].rc = rc;
			calls[i].ierr = e;
		}
		return KGD_OK;
	}
	/* The driver's gate_read waits for the instrument to say the gate
	 * closed (which also follows a simulator's time scale); between
	 * lanes, a stop is seen at once. */
	for (size_t i = 0; i < n; i++) {
		drv_ber_result res = {0};

		if (run_stopped(calls[0].cx))
			return kgd_err_set(err, KGD_ERR_ABORTED,
					   "aborted while gating lanes");

		kgd_err_clear(&calls[i].ierr);
		calls[i].rc = b->gate_read(r->h, lanes[i], gate_s, &res,
					   &calls[i].ierr);
		if (calls[i].rc == KGD_OK && res.sync_lost)
			calls[i].rc = kgd_err_set(&calls[i].ierr, KGD_ERR_INSTRUMENT,
						  "lane %d lost pattern sync", lanes[i]);
		calls[i].v[0] = res.ber;
		calls[i].v[1] = res.errors;
	}
	return KGD_OK;
}
