"""``netmon probe run``: the long-running agent.

Wiring only: the plan (``plan_source``) becomes APScheduler jobs (``schedule``); each run's
observation goes into the durable outbox first, then into ``ProbeContext.latest`` (where the
throughput probe reads the SNMP utilisation); the shipper and the plan poller run beside
them when the local file has a ``collector:`` section. Without one the agent still measures
and keeps everything in its outbox (useful for site trials).

SIGTERM/SIGINT: stop scheduling, let running probes finish (bounded) so their results
reach the outbox, stop shipping (unacknowledged rows simply stay queued), close probes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import logging
import signal
import time
from pathlib import Path
from typing import IO

from netmon.config.site import SiteConfig
from netmon.contract import Observation, Status
from netmon.errors import ConfigError, StorageError
from netmon.probes.agent.async_outbox import AsyncOutbox
from netmon.probes.agent.collector_client import CollectorClient, skip_httpx_cli
from netmon.probes.agent.heartbeat import heartbeat
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.agent.outbox import OutboxStats
from netmon.probes.agent.plan_source import PlanPoller, initial_plan
from netmon.probes.agent.schedule import ProbeSchedule, new_scheduler
from netmon.probes.agent.shipper import Shipper
from netmon.probes.base import Probe, ProbeContext, ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.runner import TIMEOUT_GRACE_SECONDS, run_task

log = logging.getLogger("netmon.agent")
OUTBOX_FILE = "outbox.sqlite3"
SHUTDOWN_GRACE_MAX_SECONDS = 30.0


def lock_state_dir(state_dir: Path) -> IO[str]:
    """One agent per state_dir: two would interleave seqs in one outbox."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create state_dir {state_dir}: {exc}") from exc
    handle = open(state_dir / "agent.lock", "w")  # noqa: SIM115 - held for the agent's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StorageError(f"another agent is running with state_dir {state_dir}") from None
    return handle


class Agent:
    """One agent process. Everything it holds is made here, from the plan it starts with;
    ``start`` acquires what needs the state directory or a port (the state_dir lock, the
    outbox, /metrics) and starts measuring and shipping; ``stop`` ends them in reverse
    order. ``run`` is start, wait for SIGTERM/SIGINT (or ``stop_requested``), stop."""

    def __init__(self, local: SiteConfig, source: str, kinds: ProbeKinds) -> None:
        skip_httpx_cli()
        self.local = local
        self.source = source
        self.kinds = kinds
        self.started = time.monotonic()
        # the plan in force: the centre's cached one or the local file's; replaced by apply_plan
        self.config, self._first_tasks, self._plan_origin = initial_plan(local, kinds, source)
        self.state_dir = Path(self.config.state_dir)
        self.context = ProbeContext(state_dir=self.state_dir)
        # held between start and stop (declared before AgentMetrics, which reads the outbox's stats at once)
        self._lock: IO[str] | None = None
        self._outbox: AsyncOutbox | None = None
        self.shipper: Shipper | None = None
        self._background: list[asyncio.Task[None]] = []
        self.tasks: list[ProbeTask] = []  # the tasks in force (apply_plan)
        self.metrics = AgentMetrics(self.config.site, self.config.agent_id, self._outbox_stats, self.budgets)
        self.scheduler = new_scheduler()
        self.schedule = ProbeSchedule(self.scheduler, self.config.agent_id, self.run_probe, self.metrics)
        self.probes: dict[str, Probe] = {}
        self.broken: dict[str, str] = {}  # kind -> why its instance could not start
        self.inflight: set[asyncio.Task[None]] = set()
        self.stop_requested = asyncio.Event()
        # Without a collector section the agent still measures and keeps everything in its outbox.
        connection = self.config.collector
        self.client = (CollectorClient(connection, site_id=self.config.site.id, agent_id=self.config.agent_id,
                                       on_switch=self._collector_switched)
                       if connection is not None else None)
        if self.client is not None:
            self.client.on_clock_offset = self.metrics.clock_offset.set
        self.poller = (PlanPoller(self.client, local, self.config.plan(), kinds, self.apply_plan, self.metrics)
                       if self.client is not None else None)

    def _collector_switched(self, reason: str, index: int) -> None:
        self.metrics.collector_switches.labels(reason=reason).inc()
        self.metrics.collector_in_use.set(index)

    @property
    def outbox(self) -> AsyncOutbox:
        if self._outbox is None:
            raise RuntimeError("the agent's outbox is open only between start() and stop()")
        return self._outbox

    def _outbox_stats(self) -> OutboxStats | None:
        return self._outbox.snapshot if self._outbox is not None else None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            await self.start()
            await self.stop_requested.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return 0

    async def start(self) -> None:
        config = self.config
        self._lock = lock_state_dir(self.state_dir)
        try:
            self._outbox = await AsyncOutbox.open(self.state_dir / OUTBOX_FILE, site_id=config.site.id,
                                                  agent_id=config.agent_id, max_results=config.outbox.max_results,
                                                  max_age_seconds=config.outbox.max_age)
            try:
                port = self.metrics.serve(config.agent.metrics_host, config.agent.metrics_port)
            except OSError as exc:
                where = f"{config.agent.metrics_host}:{config.agent.metrics_port}"
                raise ConfigError(self.source, [("agent.metrics_port", None, f"cannot listen on {where}: "
                                                 f"{exc.strerror or exc}")]) from None
        except BaseException:
            await self._release()  # nothing else has started yet
            raise
        log.info("metrics listening on http://%s:%d/metrics", config.agent.metrics_host, port)
        await self.apply_plan(config, self._first_tasks)
        log.info("site %s, agent %s: %d probe task(s), plan from %s, next seq %d", config.site.id, config.agent_id,
                 len(self._first_tasks), self._plan_origin, self.outbox.snapshot.last_seq + 1)
        self.schedule.add("agent:heartbeat", config.agent.heartbeat_interval, self.record_heartbeat, (),
                          now=dt.datetime.now(dt.UTC))
        self.scheduler.start()
        if self.client is not None and self.poller is not None and config.collector is not None:
            self.shipper = Shipper(self.outbox, self.client, config.collector, self.metrics)
            self._background = [asyncio.create_task(self.shipper.run(self.stop_requested)),
                                asyncio.create_task(self.poller.run(self.stop_requested))]
        else:
            log.warning("no collector section: results stay in the outbox %s", self.state_dir / OUTBOX_FILE)
        await self.record_heartbeat()  # the centre learns at once that the agent (re)started

    def _on_signal(self, sig: int) -> None:
        log.info("received %s: stopping", signal.Signals(sig).name)
        self.stop_requested.set()

    async def apply_plan(self, config: SiteConfig, tasks: list[ProbeTask]) -> None:
        """Start the probe instances the tasks need, close the others, reschedule."""
        needed = {t.kind.value for t in tasks}
        for kind in [k for k in self.probes if k not in needed]:
            await self._close_probe(kind)
        for kind in needed - set(self.probes):
            try:
                self.probes[kind] = self.kinds.get(kind)(self.context)
                self.broken.pop(kind, None)
            except Exception as exc:  # reported as error results of its tasks, the rest keep running
                log.exception("probe kind %s could not start", kind)
                self.broken[kind] = f"probe kind {kind} could not start: {type(exc).__name__}: {exc}"
        keys = {t.key for t in tasks}
        for key in [k for k in self.context.latest if k not in keys]:
            del self.context.latest[key]
        self.config = config
        self.tasks = tasks
        self.schedule.apply(tasks)

    def budgets(self) -> dict[str, float]:
        """Per throughput link, the bytes today's budget still allows (for /metrics)."""
        from netmon.probes.throughput.guards import ByteBudget

        budget, today = ByteBudget(self.state_dir), dt.date.today()
        return {task.link.name: float(max(0, task.link.throughput.max_bytes_per_day - budget.used(task.key, today)))
                for task in self.tasks if task.link is not None and task.link.throughput is not None}

    async def run_probe(self, task: ProbeTask) -> None:
        current = asyncio.current_task()
        if current is not None:
            self.inflight.add(current)  # type: ignore[arg-type]
        try:
            probe = self.probes.get(task.kind.value)
            if probe is None:
                observation = task.observe(Status.ERROR, reason=self.broken.get(task.kind.value, "probe not loaded"))
            else:
                started = time.monotonic()
                observation = await run_task(probe, task)
                self.metrics.duration.labels(probe=task.kind.value).observe(time.monotonic() - started)
            await self.record([observation])
            self.context.latest[task.key] = observation
        finally:
            if current is not None:
                self.inflight.discard(current)  # type: ignore[arg-type]

    async def record_heartbeat(self) -> None:
        await self.record([heartbeat(self.config.agent_id, self.started, self.outbox.snapshot)])

    async def record(self, observations: list[Observation]) -> None:
        try:
            records = await self.outbox.add(observations)
        except StorageError as exc:
            log.error("RESULTS LOST: %s", exc)
            return
        for record in records:
            self.metrics.produced.labels(probe=record.probe.value).inc()
            log.debug("stored seq %d (%s %s)", record.seq, record.probe.value, record.target)
        collector = self.config.collector
        if self.shipper is not None and collector and self.outbox.snapshot.queued >= collector.batch_max_results:
            self.shipper.wake.set()

    async def stop(self) -> None:
        """Stop scheduling, let running probes finish (bounded) so their results reach the outbox,
        stop shipping (unacknowledged rows simply stay queued), close probes, outbox and lock."""
        self.stop_requested.set()
        if self.scheduler.running:
            self.scheduler.pause()
        if self.inflight:
            grace = min(SHUTDOWN_GRACE_MAX_SECONDS, TIMEOUT_GRACE_SECONDS + max(
                (t.options.timeout for t in self._tasks()), default=0.0))
            log.info("waiting up to %.0f s for %d running probe(s)", grace, len(self.inflight))
            await asyncio.wait(set(self.inflight), timeout=grace)
        background, self._background = self._background, []
        if background and self.config.collector is not None:  # a batch on the wire gets its answer
            await asyncio.wait(background, timeout=self.config.collector.request_timeout + 1)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for kind in list(self.probes):
            await self._close_probe(kind)
        if self.client is not None:
            await self.client.aclose()
        stats = self._outbox_stats()  # None: start() failed before the outbox was open
        await self._release()
        if stats is not None:
            log.info("stopped: %d result(s) queued in the outbox, last seq %d", stats.queued, stats.last_seq)

    async def _release(self) -> None:
        self.metrics.close()
        if self._outbox is not None:
            await self._outbox.close()
            self._outbox = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _tasks(self) -> list[ProbeTask]:
        return [job.args[0] for job in self.scheduler.get_jobs() if job.args]

    async def _close_probe(self, kind: str) -> None:
        probe = self.probes.pop(kind)
        try:
            await asyncio.wait_for(probe.aclose(), timeout=5)
        except Exception:
            log.exception("closing probe kind %s failed", kind)
