/*
 * station/ops_align.c - fiber alignment at wafer sort: the prober's
 * optical positioner (ABI 1.2 fiber_move / fiber_position) is moved until
 * the light on a monitor port of a power meter peaks, then the peak, the
 * coupling loss against the launch power, the final offset from the
 * nominal spot, the moves taken and the time are the step's values.
 *
 * The search: a square spiral of coarse_step_um out to coarse_radius_um
 * around the nominal spot (first light, wherever the coupler is), a hill
 * climb from the best point with the step halved down to tolerance_um,
 * then the vertex of a parabola through five readings in dBm across the
 * peak on each axis (a Gaussian mode overlap is exactly a parabola in dB,
 * so the vertex is the coupler's centre with the readings' noise averaged
 * out; analysis.c). A search past budget_s stops where it is: its time
 * value says so and its limits judge it. Not finding light is no
 * instrument error: the values fail their limits and the step's bin is
 * the part's ("a failed alignment is a bin of its own").
 *
 * Invariant: the positioner ends at the position the values describe.
 */
#include "run_int.h"

#include <math.h>

#include "analysis.h"

#define ORIGIN_UM 50.0        /* the NanoCube's centre: the nominal spot */
#define REFINE_POINTS 5

typedef struct align_ctx {
	run_call *c;
	const drv_prober_ops *pr;
	run_role *pm;
	int port;
	long moves;
	double t0, budget;
	double bx, by, bdbm;      /* best so far */
} align_ctx;

static double now_s(void)
{
	return run_now();
}

/* Move there and read the monitor, dBm (no light: -200). Tracks the best. */
static int probe_at(align_ctx *a, double x, double y, double *dbm, kgd_err *err)
{
	double w;
	int rc;

	if (run_stopped(a->c->cx))
		return kgd_err_set(err, KGD_ERR_ABORTED, "aborted while aligning");
	rc = a->pr->fiber_move(a->c->r->h, x, y, err);
	if (rc == KGD_OK)
		rc = a->pm->plugin->desc->pm->read_power(a->pm->h, a->port, &w, err);
	if (rc)
		return rc;
	a->moves++;
	*dbm = w > 0 ? 10.0 * log10(w * 1e3) : -200.0;
	if (*dbm > a->bdbm) {
		a->bdbm = *dbm;
		a->bx = x;
		a->by = y;
	}
	return KGD_OK;
}

static int over_budget(const align_ctx *a)
{
	return now_s() - a->t0 > a->budget;
}

/* Square spiral: ring k holds the points at Chebyshev distance k. */
static int coarse(align_ctx *a, double step, double radius, kgd_err *err)
{
	int rings = (int)floor(radius / step + 1e-9), rc;
	double d;

	rc = probe_at(a, ORIGIN_UM, ORIGIN_UM, &d, err);
	for (int k = 1; rc == KGD_OK && k <= rings && !over_budget(a); k++)
		for (int i = -k; rc == KGD_OK && i <= k; i++)
			for (int j = -k; rc == KGD_OK && j <= k; j++)
				if (i == -k || i == k || j == -k || j == k)
					rc = probe_at(a, ORIGIN_UM + i * step,
						      ORIGIN_UM + j * step, &d, err);
	return rc;
}

static int climb(align_ctx *a, double step, double tol, kgd_err *err)
{
	static const int dir[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
	int rc = KGD_OK;

	while (step >= tol && !over_budget(a)) {
		double cx = a->bx, cy = a->by, d;

		for (int i = 0; i < 4 && rc == KGD_OK; i++)
			rc = probe_at(a, cx + dir[i][0] * step, cy + dir[i][1] * step, &d,
				      err);
		if (rc)
			return rc;
		if (a->bx == cx && a->by == cy)
			step /= 2;   /* no neighbour better: look closer */
	}
	return KGD_OK;
}

/* One axis (0: x, 1: y) through the best point: the parabola's vertex in
 * dBm, kept only near the points it came from. */
static int refine_axis(align_ctx *a, int axis, double span, double *at,
		       kgd_err *err)
{
	double pos[REFINE_POINTS], dbm[REFINE_POINTS], v;
	double cx = a->bx, cy = a->by;
	int rc = KGD_OK;

	for (int i = 0; i < REFINE_POINTS && rc == KGD_OK; i++) {
		double off = (i - REFINE_POINTS / 2) * span;

		pos[i] = (axis ? cy : cx) + off;
		rc = probe_at(a, axis ? cx : pos[i], axis ? pos[i] : cy, &dbm[i], err);
	}
	if (rc)
		return rc;
	v = anl_peak_vertex(pos, dbm, REFINE_POINTS);
	*at = isfinite(v) && fabs(v - pos[REFINE_POINTS / 2]) <= 2 * span
		      ? v : pos[REFINE_POINTS / 2];
	return KGD_OK;
}

int run_op_prober_align(run_call *c, kgd_err *err)
{
	const drv_descriptor *d = c->r->plugin->desc;
	align_ctx a = {c, d->prober, c->meter, (int)run_param_num(c->st, "port", 1),
		       0, now_s(), run_param_num(c->st, "budget_s", 10.0),
		       ORIGIN_UM, ORIGIN_UM, -INFINITY};
	double step = run_param_num(c->st, "coarse_step_um", 2.0);
	double tol = run_param_num(c->st, "tolerance_um", 0.1);
	double nm = run_param_num(c->st, "wavelength_nm", 0), x, y, peak;
	int rc;

	if (d->abi_minor < 2 || !d->prober->fiber_move || !d->prober->fiber_position)
		return kgd_err_set(err, KGD_ERR_UNSUPPORTED, "driver '%s' has no fiber "
				   "positioner (ABI 1.2 fiber_move)", d->name);
	if (!a.pm || !a.pm->h)
		return kgd_err_set(err, KGD_ERR_ARG, "step '%s': power meter role '%s' "
				   "is not open", c->st->name,
				   run_param_str(c->st, "meter", "?"));
	if (nm > 0 && (rc = a.pm->plugin->desc->pm->set_wavelength(a.pm->h, a.port,
								     nm, err)))
		return rc;
	if (seq_step_param(c->st, "averaging_s") && a.pm->plugin->desc->pm->set_averaging &&
	    (rc = a.pm->plugin->desc->pm->set_averaging(a.pm->h, a.port,
							run_param_num(c->st, "averaging_s",
								      0), err)))
		return rc;
	rc = coarse(&a, step, run_param_num(c->st, "coarse_radius_um", 6.0), err);
	if (rc == KGD_OK)
		rc = climb(&a, step / 2, tol, err);
	/* The parabola across the peak, x then y: five points 1 um apart
	 * span 4 um, where the Gaussian falls 0.6 dB - well above the
	 * readings' noise - while staying near its top. */
	x = a.bx;
	y = a.by;
	if (rc == KGD_OK && a.bdbm > -190 && !over_budget(&a)) {
		rc = refine_axis(&a, 0, 1.0, &x, err);
		if (rc == KGD_OK) {
			a.bx = x;
			rc = refine_axis(&a, 1, 1.0, &y, err);
		}
	}
	/* End where the values say: on the refined spot, read there. */
	if (rc == KGD_OK) {
		a.bdbm = -INFINITY;
		rc = probe_at(&a, x, y, &peak, err);
	}
	if (rc == KGD_OK)
		rc = d->prober->fiber_position(c->r->h, &x, &y, err);
	if (rc)
		return rc;
	c->v[0] = peak > -190 ? 1e-3 * pow(10.0, peak / 10.0) : 0.0;
	c->v[1] = peak > -190 ? run_param_num(c->st, "reference_dbm", 0) - peak : NAN;
	c->v[2] = x - ORIGIN_UM;
	c->v[3] = y - ORIGIN_UM;
	c->v[4] = hypot(x - ORIGIN_UM, y - ORIGIN_UM);
	c->v[5] = (double)a.moves;
	c->v[6] = now_s() - a.t0;
	return KGD_OK;
}
