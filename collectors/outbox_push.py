"""The shared counts (PostgreSQL): a background pusher sends the journal's outbox in bulk.

Ingest never waits for PostgreSQL: a batch is committed to the local journal, its seqs and counts
queued in the same SQLite transaction (``collectors/outbox.py``); this task pushes the queue every
half second (``PostgresIngestStore.push``, idempotent) and then deletes what PostgreSQL holds. While
PostgreSQL is unreachable the queue grows on disk and ``/api/v1/stats`` answers 503; once it is
back the queue drains and the counts are exact again. A read of the counts pushes this
collector's queue first, so what it has answered is in what it serves. The marks' bound (``forget_beyond``) runs
at every journal maintenance interval, from whichever collector gets there (idempotent).

**Cut off.** PostgreSQL is how collectors see each other's sites: one that cannot reach it while
its agents still reach it (a broken route between the two, a firewall) keeps their results from
alerting everywhere else, and the other collectors would page those sites as silent. So a push
that fails starts a clock at the last contact (an idle collector checks with ``SELECT 1`` every
``PING_SECONDS``); past ``cut_off_after`` ``cut_off_seconds()`` says so and ingest answers 503
with ``X-Netmon-Cut-Off`` (``collectors/ingest.py``), which sends the agents to another collector.
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
PING_SECONDS = 2.0  # an idle collector checks PostgreSQL this often (a busy one pushes every interval)


class SharedIngest(Collector):
    shared = True

    def __init__(self, store: PostgresIngestStore, journal: Journal, *, max_gaps_per_agent: int,
                 interval_seconds: float = 0.5, maintenance_interval_seconds: float = 60.0,
                 cut_off_after_seconds: float | None = None) -> None:
        self.store = store
        self._journal = journal
        self._max_gaps = max_gaps_per_agent
        self._interval = interval_seconds
        self._maintenance_interval = maintenance_interval_seconds
        self._reader = journal.reader()
        self.journal_id = outbox.journal_id(self._reader)
        self._catch_up_numbering()
        self.backlog = outbox.backlog(self._reader)
        self.rows_pushed = 0
        self.push_failures = 0
        self.up = True
        self.cut_off_after = cut_off_after_seconds
        self._contact_at = time.monotonic()  # the last time PostgreSQL answered
        self._down_since: float | None = None
        self._cut_off_said = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def _catch_up_numbering(self) -> None:
        """A journal.db restored from a copy: its outbox numbering is behind what PostgreSQL has
        taken from it. Run before the collector accepts anything (it does not start without PostgreSQL)."""
        pushed, numbered = self.store.pushed_id(self.journal_id), outbox.last_number(self._reader)
        if pushed > numbered:
            log.warning("journal.db is older than what the shared state took from it (restored from a copy?): "
                        "its outbox numbering stood at %d, the shared state has taken up to %d; numbering on from "
                        "there so nothing queued now reads as pushed before", numbered, pushed)
            self._journal.number_outbox_after(pushed)

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

    def down_seconds(self) -> float:
        """Seconds since PostgreSQL last answered, while it does not (0.0 while it does)."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    def cut_off_seconds(self) -> float | None:
        if not self._cut_off_now():
            return None
        down = self.down_seconds()
        if not self._cut_off_said:  # once per outage: every upload is refused meanwhile, unlogged
            self._cut_off_said = True
            log.warning("cut off from the shared state for %.0f s (state.postgres.cut_off_after %.0f s): uploads "
                        "are answered 503 so agents ship to another collector", down, self.cut_off_after or 0)
        return down

    async def push_once(self) -> int:
        """Push one chunk of the outbox; returns the rows it took off (0: the outbox was empty)."""
        async with self._lock:  # the loop and a final flush never push the same rows side by side
            rows = await asyncio.to_thread(self._read)
            if not rows:
                return 0
            outcome = await asyncio.to_thread(self.store.push, self.journal_id, rows, time.time_ns())
            self._contact_at = time.monotonic()
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
                if not taken and time.monotonic() - self._contact_at >= PING_SECONDS:
                    await asyncio.to_thread(self.store.ping)
                    self._contact_at = time.monotonic()
                if not self.up:
                    log.info("outbox: %s reachable again after %.0f s, pushing the queued counts", self.store.where,
                             self.down_seconds())
                self.up = True
                self._down_since = None
                self._cut_off_said = False
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
                    self._down_since = self._contact_at
                self.up = False
                taken = 0
            except Exception:
                self.push_failures += 1
                log.exception("outbox push failed")
                taken = 0
            if taken < CHUNK_ROWS:
                await asyncio.sleep(self._interval if self.up else 2 * self._interval)

    def _cut_off_now(self) -> bool:
        return self.cut_off_after is not None and self._down_since is not None and \
            self.down_seconds() >= self.cut_off_after

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
        yield GaugeMetricFamily("netmon_collector_shared_state_down_seconds", "Seconds since PostgreSQL last "
                                "answered, while it does not (0 while it does)", value=self.down_seconds())
        yield GaugeMetricFamily("netmon_collector_shared_state_cut_off", "1 while uploads are answered 503 "
                                "X-Netmon-Cut-Off (down longer than state.postgres.cut_off_after)",
                                value=float(self._cut_off_now()))
        yield CounterMetricFamily("netmon_collector_shared_push_failures", "Pushes of the outbox to PostgreSQL "
                                  "that failed", value=self.push_failures)
