/*
 * station/ops_smu.c - source-measure-unit operations of the sequencer: a
 * laser's LIV (current from the SMU, light from a power meter, voltage
 * from the SMU) with its derived values, a photodiode's dark current at a
 * reverse bias and its responsivity against the meter's reading of the
 * same port, a ring heater's tuning scans (heater power against the
 * through port), and switching the output off.
 *
 * The derived values (threshold, slope efficiency, kink, series
 * resistance; responsivity; tuning power, resonance, shift) come from
 * analysis.c over exactly the points the step logged, so every derived
 * row can be recomputed from the rows before it.
 * Invariant: a sweep leaves the SMU's output off after its last point; a
 * sweep cut short by an error leaves that to the sequence's cleanup.
 */
#include "run_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis.h"

#define LIV_MAX_POINTS 512

static const drv_smu_ops *smu_of(const run_call *c)
{
	return c->r->plugin->desc->smu;
}

/* The last point of the step's sweep: every variable at its last value. */
static int last_point(const run_point *pt)
{
	for (size_t i = 0; i < pt->st->n_sweep; i++)
		if (pt->idx[i] + 1 < pt->st->sweep[i].n_values)
			return 0;
	return 1;
}

/* The power meter the param `meter` names (step.c found it, lint checked
 * its class), open. */
static run_role *meter_of(const run_call *c, kgd_err *err)
{
	if (!c->meter || !c->meter->h) {
		kgd_err_set(err, KGD_ERR_ARG, "step '%s': power meter role '%s' is "
			    "not open", c->st->name,
			    run_param_str(c->st, "meter", "?"));
		return NULL;
	}
	return c->meter;
}

/* One LIV point: source the sweep's current (mA), read the voltage, read
 * the light on the meter's port; v[0] power (W), v[1] voltage (V). */
int run_op_smu_liv(run_call *c, kgd_err *err)
{
	const drv_smu_ops *smu = smu_of(c);
	run_role *pm = meter_of(c, err);
	double ma = 0, volts, amps, watts, nm;
	int port = (int)run_param_num(c->st, "port", 1), rc;

	if (!pm)
		return KGD_ERR_ARG;
	run_point_get(c->pt, "current_ma", &ma);
	if (c->pt->idx[0] == 0 && (nm = run_param_num(c->st, "wavelength_nm", 0)) > 0) {
		rc = pm->plugin->desc->pm->set_wavelength(pm->h, port, nm, err);
		if (rc)
			return rc;
	}
	rc = smu->source_current(c->r->h, ma * 1e-3,
				 run_param_num(c->st, "v_limit", 3.0), err);
	if (rc == KGD_OK)
		rc = smu->measure(c->r->h, &volts, &amps, err);
	if (rc == KGD_OK)
		rc = pm->plugin->desc->pm->read_power(pm->h, port, &watts, err);
	if (rc)
		return rc;
	c->v[0] = watts;
	c->v[1] = volts;
	/* The laser goes dark once its curve is taken. */
	if (last_point(c->pt))
		return smu->output(c->r->h, 0, err);
	return KGD_OK;
}

/* threshold (A), slope_efficiency (W/A), kink (%), series_resistance
 * (ohm) at v[2..5] from the logged power and voltage points. */
int run_derive_smu_liv(run_call *c, kgd_err *err)
{
	double *buf = malloc(4 * LIV_MAX_POINTS * sizeof(*buf));
	double *i_a, *p_w, *v_v, *i2;
	size_t n, nv;
	anl_liv r;

	if (!buf)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	i_a = buf;
	p_w = buf + LIV_MAX_POINTS;
	v_v = buf + 2 * LIV_MAX_POINTS;
	i2 = buf + 3 * LIV_MAX_POINTS;
	n = run_step_points(c, "power", "current_ma", i_a, p_w, LIV_MAX_POINTS);
	nv = run_step_points(c, "voltage", "current_ma", i2, v_v, LIV_MAX_POINTS);
	for (size_t k = 0; k < n; k++)
		i_a[k] *= 1e-3;
	anl_liv_fit(i_a, p_w, nv == n ? v_v : NULL, n, &r);
	c->v[2] = r.ith_a;
	c->v[3] = r.slope_w_a;
	c->v[4] = r.kink_pct;
	c->v[5] = r.rs_ohm;
	if (r.lasing)
		snprintf(c->text, sizeof(c->text),
			 "{\"points\":%zu,\"fit_ma\":[%.10g,%.10g]}",
			 n, i_a[r.fit_first] * 1e3,
			 i_a[r.fit_first + r.fit_n - 1] * 1e3);
	else
		snprintf(c->text, sizeof(c->text),
			 "{\"points\":%zu,\"lasing\":false}", n);
	free(buf);
	return KGD_OK;
}

/* A reverse bias of param reverse_v volts (given positive) with a current
 * limit (i_limit, A); v[0] the magnitude of the current (A), so a limit
 * "high: 10 nA" means what it says whatever the instrument's sign. */
int run_op_smu_dark_current(run_call *c, kgd_err *err)
{
	const drv_smu_ops *smu = smu_of(c);
	double volts, amps;
	int rc;

	rc = smu->source_voltage(c->r->h, -run_param_num(c->st, "reverse_v", 1.0),
				 run_param_num(c->st, "i_limit", 1e-3), err);
	if (rc == KGD_OK)
		rc = smu->measure(c->r->h, &volts, &amps, err);
	if (rc == KGD_OK)
		rc = smu->output(c->r->h, 0, err);
	if (rc)
		return rc;
	c->v[0] = fabs(amps);
	return KGD_OK;
}

int run_op_smu_off(run_call *c, kgd_err *err)
{
	return smu_of(c)->output(c->r->h, 0, err);
}

/* The pm's wavelength on the step's port: the sweep's wavelength_nm,
 * else the param; nothing when neither is given. */
static int meter_wavelength(const run_call *c, run_role *pm, int port, kgd_err *err)
{
	double nm = 0;

	if (run_point_get(c->pt, "wavelength_nm", &nm) != 1)
		nm = run_param_num(c->st, "wavelength_nm", 0);
	if (nm > 0)
		return pm->plugin->desc->pm->set_wavelength(pm->h, port, nm, err);
	return KGD_OK;
}

/* One responsivity point: the photodiode at the reverse bias (reverse_v,
 * given positive, current limit i_limit) and the light on the meter's
 * port of the same number at the point's wavelength; v[0] the magnitude
 * of the photocurrent (A), v[1] the meter's power (W). */
int run_op_smu_responsivity(run_call *c, kgd_err *err)
{
	const drv_smu_ops *smu = smu_of(c);
	run_role *pm = meter_of(c, err);
	int port = (int)run_param_num(c->st, "port", 1), rc;
	double volts, amps, watts;

	if (!pm)
		return KGD_ERR_ARG;
	rc = meter_wavelength(c, pm, port, err);
	if (rc == KGD_OK)
		rc = smu->source_voltage(c->r->h, -run_param_num(c->st, "reverse_v", 1.0),
					 run_param_num(c->st, "i_limit", 10e-3), err);
	if (rc == KGD_OK)
		rc = smu->measure(c->r->h, &volts, &amps, err);
	if (rc == KGD_OK)
		rc = pm->plugin->desc->pm->read_power(pm->h, port, &watts, err);
	if (rc)
		return rc;
	c->v[0] = fabs(amps);
	c->v[1] = watts;
	if (last_point(c->pt))
		return smu->output(c->r->h, 0, err);
	return KGD_OK;
}

/* responsivity (A/W) at v[2]: the summed photocurrent over the summed
 * power of the logged points (one point: its ratio). */
int run_derive_smu_responsivity(run_call *c, kgd_err *err)
{
	double x[LIV_MAX_POINTS], i_a[LIV_MAX_POINTS], p_w[LIV_MAX_POINTS];
	double si = 0, sp = 0;
	size_t n = run_step_points(c, "photocurrent", "wavelength_nm", x, i_a, LIV_MAX_POINTS);
	size_t np = run_step_points(c, "power", "wavelength_nm", x, p_w, LIV_MAX_POINTS);

	(void)err;
	for (size_t k = 0; k < n && k < np; k++) {
		si += i_a[k];
		sp += p_w[k];
	}
	c->v[2] = n && n == np ? anl_responsivity(si, 0, sp) : NAN;
	snprintf(c->text, sizeof(c->text), "{\"points\":%zu}", n);
	return KGD_OK;
}

/* One ring-tuning point: heater_mw into the heater (the voltage that
 * gives it across heater_ohm, the design resistance, current limit
 * i_limit), then the through port on the meter's port at the point's
 * wavelength; v[0] the heater power as measured (V x I, mW), v[1] the
 * through power (W). */
int run_op_smu_ring_tune(run_call *c, kgd_err *err)
{
	const drv_smu_ops *smu = smu_of(c);
	run_role *pm = meter_of(c, err);
	int port = (int)run_param_num(c->st, "port", 1), rc;
	double mw = 0, volts, amps, watts;

	if (!pm)
		return KGD_ERR_ARG;
	run_point_get(c->pt, "heater_mw", &mw);
	rc = meter_wavelength(c, pm, port, err);
	if (rc == KGD_OK)
		rc = smu->source_voltage(c->r->h,
					 sqrt(fmax(mw, 0) * 1e-3 *
					      run_param_num(c->st, "heater_ohm", 1000.0)),
					 run_param_num(c->st, "i_limit", 20e-3), err);
	if (rc == KGD_OK)
		rc = smu->measure(c->r->h, &volts, &amps, err);
	if (rc == KGD_OK)
		rc = pm->plugin->desc->pm->read_power(pm->h, port, &watts, err);
	if (rc)
		return rc;
	c->v[0] = fabs(volts * amps) * 1e3;
	c->v[1] = watts;
	/* The ring goes cold once its scans are taken. */
	if (last_point(c->pt))
		return smu->output(c->r->h, 0, err);
	return KGD_OK;
}

#define RING_MAX_WL 16
#define RING_DIP_DB 3.0   /* a resonance shows as at least this dip */

/* tuning_power (mW), resonance (nm), shift (nm/mW) at v[2..4]: per
 * wavelength the heater power of the through port's dip (anl_dip_x over
 * that wavelength's points, in the order measured); the first
 * wavelength's is the power that tunes the ring onto the target; the
 * straight line through (dip power, wavelength) gives the shift (its
 * slope) and the cold resonance (its value at 0 mW). */
int run_derive_smu_ring_tune(run_call *c, kgd_err *err)
{
	double *buf = malloc(4 * LIV_MAX_POINTS * sizeof(*buf));
	double *wl, *p_mw, *wl2, *t_w, dip[RING_MAX_WL], at[RING_MAX_WL], x[RING_MAX_WL],
	       y[RING_MAX_WL], a = NAN, b = NAN;
	size_t n, nt, groups = 0, k = 0, used = 0, len;
	char *o;

	if (!buf)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	wl = buf;
	p_mw = buf + LIV_MAX_POINTS;
	wl2 = buf + 2 * LIV_MAX_POINTS;
	t_w = buf + 3 * LIV_MAX_POINTS;
	n = run_step_points(c, "heater_power", "wavelength_nm", wl, p_mw, LIV_MAX_POINTS);
	nt = run_step_points(c, "through_power", "wavelength_nm", wl2, t_w, LIV_MAX_POINTS);
	if (nt != n)
		n = 0;
	/* One scan per run of equal wavelengths. */
	while (k < n && groups < RING_MAX_WL) {
		size_t e = k;

		while (e < n && wl[e] == wl[k])
			e++;
		at[groups] = wl[k];
		dip[groups] = anl_dip_x(p_mw + k, t_w + k, e - k, RING_DIP_DB);
		if (isfinite(dip[groups])) {
			x[used] = dip[groups];
			y[used++] = wl[k];
		}
		groups++;
		k = e;
	}
	if (used >= 2)
		anl_linfit(x, y, used, &a, &b);
	c->v[2] = groups ? dip[0] : NAN;
	c->v[3] = a;
	c->v[4] = b;
	/* Which points: the count and each scan's wavelength and dip. */
	o = c->text;
	len = sizeof(c->text);
	k = (size_t)snprintf(o, len, "{\"points\":%zu,\"dips_mw\":[", n);
	for (size_t g = 0; g < groups && k < len; g++) {
		if (isfinite(dip[g]))
			k += (size_t)snprintf(o + k, len - k, "%s%.6g", g ? "," : "", dip[g]);
		else   /* no dip in that scan */
			k += (size_t)snprintf(o + k, len - k, "%snull", g ? "," : "");
	}
	if (k < len)
		k += (size_t)snprintf(o + k, len - k, "],\"at_nm\":[");
	for (size_t g = 0; g < groups && k < len; g++)
		k += (size_t)snprintf(o + k, len - k, "%s%.10g", g ? "," : "", at[g]);
	if (k < len)
		snprintf(o + k, len - k, "]}");
	free(buf);
	return KGD_OK;
}

/* One IV point: source the sweep's current_ma with the voltage limited to
 * v_limit, read; v[0] voltage (V), v[1] current (A, as read back). */
int run_op_smu_iv(run_call *c, kgd_err *err)
{
	const drv_smu_ops *smu = smu_of(c);
	double ma = 0, volts, amps;
	int rc;

	run_point_get(c->pt, "current_ma", &ma);
	rc = smu->source_current(c->r->h, ma * 1e-3, run_param_num(c->st, "v_limit", 3.0),
				 err);
	if (rc == KGD_OK)
		rc = smu->measure(c->r->h, &volts, &amps, err);
	if (rc)
		return rc;
	c->v[0] = volts;
	c->v[1] = amps;
	if (last_point(c->pt))
		return smu->output(c->r->h, 0, err);
	return KGD_OK;
}

int run_can_batch_smu(const run_role *r)
{
	const drv_descriptor *d = r->plugin->desc;

	return d->abi_minor >= 3 && d->smu && d->smu->sweep;
}

/* The points of a batch (the same step, current_ma their only
 * difference) as one staircase sweep in the instrument, when their
 * currents are one: evenly spaced, 2..DRV_SMU_SWEEP_MAX of them. Else
 * point by point, exactly as without a batch. Each call gets what its
 * point alone would. */
int run_batch_smu_iv(run_call *calls, size_t n, kgd_err *err)
{
	const drv_smu_ops *smu = smu_of(&calls[0]);
	double ma[RUN_MAX_BATCH], volts[RUN_MAX_BATCH], amps[RUN_MAX_BATCH], step;
	int even = n >= 2 && n <= DRV_SMU_SWEEP_MAX && n <= RUN_MAX_BATCH, rc;
	kgd_err e;

	(void)err;
	for (size_t i = 0; even && i < n; i++) {
		ma[i] = 0;
		run_point_get(calls[i].pt, "current_ma", &ma[i]);
	}
	step = even ? (ma[n - 1] - ma[0]) / (double)(n - 1) : 0;
	for (size_t i = 1; even && i < n; i++)
		even = fabs(ma[i] - (ma[0] + step * (double)i)) <= 1e-9 * (fabs(step) + 1e-3);
	if (!even) {
		for (size_t i = 0; i < n; i++) {
			kgd_err_clear(&calls[i].ierr);
			calls[i].rc = run_op_smu_iv(&calls[i], &calls[i].ierr);
		}
		return KGD_OK;
	}
	kgd_err_clear(&e);
	rc = smu->sweep(calls[0].r->h, 1, ma[0] * 1e-3, ma[n - 1] * 1e-3, n,
			run_param_num(calls[0].st, "v_limit", 3.0), volts, amps, &e);
	for (size_t i = 0; i < n; i++) {
		calls[i].rc = rc;
		calls[i].ierr = e;
		calls[i].v[0] = volts[i];
		calls[i].v[1] = amps[i];
	}
	return KGD_OK;
}

/* series_resistance (ohm) at v[2]: dV/dI, the least-squares slope of the
 * upper half of the points (by current), where the junction is on and
 * the resistance rules. */
int run_derive_smu_iv(run_call *c, kgd_err *err)
{
	double i_a[LIV_MAX_POINTS], v_v[LIV_MAX_POINTS], x[LIV_MAX_POINTS], a, b = NAN;
	size_t n = run_step_points(c, "voltage", "current_ma", x, v_v, LIV_MAX_POINTS);
	size_t ni = run_step_points(c, "current", "current_ma", x, i_a, LIV_MAX_POINTS);
	size_t h = n / 2;

	(void)err;
	if (n == ni && n - h >= 2)
		anl_linfit(i_a + h, v_v + h, n - h, &a, &b);
	c->v[2] = b;
	snprintf(c->text, sizeof(c->text), "{\"points\":%zu,\"fit_ma\":[%.10g,%.10g]}", n,
		 n ? x[h] : NAN, n ? x[n - 1] : NAN);
	return KGD_OK;
}
