/*
 * station/proc_wafer.c - the wafer process model. For each cassette slot
 * of the lot the prober loads and aligns the wafer, then the station walks
 * the die list (the prober's test map, or the dies given to retest): step
 * to the die, contact, run setup/main/cleanup, separate, bin the die on the
 * prober with its hard bin, and commit the die's results. End of wafer ->
 * unload -> next slot.
 *
 * Order matters for "every die tested exactly once": the die is binned on
 * the prober before its run is committed, so the database is the record
 * of truth - a die whose commit did not happen (crash, abort) is untested
 * and --resume tests it again (re-binning it), while a committed die is
 * never tested twice.
 *
 * Abort (SIGINT/SIGTERM): the die in flight is abandoned - its record is
 * dropped after cleanup ran - the probes are lifted (separate) and the
 * wafer unloaded, so the next run (--resume) starts from a known prober
 * state. A wafer left on the chuck by a station that died is unloaded when
 * loading fails, and loading tried once more. A prober error stops the
 * lot: the station cannot know where the probes are. Two exceptions, both
 * logged: a refused contact is tried again (--contact-retries) and then
 * makes the die an error part; a die the route names twice stops the lot
 * (unexpected die position).
 */
#include "run_int.h"
#include "ident.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct die_set {
	drv_die *v;
	size_t n, cap;
} die_set;

typedef struct wafer_walk {
	run_ctx *cx;
	run_role *pr;
	const drv_prober_ops *ops;
	char wafer[128];
	int slot;
	size_t slots_left;      /* this wafer's and the ones after it */
	int lot_confirmed;      /* the operator said yes to a wafer id
	                           naming another lot */
	size_t done, total;
	struct die_set *seen;   /* dies the route reached on this wafer */
	db_wafer_map map;       /* the loaded wafer's map geometry (has = 0:
	                           the prober gives none) */
} wafer_walk;

static int prober_fail(wafer_walk *w, int rc, kgd_err *err, const char *what)
{
	kgd_err_prefix(err, "prober (%s): %s: ", w->pr->inst->uri, what);
	return rc;
}

/* Contact, and after a refusal (the prober's error reply: bad planarity,
 * a particle) separate and contact again up to contact_retries times.
 * KGD_ERR_INSTRUMENT when every attempt was refused; any other error
 * (connection, abort) is the prober's and stops the lot. */
static int contact_die(wafer_walk *w, drv_die die, kgd_err *err)
{
	unsigned retries = w->cx->o->contact_retries;
	kgd_err e2;
	int rc;

	for (unsigned attempt = 0;; attempt++) {
		rc = w->ops->contact(w->pr->h, err);
		if (rc != KGD_ERR_INSTRUMENT)
			break;
		if (attempt == retries || run_aborted(w->cx)) {
			kgd_err_prefix(err, "prober (%s): contact at die (%d,%d) "
				       "refused %u time%s: ", w->pr->inst->uri,
				       die.x, die.y, attempt + 1, attempt ? "s" : "");
			return rc;
		}
		run_progress_note(w->cx, "wafer %s die (%d,%d): contact refused (%s); "
				  "contacting again (%u of %u)", w->wafer, die.x,
				  die.y, err->msg, attempt + 1, retries);
		kgd_err_clear(&e2);
		w->ops->separate(w->pr->h, &e2);
	}
	return rc ? prober_fail(w, rc, err, "contact") : KGD_OK;
}

/* The prober's map geometry for the wafer's row (ABI 1.4, optional): the
 * reports draw the real wafer from it. A prober without the operation, or
 * one that fails to answer, leaves it unknown - the reports then say so -
 * and never stops the lot; the failure is noted in the log. */
static void read_map(wafer_walk *w)
{
	const drv_descriptor *d = w->pr->plugin->desc;
	drv_map_geometry g;
	kgd_err e2;

	memset(&w->map, 0, sizeof(w->map));
	if (d->abi_minor < 4 || !w->ops->map_geometry)
		return;
	kgd_err_clear(&e2);
	if (w->ops->map_geometry(w->pr->h, &g, &e2) != KGD_OK) {
		run_progress_note(w->cx, "wafer %s: no map geometry from the "
				  "prober (%s); the wafer picture will infer it",
				  w->wafer, e2.msg);
		return;
	}
	w->map.has = 1;
	w->map.diameter_mm = g.diameter_mm;
	w->map.die_w_um = g.die_w_um;
	w->map.die_h_um = g.die_h_um;
	w->map.cols = g.cols;
	w->map.rows = g.rows;
	w->map.edge_mm = g.edge_um / 1000.0;
	w->map.notch_deg = g.notch_deg;
}

/* One die, the chuck already at it. */
static int test_die(wafer_walk *w, drv_die die, kgd_err *err)
{
	run_ctx *cx = w->cx;
	db_run_info info;
	char where[192];
	kgd_err e2;
	int rc;

	run_fill_info(cx, &info);
	info.wafer = w->wafer;
	info.wafer_map = w->map;
	info.die_x = die.x;
	info.die_y = die.y;
	info.has_xy = 1;
	run_progress_begin(cx, &info);
	/* The previous die's commit (run_commit.c) must be known before this
	 * die is contacted: a failed commit stops the lot with the probes up,
	 * and never are two dies' results in flight. */
	rc = run_part_sync(cx, err);
	if (rc)
		return rc;
	kgd_err_clear(&e2);
	rc = contact_die(w, die, &e2);
	if (rc == KGD_ERR_INSTRUMENT) {
		/* Refused after every retry: the die is an error part, untested,
		 * binned and committed like any other; the lot goes on. */
		run_part_untested(cx, &info, e2.msg);
		rc = KGD_OK;
	} else if (rc == KGD_OK) {
		rc = run_part_exec(cx, &info, err);
	} else {
		if (err)
			*err = e2;
		return rc;
	}
	if (rc) {
		/* Abort or database error: probes up before anything else, and
		 * the prober's reply waited for even after a signal. */
		kgd_err_clear(&e2);
		xport_abort_suspend(1);
		if (w->ops->separate(w->pr->h, &e2) == KGD_OK)
			snprintf(cx->sum->cell, sizeof(cx->sum->cell), "probes up "
				 "(separated) at die (%d,%d)", die.x, die.y);
		else
			snprintf(cx->sum->cell, sizeof(cx->sum->cell), "lifting the "
				 "probes at die (%d,%d) FAILED (%.120s): check the "
				 "prober before anything else", die.x, die.y, e2.msg);
		xport_abort_suspend(0);
		if (rc == KGD_ERR_ABORTED)
			kgd_err_set(err, rc, "aborted at wafer %s die (%d,%d); the "
				    "die's results were discarded", w->wafer,
				    die.x, die.y);
		return rc;
	}
	rc = w->ops->separate(w->pr->h, err);
	if (!rc)
		rc = w->ops->bin_die(w->pr->h, die, run_part_hard_bin(cx), err);
	if (rc) {
		run_record_clear(&cx->part.rec);
		return prober_fail(w, rc, err, "separate/bin");
	}
	rc = run_part_commit(cx, err);
	if (rc)
		return rc;
	w->done++;
	snprintf(where, sizeof(where), "wafer %s die (%d,%d)", w->wafer, die.x,
		 die.y);
	run_progress_part(cx, where, w->done, w->total);
	return run_part_policy(cx, err);
}

/* A route visits each die once: a die the prober names a second time
 * means its map or position is not what the station believes, and a
 * second test would overwrite a binned die. */
static int check_route(wafer_walk *w, drv_die die, kgd_err *err)
{
	die_set *ds = w->seen;

	for (size_t i = 0; i < ds->n; i++)
		if (ds->v[i].x == die.x && ds->v[i].y == die.y)
			return kgd_err_set(err, KGD_ERR_PROTOCOL,
					   "prober (%s): unexpected die position: the "
					   "route reached die (%d,%d) of wafer %s a second "
					   "time; stopping, the probe position is not "
					   "trustworthy", w->pr->inst->uri, die.x, die.y,
					   w->wafer);
	if (ds->n == ds->cap) {
		size_t cap = ds->cap ? 2 * ds->cap : 256;
		drv_die *grown = realloc(ds->v, cap * sizeof(*grown));

		if (!grown)
			return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		ds->v = grown;
		ds->cap = cap;
	}
	ds->v[ds->n++] = die;
	return KGD_OK;
}

static int already_tested(wafer_walk *w, drv_die die, int *tested, kgd_err *err)
{
	int rc;

	*tested = 0;
	if (!w->cx->o->resume)
		return KGD_OK;
	rc = run_part_sync(w->cx, err);   /* the handle is the committer's */
	if (rc)
		return rc;
	return db_part_tested(w->cx->d, w->cx->o->lot, w->wafer, NULL, die.x,
			      die.y, tested, err);
}

static int walk_wafer(wafer_walk *w, kgd_err *err)
{
	const run_opts *o = w->cx->o;
	drv_die die;
	int rc, end = 0, tested, n;

	if (o->dies) {
		w->total = o->n_dies;
	} else if (w->ops->die_count && w->ops->die_count(w->pr->h, &n, err) == 0) {
		w->total = (size_t)n;
	}
	run_progress_wafer(w->cx, w->wafer, w->slot, w->total, w->slots_left);
	for (size_t k = 0;; k++) {
		if (run_aborted(w->cx)) {
			snprintf(w->cx->sum->cell, sizeof(w->cx->sum->cell),
				 "probes up (between dies)");
			return kgd_err_set(err, KGD_ERR_ABORTED,
				"aborted at wafer %s before its next die", w->wafer);
		}
		if (o->dies) {
			if (k == o->n_dies)
				return KGD_OK;
			die.x = o->dies[k].x;
			die.y = o->dies[k].y;
			rc = already_tested(w, die, &tested, err);
			if (rc)
				return rc;
			if (tested) {
				w->cx->sum->skipped++;
				w->done++;
				run_progress_skip(w->cx);
				continue;
			}
			rc = w->ops->step_to(w->pr->h, die, err);
			if (rc)
				return prober_fail(w, rc, err, "step to die");
		} else {
			rc = k == 0 ? w->ops->step_first(w->pr->h, &die, &end, err)
				    : w->ops->step_next(w->pr->h, &die, &end, err);
			if (rc)
				return prober_fail(w, rc, err, "step");
			if (end)
				return KGD_OK;
			rc = check_route(w, die, err);
			if (!rc)
				rc = already_tested(w, die, &tested, err);
			if (rc)
				return rc;
			if (tested) {
				w->cx->sum->skipped++;
				w->done++;
				run_progress_skip(w->cx);
				continue;
			}
		}
		rc = test_die(w, die, err);
		if (rc)
			return rc;
	}
}

/* The wafer id names the wafer in the database and in report file names:
 * one the station cannot store as given (ident.h) stops the lot, with the
 * wafer put back, before any die of it is tested. */
static int check_wafer_id(wafer_walk *w, kgd_err *err)
{
	char why[IDENT_WHY_MAX];
	kgd_err e2;

	if (ident_check(IDENT_WAFER, w->wafer, strlen(w->wafer), why,
			sizeof(why)) == 0)
		return KGD_OK;
	kgd_err_clear(&e2);
	w->ops->unload_wafer(w->pr->h, &e2);
	return kgd_err_set(err, KGD_ERR_PROTOCOL, "%s", why);
}

/* Wafer ids name their lot ("<lot>-W07", SEMI style): one that does not
 * begin with --lot is another lot's wafer in the cassette, or the wrong
 * --lot. Warned about; on a terminal the operator confirms it once for
 * the lot (or --yes); a no puts the wafer back and stops the lot before
 * any of its dies. Without a terminal nobody can answer: the warning is
 * in the log and the lot goes on, as before. */
static int check_wafer_lot(wafer_walk *w, kgd_err *err)
{
	run_ctx *cx = w->cx;
	const run_opts *o = cx->o;
	size_t n = strlen(o->lot);
	char q[400];
	kgd_err e2;
	int rc;

	if (strncmp(w->wafer, o->lot, n) == 0 &&
	    (w->wafer[n] == '\0' || !isalnum((unsigned char)w->wafer[n])))
		return KGD_OK;
	run_progress_note(cx, "warning: the prober's wafer id %s (slot %d) does "
			  "not name lot %s (--lot)%s", w->wafer, w->slot, o->lot,
			  o->assume_yes ? "; tested as given (--yes)"
			  : w->lot_confirmed ? "; tested as confirmed"
			  : !o->interactive ? "; tested as given (no terminal "
			  "to confirm)" : "");
	if (o->assume_yes || w->lot_confirmed || !o->interactive)
		return KGD_OK;
	snprintf(q, sizeof(q), "Test wafer %s as lot %s anyway?", w->wafer,
		 o->lot);
	rc = run_progress_confirm(cx, q, err);
	if (rc == 1) {
		w->lot_confirmed = 1;
		return KGD_OK;
	}
	kgd_err_clear(&e2);
	snprintf(cx->sum->cell, sizeof(cx->sum->cell), "%s", w->ops->unload_wafer(
		 w->pr->h, &e2) == KGD_OK ? "no probes down, the wafer unloaded"
		 : "no probes down; unloading the wafer FAILED");
	if (rc < 0)
		return rc;
	return kgd_err_set(err, KGD_ERR_ARG, "wafer %s (slot %d) does not name "
			   "lot %s and was not confirmed: none of its dies tested; "
			   "check the cassette and --lot, or give --yes",
			   w->wafer, w->slot, o->lot);
}

static int walk_slots(run_ctx *cx, die_set *seen, kgd_err *err)
{
	wafer_walk w = {0};
	int rc;

	w.cx = cx;
	w.seen = seen;

	w.pr = run_find_role(cx->rs, "prober");
	if (!w.pr)
		return kgd_err_set(err, KGD_ERR_ARG, "the wafer process needs a prober");
	w.ops = w.pr->plugin->desc->prober;
	if (cx->o->n_slots == 0)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "the wafer process needs cassette slots (--wafers/--slots)");
	for (size_t i = 0; i < cx->o->n_slots; i++) {
		if (run_aborted(cx))
			return kgd_err_set(err, KGD_ERR_ABORTED,
				"aborted before slot %d", cx->o->slots[i]);
		w.slot = cx->o->slots[i];
		w.slots_left = cx->o->n_slots - i;
		rc = w.ops->load_wafer(w.pr->h, cx->o->slots[i], w.wafer,
				       sizeof(w.wafer), err);
		if (rc) {
			kgd_err e2;

			/* A wafer still on the chuck (a station that died)? */
			kgd_err_clear(&e2);
			if (w.ops->unload_wafer(w.pr->h, &e2) == KGD_OK)
				rc = w.ops->load_wafer(w.pr->h, cx->o->slots[i], w.wafer,
						       sizeof(w.wafer), err);
		}
		if (!rc)
			rc = check_wafer_id(&w, err);
		if (rc) {
			char what[48];

			snprintf(what, sizeof(what), "load slot %d", cx->o->slots[i]);
			return prober_fail(&w, rc, err, what);
		}
		cx->sum->wafers++;
		w.done = 0;
		w.total = 0;
		w.seen->n = 0;
		run_progress_note(cx, "wafer %s (slot %d) loaded", w.wafer,
				  cx->o->slots[i]);
		rc = check_wafer_lot(&w, err);
		if (rc)
			return rc;
		read_map(&w);
		rc = walk_wafer(&w, err);
		if (rc == KGD_ERR_ABORTED) {
			run_summary *sum = cx->sum;
			size_t n = strlen(sum->cell);
			kgd_err e2;

			/* A wafer unload takes seconds on a real prober: not cut
			 * by the abort that asked for it. */
			kgd_err_clear(&e2);
			xport_abort_suspend(1);
			if (w.ops->unload_wafer(w.pr->h, &e2) == KGD_OK)
				snprintf(sum->cell + n, sizeof(sum->cell) - n,
					 "%swafer %s unloaded (back in slot %d)",
					 n ? ", " : "", w.wafer, w.slot);
			else
				snprintf(sum->cell + n, sizeof(sum->cell) - n,
					 "%sunloading wafer %s FAILED (%.80s): it may "
					 "still be on the chuck", n ? ", " : "",
					 w.wafer, e2.msg);
			xport_abort_suspend(0);
		}
		if (rc)
			return rc;
		rc = w.ops->unload_wafer(w.pr->h, err);
		if (rc)
			return prober_fail(&w, rc, err, "unload");
		run_progress_wafer_end(cx);
	}
	return KGD_OK;
}

static int proc_wafer(run_ctx *cx, kgd_err *err)
{
	die_set seen = {0};
	int rc = walk_slots(cx, &seen, err);

	free(seen.v);
	return rc;
}

const run_process run_process_wafer = {"wafer", proc_wafer};
