"""TSDB drainers: one per ``influxdb:`` target, each moving journal results into its store in the background.

Each target has a cursor of its own in the journal (``tsdb_todo``), so one store being down, or
slow, holds back no other: its drainer backs off (1 s to 30 s) while the others keep writing,
and it catches up oldest-first when its store returns. A batch leaves the journal's pending set
once every target holds it.

A drainer reads the earliest pending batches (whole agent batches) up to ``batch_size`` results
and ``batch_max_bytes`` of their bodies, sorts their points by timestamp and writes them in
chunks bounded by points *and* bytes. A chunk the store refuses — 400 with bad points (InfluxDB
1.x writes the rest and says "partial write"; VictoriaMetrics refuses the whole request for one
over-long line), or 413 / "too large" — is split in halves and each half written again, until
every refused point stands alone: that point is set aside (kept in the journal with the store's
reason, counted per target and site, never retried) and everything else is written. Splitting is
bounded per pass (``MAX_ISOLATING_WRITES``); a chunk still refused past that is set aside whole.
Re-writing a point is harmless: same series and timestamp, so at most once in effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import NamedTuple

from netmon.collectors.journal import Journal
from netmon.collectors.journal_db import SetAside, StoredBatch, oldest_todo_accepted_ns, read_pending
from netmon.collectors.lineproto import line
from netmon.collectors.tsdb import TsdbWriter
from netmon.errors import TSDBRejected, TSDBUnavailable

log = logging.getLogger("netmon.collector.tsdb")
MAX_BACKOFF_SECONDS = 30.0
# extra writes one pass may spend isolating refused points (a refused point in 5,000 costs ~26)
MAX_ISOLATING_WRITES = 200


class Point(NamedTuple):
    time_ns: int
    batch_id: int
    position: int  # among the batch's accepted records
    site_id: str
    text: str


def points(batches: list[StoredBatch]) -> list[Point]:
    """Line protocol for every result, sorted by timestamp (with the cursor's batch order, this keeps
    each series in time order even when an agent sent its newest heartbeat first)."""
    out = []
    for batch in batches:
        for index, record in enumerate(batch.records):
            time_ns = int(record["time_ns"])
            out.append(Point(time_ns, batch.id, index, batch.site_id,
                             line(record, batch.province, batch.district, int(record["seq"]), time_ns)))
    out.sort(key=lambda p: p.time_ns)
    return out


def chunks(items: list[Point], max_points: int, max_bytes: int) -> list[list[Point]]:
    """Consecutive runs of at most ``max_points`` points and ``max_bytes`` bytes (a bigger point alone)."""
    out: list[list[Point]] = []
    current: list[Point] = []
    size = 0
    for point in items:
        length = len(point.text) + 1
        if current and (len(current) >= max_points or size + length > max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(point)
        size += length
    if current:
        out.append(current)
    return out


class TsdbDrainer:
    def __init__(self, journal: Journal, writer: TsdbWriter, target: str, *, batch_size: int, max_bytes: int,
                 flush_interval_seconds: float) -> None:
        self.journal = journal
        self.writer = writer
        self.target = target
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.flush_interval = flush_interval_seconds
        self.points_written = 0
        self.points_rejected = 0  # refused by the store and set aside
        self.write_errors = 0
        self.splits = 0
        self.oldest_pending_accepted_ns: int | None = None
        self.available = True
        # the last pass stopped at a bound (points or bytes): write on without waiting
        self.more_waiting = False
        self._task: asyncio.Task[None] | None = None
        self._reader: sqlite3.Connection | None = None

    def lag_seconds(self) -> float:
        oldest = self.oldest_pending_accepted_ns
        return 0.0 if oldest is None else max(0.0, (time.time_ns() - oldest) / 1e9)

    def points_set_aside(self) -> dict[str, int]:
        """Per site, points of this target set aside and still kept in the journal."""
        return {site: n for (target, site), n in self.journal.set_aside.items() if target == self.target}

    def start(self) -> None:
        self._reader = self.journal.reader()
        self._task = asyncio.create_task(self._run(), name=f"netmon-tsdb-drainer {self.target}")

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
                await self.drain_once()
            except TSDBUnavailable as exc:
                self.write_errors += 1
                if self.available:
                    log.warning("TSDB %s unavailable, its results stay in the journal: %s", self.target, exc)
                self.available = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            except Exception:
                self.write_errors += 1
                log.exception("TSDB drainer %s failed; retrying", self.target)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if not self.available:
                log.info("TSDB %s available again, draining the journal", self.target)
                self.available = True
            backoff = 1.0
            if not self.more_waiting:
                await asyncio.sleep(self.flush_interval)

    async def drain_once(self) -> int:
        """Write the next pending results of this target; returns how many left its cursor."""
        assert self._reader is not None
        reader = self._reader
        batches = await asyncio.to_thread(read_pending, reader, self.target, self.batch_size, self.max_bytes)
        await asyncio.to_thread(self._update_oldest, reader)
        self.more_waiting = False
        if not batches:
            return 0
        items = await asyncio.to_thread(points, batches)
        self.more_waiting = len(items) >= self.batch_size or sum(len(p.text) for p in items) >= self.max_bytes
        set_aside: list[SetAside] = []
        budget = [MAX_ISOLATING_WRITES]
        for chunk in chunks(items, self.batch_size, self.max_bytes):
            await self._write(chunk, set_aside, budget)
        await self.journal.target_written(self.target, [b.id for b in batches], set_aside)
        await asyncio.to_thread(self._update_oldest, reader)  # caught up now? the lag says so at once
        return len(items)

    async def _write(self, chunk: list[Point], set_aside: list[SetAside], budget: list[int]) -> None:
        try:
            await self.writer.write([p.text for p in chunk])
        except TSDBRejected as exc:
            self.write_errors += 1
            if len(chunk) > 1 and budget[0] >= 2:
                budget[0] -= 2
                self.splits += 1
                half = len(chunk) // 2
                await self._write(chunk[:half], set_aside, budget)
                await self._write(chunk[half:], set_aside, budget)
                return
            why = str(exc) if len(chunk) == 1 else f"refused in a write of {len(chunk)} points not split further: {exc}"
            set_aside += [(p.batch_id, p.position, p.site_id, why) for p in chunk]
            self.points_rejected += len(chunk)
            log.error("TSDB %s refused %d point(s) of site(s) %s; set aside in the journal: %s", self.target,
                      len(chunk), ", ".join(sorted({p.site_id for p in chunk})), exc)
        else:
            self.points_written += len(chunk)

    def _update_oldest(self, reader: sqlite3.Connection) -> None:
        self.oldest_pending_accepted_ns = oldest_todo_accepted_ns(reader, self.target)
