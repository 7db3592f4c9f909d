"""Probe tasks as APScheduler 3 interval jobs that never fire in step across thousands of sites.

Each task runs on its own grid of Unix time: ``phase + n * interval``, the phase within the
interval derived from a hash of (agent id, task key) — spread evenly over the fleet, like
Prometheus spreads scrapes by target hash, and the same after a restart or a new plan, so a
site's series keep their rhythm. Every run then gets a small random jitter on top.
``max_instances=1`` and ``coalesce`` mean a probe slower than its interval skips a beat
(counted in ``netmon_agent_probe_runs_skipped_total``) instead of piling up runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from netmon.config.units import format_duration
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.base import ProbeTask

log = logging.getLogger("netmon.agent")

JOB_PREFIX = "probe:"
# Jitter per run: a tenth of the interval, at most 5 s (a 5-minute probe need not wander more).
JITTER_SHARE = 0.1
JITTER_MAX_SECONDS = 5.0


def start_offset(agent_id: str, key: str, interval: float) -> float:
    """This task's phase: where within ``[0, interval)`` of Unix time its runs fall, from a hash of its identity."""
    digest = hashlib.sha256(f"{agent_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


def first_fire(now: dt.datetime, phase: float, interval: float) -> dt.datetime:
    """The first grid point ``phase + n * interval`` (Unix seconds) at or after ``now``."""
    n = math.ceil((now.timestamp() - phase) / interval)
    return dt.datetime.fromtimestamp(phase + n * interval, tz=dt.UTC)


def jitter_for(interval: float) -> float:
    return min(interval * JITTER_SHARE, JITTER_MAX_SECONDS)


class GridIntervalTrigger(IntervalTrigger):  # type: ignore[misc]
    """An IntervalTrigger whose jitter does not accumulate.

    APScheduler 3's ``IntervalTrigger`` computes each fire from the previous *jittered* one,
    so jitter adds up: a 60 s probe with up to 6 s of jitter would run every ~63 s on average.
    Here fire n is at ``start + n * interval + uniform(0, jitter)``.
    """

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        if previous_fire_time is not None:
            start = self.start_date.timestamp()
            n = math.floor((previous_fire_time.timestamp() - start) / self.interval_length + 1e-9)
            previous_fire_time = dt.datetime.fromtimestamp(start + n * self.interval_length, tz=self.timezone)
        fire: dt.datetime | None = super().get_next_fire_time(previous_fire_time, now)
        return fire


def new_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(timezone=dt.UTC)


class ProbeSchedule:
    def __init__(self, scheduler: AsyncIOScheduler, agent_id: str, run: Callable[[ProbeTask], Awaitable[None]],
                 metrics: AgentMetrics) -> None:
        self.scheduler = scheduler
        self.agent_id = agent_id
        self.run = run
        self.metrics = metrics
        self.kinds: dict[str, str] = {}  # job id -> probe kind, for the skipped-runs counter
        self.applied_at = dt.datetime.now(dt.UTC)
        scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)

    def _skipped(self, event: JobSubmissionEvent) -> None:
        kind = self.kinds.get(event.job_id)
        if kind is not None:
            self.metrics.skipped.labels(probe=kind).inc()

    def apply(self, tasks: list[ProbeTask], now: dt.datetime | None = None) -> None:
        """Replace every probe job with one per task (unchanged tasks keep their grid)."""
        now = now or dt.datetime.now(dt.UTC)
        self.applied_at = now  # the offsets count from here
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                job.remove()
        self.kinds = {}
        firsts = []
        for task in tasks:
            first = self.add(JOB_PREFIX + task.key, task.options.interval, self.run, (task,), now)
            self.kinds[JOB_PREFIX + task.key] = task.kind.value
            firsts.append(first)
            # said at once: the first run waits for the task's grid point, up to one interval away
            log.info("task %s every %s, first run at %s (in %.0f s)", task.key, format_duration(task.options.interval),
                     first.astimezone().strftime("%H:%M:%S"), (first - now).total_seconds())
        if firsts:
            log.info("%d task(s) scheduled; the first result in %.0f s, every task has run within %.0f s",
                     len(tasks), (min(firsts) - now).total_seconds(), (max(firsts) - now).total_seconds())
        self.metrics.tasks.set(len(tasks))

    def add(self, job_id: str, interval: float, fn: Callable[..., Awaitable[None]], args: tuple[object, ...],
            now: dt.datetime) -> dt.datetime:
        """Schedule ``fn`` on its grid; returns its first fire time (before jitter)."""
        start = first_fire(now, start_offset(self.agent_id, job_id, interval), interval)
        trigger = GridIntervalTrigger(seconds=interval, start_date=start, jitter=jitter_for(interval), timezone=dt.UTC)
        # A run may start late by up to one interval (a busy loop) rather than be skipped.
        self.scheduler.add_job(fn, trigger, args=args, id=job_id, name=job_id, max_instances=1, coalesce=True,
                               misfire_grace_time=max(1, int(interval)), replace_existing=True)
        return start
