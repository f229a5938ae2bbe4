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
