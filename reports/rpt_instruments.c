/*
 * reports/rpt_instruments.c - instruments.csv: what produced the values of
 * the selected runs. One row per session that committed a selected run
 * and per role of that session (schema 5, session_instrument): the lot,
 * the station and its host, when the session ran and how it ended, how
 * many selected runs it committed, and the role's driver, driver ABI,
 * plugin file and its SHA-256, and the instrument's identity (*IDN?).
 *
 * Invariants:
 *  - A file from before schema 5 recorded none of this: header only
 *    (rpt.c gives it an empty session_instrument to read).
 *  - Rows are ordered by session id (the order sessions began), then role
 *    in byte order.
 */
#include "rpt_int.h"

static int instruments_rows(rpt_ctx *c, FILE *f, kgd_err *err)
{
	static const char sql[] =
		"SELECT s.id, l.name, st.name, st.host, s.started_at,"
		"  s.ended_at, s.status, u.runs, i.role, i.driver,"
		"  i.abi_major || '.' || i.abi_minor, i.plugin_sha256,"
		"  i.identity, i.plugin_file"
		" FROM (SELECT r.session_id AS sid, count(*) AS runs"
		"       FROM temp.sel x JOIN run r ON r.id = x.run_id"
		"       WHERE r.session_id IS NOT NULL GROUP BY r.session_id) u"
		" JOIN session s ON s.id = u.sid"
		" JOIN lot l ON l.id = s.lot_id"
		" JOIN station st ON st.id = s.station_id"
		" JOIN session_instrument i ON i.session_id = s.id"
		" ORDER BY s.id, i.role";
	sqlite3_stmt *st = NULL;
	int rc, status;

	status = rpt_prepare(c, sql, &st, err);
	if (status)
		return status;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Integers come back as their text: the session id first. */
		for (int col = 0; col < 14; col++)
			rpt_csv_col(f, col == 0, st, col);
		rpt_csv_end_row(f);
	}
	if (rc != SQLITE_DONE)
		status = rpt_sql_fail(c, err);
	sqlite3_finalize(st);
	return status;
}

int rpt_instruments(rpt_ctx *c, const char *path, kgd_err *err)
{
	static const char *const header[] = {
		"session", "lot", "station", "host", "started_at", "ended_at",
		"status", "runs", "role", "driver", "abi", "plugin_sha256",
		"identity", "plugin_file", NULL,
	};

	return rpt_emit_csv(c, path, header, instruments_rows, err);
}
