/*
 * sync/pgs_schema.c - the central PostgreSQL schema: numbered migrations
 * like the station file's (db/schema.c), the version check that refuses a
 * newer server, and the column check that refuses to drop a column.
 *
 * Invariants:
 *  - The schema only changes through migrations[] below: entry i takes
 *    the server from version i to i+1, all in one transaction, under an
 *    advisory lock so two first syncs never migrate twice. Never edit a
 *    shipped entry; append one.
 *  - Every synced table mirrors the station file's table of the same
 *    name column for column (same names; INTEGER -> bigint/integer, REAL
 *    -> double precision, TEXT -> text), plus src, the file's uuid. A
 *    column added to the file's schema needs a migration here too:
 *    pgs_schema_columns refuses to upload a file whose table has a column
 *    the server lacks, and test_sync compares both schemas.
 *  - Rows are only ever inserted by stations: the session's end, which
 *    the file writes later into the same row, travels as its own row
 *    (session_end), so a station role needs no UPDATE right.
 */
#include "pgs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pgs_tables[PGS_N_TABLES] = {
	"station", "operator", "sequence", "limits_set", "lot", "wafer",
	"part", "session", "bin", "hard_bin", "session_instrument",
	"run", "step_result", "measurement",
};

const char *const pgs_screen_tables[PGS_N_SCREEN] = {
	"screen", "screen_limit", "screen_die",
};

static const char *const migrations[] = {
	/* 1: the station file's schema 6, keyed by (src, id). No foreign
	 * keys: rows arrive in batches that keep references pointing at
	 * rows of the same or an earlier batch of the same src, and a
	 * per-row check would halve COPY's speed on measurement. */
	"CREATE TABLE kgd_meta(key text PRIMARY KEY, value text NOT NULL);"
	"INSERT INTO kgd_meta VALUES ('server_uuid', gen_random_uuid()::text);"
	"CREATE TABLE station(src uuid NOT NULL, id bigint NOT NULL,"
	"  name text NOT NULL, host text, PRIMARY KEY (src, id));"
	"CREATE TABLE operator(src uuid NOT NULL, id bigint NOT NULL,"
	"  name text NOT NULL, PRIMARY KEY (src, id));"
	"CREATE TABLE sequence(src uuid NOT NULL, id bigint NOT NULL,"
	"  name text NOT NULL, version integer NOT NULL, sha256 text NOT NULL,"
	"  text text, PRIMARY KEY (src, id));"
	"CREATE TABLE limits_set(src uuid NOT NULL, id bigint NOT NULL,"
	"  sha256 text NOT NULL, text text, PRIMARY KEY (src, id));"
	"CREATE TABLE lot(src uuid NOT NULL, id bigint NOT NULL,"
	"  name text NOT NULL, PRIMARY KEY (src, id));"
	"CREATE INDEX lot_name ON lot(name);"
	"CREATE TABLE wafer(src uuid NOT NULL, id bigint NOT NULL,"
	"  lot_id bigint NOT NULL, name text NOT NULL, PRIMARY KEY (src, id));"
	"CREATE TABLE part(src uuid NOT NULL, id bigint NOT NULL,"
	"  lot_id bigint NOT NULL, wafer_id bigint, serial text,"
	"  die_x integer, die_y integer, PRIMARY KEY (src, id));"
	"CREATE INDEX part_lot ON part(src, lot_id);"
	"CREATE TABLE session(src uuid NOT NULL, id bigint NOT NULL,"
	"  station_id bigint NOT NULL, operator_id bigint, lot_id bigint NOT NULL,"
	"  sequence_id bigint NOT NULL, limits_id bigint, process text NOT NULL,"
	"  product text, started_at text NOT NULL, ended_at text,"
	"  status text NOT NULL, PRIMARY KEY (src, id));"
	/* The session's end, written once it has one (the row above keeps
	 * what the file said when the session was first sent). */
	"CREATE TABLE session_end(src uuid NOT NULL, session_id bigint NOT NULL,"
	"  ended_at text, status text NOT NULL, PRIMARY KEY (src, session_id));"
	"CREATE TABLE bin(src uuid NOT NULL, id bigint NOT NULL,"
	"  sequence_id bigint NOT NULL, number integer NOT NULL, name text NOT NULL,"
	"  pass integer NOT NULL, hard integer, PRIMARY KEY (src, id));"
	"CREATE TABLE hard_bin(src uuid NOT NULL, id bigint NOT NULL,"
	"  sequence_id bigint NOT NULL, number integer NOT NULL,"
	"  name text NOT NULL, pass integer NOT NULL, PRIMARY KEY (src, id));"
	"CREATE TABLE session_instrument(src uuid NOT NULL, id bigint NOT NULL,"
	"  session_id bigint NOT NULL, role text NOT NULL, driver text NOT NULL,"
	"  abi_major integer NOT NULL, abi_minor integer NOT NULL,"
	"  plugin_file text, plugin_sha256 text, identity text,"
	"  PRIMARY KEY (src, id));"
	"CREATE TABLE run(src uuid NOT NULL, id bigint NOT NULL,"
	"  part_id bigint NOT NULL, sequence_id bigint NOT NULL,"
	"  station_id bigint NOT NULL, operator_id bigint, product text,"
	"  started_at text NOT NULL, ended_at text, status text NOT NULL,"
	"  hard_bin integer, soft_bin integer, fail_reason text,"
	"  session_id bigint, limits_id bigint, retest integer NOT NULL,"
	"  condition text,"
	"  PRIMARY KEY (src, id));"
	"CREATE INDEX run_part ON run(src, part_id);"
	"CREATE INDEX run_started ON run(started_at);"
	"CREATE TABLE step_result(src uuid NOT NULL, id bigint NOT NULL,"
	"  run_id bigint NOT NULL, step text NOT NULL, status text NOT NULL,"
	"  bin integer, n_values integer NOT NULL, started_at text,"
	"  ended_at text, duration_s double precision, PRIMARY KEY (src, id));"
	"CREATE INDEX step_result_run ON step_result(src, run_id);"
	/* The natural key is the primary key: one index on the bulk table,
	 * which is also the measurement(run) index reports join on. */
	"CREATE TABLE measurement(src uuid NOT NULL, id bigint NOT NULL,"
	"  run_id bigint NOT NULL, seq_no integer NOT NULL, step text NOT NULL,"
	"  coords text, value double precision, unit text,"
	"  low double precision, high double precision, pass integer NOT NULL,"
	"  name text, PRIMARY KEY (src, run_id, seq_no));"
	/* How far each file got, per table: written in the same transaction
	 * as the rows it covers, so it is the server's own record of where
	 * an upload resumes. by_role lets a station role read only its own
	 * (db/pg_roles.sql). */
	"CREATE TABLE sync_batch(src uuid NOT NULL, tbl text NOT NULL,"
	"  last_id bigint NOT NULL, n_rows bigint NOT NULL,"
	"  at timestamptz NOT NULL DEFAULT now(),"
	"  by_role name NOT NULL DEFAULT current_user,"
	"  PRIMARY KEY (src, tbl, last_id));",
	/* 2: the station file's schema 7 (issue 21): which build recorded
	 * a session. NULL for sessions of older files, as in the file. */
	"ALTER TABLE session ADD COLUMN software_version text;"
	"ALTER TABLE session ADD COLUMN software_build text;",
	/* 3: the station file's schema 8 (issue 16): the outlier screens.
	 * Unlike the rest, a screen is rewritten in the file when the lot
	 * is screened again (its limit and die rows replaced, ids reused),
	 * so the server keeps every version it was sent, keyed by the
	 * screen's screened_at, and never changes one: the current version
	 * of a screen is the one sent last (sent_at; view screen_current).
	 * by_role lets a station role see which versions it sent
	 * (db/pg_roles.sql), as in sync_batch. */
	"CREATE TABLE screen(src uuid NOT NULL, id bigint NOT NULL,"
	"  lot_id bigint NOT NULL, config_sha256 text NOT NULL,"
	"  config_text text NOT NULL, soft_bin integer NOT NULL,"
	"  hard_bin integer NOT NULL, seq integer NOT NULL,"
	"  result_sha256 text NOT NULL, screened_at text NOT NULL,"
	"  sent_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  by_role name NOT NULL DEFAULT current_user,"
	"  PRIMARY KEY (src, id, screened_at));"
	"CREATE TABLE screen_limit(src uuid NOT NULL, screened_at text NOT NULL,"
	"  id bigint NOT NULL, screen_id bigint NOT NULL, method text NOT NULL,"
	"  wafer_id bigint, step text NOT NULL, name text, coords text,"
	"  n integer NOT NULL, median double precision,"
	"  robust_sigma double precision, k double precision NOT NULL,"
	"  pat_low double precision, pat_high double precision,"
	"  spec_low double precision, spec_high double precision,"
	"  outliers integer NOT NULL, screened integer NOT NULL, note text,"
	"  PRIMARY KEY (src, screen_id, screened_at, id));"
	"CREATE TABLE screen_die(src uuid NOT NULL, screened_at text NOT NULL,"
	"  id bigint NOT NULL, screen_id bigint NOT NULL, part_id bigint NOT NULL,"
	"  run_id bigint NOT NULL, soft_bin integer NOT NULL,"
	"  hard_bin integer NOT NULL, reason text NOT NULL,"
	"  PRIMARY KEY (src, screen_id, screened_at, id));"
	"CREATE INDEX screen_die_run ON screen_die(src, run_id);"
	"CREATE VIEW screen_current AS SELECT DISTINCT ON (src, id) * FROM screen"
	"  ORDER BY src, id, sent_at DESC;",
	/* 4: the station file's schema 10 (issue 16): the prober's map
	 * geometry of a wafer, NULL when unknown, as in the file. */
	"ALTER TABLE wafer ADD COLUMN map_diameter_mm double precision;"
	"ALTER TABLE wafer ADD COLUMN map_die_w_um double precision;"
	"ALTER TABLE wafer ADD COLUMN map_die_h_um double precision;"
	"ALTER TABLE wafer ADD COLUMN map_cols integer;"
	"ALTER TABLE wafer ADD COLUMN map_rows integer;"
	"ALTER TABLE wafer ADD COLUMN map_edge_mm double precision;"
	"ALTER TABLE wafer ADD COLUMN map_notch_deg double precision;",
};

#define PGS_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int pgs_schema_newest(void)
{
	return PGS_VERSION;
}

/* The server's version: 0 without kgd_meta. */
static int read_version(pgs_conn *c, int *version, kgd_err *err)
{
	PGresult *r = NULL;
	int status = pgs_exec(c, "SELECT to_regclass('kgd_meta') IS NOT NULL",
			      1, &r, "reading the schema version", err);

	if (status)
		return status;
	*version = 0;
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		PQclear(r);
		status = pgs_exec(c, "SELECT coalesce((SELECT value FROM kgd_meta"
				  " WHERE key = 'schema_version'), '0'),"
				  " (SELECT value FROM kgd_meta WHERE key ="
				  " 'server_uuid')", 1, &r,
				  "reading the schema version", err);
		if (status)
			return status;
		*version = atoi(PQgetvalue(r, 0, 0));
		snprintf(c->server_uuid, sizeof(c->server_uuid), "%s",
			 PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return KGD_OK;
}

static int refuse_newer(pgs_conn *c, int version, kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_UNSUPPORTED, "%s: central schema "
			   "version %d is newer than this station knows (%d); "
			   "use a newer station build", c->label, version,
			   PGS_VERSION);
}

static int migrate(pgs_conn *c, kgd_err *err)
{
	char sql[128];
	int version = 0, status;

	status = pgs_exec(c, "BEGIN", 0, NULL, "migrating", err);
	if (status)
		return status;
	/* One migrator at a time; the second one then finds it done. */
	status = pgs_exec(c, "SELECT pg_advisory_xact_lock(7274013)", 1, NULL,
			  "migrating", err);
	if (!status)
		status = read_version(c, &version, err);
	if (!status && version > PGS_VERSION)
		status = refuse_newer(c, version, err);
	for (; !status && version < PGS_VERSION; version++) {
		status = pgs_exec(c, migrations[version], 0, NULL, "migrating",
				  err);
		if (status)
			kgd_err_prefix(err, "central schema migration %d: ",
				       version + 1);
	}
	if (!status) {
		snprintf(sql, sizeof(sql), "INSERT INTO kgd_meta VALUES "
			 "('schema_version', '%d') ON CONFLICT (key) DO UPDATE "
			 "SET value = excluded.value", PGS_VERSION);
		status = pgs_exec(c, sql, 0, NULL, "migrating", err);
	}
	if (!status)
		status = pgs_exec(c, "COMMIT", 0, NULL, "committing the migration",
				  err);
	if (status && c->pg)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	return status;
}

int pgs_schema_ready(pgs_conn *c, kgd_err *err)
{
	int version = 0, status = read_version(c, &version, err);

	if (status)
		return status;
	if (version > PGS_VERSION)
		return refuse_newer(c, version, err);
	if (version < PGS_VERSION) {
		status = migrate(c, err);
		if (status) {
			kgd_err_prefix(err, "central schema version %d, this "
				       "station needs %d (run one sync as a role "
				       "that may create tables): ", version,
				       PGS_VERSION);
			return status;
		}
		status = read_version(c, &version, err);
	}
	c->version = version;
	return status;
}

int pgs_schema_columns(pgs_conn *c, sqlite3 *h, const char *path,
		       const char *table, char **cols, kgd_err *err)
{
	const char *p[1] = { table };
	PGresult *r = NULL;
	sqlite3_stmt *st = NULL;
	pgs_buf b = { 0 };
	char sql[128];
	int status, rc;

	*cols = NULL;
	status = pgs_execp(c, "SELECT column_name FROM information_schema.columns"
			   " WHERE table_schema = current_schema() AND"
			   " table_name = $1", 1, p, 1, &r,
			   "reading the central schema", err);
	if (status)
		return status;
	snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s')"
		 " ORDER BY cid", table);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		status = pgs_sqlite_fail(h, path, err, "reading the schema");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int found = 0;

		for (int i = 0; i < PQntuples(r) && !found; i++)
			found = !strcmp(PQgetvalue(r, i, 0), name);
		if (!found) {
			status = kgd_err_set(err, KGD_ERR_UNSUPPORTED, "%s: the "
					     "central schema (version %d) has no "
					     "column %s.%s that %s has; upgrade "
					     "the server (a newer station migrates "
					     "it)", c->label, c->version, table,
					     name, path);
			goto out;
		}
		if (pgs_buf_printf(&b, "%s%s", b.len ? ", " : "", name)) {
			status = kgd_err_set(err, KGD_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		status = pgs_sqlite_fail(h, path, err, "reading the schema");
		goto out;
	}
	*cols = b.p;
	b.p = NULL;
out:
	sqlite3_finalize(st);
	PQclear(r);
	pgs_buf_free(&b);
	return status;
}
