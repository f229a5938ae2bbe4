/*
 * plugins/jbert-n4903b/api.c - driver ABI entry points for the J-BERT
 * N4903 family (16 lanes by suffix on this station, SCPI over TCP).
 *
 * Invariants of a handle:
 *  - it exists only for an instrument whose *IDN? matched the model table;
 *  - rate_gbps is the rate the instrument is known to run at, or NAN when
 *    unknown (never set, or the last set failed): all lanes share it, so a
 *    per-lane configure sends it only when it changes;
 *  - measure returns only after the instrument said the gate closed, and a
 *    result is never 0 BER: zero errors is the bound 3/bits.
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kgd/driver.h"
#include "protocol.h"

/* Slack over the gate time before a gate that has not closed is a fault:
 * the instrument's own settling plus a reply's round trip. */
#define JBERT_GATE_SLACK_S 2.0
#define JBERT_GATE_MARGIN 1.5

struct jbert_handle {
	xport *x;
	const jbert_model *model;
	char idn[SCPI_REPLY_MAX];
	double rate_gbps;
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
	if (lane >= 1 && lane <= h->model->lanes)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d out of range for %s (1..%d)",
			   xport_uri(h->x), lane, h->model->model, h->model->lanes);
}

static int jbert_open(xport *x, void **handle, kgd_err *err)
{
	struct jbert_handle *h = NULL;
	int rc;

	if (!x || !handle)
		return kgd_err_set(err, KGD_ERR_ARG, "jbert-n4903b: open: no transport");
	h = calloc(1, sizeof(*h));
	if (!h)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", xport_uri(x));
	h->x = x;
	h->rate_gbps = NAN;
	rc = scpi_query(x, h->idn, sizeof(h->idn), err, "*IDN?");
	if (rc)
		goto error;
	h->model = jbert_match_idn(h->idn);
	if (!h->model) {
		rc = kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				 "%s: not a BERT this driver knows: *IDN? replied '%s' "
				 "(jbert-n4903b supports %s)", xport_uri(x), h->idn,
				 jbert_known_models());
		goto error;
	}
	/* Start from an empty error queue so the first error we report was
	 * caused by us. */
	rc = scpi_write(x, err, "%s", jbert_fmt(h->model, JBERT_CMD_CLEAR_STATUS));
	if (rc)
		goto error;
	*handle = h;
	return KGD_OK;
error:
	free(h);
	return rc;
}

static void jbert_close(void *handle)
{
	free(handle);
}

static int jbert_identify(void *handle, char *buf, size_t cap, kgd_err *err)
{
	struct jbert_handle *h = handle;

	return scpi_copy_idn(h->x, h->idn, buf, cap, err);
}

static int jbert_output(void *handle, int lane, int on, kgd_err *err)
{
	struct jbert_handle *h = handle;
	int rc = check_lane(h, lane, err);

	if (rc)
		return rc;
	return scpi_command(h->x, err, jbert_fmt(h->model, JBERT_CMD_OUTPUT), lane,
			    on ? 1 : 0);
}

/* Rate (if changed), generator and detector pattern, and the lane's output
 * on: a configured lane is ready to measure. */
static int jbert_configure(void *handle, int lane, const char *pattern,
			   double rate_gbps, kgd_err *err)
{
	struct jbert_handle *h = handle;
	const char *wire = jbert_pattern(pattern);
	int rc = check_lane(h, lane, err);

	if (rc)
		return rc;
	if (!wire)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: lane %d: pattern '%s' is not one of PRBS7, "
				   "PRBS15, PRBS23, PRBS31", xport_uri(h->x), lane,
				   pattern ? pattern : "(null)");
	if (!isfinite(rate_gbps) || rate_gbps <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d: rate %g Gb/s is not valid",
				   xport_uri(h->x), lane, rate_gbps);
	if (h->rate_gbps != rate_gbps) {
		h->rate_gbps = NAN;
		rc = scpi_command(h->x, err, jbert_fmt(h->model, JBERT_CMD_SET_RATE),
				  rate_gbps * 1e9);
		if (rc)
			return rc;
		h->rate_gbps = rate_gbps;
	}
	rc = scpi_command(h->x, err, jbert_fmt(h->model, JBERT_CMD_GEN_PATTERN), lane,
			  wire);
	if (rc == KGD_OK)
		rc = scpi_command(h->x, err, jbert_fmt(h->model, JBERT_CMD_DET_PATTERN),
				  lane, wire);
	if (rc == KGD_OK)
		rc = jbert_output(h, lane, 1, err);
	return rc;
}

/* Poll the gate until the instrument says it closed, within the gate time
 * plus margin; sleeping a slice of the gate between polls keeps the link
 * quiet while the detector counts. */
static int wait_gate(struct jbert_handle *h, int lane, double gate_s, kgd_err *err)
{
	double start = now_s();
	double limit = gate_s * JBERT_GATE_MARGIN + JBERT_GATE_SLACK_S;
	double slice = fmin(fmax(gate_s / 20, 0.005), 0.2);
	long running = 1;
	int rc;

	for (;;) {
		rc = scpi_query_long(h->x, &running, err,
				     jbert_fmt(h->model, JBERT_CMD_GATE_RUNNING), lane);
		if (rc || running == 0)
			return rc;
		if (now_s() - start > limit)
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
					   "%s: lane %d: gate of %g s still running after "
					   "%.1f s (':SENS%d:GATE:STAT?' = %ld)",
					   xport_uri(h->x), lane, gate_s, now_s() - start,
					   lane, running);
		sleep_s(slice);
	}
}

static int jbert_measure(void *handle, int lane, double gate_s,
			 drv_ber_result *res, kgd_err *err)
{
	struct jbert_handle *h = handle;
	const jbert_model *m = h->model;
	double bits = 0, errors = 0;
	long cond = 0;
	int rc = check_lane(h, lane, err);

	if (rc)
		return rc;
	if (!res || !isfinite(gate_s) || gate_s <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d: gate time %g s is not valid",
				   xport_uri(h->x), lane, gate_s);
	memset(res, 0, sizeof(*res));
	rc = scpi_command(h->x, err, jbert_fmt(m, JBERT_CMD_GATE_SINGLE), lane);
	if (rc == KGD_OK)
		rc = scpi_command(h->x, err, jbert_fmt(m, JBERT_CMD_GATE_TIME), lane, gate_s);
	if (rc == KGD_OK)
		rc = scpi_command(h->x, err, jbert_fmt(m, JBERT_CMD_GATE_START), lane);
	if (rc == KGD_OK)
		rc = wait_gate(h, lane, gate_s, err);
	if (rc == KGD_OK)
		rc = scpi_query_long(h->x, &cond, err, jbert_fmt(m, JBERT_CMD_QUES_COND), lane);
	if (rc == KGD_OK)
		rc = scpi_measure_double(h->x, &bits, err, jbert_fmt(m, JBERT_CMD_BITS), lane);
	if (rc == KGD_OK)
		rc = scpi_measure_double(h->x, &errors, err, jbert_fmt(m, JBERT_CMD_ERRORS), lane);
	if (rc)
		return rc;
	res->bits = bits;
	res->errors = errors;
	if (cond & JBERT_SYNC_LOSS_BIT) {
		res->sync_lost = 1;
		return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				   "%s: lane %d: detector lost sync during the gate "
				   "(':STAT:QUES%d:COND?' = %ld): the count is meaningless",
				   xport_uri(h->x), lane, lane, cond);
	}
	if (!(bits > 0) || errors < 0 || errors > bits)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: lane %d: %g errors in %g bits is not a count",
				   xport_uri(h->x), lane, errors, bits);
	if (errors == 0) {
		res->ber = 3.0 / bits;  /* 95 % upper bound, never 0 */
		res->ber_is_bound = 1;
	} else {
		res->ber = errors / bits;
	}
	return KGD_OK;
}

static const drv_bert_ops bert_ops = {
	.configure = jbert_configure,
	.measure = jbert_measure,
	.output = jbert_output,
};

/* The one exported symbol; plugins build with hidden visibility. */
__attribute__((visibility("default")))
const drv_descriptor kgd_driver = {
	.abi_major = DRV_ABI_MAJOR,
	.abi_minor = DRV_ABI_MINOR,
	.name = "jbert-n4903b",
	.description = "Keysight J-BERT N4903A/B, 16 lanes by suffix (SCPI over TCP)",
	.klass = DRV_CLASS_BERT,
	.open = jbert_open,
	.close = jbert_close,
	.identify = jbert_identify,
	.bert = &bert_ops,
};
