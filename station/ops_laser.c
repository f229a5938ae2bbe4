/*
 * station/ops_laser.c - laser-module operations of the sequencer: switch
 * channels on or off, and read a channel's power, wavelength, bias,
 * temperature and SMSR (one multi-value step).
 *
 * The channel is the sweep variable `channel` if swept, else the param
 * `channels` (a number, or all = 0 for the driver), else all.
 */
#include "run_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int channel_of(const run_call *c)
{
	const char *ch = run_param_str(c->st, "channels", "all");
	double v;

	if (run_point_get(c->pt, "channel", &v))
		return (int)v;
	return strcmp(ch, "all") == 0 ? 0 : atoi(ch);
}

int run_op_laser_enable(run_call *c, kgd_err *err)
{
	return c->r->plugin->desc->laser->enable(c->r->h, channel_of(c), 1, err);
}

int run_op_laser_disable(run_call *c, kgd_err *err)
{
	return c->r->plugin->desc->laser->enable(c->r->h, channel_of(c), 0, err);
}

int run_op_laser_read(run_call *c, kgd_err *err)
{
	drv_laser_reading r;
	int ch = channel_of(c), rc;

	if (ch == 0)
		ch = 1;  /* a reading is per channel; lint wants `channel` swept */
	memset(&r, 0, sizeof(r));
	r.smsr_db = NAN;
	rc = c->r->plugin->desc->laser->read(c->r->h, ch, &r, err);
	if (rc)
		return rc;
	c->v[0] = r.power_w;
	c->v[1] = r.wavelength_nm;
	c->v[2] = r.bias_a;
	c->v[3] = r.temperature_c;
	c->v[4] = r.smsr_db;
	return KGD_OK;
}
