"""Token digests in PostgreSQL: component ``sites`` of ``netmon.statedb``.

The token tables of the SQLite ``sites.db`` (``collectors/schema.py`` ``SITES_STEPS``), same
columns, plus ``sites_changes``: one row whose counter every write bumps (trigger), so a collector
polls one integer about every second to know whether its in-memory digest cache is still right —
token checks never cost a round trip per request. The site registry is not here: it is a file on
every collector (docs/scaling.md says why).

Append a step to change anything; never edit a released one.
"""

from __future__ import annotations

from netmon.statedb.migrations import Migration

COMPONENT = "sites"

V1 = """
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
"""

MIGRATIONS = (
    Migration(1, "site and role token digests, change counter", sqlite="", postgres=V1),
)
