/*
 * db/schema.c - the shape of a results file: refuse foreign or newer
 * files, set WAL, and bring an older file to the current schema through
 * numbered migrations, with a backup of the old file taken first; and the
 * readers' check (db_check_readable) of the same facts.
 *
 * Place in db/: below db.c (the front, which opens the connection and
 * calls db_schema_upgrade), above db_check.c (the integrity check a file
 * passes before anything is written to it) and db_core.c (db_fail); it
 * never touches the statement cache.
 *
 * Invariants:
 *  - The schema only changes through migrations[] below: entry i takes the
 *    file from user_version i to i+1. Never edit a shipped entry; append
 *    one. (Version 1 can still be built alone: tests do, to prove the
 *    upgrade path on a genuine old file.)
 *  - A migration is all or nothing: every step and the new user_version
 *    commit in one transaction, and the backup holds exactly the state
 *    that transaction started from.
 *  - A backup file is never overwritten: each migration picks a new name.
 *  - Nothing is written to a damaged file: db_check_at_open runs before
 *    the pragmas and migrations.
 */
#include "db_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const migrations[] = {
	/* 1: the initial schema. Natural keys (station name+host, operator
	 * name, sequence sha256, lot name, wafer lot+name, part
	 * lot+wafer+serial+x/y) are looked up by the writer inside its write
	 * transaction, so they never duplicate; the UNIQUE constraints are a
	 * second line of defence where the key has no NULLable column. */
	"CREATE TABLE station("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  host TEXT,"
	"  UNIQUE(name, host));"
	"CREATE TABLE operator("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE sequence("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL UNIQUE,"
	"  text TEXT);"
	"CREATE TABLE lot("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE wafer("
	"  id INTEGER PRIMARY KEY,"
	"  lot_id INTEGER NOT NULL REFERENCES lot(id),"
	"  name TEXT NOT NULL,"
	"  UNIQUE(lot_id, name));"
	/* A die has x/y (and a wafer), a unit a serial; a part has at least
	 * one of them so two unknown parts can never merge. */
	"CREATE TABLE part("
	"  id INTEGER PRIMARY KEY,"
	"  lot_id INTEGER NOT NULL REFERENCES lot(id),"
	"  wafer_id INTEGER REFERENCES wafer(id),"
	"  serial TEXT,"
	"  die_x INTEGER,"
	"  die_y INTEGER,"
	"  CHECK ((die_x IS NULL) = (die_y IS NULL)),"
	"  CHECK (serial IS NOT NULL OR die_x IS NOT NULL));"
	/* Leads with lot_id, so it is also the part(lot_id) index reports
	 * group by; the rest makes the writer's die lookup an index seek. */
	"CREATE INDEX part_lot ON part(lot_id, wafer_id, die_x, die_y);"
	/* status starts as 'aborted': should a run row ever be committed
	 * without db_run_commit() it must not read as a pass. */
	"CREATE TABLE run("
	"  id INTEGER PRIMARY KEY,"
	"  part_id INTEGER NOT NULL REFERENCES part(id),"
	"  sequence_id INTEGER NOT NULL REFERENCES sequence(id),"
	"  station_id INTEGER NOT NULL REFERENCES station(id),"
	"  operator_id INTEGER REFERENCES operator(id),"
	"  product TEXT,"
	"  started_at TEXT NOT NULL,"
	"  ended_at TEXT,"
	"  status TEXT NOT NULL DEFAULT 'aborted'"
	"    CHECK (status IN ('pass','fail','error','aborted')),"
	"  hard_bin INTEGER,"
	"  soft_bin INTEGER,"
	"  fail_reason TEXT);"
	"CREATE INDEX run_part ON run(part_id);"
	/* value/low/high NULL = no valid value / no such limit. The
	 * UNIQUE(run_id, seq_no) index is also the measurement(run_id) index. */
	"CREATE TABLE measurement("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,"
	"  seq_no INTEGER NOT NULL,"
	"  step TEXT NOT NULL,"
	"  coords TEXT CHECK (coords IS NULL OR json_valid(coords)),"
	"  value REAL,"
	"  unit TEXT,"
	"  low REAL,"
	"  high REAL,"
	"  pass INTEGER NOT NULL CHECK (pass IN (0, 1)),"
	"  UNIQUE(run_id, seq_no));"
	"CREATE INDEX measurement_step ON measurement(step, unit);",

	/* 2: sessions, bins, step results, limits identity, retest index
	 * (issue 7). Only additions: every version-1 query still works. */
	"CREATE TABLE limits_set("
	"  id INTEGER PRIMARY KEY,"
	"  sha256 TEXT NOT NULL UNIQUE,"
	"  text TEXT);"
	/* One `station run` of one lot. A session still 'running' when the
	 * next one begins belonged to a station that died. */
	"CREATE TABLE session("
	"  id INTEGER PRIMARY KEY,"
	"  station_id INTEGER NOT NULL REFERENCES station(id),"
	"  operator_id INTEGER REFERENCES operator(id),"
	"  lot_id INTEGER NOT NULL REFERENCES lot(id),"
	"  sequence_id INTEGER NOT NULL REFERENCES sequence(id),"
	"  limits_id INTEGER REFERENCES limits_set(id),"
	"  process TEXT NOT NULL,"
	"  product TEXT,"
	"  started_at TEXT NOT NULL,"
	"  ended_at TEXT,"
	"  status TEXT NOT NULL DEFAULT 'running'"
	"    CHECK (status IN ('running','complete','aborted','interrupted',"
	"                      'error')));"
	"CREATE INDEX session_lot ON session(lot_id);"
	"CREATE INDEX session_status ON session(status);"
	/* The sequence's bin table, stored once per sequence (its sha256
	 * fixes the text, so the bins of one sequence row never change). The
	 * UNIQUE index is also the bin(sequence_id) index. */
	"CREATE TABLE bin("
	"  id INTEGER PRIMARY KEY,"
	"  sequence_id INTEGER NOT NULL REFERENCES sequence(id),"
	"  number INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  pass INTEGER NOT NULL CHECK (pass IN (0, 1)),"
	"  UNIQUE(sequence_id, number));"
	"ALTER TABLE run ADD COLUMN session_id INTEGER REFERENCES session(id);"
	"ALTER TABLE run ADD COLUMN limits_id INTEGER REFERENCES limits_set(id);"
	"ALTER TABLE run ADD COLUMN retest INTEGER NOT NULL DEFAULT 0"
	"  CHECK (retest >= 0);"
	/* Version-1 files already hold retests: number them as db_run_begin()
	 * would have, so first-pass yield (retest = 0) is right for old lots
	 * too. run_part(part_id) is ordered by (part_id, id), as SQLite
	 * appends the rowid to every index entry. */
	"UPDATE run SET retest = (SELECT count(*) FROM run e"
	"  WHERE e.part_id = run.part_id AND e.id < run.id);"
	"CREATE INDEX run_session ON run(session_id);"
	"CREATE TABLE step_result("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,"
	"  step TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('pass','fail','error')),"
	"  bin INTEGER,"
	"  n_values INTEGER NOT NULL DEFAULT 0 CHECK (n_values >= 0));"
	"CREATE INDEX step_result_run ON step_result(run_id);"
	"ALTER TABLE measurement ADD COLUMN name TEXT;"
	/* Units share (lot, NULL wafer, NULL x/y) in part_lot, so finding a
	 * serial there scans the lot: O(n^2) over a lot of units. */
	"CREATE INDEX part_serial ON part(lot_id, serial);",

	/* 3: hard bins have names of their own. bin holds the soft bins (the
	 * failure reasons) and now also the hard bin each maps to; hard_bin
	 * names the hard bins run.hard_bin and STDF's HBR refer to. */
	"CREATE TABLE hard_bin("
	"  id INTEGER PRIMARY KEY,"
	"  sequence_id INTEGER NOT NULL REFERENCES sequence(id),"
	"  number INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  pass INTEGER NOT NULL CHECK (pass IN (0, 1)),"
	"  UNIQUE(sequence_id, number));"
	"ALTER TABLE bin ADD COLUMN hard INTEGER;",

	/* 4: step timing (issue 12): when each step started and ended, so a
	 * test engineer sees where a part's seconds go (testtime.csv). The
	 * times are ISO text like every other time in the file (they sort,
	 * compare and read the same way), but text holds milliseconds and
	 * SQLite's date functions lose more: duration_s keeps the station's
	 * own figure (ended - started, to the microsecond) as a REAL, so a
	 * report neither parses text nor rounds a 0.4 ms step to 0 or 1 ms.
	 * NULL = unknown: rows from before this migration, a caller that
	 * gave no times, or a clock that stepped back during the step. */
	"ALTER TABLE step_result ADD COLUMN started_at TEXT;"
	"ALTER TABLE step_result ADD COLUMN ended_at TEXT;"
	"ALTER TABLE step_result ADD COLUMN duration_s REAL"
	"  CHECK (duration_s IS NULL OR duration_s >= 0);",

	/* 5: who holds a lot, and what measured it (issue 19).
	 * lot_lease: one row per lot a station is testing right now (the
	 * lot is the key, so two holders cannot even be written); the
	 * holder is named by station, host and pid, with the pid's start
	 * time and the host's boot id so a pid reused after the holder died
	 * or a reboot is told from the holder itself. The row goes with the
	 * session's end; a session still 'running' without one belonged to
	 * a station that is gone.
	 * session_instrument: per session and role, the driver that
	 * produced the values (name, ABI, the plugin file and its SHA-256)
	 * and the instrument's identity (*IDN? or the driver's
	 * equivalent), so a value is never of unknown origin. */
	"CREATE TABLE lot_lease("
	"  lot_id INTEGER PRIMARY KEY REFERENCES lot(id),"
	"  session_id INTEGER NOT NULL UNIQUE REFERENCES session(id),"
	"  station TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  pid_start INTEGER,"
	"  boot_id TEXT,"
	"  since TEXT NOT NULL,"
	"  renewed_at TEXT NOT NULL);"
	"CREATE TABLE session_instrument("
	"  id INTEGER PRIMARY KEY,"
	"  session_id INTEGER NOT NULL REFERENCES session(id),"
	"  role TEXT NOT NULL,"
	"  driver TEXT NOT NULL,"
	"  abi_major INTEGER NOT NULL,"
	"  abi_minor INTEGER NOT NULL,"
	"  plugin_file TEXT,"
	"  plugin_sha256 TEXT,"
	"  identity TEXT,"
	"  UNIQUE(session_id, role));",

	/* 5 -> 6: the test condition a run was measured under
	 * (`station run --condition temperature_c=85`), which picked its
	 * limit set: "temperature_c=85", NULL when none was given. */
	"ALTER TABLE run ADD COLUMN condition TEXT;",

	/* 7: which build recorded a session (issue 21): the station's
	 * version (CMake project version) and its build description (`git
	 * describe --always --dirty` at build time, "unknown" from a tarball).
	 * NULL: a session from before this migration, or a writer that gave
	 * none. */
	"ALTER TABLE session ADD COLUMN software_version TEXT;"
	"ALTER TABLE session ADD COLUMN software_build TEXT;",

	/* 8: the outlier screen (issue 16, `station screen`): a screen is
	 * one lot screened with one config (its SHA-256 and text), UNIQUE so
	 * a rerun replaces its own rows instead of adding; seq orders a
	 * lot's screens, the highest is the one reports apply. screen_limit:
	 * the PAT limits used per test (and wafer, for dynamic PAT), with
	 * screened 0 and a note when a test was not screened (too few
	 * dies). screen_die: each die the screen rejects, the run it judged
	 * (a later retest is not covered), its new bins and the reason. The
	 * run's own bins and measurements are never changed. */
	"CREATE TABLE screen("
	"  id INTEGER PRIMARY KEY,"
	"  lot_id INTEGER NOT NULL REFERENCES lot(id),"
	"  config_sha256 TEXT NOT NULL,"
	"  config_text TEXT NOT NULL,"
	"  soft_bin INTEGER NOT NULL,"
	"  hard_bin INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  result_sha256 TEXT NOT NULL,"
	"  screened_at TEXT NOT NULL,"
	"  UNIQUE(lot_id, config_sha256));"
	"CREATE TABLE screen_limit("
	"  id INTEGER PRIMARY KEY,"
	"  screen_id INTEGER NOT NULL REFERENCES screen(id) ON DELETE CASCADE,"
	"  method TEXT NOT NULL CHECK (method IN ('dpat','spat')),"
	"  wafer_id INTEGER REFERENCES wafer(id),"
	"  step TEXT NOT NULL,"
	"  name TEXT,"
	"  coords TEXT,"
	"  n INTEGER NOT NULL,"
	"  median REAL,"
	"  robust_sigma REAL,"
	"  k REAL NOT NULL,"
	"  pat_low REAL,"
	"  pat_high REAL,"
	"  spec_low REAL,"
	"  spec_high REAL,"
	"  outliers INTEGER NOT NULL DEFAULT 0,"
	"  screened INTEGER NOT NULL CHECK (screened IN (0, 1)),"
	"  note TEXT);"
	"CREATE INDEX screen_limit_screen ON screen_limit(screen_id);"
	"CREATE TABLE screen_die("
	"  id INTEGER PRIMARY KEY,"
	"  screen_id INTEGER NOT NULL REFERENCES screen(id) ON DELETE CASCADE,"
	"  part_id INTEGER NOT NULL REFERENCES part(id),"
	"  run_id INTEGER NOT NULL REFERENCES run(id),"
	"  soft_bin INTEGER NOT NULL,"
	"  hard_bin INTEGER NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  UNIQUE(screen_id, part_id));"
	"CREATE INDEX screen_die_run ON screen_die(run_id);",

	/* 9: store-and-forward to a central PostgreSQL server (issue 13).
	 * sync_source: the file's own identity, made once, at random: the
	 * server keys every row by it plus the row's local id, so rows of
	 * two stations never collide and a row sent twice is the same row.
	 * sync_mark: per server (its own uuid, kgd_meta on the server) and
	 * table, the highest local id the server has committed; written only
	 * after the server's COMMIT, so it may lag the server (never lead
	 * it): the server's own record decides where an upload resumes. */
	"CREATE TABLE sync_source("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  uuid TEXT NOT NULL);"
	"INSERT INTO sync_source(id, uuid) VALUES (1, lower(hex(randomblob(16))));"
	"CREATE TABLE sync_mark("
	"  server TEXT NOT NULL,"
	"  tbl TEXT NOT NULL,"
	"  last_id INTEGER NOT NULL,"
	"  synced_at TEXT NOT NULL,"
	"  PRIMARY KEY (server, tbl));",

	/* 10: the prober's map geometry of a wafer (issue 16, the wafer
	 * picture), recorded when the station first records the wafer
	 * (driver ABI 1.4 map_geometry): diameter, the map's index (die
	 * step) size, its grid, the edge exclusion and the notch angle
	 * (degrees counter-clockwise from the right; 270 = down). All NULL:
	 * unknown (an older file, a prober without the operation); edge and
	 * notch may be NULL alone. The row is never updated. */
	"ALTER TABLE wafer ADD COLUMN map_diameter_mm REAL;"
	"ALTER TABLE wafer ADD COLUMN map_die_w_um REAL;"
	"ALTER TABLE wafer ADD COLUMN map_die_h_um REAL;"
	"ALTER TABLE wafer ADD COLUMN map_cols INTEGER;"
	"ALTER TABLE wafer ADD COLUMN map_rows INTEGER;"
	"ALTER TABLE wafer ADD COLUMN map_edge_mm REAL;"
	"ALTER TABLE wafer ADD COLUMN map_notch_deg REAL;",
};

#define DB_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Tables a readable station database has, and the version that added
 * each, so a reader can tell a damaged file from an older one. */
static const struct {
	const char *name;
	int since;
} required_tables[] = {
	{ "station", 1 }, { "operator", 1 }, { "sequence", 1 }, { "lot", 1 },
	{ "wafer", 1 }, { "part", 1 }, { "run", 1 }, { "measurement", 1 },
	{ "limits_set", 2 }, { "session", 2 }, { "bin", 2 },
	{ "step_result", 2 }, { "hard_bin", 3 }, { "lot_lease", 5 },
	{ "session_instrument", 5 }, { "screen", 8 }, { "screen_limit", 8 },
	{ "screen_die", 8 }, { "sync_source", 9 }, { "sync_mark", 9 },
};

#define N_REQUIRED ((int)(sizeof(required_tables) / sizeof(required_tables[0])))

int db_schema_newest(void)
{
	return DB_VERSION;
}

/* One SQL statement on a connection, for the rare, uncached ones. */
static int exec_sql(sqlite3 *h, const char *path, const char *sql,
		    const char *what, kgd_err *err)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(h, path, err, "%s", what);
	return KGD_OK;
}

/* The first column of the first row of sql, as an int. */
static int query_int(sqlite3 *h, const char *path, const char *sql,
		     int *out, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		status = db_fail(h, path, err, "reading the schema");
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return status;
}

static int refuse_newer(const char *path, int version, kgd_err *err)
{
	return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
			   "%s: schema version %d is newer than this program "
			   "knows (%d); use a newer station build",
			   path, version, DB_VERSION);
}

int db_schema_check(sqlite3 *h, const char *path, kgd_err *err)
{
	char sql[512];
	int version = 0, n = 0, want = 0, status, i;
	size_t len;

	status = query_int(h, path, "PRAGMA user_version", &version, err);
	if (status)
		return status;
	if (version == 0)
		return kgd_err_set(err, KGD_ERR_DB,
				   "%s: not a station database (no schema version)",
				   path);
	if (version > DB_VERSION)
		return refuse_newer(path, version, err);
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM "
			       "sqlite_master WHERE type = 'table' AND name IN (");
	for (i = 0; i < N_REQUIRED; i++) {
		if (required_tables[i].since > version)
			continue;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s'%s'",
					want ? "," : "", required_tables[i].name);
		want++;
	}
	snprintf(sql + len, sizeof(sql) - len, ")");
	status = query_int(h, path, sql, &n, err);
	if (status)
		return status;
	if (n != want)
		return kgd_err_set(err, KGD_ERR_DB,
				   "%s: not a station database (%d of its %d "
				   "tables missing)", path, want - n, want);
	return KGD_OK;
}

/* Before touching the file: refuse anything that is neither empty nor a
 * station database we understand, so a wrong path is never converted. */
static int check_file(db *d, kgd_err *err)
{
	int version = 0, objects = 0, status;

	status = query_int(d->h, d->path, "PRAGMA user_version", &version, err);
	if (status)
		return status;
	if (version != 0)
		return db_schema_check(d->h, d->path, err);
	status = query_int(d->h, d->path, "SELECT count(*) FROM sqlite_master",
			   &objects, err);
	if (status)
		return status;
	if (objects != 0)
		return kgd_err_set(err, KGD_ERR_DB, "%s: not a station database "
				   "(it has tables but no schema version)", d->path);
	return KGD_OK;
}

static int set_pragmas(db *d, kgd_err *err)
{
	sqlite3_stmt *st = NULL;
	int status = KGD_OK;
	const unsigned char *mode;

	/* WAL: a report reads while the station writes, neither blocks. */
	if (sqlite3_prepare_v2(d->h, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		status = db_fail(d->h, d->path, err, "setting WAL mode");
		goto out;
	}
	mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		status = kgd_err_set(err, KGD_ERR_DB, "%s: cannot use WAL mode "
				     "(journal mode stays '%s'; a network file "
				     "system?)", d->path, mode ? (const char *)mode : "?");
		goto out;
	}
	/* In WAL mode synchronous=NORMAL still never corrupts the file and
	 * never loses a transaction on a process crash; only a power loss can
	 * drop the last commits before the next checkpoint. That costs at
	 * most the dies just tested (they are retested), and saves an fsync
	 * per die. */
	status = exec_sql(d->h, d->path, "PRAGMA synchronous = NORMAL;"
			  "PRAGMA foreign_keys = ON", "setting pragmas", err);
out:
	sqlite3_finalize(st);
	return status;
}

/* Copy the whole database, as the connection's current read snapshot sees
 * it, to a new file "<path>.v<version>.bak" ("-2", "-3", ... before .bak
 * if taken). O_EXCL reserves the name, so an earlier backup is never
 * overwritten even by a concurrent migration. */
static int take_backup(db *d, int version, kgd_err *err)
{
	size_t cap = strlen(d->path) + 40;
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	char *name = malloc(cap);
	int fd = -1, n, rc, status = KGD_OK;

	if (!name)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", d->path);
	for (n = 1; n < 1000; n++) {
		if (n == 1)
			snprintf(name, cap, "%s.v%d.bak", d->path, version);
		else
			snprintf(name, cap, "%s.v%d-%d.bak", d->path, version, n);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		status = kgd_err_set(err, KGD_ERR_IO, "%s: cannot create a backup "
				     "before migrating (%s): %s", d->path, name,
				     strerror(errno));
		free(name);
		return status;
	}
	close(fd);
	/* SQLite takes a zero-length file as an empty database. */
	if (sqlite3_open_v2(name, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		status = db_fail(dst, name, err, "opening the backup");
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", d->h, "main");
	if (!b) {
		status = db_fail(dst, name, err, "starting the backup of %s",
				 d->path);
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE)
		status = db_fail(dst, name, err, "backing up %s", d->path);
out:
	if (sqlite3_close(dst) != SQLITE_OK && !status)
		status = kgd_err_set(err, KGD_ERR_IO, "%s: closing the backup",
				     name);
	if (status) {
		unlink(name);
		free(name);
	} else {
		free(d->backup_path);
		d->backup_path = name;
	}
	return status;
}

/* Bring the file from its version to `target` in one transaction: all
 * steps or none, after a backup of what it held. */
static int migrate(db *d, int target, kgd_err *err)
{
	char sql[64];
	int version = 0, status;

	status = query_int(d->h, d->path, "PRAGMA user_version", &version, err);
	if (status || version >= target)
		return status;
	/* A deferred BEGIN and a read pin one snapshot: the backup copies it
	 * and the first migration write upgrades it to the write lock, which
	 * SQLite refuses (busy) if another writer committed in between. So
	 * the backup is exactly the state migrated. (BEGIN IMMEDIATE would
	 * make the backup API refuse to read.) */
	status = exec_sql(d->h, d->path, "BEGIN", "migrating", err);
	if (status)
		return status;
	status = query_int(d->h, d->path, "PRAGMA user_version", &version, err);
	if (status)
		goto out;
	if (version > DB_VERSION) {
		status = refuse_newer(d->path, version, err);
		goto out;
	}
	if (version > 0) {
		status = take_backup(d, version, err);
		if (status) {
			kgd_err_prefix(err, "not migrated: ");
			goto out;
		}
	}
	for (; version < target; version++) {
		status = exec_sql(d->h, d->path, migrations[version],
				  "migrating the schema", err);
		if (status) {
			kgd_err_prefix(err, "migration %d: ", version + 1);
			goto out;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", target);
	status = exec_sql(d->h, d->path, sql, "migrating", err);
	if (!status)
		status = exec_sql(d->h, d->path, "COMMIT", "committing the migration",
				  err);
out:
	if (status)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return status;
}

int db_schema_upgrade(db *d, int target, kgd_err *err)
{
	int status = check_file(d, err);

	if (!status)
		status = db_check_at_open(d, err);
	/* A damaged page can stop the reading of the schema itself. */
	if (status == KGD_ERR_DB &&
	    (sqlite3_errcode(d->h) & 0xff) == SQLITE_CORRUPT &&
	    !(err && strstr(err->msg, ".recover")))
		status = db_damaged(d, err, "the file is damaged (%s); nothing "
				    "was added to it", sqlite3_errmsg(d->h));
	if (!status)
		status = set_pragmas(d, err);
	if (!status)
		status = migrate(d, target, err);
	return status;
}
