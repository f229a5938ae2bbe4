/*
 * instruments/sim/prober.c - see prober.h. Command set: the table
 * `commands`; moves take modelled time (chuck speed, contact, load), which
 * the socket loop scales by --time-scale before replying.
 */
#include "prober.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Modelled times, seconds (docs/VIRTUAL_STATION.md). */
#define T_LOAD 3.0
#define T_UNLOAD 2.0
#define T_ALIGN 1.5
#define T_STEP_BASE 0.05
#define T_STEP_PER_MM 0.002
#define T_CONTACT 0.03
#define T_SEPARATE 0.02

enum {
	E_OK = 0, E_UNKNOWN = 1, E_NO_WAFER = 2, E_NO_DIE = 3, E_NOT_AT_DIE = 4,
	E_CONTACT = 5, E_PARAM = 6, E_LOADED = 7, E_FAULT = 8,
};
#define END_OF_ROUTE (1 << 10)

struct sim_prober {
	sim_station *st;
	long cmd_id;
	int remote;
	int route_pos;            /* index into the route of the current die */
	int16_t *bins;            /* [slot-1][col][row], 0 = not binned */
	int fail[SIM_PROBER_MAX_FAIL][2];
	int n_fail;
	int last_slot;            /* for sim:get_bin after unload */
	/* per command */
	double busy_s;
	int code;
	char msg[128];
};

typedef void (*prober_fn)(sim_prober *p, const char *args);

struct prober_cmd {
	const char *name;
	prober_fn fn;
};

static void fail(sim_prober *p, int code, const char *text)
{
	p->code = code;
	snprintf(p->msg, sizeof(p->msg), "%s", text);
}

static int16_t *bin_at(sim_prober *p, int slot, int col, int row)
{
	return &p->bins[((size_t)(slot - 1) * SIM_MAX_GRID + (size_t)col) * SIM_MAX_GRID
			+ (size_t)row];
}

static int need_wafer(sim_prober *p)
{
	if (p->st->slot)
		return 0;
	fail(p, E_NO_WAFER, "no wafer loaded");
	return -1;
}

static void separate(sim_prober *p)
{
	if (p->st->contact) {
		p->st->contact = 0;
		p->st->contact_epoch++;
		p->busy_s += T_SEPARATE;
	}
}

/* Move the chuck to route position i (separating first). */
static void move_to(sim_prober *p, int i)
{
	sim_station *st = p->st;
	const sim_model *m = &st->model;
	int col = m->route[i][0], row = m->route[i][1];

	separate(p);
	if (st->at_die) {
		double dx = (col - st->col) * m->p.die_w_mm, dy = (row - st->row) * m->p.die_h_mm;

		p->busy_s += T_STEP_BASE + T_STEP_PER_MM * sqrt(dx * dx + dy * dy);
	} else {
		p->busy_s += T_STEP_BASE + T_STEP_PER_MM * m->p.wafer_mm / 2;
	}
	st->at_die = 1;
	st->col = col;
	st->row = row;
	p->route_pos = i;
	snprintf(p->msg, sizeof(p->msg), "%d,%d,0", col, row);
}

static void c_rcs(sim_prober *p, const char *args)
{
	(void)args;
	p->remote = 1;
}

static void c_select_module(sim_prober *p, const char *args)
{
	(void)p;
	(void)args;
}

static void c_load(sim_prober *p, const char *args)
{
	sim_station *st = p->st;
	char *end;
	long slot = strtol(args, &end, 10);

	/* "<station>,<slot>" as SENTIO writes it is accepted too. */
	if (*end == ',')
		slot = strtol(end + 1, &end, 10);
	if (end == args || *end || slot < 1 || slot > st->model.p.wafers) {
		fail(p, E_PARAM, "no such slot");
		return;
	}
	if (st->slot) {
		fail(p, E_LOADED, "wafer already loaded");
		return;
	}
	st->slot = (int)slot;
	st->at_die = 0;
	st->contact = 0;
	p->last_slot = (int)slot;
	p->route_pos = -1;
	p->busy_s += T_LOAD;
	sim_wafer_id(&st->model, (int)slot, p->msg, sizeof(p->msg));
}

static void c_unload(sim_prober *p, const char *args)
{
	(void)args;
	if (need_wafer(p))
		return;
	separate(p);
	p->st->slot = 0;
	p->st->at_die = 0;
	p->busy_s += T_UNLOAD;
}

static void c_align(sim_prober *p, const char *args)
{
	(void)args;
	if (!need_wafer(p))
		p->busy_s += T_ALIGN;
}

static void c_step_first(sim_prober *p, const char *args)
{
	(void)args;
	if (!need_wafer(p))
		move_to(p, 0);
}

static void c_step_next(sim_prober *p, const char *args)
{
	(void)args;
	if (need_wafer(p))
		return;
	if (p->route_pos + 1 >= p->st->model.n_dies) {
		separate(p);
		p->code = END_OF_ROUTE;
		return;
	}
	move_to(p, p->route_pos + 1);
}

static int parse_die(sim_prober *p, const char *args, int *col, int *row)
{
	int site = 0;

	if (sscanf(args, "%d , %d , %d", col, row, &site) < 2) {
		fail(p, E_PARAM, "expected col,row[,site]");
		return -1;
	}
	if (sim_die_index(&p->st->model, *col, *row) < 0) {
		fail(p, E_NO_DIE, "no such die in the map");
		return -1;
	}
	return 0;
}

static void c_step_die(sim_prober *p, const char *args)
{
	int col, row;

	if (need_wafer(p) || parse_die(p, args, &col, &row))
		return;
	move_to(p, sim_die_index(&p->st->model, col, row));
}

static void c_current(sim_prober *p, const char *args)
{
	(void)args;
	if (need_wafer(p))
		return;
	if (!p->st->at_die) {
		fail(p, E_NOT_AT_DIE, "not at a die");
		return;
	}
	snprintf(p->msg, sizeof(p->msg), "%d,%d", p->st->col, p->st->row);
}

static void c_num_dies(sim_prober *p, const char *args)
{
	(void)args;
	snprintf(p->msg, sizeof(p->msg), "%d", p->st->model.n_dies);
}

/* The map's geometry, as SENTIO's map:get_* commands answer it: the
 * model's wafer (sim/model.c: the grid centred on the wafer, notch
 * down). */
static void c_diameter(sim_prober *p, const char *args)
{
	(void)args;
	snprintf(p->msg, sizeof(p->msg), "%d", (int)p->st->model.p.wafer_mm);
}

static void c_index_size(sim_prober *p, const char *args)
{
	(void)args;
	snprintf(p->msg, sizeof(p->msg), "%.1f,%.1f", p->st->model.p.die_w_mm * 1000,
		 p->st->model.p.die_h_mm * 1000);
}

static void c_num_cols(sim_prober *p, const char *args)
{
	(void)args;
	snprintf(p->msg, sizeof(p->msg), "%d", p->st->model.cols);
}

static void c_num_rows(sim_prober *p, const char *args)
{
	(void)args;
	snprintf(p->msg, sizeof(p->msg), "%d", p->st->model.rows);
}

/* index x, y, grid offset x, y (half a die: site 0 at the die's centre),
 * edge exclusion; micrometres. */
static void c_grid_params(sim_prober *p, const char *args)
{
	const sim_model_params *m = &p->st->model.p;

	(void)args;
	snprintf(p->msg, sizeof(p->msg), "%.0f,%.0f,%.0f,%.0f,%.0f", m->die_w_mm * 1000,
		 m->die_h_mm * 1000, m->die_w_mm * 500, m->die_h_mm * 500,
		 m->edge_mm * 1000);
}

static void c_orient_marker(sim_prober *p, const char *args)
{
	(void)args;
	snprintf(p->msg, sizeof(p->msg), "Notch,270.0,3000.0");
}

static void c_contact(sim_prober *p, const char *args)
{
	sim_station *st = p->st;

	(void)args;
	if (need_wafer(p))
		return;
	if (!st->at_die) {
		fail(p, E_NOT_AT_DIE, "not at a die");
		return;
	}
	for (int i = 0; i < p->n_fail; i++)
		if (p->fail[i][0] == st->col && p->fail[i][1] == st->row) {
			fail(p, E_CONTACT, "contact failed");
			return;
		}
	if (!st->contact) {
		st->contact = 1;
		st->contact_epoch++;
		p->busy_s += T_CONTACT;
	}
}

static void c_separate(sim_prober *p, const char *args)
{
	(void)args;
	if (!need_wafer(p))
		separate(p);
}

static void set_bin(sim_prober *p, int bin, int col, int row)
{
	if (bin < 0 || bin > 9999) {
		fail(p, E_PARAM, "bin out of range");
		return;
	}
	*bin_at(p, p->st->slot, col, row) = (int16_t)bin;
}

static void c_set_bin(sim_prober *p, const char *args)
{
	int bin, col, row;

	if (need_wafer(p))
		return;
	if (sscanf(args, "%d , %d , %d", &bin, &col, &row) != 3) {
		fail(p, E_PARAM, "expected bin,col,row");
		return;
	}
	if (sim_die_index(&p->st->model, col, row) < 0) {
		fail(p, E_NO_DIE, "no such die in the map");
		return;
	}
	set_bin(p, bin, col, row);
}

static void c_bin_step_next(sim_prober *p, const char *args)
{
	char *end;
	long bin = strtol(args, &end, 10);

	if (need_wafer(p))
		return;
	if (!p->st->at_die) {
		fail(p, E_NOT_AT_DIE, "not at a die");
		return;
	}
	if (end == args || *end) {
		fail(p, E_PARAM, "expected bin");
		return;
	}
	set_bin(p, (int)bin, p->st->col, p->st->row);
	if (!p->code)
		c_step_next(p, "");
}

/* Simulator only: the bin recorded for a die ("" when not binned). */
static void c_sim_get_bin(sim_prober *p, const char *args)
{
	int col, row, slot = 0, n = sscanf(args, "%d , %d , %d", &col, &row, &slot);

	if (n < 2 || sim_die_index(&p->st->model, col, row) < 0) {
		fail(p, E_NO_DIE, "no such die in the map");
		return;
	}
	if (n < 3)
		slot = p->st->slot ? p->st->slot : p->last_slot;
	if (slot < 1 || slot > p->st->model.p.wafers) {
		fail(p, E_NO_WAFER, "no wafer");
		return;
	}
	if (*bin_at(p, slot, col, row))
		snprintf(p->msg, sizeof(p->msg), "%d", *bin_at(p, slot, col, row));
}

/* siph:move_nanocube_xy <probe>,x,y: the SiPh positioner, 0..100 um per
 * axis; replies the position reached. One positioner (East) here. */
static int fiber_probe(sim_prober *p, const char *args, const char **rest)
{
	size_t n = strcspn(args, ",");

	if (n == 0 || (strncasecmp(args, "East", n) != 0 && strncasecmp(args, "E", n) != 0)) {
		fail(p, E_PARAM, "unknown SiPh probe (East only)");
		return -1;
	}
	*rest = args[n] == ',' ? args + n + 1 : args + n;
	return 0;
}

static void c_nanocube_move(sim_prober *p, const char *args)
{
	const char *rest;
	double x, y;

	if (fiber_probe(p, args, &rest))
		return;
	if (sscanf(rest, "%lf , %lf", &x, &y) != 2) {
		fail(p, E_PARAM, "expected probe,x,y");
		return;
	}
	if (!(x >= 0 && x <= 100 && y >= 0 && y <= 100)) {
		fail(p, E_PARAM, "NanoCube position out of range 0..100 um");
		return;
	}
	p->st->fiber_x = x;
	p->st->fiber_y = y;
	p->busy_s += SIM_T_NANOCUBE_S;
	snprintf(p->msg, sizeof(p->msg), "%.4f,%.4f", x, y);
}

static void c_nanocube_get(sim_prober *p, const char *args)
{
	const char *rest;

	if (fiber_probe(p, args, &rest))
		return;
	snprintf(p->msg, sizeof(p->msg), "%.4f,%.4f", p->st->fiber_x, p->st->fiber_y);
}

static void c_move_origin(sim_prober *p, const char *args)
{
	const char *rest;

	if (fiber_probe(p, args, &rest))
		return;
	p->st->fiber_x = p->st->fiber_y = SIM_FIBER_ORIGIN_UM;
	p->busy_s += SIM_T_NANOCUBE_S;
}

static const struct prober_cmd commands[] = {
	{"siph:move_nanocube_xy", c_nanocube_move},
	{"siph:get_nanocube_xy", c_nanocube_get},
	{"siph:move_origin", c_move_origin},
	{"*rcs", c_rcs},
	{"select_module", c_select_module},
	{"loader:load_wafer", c_load},
	{"loader:unload_wafer", c_unload},
	{"vis:align_wafer", c_align},
	{"map:step_first_die", c_step_first},
	{"map:step_next_die", c_step_next},
	{"map:step_die", c_step_die},
	{"map:die:get_current_index", c_current},
	{"map:get_num_dies", c_num_dies},
	{"map:get_diameter", c_diameter},
	{"map:get_index_size", c_index_size},
	{"map:get_num_cols", c_num_cols},
	{"map:get_num_rows", c_num_rows},
	{"map:get_grid_params", c_grid_params},
	{"map:get_orient_marker", c_orient_marker},
	{"move_chuck_contact", c_contact},
	{"move_chuck_separation", c_separate},
	{"map:bins:set_bin", c_set_bin},
	{"map:bin_step_next_die", c_bin_step_next},
	{"sim:get_bin", c_sim_get_bin},
};

sim_prober *sim_prober_new(sim_station *st, const int (*fail_dies)[2], int n_fail)
{
	sim_prober *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->bins = calloc((size_t)st->model.p.wafers * SIM_MAX_GRID * SIM_MAX_GRID,
			 sizeof(*p->bins));
	if (!p->bins) {
		free(p);
		return NULL;
	}
	p->st = st;
	p->route_pos = -1;
	for (int i = 0; i < n_fail && i < SIM_PROBER_MAX_FAIL; i++) {
		p->fail[i][0] = fail_dies[i][0];
		p->fail[i][1] = fail_dies[i][1];
		p->n_fail++;
	}
	return p;
}

void sim_prober_free(sim_prober *p)
{
	if (p)
		free(p->bins);
	free(p);
}

int sim_prober_execute(void *inst, const char *line, const sim_fx *fx, sim_buf *out,
		       double *busy_s)
{
	sim_prober *p = inst;
	char name[64], reply[256];
	const char *args;
	size_t n;
	int found = 0, len;

	line += strspn(line, " \t");
	n = strcspn(line, " \t");
	if (n == 0)
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), line);
	args = line + n;
	args += strspn(args, " \t");
	p->busy_s = 0;
	p->code = 0;
	p->msg[0] = '\0';
	if (fx && fx->error) {
		fail(p, E_FAULT, "simulated fault");
		found = 1;
	}
	for (size_t i = 0; !found && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcasecmp(name, commands[i].name) == 0) {
			commands[i].fn(p, args);
			found = 1;
		}
	if (!found)
		fail(p, E_UNKNOWN, "unknown command");
	*busy_s = p->busy_s;
	/* *RCS switches to the remote command set and is not answered. */
	if (strcasecmp(name, "*rcs") == 0 && !(fx && fx->error))
		return 0;
	p->cmd_id++;
	if (fx && fx->garbage && !p->code && p->msg[0])
		snprintf(p->msg, sizeof(p->msg), "#?garbage");
	len = snprintf(reply, sizeof(reply), "%d,%ld,%s\n", p->code, p->cmd_id, p->msg);
	return sim_buf_add(out, reply, (size_t)len);
}
