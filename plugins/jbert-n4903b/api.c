/*
 * plugins/jbert-n4903b/api.c - driver ABI entry points for the J-BERT
 * N4903 family (16 lanes by suffix on this station, SCPI over TCP).
 *
 * Invariants of a handle:
 *  - it exists only for an instrument whose *IDN? matched the model table;
 *  - rate_gbps is the rate the instrument is known to run at, or NAN when
 *    unknown (never set, or the last set failed): all lanes share it, so a
 *    per-lane configure sends it only when it changes;
 *  - measure and gate_read return only after the instrument said the gate
 *    closed, and a result is never 0 BER: zero errors is the bound 3/bits;
 *  - armed[lane] is set only while a gate this handle started on the
 *    lane is unread: a count is read once per gate, never an old one;
 *  - one gate_start is one program message of starts, so the lanes' gates
 *    start together (measure is the same path with one lane).
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kgd/drv_std.h"
#include "protocol.h"

/* Slack over the gate time before a gate that has not closed is a fault:
 * the instrument's own settling plus a reply's round trip. */
#define JBERT_GATE_SLACK_S 2.0
#define JBERT_GATE_MARGIN 1.5

struct jbert_handle {
	drv_std_dev dev;            /* first: transport, *IDN?, matched row */
	const jbert_model *model;   /* dev.model as this driver's row */
	double rate_gbps;
	/* Per lane (index = lane), the gate arm_gates started and nobody read
	 * yet: whether there is one, when it started (monotonic s), its time. */
	int armed[JBERT_MAX_LANES + 1];
	double armed_at[JBERT_MAX_LANES + 1];
	double armed_gate_s[JBERT_MAX_LANES + 1];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};

	nanosleep(&ts, NULL);
}

static int check_lane(const struct jbert_handle *h, int lane, kgd_err *err)
{
	if (lane >= 1 && lane <= h->model->lanes && lane <= JBERT_MAX_LANES)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d out of range for %s (1..%d)",
			   xport_uri(h->dev.x), lane, h->model->id.model, h->model->lanes);
}

/* Every lane valid and listed once: a lane twice in one gate would be
 * started twice and read once. */
static int check_lanes(const struct jbert_handle *h, const int *lanes, size_t n,
		       kgd_err *err)
{
	int seen[JBERT_MAX_LANES + 1] = {0};

	if (!lanes || n == 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: no lanes given",
				   xport_uri(h->dev.x));
	for (size_t i = 0; i < n; i++) {
		int rc = check_lane(h, lanes[i], err);

		if (rc)
			return rc;
		if (seen[lanes[i]]++)
			return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d listed twice",
					   xport_uri(h->dev.x), lanes[i]);
	}
	return KGD_OK;
}

/* "lane 3" or "lanes 1,2,3" for messages about a call's lanes. */
static const char *lanes_text(const int *lanes, size_t n, char *buf, size_t cap)
{
	size_t used = (size_t)snprintf(buf, cap, "lane%s ", n > 1 ? "s" : "");

	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%d", i ? "," : "",
					 lanes[i]);
	return buf;
}

/* The arguments of a call that reports one lane's gate. */
static int check_gate(const struct jbert_handle *h, int lane, double gate_s,
		      const drv_ber_result *res, kgd_err *err)
{
	int rc = check_lane(h, lane, err);

	if (rc)
		return rc;
	if (!isfinite(gate_s) || gate_s <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d: gate time %g s is not valid",
				   xport_uri(h->dev.x), lane, gate_s);
	if (!res)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d: no result to fill",
				   xport_uri(h->dev.x), lane);
	return KGD_OK;
}

/* After the match and *CLS: the shared rate is not known yet. */
static int jbert_setup(void *handle, kgd_err *err)
{
	struct jbert_handle *h = handle;

	(void)err;
	h->model = (const jbert_model *)h->dev.model;
	h->rate_gbps = NAN;
	return KGD_OK;
}

static int jbert_output_op(void *handle, int lane, int on, kgd_err *err)
{
	struct jbert_handle *h = handle;
	int rc = check_lane(h, lane, err);

	if (rc)
		return rc;
	return jbert_output(h->dev.x, h->model, lane, on, err);
}

/* Rate (if changed), then each lane's generator and detector pattern and
 * output on, in as few checked messages as fit: a configured lane is ready
 * to measure. A rate not confirmed by a clean error queue is forgotten, so
 * the next configure sends it again. */
static int jbert_configure_lanes(void *handle, const int *lanes, size_t n,
				 const char *pattern, double rate_gbps, kgd_err *err)
{
	struct jbert_handle *h = handle;
	const jbert_model *m = h->model;
	const char *wire = jbert_pattern(pattern);
	int new_rate, rc = check_lanes(h, lanes, n, err);
	char which[128];
	xport *x = h->dev.x;
	scpi_msg msg;

	if (rc)
		return rc;
	if (!wire)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: %s: pattern '%s' is not one of PRBS7, "
				   "PRBS15, PRBS23, PRBS31", xport_uri(x),
				   lanes_text(lanes, n, which, sizeof(which)),
				   pattern ? pattern : "(null)");
	if (!isfinite(rate_gbps) || rate_gbps <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: %s: rate %g Gb/s is not valid",
				   xport_uri(x),
				   lanes_text(lanes, n, which, sizeof(which)), rate_gbps);
	scpi_msg_init(&msg);
	new_rate = h->rate_gbps != rate_gbps;
	if (new_rate) {
		h->rate_gbps = NAN;
		rc = jbert_msg_queue(x, m, &msg, err, JBERT_CMD_SET_RATE, rate_gbps * 1e9);
	}
	for (size_t i = 0; i < n && rc == KGD_OK; i++) {
		rc = jbert_msg_queue(x, m, &msg, err, JBERT_CMD_GEN_PATTERN, lanes[i], wire);
		if (rc == KGD_OK)
			rc = jbert_msg_queue(x, m, &msg, err, JBERT_CMD_DET_PATTERN, lanes[i],
					     wire);
		if (rc == KGD_OK)
			rc = jbert_msg_queue(x, m, &msg, err, JBERT_CMD_OUTPUT, lanes[i], 1);
	}
	if (rc == KGD_OK)
		rc = scpi_msg_command(x, &msg, err);
	if (rc == KGD_OK && new_rate)
		h->rate_gbps = rate_gbps;
	return rc;
}

static int jbert_configure(void *handle, int lane, const char *pattern,
			   double rate_gbps, kgd_err *err)
{
	return jbert_configure_lanes(handle, &lane, 1, pattern, rate_gbps, err);
}

/* Arm a single gate of gate_s on every lane, mode and time first (checked,
 * so no gate runs with a time another call left), then every start in ONE
 * program message: the instrument parses it as one unit and starts the
 * gates together. Records each lane's gate for collect(). */
static int arm_gates(struct jbert_handle *h, const int *lanes, size_t n,
		     double gate_s, kgd_err *err)
{
	const jbert_model *m = h->model;
	xport *x = h->dev.x;
	scpi_msg msg;
	double t;
	int rc = KGD_OK;

	/* A new gate replaces one nobody read. */
	for (size_t i = 0; i < n; i++)
		h->armed[lanes[i]] = 0;
	scpi_msg_init(&msg);
	for (size_t i = 0; i < n && rc == KGD_OK; i++) {
		rc = jbert_msg_queue(x, m, &msg, err, JBERT_CMD_GATE_SINGLE, lanes[i]);
		if (rc == KGD_OK)
			rc = jbert_msg_queue(x, m, &msg, err, JBERT_CMD_GATE_TIME, lanes[i],
					     gate_s);
	}
	if (rc == KGD_OK)
		rc = scpi_msg_command(x, &msg, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (jbert_msg_add(&msg, m, JBERT_CMD_GATE_START, lanes[i]))
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: %zu lanes do not fit one start message",
					   xport_uri(x), n);
	rc = scpi_msg_command(x, &msg, err);
	if (rc)
		return rc;
	/* Taken once the starts were sent and checked: the gates started no
	 * later, so a deadline counted from here never cuts one short. */
	t = now_s();
	for (size_t i = 0; i < n; i++) {
		h->armed[lanes[i]] = 1;
		h->armed_at[lanes[i]] = t;
		h->armed_gate_s[lanes[i]] = gate_s;
	}
	return KGD_OK;
}

/* Poll the gate until the instrument says it closed, within the gate time
 * plus margin counted from the gate's start (gates of one start close
 * together, whichever lane is read first); sleeping a slice of the gate
 * between polls keeps the link quiet while the detector counts. */
static int wait_gate(struct jbert_handle *h, int lane, double gate_s, double since,
		     kgd_err *err)
{
	double limit = gate_s * JBERT_GATE_MARGIN + JBERT_GATE_SLACK_S;
	double slice = fmin(fmax(gate_s / 20, 0.005), 0.2);
	long running = 1;
	int rc;

	for (;;) {
		rc = jbert_gate_running(h->dev.x, h->model, lane, &running, err);
		if (rc || running == 0)
			return rc;
		if (now_s() - since > limit)
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
					   "%s: lane %d: gate of %g s still running after "
					   "%.1f s (':SENS%d:GATE:STAT?' = %ld)",
					   xport_uri(h->dev.x), lane, gate_s, now_s() - since,
					   lane, running);
		/* Each poll is a quick exchange the transport lets through after
		 * an abort; the wait between them is ours to cut. */
		if (xport_abort_pending())
			return kgd_err_set(err, KGD_ERR_ABORTED,
					   "%s: lane %d: aborted during the gate",
					   xport_uri(h->dev.x), lane);
		sleep_s(slice);
	}
}

/* The counts of the lane's closed gate, checked once for measure and
 * gate_read alike: sync loss is an instrument error with sync_lost set, a
 * count that is not a count a protocol error, zero errors the bound. */
static int read_counts(struct jbert_handle *h, int lane, drv_ber_result *res,
		       kgd_err *err)
{
	double bits = 0, errors = 0;
	long cond = 0;
	int rc = jbert_read_counts(h->dev.x, h->model, lane, &cond, &bits, &errors,
				   err);

	if (rc)
		return rc;
	res->bits = bits;
	res->errors = errors;
	if (cond & JBERT_SYNC_LOSS_BIT) {
		res->sync_lost = 1;
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "%s: lane %d: detector lost sync during the gate "
				   "(':STAT:QUES%d:COND?' = %ld): the count is meaningless",
				   xport_uri(h->dev.x), lane, lane, cond);
	}
	if (!(bits > 0) || errors < 0 || errors > bits)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: lane %d: %g errors in %g bits is not a count",
				   xport_uri(h->dev.x), lane, errors, bits);
	if (errors == 0) {
		res->ber = 3.0 / bits;  /* 95 % upper bound, never 0 */
		res->ber_is_bound = 1;
	} else {
		res->ber = errors / bits;
	}
	return KGD_OK;
}

/* Wait for the lane's armed gate and read it; the gate is consumed either
 * way, so a count is never read twice. */
static int collect(struct jbert_handle *h, int lane, drv_ber_result *res,
		   kgd_err *err)
{
	double since = h->armed_at[lane], gate_s = h->armed_gate_s[lane];
	int rc;

	h->armed[lane] = 0;
	rc = wait_gate(h, lane, gate_s, since, err);
	return rc ? rc : read_counts(h, lane, res, err);
}

static int jbert_measure(void *handle, int lane, double gate_s,
			 drv_ber_result *res, kgd_err *err)
{
	struct jbert_handle *h = handle;
	int rc = check_gate(h, lane, gate_s, res, err);

	if (rc)
		return rc;
	memset(res, 0, sizeof(*res));
	rc = arm_gates(h, &lane, 1, gate_s, err);
	return rc ? rc : collect(h, lane, res, err);
}

static int jbert_gate_start(void *handle, const int *lanes, size_t n, double gate_s,
			    kgd_err *err)
{
	struct jbert_handle *h = handle;
	int rc = check_lanes(h, lanes, n, err);
	char which[128];

	if (rc)
		return rc;
	if (!isfinite(gate_s) || gate_s <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: %s: gate time %g s is not valid",
				   xport_uri(h->dev.x), lanes_text(lanes, n, which, sizeof(which)),
				   gate_s);
	return arm_gates(h, lanes, n, gate_s, err);
}

static int jbert_gate_read(void *handle, int lane, double gate_s, drv_ber_result *res,
			   kgd_err *err)
{
	struct jbert_handle *h = handle;
	int rc = check_gate(h, lane, gate_s, res, err);

	if (rc)
		return rc;
	memset(res, 0, sizeof(*res));
	if (!h->armed[lane])
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: lane %d: no gate started on this lane since "
				   "its last read (gate_start first)", xport_uri(h->dev.x), lane);
	if (gate_s != h->armed_gate_s[lane])
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: lane %d: read as a gate of %g s, but gate_start "
				   "armed %g s", xport_uri(h->dev.x), lane, gate_s,
				   h->armed_gate_s[lane]);
	return collect(h, lane, res, err);
}

static const drv_bert_ops bert_ops = {
	.configure = jbert_configure,
	.measure = jbert_measure,
	.output = jbert_output_op,
	.configure_lanes = jbert_configure_lanes,
	.gate_start = jbert_gate_start,
	.gate_read = jbert_gate_read,
};

DRV_STD_SCPI_DRIVER(&jbert_info, struct jbert_handle, jbert_setup,
		    .name = JBERT_DRIVER, .klass = DRV_CLASS_BERT, .bert = &bert_ops,
		    .description = "Keysight J-BERT N4903A/B, 16 lanes by suffix "
				   "(SCPI over TCP)");

/* For `station run --dry-run` (kgd/driver.h, optional): LAN SCPI, ~20 ms an exchange; reading the counts ~20 ms after the gate; lanes: as fitted. */
__attribute__((visibility("default")))
const drv_timing kgd_driver_timing = {0.02, 0.02, 0};
