"""The collector's parts wired together, and their lifecycle (start, SIGHUP reload, stop).

Everything is opened in the constructor so that configuration errors (registry file,
secret files) surface before uvicorn binds its port; background tasks start in ``start()``.
``CollectorCore`` is also the ``CollectorHost`` that extensions see (``collectors/abc.py``):
``stop()`` closes the sinks and the extensions it installed, so what they keep in memory (the
alert engine's baselines and last-seen times) is written on a clean shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netmon.collectors.abc import Extension, ResultSink, Role
from netmon.collectors.auth import Authenticator, admin_file_digest
from netmon.collectors.budget import SeriesBudget
from netmon.collectors.clocks import SiteClocks
from netmon.collectors.drain import TsdbDrainer
from netmon.collectors.ingest import Door, IngestService
from netmon.collectors.journal import Journal
from netmon.collectors.limits import RecordLimits
from netmon.collectors.live import LiveState
from netmon.collectors.metrics import CollectorMetrics, StateCollector
from netmon.collectors.ratelimit import SiteRateLimiter
from netmon.collectors.settings import ServiceSettings, influx_secrets, state_location
from netmon.collectors.sinks import Sinks
from netmon.collectors.site_counts import open_counts
from netmon.collectors.sitestore import RegistryStore
from netmon.collectors.sqlite import SITES_DB, connect
from netmon.collectors.surge import surge_provinces
from netmon.collectors.token_stores import open_token_store
from netmon.collectors.tsdb import make_writer
from netmon.config.central import CentralConfig, SurgeConfig, load_central
from netmon.config.registry import Registry
from netmon.errors import AlreadyRegistered, ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client.registry import Collector

log = logging.getLogger("netmon.collector")


class CollectorCore:
    def __init__(self, config: CentralConfig, settings: ServiceSettings | None = None,
                 config_file: str | None = None, tick_interval_seconds: float = 1.0) -> None:
        self.config = config
        self.settings = settings or ServiceSettings()
        self.config_file = config_file
        self.tick_interval = tick_interval_seconds
        state_dir = Path(config.state_dir)
        self.metrics = CollectorMetrics()
        # used from the event loop's thread, which need not be the one constructing the app
        self._sites_db = connect(state_dir / SITES_DB, check_same_thread=False)
        self.sites = RegistryStore(config.registry, self._sites_db)
        self.sites.load()
        secrets = influx_secrets(config, config_file or "central.yaml", self.settings)
        self.state = state_location(config, config_file or "central.yaml", self.settings)
        # sites.db, or PostgreSQL shared with the other collectors (an enrolment holds on all)
        self.tokens = open_token_store(self.state, self._sites_db)
        self.surge: SurgeConfig | None = config.surge
        targets = config.tsdb_targets
        self.journal = Journal(
            state_dir, synchronous=config.journal.synchronous, to_tsdb=bool(targets),
            gap_close_after_seconds=config.journal.dedupe_gap_close_after,
            max_gaps_per_agent=config.journal.dedupe_max_gaps_per_agent,
            retention_seconds=config.journal.retention, tsdb_targets=[t.target_name for t in targets],
            outbox=self.state.shared)
        # /api/v1/stats: the journal's own counts, or with PostgreSQL those of every collector
        self.counts = open_counts(self.state, self.journal, max_gaps_per_agent=config.journal.dedupe_max_gaps_per_agent,
                                  maintenance_interval_seconds=config.journal.maintenance_interval)
        # one drainer per TSDB target, each with its own cursor in the journal
        self.drainers = [TsdbDrainer(self.journal, make_writer(t, secrets[t.target_name]), t.target_name,
                                     batch_size=t.batch_size, max_bytes=t.batch_max_bytes,
                                     flush_interval_seconds=t.flush_interval) for t in targets]
        self.live = LiveState()
        self.sinks = Sinks(on_failure=lambda name: self.metrics.sink_failures.labels(name).inc(),
                           on_duration=lambda name, call, seconds: self.metrics.sink_seconds.labels(
                               name, call).inc(seconds))
        self.sinks.register(self.live)
        self.limiter = SiteRateLimiter(config.limits.site_results_per_minute)
        self.clocks = SiteClocks(config.limits.max_clock_offset)
        self.budget = SeriesBudget(config.limits.site_unplanned_series)
        self.metrics.registry.register(StateCollector(self.sites, self.journal, self.live, self.drainers,
                                                      self.clocks, self.budget))
        for collector in self.counts.collectors():
            self.metrics.registry.register(collector)
        admin_file = config.alerting.admin_token_file if config.alerting is not None else None
        self.auth = Authenticator(self.tokens, self.sites, admin_file_digest(admin_file))
        door = Door(self.auth, self.limiter, config.limits, RecordLimits(config), self.budget, self.clocks)
        self.ingest = IngestService(door, self.journal, self.sinks, self.metrics, config.journal.max_pending_results,
                                    cut_off=self.counts.cut_off_seconds)
        self._extensions: list[Extension] = []
        self._tasks: list[asyncio.Task[None]] = []

    # --- CollectorHost: what an extension may use --------------------------------------------
    def site_registry(self) -> Registry:
        return self.sites.registry

    def add_sink(self, sink: ResultSink) -> None:
        self.sinks.register(sink)

    def add_metrics(self, collector: Collector) -> None:
        self.metrics.registry.register(collector)

    def require(self, role: Role) -> Any:
        return self.auth.require(role)

    def install(self, app: FastAPI, extensions: Sequence[Extension]) -> None:
        """Install each extension in order; ``stop()`` closes them in reverse."""
        names = [e.name for e in self._extensions]
        for extension in extensions:
            if extension.name in names:
                raise AlreadyRegistered(f"an extension named {extension.name!r} is already installed")
            names.append(extension.name)
        for extension in extensions:
            extension.install(self, app)
            self._extensions.append(extension)

    def current_surge(self) -> SurgeConfig | None:
        return self.surge

    def surge_provinces(self) -> list[str]:
        return surge_provinces(self.surge)

    async def start(self) -> None:
        counters = self.journal.counters
        rebuilt = self.live.rebuild(self.journal.latest_records(),
                                    lambda site: counters[site].last_seen_ns if site in counters else None)
        for site_id, live in self.live.sites.items():  # the series each site has: no fresh allowance per restart
            site = self.sites.site(site_id)
            if site is not None:
                self.budget.seed(site, live.results)
        log.info("collector ready: %d site(s) in %s, %d latest result(s) restored, %d result(s) waiting for the TSDB",
                 len(self.sites.registry.sites), self.sites.path, rebuilt, self.journal.pending)
        for drainer in self.drainers:
            drainer.start()
        await self.counts.start()
        self._tasks.append(asyncio.create_task(self._ticker(), name="netmon-ticker"))
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)

    async def _ticker(self) -> None:
        last_maintain = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_interval)
            await self.sinks.tick()
            if time.monotonic() - last_maintain >= self.config.journal.maintenance_interval:
                last_maintain = time.monotonic()
                try:
                    pruned = await self.journal.maintain()
                    if pruned:
                        log.info("journal: pruned %d result(s) past retention", pruned)
                except Exception:
                    log.exception("journal maintenance failed")

    def reload(self) -> None:
        """SIGHUP: re-read the site registry and the ``surge`` section of central.yaml."""
        try:
            registry = self.sites.load()
            self.metrics.registry_reloads.labels("ok").inc()
            log.info("registry reloaded: %d site(s)", len(registry.sites))
        except ConfigError as exc:
            self.metrics.registry_reloads.labels("error").inc()
            log.error("registry reload failed, keeping the previous registry:\n%s", exc.render())
        if self.config_file is None:
            return
        try:
            fresh = load_central(self.config_file)
        except ConfigError as exc:
            log.error("central config reload failed, keeping the previous surge settings:\n%s", exc.render())
            return
        self.surge = fresh.surge
        log.info("surge: %s", ", ".join(self.surge_provinces()) or "off")
        if fresh.model_copy(update={"surge": self.config.surge}) != self.config:
            log.warning("%s changed beyond 'surge'; restart the collector to apply it", self.config_file)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # the ticker is stopped, so nothing restarts a sink's work while it closes
        await self.sinks.aclose()
        for extension in reversed(self._extensions):
            try:
                await extension.aclose()
            except Exception:
                log.exception("extension %s failed to close", extension.name)
        for drainer in self.drainers:
            await drainer.stop()
        await self.counts.aclose()
        await asyncio.to_thread(self.journal.close)
        await asyncio.to_thread(self.tokens.close)
        self._sites_db.close()
