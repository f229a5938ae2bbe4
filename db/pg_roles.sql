-- db/pg_roles.sql - the two kinds of users of the central PostgreSQL
-- server (docs/CENTRAL_DB.md). Run once as the schema's owner, after the
-- first `station sync` made the schema (and again after an upgrade adds
-- tables):  psql "service=kgd-admin" -f db/pg_roles.sql
--
--  kgd_station: what a station's login may do - insert results, read
--    the central schema version and its OWN sync state (row-level
--    security on sync_batch, and on the key columns of the screen
--    versions it sent). It cannot read, update or delete results.
--  kgd_analyst: read everything, change nothing.
--
-- Logins are members of one of them, with a password set by the DBA
-- (never on a station's command line or config: the station reads it
-- from ~/.pgpass, a service file or PGPASSWORD), e.g.
--   CREATE ROLE station_prober3 LOGIN IN ROLE kgd_station;
--   \password station_prober3
--   CREATE ROLE alice LOGIN IN ROLE kgd_analyst;
DO $$ BEGIN
	CREATE ROLE kgd_station NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
	CREATE ROLE kgd_analyst NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

GRANT USAGE ON SCHEMA public TO kgd_station, kgd_analyst;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT SELECT ON kgd_meta TO kgd_station;
GRANT INSERT ON station, operator, sequence, limits_set, lot, wafer, part,
	session, session_end, bin, hard_bin, session_instrument, run,
	step_result, measurement, sync_batch TO kgd_station;
GRANT SELECT ON sync_batch TO kgd_station;
-- The outlier screens (central schema 3): a station inserts each version
-- of a screen and may see which versions it sent - those key columns of
-- its own rows only - to send none twice.
GRANT INSERT ON screen, screen_limit, screen_die TO kgd_station;
GRANT SELECT (src, id, screened_at, by_role) ON screen TO kgd_station;

ALTER TABLE sync_batch ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS sync_batch_station ON sync_batch;
CREATE POLICY sync_batch_station ON sync_batch TO kgd_station
	USING (by_role = current_user) WITH CHECK (by_role = current_user);
DROP POLICY IF EXISTS sync_batch_analyst ON sync_batch;
CREATE POLICY sync_batch_analyst ON sync_batch FOR SELECT TO kgd_analyst
	USING (true);

GRANT SELECT ON ALL TABLES IN SCHEMA public TO kgd_analyst;

ALTER TABLE screen ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS screen_station ON screen;
CREATE POLICY screen_station ON screen TO kgd_station
	USING (by_role = current_user) WITH CHECK (by_role = current_user);
DROP POLICY IF EXISTS screen_analyst ON screen;
CREATE POLICY screen_analyst ON screen FOR SELECT TO kgd_analyst
	USING (true);
