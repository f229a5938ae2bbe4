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
#include <stdlib.h>
#include <string.h>

#include "kgd/driver.h"
#include "protocol.h"

#define PM100_PORTS 1
#define PM100_MAX_AVERAGING 10000  /* ~30 s: beyond it a step is stuck */

struct pm100_handle {
	xport *x;
	const pm100_model *model;
	char idn[SCPI_REPLY_MAX];
	double wl_nm;
};

static int check_port(const struct pm100_handle *h, int port, kgd_err *err)
{
	if (port == 1)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: port %d out of range for %s (1 only)",
			   xport_uri(h->x), port, h->model->model);
}

static int pm100_open(xport *x, void **handle, kgd_err *err)
{
	static const enum pm100_cmd setup[] = {
		PM100_CMD_UNIT_WATT, PM100_CMD_AUTO_RANGE, PM100_CMD_CONF_POWER,
	};
	struct pm100_handle *h = NULL;
	int rc;

	if (!x || !handle)
		return kgd_err_set(err, KGD_ERR_ARG, "thorlabs-pm100: open: no transport");
	h = calloc(1, sizeof(*h));
	if (!h)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", xport_uri(x));
	h->x = x;
	h->wl_nm = NAN;
	rc = scpi_query(x, h->idn, sizeof(h->idn), err, "*IDN?");
	if (rc)
		goto error;
	h->model = pm100_match_idn(h->idn);
	if (!h->model) {
		rc = kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				 "%s: not a power meter this driver knows: *IDN? replied "
				 "'%s' (thorlabs-pm100 supports %s)", xport_uri(x), h->idn,
				 pm100_known_models());
		goto error;
	}
	/* An empty error queue first, so the first error we report is ours. */
	rc = scpi_write(x, err, "%s", pm100_fmt(h->model, PM100_CMD_CLEAR_STATUS));
	for (size_t i = 0; rc == KGD_OK && i < sizeof(setup) / sizeof(setup[0]); i++)
		rc = scpi_command(x, err, "%s", pm100_fmt(h->model, setup[i]));
	if (rc)
		goto error;
	*handle = h;
	return KGD_OK;
error:
	free(h);
	return rc;
}

static void pm100_close(void *handle)
{
	free(handle);
}

static int pm100_identify(void *handle, char *buf, size_t cap, kgd_err *err)
{
	struct pm100_handle *h = handle;

	return scpi_copy_idn(h->x, h->idn, buf, cap, err);
}

static int pm100_set_wavelength(void *handle, int port, double nm, kgd_err *err)
{
	struct pm100_handle *h = handle;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	if (!isfinite(nm) || nm <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: wavelength %g nm is not valid",
				   xport_uri(h->x), nm);
	if (h->wl_nm == nm)
		return KGD_OK;
	h->wl_nm = NAN;
	rc = scpi_command(h->x, err, pm100_fmt(h->model, PM100_CMD_SET_WAVELENGTH), nm);
	if (rc == KGD_OK)
		h->wl_nm = nm;
	return rc;
}

static int pm100_read_power(void *handle, int port, double *watts, kgd_err *err)
{
	struct pm100_handle *h = handle;
	double w;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	/* scpi_measure_double refuses 9.9E37/NaN (KGD_ERR_OVERRANGE) and a
	 * reading taken while the meter queued an error. */
	rc = scpi_measure_double(h->x, &w, err, "%s", pm100_fmt(h->model, PM100_CMD_MEASURE));
	if (rc == KGD_OK)
		*watts = w;
	return rc;
}

static int pm100_set_averaging(void *handle, int port, double seconds, kgd_err *err)
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
				   xport_uri(h->x), seconds,
				   PM100_MAX_AVERAGING * h->model->cmds->sample_s);
	return scpi_command(h->x, err, pm100_fmt(h->model, PM100_CMD_SET_AVERAGING),
			    (int)fmax(n, 1));
}

static int pm100_read_power_all(void *handle, double *watts, int max_ports,
				int *n_ports, kgd_err *err)
{
	struct pm100_handle *h = handle;
	int rc;

	if (!watts || !n_ports || max_ports < PM100_PORTS)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: read_power_all: no buffer",
				   xport_uri(h->x));
	rc = pm100_read_power(h, 1, &watts[0], err);
	if (rc == KGD_OK)
		*n_ports = PM100_PORTS;
	return rc;
}

static const drv_pm_ops pm_ops = {
	.set_wavelength = pm100_set_wavelength,
	.read_power = pm100_read_power,
	.set_averaging = pm100_set_averaging,
	.read_power_all = pm100_read_power_all,
};

/* The one exported symbol; plugins build with hidden visibility. */
__attribute__((visibility("default")))
const drv_descriptor kgd_driver = {
	.abi_major = DRV_ABI_MAJOR,
	.abi_minor = DRV_ABI_MINOR,
	.name = "thorlabs-pm100",
	.description = "Thorlabs PM100D/PM100USB/PM100A/PM101/PM400 power meters (SCPI, USBTMC)",
	.klass = DRV_CLASS_POWER_METER,
	.open = pm100_open,
	.close = pm100_close,
	.identify = pm100_identify,
	.pm = &pm_ops,
};
