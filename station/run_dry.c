/*
 * station/run_dry.c - `station run --dry-run`: walk a sequence for one
 * part against the configured drivers, opening no instrument and writing
 * nothing: each step with its role's driver, its sweep size, whether the
 * driver's parallel form (all-port read, multi-lane gate) would serve it,
 * and an estimated time from the driver's declared timing
 * (KGD_DRIVER_TIMING_SYMBOL, kgd/driver.h) and the step's params; then
 * the total per part.
 *
 * Invariant: the dry run refuses what a run refuses (run_validate with
 * the config) before it estimates anything, and the estimate follows the
 * run's own rules: the same point count (seq_step_points), the same
 * choice of the batch path (the op's batch variable swept over more than
 * one value, not zipped, a driver that offers it), a parallel block
 * taking its longest branch. Retries are not counted: they depend on the
 * parts.
 */
#include "run_int.h"

#include <stdio.h>
#include <string.h>

/* What a driver without a timing declaration is assumed to take. */
#define DRY_COMMAND_S 0.01
#define DRY_READ_S 0.02

typedef struct dry_role {
	const char *name;
	run_role r;             /* plugin loaded, nothing opened */
} dry_role;

typedef struct dry {
	dry_role roles[RUN_MAX_ROLES];
	size_t n_roles;
	int assumed;            /* some driver declared no timing */
} dry;

static const dry_role *dry_find(const dry *d, const char *role)
{
	for (size_t i = 0; role && i < d->n_roles; i++)
		if (strcmp(d->roles[i].name, role) == 0)
			return &d->roles[i];
	return NULL;
}

/* The values of sweep variable `var` of st: how many (0: not swept). */
static size_t var_values(const seq_step *st, const char *var, int *zipped)
{
	for (size_t i = 0; var && i < st->n_sweep; i++)
		if (strcmp(st->sweep[i].name, var) == 0) {
			if (zipped)
				*zipped = st->sweep[i].zip;
			return st->sweep[i].n_values;
		}
	return 0;
}

/* The estimate of one step, seconds; how it runs into how (a note). */
static double step_time(dry *d, const seq_step *st, const run_op *op,
			size_t points, char *how, size_t cap)
{
	const dry_role *dr = dry_find(d, st->role);
	const drv_timing *t = dr && dr->r.plugin ? dr->r.plugin->timing : NULL;
	double cmd = t ? t->command_s : DRY_COMMAND_S;
	double rd = t ? t->read_s : DRY_READ_S;
	size_t nbatch = 0;
	int zipped = 0;

	how[0] = '\0';
	if (st->role && dr && !t)
		d->assumed = 1;
	if (op->batch && dr && dr->r.plugin && op->can_batch(&dr->r)) {
		nbatch = var_values(st, op->batch_var, &zipped);
		if (nbatch < 2 || zipped)
			nbatch = 0;
	}
	if (strcmp(op->name, "wait") == 0)
		return run_param_num(st, "seconds", 0);
	if (op->kind == RUN_KIND_PROMPT) {
		snprintf(how, cap, "the operator's answer not counted");
		return 0;
	}
	if (op->kind == RUN_KIND_MATCH)
		return 0;   /* the identity read at open */
	if (op->klass == DRV_CLASS_POWER_METER) {
		double avg = run_param_num(st, "averaging_s", 0);

		if (nbatch) {
			size_t groups = points / nbatch;

			snprintf(how, cap, "all-port read: %zu reads of %zu ports", groups, nbatch);
			/* per group: the wavelength to each port (or one message),
			 * averaging, one read */
			return (double)groups *
			       ((dr->r.plugin->desc->pm->set_wavelength_ports ? cmd
				 : cmd * (double)nbatch) + cmd + avg + rd);
		}
		return (double)points * (2 * cmd + avg + rd);
	}
	if (strcmp(op->name, "ber") == 0) {
		double gate = run_param_num(st, "gate_s", 1.0);

		if (nbatch) {
			size_t groups = points / nbatch;

			snprintf(how, cap, "multi-lane gate: %zu gates of %zu lanes", groups, nbatch);
			return (double)groups * (2 * cmd + gate + (double)nbatch * rd);
		}
		return (double)points * (cmd + gate + rd);
	}
	if (strcmp(op->name, "read") == 0)
		return (double)points * rd;
	/* configure, enable, disable: settings */
	return (double)points * cmd * (strcmp(op->name, "configure") == 0 ? 3 : 1);
}

static const char *list_name(const seq_sequence *s, size_t i)
{
	return i < s->n_setup ? "setup" : i < s->n_setup + s->n_main ? "main" : "cleanup";
}

/* A swept index past what the driver says its instrument has. */
static int check_channels(const dry *d, const seq_sequence *s, const seq_step *st,
			  const run_op *op, kgd_err *err)
{
	const dry_role *dr = dry_find(d, st->role);
	const drv_timing *t = dr && dr->r.plugin ? dr->r.plugin->timing : NULL;

	if (!t || t->channels <= 0)
		return KGD_OK;
	for (size_t i = 0; i < st->n_sweep; i++) {
		const run_range *r = run_op_range(op, st->sweep[i].name);

		if (!r || !r->whole)
			continue;
		for (size_t j = 0; j < st->sweep[i].n_values; j++)
			if (st->sweep[i].values[j] > t->channels)
				return kgd_err_set(err, KGD_ERR_ARG,
						   "%s:%d:%d: %s %g: driver '%s' of role '%s' declares %s 1..%d",
						   seq_loc_path(s, st->sweep[i].loc), st->sweep[i].loc.line,
						   st->sweep[i].loc.column, st->sweep[i].name,
						   st->sweep[i].values[j], dr->r.plugin->desc->name,
						   st->role, st->sweep[i].name, t->channels);
	}
	return KGD_OK;
}

int run_dry(const seq_sequence *s, const cfg_station *c, FILE *out, kgd_err *err)
{
	run_need needs[RUN_MAX_ROLES];
	size_t n = run_collect_roles(s, needs), n_points = 0, n_steps = 0;
	double total = 0, block_max = 0, branch_sum = 0;
	int rc, block = 0, branch = -1;
	dry d;

	memset(&d, 0, sizeof(d));
	rc = run_validate(s, c, err);
	for (size_t i = 0; !rc && i < n && i < RUN_MAX_ROLES; i++) {
		const cfg_instrument *inst = cfg_find_role(c, needs[i].name);
		dry_role *dr = &d.roles[d.n_roles];

		if (!inst)
			continue;   /* run_validate said so already */
		rc = run_load_driver(c, inst, needs[i].klass, &dr->r.plugin, err);
		if (rc)
			break;
		dr->name = needs[i].name;
		dr->r.inst = inst;
		d.n_roles++;
	}
	if (rc)
		goto out;
	fprintf(out, "dry run of %s on %s, one part (no instrument opened, nothing written)\n",
		s->path, c->path);
	fprintf(out, "  %-8s %-20s %-22s %-16s %8s %10s\n", "list", "step", "operation",
		"driver", "points", "estimate");
	for (size_t i = 0; i < seq_n_steps(s); i++) {
		const seq_step *st = seq_step_at(s, i);
		const run_op *op = run_find_op(st->op);
		const dry_role *dr = dry_find(&d, st->role);
		size_t points = seq_step_points(st);
		char id[96], how[96];
		double t;

		if (!op)
			continue;   /* run_validate refuses it */
		rc = check_channels(&d, s, st, op, err);
		if (rc)
			goto out;
		/* Leaving a block: its longest branch counts. */
		if (block && st->block != block) {
			if (branch_sum > block_max)
				block_max = branch_sum;
			total += block_max;
			fprintf(out, "  %-8s (parallel block %d: its longest branch, %.3f s)\n",
				"", block, block_max);
			block = 0;
		}
		if (st->block && st->block != block) {
			block = st->block;
			branch = st->branch;
			block_max = branch_sum = 0;
		}
		if (block && st->branch != branch) {
			if (branch_sum > block_max)
				block_max = branch_sum;
			branch_sum = 0;
			branch = st->branch;
		}
		t = step_time(&d, st, op, points, how, sizeof(how));
		if (block)
			branch_sum += t;
		else
			total += t;
		n_points += points;
		n_steps++;
		snprintf(id, sizeof(id), "%s%s%s", st->role ? st->role : "",
			 st->role ? "." : "", op->name);
		fprintf(out, "  %-8s %-20s %-22s %-16s %8zu %8.3f s%s%s%s\n",
			list_name(s, i), st->name, id,
			dr && dr->r.plugin ? dr->r.plugin->desc->name : "-", points, t,
			block ? " [branch " : "",
			block && s->blocks[block - 1].branch_names[st->branch]
			? s->blocks[block - 1].branch_names[st->branch] : "",
			block ? "]" : "");
		if (how[0])
			fprintf(out, "  %-8s %-20s (%s)\n", "", "", how);
	}
	if (block) {
		if (branch_sum > block_max)
			block_max = branch_sum;
		total += block_max;
		fprintf(out, "  %-8s (parallel block %d: its longest branch, %.3f s)\n", "",
			block, block_max);
	}
	fprintf(out, "per part: %zu steps, %zu points, about %.3f s (retries not counted)\n",
		n_steps, n_points, total);
	if (d.assumed)
		fprintf(out, "(a driver declares no timing: %g s a command, %g s a read assumed)\n",
			DRY_COMMAND_S, DRY_READ_S);
out:
	for (size_t i = 0; i < d.n_roles; i++)
		drv_plugin_unload(d.roles[i].r.plugin);
	return rc;
}
