"""The schema of the collector's two SQLite files, versioned, and the steps that bring an older file up.

Each file keeps its version in SQLite's ``user_version``. Opening a file (``ensure_sites``,
``ensure_journal``) runs every step above its version, each in one transaction that also sets
the new version, so a file is always exactly at one version: a crash mid-migration leaves the
previous one, and the next start runs the step again. A file of a newer version than this
program knows is refused (StorageError: upgrade netmon, never run an older one on newer state).
Version 1 is the schema as it was before versions were kept: its ``CREATE ... IF NOT EXISTS``
brings an empty file, or an unversioned one of that time, to it.

    sites.db    1  sites, registry_meta, tokens
                2  tokens.agent_id (the agent a site token speaks for), role_tokens (viewer, operator, admin)
    journal.db  1  batches, tsdb_pending, latest, site_counters, dedupe_marks keyed by agent
                2  dedupe_marks keyed by (site, agent), with when each interval last grew
                3  tsdb_targets, tsdb_todo (a cursor per TSDB target), tsdb_set_aside
                4  ingest_outbox (what is still to be pushed to shared marks and counters),
                   journal_meta (this journal's random id in the shared state)
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence

from netmon.collectors.sqlite import transaction
from netmon.errors import StorageError

log = logging.getLogger("netmon.collector.schema")
Step = tuple[int, str, Callable[[sqlite3.Connection], None]]  # (version, what it does, apply)


def _run(*statements: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        for statement in statements:  # not executescript: it would commit the migration's transaction
            conn.execute(statement)
    return apply


SITES_STEPS: Sequence[Step] = (
    (1, "base tables", _run(
        "CREATE TABLE IF NOT EXISTS sites (site_id TEXT PRIMARY KEY, name TEXT NOT NULL, province TEXT NOT NULL, "
        "district TEXT, doc TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS tokens (token_sha256 TEXT PRIMARY KEY, site_id TEXT NOT NULL, "
        "created_ns INTEGER NOT NULL, revoked_ns INTEGER)",
        "CREATE INDEX IF NOT EXISTS tokens_site ON tokens(site_id)")),
    (2, "site tokens bound to their agent; role tokens", _run(
        # NULL: a token issued before agents were bound; it is bound to the first agent_id it sends
        "ALTER TABLE tokens ADD COLUMN agent_id TEXT",
        "CREATE TABLE role_tokens (token_sha256 TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL, "
        "created_ns INTEGER NOT NULL, revoked_ns INTEGER)",
        "CREATE INDEX role_tokens_name ON role_tokens(name)")),
)


def _site_keyed_marks(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE dedupe_marks_v2 (site_id TEXT NOT NULL, agent_id TEXT NOT NULL, "
                 "start_seq INTEGER NOT NULL, end_seq INTEGER NOT NULL, since_ns INTEGER NOT NULL, "
                 "grown_ns INTEGER NOT NULL, PRIMARY KEY (site_id, agent_id, start_seq)) WITHOUT ROWID")
    # Which site an agent sent for: its batches say so. Where several sites sent under one agent_id
    # (the attack this version closes) each keeps the marks: none of them loses a mark it had.
    conn.execute("CREATE TEMP TABLE agent_sites AS SELECT DISTINCT agent_id, site_id FROM batches")
    conn.execute("INSERT INTO dedupe_marks_v2 SELECT a.site_id, m.agent_id, m.start_seq, m.end_seq, m.since_ns, "
                 "m.since_ns FROM dedupe_marks m JOIN agent_sites a ON a.agent_id = m.agent_id")
    # batches pruned: the agent's default name, '<site>-agent'
    conn.execute("INSERT INTO dedupe_marks_v2 SELECT substr(agent_id, 1, length(agent_id) - 6), agent_id, "
                 "start_seq, end_seq, since_ns, since_ns FROM dedupe_marks WHERE agent_id LIKE '%_-agent' "
                 "AND agent_id NOT IN (SELECT agent_id FROM agent_sites)")
    orphans = conn.execute("SELECT count(DISTINCT agent_id) FROM dedupe_marks WHERE agent_id NOT LIKE '%_-agent' "
                           "AND agent_id NOT IN (SELECT agent_id FROM agent_sites)").fetchone()[0]
    if orphans:
        log.warning("journal migration: the dedupe marks of %d agent(s) name no site (no batch left, not "
                    "'<site>-agent') and are dropped: a result they re-send is stored again", orphans)
    conn.execute("DROP TABLE agent_sites")
    conn.execute("DROP TABLE dedupe_marks")
    conn.execute("ALTER TABLE dedupe_marks_v2 RENAME TO dedupe_marks")


JOURNAL_STEPS: Sequence[Step] = (
    (1, "base tables", _run(
        "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, agent_id TEXT NOT NULL, "
        "accepted_ns INTEGER NOT NULL, province TEXT NOT NULL, district TEXT, results INTEGER NOT NULL, "
        "first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, min_time_ns INTEGER NOT NULL, accepted_idx BLOB, "
        "gzipped INTEGER NOT NULL, body BLOB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS tsdb_pending (batch_id INTEGER PRIMARY KEY, min_time_ns INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS tsdb_pending_time ON tsdb_pending (min_time_ns, batch_id)",
        "CREATE TABLE IF NOT EXISTS latest (site_id TEXT NOT NULL, probe TEXT NOT NULL, link TEXT NOT NULL, "
        "target TEXT NOT NULL, time_ns INTEGER NOT NULL, batch_id INTEGER NOT NULL, idx INTEGER NOT NULL, "
        "PRIMARY KEY (site_id, probe, link, target)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS site_counters (site_id TEXT PRIMARY KEY, accepted INTEGER NOT NULL DEFAULT 0, "
        "duplicate INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0, "
        "dropped_total INTEGER NOT NULL DEFAULT 0, last_seen_ns INTEGER)",
        "CREATE TABLE IF NOT EXISTS dedupe_marks (agent_id TEXT NOT NULL, start_seq INTEGER NOT NULL, "
        "end_seq INTEGER NOT NULL, since_ns INTEGER NOT NULL, PRIMARY KEY (agent_id, start_seq)) WITHOUT ROWID")),
    (2, "dedupe marks keyed by site and agent", _site_keyed_marks),
    (3, "several TSDB targets, each with its own cursor; points a target refused, set aside", _run(
        # IF NOT EXISTS: the release before created these tables without a schema version
        "CREATE TABLE IF NOT EXISTS tsdb_targets (name TEXT PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS tsdb_todo (target TEXT NOT NULL, min_time_ns INTEGER NOT NULL, "
        "batch_id INTEGER NOT NULL, PRIMARY KEY (target, min_time_ns, batch_id)) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS tsdb_todo_oldest ON tsdb_todo (target, batch_id)",
        "CREATE INDEX IF NOT EXISTS tsdb_todo_batch ON tsdb_todo (batch_id)",
        # a batch waiting for the TSDB waits for every target: tsdb_pending fans out to each cursor
        "CREATE TRIGGER IF NOT EXISTS tsdb_fan_out AFTER INSERT ON tsdb_pending BEGIN INSERT INTO tsdb_todo "
        "(target, min_time_ns, batch_id) SELECT name, NEW.min_time_ns, NEW.batch_id FROM tsdb_targets; END",
        "CREATE TABLE IF NOT EXISTS tsdb_set_aside (target TEXT NOT NULL, batch_id INTEGER NOT NULL, "
        "idx INTEGER NOT NULL, site_id TEXT NOT NULL, reason TEXT NOT NULL, at_ns INTEGER NOT NULL, "
        "PRIMARY KEY (target, batch_id, idx))")),
    (4, "an outbox of seq runs and counts for the shared marks (several collectors)", _run(
        # used only with state.postgres: the rows a commit queues for collectors/outbox_push.py
        "CREATE TABLE ingest_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
        "site_id TEXT NOT NULL, agent_id TEXT NOT NULL, runs BLOB, accepted INTEGER NOT NULL DEFAULT 0, "
        "duplicate INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0, dropped_total INTEGER, "
        "at_ns INTEGER NOT NULL)",
        # the shared state knows each journal by this id, so a push repeated after a crash is recognised
        "CREATE TABLE journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO journal_meta (key, value) VALUES ('journal_id', lower(hex(randomblob(16))))")),
)


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, label: str, steps: Sequence[Step]) -> int:
    """Bring the file to the newest version of ``steps``; returns it. StorageError on failure."""
    newest = steps[-1][0]
    try:
        found = version(conn)
    except sqlite3.Error as exc:
        raise StorageError(f"{label}: cannot read the schema version: {exc}") from exc
    if found > newest:
        raise StorageError(f"{label} is at schema version {found}, newer than this netmon knows ({newest}): "
                           "run the netmon release that wrote it, or a newer one")
    for number, what, apply in steps:
        if number <= found:
            continue
        started = time.monotonic()
        if number > 1:  # a big journal takes a while (one pass over its batches): say so first
            log.info("%s: migrating to schema version %d (%s)", label, number, what)
        with transaction(conn, f"{label}: migration to schema {number} ({what})"):
            if version(conn) >= number:  # another process (the CLI, the collector) got there first
                continue
            apply(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        if number > 1:
            log.info("%s: at schema version %d after %.1f s", label, number, time.monotonic() - started)
    return newest


def ensure_sites(conn: sqlite3.Connection) -> None:
    migrate(conn, "sites.db", SITES_STEPS)


def ensure_journal(conn: sqlite3.Connection) -> None:
    migrate(conn, "journal.db", JOURNAL_STEPS)
