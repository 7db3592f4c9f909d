"""Ship the outbox to the collector: oldest first, bounded batches, backoff, a bounded drain.

Every ``ship_interval`` (or sooner, once a full batch is waiting) the shipper sends what is
queued, batch after batch, at most ``drain_max_results_per_second`` so a line that just came
back is not filled with our own backlog. The first batch after a failure (and after a
start) carries the newest heartbeat in front, so the centre learns at once that the site
is back, then the oldest results.

Retry policy (exponential backoff with full jitter, as in the AWS architecture blog's
"Exponential Backoff and Jitter"): after a 5xx or a refused token the delay grows to
``max_backoff``, which protects a struggling collector from thousands of agents. A failure
that never reached the collector (no route, connect timeout: usually our own line is down)
costs it nothing, so that delay stays within ``ship_interval`` and the centre hears from the
site within one shipping interval of its line returning. 429 (and 503 with ``Retry-After``)
waits as long as the collector asks, at most ``max_retry_after`` (5 min).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from netmon.config.site import CollectorConnection
from netmon.contract import ProbeKind
from netmon.errors import (
    BatchTooLarge,
    CollectorRejected,
    CollectorUnavailable,
    CollectorUnreachable,
    RetryLater,
    StorageError,
)
from netmon.probes.agent.answer import Settlement
from netmon.probes.agent.async_outbox import AsyncOutbox
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.agent.outbox import Queued

log = logging.getLogger(__name__)
BACKOFF_BASE_SECONDS = 1.0


def full_jitter(failures: int, cap: float, rng: random.Random, base: float = BACKOFF_BASE_SECONDS) -> float:
    return rng.uniform(0, min(cap, base * 2 ** min(failures - 1, 30)))


class Shipper:
    def __init__(self, outbox: AsyncOutbox, client: CollectorClient, connection: CollectorConnection,
                 metrics: AgentMetrics, rng: random.Random | None = None) -> None:
        self.outbox = outbox
        self.client = client
        self.connection = connection
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.wake = asyncio.Event()  # set when a full batch is waiting
        self.recovering = True
        self.failures = 0
        self.stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Ship until ``stop``; a batch already on the wire then still gets its answer (so its rows
        are not resent after a restart), bounded by ``request_timeout``."""
        self.stop = stop
        delay = 0.0  # ship what a previous run left behind at once
        while not await _wait(stop, self.wake if self.failures == 0 else None, delay):
            self.wake.clear()
            delay = await self.cycle()

    async def cycle(self) -> float:
        """Ship until the outbox is empty or a failure; return how long to wait before the next cycle."""
        reason = ""
        try:
            await self.drain()
            self.failures = 0
            return self.connection.ship_interval
        except RetryLater as exc:
            reason = "rate_limited" if exc.status_code == 429 else "busy"
            delay = min(exc.retry_after, self.connection.max_retry_after)
            log.warning("%s; retrying in %.1f s", exc, delay)
        except CollectorUnreachable as exc:
            self.failures += 1
            reason = "unreachable"
            delay = full_jitter(self.failures, self.connection.ship_interval, self.rng)
            log.warning("collector unreachable (%s); results stay in the outbox, retry in %.1f s", exc, delay)
        except CollectorUnavailable as exc:
            self.failures += 1
            reason = "server_error"
            delay = full_jitter(self.failures, self.connection.max_backoff, self.rng)
            log.warning("%s; results stay in the outbox, retry in %.1f s", exc, delay)
        except CollectorRejected as exc:
            self.failures += 1
            reason = "auth" if exc.status_code in {401, 403} else f"http_{exc.status_code}"
            delay = full_jitter(self.failures, self.connection.max_backoff, self.rng)
            log.error("COLLECTOR REFUSED THE BATCH: %s. Results are kept in the outbox; check the site token "
                      "(%s) and the collector. Retry in %.1f s", exc, self.connection.token_file, delay)
        except StorageError as exc:
            reason, delay = "outbox", self.connection.ship_interval
            log.error("outbox error while shipping: %s", exc)
        self.metrics.ship_failures.labels(reason=reason).inc()
        self.recovering = True
        try:
            await self.outbox.prune()  # the age bound must hold while nothing leaves
        except StorageError as exc:
            log.error("outbox error while pruning: %s", exc)
        return delay

    async def _next_batch(self, limit: int) -> list[Queued]:
        items: list[Queued] = []
        if self.recovering:
            newest = await self.outbox.newest(ProbeKind.AGENT.value)
            if newest is not None:
                items.append(newest)
        return items + await self.outbox.oldest(limit - len(items), exclude=[q.seq for q in items])

    async def drain(self) -> None:
        limit = self.connection.batch_max_results
        while not self.stop.is_set():
            items = await self._next_batch(limit)
            if not items:
                return
            started = time.monotonic()
            log.debug("sending %d result(s), seqs %d..%d", len(items), items[0].seq, items[-1].seq)
            await self.outbox.set_in_flight(q.seq for q in items)
            try:  # rows stay "on the wire" until the answer is settled: see Outbox.set_in_flight
                settlement = await self._post(items)
                if settlement is None:
                    limit = max(1, len(items) // 2)
                    log.info("collector said the batch is too large; sending %d at a time", limit)
                    continue
                self.recovering = False
                await self._settle(settlement, len(items))
            finally:
                await self.outbox.set_in_flight(())
            if len(items) < limit:
                return
            pause = len(items) / self.connection.drain_max_results_per_second - (time.monotonic() - started)
            if pause > 0:
                await _wait(self.stop, None, pause)

    async def _post(self, items: list[Queued]) -> Settlement | None:
        """The collector's answer; None when the batch must be split (413)."""
        try:
            return await self.client.post(items, dropped_total=self.outbox.snapshot.dropped_total)
        except BatchTooLarge as exc:
            if len(items) > 1:
                return None
            return Settlement(acked=set(), rejected={items[0].seq: f"too large for the collector: {exc}"})

    async def _settle(self, settlement: Settlement, sent: int) -> None:
        if settlement.acked:
            acknowledged = await self.outbox.acknowledge(settlement.acked)
            log.debug("collector acknowledged %d result(s)", acknowledged)
            self.metrics.acknowledged.inc(acknowledged)
            self.metrics.batches.inc()
            self.metrics.last_ship.set(time.time())
        if settlement.rejected:
            dropped = await self.outbox.reject(settlement.rejected)
            self.metrics.rejected.inc(dropped)
            sample = "; ".join(f"seq {s}: {r}" for s, r in sorted(settlement.rejected.items())[:3])
            log.warning("collector rejected %d result(s), dropped from the outbox: %s",
                        len(settlement.rejected), sample)
        if not settlement.acked and not settlement.rejected:
            raise CollectorUnavailable(f"collector acknowledged none of the {sent} results sent")


async def _wait(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> bool:
    """Sleep up to ``seconds``; return early when ``wake`` is set. True when ``stop`` is set."""
    events = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        events.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(events, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for event in events:
            event.cancel()
    return stop.is_set()
