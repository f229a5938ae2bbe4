/*
 * station/ops_pm.c - power-meter operations of the sequencer: optical power
 * and insertion loss. Each fills a run_call in the driver's units (W) or in
 * dB; runner.c converts, judges and logs.
 */
#include "run_int.h"

#include <math.h>

/* Set the wavelength (if swept) and averaging (if given), read one port. */
static int read_port_power(run_call *c, double *watts, kgd_err *err)
{
	const drv_pm_ops *pm = c->r->plugin->desc->pm;
	double port_d = 1, nm;
	int port, rc;

	run_point_get(c->pt, "port", &port_d);
	port = (int)port_d;
	if (run_point_get(c->pt, "wavelength_nm", &nm)) {
		rc = pm->set_wavelength(c->r->h, port, nm, err);
		if (rc)
			return rc;
	}
	if (seq_step_param(c->st, "averaging_s")) {
		if (!pm->set_averaging)
			return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				"driver '%s' cannot set averaging time",
				c->r->plugin->desc->name);
		rc = pm->set_averaging(c->r->h, port,
				       run_param_num(c->st, "averaging_s", 0), err);
		if (rc)
			return rc;
	}
	return pm->read_power(c->r->h, port, watts, err);
}

int run_op_pm_optical_power(run_call *c, kgd_err *err)
{
	return read_port_power(c, &c->v[0], err);
}

/* Loss = reference power - measured power, both in dBm. The reference is
 * a fixed launch power (reference_dbm) or a power measured earlier in the
 * same part (reference_step: step or step/value) at the same values of the
 * sweep variables both steps share. No light at the output is a loss of
 * +inf: NAN here, which fails the limits as "no valid value". */
int run_op_pm_insertion_loss(run_call *c, kgd_err *err)
{
	const char *ref = run_param_str(c->st, "reference_step", NULL);
	double watts, ref_dbm, ref_native, out_dbm;
	const char *unit;
	int rc;

	if (ref) {
		if (!run_reference(c->cx, ref, c->pt, &ref_native, &unit))
			return kgd_err_set(err, KGD_ERR_INSTRUMENT,
				"no reference power from step '%s' at this point "
				"(it did not run or erred)", ref);
		run_unit_convert(ref_native, unit, "dBm", &ref_dbm);
	} else {
		ref_dbm = run_param_num(c->st, "reference_dbm", 0);
	}
	rc = read_port_power(c, &watts, err);
	if (rc)
		return rc;
	run_unit_convert(watts, "W", "dBm", &out_dbm);
	c->v[0] = isnan(ref_dbm) || isnan(out_dbm) ? NAN : ref_dbm - out_dbm;
	return KGD_OK;
}

/* ---- all ports in one read ------------------------------------------------ */

/* A power meter that reads every port in one averaging time
 * (read_power_all: the N774x's :READ1:POW:ALL?) measures a whole port
 * sweep at once. */
int run_can_batch_pm(const run_role *r)
{
	return r->plugin->desc->pm->read_power_all != NULL;
}

static int point_port(const run_call *c)
{
	double port = 1;

	run_point_get(c->pt, "port", &port);
	return (int)port;
}

static void fail_all(run_call *calls, size_t n, int rc, const kgd_err *e)
{
	for (size_t i = 0; i < n; i++) {
		calls[i].rc = rc;
		calls[i].ierr = *e;
	}
}

/* Set-up of every swept port first (wavelength, averaging: the commands
 * the point-by-point path sends before each read), then one read of all
 * ports. Each call's watts go into v[0]. */
static int read_ports_all(run_call *calls, size_t n)
{
	const run_role *r = calls[0].r;
	const drv_pm_ops *pm = r->plugin->desc->pm;
	double watts[RUN_MAX_BATCH], nm;
	int n_ports = 0, rc = KGD_OK, swept_wl = 1;
	kgd_err e;

	kgd_err_clear(&e);
	/* The points of a batch share their wavelength: one message for every
	 * port where the driver (ABI 1.1) can. */
	if (run_point_get(calls[0].pt, "wavelength_nm", &nm) &&
	    r->plugin->desc->abi_minor >= 1 && pm->set_wavelength_ports) {
		int ports[RUN_MAX_BATCH];

		for (size_t i = 0; i < n; i++)
			ports[i] = (int)point_port(&calls[i]);
		rc = pm->set_wavelength_ports(r->h, ports, n, nm, &e);
		swept_wl = 0;
	}
	for (size_t i = 0; i < n && rc == KGD_OK; i++) {
		int port = point_port(&calls[i]);

		if (swept_wl && run_point_get(calls[i].pt, "wavelength_nm", &nm))
			rc = pm->set_wavelength(r->h, port, nm, &e);
		if (rc == KGD_OK && seq_step_param(calls[i].st, "averaging_s")) {
			if (!pm->set_averaging)
				rc = kgd_err_set(&e, KGD_ERR_UNSUPPORTED,
					"driver '%s' cannot set averaging time",
					r->plugin->desc->name);
			else
				rc = pm->set_averaging(r->h, port,
						       run_param_num(calls[i].st,
								     "averaging_s", 0), &e);
		}
	}
	if (rc == KGD_OK)
		rc = pm->read_power_all(r->h, watts, RUN_MAX_BATCH, &n_ports, &e);
	if (rc) {
		fail_all(calls, n, rc, &e);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		int port = point_port(&calls[i]);

		if (port < 1 || port > n_ports) {
			calls[i].rc = kgd_err_set(&calls[i].ierr, KGD_ERR_PROTOCOL,
				"%s: port %d: the all-port read reported %d ports",
				xport_uri(r->x), port, n_ports);
			continue;
		}
		calls[i].v[0] = watts[port - 1];
		calls[i].rc = KGD_OK;
	}
	return KGD_OK;
}

int run_batch_pm_optical_power(run_call *calls, size_t n, kgd_err *err)
{
	(void)err;
	read_ports_all(calls, n);
	return KGD_OK;
}

/* As run_op_pm_insertion_loss, per port: one read of all ports, then
 * each port's loss against its own reference. A port without a reference
 * errs, as it does point by point. */
int run_batch_pm_insertion_loss(run_call *calls, size_t n, kgd_err *err)
{
	const char *ref = run_param_str(calls[0].st, "reference_step", NULL);

	(void)err;
	if (read_ports_all(calls, n))
		return KGD_OK;
	for (size_t i = 0; i < n; i++) {
		double ref_dbm = run_param_num(calls[i].st, "reference_dbm", 0);
		double native, out_dbm;
		const char *unit;

		if (calls[i].rc)
			continue;
		if (ref) {
			if (!run_reference(calls[i].cx, ref, calls[i].pt, &native,
					   &unit)) {
				calls[i].rc = kgd_err_set(&calls[i].ierr,
					KGD_ERR_INSTRUMENT,
					"no reference power from step '%s' at this "
					"point (it did not run or erred)", ref);
				continue;
			}
			run_unit_convert(native, unit, "dBm", &ref_dbm);
		}
		run_unit_convert(calls[i].v[0], "W", "dBm", &out_dbm);
		calls[i].v[0] = isnan(ref_dbm) || isnan(out_dbm)
					? NAN : ref_dbm - out_dbm;
	}
	return KGD_OK;
}
