"""The shared counts (PostgreSQL): a background pusher sends the journal's outbox in bulk.

Ingest never waits for PostgreSQL: a batch is committed to the local journal, its seqs and counts
queued in the same SQLite transaction (``collectors/outbox.py``); this task pushes the queue every
half second (``PostgresIngestStore.push``, idempotent) and then deletes what PostgreSQL holds. While
PostgreSQL is unreachable the queue grows on disk and ``/api/v1/stats`` answers 503; once it is
back the queue drains and the counts are exact again. A read of the counts pushes this
collector's queue first, so what it has answered is in what it serves. The marks' bound (``forget_beyond``) runs
at every journal maintenance interval, from whichever collector gets there (idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netmon.collectors import outbox
from netmon.collectors.ingest_postgres import PostgresIngestStore
from netmon.collectors.journal import Journal
from netmon.collectors.journal_db import SiteCounters
from netmon.collectors.outbox import OutboxRow
from netmon.errors import StorageError

log = logging.getLogger("netmon.collector.outbox")
CHUNK_ROWS = 5_000


class SharedIngest(Collector):
    shared = True

    def __init__(self, store: PostgresIngestStore, journal: Journal, *, max_gaps_per_agent: int,
                 interval_seconds: float = 0.5, maintenance_interval_seconds: float = 60.0) -> None:
        self.store = store
        self._journal = journal
        self._max_gaps = max_gaps_per_agent
        self._interval = interval_seconds
        self._maintenance_interval = maintenance_interval_seconds
        self._reader = journal.reader()
        self.journal_id = outbox.journal_id(self._reader)
        self.backlog = outbox.backlog(self._reader)
        self.rows_pushed = 0
        self.push_failures = 0
        self.up = True
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="netmon-outbox-push")

    async def site_counters(self) -> dict[str, SiteCounters]:
        """The shared counts, after pushing what this collector has queued (for up to a second; a
        backlog left by an outage keeps draining in the background): a collector's own results are
        in the figures it serves as soon as it has answered their batch."""
        deadline = time.monotonic() + 1.0
        while await self.push_once() and time.monotonic() < deadline:
            pass
        return await asyncio.to_thread(self.store.site_counters)

    def collectors(self) -> list[Collector]:
        return [self]

    async def push_once(self) -> int:
        """Push one chunk of the outbox; returns the rows it took off (0: the outbox was empty)."""
        async with self._lock:  # the loop and a final flush never push the same rows side by side
            rows = await asyncio.to_thread(self._read)
            if not rows:
                return 0
            outcome = await asyncio.to_thread(self.store.push, self.journal_id, rows, time.time_ns())
            if outcome.replayed:
                log.info("outbox: %d row(s) were already in the shared state (pushed before a crash); not "
                         "counted again", outcome.replayed)
            await self._journal.outbox_pushed(outcome.last_id)
            taken = outcome.rows + outcome.replayed
            self.rows_pushed += outcome.rows
            self.backlog = max(0, self.backlog - taken)
            return taken

    def _read(self) -> list[OutboxRow]:
        try:
            self.backlog = outbox.backlog(self._reader)
            return outbox.read(self._reader, CHUNK_ROWS)
        except sqlite3.Error as exc:
            raise StorageError(f"journal outbox: {exc}") from exc

    async def flush(self, timeout_seconds: float = 10.0) -> None:
        """Push until the outbox is empty (StorageError if PostgreSQL cannot be reached in time)."""
        deadline = time.monotonic() + timeout_seconds
        while await self.push_once():
            if time.monotonic() > deadline:
                raise StorageError(f"journal outbox: not drained within {timeout_seconds:.0f} s")

    async def _run(self) -> None:
        next_maintenance = time.monotonic() + self._maintenance_interval
        while True:
            try:
                taken = await self.push_once()
                if not self.up:
                    log.info("outbox: %s reachable again, pushing the queued counts", self.store.where)
                self.up = True
                if time.monotonic() >= next_maintenance:
                    next_maintenance = time.monotonic() + self._maintenance_interval
                    forgotten = await asyncio.to_thread(self.store.forget_beyond, self._max_gaps)
                    if forgotten:
                        log.info("shared dedupe marks: forgot %d range(s) beyond %d gaps per agent", forgotten,
                                 self._max_gaps)
            except StorageError as exc:
                self.push_failures += 1
                if self.up:  # once per outage: the queue waits on disk meanwhile
                    log.warning("outbox: cannot push to the shared state (%s); counts queue in the journal", exc)
                self.up = False
                taken = 0
            except Exception:
                self.push_failures += 1
                log.exception("outbox push failed")
                taken = 0
            if taken < CHUNK_ROWS:
                await asyncio.sleep(self._interval if self.up else 2 * self._interval)

    async def aclose(self) -> None:
        """Stop the loop and push what is queued (a clean stop leaves the counts exact), then close."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except StorageError as exc:
            log.warning("outbox: %d row(s) stay queued for the next start: %s", self.backlog, exc)
        self.store.close()
        self._reader.close()

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("netmon_collector_shared_outbox_rows", "Journal rows (seqs and counts) not yet "
                                "pushed to the shared state in PostgreSQL", value=self.backlog)
        yield GaugeMetricFamily("netmon_collector_shared_state_up", "1 when the last push to the shared state "
                                "succeeded", value=float(self.up))
        yield CounterMetricFamily("netmon_collector_shared_push_failures", "Pushes of the outbox to PostgreSQL "
                                  "that failed", value=self.push_failures)
