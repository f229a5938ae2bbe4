/*
 * reports/rpt_pareto.c - pareto.csv: which steps fail parts, one Pareto
 * per lot and per wafer.
 *
 * Invariant: a part counts once per step it failed (any_fail) and once
 * for its earliest failing step (first_fail); ranks and the cumulative
 * share restart at each lot and wafer, and every percentage is of that
 * lot's or wafer's selected parts.
 */
#include "rpt_int.h"

#include <stdlib.h>
#include <string.h>

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- pareto.csv --------------------------------------------------------- */

static int pareto_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	/* A step failed a part when its step_result says fail or error
	 * (schema 2, the sequencer's own verdict, which also covers a step
	 * that errored before logging a value); for runs without step
	 * results, when any of its measurements failed. "First" is the
	 * earliest failing step of the run. SQLite takes the bare step column
	 * from the row holding min(). One Pareto per lot (wafer NULL) and per
	 * wafer, as yield.csv's rows, each over its own parts. */
	static const char sql[] =
		"WITH f AS ("
		" SELECT sr.run_id, sr.step, sr.id AS ord, s.lot, s.wafer"
		"  FROM temp.sel s JOIN step_result sr ON sr.run_id = s.run_id"
		"  WHERE sr.status != 'pass'"
		" UNION ALL SELECT m.run_id, m.step, m.seq_no, s.lot, s.wafer"
		"  FROM temp.sel s"
		"  JOIN measurement m ON m.run_id = s.run_id WHERE m.pass = 0"
		"  AND NOT EXISTS (SELECT 1 FROM step_result sr"
		"   WHERE sr.run_id = s.run_id)),"
		" g AS (SELECT run_id, step, ord, lot, NULL AS wafer FROM f"
		"  UNION ALL SELECT run_id, step, ord, lot, wafer FROM f"
		"  WHERE wafer IS NOT NULL),"
		" first AS (SELECT lot, wafer, step, count(*) AS n FROM"
		"  (SELECT lot, wafer, run_id, step, min(ord) FROM g"
		"   GROUP BY lot, wafer, run_id) GROUP BY lot, wafer, step),"
		" anyf AS (SELECT lot, wafer, step, count(DISTINCT run_id) AS n"
		"  FROM g GROUP BY lot, wafer, step),"
		" t AS (SELECT lot, NULL AS wafer, count(*) AS n FROM temp.sel"
		"  GROUP BY lot UNION ALL SELECT lot, wafer, count(*) FROM temp.sel"
		"  WHERE wafer IS NOT NULL GROUP BY lot, wafer)"
		" SELECT a.step, coalesce(first.n, 0), a.n, a.lot, a.wafer,"
		"  (SELECT n FROM t WHERE t.lot = a.lot AND t.wafer IS a.wafer)"
		" FROM anyf a LEFT JOIN first ON first.lot = a.lot"
		"  AND first.wafer IS a.wafer AND first.step = a.step"
		" ORDER BY a.lot, a.wafer, 2 DESC, 3 DESC, 1";
	sqlite3_stmt *st = NULL;
	long long rank = 0, first, cum = 0, parts;
	char *lot = NULL, *wafer = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *l = (const char *)sqlite3_column_text(st, 3);
		const char *w = (const char *)sqlite3_column_text(st, 4);

		/* a new lot or wafer: its own ranks and cumulative share */
		if (!lot || strcmp(lot, l) || !same_text(wafer, w)) {
			free(lot);
			free(wafer);
			lot = strdup(l);
			wafer = w ? strdup(w) : NULL;
			if (!lot || (w && !wafer)) {
				status = kgd_err_set(err, KGD_ERR_NOMEM,
						     "out of memory");
				break;
			}
			rank = 0;
			cum = 0;
		}
		parts = sqlite3_column_int64(st, 5);
		first = sqlite3_column_int64(st, 1);
		cum += first;
		fprintf(f, "%lld", ++rank);
		rpt_csv_col(f, 0, st, 0);
		rpt_csv_ll(f, first);
		rpt_csv_pct(f, first, parts);
		rpt_csv_pct(f, cum, parts);
		rpt_csv_ll(f, sqlite3_column_int64(st, 2));
		rpt_csv_pct(f, sqlite3_column_int64(st, 2), parts);
		rpt_csv_col(f, 0, st, 3);
		rpt_csv_col(f, 0, st, 4);
		rpt_csv_end_row(f);
	}
	if (!status && rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	free(lot);
	free(wafer);
	sqlite3_finalize(st);
	return status;
}

int rpt_pareto(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"rank", "step", "first_fail_parts", "first_fail_pct",
		"first_fail_cum_pct", "any_fail_parts", "any_fail_pct", "lot",
		"wafer", NULL,
	};

	return rpt_emit_csv(c, path, header, pareto_rows, err);
}
