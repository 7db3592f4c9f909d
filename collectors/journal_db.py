"""The journal's tables and the SQL the writer thread runs (always inside its transaction).

    batches        one row per committed batch with at least one new result: site, agent, accept
                   time, registry tags at accept time, which results of the body were accepted
                   (NULL: all), their seq range and earliest timestamp, and the body as it came over
                   the wire (gzip stays gzip: ~30x smaller than the JSON)
    tsdb_pending   batches not yet written to the TSDB, indexed by (min_time_ns, batch_id): the cursor
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
    conn.executemany("DELETE FROM tsdb_pending WHERE batch_id = ?", [(i,) for i in batch_ids])


_COLUMNS = "id, site_id, agent_id, accepted_ns, province, district, accepted_idx, gzipped, body"


def _decode(row: tuple[Any, ...]) -> StoredBatch:
    bid, site_id, agent_id, accepted_ns, province, district, packed, gzipped, body = row
    results = from_json(gzip.decompress(body) if gzipped else body)["results"]
    if packed is not None:
        results = [results[i] for i in array.array("I", packed)]
    return StoredBatch(bid, site_id, agent_id, accepted_ns, province, district, results)


def read_batches(conn: sqlite3.Connection, batch_ids: Iterable[int]) -> dict[int, StoredBatch]:
    wanted = sorted(set(batch_ids))
    out: dict[int, StoredBatch] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in conn.execute(f"SELECT {_COLUMNS} FROM batches WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            out[row[0]] = _decode(row)
    return out


def read_pending(conn: sqlite3.Connection, max_results: int) -> list[StoredBatch]:
    """Pending batches, earliest result first, until they hold at least ``max_results`` results."""
    chosen: list[int] = []
    total = 0
    for bid, results in conn.execute("SELECT p.batch_id, b.results FROM tsdb_pending p JOIN batches b ON b.id = "
                                     "p.batch_id ORDER BY p.min_time_ns, p.batch_id"):
        chosen.append(bid)
        total += results
        if total >= max_results:
            break
    stored = read_batches(conn, chosen)
    return [stored[bid] for bid in chosen]


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
    cut = _last_batch_before(conn, older_than_ns)
    if cut is None:
        return 0
    doomed = ("FROM batches WHERE id <= ? AND id NOT IN (SELECT batch_id FROM tsdb_pending) "
              "AND id NOT IN (SELECT batch_id FROM latest)")
    ids = [r[0] for r in conn.execute(f"SELECT id {doomed} ORDER BY id LIMIT ?", (cut, limit_batches))]
    if not ids:
        return 0
    removed = int(conn.execute(f"SELECT coalesce(sum(results), 0) {doomed} AND id <= ?", (cut, ids[-1])).fetchone()[0])
    conn.execute(f"DELETE {doomed} AND id <= ?", (cut, ids[-1]))
    return removed
