"""The engine as a collector part: a result sink (in-stream evaluation), a ticking sink
(timers, storm control, grouping) and a delivery task of its own, so a slow chat service
never holds up ingest or the collector's ticker.

``AlertingExtension`` is what ``netmon collector serve`` installs: it builds the engine from the
``alerting:`` section, registers the sink and ``netmon_alerts_firing`` (``alerting/metrics.py``),
mounts the incidents API, and on shutdown closes the engine (its final persist of baselines and
last-seen times).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from netmon.alerting.api import incidents_router
from netmon.alerting.engine import AlertEngine
from netmon.alerting.metrics import AlertingHealth, FiringIncidents
from netmon.alerting.rules import Rule, check_cut_off, load_rules
from netmon.alerting.store import STATE_FILE, open_store
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import Registry, RegistrySite
from netmon.contract import ResultRecord
from netmon.errors import StorageError
from netmon.statedb import StateLocation

if TYPE_CHECKING:
    from fastapi import FastAPI

    from netmon.collectors.abc import CollectorHost

log = logging.getLogger("netmon.alerting")
__all__ = ["STATE_FILE", "AlertingExtension", "AlertingSink", "build_engine"]


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
        delivery_failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)
            self._wake.clear()
            try:
                await self.engine.deliver(time.time())
            except StorageError as exc:  # the queue is in the store: nothing to send until it is back
                if not delivery_failing:
                    log.warning("alert delivery waits for the alert store, retrying each tick: %s", exc)
                delivery_failing = True
                continue
            except Exception:
                log.exception("alert delivery pass failed; retrying on the next tick")
            delivery_failing = False

    async def aclose(self) -> None:
        """Stop the delivery task (the engine itself is closed by whoever built it)."""
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery


def build_engine(config: AlertingConfig, state: StateLocation | str | Path, *, registry: Registry | None = None,
                 ship_interval_seconds: float = 10.0, grafana_url: str | None = None,
                 rules: Sequence[Rule] | None = None) -> AlertEngine:
    """The engine on ``state``'s store (a bare directory: its SQLite file, as for one collector)."""
    location = state if isinstance(state, StateLocation) else StateLocation(state_dir=Path(state), instance="local")
    return AlertEngine(config, store=open_store(location), instance=location.instance, registry=registry,
                       ship_interval_seconds=ship_interval_seconds, grafana_url=grafana_url, rules=rules)


class AlertingExtension:
    """Alerting inside the collector (``collectors.abc.Extension``); ``engine`` is set by ``install``."""

    name = "alerting"

    def __init__(self) -> None:
        self.engine: AlertEngine | None = None

    def install(self, host: CollectorHost, app: FastAPI) -> None:
        central = host.config
        config = central.alerting or AlertingConfig()
        rules = load_rules(config.rules_file)
        check_cut_off(central, rules, host.config_file or "central.yaml")
        engine = build_engine(config, host.state, registry=host.site_registry(), rules=rules,
                              ship_interval_seconds=central.expected_ship_interval, grafana_url=central.grafana_url)
        host.add_sink(AlertingSink(engine, registry=host.site_registry))
        host.add_metrics(FiringIncidents(lambda: engine.incidents(state="firing", limit=10_000)))
        host.add_metrics(AlertingHealth(engine))
        app.include_router(incidents_router(engine, host.require))
        self.engine = engine

    async def aclose(self) -> None:
        if self.engine is not None:
            await self.engine.aclose()
