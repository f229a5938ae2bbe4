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
