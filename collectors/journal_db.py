"""The journal's tables and the SQL the writer thread runs (always inside its transaction).

    batches        one row per committed batch: site, agent, accept time, registry tags at accept
                   time, and the body as it came over the wire (gzip stays gzip: ~30x smaller)
    journal        one row per accepted result: its identity (seq, time) and where it sits in its batch
    tsdb_pending   journal ids not yet written to the TSDB, indexed by (time_ns, id): the write cursor
    latest         the newest result per (site, probe, link, target): rebuilds the live state at start
    site_counters  per site accepted / duplicate / rejected, agent-reported dropped, last seen
    dedupe_marks   per agent seq intervals (collectors/intervals.py)

Storing the body once per batch instead of re-serialising every record halves the cost of an
accept; the TSDB drainer and the live-state rebuild decode bodies again, off the hot path.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    accepted_ns INTEGER NOT NULL,
    province TEXT NOT NULL,
    district TEXT,
    gzipped INTEGER NOT NULL,
    -- the highest journal id of the batch's results: pruning deletes journal rows by id range
    last_result_id INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    time_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tsdb_pending (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tsdb_pending_time ON tsdb_pending (time_ns, id);
CREATE TABLE IF NOT EXISTS latest (
    site_id TEXT NOT NULL, probe TEXT NOT NULL, link TEXT NOT NULL, target TEXT NOT NULL,
    time_ns INTEGER NOT NULL, batch_id INTEGER NOT NULL, idx INTEGER NOT NULL,
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

LatestKey = tuple[str, str, str, str]
# what the drainer gets per pending result: (journal id, seq, time_ns, province, district, record as sent)
PendingResult = tuple[int, int, int, str, "str | None", dict[str, Any]]


@dataclasses.dataclass
class SiteCounters:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    dropped_total: int = 0
    last_seen_ns: int | None = None


BatchRow = tuple[int, str, str, int, str, "str | None", bool, int, bytes]


def insert_batch(conn: sqlite3.Connection, row: BatchRow, results: list[tuple[int, int, int, int, int]],
                 to_tsdb: bool) -> None:
    """``row``: the batch; ``results``: (journal id, batch id, index in batch, seq, time_ns) of accepted ones."""
    conn.execute("INSERT INTO batches (id, site_id, agent_id, accepted_ns, province, district, gzipped, "
                 "last_result_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.executemany("INSERT INTO journal (id, batch_id, idx, seq, time_ns) VALUES (?, ?, ?, ?, ?)", results)
    if to_tsdb:
        conn.executemany("INSERT INTO tsdb_pending (id, time_ns) VALUES (?, ?)", [(r[0], r[4]) for r in results])


def upsert_latest(conn: sqlite3.Connection, latest: dict[LatestKey, tuple[int, int, int]]) -> None:
    conn.executemany(
        "INSERT INTO latest (site_id, probe, link, target, time_ns, batch_id, idx) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO UPDATE SET time_ns = excluded.time_ns, batch_id = excluded.batch_id, idx = excluded.idx "
        "WHERE excluded.time_ns >= latest.time_ns",
        [(*key, *value) for key, value in latest.items()])


def save_counters(conn: sqlite3.Connection, counters: Iterable[tuple[str, SiteCounters]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO site_counters (site_id, accepted, duplicate, rejected, dropped_total, last_seen_ns) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(site, c.accepted, c.duplicate, c.rejected, c.dropped_total, c.last_seen_ns) for site, c in counters])


def load_counters(conn: sqlite3.Connection) -> dict[str, SiteCounters]:
    return {row[0]: SiteCounters(*row[1:]) for row in conn.execute(
        "SELECT site_id, accepted, duplicate, rejected, dropped_total, last_seen_ns FROM site_counters")}


def max_ids(conn: sqlite3.Connection) -> tuple[int, int]:
    row = conn.execute("SELECT (SELECT coalesce(max(id), 0) FROM batches), (SELECT coalesce(max(id), 0) FROM journal)"
                       ).fetchone()
    return int(row[0]), int(row[1])


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM tsdb_pending").fetchone()[0])


def mark_written(conn: sqlite3.Connection, ids: list[int]) -> None:
    conn.executemany("DELETE FROM tsdb_pending WHERE id = ?", [(i,) for i in ids])


class BodyCache:
    """Decoded batch bodies by batch id, for one read pass (a batch holds many pending results)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.bodies: dict[int, tuple[str, str | None, list[dict[str, Any]], str]] = {}

    def load(self, batch_ids: Iterable[int]) -> None:
        wanted = sorted(set(batch_ids) - set(self.bodies))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for bid, province, district, gzipped, body, site_id in self.conn.execute(
                    f"SELECT id, province, district, gzipped, body, site_id FROM batches WHERE id IN ({marks})", chunk):
                raw = gzip.decompress(body) if gzipped else body
                self.bodies[bid] = (province, district, json.loads(raw)["results"], site_id)

    def record(self, batch_id: int, idx: int) -> tuple[str, str | None, dict[str, Any], str]:
        province, district, results, site_id = self.bodies[batch_id]
        return province, district, results[idx], site_id


def read_pending(conn: sqlite3.Connection, limit: int) -> list[PendingResult]:
    """The next ``limit`` results for the TSDB, oldest timestamp first."""
    rows = list(conn.execute(
        "SELECT p.id, j.batch_id, j.idx, j.seq, j.time_ns FROM tsdb_pending p JOIN journal j ON j.id = p.id "
        "ORDER BY p.time_ns, p.id LIMIT ?", (limit,)))
    cache = BodyCache(conn)
    cache.load(r[1] for r in rows)
    out: list[PendingResult] = []
    for jid, bid, idx, seq, time_ns in rows:
        province, district, record, _ = cache.record(bid, idx)
        out.append((jid, seq, time_ns, province, district, record))
    return out


def load_latest(conn: sqlite3.Connection) -> list[tuple[str, int, dict[str, Any]]]:
    """(site_id, time_ns, record as sent) of every newest result, oldest first."""
    rows = list(conn.execute("SELECT site_id, time_ns, batch_id, idx FROM latest ORDER BY time_ns"))
    cache = BodyCache(conn)
    cache.load(r[2] for r in rows)
    return [(site, time_ns, cache.record(bid, idx)[2]) for site, time_ns, bid, idx in rows if bid in cache.bodies]


def _last_batch_before(conn: sqlite3.Connection, older_than_ns: int) -> int | None:
    """Batch ids grow with accept time: binary-search the last one accepted before the cut-off."""
    first, last = conn.execute("SELECT min(id), max(id) FROM batches").fetchone()
    if first is None:
        return None
    lo, hi, found = int(first), int(last), None
    while lo <= hi:
        mid = (lo + hi) // 2
        row = conn.execute("SELECT id, accepted_ns FROM batches WHERE id >= ? ORDER BY id LIMIT 1", (mid,)).fetchone()
        if row is not None and row[1] < older_than_ns:
            found, lo = int(row[0]), int(row[0]) + 1
        else:
            hi = mid - 1
    return found


def prune(conn: sqlite3.Connection, older_than_ns: int, limit_batches: int) -> int:
    """Delete up to ``limit_batches`` batches accepted before ``older_than_ns`` whose results are all in the
    TSDB, with their journal rows — but keep the bodies ``latest`` still points at. Returns results deleted."""
    cut = _last_batch_before(conn, older_than_ns)
    if cut is None:
        return 0
    oldest = conn.execute("SELECT batch_id FROM journal ORDER BY id LIMIT 1").fetchone()
    if oldest is not None:
        cut = min(cut, int(oldest[0]) + limit_batches - 1)
    pending = conn.execute("SELECT j.batch_id FROM journal j WHERE j.id = (SELECT min(id) FROM tsdb_pending)"
                           ).fetchone()
    if pending is not None:
        cut = min(cut, int(pending[0]) - 1)
    last = conn.execute("SELECT last_result_id FROM batches WHERE id <= ? ORDER BY id DESC LIMIT 1", (cut,)).fetchone()
    if last is None:
        return 0
    deleted = conn.execute("DELETE FROM journal WHERE id <= ?", (int(last[0]),)).rowcount
    conn.execute("DELETE FROM batches WHERE id <= ? AND id NOT IN (SELECT batch_id FROM latest)", (cut,))
    return deleted
