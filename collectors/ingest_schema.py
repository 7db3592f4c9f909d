"""The shared ingest state's tables in PostgreSQL (component ``ingest``, ``netmon.statedb.migrations``).

    ingest_marks     one row per (token site, agent): every seq any collector accepted, as an
                     ``int8multirange`` (PostgreSQL 14+), and how many seqs the last push added
                     (``last_new``: what ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` reports)
    ingest_counters  per site, exact across collectors: accepted (seqs new to the shared marks),
                     duplicate, rejected, the agent's dropped_total (newest report), last seen
    ingest_journals  per collector journal (its random id): the outbox id pushed up to, advanced
                     in the push's own transaction, so a push repeated after a crash counts nothing

SQLite mode keeps marks and counters in the collector's journal (``collectors/schema.py``);
this component exists only in PostgreSQL. Append a step to change anything.
"""

from __future__ import annotations

from netmon.statedb.migrations import Migration

COMPONENT = "ingest"

V1_POSTGRES = """
CREATE TABLE IF NOT EXISTS ingest_marks (
  site_id TEXT NOT NULL, agent_id TEXT NOT NULL, seqs int8multirange NOT NULL, last_new BIGINT NOT NULL,
  updated_ns BIGINT NOT NULL, PRIMARY KEY (site_id, agent_id));
CREATE TABLE IF NOT EXISTS ingest_counters (
  site_id TEXT PRIMARY KEY, accepted BIGINT NOT NULL DEFAULT 0, duplicate BIGINT NOT NULL DEFAULT 0,
  rejected BIGINT NOT NULL DEFAULT 0, dropped_total BIGINT NOT NULL DEFAULT 0, dropped_at_ns BIGINT,
  last_seen_ns BIGINT);
CREATE TABLE IF NOT EXISTS ingest_journals (
  journal_id TEXT PRIMARY KEY, instance TEXT NOT NULL, pushed_id BIGINT NOT NULL, pushed_ns BIGINT);
CREATE OR REPLACE FUNCTION netmon_seq_count(int8multirange) RETURNS BIGINT LANGUAGE sql IMMUTABLE STRICT AS
  $$ SELECT coalesce(sum(upper(r) - lower(r)), 0)::bigint FROM unnest($1) AS r $$;
"""

MIGRATIONS = (
    Migration(1, "shared de-duplication marks, per-site counters, pushed journals", sqlite="", postgres=V1_POSTGRES),
)
