/*
 * reports/rpt_screen.c - pat_limits.csv: the PAT limits the lot's latest
 * screen used (station screen; screen/scr.h), one row per test and wafer
 * (dynamic PAT) or per test for the whole lot (static PAT, wafer empty).
 *
 * Invariant: only lots with a selected part appear, and for each only its
 * latest screen (the one temp.sel's final bins come from); a wafer filter
 * keeps that wafer's rows and the lot-wide static ones. A test the screen
 * did not screen (too few dies, zero spread) has empty PAT limits and
 * says why in `note`.
 */
#include "rpt_int.h"

static int pat_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT l.name, w.name, sl.step, sl.name, sl.coords, sl.n,"
		" sl.median, sl.robust_sigma, sl.k, sl.pat_low, sl.pat_high,"
		" sl.spec_low, sl.spec_high, sl.outliers, sl.method, sl.screened,"
		" sl.note"
		" FROM screen x JOIN lot l ON l.id = x.lot_id"
		" JOIN screen_limit sl ON sl.screen_id = x.id"
		" LEFT JOIN wafer w ON w.id = sl.wafer_id"
		" WHERE x.seq = (SELECT max(seq) FROM screen y WHERE y.lot_id ="
		"  x.lot_id)"
		"  AND l.name IN (SELECT lot FROM temp.sel)"
		"  AND (sl.wafer_id IS NULL OR w.name IN (SELECT wafer FROM"
		"   temp.sel WHERE lot = l.name))"
		" ORDER BY l.name, w.name, sl.step, sl.name, sl.coords, sl.method";
	sqlite3_stmt *st = NULL;
	int rc, status, i;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < 5; i++)
			rpt_csv_col(f, i == 0, st, i);
		rpt_csv_int_col(f, st, 5);
		for (i = 6; i < 13; i++) {
			if (sqlite3_column_type(st, i) == SQLITE_NULL)
				rpt_csv_empty(f);
			else
				rpt_csv_real(f, sqlite3_column_double(st, i));
		}
		rpt_csv_int_col(f, st, 13);
		rpt_csv_col(f, 0, st, 14);
		rpt_csv_int_col(f, st, 15);
		rpt_csv_col(f, 0, st, 16);
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

int rpt_pat_limits(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"lot", "wafer", "step", "name", "coords", "n", "median",
		"robust_sigma", "k", "pat_low", "pat_high", "spec_low",
		"spec_high", "outliers", "method", "screened", "note", NULL,
	};

	return rpt_emit_csv(c, path, header, pat_rows, err);
}
