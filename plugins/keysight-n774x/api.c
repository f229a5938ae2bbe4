/*
 * plugins/keysight-n774x/api.c - driver ABI entry points for the Keysight
 * N774x multiport optical power meters (and the 816x mainframes that share
 * their SCPI tree).
 *
 * Invariants of a handle:
 *  - it exists only for an instrument whose *IDN? matched the model table;
 *  - every port is in watts (set once at open), so a reading is watts;
 *  - wl_nm[p] is the wavelength port p is known to be set to, or NAN when
 *    unknown (never set, or the last set failed); a set to the same value
 *    is skipped, which saves a round trip per reading in a sweep;
 *  - atime_s[p] likewise for the averaging time: a step sends it before
 *    every reading, and an all-port read sends it to every port before
 *    each read, so without the cache it would cost a round trip per port
 *    per wavelength.
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>

#include "kgd/drv_std.h"
#include "protocol.h"

struct n774x_handle {
	drv_std_dev dev;            /* first: transport, *IDN?, matched row */
	const n774x_model *model;   /* dev.model as this driver's row */
	double wl_nm[N774X_MAX_PORTS + 1];  /* index = port, 1-based */
	double atime_s[N774X_MAX_PORTS + 1];
};

static int check_port(const struct n774x_handle *h, int port, kgd_err *err)
{
	if (port >= 1 && port <= h->model->ports)
		return KGD_OK;
	return kgd_err_set(err, KGD_ERR_ARG, "%s: port %d out of range for %s (1..%d)",
			   xport_uri(h->dev.x), port, h->model->id.model, h->model->ports);
}

/* After the match and *CLS: every port in watts, no setting known. */
static int n774x_setup(void *handle, kgd_err *err)
{
	struct n774x_handle *h = handle;

	h->model = (const n774x_model *)h->dev.model;
	for (int p = 1; p <= h->model->ports; p++) {
		h->wl_nm[p] = NAN;
		h->atime_s[p] = NAN;
	}
	return n774x_set_unit_watt_all(h->dev.x, h->model, err);
}

static int n774x_set_wavelength_op(void *handle, int port, double nm, kgd_err *err)
{
	struct n774x_handle *h = handle;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	if (!isfinite(nm) || nm <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: port %d: wavelength %g nm is not valid",
				   xport_uri(h->dev.x), port, nm);
	if (h->wl_nm[port] == nm)
		return KGD_OK;
	/* Unknown until the instrument accepts it: a failed set may or may not
	 * have changed the setting. */
	h->wl_nm[port] = NAN;
	rc = n774x_set_wavelength(h->dev.x, h->model, port, nm, err);
	if (rc == KGD_OK)
		h->wl_nm[port] = nm;
	return rc;
}

/* Send a compound set-wavelength message; the cache says nm for its
 * ports only once the instrument accepted it. */
static int flush_wavelengths(struct n774x_handle *h, scpi_msg *msg,
			     const int *ports, int *n_ports, double nm,
			     kgd_err *err)
{
	int rc;

	for (int k = 0; k < *n_ports; k++)
		h->wl_nm[ports[k]] = NAN;
	rc = scpi_msg_command(h->dev.x, msg, err);
	for (int k = 0; k < *n_ports && rc == KGD_OK; k++)
		h->wl_nm[ports[k]] = nm;
	*n_ports = 0;
	return rc;
}

/* Only ports not already at nm are sent, in compound messages of as many
 * commands as fit. */
static int n774x_set_wavelength_ports_op(void *handle, const int *ports,
					 size_t n, double nm, kgd_err *err)
{
	struct n774x_handle *h = handle;
	int pending[N774X_MAX_PORTS], n_pending = 0, rc = KGD_OK;
	scpi_msg msg;

	if (!isfinite(nm) || nm <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: wavelength %g nm is not valid",
				   xport_uri(h->dev.x), nm);
	scpi_msg_init(&msg);
	for (size_t i = 0; i < n && rc == KGD_OK; i++) {
		rc = check_port(h, ports[i], err);
		if (rc || h->wl_nm[ports[i]] == nm)
			continue;
		if (n_pending == N774X_MAX_PORTS ||
		    n774x_msg_set_wavelength(&msg, h->model, ports[i], nm) != 0) {
			rc = flush_wavelengths(h, &msg, pending, &n_pending, nm, err);
			if (rc == KGD_OK &&
			    n774x_msg_set_wavelength(&msg, h->model, ports[i], nm) != 0)
				rc = kgd_err_set(err, KGD_ERR_ARG,
						 "%s: port %d: command too long",
						 xport_uri(h->dev.x), ports[i]);
		}
		if (rc == KGD_OK)
			pending[n_pending++] = ports[i];
	}
	if (rc == KGD_OK)
		rc = flush_wavelengths(h, &msg, pending, &n_pending, nm, err);
	return rc;
}

static int n774x_read_power_op(void *handle, int port, double *watts, kgd_err *err)
{
	struct n774x_handle *h = handle;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	return n774x_read_power(h->dev.x, h->model, port, watts, err);
}

static int n774x_set_averaging_op(void *handle, int port, double seconds,
				  kgd_err *err)
{
	struct n774x_handle *h = handle;
	int rc = check_port(h, port, err);

	if (rc)
		return rc;
	if (!isfinite(seconds) || seconds <= 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: port %d: averaging time %g s is not valid",
				   xport_uri(h->dev.x), port, seconds);
	if (h->atime_s[port] == seconds)
		return KGD_OK;
	h->atime_s[port] = NAN;
	rc = n774x_set_atime(h->dev.x, h->model, port, seconds, err);
	if (rc == KGD_OK)
		h->atime_s[port] = seconds;
	return rc;
}

static int n774x_read_power_all_op(void *handle, double *watts, int max_ports,
				   int *n_ports, kgd_err *err)
{
	struct n774x_handle *h = handle;

	if (!watts || !n_ports || max_ports < 1)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: read_power_all: no buffer",
				   xport_uri(h->dev.x));
	return n774x_read_all(h->dev.x, h->model, watts, max_ports, n_ports, err);
}

static const drv_pm_ops pm_ops = {
	.set_wavelength = n774x_set_wavelength_op,
	.read_power = n774x_read_power_op,
	.set_averaging = n774x_set_averaging_op,
	.read_power_all = n774x_read_power_all_op,
	.set_wavelength_ports = n774x_set_wavelength_ports_op,
};

DRV_STD_SCPI_DRIVER(&n774x_info, struct n774x_handle, n774x_setup,
		    .name = N774X_DRIVER, .klass = DRV_CLASS_POWER_METER, .pm = &pm_ops,
		    .description = "Keysight N7744A/N7745A/N774xC/N7747-8 multiport and "
				   "816x optical power meters (SCPI)");

/* For `station run --dry-run` (kgd/driver.h, optional): LAN SCPI, one exchange ~5 ms; a single-port read ~10 ms besides averaging; ports: as many as its modules. */
__attribute__((visibility("default")))
const drv_timing kgd_driver_timing = {0.005, 0.01, 0};
