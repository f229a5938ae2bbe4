/*
 * plugins/thorlabs-pm100/api.c - driver ABI entry points for the Thorlabs
 * PM100 family (one sensor, port 1).
 *
 * Invariants of a handle:
 *  - it exists only for a console whose *IDN? matched the model table;
 *  - the console is in watts, auto range, power mode (set once at open),
 *    so every MEAS:POW? reply is watts;
 *  - wl_nm is the wavelength the console is known to be set to, or NAN
 *    (never set, or the last set failed); a repeated set is skipped.
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>

#include "kgd/drv_std.h"
#include "protocol.h"

#define PM100_PORTS 1
#define PM100_MAX_AVERAGING 10000  /* ~30 s: beyond it a step is stuck */

struct pm100_handle {
	drv_std_dev dev;            /* first: transport, *IDN?, matched row */
	const pm100_model *model;   /* dev.model as this driver's row */
	double wl_nm;
};

static int check_port(const struct pm100_handle *h, int port, kgd_err *err)
{
	if (port == 1)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: port %d out of range for %s (1 only)",
			   xport_uri(h->dev.x), port, h->model->id.model);
}

/* After the match and *CLS: watts, auto range, power mode. */
static int pm100_setup(void *handle, kgd_err *err)
{
	struct pm100_handle *h = handle;

	h->model = (const pm100_model *)h->dev.model;
	h->wl_nm = NAN;
	return pm100_power_mode(h->dev.x, h->model, err);
}

static int pm100_set_wavelength_op(void *handle, int port, double nm, kgd_err *err)
{
	struct pm100_handle *h = handle;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	if (!isfinite(nm) || nm <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: wavelength %g nm is not valid",
				   xport_uri(h->dev.x), nm);
	if (h->wl_nm == nm)
		return KGD_OK;
	h->wl_nm = NAN;
	rc = pm100_set_wavelength(h->dev.x, h->model, nm, err);
	if (rc == KGD_OK)
		h->wl_nm = nm;
	return rc;
}

static int pm100_read_power_op(void *handle, int port, double *watts, kgd_err *err)
{
	struct pm100_handle *h = handle;
	double w;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	rc = pm100_measure(h->dev.x, h->model, &w, err);
	if (rc == KGD_OK)
		*watts = w;
	return rc;
}

static int pm100_set_averaging_op(void *handle, int port, double seconds,
				  kgd_err *err)
{
	struct pm100_handle *h = handle;
	double n;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	n = ceil(seconds / h->model->cmds->sample_s);
	if (!isfinite(seconds) || seconds <= 0 || n > PM100_MAX_AVERAGING)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: averaging time %g s is not valid (up to %g s)",
				   xport_uri(h->dev.x), seconds,
				   PM100_MAX_AVERAGING * h->model->cmds->sample_s);
	return pm100_set_averaging(h->dev.x, h->model, (int)fmax(n, 1), err);
}

static int pm100_read_power_all_op(void *handle, double *watts, int max_ports,
				   int *n_ports, kgd_err *err)
{
	struct pm100_handle *h = handle;
	int rc;

	if (!watts || !n_ports || max_ports < PM100_PORTS)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: read_power_all: no buffer",
				   xport_uri(h->dev.x));
	rc = pm100_read_power_op(h, 1, &watts[0], err);
	if (rc == KGD_OK)
		*n_ports = PM100_PORTS;
	return rc;
}

static const drv_pm_ops pm_ops = {
	.set_wavelength = pm100_set_wavelength_op,
	.read_power = pm100_read_power_op,
	.set_averaging = pm100_set_averaging_op,
	.read_power_all = pm100_read_power_all_op,
};

DRV_STD_SCPI_DRIVER(&pm100_info, struct pm100_handle, pm100_setup,
		    .name = PM100_DRIVER, .klass = DRV_CLASS_POWER_METER, .pm = &pm_ops,
		    .description = "Thorlabs PM100D/PM100USB/PM100A/PM101/PM400 "
				   "power meters (SCPI, USBTMC)");

/* For `station run --dry-run` (kgd/driver.h, optional): USBTMC, ~10 ms an exchange; a read ~50 ms (its own averaging of 100 samples); one port. */
__attribute__((visibility("default")))
const drv_timing kgd_driver_timing = {0.01, 0.05, 1};
