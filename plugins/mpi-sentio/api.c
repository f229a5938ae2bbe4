/*
 * plugins/mpi-sentio/api.c - driver ABI entry points for MPI probers run by
 * SENTIO, reached over its remote TCP port (tcp://<host>:35555).
 *
 * Invariants of a handle:
 *  - the prober was put in remote mode ("*RCS 1") at open, before any other
 *    command, as SENTIO requires;
 *  - have_die says whether `die` is where the chuck is (set by every step
 *    that succeeded, cleared by a failed or ended step and by unload), so
 *    contact never has to guess;
 *  - end_of_route is set once the prober said EndOfRoute; step_next then
 *    answers "end" again without moving the chuck.
 * The transport belongs to the station; close() never closes it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kgd/drv_std.h"
#include "protocol.h"

struct sentio_handle {
	drv_std_dev dev;            /* first: transport, identity */
	const sentio_model *model;  /* matched by substring, never NULL */
	char wafer_id[128];
	int loaded;
	int have_die;
	drv_die die;
	int end_of_route;
};

/* Remote mode and identity (sentio_start), then the model row it names:
 * SENTIO matches by substring with a generic row, not by *IDN? fields, so
 * this driver opens with drv_std_open rather than drv_std_scpi_open. */
static int sentio_setup(void *handle, kgd_err *err)
{
	struct sentio_handle *h = handle;
	int rc = sentio_start(h->dev.x, h->dev.idn, sizeof(h->dev.idn), err);

	if (rc == KGD_OK)
		h->model = sentio_match_idn(h->dev.idn);
	return rc;
}

static int sentio_load_wafer(void *handle, int slot, char *wafer_id, size_t cap,
			     kgd_err *err)
{
	struct sentio_handle *h = handle;
	int rc;

	if (slot < 1)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: load_wafer: slot %d is not valid",
				   xport_uri(h->dev.x), slot);
	h->have_die = 0;
	h->end_of_route = 0;
	rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_LOAD_WAFER, h->wafer_id,
			     sizeof(h->wafer_id), NULL, NULL, err, slot);
	if (rc)
		return rc;
	h->loaded = 1;
	rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_ALIGN, NULL, 0, NULL, NULL,
			     err);
	if (rc)
		return rc;
	if (wafer_id && cap)
		snprintf(wafer_id, cap, "%s", h->wafer_id);
	return KGD_OK;
}

/* A step reply: EndOfRoute means there is no further die (the chuck did
 * not move to a new one), otherwise the message is "col,row,site". */
static int step(struct sentio_handle *h, enum sentio_cmd c, drv_die *die,
		int *end, kgd_err *err, int col, int row)
{
	char msg[SENTIO_MSG_MAX];
	int status = 0, x, y;
	int rc;

	h->have_die = 0;
	rc = sentio_exchange(h->dev.x, h->model, c, msg, sizeof(msg), &status, NULL,
			     err, col, row, 0);
	if (rc)
		return rc;
	if (end && (status & SENTIO_STAT_END_OF_ROUTE)) {
		h->end_of_route = 1;
		*end = 1;
		return KGD_OK;
	}
	if (sentio_parse_die(msg, &x, &y, NULL))
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '%s': expected '<col>,<row>,<site>', got '%s'",
				   xport_uri(h->dev.x), h->model->cmds->cmd[c].fmt, msg);
	if (c == SENTIO_CMD_STEP_DIE && (x != col || y != row))
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: 'map:step_die %d,%d,0': prober went to %d,%d",
				   xport_uri(h->dev.x), col, row, x, y);
	h->die.x = x;
	h->die.y = y;
	h->have_die = 1;
	if (end)
		*end = 0;
	if (die)
		*die = h->die;
	return KGD_OK;
}

static int sentio_step_first(void *handle, drv_die *die, int *end, kgd_err *err)
{
	struct sentio_handle *h = handle;
	int dummy;

	h->end_of_route = 0;
	return step(h, SENTIO_CMD_STEP_FIRST, die, end ? end : &dummy, err, 0, 0);
}

static int sentio_step_next(void *handle, drv_die *die, int *end, kgd_err *err)
{
	struct sentio_handle *h = handle;
	int dummy;

	if (h->end_of_route) {
		if (end)
			*end = 1;
		return KGD_OK;
	}
	return step(h, SENTIO_CMD_STEP_NEXT, die, end ? end : &dummy, err, 0, 0);
}

static int sentio_step_to(void *handle, drv_die die, kgd_err *err)
{
	struct sentio_handle *h = handle;

	return step(h, SENTIO_CMD_STEP_DIE, NULL, NULL, err, die.x, die.y);
}

static int sentio_contact(void *handle, kgd_err *err)
{
	struct sentio_handle *h = handle;

	return sentio_exchange(h->dev.x, h->model, SENTIO_CMD_CONTACT, NULL, 0, NULL,
			       NULL, err);
}

static int sentio_separate(void *handle, kgd_err *err)
{
	struct sentio_handle *h = handle;

	return sentio_exchange(h->dev.x, h->model, SENTIO_CMD_SEPARATE, NULL, 0, NULL,
			       NULL, err);
}

static int sentio_bin_die(void *handle, drv_die die, int bin, kgd_err *err)
{
	struct sentio_handle *h = handle;

	if (bin < 0)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: bin_die: bin %d is not valid",
				   xport_uri(h->dev.x), bin);
	return sentio_exchange(h->dev.x, h->model, SENTIO_CMD_SET_BIN, NULL, 0, NULL,
			       NULL, err, bin, die.x, die.y);
}

static int sentio_unload_wafer(void *handle, kgd_err *err)
{
	struct sentio_handle *h = handle;

	h->have_die = 0;
	h->loaded = 0;
	return sentio_exchange(h->dev.x, h->model, SENTIO_CMD_UNLOAD_WAFER, NULL, 0,
			       NULL, NULL, err);
}

static int sentio_current_die(void *handle, drv_die *die, kgd_err *err)
{
	struct sentio_handle *h = handle;
	char msg[SENTIO_MSG_MAX];
	int rc;

	rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_CURRENT_DIE, msg,
			     sizeof(msg), NULL, NULL, err);
	if (rc)
		return rc;
	if (sentio_parse_die(msg, &die->x, &die->y, NULL))
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: 'map:die:get_current_index': expected "
				   "'<col>,<row>', got '%s'", xport_uri(h->dev.x), msg);
	return KGD_OK;
}

static int sentio_die_count(void *handle, int *n, kgd_err *err)
{
	struct sentio_handle *h = handle;
	char msg[SENTIO_MSG_MAX], *end;
	long v;
	int rc;

	rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_NUM_DIES, msg, sizeof(msg),
			     NULL, NULL, err);
	if (rc)
		return rc;
	v = strtol(msg, &end, 10);
	if (end == msg || *end || v < 0 || v > 1000000)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: 'map:get_num_dies': not a die count: '%s'",
				   xport_uri(h->dev.x), msg);
	*n = (int)v;
	return KGD_OK;
}

/* "x,y" of a NanoCube reply into the two numbers. */
static int fiber_reply(struct sentio_handle *h, const char *what, const char *msg,
		       double *x, double *y, kgd_err *err)
{
	char *end;

	*x = strtod(msg, &end);
	if (end != msg && *end == ',') {
		const char *p = end + 1;

		*y = strtod(p, &end);
		if (end != p && (*end == '\0' || *end == '\r' || *end == '\n'))
			return KGD_OK;
	}
	return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: %s: expected 'x,y', got "
			   "'%.60s'", xport_uri(h->dev.x), what, msg);
}

/* The NanoCube's range: a target outside it is refused here rather than
 * by the prober after the step has started. */
static int sentio_fiber_move(void *handle, double x, double y, kgd_err *err)
{
	struct sentio_handle *h = handle;
	char msg[SENTIO_MSG_MAX];
	double nx, ny;
	int rc;

	if (!(x >= 0 && x <= 100 && y >= 0 && y <= 100))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: fiber_move: %g, %g um is "
				   "outside the NanoCube's 0..100 um", xport_uri(h->dev.x),
				   x, y);
	rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_FIBER_MOVE, msg,
			     sizeof(msg), NULL, NULL, err, x, y);
	return rc ? rc : fiber_reply(h, "siph:move_nanocube_xy", msg, &nx, &ny, err);
}

static int sentio_fiber_position(void *handle, double *x, double *y, kgd_err *err)
{
	struct sentio_handle *h = handle;
	char msg[SENTIO_MSG_MAX];
	int rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_FIBER_POS, msg,
				 sizeof(msg), NULL, NULL, err);

	return rc ? rc : fiber_reply(h, "siph:get_nanocube_xy", msg, x, y, err);
}

/* Exactly n comma-separated numbers (the message of a map:get_* reply);
 * -1 if it is not that. */
static int parse_nums(const char *msg, double *v, int n)
{
	const char *p = msg;
	char *end;

	for (int i = 0; i < n; i++) {
		v[i] = strtod(p, &end);
		if (end == p || !isfinite(v[i]))
			return -1;
		while (*end == ' ')
			end++;
		if (i < n - 1 && *end != ',')
			return -1;
		p = end + (i < n - 1);
		while (*p == ' ')
			p++;
	}
	return *end == '\0' || *end == '\r' || *end == '\n' ? 0 : -1;
}

/* One map:get_* query answered by n numbers. */
static int map_query(struct sentio_handle *h, enum sentio_cmd c, const char *what,
		     double *v, int n, kgd_err *err)
{
	char msg[SENTIO_MSG_MAX];
	int rc = sentio_exchange(h->dev.x, h->model, c, msg, sizeof(msg), NULL,
				 NULL, err);

	if (rc)
		return rc;
	if (parse_nums(msg, v, n))
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: '%s': expected %d "
				   "number%s, got '%.60s'", xport_uri(h->dev.x), what,
				   n, n == 1 ? "" : "s", msg);
	return KGD_OK;
}

static int pass_err(kgd_err *err, const kgd_err *e2, int rc)
{
	if (err)
		*err = *e2;
	return rc;
}

/* SENTIO's map:get_diameter (mm), get_index_size (um), get_num_cols and
 * get_num_rows are required; the edge exclusion (get_grid_params) and the
 * orientation marker (get_orient_marker) are not in every SENTIO release,
 * so the prober's refusal of either leaves that field unknown (NAN). */
static int sentio_map_geometry(void *handle, drv_map_geometry *g, kgd_err *err)
{
	struct sentio_handle *h = handle;
	char msg[SENTIO_MSG_MAX], *end;
	double v[5];
	kgd_err e2;
	int rc;

	g->edge_um = g->notch_deg = NAN;
	if ((rc = map_query(h, SENTIO_CMD_DIAMETER, "map:get_diameter", v, 1, err)))
		return rc;
	g->diameter_mm = v[0];
	if ((rc = map_query(h, SENTIO_CMD_INDEX_SIZE, "map:get_index_size", v, 2, err)))
		return rc;
	g->die_w_um = v[0];
	g->die_h_um = v[1];
	if ((rc = map_query(h, SENTIO_CMD_NUM_COLS, "map:get_num_cols", v, 1, err)))
		return rc;
	g->cols = v[0] >= 0 && v[0] <= 100000 ? (int)v[0] : -1;
	if ((rc = map_query(h, SENTIO_CMD_NUM_ROWS, "map:get_num_rows", v, 1, err)))
		return rc;
	g->rows = v[0] >= 0 && v[0] <= 100000 ? (int)v[0] : -1;
	if (!(g->diameter_mm > 0 && g->diameter_mm <= 1000) || !(g->die_w_um > 0)
	    || !(g->die_h_um > 0) || g->cols < 1 || g->rows < 1)
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: map geometry out of "
				   "range: %g mm wafer, index %g x %g um, %d x %d "
				   "dies", xport_uri(h->dev.x), g->diameter_mm,
				   g->die_w_um, g->die_h_um, g->cols, g->rows);
	kgd_err_clear(&e2);
	rc = map_query(h, SENTIO_CMD_GRID_PARAMS, "map:get_grid_params", v, 5, &e2);
	if (rc == KGD_OK && v[4] >= 0)
		g->edge_um = v[4];
	else if (rc && rc != KGD_ERR_INSTRUMENT)
		return pass_err(err, &e2, rc);
	kgd_err_clear(&e2);
	rc = sentio_exchange(h->dev.x, h->model, SENTIO_CMD_ORIENT_MARKER, msg,
			     sizeof(msg), NULL, NULL, &e2);
	if (rc && rc != KGD_ERR_INSTRUMENT)
		return pass_err(err, &e2, rc);
	if (rc == KGD_OK) {
		/* "Notch,<angle>,<width>" or "Flat,...": the angle only. */
		const char *p = strchr(msg, ',');

		if (!p || (strncasecmp(msg, "notch", 5) && strncasecmp(msg, "flat", 4)))
			return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: "
					   "'map:get_orient_marker': expected "
					   "'Notch|Flat,angle,width', got '%.60s'",
					   xport_uri(h->dev.x), msg);
		g->notch_deg = strtod(p + 1, &end);
		if (end == p + 1 || *end != ',' || !(g->notch_deg >= -720 && g->notch_deg <= 720))
			return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s: "
					   "'map:get_orient_marker': not an angle in "
					   "'%.60s'", xport_uri(h->dev.x), msg);
		/* 0..360 (no libm in a plugin: at most two turns) */
		while (g->notch_deg < 0)
			g->notch_deg += 360;
		while (g->notch_deg >= 360)
			g->notch_deg -= 360;
	}
	return KGD_OK;
}

static const drv_prober_ops prober_ops = {
	.load_wafer = sentio_load_wafer,
	.step_first = sentio_step_first,
	.step_next = sentio_step_next,
	.step_to = sentio_step_to,
	.contact = sentio_contact,
	.separate = sentio_separate,
	.bin_die = sentio_bin_die,
	.unload_wafer = sentio_unload_wafer,
	.current_die = sentio_current_die,
	.die_count = sentio_die_count,
	.fiber_move = sentio_fiber_move,
	.fiber_position = sentio_fiber_position,
	.map_geometry = sentio_map_geometry,
};

DRV_STD_DRIVER(SENTIO_DRIVER, struct sentio_handle, sentio_setup,
	       .klass = DRV_CLASS_PROBER, .prober = &prober_ops,
	       .description = "MPI wafer probers under SENTIO remote control (TCP 35555)");

/* For `station run --dry-run` (kgd/driver.h, optional): the prober: moves are the wafer process's, not steps'. */
__attribute__((visibility("default")))
const drv_timing kgd_driver_timing = {0.05, 0, 0};
