/*
 * plugins/keithley-24xx/api.c - driver ABI entry points (ABI 1.2, class
 * smu) for Keithley 2400-series SourceMeters.
 *
 * Invariants of a handle:
 *  - it exists only for a SourceMeter whose *IDN? matched the model table,
 *    set up once at open (2400: :FORM:ELEM VOLT,CURR, so :READ? answers
 *    volts then amps);
 *  - sourcing says what is sourced (current or voltage), so a reading's
 *    two numbers are put the right way round; 0 until a level was set;
 *    output_on says whether a reading can be taken at all, so a measure
 *    with the output off is refused here instead of waiting out a
 *    timeout on a :READ? the instrument will not answer;
 *  - a level or a limit beyond the model's ranges is refused before any
 *    byte goes out, so the instrument is never left half set.
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>

#include "kgd/drv_std.h"
#include "protocol.h"

struct k24_handle {
	drv_std_dev dev;          /* first: transport, *IDN?, matched row */
	const k24_model *model;
	int sourcing;             /* 0 none yet, 1 current, 2 voltage */
	int output_on;            /* 1 after a source call, 0 after output off:
	                             a 2400 with its output off has no reading
	                             to give (error 803) */
};

static int k24_setup_op(void *handle, kgd_err *err)
{
	struct k24_handle *h = handle;

	h->model = (const k24_model *)h->dev.model;
	return k24_setup(h->dev.x, h->model, err);
}

static int check(const struct k24_handle *h, const char *what, double v,
		 double max, const char *unit, kgd_err *err)
{
	if (isfinite(v) && fabs(v) <= max)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: %s %g %s is outside the %s's "
			   "range (+-%g %s)", xport_uri(h->dev.x), what, v, unit,
			   h->model->id.model, max, unit);
}

/* The compliance limit of a current source is a voltage, of a voltage
 * source a current: within the model's range and above zero. */
static int check_limit(const struct k24_handle *h, int current, double limit,
		       kgd_err *err)
{
	const k24_model *m = h->model;
	int rc = check(h, current ? "voltage limit" : "current limit", limit,
		       current ? m->v_max : m->i_max, current ? "V" : "A", err);

	if (rc == KGD_OK && !(limit > 0))
		rc = kgd_err_set(err, KGD_ERR_ARG, "%s: compliance limit %g must be "
				 "positive", xport_uri(h->dev.x), limit);
	return rc;
}

static int source(struct k24_handle *h, int current, double level,
		  double limit, kgd_err *err)
{
	const k24_model *m = h->model;
	int rc = check(h, current ? "current" : "voltage", level,
		       current ? m->i_max : m->v_max, current ? "A" : "V", err);

	if (rc == KGD_OK)
		rc = check_limit(h, current, limit, err);
	if (rc)
		return rc;
	h->sourcing = 0;
	rc = k24_source(h->dev.x, m, current, level, limit, err);
	if (rc == KGD_OK)
		rc = k24_output(h->dev.x, m, 1, err);
	if (rc == KGD_OK) {
		h->sourcing = current ? 1 : 2;
		h->output_on = 1;
	}
	return rc;
}

static int k24_source_current_op(void *handle, double amps, double v_limit,
				 kgd_err *err)
{
	return source(handle, 1, amps, v_limit, err);
}

static int k24_source_voltage_op(void *handle, double volts, double i_limit,
				 kgd_err *err)
{
	return source(handle, 0, volts, i_limit, err);
}

static int k24_measure_op(void *handle, double *volts, double *amps,
			  kgd_err *err)
{
	struct k24_handle *h = handle;

	if (!h->sourcing)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: measure: nothing is "
				   "sourced yet (source_current or source_voltage "
				   "first)", xport_uri(h->dev.x));
	if (!h->output_on)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: measure: the output is off "
				   "(source again first)", xport_uri(h->dev.x));
	return k24_read(h->dev.x, h->model, h->sourcing == 1, volts, amps, err);
}

static int k24_output_op(void *handle, int on, kgd_err *err)
{
	struct k24_handle *h = handle;
	int rc = k24_output(h->dev.x, h->model, on, err);

	/* Unknown after a failed switch: assume off (no reading). */
	h->output_on = rc == KGD_OK && on && h->sourcing;
	return rc;
}

static int k24_sweep_op(void *handle, int current, double start, double stop,
			size_t n, double limit, double *volts, double *amps,
			kgd_err *err)
{
	struct k24_handle *h = handle;
	const k24_model *m = h->model;
	double max = current ? m->i_max : m->v_max;
	int rc;

	if (n < 2 || n > DRV_SMU_SWEEP_MAX)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: sweep of %zu points: 2..%d "
				   "allowed", xport_uri(h->dev.x), n, DRV_SMU_SWEEP_MAX);
	rc = check(h, current ? "sweep start current" : "sweep start voltage", start,
		   max, current ? "A" : "V", err);
	if (rc == KGD_OK)
		rc = check(h, current ? "sweep stop current" : "sweep stop voltage", stop,
			   max, current ? "A" : "V", err);
	if (rc == KGD_OK)
		rc = check_limit(h, current, limit, err);
	if (rc)
		return rc;
	/* The sweep leaves the output off and nothing sourced to read. */
	h->sourcing = 0;
	h->output_on = 0;
	return k24_sweep(h->dev.x, m, current, start, stop, n, limit, volts, amps, err);
}

static const drv_smu_ops smu_ops = {
	.source_current = k24_source_current_op,
	.source_voltage = k24_source_voltage_op,
	.measure = k24_measure_op,
	.output = k24_output_op,
	.sweep = k24_sweep_op,
};

DRV_STD_SCPI_DRIVER(&k24_info, struct k24_handle, k24_setup_op,
		    .name = K24_DRIVER, .klass = DRV_CLASS_SMU, .smu = &smu_ops,
		    .description = "Keithley 2400/2401/2410/2420/2440 and "
				   "2450/2460 SourceMeters (SCPI)");
