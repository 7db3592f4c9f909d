"""The TSDB drainer: moves journal results into InfluxDB in the background.

Pending batches are read earliest result first (``tsdb_pending`` is indexed by each batch's
earliest timestamp), about ``influxdb.batch_size`` results per write (whole agent batches, so a
write is never split), sorted by timestamp, and only then taken off the pending set — so a
result is written at least once, and since a re-written point has the same series and
timestamp, at most once in effect. While InfluxDB is down nothing leaves the journal; the
drainer retries with exponential backoff (1 s to 30 s) and catches up oldest-first when it
returns, which keeps every series in timestamp order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time

from netmon.collectors.journal import Journal
from netmon.collectors.journal_db import StoredBatch, read_pending
from netmon.collectors.lineproto import line
from netmon.collectors.tsdb import TsdbWriter
from netmon.errors import TSDBRejected, TSDBUnavailable

log = logging.getLogger("netmon.collector.tsdb")
MAX_BACKOFF_SECONDS = 30.0


def _lines(batches: list[StoredBatch]) -> list[str]:
    """Line protocol for every result, sorted by timestamp (with the cursor's batch order, this keeps
    each series in time order even when an agent sent its newest heartbeat first)."""
    out = []
    for batch in batches:
        for record in batch.records:
            time_ns = int(record["time_ns"])
            out.append((time_ns, line(record, batch.province, batch.district, int(record["seq"]), time_ns)))
    out.sort(key=lambda pair: pair[0])
    return [text for _, text in out]


class TsdbDrainer:
    def __init__(self, journal: Journal, writer: TsdbWriter, batch_size: int, flush_interval_seconds: float) -> None:
        self.journal = journal
        self.writer = writer
        self.batch_size = batch_size
        self.flush_interval = flush_interval_seconds
        self.points_written = 0
        self.points_rejected = 0
        self.write_errors = 0
        self.oldest_pending_accepted_ns: int | None = None
        self.available = True
        self._task: asyncio.Task[None] | None = None
        self._reader: sqlite3.Connection | None = None

    def lag_seconds(self) -> float:
        oldest = self.oldest_pending_accepted_ns
        return 0.0 if oldest is None else max(0.0, (time.time_ns() - oldest) / 1e9)

    def start(self) -> None:
        self._reader = self.journal.reader()
        self._task = asyncio.create_task(self._run(), name="netmon-tsdb-drainer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.writer.aclose()
        if self._reader is not None:
            self._reader.close()

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                written = await self.drain_once()
            except TSDBUnavailable as exc:
                self.write_errors += 1
                if self.available:
                    log.warning("TSDB unavailable, results stay in the journal: %s", exc)
                self.available = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            except Exception:
                self.write_errors += 1
                log.exception("TSDB drainer failed; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if not self.available:
                log.info("TSDB available again, draining the journal")
                self.available = True
            backoff = 1.0
            if written < self.batch_size:
                await asyncio.sleep(self.flush_interval)

    async def drain_once(self) -> int:
        """Write the next batch of pending results; returns how many left the pending set."""
        assert self._reader is not None
        reader = self._reader
        batches = await asyncio.to_thread(read_pending, reader, self.batch_size)
        await asyncio.to_thread(self._update_oldest, reader)
        if not batches:
            return 0
        lines = await asyncio.to_thread(_lines, batches)
        try:
            await self.writer.write(lines)
            self.points_written += len(lines)
        except TSDBRejected as exc:
            self.write_errors += 1
            self.points_rejected += exc.dropped
            self.points_written += len(lines) - exc.dropped
            log.error("%s (%d point(s) dropped; the rest were written)", exc, exc.dropped)
        await self.journal.mark_written([b.id for b in batches], len(lines))
        return len(lines)

    def _update_oldest(self, reader: sqlite3.Connection) -> None:
        row = reader.execute("SELECT accepted_ns FROM batches WHERE id = (SELECT min(batch_id) FROM tsdb_pending)"
                             ).fetchone()
        self.oldest_pending_accepted_ns = int(row[0]) if row else None
