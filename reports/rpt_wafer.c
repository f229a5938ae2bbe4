/*
 * reports/rpt_wafer.c - wafermap.csv (one row per die), then the SVG
 * picture per wafer (rpt_wafer_svg.c), for a person to look at.
 *
 * Invariant: one row per die with a wafer and x/y, the selected run's
 * final bins, sorted by lot, wafer, x, y.
 */
#include "rpt_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- wafermap.csv ------------------------------------------------------- */

static int map_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT lot, wafer, x, y, hard_bin, soft_bin, status = 'pass'"
		" FROM temp.sel WHERE wafer IS NOT NULL AND x IS NOT NULL"
		" ORDER BY lot, wafer, x, y";
	sqlite3_stmt *st = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rpt_csv_col(f, 1, st, 0);
		rpt_csv_col(f, 0, st, 1);
		rpt_csv_int_col(f, st, 2);
		rpt_csv_int_col(f, st, 3);
		rpt_csv_int_col(f, st, 4);
		rpt_csv_int_col(f, st, 5);
		rpt_csv_int_col(f, st, 6);
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

int rpt_wafermap(rpt_ctx *c, const char *dir, int *files, kgd_err *err)
{
	static const char *const header[] = {
		"lot", "wafer", "x", "y", "hard_bin", "soft_bin", "pass", NULL,
	};
	char *path = rpt_path(dir, "wafermap.csv");
	int status;

	if (!path)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	status = rpt_emit_csv(c, path, header, map_rows, err);
	free(path);
	if (status)
		return status;
	(*files)++;
	return rpt_wafer_svgs(c, dir, files, err);
}
