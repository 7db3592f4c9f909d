"""The shared de-duplication marks and per-site counters in PostgreSQL (``state: {postgres: ...}``).

    store = PostgresIngestStore(dsn, instance="col-a:8080")
    outcome = store.push(journal_id, outbox_rows, now_ns)   # idempotent; outcome.last_id: delete up to it
    store.site_counters()                                   # exact across every collector

A push is one transaction: lock this journal's row in ``ingest_journals`` and skip the rows it
already holds (a pusher that died between PostgreSQL's commit and the local delete pushes them
again: they count nothing), union the counted seqs into each (site, agent) row of
``ingest_marks`` — ``last_new``, computed against the locked current row, is how many were new
to every collector — add the counters (accepted: the new seqs; duplicate: the rest), add the
gaps the journal closed, and advance ``pushed_id``. Keys go in sorted order, so two collectors
pushing the same sites lock them in the same order. psycopg errors become ``StorageError``.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netmon.collectors.ingest_schema import COMPONENT, MIGRATIONS
from netmon.collectors.journal_db import SiteCounters
from netmon.collectors.outbox import OutboxRow, Run
from netmon.collectors.push_plan import PushPlan, multirange, plan
from netmon.errors import StorageError
from netmon.statedb.migrations import migrate_postgres
from netmon.statedb.postgres import Reconnecting, storage_error

if TYPE_CHECKING:
    import psycopg

_RANGE = re.compile(r"\[(-?\d+),(-?\d+)\)")
_MARKS = ("INSERT INTO ingest_marks AS m (site_id, agent_id, seqs, last_new, updated_ns) "
          "SELECT p.site_id, p.agent_id, p.seqs::int8multirange, {new}, %s "
          "FROM unnest(%s::text[], %s::text[], %s::text[]) AS p(site_id, agent_id, seqs) "
          "ON CONFLICT (site_id, agent_id) DO UPDATE SET seqs = m.seqs + excluded.seqs, {update}"
          "updated_ns = excluded.updated_ns")
COUNTED = _MARKS.format(new="netmon_seq_count(p.seqs::int8multirange)", update=(
    "last_new = netmon_seq_count(m.seqs + excluded.seqs) - netmon_seq_count(m.seqs), ")) + \
    " RETURNING site_id, last_new"
FILLS = _MARKS.format(new="0", update="")
COUNTERS = (
    "INSERT INTO ingest_counters AS c (site_id, accepted, duplicate, rejected, dropped_total, dropped_at_ns, "
    "last_seen_ns) SELECT p.site_id, p.accepted, p.duplicate, p.rejected, coalesce(p.dropped_total, 0), "
    "p.dropped_at_ns, p.last_seen_ns FROM unnest(%s::text[], %s::int8[], %s::int8[], %s::int8[], %s::int8[], "
    "%s::int8[], %s::int8[]) AS p(site_id, accepted, duplicate, rejected, dropped_total, dropped_at_ns, last_seen_ns) "
    "ON CONFLICT (site_id) DO UPDATE SET accepted = c.accepted + excluded.accepted, "
    "duplicate = c.duplicate + excluded.duplicate, rejected = c.rejected + excluded.rejected, "
    # the agent's own running total: the newest report wins, whichever collector received it
    "dropped_total = CASE WHEN excluded.dropped_at_ns >= coalesce(c.dropped_at_ns, 0) THEN excluded.dropped_total "
    "ELSE c.dropped_total END, dropped_at_ns = greatest(c.dropped_at_ns, excluded.dropped_at_ns), "
    "last_seen_ns = greatest(c.last_seen_ns, excluded.last_seen_ns)")


@dataclasses.dataclass(frozen=True)
class PushOutcome:
    last_id: int  # the outbox may be deleted up to here
    rows: int  # rows this push applied
    new: int  # seqs new to the shared marks
    replayed: int  # rows the shared state held already (a push repeated after a crash)


class PostgresIngestStore:
    backend = "postgres"
    shared = True

    def __init__(self, dsn: str, *, instance: str, connect_timeout: float = 5.0) -> None:
        self.instance = instance
        # pushes and reads on their own sessions: /api/v1/stats never waits behind a push
        self._writer = Reconnecting(dsn, application_name=f"netmon-ingest {instance}", connect_timeout=connect_timeout)
        self._reader = Reconnecting(dsn, application_name=f"netmon-stats {instance}", connect_timeout=connect_timeout)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self.where = f"ingest counts in {self._writer.where}"
        try:
            first = self._writer.get()
        except StorageError as exc:
            raise StorageError(f"ingest counts (state.postgres): {exc}") from None
        migrate_postgres(first, COMPONENT, MIGRATIONS, self.where)

    def close(self) -> None:
        self._writer.drop()
        self._reader.drop()

    def push(self, journal_id: str, rows: Sequence[OutboxRow], now_ns: int) -> PushOutcome:
        """Apply a prefix of ``rows`` (this journal's outbox, oldest first) exactly once."""
        import psycopg

        with self._write_lock:
            for attempt in (1, 2):  # idempotent: once more on a new session if PostgreSQL ended ours
                conn = self._get(self._writer)
                try:
                    with conn.transaction():
                        return self._push(conn, journal_id, rows, now_ns)
                except psycopg.Error as exc:
                    broken = conn.broken or conn.closed
                    if broken:
                        self._writer.drop()
                    if not broken or attempt == 2:
                        raise storage_error(self.where, exc) from exc
            raise AssertionError("unreachable")

    def _push(self, conn: psycopg.Connection[dict[str, Any]], journal_id: str, rows: Sequence[OutboxRow],
              now_ns: int) -> PushOutcome:
        # the journal deletes these rows once this commit returns: a commit a crash could still undo
        # (a server run with synchronous_commit=off, as the lab's is) would lose their counts for good
        conn.execute("SET LOCAL synchronous_commit = on")
        conn.execute("INSERT INTO ingest_journals (journal_id, instance, pushed_id) VALUES (%s, %s, 0) "
                     "ON CONFLICT DO NOTHING", (journal_id, self.instance))
        found = conn.execute("SELECT pushed_id FROM ingest_journals WHERE journal_id = %s FOR UPDATE",
                             (journal_id,)).fetchone()
        pushed_id = int(found["pushed_id"]) if found else 0
        fresh = [row for row in rows if row.id > pushed_id]
        if not fresh:
            return PushOutcome(max((r.id for r in rows), default=0), 0, 0, len(rows))
        push = plan(fresh)
        new = self._counted(conn, push, now_ns)
        self._counters(conn, push, new)
        fills = [(key, runs) for key, runs in push.fills.items() if runs]
        if fills:
            self._marks(conn, FILLS, fills, now_ns)
        conn.execute("UPDATE ingest_journals SET pushed_id = %s, pushed_ns = %s, instance = %s WHERE journal_id = %s",
                     (push.last_id, now_ns, self.instance, journal_id))
        return PushOutcome(push.last_id, push.rows, sum(new.values()), len(rows) - len(fresh))

    def _counted(self, conn: psycopg.Connection[dict[str, Any]], push: PushPlan, now_ns: int) -> dict[str, int]:
        """Union the counted seqs into the marks; per site, how many of them were new."""
        new: dict[str, int] = {}
        keyed = [(key, runs) for key, runs in push.counted.items() if runs]
        for row in self._marks(conn, COUNTED, keyed, now_ns):
            new[row["site_id"]] = new.get(row["site_id"], 0) + int(row["last_new"])
        return new

    @staticmethod
    def _marks(conn: psycopg.Connection[dict[str, Any]], sql: str, keyed: Sequence[tuple[tuple[str, str], list[Run]]],
               now_ns: int) -> list[dict[str, Any]]:
        if not keyed:
            return []
        cursor = conn.execute(sql, (now_ns, [k[0] for k, _ in keyed], [k[1] for k, _ in keyed],
                                    [multirange(runs) for _, runs in keyed]))
        return cursor.fetchall() if cursor.description else []

    @staticmethod
    def _counters(conn: psycopg.Connection[dict[str, Any]], push: PushPlan, new: dict[str, int]) -> None:
        sites = sorted(push.sites.items())
        if not sites:
            return
        accepted = [new.get(site, 0) for site, _ in sites]
        conn.execute(COUNTERS, (
            [site for site, _ in sites], accepted,
            [f.duplicate + f.accepted - n for (_, f), n in zip(sites, accepted, strict=True)],
            [f.rejected for _, f in sites], [f.dropped_total for _, f in sites],
            [f.dropped_at_ns for _, f in sites], [f.last_seen_ns for _, f in sites]))

    def pushed_id(self, journal_id: str) -> int:
        """How far the shared state has taken this journal's outbox (0: never pushed)."""
        rows = self._read("SELECT pushed_id FROM ingest_journals WHERE journal_id = %s", (journal_id,))
        return int(rows[0]["pushed_id"]) if rows else 0

    def ping(self) -> None:
        """One round trip (an idle collector's check that it still reaches the shared state)."""
        self._write("SELECT 1", ())

    def site_counters(self) -> dict[str, SiteCounters]:
        rows = self._read("SELECT site_id, accepted, duplicate, rejected, dropped_total, last_seen_ns "
                          "FROM ingest_counters")
        return {r["site_id"]: SiteCounters(int(r["accepted"]), int(r["duplicate"]), int(r["rejected"]),
                                           int(r["dropped_total"]), r["last_seen_ns"]) for r in rows}

    def marks(self) -> dict[tuple[str, str], list[Run]]:
        """(site, agent) -> the shared marks as runs ``[first, last]`` (status pages and tests)."""
        return {(r["site_id"], r["agent_id"]): parse(r["seqs"]) for r in
                self._read("SELECT site_id, agent_id, seqs::text AS seqs FROM ingest_marks")}

    def forget_beyond(self, max_gaps: int) -> int:
        """Bound every agent's marks to ``max_gaps`` gaps: forget the smallest ranges, never the largest
        (no per-range times here; the local marks, which have them, close gaps by age and the cap and
        push the fills). A forgotten seq sent again is counted again: never a lost result."""
        forgotten = 0
        for row in self._read("SELECT site_id, agent_id, seqs::text AS seqs FROM ingest_marks "
                              "WHERE (SELECT count(*) FROM unnest(seqs)) > %s", (max_gaps + 1,)):
            runs = parse(row["seqs"])
            largest = max(runs, key=lambda r: r[1] - r[0])
            doomed = sorted((r for r in runs if r != largest), key=lambda r: (r[1] - r[0], r[0]))
            doomed = doomed[:len(runs) - max_gaps - 1]
            self._write("UPDATE ingest_marks SET seqs = seqs - %s::int8multirange WHERE site_id = %s AND agent_id = %s",
                        (multirange(sorted(doomed)), row["site_id"], row["agent_id"]))
            forgotten += len(doomed)
        return forgotten

    @staticmethod
    def _get(where: Reconnecting) -> psycopg.Connection[dict[str, Any]]:
        try:
            return where.get()
        except StorageError as exc:
            raise StorageError(f"ingest counts: {exc}") from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._run(self._reader, self._read_lock, sql, params, fetch=True)

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        self._run(self._writer, self._write_lock, sql, params, fetch=False)

    def _run(self, where: Reconnecting, lock: threading.Lock, sql: str, params: Sequence[Any], *,
             fetch: bool) -> list[dict[str, Any]]:
        import psycopg

        with lock:
            for attempt in (1, 2):
                conn = self._get(where)
                try:
                    cursor = conn.execute(sql.encode(), list(params))
                    return cursor.fetchall() if fetch else []
                except psycopg.Error as exc:
                    if not (conn.broken or conn.closed):
                        raise storage_error(self.where, exc) from exc
                    where.drop()
                    if attempt == 2:
                        raise storage_error(self.where, exc) from exc
                    # a session PostgreSQL ended (a restart, a failover): once more on a new one
            raise AssertionError("unreachable")


def parse(text: str) -> list[Run]:
    """``{[1,11),[20,31)}`` -> ``[(1, 10), (20, 30)]``."""
    return [(int(a), int(b) - 1) for a, b in _RANGE.findall(text)]
