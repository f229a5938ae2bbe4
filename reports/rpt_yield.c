/*
 * reports/rpt_yield.c - yield.csv and bins.csv: counts of selected parts
 * per lot and per wafer; trend.csv: the same per UTC day and station.
 *
 * Invariant: a lot's row comes first (wafer cell empty: the whole lot),
 * then its wafers' rows in byte order; every count is over temp.sel, one
 * part once, so a wafer's counts add up to its lot's for wafer lots.
 */
#include "rpt_int.h"

/* ---- yield.csv ---------------------------------------------------------- */

static int yield_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	/* A lot row (wafer NULL) plus one row per wafer; NULL sorts first. */
	static const char sql[] =
		"WITH y AS ("
		" SELECT lot, NULL AS wafer, pre_status, status, first_status,"
		"  n_runs FROM temp.sel"
		" UNION ALL SELECT lot, wafer, pre_status, status, first_status,"
		"  n_runs FROM temp.sel WHERE wafer IS NOT NULL)"
		" SELECT lot, wafer, count(*), sum(pre_status = 'pass'),"
		"  sum(first_status = 'pass'), sum(n_runs > 1), sum(n_runs - 1),"
		"  sum(status = 'pass')"
		" FROM y GROUP BY lot, wafer ORDER BY lot, wafer";
	sqlite3_stmt *st = NULL;
	long long tested, passed, fp_passed;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tested = sqlite3_column_int64(st, 2);
		passed = sqlite3_column_int64(st, 3);
		fp_passed = sqlite3_column_int64(st, 4);
		rpt_csv_col(f, 1, st, 0);
		rpt_csv_ll(f, tested);
		rpt_csv_ll(f, passed);
		rpt_csv_ll(f, tested - passed);
		rpt_csv_pct(f, passed, tested);
		rpt_csv_col(f, 0, st, 1);
		rpt_csv_ll(f, fp_passed);
		rpt_csv_pct(f, fp_passed, tested);
		rpt_csv_ll(f, sqlite3_column_int64(st, 5));
		rpt_csv_ll(f, sqlite3_column_int64(st, 6));
		/* after the screen: equal to passed where none applies */
		rpt_csv_ll(f, sqlite3_column_int64(st, 7));
		rpt_csv_pct(f, sqlite3_column_int64(st, 7), tested);
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

int rpt_yield(rpt_ctx *c, const char *path, kgd_err *err)
{
	/* The first five columns are the original yield.csv; tools that read
	 * those keep working. */
	static const char *const header[] = {
		"lot", "tested", "passed", "failed", "yield_pct", "wafer",
		"first_pass_passed", "first_pass_yield_pct", "retested_parts",
		"retests", "screened_passed", "screened_yield_pct", NULL,
	};

	return rpt_emit_csv(c, path, header, yield_rows, err);
}

/* ---- bins.csv ----------------------------------------------------------- */

static int bins_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	/* Every bin a group (a lot, or a wafer) can show: the bin (soft) and
	 * hard_bin rows of the sequences its parts ran, the bins of its lot's
	 * latest screen, and any bin a part landed in that no table defines
	 * (a run with no bin); so an empty bin reads 0, not missing.
	 * Names and pass flags come from the group's sequences
	 * (UNIQUE(sequence_id, number)); sequences sharing a bin number under
	 * different names show the least name in byte order. */
	static const char sql[] =
		"WITH x AS ("
		" SELECT lot, wafer, 'hard' AS kind, hard_bin AS bin, sequence_id,"
		"  screen_reason IS NOT NULL AS scr FROM temp.sel"
		" UNION ALL SELECT lot, wafer, 'soft', soft_bin, sequence_id,"
		"  screen_reason IS NOT NULL FROM temp.sel),"
		" y AS (SELECT lot, NULL AS wafer, kind, bin, sequence_id, scr"
		"  FROM x UNION ALL SELECT lot, wafer, kind, bin, sequence_id, scr"
		"  FROM x WHERE wafer IS NOT NULL),"
		" t AS (SELECT lot, NULL AS wafer, count(*) AS n FROM temp.sel"
		"  GROUP BY lot UNION ALL SELECT lot, wafer, count(*) FROM temp.sel"
		"  WHERE wafer IS NOT NULL GROUP BY lot, wafer),"
		" cnt AS (SELECT lot, wafer, kind, bin, count(*) AS n,"
		"  max(scr) AS scr FROM y GROUP BY lot, wafer, kind, bin),"
		" gs AS (SELECT DISTINCT lot, wafer, sequence_id FROM y),"
		" b AS (SELECT 'soft' AS kind, sequence_id, number, name, pass"
		"  FROM bin UNION ALL SELECT 'hard', sequence_id, number, name,"
		"  pass FROM hard_bin),"
		" gb AS (SELECT gs.lot, gs.wafer, b.kind, b.number AS bin,"
		"  min(b.name) AS name, max(b.pass) AS pass FROM gs JOIN b"
		"  ON b.sequence_id = gs.sequence_id"
		"  GROUP BY gs.lot, gs.wafer, b.kind, b.number),"
		/* the screen's bins are in no sequence's table */
		" sb AS (SELECT t.lot, t.wafer, k.kind, CASE k.kind WHEN 'soft'"
		"  THEN s.soft_bin ELSE s.hard_bin END AS bin"
		"  FROM t JOIN lot l ON l.name = t.lot"
		"  JOIN screen s ON s.lot_id = l.id AND s.seq ="
		"   (SELECT max(seq) FROM screen z WHERE z.lot_id = l.id)"
		"  JOIN (SELECT 'soft' AS kind UNION ALL SELECT 'hard') k),"
		" keys AS (SELECT lot, wafer, kind, bin FROM cnt UNION"
		"  SELECT lot, wafer, kind, bin FROM gb UNION"
		"  SELECT lot, wafer, kind, bin FROM sb)"
		" SELECT k.lot, k.wafer, k.kind, k.bin, coalesce(gb.name,"
		"  CASE WHEN cnt.scr OR EXISTS (SELECT 1 FROM sb WHERE"
		"   sb.lot = k.lot AND sb.wafer IS k.wafer AND sb.kind = k.kind"
		"   AND sb.bin IS k.bin) THEN 'SCREEN_REJECT' END),"
		"  coalesce(gb.pass, CASE WHEN cnt.scr OR EXISTS (SELECT 1 FROM sb"
		"   WHERE sb.lot = k.lot AND sb.wafer IS k.wafer AND"
		"   sb.kind = k.kind AND sb.bin IS k.bin) THEN 0 END),"
		"  coalesce(cnt.n, 0), t.n"
		" FROM keys k JOIN t ON t.lot = k.lot AND t.wafer IS k.wafer"
		" LEFT JOIN cnt ON cnt.lot = k.lot AND cnt.wafer IS k.wafer"
		"  AND cnt.kind = k.kind AND cnt.bin IS k.bin"
		" LEFT JOIN gb ON gb.lot = k.lot AND gb.wafer IS k.wafer"
		"  AND gb.kind = k.kind AND gb.bin IS k.bin"
		" ORDER BY k.lot, k.wafer, k.kind, k.bin";
	sqlite3_stmt *st = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rpt_csv_col(f, 1, st, 0);
		rpt_csv_col(f, 0, st, 1);
		rpt_csv_col(f, 0, st, 2);
		rpt_csv_int_col(f, st, 3);
		rpt_csv_col(f, 0, st, 4);
		rpt_csv_int_col(f, st, 5);
		rpt_csv_ll(f, sqlite3_column_int64(st, 6));
		rpt_csv_pct(f, sqlite3_column_int64(st, 6),
			    sqlite3_column_int64(st, 7));
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

int rpt_bins(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"lot", "wafer", "bin_type", "bin", "bin_name", "bin_pass",
		"count", "pct", NULL,
	};

	return rpt_emit_csv(c, path, header, bins_rows, err);
}

/* ---- trend.csv ---------------------------------------------------------- */

static int trend_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	/* Each part counts once, on the UTC day its counted run started and
	 * at the station that ran it; a day's row (station empty) first,
	 * then its stations'. */
	static const char sql[] =
		"WITH t AS (SELECT substr(started_at, 1, 10) AS day, station,"
		"  pre_status, status FROM temp.sel),"
		" y AS (SELECT day, NULL AS station, pre_status, status FROM t"
		"  UNION ALL SELECT day, station, pre_status, status FROM t)"
		" SELECT day, station, count(*), sum(pre_status = 'pass'),"
		"  sum(status = 'pass') FROM y GROUP BY day, station"
		" ORDER BY day, station";
	sqlite3_stmt *st = NULL;
	long long tested, passed, spassed;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tested = sqlite3_column_int64(st, 2);
		passed = sqlite3_column_int64(st, 3);
		spassed = sqlite3_column_int64(st, 4);
		rpt_csv_col(f, 1, st, 0);
		rpt_csv_col(f, 0, st, 1);
		rpt_csv_ll(f, tested);
		rpt_csv_ll(f, passed);
		rpt_csv_pct(f, passed, tested);
		rpt_csv_ll(f, spassed);
		rpt_csv_pct(f, spassed, tested);
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

int rpt_trend(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"day", "station", "tested", "passed", "yield_pct",
		"screened_passed", "screened_yield_pct", NULL,
	};

	return rpt_emit_csv(c, path, header, trend_rows, err);
}
