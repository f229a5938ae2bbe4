/*
 * tests/plugins/bert-v10/api.c - a BERT driver as it was built for driver
 * ABI 1.0: abi_minor 0, and an operation table laid out as 1.0 defined it
 * (configure, measure, output; nothing after). The station must drive it
 * lane by lane and never read a 1.1 slot from it: such a read runs past
 * the end of `ops` below, which AddressSanitizer reports in the sanitized
 * build. It speaks the J-BERT command set (jbert-n4903b's protocol table
 * and wire functions, opened by kgd/drv_std.h as jbert-n4903b is) one
 * checked command at a time, so it runs against kgd-vstation's BERT.
 *
 * Invariant: a result is reported only after the instrument said the gate
 * closed; zero errors is the bound 3/bits, sync loss an instrument error.
 * The transport belongs to the station.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kgd/drv_std.h"
#include "protocol.h"

struct v10 {
	drv_std_dev dev;            /* first: transport, *IDN?, matched row */
	const jbert_model *model;   /* dev.model as jbert's row */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int v10_setup(void *handle, kgd_err *err)
{
	struct v10 *h = handle;

	(void)err;
	h->model = (const jbert_model *)h->dev.model;
	return KGD_OK;
}

static int v10_open(xport *x, void **handle, kgd_err *err)
{
	return drv_std_scpi_open(&jbert_info, sizeof(struct v10), v10_setup, x,
				 handle, err);
}

static int v10_lane(const struct v10 *h, int lane, kgd_err *err)
{
	if (lane >= 1 && lane <= h->model->lanes)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d out of range (1..%d)",
			   xport_uri(h->dev.x), lane, h->model->lanes);
}

static int v10_output(void *handle, int lane, int on, kgd_err *err)
{
	struct v10 *h = handle;
	int rc = v10_lane(h, lane, err);

	return rc ? rc : jbert_output(h->dev.x, h->model, lane, on, err);
}

static int v10_configure(void *handle, int lane, const char *pattern, double rate_gbps,
			 kgd_err *err)
{
	struct v10 *h = handle;
	const char *wire = jbert_pattern(pattern);
	int rc = v10_lane(h, lane, err);

	if (rc == KGD_OK && (!wire || !(rate_gbps > 0)))
		rc = kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d: bad pattern or rate",
				 xport_uri(h->dev.x), lane);
	if (rc == KGD_OK)
		rc = scpi_command(h->dev.x, err, jbert_fmt(h->model, JBERT_CMD_SET_RATE),
				  rate_gbps * 1e9);
	if (rc == KGD_OK)
		rc = scpi_command(h->dev.x, err, jbert_fmt(h->model, JBERT_CMD_GEN_PATTERN),
				  lane, wire);
	if (rc == KGD_OK)
		rc = scpi_command(h->dev.x, err, jbert_fmt(h->model, JBERT_CMD_DET_PATTERN),
				  lane, wire);
	return rc ? rc : v10_output(h, lane, 1, err);
}

static int v10_measure(void *handle, int lane, double gate_s, drv_ber_result *res,
		       kgd_err *err)
{
	struct v10 *h = handle;
	const jbert_model *m = h->model;
	double start, bits = 0, errors = 0;
	long running = 1, cond = 0;
	int rc = v10_lane(h, lane, err);

	if (rc == KGD_OK && (!res || !(gate_s > 0)))
		rc = kgd_err_set(err, KGD_ERR_ARG, "%s: lane %d: bad gate", xport_uri(h->dev.x),
				 lane);
	if (rc)
		return rc;
	memset(res, 0, sizeof(*res));
	rc = scpi_command(h->dev.x, err, jbert_fmt(m, JBERT_CMD_GATE_SINGLE), lane);
	if (rc == KGD_OK)
		rc = scpi_command(h->dev.x, err, jbert_fmt(m, JBERT_CMD_GATE_TIME), lane, gate_s);
	if (rc == KGD_OK)
		rc = scpi_command(h->dev.x, err, jbert_fmt(m, JBERT_CMD_GATE_START), lane);
	start = now_s();
	while (rc == KGD_OK && running) {
		struct timespec slice = {0, 5000000};

		rc = jbert_gate_running(h->dev.x, m, lane, &running, err);
		if (rc == KGD_OK && running && now_s() - start > gate_s * 1.5 + 2)
			rc = kgd_err_set(err, KGD_ERR_TIMEOUT, "%s: lane %d: gate still running",
					 xport_uri(h->dev.x), lane);
		if (rc == KGD_OK && running)
			nanosleep(&slice, NULL);
	}
	if (rc == KGD_OK)
		rc = jbert_read_counts(h->dev.x, m, lane, &cond, &bits, &errors, err);
	if (rc)
		return rc;
	res->bits = bits;
	res->errors = errors;
	if (cond & JBERT_SYNC_LOSS_BIT) {
		res->sync_lost = 1;
		return kgd_err_set(err, KGD_ERR_INSTRUMENT, "%s: lane %d: detector lost sync",
				   xport_uri(h->dev.x), lane);
	}
	if (!(bits > 0) || errors < 0 || errors > bits)
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: lane %d: %g errors in %g bits",
				   xport_uri(h->dev.x), lane, errors, bits);
	res->ber_is_bound = errors == 0;
	res->ber = errors == 0 ? 3.0 / bits : errors / bits;
	return KGD_OK;
}

/* The 1.0 drv_bert_ops, field for field; the station sees it through a
 * cast, as it sees the table of any driver built before 1.1. */
struct bert_ops_v10 {
	int (*configure)(void *h, int lane, const char *pattern, double rate_gbps,
			 kgd_err *err);
	int (*measure)(void *h, int lane, double gate_s, drv_ber_result *res,
		       kgd_err *err);
	int (*output)(void *h, int lane, int on, kgd_err *err);
};

static const struct bert_ops_v10 ops = {
	.configure = v10_configure,
	.measure = v10_measure,
	.output = v10_output,
};

__attribute__((visibility("default")))
const drv_descriptor kgd_driver = {
	.abi_major = DRV_ABI_MAJOR,
	.abi_minor = 0,  /* built before 1.1: three BERT operations */
	.name = "bert-v10",
	.description = "J-BERT command set through a driver ABI 1.0 table (test)",
	.klass = DRV_CLASS_BERT,
	.open = v10_open,
	.close = drv_std_close,
	.identify = drv_std_identify,
	.bert = (const drv_bert_ops *)(const void *)&ops,
};
