"""The engine as a collector part: a result sink (in-stream evaluation), a ticking sink
(timers, storm control, grouping) and a delivery task of its own, so a slow chat service
never holds up ingest or the collector's ticker.

``extension(app, core)`` is the one line the collector's ``default_extensions`` lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netmon.alerting.api import incidents_router
from netmon.alerting.auth import AdminToken
from netmon.alerting.engine import AlertEngine
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import Registry, RegistrySite
from netmon.contract import ResultRecord

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("netmon.alerting")
STATE_FILE = "alerting.db"


class AlertingSink:
    name = "alerting"

    def __init__(self, engine: AlertEngine, registry: Callable[[], Registry] | None = None) -> None:
        self.engine = engine
        # the collector re-reads its registry on SIGHUP: follow it (teams, upstreams, names)
        self._registry = registry
        self._delivery: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        if self._registry is not None:
            current = self._registry()
            if current is not self.engine.router.registry:
                self.engine.set_registry(current)
        self.engine.observe(site, records)

    async def tick(self, now_seconds: float) -> None:
        self.engine.tick(now_seconds)
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.create_task(self._deliver_forever(), name="netmon-alert-delivery")
        self._wake.set()  # one delivery pass per tick at most: a pass still running absorbs this

    async def _deliver_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)
            self._wake.clear()
            try:
                await self.engine.deliver(time.time())
            except Exception:
                log.exception("alert delivery pass failed; retrying on the next tick")

    async def aclose(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
        await self.engine.aclose()


def build_engine(config: AlertingConfig, state_dir: str | Path, *, registry: Registry | None = None,
                 ship_interval_seconds: float = 10.0, grafana_url: str | None = None) -> AlertEngine:
    return AlertEngine(config, state_path=Path(state_dir) / STATE_FILE, registry=registry,
                       ship_interval_seconds=ship_interval_seconds, grafana_url=grafana_url)


def extension(app: FastAPI, core: Any) -> None:
    """Plug alerting into the collector: register the sink, mount the API (``app.state.alerting``)."""
    central = core.config
    config = central.alerting or AlertingConfig()
    engine = build_engine(config, central.state_dir, registry=core.sites.registry,
                          ship_interval_seconds=central.expected_ship_interval, grafana_url=central.grafana_url)
    sink = AlertingSink(engine, registry=lambda: core.sites.registry)
    core.sinks.register(sink)
    app.include_router(incidents_router(engine, AdminToken.from_file(config.admin_token_file)))
    app.state.alerting = sink
