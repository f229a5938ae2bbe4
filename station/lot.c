/*
 * station/lot.c - the top of the sequencer: one `station run` of a lot is
 * one database session, tested part by part by the sequence's process
 * model (proc_unit.c, proc_wafer.c) with the commit thread of the wafer
 * process around it; and before it, the station opened for the sequence
 * once lint.c has passed it. See runner.h for the rules the sequencer
 * keeps.
 */
#include "run_int.h"
#include "version.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int run_station_open(const seq_sequence *s, const cfg_station *c,
		     run_station **out, kgd_err *err)
{
	run_need roles[RUN_MAX_ROLES];
	run_station *rs;
	size_t n;
	int rc;

	rc = run_validate(s, c, err);
	if (rc)
		return rc;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	n = run_collect_roles(s, roles);   /* <= RUN_MAX_ROLES: validated */
	for (size_t i = 0; i < n; i++) {
		run_role *r = &rs->roles[rs->n_roles++];

		r->inst = cfg_find_role(c, roles[i].name);
		rc = run_load_driver(c, r->inst, roles[i].klass, &r->plugin, err);
		if (!rc)
			rc = run_open_role(r, err);
		/* Who will measure: recorded with the session, so no value is
		 * of unknown origin. */
		if (!rc) {
			rc = r->plugin->desc->identify(r->h, r->idn,
						       sizeof(r->idn), err);
			if (rc)
				kgd_err_prefix(err, "role '%s' (%s): identify: ",
					       r->inst->role, r->inst->driver);
		}
		if (rc)
			goto error;
	}
	*out = rs;
	return KGD_OK;
error:
	run_station_close(rs);
	return rc;
}

int run_lot(run_station *rs, const seq_sequence *s, const cfg_station *c,
	    db *d, const run_opts *o, run_summary *sum, kgd_err *err)
{
	db_session_info si = {0};
	db_instrument inst[RUN_MAX_ROLES];
	db_bin *bins;
	size_t n_hard;
	run_ctx cx = {0};
	const run_process *proc = s->process == SEQ_PROCESS_WAFER
					  ? &run_process_wafer : &run_process_unit;
	run_live *own = NULL;
	kgd_err e2;
	int rc;

	memset(sum, 0, sizeof(*sum));
	cx.live = o->live;
	if (!cx.live && !(cx.live = own = run_live_new(o->progress,
						       o->progress_tty)))
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	cx.rs = rs;
	cx.s = s;
	cx.c = c;
	cx.d = d;
	cx.o = o;
	cx.sum = sum;
	gethostname(cx.host, sizeof(cx.host) - 1);

	/* Soft bins, then the hard bins they map to. Without a hard_bins
	 * table a soft bin is its own hard bin (seq_hard_bin), so the soft
	 * table doubles as the hard one. */
	n_hard = s->hard_bins ? s->n_hard_bins : s->n_bins;
	bins = calloc(s->n_bins + n_hard + 1, sizeof(*bins));
	if (!bins) {
		run_live_free(own);
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n_bins; i++)
		bins[i] = (db_bin){s->bins[i].number, s->bins[i].name,
				   s->bins[i].pass,
				   seq_hard_bin(s, s->bins[i].number)};
	for (size_t i = 0; i < n_hard; i++) {
		const seq_bin *hb = s->hard_bins ? &s->hard_bins[i] : &s->bins[i];

		bins[s->n_bins + i] = (db_bin){hb->number, hb->name, hb->pass, 0};
	}
	si.station = c->name;
	si.host = cx.host;
	si.operator_name = o->operator_name;
	si.lot = o->lot;
	si.process = proc->name;
	si.product = s->product;
	si.seq_name = s->name;
	si.seq_version = s->version;
	si.seq_sha256 = s->sha256;
	si.seq_text = s->text;
	if (o->limits) {
		si.limits_sha256 = o->limits->sha256;
		si.limits_text = o->limits->text;
	}
	si.bins = bins;
	si.n_bins = s->n_bins;
	si.hard_bins = bins + s->n_bins;
	si.n_hard_bins = n_hard;
	for (size_t i = 0; i < rs->n_roles; i++) {
		const run_role *r = &rs->roles[i];

		inst[i] = (db_instrument){
			r->inst->role, r->inst->driver, r->plugin->desc->abi_major,
			r->plugin->desc->abi_minor, r->plugin->file,
			r->plugin->sha256, r->idn[0] ? r->idn : NULL,
		};
	}
	si.instruments = inst;
	si.n_instruments = rs->n_roles;
	si.software_version = kgd_version_number;
	si.software_build = kgd_version_build;
	rc = db_session_begin(d, &si, &sum->session_id, &sum->n_interrupted, err);
	free(bins);
	if (rc) {
		run_live_free(own);
		return rc;
	}
	/* The lot's earlier sessions count: its yield, bins and map are the
	 * lot's from the first part on (--resume, a retest). */
	run_progress_lot(&cx);
	rc = db_lot_results(d, o->lot, run_progress_seed, cx.live, err);
	if (sum->n_interrupted)
		run_progress_note(&cx, "%d interrupted session%s found in the results "
				  "database (marked interrupted)%s",
				  sum->n_interrupted, sum->n_interrupted == 1 ? "" : "s",
				  o->resume ? "; resuming" : "");

	/* Wafer sort commits each die on a thread while the prober moves to
	 * the next (run_commit.c); the last commit is known before the
	 * session ends. */
	if (!rc && s->process == SEQ_PROCESS_WAFER && !o->no_overlap)
		rc = run_commit_open(&cx, err);
	if (!rc)
		rc = proc->run(&cx, err);
	if (cx.committer) {
		kgd_err e3;
		int src;

		kgd_err_clear(&e3);
		src = run_part_sync(&cx, &e3);
		if (src && !rc) {
			rc = src;
			if (err)
				*err = e3;
		}
		run_commit_close(&cx);
	}
	run_progress_end(&cx);
	run_progress_lot_counts(&cx, &sum->lot_parts, &sum->lot_passed);
	run_live_free(own);
	run_part_free(&cx.part);

	kgd_err_clear(&e2);
	if (db_session_end(d, sum->session_id,
			   rc == KGD_OK ? DB_SESSION_COMPLETE
			   : rc == KGD_ERR_ABORTED ? DB_SESSION_ABORTED
						   : DB_SESSION_ERROR, &e2) && !rc) {
		rc = e2.status;
		if (err)
			*err = e2;
	}
	return rc;
}
