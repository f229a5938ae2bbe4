/*
 * station/proc_unit.c - the unit process model: one part at a time, named
 * by a serial number from a list (--serial, --units) or from the operator
 * or a barcode scanner (one line each on stdin). The part is put into the
 * fixture (insert callback), tested, and committed with its verdict.
 *
 * Resume: with opts->resume a serial the lot already has a committed run
 * for is skipped, so an interrupted lot restarted with the same list tests
 * every part exactly once.
 *
 * Errors: after each part the error policy (run_part_policy) may reopen a
 * lost instrument or stop the lot after --max-errors error parts in a row.
 */
#include "run_int.h"
#include "ident.h"

#include <stdio.h>
#include <string.h>

static int proc_unit(run_ctx *cx, kgd_err *err)
{
	const run_opts *o = cx->o;
	run_summary *sum = cx->sum;

	run_progress_total(cx, o->serials ? o->n_serials : 0);
	for (size_t i = 0;; i++) {
		db_run_info info;
		const char *serial;
		char why[IDENT_WHY_MAX];
		int rc, tested = 0;

		if (o->serials)
			serial = i < o->n_serials ? o->serials[i] : NULL;
		else if (!o->next)
			serial = NULL;
		else {
			/* The serial prompt on a line of its own, after the last
			 * part's line. */
			run_progress_end(cx);
			if ((rc = o->next(o->next_user, &serial, err)) != KGD_OK)
				return rc;
		}
		if (!serial)
			return KGD_OK;
		/* The lists were checked where they came in; this is the
		 * runner's own edge, for every source alike. */
		if (ident_check(IDENT_SERIAL, serial, strlen(serial), why,
				sizeof(why)))
			return kgd_err_set(err, KGD_ERR_ARG, "%s", why);
		if (run_aborted(cx))
			return kgd_err_set(err, KGD_ERR_ABORTED,
				"aborted before %s; %zu parts tested", serial,
				sum->tested);
		if (o->resume) {
			rc = db_part_tested(cx->d, o->lot, NULL, serial, 0, 0, &tested,
					    err);
			if (rc)
				return rc;
			if (tested) {
				sum->skipped++;
				run_progress_skip(cx);
				continue;
			}
		}
		if (o->insert) {
			rc = o->insert(o->insert_user, i, serial, err);
			if (rc) {
				kgd_err_prefix(err, "loading %s: ", serial);
				return rc;
			}
		}
		run_fill_info(cx, &info);
		info.serial = serial;
		cx->part_index = i;
		run_progress_begin(cx, &info);
		rc = run_part_exec(cx, &info, err);
		if (rc == KGD_ERR_ABORTED) {
			snprintf(sum->cell, sizeof(sum->cell), "part %s is still in "
				 "the fixture; cleanup ran (outputs off)", serial);
			return kgd_err_set(err, rc, "aborted while testing %s; its "
					   "results were discarded", serial);
		}
		if (rc)
			return rc;
		rc = run_part_commit(cx, err);
		if (rc)
			return rc;
		run_progress_part(cx, serial, sum->tested + sum->skipped,
				  o->serials ? o->n_serials : 0);
		rc = run_part_policy(cx, err);
		if (rc)
			return rc;
	}
}

const run_process run_process_unit = {"unit", proc_unit};
