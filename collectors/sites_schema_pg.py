"""The site registry copy and token digests in PostgreSQL: component ``sites`` of ``netmon.statedb``.

Same tables and columns as the SQLite ``sites.db`` (``collectors/schema.py`` ``SITES_STEPS``), so
one set of queries serves both, plus ``sites_changes``: one row whose counter every write bumps
(trigger), so a collector polls one integer about every second to know whether its in-memory
digest cache is still right — token checks never cost a round trip per request.

Append a step to change anything; never edit a released one.
"""

from __future__ import annotations

from netmon.statedb.migrations import Migration

COMPONENT = "sites"

V1 = """
CREATE TABLE IF NOT EXISTS sites (site_id TEXT PRIMARY KEY, name TEXT NOT NULL, province TEXT NOT NULL,
  district TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token_sha256 TEXT PRIMARY KEY, site_id TEXT NOT NULL,
  created_ns BIGINT NOT NULL, revoked_ns BIGINT, agent_id TEXT);
CREATE INDEX IF NOT EXISTS tokens_site ON tokens(site_id);
CREATE TABLE IF NOT EXISTS role_tokens (token_sha256 TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL,
  created_ns BIGINT NOT NULL, revoked_ns BIGINT);
CREATE INDEX IF NOT EXISTS role_tokens_name ON role_tokens(name);
CREATE TABLE IF NOT EXISTS sites_changes (id INTEGER PRIMARY KEY CHECK (id = 1), counter BIGINT NOT NULL);
INSERT INTO sites_changes (id, counter) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION sites_bump_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE sites_changes SET counter = counter + 1 WHERE id = 1;
  RETURN NULL;
END $$;
CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION sites_bump_changes();
CREATE TRIGGER role_tokens_changed AFTER INSERT OR UPDATE OR DELETE ON role_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION sites_bump_changes();
CREATE TRIGGER sites_registry_changed AFTER INSERT OR UPDATE OR DELETE ON sites
  FOR EACH STATEMENT EXECUTE FUNCTION sites_bump_changes();
"""

MIGRATIONS = (
    Migration(1, "registry copy, site and role token digests, change counter", sqlite="", postgres=V1),
)
