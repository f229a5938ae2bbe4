/*
 * reports/rpt_parts.c - parts.csv: one row per selected part, wide, for
 * pandas: identity and verdict, then one column per measurement key.
 *
 * Invariant: the key columns are rpt_keys_load()'s keys in its order (first
 * measured first), the same for every row, so the file is rectangular; a
 * part without a value for a key (not measured, or no valid value) has an
 * empty cell. A key measured twice in one run (a retried step) shows the
 * value logged last, the one the verdict used.
 *
 * A key column's header is the key, then its unit in brackets, always:
 * "port_power@port=1;wl=1310[dBm]", "lane_ber:errors@lane=1[]" (no unit;
 * units of one key that differ between runs are joined by '|' in byte
 * order). So the identity columns are exactly the headers without '[',
 * and a reader splits a key column's header at its last '[' even when a
 * coordinate value holds brackets (docs/REPORTS.md).
 */
#include "rpt_int.h"

#include <stdlib.h>
#include <string.h>

struct cell {
	double v;
	int set;
};

static int parts_body(rpt_ctx *c, FILE *f, void *arg, kgd_err *err)
{
	static const char *const fixed[] = {
		"lot", "wafer", "x", "y", "serial", "status", "hard_bin",
		"soft_bin", "runs",
	};
	static const char parts_sql[] =
		"SELECT run_id, lot, wafer, x, y, serial, status, hard_bin,"
		" soft_bin, n_runs FROM temp.sel"
		" ORDER BY lot, wafer, x, y, serial, run_id";
	const rpt_keys *k = arg;
	sqlite3_stmt *pst = NULL, *mst = NULL;
	struct cell *row = NULL;
	char sql[512];
	size_t i;
	long col;
	int rc, mrc, status;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rpt_csv_str(f, i == 0, fixed[i]);
	for (i = 0; i < k->n; i++) {
		const char *u = k->unit && k->unit[i] ? k->unit[i] : "";
		char *h = malloc(strlen(k->text[i]) + strlen(u) + 3);

		if (!h)
			return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
		sprintf(h, "%s[%s]", k->text[i], u);
		rpt_csv_str(f, 0, h);
		free(h);
	}
	rpt_csv_end_row(f);
	snprintf(sql, sizeof(sql), "SELECT " RPT_KEY_SQL("%s") ", m.value"
		 " FROM measurement m WHERE m.run_id = ?1 ORDER BY m.seq_no",
		 c->m_name);
	row = calloc(k->n ? k->n : 1, sizeof(*row));
	if (!row)
		return kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
	if ((status = rpt_prepare(c, parts_sql, &pst, err)) ||
	    (status = rpt_prepare(c, sql, &mst, err)))
		goto out;
	while ((rc = sqlite3_step(pst)) == SQLITE_ROW) {
		memset(row, 0, (k->n ? k->n : 1) * sizeof(*row));
		sqlite3_bind_int64(mst, 1, sqlite3_column_int64(pst, 0));
		while ((mrc = sqlite3_step(mst)) == SQLITE_ROW) {
			col = rpt_keys_find(k, (const char *)
					    sqlite3_column_text(mst, 0));
			if (col < 0)
				continue;  /* cannot happen: same snapshot */
			row[col].set = sqlite3_column_type(mst, 1) != SQLITE_NULL;
			row[col].v = sqlite3_column_double(mst, 1);
		}
		sqlite3_reset(mst);
		if (mrc != SQLITE_DONE) {
			status = rpt_sql_fail(c, err);
			goto out;
		}
		rpt_csv_col(f, 1, pst, 1);
		rpt_csv_col(f, 0, pst, 2);
		rpt_csv_int_col(f, pst, 3);
		rpt_csv_int_col(f, pst, 4);
		rpt_csv_col(f, 0, pst, 5);
		rpt_csv_col(f, 0, pst, 6);
		rpt_csv_int_col(f, pst, 7);
		rpt_csv_int_col(f, pst, 8);
		rpt_csv_int_col(f, pst, 9);
		for (i = 0; i < k->n; i++) {
			if (row[i].set)
				rpt_csv_real(f, row[i].v);
			else
				rpt_csv_empty(f);
		}
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
out:
	free(row);
	sqlite3_finalize(pst);
	sqlite3_finalize(mst);
	return status;
}

int rpt_parts(rpt_ctx *c, const char *path, kgd_err *err)
{
	rpt_keys k;
	int status;

	status = rpt_keys_load(c, &k, err);
	if (status)
		return status;
	status = rpt_keys_units(c, &k, err);
	if (status == KGD_OK)
		status = rpt_emit(c, path, parts_body, &k, err);
	rpt_keys_free(&k);
	return status;
}
