"""The journal's tables and the SQL the writer thread runs (always inside its transaction).

    batches        one row per committed batch with at least one new result: site, agent, accept
                   time, registry tags at accept time, which results of the body were accepted
                   (NULL: all), their seq range and earliest timestamp, and the body as it came over
                   the wire (gzip stays gzip: ~30x smaller than the JSON)
    tsdb_pending   batches not yet written to every TSDB target, indexed by (min_time_ns, batch_id)
    tsdb_targets   the TSDB targets (``influxdb:`` entries, by name) the journal fans out to
    tsdb_todo      per target, the batches it has still to write: its own cursor, so one target
                   being down holds back no other (filled by a trigger on tsdb_pending)
    tsdb_set_aside points a target refused (one line each, isolated by splitting the write), with
                   the TSDB's reason: kept with their batch, counted, never retried
    latest         the newest result per (site, probe, link, target), by its time capped at its accept
                   time: rebuilds the live state at start
    site_counters  per site accepted / duplicate / rejected, agent-reported dropped, last seen
    dedupe_marks   per (site, agent) seq intervals (collectors/intervals.py)

The batch, not the result, is the unit: one row per ~100 results instead of one per result
is what lets one core accept far more than the country produces. Identity per result is
(batches.site_id, batches.agent_id, seq in the body). The tables and their versions are
``collectors/schema.py``.
"""

from __future__ import annotations

import array
import dataclasses
import gzip
import sqlite3
from collections.abc import Iterable
from typing import Any

from pydantic_core import from_json  # the parser validate_json used: 2x json.loads

LatestKey = tuple[str, str, str, str]


@dataclasses.dataclass(frozen=True)
class StoredBatch:
    id: int
    site_id: str
    agent_id: str
    accepted_ns: int
    province: str
    district: str | None
    records: list[dict[str, Any]]  # the accepted results, as the agent sent them


@dataclasses.dataclass
class SiteCounters:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    dropped_total: int = 0
    last_seen_ns: int | None = None


def pack_indices(indices: list[int] | None) -> bytes | None:
    return None if indices is None else array.array("I", indices).tobytes()


def insert_batch(conn: sqlite3.Connection, row: tuple[Any, ...], to_tsdb: bool) -> None:
    """``row``: (id, site, agent, accepted_ns, province, district, results, first_seq, last_seq,
    min_time_ns, accepted_idx, gzipped, body)."""
    conn.execute("INSERT INTO batches (id, site_id, agent_id, accepted_ns, province, district, results, first_seq, "
                 "last_seq, min_time_ns, accepted_idx, gzipped, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 row)
    if to_tsdb:
        conn.execute("INSERT INTO tsdb_pending (batch_id, min_time_ns) VALUES (?, ?)", (row[0], row[9]))


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


def max_batch_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM batches").fetchone()[0])


def pending_results(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(sum(b.results), 0) FROM tsdb_pending p JOIN batches b ON b.id = "
                            "p.batch_id").fetchone()[0])


def mark_written(conn: sqlite3.Connection, batch_ids: Iterable[int]) -> None:
    """Every target holds these batches."""
    ids = [(i,) for i in batch_ids]
    conn.executemany("DELETE FROM tsdb_pending WHERE batch_id = ?", ids)
    conn.executemany("DELETE FROM tsdb_todo WHERE batch_id = ?", ids)


_COLUMNS = "id, site_id, agent_id, accepted_ns, province, district, accepted_idx, gzipped, body"


def _decode(row: tuple[Any, ...], sizes: dict[int, int] | None = None) -> StoredBatch:
    bid, site_id, agent_id, accepted_ns, province, district, packed, gzipped, body = row
    raw = gzip.decompress(body) if gzipped else body
    if sizes is not None:
        sizes[bid] = len(raw)
    results = from_json(raw)["results"]
    if packed is not None:
        results = [results[i] for i in array.array("I", packed)]
    return StoredBatch(bid, site_id, agent_id, accepted_ns, province, district, results)


def read_batches(conn: sqlite3.Connection, batch_ids: Iterable[int], sizes: dict[int, int] | None = None
                 ) -> dict[int, StoredBatch]:
    """``sizes``: filled with each body's uncompressed size."""
    wanted = sorted(set(batch_ids))
    out: dict[int, StoredBatch] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in conn.execute(f"SELECT {_COLUMNS} FROM batches WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            out[row[0]] = _decode(row, sizes)
    return out


def read_pending(conn: sqlite3.Connection, target: str, max_results: int, max_bytes: int = 2**62
                 ) -> list[StoredBatch]:
    """Batches ``target`` has still to write, earliest result first, until they hold ``max_results``
    results or ``max_bytes`` of (uncompressed) bodies — at least one batch, so memory stays bounded
    whatever a site put into its records."""
    candidates: list[int] = []
    total = 0
    for bid, results in conn.execute("SELECT t.batch_id, b.results FROM tsdb_todo t JOIN batches b ON b.id = "
                                     "t.batch_id WHERE t.target = ? ORDER BY t.min_time_ns, t.batch_id", (target,)):
        candidates.append(bid)
        total += results
        if total >= max_results:
            break
    out: list[StoredBatch] = []
    size = 0
    for start in range(0, len(candidates), 32):
        chunk = candidates[start:start + 32]
        rows = {row[0]: row for row in conn.execute(
            f"SELECT {_COLUMNS} FROM batches WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
        for bid in chunk:  # decoded one by one: a few huge bodies never sit in memory side by side
            if bid not in rows:
                continue
            sizes: dict[int, int] = {}
            out.append(_decode(rows[bid], sizes))
            size += sizes[bid]
            if size >= max_bytes:
                return out
    return out


def sync_targets(conn: sqlite3.Connection, names: list[str]) -> None:
    """Make ``tsdb_targets`` the configured targets: a new one starts with everything still pending,
    a removed one's cursor and set-aside points go; a batch no target still needs leaves pending."""
    known = {row[0] for row in conn.execute("SELECT name FROM tsdb_targets")}
    for name in known - set(names):
        for table in ("tsdb_todo", "tsdb_set_aside"):
            conn.execute(f"DELETE FROM {table} WHERE target = ?", (name,))
        conn.execute("DELETE FROM tsdb_targets WHERE name = ?", (name,))
    for name in [n for n in names if n not in known]:
        conn.execute("INSERT INTO tsdb_targets (name) VALUES (?)", (name,))
        conn.execute("INSERT INTO tsdb_todo (target, min_time_ns, batch_id) SELECT ?, min_time_ns, batch_id "
                     "FROM tsdb_pending", (name,))
    if names:
        conn.execute("DELETE FROM tsdb_pending WHERE batch_id NOT IN (SELECT batch_id FROM tsdb_todo)")


SetAside = tuple[int, int, str, str]  # (batch id, index among the batch's accepted records, site, reason)


def target_written(conn: sqlite3.Connection, target: str, batch_ids: list[int], set_aside: list[SetAside],
                   now_ns: int) -> tuple[list[int], int]:
    """``target`` holds these batches (but for ``set_aside``): advance its cursor. Returns the batches
    every target now holds, and how many results they carry (they leave ``tsdb_pending``)."""
    conn.executemany("DELETE FROM tsdb_todo WHERE target = ? AND batch_id = ?", [(target, b) for b in batch_ids])
    conn.executemany("INSERT OR IGNORE INTO tsdb_set_aside (target, batch_id, idx, site_id, reason, at_ns) "
                     "VALUES (?, ?, ?, ?, ?, ?)", [(target, b, i, site, why[:500], now_ns)
                                                   for b, i, site, why in set_aside])
    done: list[int] = []
    results = 0
    for start in range(0, len(batch_ids), 500):
        chunk = batch_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for bid, count in conn.execute(
                f"SELECT b.id, b.results FROM batches b WHERE b.id IN ({marks}) AND b.id IN (SELECT batch_id FROM "
                f"tsdb_pending) AND NOT EXISTS (SELECT 1 FROM tsdb_todo t WHERE t.batch_id = b.id)", chunk):
            done.append(int(bid))
            results += int(count)
    return done, results


def oldest_todo_accepted_ns(conn: sqlite3.Connection, target: str) -> int | None:
    row = conn.execute("SELECT accepted_ns FROM batches WHERE id = (SELECT min(batch_id) FROM tsdb_todo WHERE "
                       "target = ?)", (target,)).fetchone()
    return int(row[0]) if row else None


def set_aside_counts(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """(target, site) -> points set aside and still kept."""
    return {(str(t), str(s)): int(n) for t, s, n in conn.execute(
        "SELECT target, site_id, count(*) FROM tsdb_set_aside GROUP BY target, site_id")}


def load_latest(conn: sqlite3.Connection) -> list[tuple[str, int, dict[str, Any]]]:
    """(site_id, time_ns, record as sent) of every newest result, oldest first."""
    rows = list(conn.execute("SELECT site_id, time_ns, batch_id, idx FROM latest ORDER BY time_ns"))
    bodies: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(rows), 500):
        ids = sorted({r[2] for r in rows[start:start + 500]} - set(bodies))
        for bid, gzipped, body in conn.execute(
                f"SELECT id, gzipped, body FROM batches WHERE id IN ({','.join('?' * len(ids))})", ids):
            bodies[bid] = from_json(gzip.decompress(body) if gzipped else body)["results"]
    return [(site, time_ns, bodies[bid][idx]) for site, time_ns, bid, idx in rows if bid in bodies]


def cap_latest(conn: sqlite3.Connection, per_site: int) -> int:
    """Keep the newest ``per_site`` entries of ``latest`` per site (the live state's own bound)."""
    return conn.execute(
        "DELETE FROM latest WHERE (site_id, probe, link, target) IN (SELECT site_id, probe, link, target FROM "
        "(SELECT site_id, probe, link, target, row_number() OVER (PARTITION BY site_id ORDER BY time_ns DESC) AS n "
        "FROM latest) WHERE n > ?)", (per_site,)).rowcount


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
    """Delete up to ``limit_batches`` batches accepted before ``older_than_ns`` that are in the TSDB and
    that ``latest`` does not point at. Returns how many results they held."""
    # set-aside points are kept for the retention after they were set aside, with their batch
    conn.execute("DELETE FROM tsdb_set_aside WHERE at_ns < ?", (older_than_ns,))
    cut = _last_batch_before(conn, older_than_ns)
    if cut is None:
        return 0
    doomed = ("FROM batches WHERE id <= ? AND id NOT IN (SELECT batch_id FROM tsdb_pending) "
              "AND id NOT IN (SELECT batch_id FROM latest) AND id NOT IN (SELECT batch_id FROM tsdb_set_aside)")
    ids = [r[0] for r in conn.execute(f"SELECT id {doomed} ORDER BY id LIMIT ?", (cut, limit_batches))]
    if not ids:
        return 0
    removed = int(conn.execute(f"SELECT coalesce(sum(results), 0) {doomed} AND id <= ?", (cut, ids[-1])).fetchone()[0])
    conn.execute(f"DELETE {doomed} AND id <= ?", (cut, ids[-1]))
    return removed
