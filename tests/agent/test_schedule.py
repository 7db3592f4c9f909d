"""Scheduling: start offsets spread a fleet, intervals hold, slow probes never pile up, and
every run's result lands in the outbox — with a small real probe (TCP connect to a loopback
listener this test opens) run by the real agent runtime in this process."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from netmon.config.site import SiteConfig
from netmon.contract import RECORD_ADAPTER, Observation, ProbeKind, Status
from netmon.probes.agent import runtime
from netmon.probes.agent.outbox import Outbox
from netmon.probes.agent.runtime import OUTBOX_FILE, Agent
from netmon.probes.agent.schedule import JOB_PREFIX, GridIntervalTrigger, jitter_for, new_scheduler, start_offset
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.kinds import ProbeKinds

RUNS: list[tuple[str, float, float]] = []  # (task key, started, finished) in time.time()


class LoopbackTcpProbe:
    """Connect time to a TCP listener; slow_seconds lets a test make it slower than its interval."""

    kind: ClassVar[ProbeKind] = ProbeKind.TCP
    Options: ClassVar[type[ProbeOptions]] = ProbeOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None
    slow_seconds: ClassVar[float] = 0.0
    running: ClassVar[asyncio.Event]  # set while a run is in flight

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        started = time.time()
        LoopbackTcpProbe.running.set()
        try:
            _, writer = await asyncio.open_connection(task.host, task.port)
            connect_seconds = time.time() - started
            writer.close()
            await asyncio.sleep(self.slow_seconds)
        finally:
            LoopbackTcpProbe.running.clear()
        RUNS.append((task.key, started, time.time()))
        return task.observe(Status.OK, {"connect_seconds": connect_seconds})

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


def config(tmp_path: Path, port: int, targets: int, interval: float, timeout: float = 1.0) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"},
        "agent": {"metrics_port": 0, "heartbeat_interval": 3600},
        "state_dir": str(tmp_path / "state"),
        "links": [{"name": "lan", "kind": "lan", "probes": ["tcp"],
                   "targets": [{"host": "127.0.0.1", "port": port, "name": f"t{i}"} for i in range(targets)]}],
        "probes": {"tcp": {"interval": interval, "timeout": timeout}},
    })


async def run_agent(cfg: SiteConfig, seconds: float, stop_in_flight: bool = False) -> tuple[Agent, float]:
    """Run the agent for ``seconds`` (then until a probe run is in flight); returns it and when it was stopped."""
    kinds = ProbeKinds()
    kinds.register(LoopbackTcpProbe)
    RUNS.clear()
    LoopbackTcpProbe.running = asyncio.Event()
    agent = Agent(cfg, "test", kinds)
    runner = asyncio.create_task(agent.run())
    await asyncio.sleep(seconds)
    if stop_in_flight:
        await LoopbackTcpProbe.running.wait()
    stop_at = time.time()
    agent.stop_requested.set()
    assert await asyncio.wait_for(runner, 10) == 0
    return agent, stop_at


def stored(cfg: SiteConfig) -> list[Any]:
    box = Outbox(Path(cfg.state_dir) / OUTBOX_FILE, site_id="x", agent_id="x", max_results=10**6,
                 max_age_seconds=10**9)
    try:
        return [RECORD_ADAPTER.validate_json(q.body) for q in box.oldest(10**6)]
    finally:
        box.close()


def test_start_offsets_spread_a_fleet_evenly_over_the_interval() -> None:
    offsets = [start_offset(f"{26000 + i}-agent", "probe:icmp/leased/isp-edge", 60.0) for i in range(3321)]
    assert all(0 <= o < 60 for o in offsets)
    per_6s = [sum(1 for o in offsets if k * 6 <= o < (k + 1) * 6) for k in range(10)]
    assert min(per_6s) > 280 and max(per_6s) < 385, per_6s  # 332 each if perfectly even
    assert start_offset("26734-agent", "probe:x", 60.0) == start_offset("26734-agent", "probe:x", 60.0)
    assert jitter_for(1.0) == pytest.approx(0.1) and jitter_for(300.0) == 5.0


async def test_each_task_fires_at_its_offset_then_every_interval_and_every_result_is_stored(
        tmp_path: Path, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # what the scheduler decided (fire times with jitter), apart from how late a loaded machine ran it
    fired: dict[str, list[float]] = {}

    def recording_scheduler() -> AsyncIOScheduler:
        scheduler = new_scheduler()
        scheduler.add_listener(lambda e: fired.setdefault(e.job_id, []).extend(
            t.timestamp() for t in e.scheduled_run_times), EVENT_JOB_SUBMITTED)
        return scheduler

    monkeypatch.setattr(runtime, "new_scheduler", recording_scheduler)
    cfg = config(tmp_path, listener, targets=3, interval=1.0)
    agent, stop_at = await run_agent(cfg, 4.5)
    applied = agent.schedule.applied_at.timestamp()
    jitter = jitter_for(1.0)
    for i in range(3):
        key = f"tcp/lan/t{i}"
        phase = start_offset(cfg.agent_id, JOB_PREFIX + key, 1.0)
        due = fired[JOB_PREFIX + key]
        # on its grid of Unix time (phase + n s) plus at most the jitter; the first grid point after
        # the start, then every one: none skipped, none early, no drift
        first = math.ceil(applied - phase) + phase
        assert len(due) >= 3, due
        assert all(first + k <= t <= first + k + jitter for k, t in enumerate(due)), (phase, first, due)
        assert due[-1] + 1 + jitter + 0.5 > stop_at  # and none missing at the end (bar loop lag)
        runs = [s for k, s, _ in RUNS if k == key]
        assert len(runs) == len(due) and all(0 <= r - d < 0.5 for r, d in zip(runs, due, strict=True))

    records = stored(cfg)
    tcp = [r for r in records if r.probe is ProbeKind.TCP]
    assert len(tcp) == len(RUNS)  # every run's result reached the outbox
    assert all(r.status is Status.OK and 0 < r.values["connect_seconds"] < 0.1 for r in tcp)
    seqs = [r.seq for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert sorted(agent.context.latest) == ["tcp/lan/t0", "tcp/lan/t1", "tcp/lan/t2"]
    assert [r.probe for r in records].count(ProbeKind.AGENT) == 1  # the heartbeat recorded at start


async def test_a_probe_slower_than_its_interval_never_overlaps_and_its_last_result_is_flushed(
        tmp_path: Path, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LoopbackTcpProbe, "slow_seconds", 1.3)
    cfg = config(tmp_path, listener, targets=1, interval=0.5, timeout=5.0)
    agent, stop_at = await run_agent(cfg, 4.0, stop_in_flight=True)
    assert len(RUNS) >= 3
    for (_, _, end), (_, start, _) in itertools.pairwise(RUNS):
        assert start >= end - 0.01, "a run started while the previous one was still going"
    skipped = agent.metrics.registry.get_sample_value("netmon_agent_probe_runs_skipped_total", {"probe": "tcp"})
    assert skipped is not None and skipped >= 2
    # the stop arrived while a run was in flight: the agent let it finish and stored its result
    assert RUNS[-1][1] < stop_at < RUNS[-1][2]
    assert len([r for r in stored(cfg) if r.probe is ProbeKind.TCP]) == len(RUNS)


def test_jitter_does_not_accumulate_over_a_day_of_runs() -> None:
    start = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    ours = GridIntervalTrigger(seconds=60, start_date=start, jitter=6, timezone=dt.UTC)
    stock = IntervalTrigger(seconds=60, start_date=start, jitter=6, timezone=dt.UTC)
    fire = ours.get_next_fire_time(None, start)
    stock_fire = stock.get_next_fire_time(None, start)
    for n in range(1, 1441):
        fire = ours.get_next_fire_time(fire, fire)
        stock_fire = stock.get_next_fire_time(stock_fire, stock_fire)
        assert 0 <= (fire - start).total_seconds() - 60 * n <= 6, n
    # APScheduler's own trigger drifts by ~3 s a run (half the jitter): hours late after a day
    assert (stock_fire - start).total_seconds() - 60 * 1440 > 3600
