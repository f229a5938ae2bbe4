/*
 * station/rig.c - the instruments a sequence uses: which roles it needs
 * and of what class, loading their drivers, opening and closing them, and
 * reopening one whose connection was lost.
 *
 * Invariant: a run_station holds every role the sequence needs, each with
 * a loaded driver of the class its steps need and an open instrument -
 * so the layers above never check for a missing role or operation.
 */
#include "run_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static run_need *need_find(run_need *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			return &r[i];
	return NULL;
}

/* Adds name unless known; returns its entry, or NULL past the table
 * (the count still grows, so the caller sees there were too many). */
static run_need *need_add(run_need *out, size_t *n, const char *name,
			  seq_loc loc)
{
	run_need *r = need_find(out, *n < RUN_MAX_ROLES ? *n : RUN_MAX_ROLES, name);

	if (r)
		return r;
	if (*n >= RUN_MAX_ROLES) {
		(*n)++;
		return NULL;
	}
	r = &out[(*n)++];
	*r = (run_need){name, 0, loc, NULL};
	return r;
}

size_t run_collect_roles(const seq_sequence *s, run_need *out)
{
	seq_loc first = {1, 1, 0};
	size_t n = 0;
	run_need *r;

	/* The prober first: the wafer process cannot run without it, so it is
	 * never the role that falls off a full table. */
	if (s->process == SEQ_PROCESS_WAFER) {
		r = need_add(out, &n, "prober", s->n_roles ? s->role_locs[0] : first);
		r->klass = DRV_CLASS_PROBER;
		r->why = "the wafer process";
	}
	for (size_t i = 0; i < s->n_roles; i++)
		need_add(out, &n, s->roles[i], s->role_locs[i]);
	for (size_t i = 0; i < seq_n_steps(s); i++) {
		const seq_step *st = seq_step_at(s, i);
		const run_op *op = run_find_op(st->op);

		if (!st->role)
			continue;
		r = need_add(out, &n, st->role, st->loc);
		if (r && op && op->klass > 0 && r->klass == 0) {
			r->klass = op->klass;
			r->why = st->name;
		}
		/* Roles a param names (an LIV's power meter) are opened too. */
		for (size_t k = 0; op && k < st->n_params; k++) {
			const run_param *rp = run_op_param(op, st->params[k].key);

			if (!rp || rp->type != RUN_P_PM_ROLE)
				continue;
			r = need_add(out, &n, st->params[k].value, st->params[k].loc);
			if (r && r->klass == 0) {
				r->klass = DRV_CLASS_POWER_METER;
				r->why = st->name;
			}
		}
	}
	return n;
}

run_role *run_find_role(run_station *rs, const char *role)
{
	for (size_t i = 0; role && i < rs->n_roles; i++)
		if (strcmp(rs->roles[i].inst->role, role) == 0)
			return &rs->roles[i];
	return NULL;
}

int run_locate_driver(const cfg_station *c, const cfg_instrument *inst,
		      kgd_err *err)
{
	const char *dirs[32];
	size_t n_dirs = drv_plugin_dirs((const char *const *)c->plugin_path,
					c->n_plugin_path, dirs, 32);
	char path[PATH_MAX];
	int rc;

	rc = drv_plugin_locate(inst->driver, dirs, n_dirs, path, sizeof(path),
			       err);
	if (rc)
		kgd_err_prefix(err, "%s:%d:%d: role '%s': ", c->path, inst->line,
			       inst->column, inst->role);
	return rc;
}

int run_load_driver(const cfg_station *c, const cfg_instrument *inst,
		    int need_class, drv_plugin **out, kgd_err *err)
{
	const char *dirs[32];
	size_t n_dirs = drv_plugin_dirs((const char *const *)c->plugin_path,
					c->n_plugin_path, dirs, 32);
	drv_plugin *p;
	int rc;

	rc = drv_plugin_find(inst->driver, dirs, n_dirs, &p, err);
	if (rc) {
		kgd_err_prefix(err, "%s:%d:%d: role '%s': ", c->path, inst->line,
			       inst->column, inst->role);
		return rc;
	}
	if (need_class > 0 && p->desc->klass != need_class) {
		rc = kgd_err_set(err, KGD_ERR_ABI,
			"%s:%d:%d: role '%s' uses driver '%s', a %s, but the "
			"sequence needs a %s", c->path, inst->line, inst->column,
			inst->role, inst->driver, drv_class_name(p->desc->klass),
			drv_class_name(need_class));
		drv_plugin_unload(p);
		return rc;
	}
	*out = p;
	return KGD_OK;
}

int run_open_role(run_role *r, kgd_err *err)
{
	int rc;

	rc = xport_open(r->inst->uri, r->inst->timeout_ms > 0 ? r->inst->timeout_ms
							      : XPORT_DEFAULT_TIMEOUT_MS,
			&r->x, err);
	if (rc) {
		kgd_err_prefix(err, "role '%s': ", r->inst->role);
		return rc;
	}
	/* The role names the transport's trace lines (station run --trace).
	 * Out of memory for the copy leaves them "-": no reason to fail. */
	(void)xport_set_label(r->x, r->inst->role);
	rc = r->plugin->desc->open(r->x, &r->h, err);
	if (rc) {
		r->h = NULL;
		kgd_err_prefix(err, "role '%s' (%s): ", r->inst->role,
			       r->inst->driver);
	}
	return rc;
}

int run_reopen_role(run_role *r, kgd_err *err)
{
	if (r->h)
		r->plugin->desc->close(r->h);
	r->h = NULL;
	xport_close(r->x);
	r->x = NULL;
	return run_open_role(r, err);
}

void run_station_close(run_station *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_roles; i++) {
		run_role *r = &rs->roles[i];

		if (r->h)
			r->plugin->desc->close(r->h);
		xport_close(r->x);
		if (r->plugin)
			drv_plugin_unload(r->plugin);
	}
	free(rs);
}
