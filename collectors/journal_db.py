"""The journal's tables and the SQL the writer thread runs (always inside its transaction).

    journal        one row per accepted result: identity, tags fixed at accept time, the record JSON
    tsdb_pending   ids not yet written to the TSDB, indexed by (time_ns, id): the TSDB write cursor
    latest         the newest result per (site, probe, link, target): rebuilds the live state at start
    site_counters  per site accepted / duplicate / rejected, agent-reported dropped, last seen
    dedupe_marks   per agent seq intervals (collectors/intervals.py)
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    accepted_ns INTEGER NOT NULL,
    province TEXT NOT NULL,
    district TEXT,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tsdb_pending (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tsdb_pending_time ON tsdb_pending (time_ns, id);
CREATE TABLE IF NOT EXISTS latest (
    site_id TEXT NOT NULL, probe TEXT NOT NULL, link TEXT NOT NULL, target TEXT NOT NULL,
    time_ns INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (site_id, probe, link, target)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS site_counters (
    site_id TEXT PRIMARY KEY,
    accepted INTEGER NOT NULL DEFAULT 0,
    duplicate INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    dropped_total INTEGER NOT NULL DEFAULT 0,
    last_seen_ns INTEGER
);
"""

JournalRow = tuple[int, str, str, int, int, int, str, str | None, str]
LatestKey = tuple[str, str, str, str]


@dataclasses.dataclass
class SiteCounters:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    dropped_total: int = 0
    last_seen_ns: int | None = None


def insert_rows(conn: sqlite3.Connection, rows: list[JournalRow], to_tsdb: bool) -> None:
    conn.executemany("INSERT INTO journal (id, site_id, agent_id, seq, time_ns, accepted_ns, province, district, "
                     "record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    if to_tsdb:
        conn.executemany("INSERT INTO tsdb_pending (id, time_ns) VALUES (?, ?)", [(r[0], r[4]) for r in rows])


def upsert_latest(conn: sqlite3.Connection, latest: dict[LatestKey, tuple[int, str]]) -> None:
    conn.executemany(
        "INSERT INTO latest (site_id, probe, link, target, time_ns, record) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO UPDATE SET time_ns = excluded.time_ns, record = excluded.record "
        "WHERE excluded.time_ns >= latest.time_ns",
        [(*key, t, rec) for key, (t, rec) in latest.items()])


def save_counters(conn: sqlite3.Connection, counters: Iterable[tuple[str, SiteCounters]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO site_counters (site_id, accepted, duplicate, rejected, dropped_total, last_seen_ns) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(site, c.accepted, c.duplicate, c.rejected, c.dropped_total, c.last_seen_ns) for site, c in counters])


def load_counters(conn: sqlite3.Connection) -> dict[str, SiteCounters]:
    return {row[0]: SiteCounters(*row[1:]) for row in conn.execute(
        "SELECT site_id, accepted, duplicate, rejected, dropped_total, last_seen_ns FROM site_counters")}


def load_latest(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(site_id, record JSON) of every newest result, oldest first."""
    return [(r[0], r[1]) for r in conn.execute("SELECT site_id, record FROM latest ORDER BY time_ns")]


def mark_written(conn: sqlite3.Connection, ids: list[int]) -> None:
    conn.executemany("DELETE FROM tsdb_pending WHERE id = ?", [(i,) for i in ids])


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM tsdb_pending").fetchone()[0])


def max_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0])


def read_pending(conn: sqlite3.Connection, limit: int) -> list[tuple[int, str, str | None, str]]:
    """The next ``limit`` results for the TSDB, oldest timestamp first: (id, province, district, record)."""
    return list(conn.execute(
        "SELECT p.id, j.province, j.district, j.record FROM tsdb_pending p JOIN journal j ON j.id = p.id "
        "ORDER BY p.time_ns, p.id LIMIT ?", (limit,)))


def prune(conn: sqlite3.Connection, older_than_ns: int, limit: int) -> int:
    """Delete up to ``limit`` of the oldest rows accepted before ``older_than_ns`` and already written."""
    first = conn.execute("SELECT min(id) FROM journal").fetchone()[0]
    if first is None:
        return 0
    # ids grow with accept time: binary-search the last id accepted before the cut-off
    lo, hi = int(first), max_id(conn)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        row = conn.execute("SELECT accepted_ns FROM journal WHERE id >= ? ORDER BY id LIMIT 1", (mid,)).fetchone()
        if row is not None and row[0] < older_than_ns:
            lo = mid
        else:
            hi = mid - 1
    row = conn.execute("SELECT accepted_ns FROM journal WHERE id >= ? ORDER BY id LIMIT 1", (lo,)).fetchone()
    if row is None or row[0] >= older_than_ns:
        return 0
    cut = min(lo, int(first) + limit - 1)
    oldest_pending = conn.execute("SELECT min(id) FROM tsdb_pending").fetchone()[0]
    if oldest_pending is not None:
        cut = min(cut, int(oldest_pending) - 1)
    return conn.execute("DELETE FROM journal WHERE id <= ?", (cut,)).rowcount
