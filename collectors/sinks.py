"""``Sinks``: the chain of result sinks that gets every accepted batch after its journal commit.

The live state is the first sink; extensions add theirs (the alerting engine) through the
host. Sinks are registered explicitly, under unique names, and run in registration order with
only the newly accepted records of the batch (never duplicates). A sink that raises is logged
and counted (``netmon_collector_sink_failures_total{sink}``; the time each takes is
``netmon_collector_sink_duration_seconds_total{sink,call}``) and never fails the ingest: the
batch is already durable and answered 200. The interfaces are in ``collectors/abc.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence

from netmon.collectors.abc import ClosingSink, ResultSink, TickingSink
from netmon.config.registry import RegistrySite
from netmon.contract import ResultRecord
from netmon.errors import AlreadyRegistered

log = logging.getLogger("netmon.collector.sinks")


class Sinks:
    def __init__(self, on_failure: Callable[[str], None] | None = None,
                 on_duration: Callable[[str, str, float], None] | None = None) -> None:
        self._sinks: dict[str, ResultSink] = {}
        self._on_failure = on_failure or (lambda name: None)
        # (sink, "handle" or "tick", seconds): what each sink costs the event loop
        self._on_duration = on_duration or (lambda name, call, seconds: None)

    def register(self, sink: ResultSink) -> ResultSink:
        if not isinstance(sink, ResultSink):
            raise TypeError(f"{sink!r} does not implement ResultSink (name + async handle)")
        if sink.name in self._sinks:
            raise AlreadyRegistered(f"a sink named {sink.name!r} is already registered ({self._sinks[sink.name]!r})")
        self._sinks[sink.name] = sink
        return sink

    def names(self) -> list[str]:
        return list(self._sinks)

    def __iter__(self) -> Iterator[ResultSink]:
        return iter(self._sinks.values())

    async def dispatch(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        if not records:
            return
        for sink in self._sinks.values():
            started = time.perf_counter()
            try:
                await sink.handle(site, records)
            except Exception:
                log.exception("sink %s failed on %d record(s) of site %s", sink.name, len(records), site.id)
                self._on_failure(sink.name)
            self._on_duration(sink.name, "handle", time.perf_counter() - started)

    async def tick(self) -> None:
        now = time.time()
        for sink in self._sinks.values():
            if isinstance(sink, TickingSink):
                started = time.perf_counter()
                try:
                    await sink.tick(now)
                except Exception:
                    log.exception("sink %s failed in tick", sink.name)
                    self._on_failure(sink.name)
                self._on_duration(sink.name, "tick", time.perf_counter() - started)

    async def aclose(self) -> None:
        """Close every sink that has work of its own, last registered first; one failing does not stop the rest."""
        for sink in reversed(self._sinks.values()):
            if isinstance(sink, ClosingSink):
                try:
                    await sink.aclose()
                except Exception:
                    log.exception("sink %s failed to close", sink.name)
