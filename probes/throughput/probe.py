"""throughput: a bounded upload + download test of a link against an iperf3 server.

One task per link with a ``throughput:`` section. A test fills the very line the office
works over, so before loading it the probe checks, in this order, and *refuses* (status
``ok``, no measured values, ``info.skipped`` and a reason) when:

- it is inside a quiet-hours window (local time);
- today's byte budget for the link cannot cover the most one test can move;
- the latest ``snmp_if`` result for the same link shows it busy;
- another throughput test of this agent is running;
- its own SNMP reading of the link, taken just before the test, shows it busy, or the
  load cannot be read (no ``snmp`` section, SNMP failing) and the link says
  ``when_load_unknown: skip`` (the default): no reading, no test.

Every test is bounded in time (``-t``) and in bytes: iperf3 paces its sender to
``rate_cap_contracted_multiple`` x the contracted rate, so a path far faster than its
contract cannot blow the budget. The day's spend is what iperf3 reports as moved.

After the test one more SNMP sample tells how much traffic was not ours; a line that
turned busy mid-test gives ``degraded`` with ``*_leftover_bps``, not the line's capacity.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import ClassVar

from pydantic import Field

from netmon.config.site import ThroughputConfig, local_only
from netmon.config.units import PositiveSeconds, Seconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import IperfFailure, SnmpFailure
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope, TaskProblem
from netmon.probes.throughput import checks
from netmon.probes.throughput.guards import ByteBudget, in_quiet_hours
from netmon.probes.throughput.iperf3 import DirectionResult, IperfRun, run_direction
from netmon.probes.throughput.load import LinkLoad, LoadMeter, others_during


class ThroughputOptions(ProbeOptions):
    interval: PositiveSeconds = 3600.0
    # the load reading before, both directions, and the sample after (checks.worst_seconds)
    timeout: PositiveSeconds = 90.0
    omit_seconds: int = Field(default=1, ge=0, le=10, description="TCP slow start left out of the rate")
    congestion: str | None = Field(default="cubic", pattern=r"^[a-z0-9_]{1,16}$",
                                   description="iperf3 -C; BBR under-fills a tbf-like queue less")
    connect_timeout: PositiveSeconds = 3.0
    streams: int = Field(default=1, ge=1, le=8)
    iperf3: str = Field(default="iperf3", **local_only("the iperf3 program to run"))
    # snmp_if results older than this do not count as "the link is busy now"
    busy_max_age: PositiveSeconds = 120.0
    # the test's sender is paced to this multiple of the contracted rate: a line that carries
    # its contract still shows it (ratio up to this), and a test's bytes are bounded
    rate_cap_contracted_multiple: float = Field(default=1.5, ge=1.0, le=10.0)
    # the probe's own SNMP reading of the link's load just before a test
    load_reading_seconds: PositiveSeconds = 5.0
    load_align_seconds: Seconds = 4.0
    # traffic not ours above this share of the contracted rate during a test marks it busy
    busy_during_test_ratio: float = Field(default=0.1, gt=0, le=1)


class ThroughputProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.THROUGHPUT
    Options: ClassVar[type[ProbeOptions]] = ThroughputOptions
    scope: ClassVar[Scope] = "link"
    link_section: ClassVar[str | None] = "throughput"

    def __init__(self, context: ProbeContext) -> None:
        self.context = context
        self.budget = ByteBudget(context.state_dir, read_only=context.read_only)
        self.meter = LoadMeter()
        self._running = asyncio.Lock()
        # when our own last test ended: SNMP windows that saw it are not "someone else is busy"
        self._last_test_end_ns = 0

    @classmethod
    def check_task(cls, task: ProbeTask) -> list[TaskProblem]:
        return checks.check_task(task)

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(ThroughputOptions)
        if task.link is None or task.link.throughput is None:
            return task.observe(Status.ERROR, reason="throughput task without a link throughput section")
        cfg, contracted = task.link.throughput, task.link.contracted_bps
        if not contracted:
            return task.observe(Status.ERROR, reason="throughput needs the link's contracted_mbps: it bounds the "
                                                     "test's rate and bytes")
        problems = [p.message for p in checks.check_task(task) if p.fatal]
        if problems:
            return task.observe(Status.ERROR, reason=problems[0])
        now = self.now()
        used = self.budget.used(task.key, now.date())
        remaining = max(0, cfg.max_bytes_per_day - used)
        known: dict[str, float] = {"budget_remaining_bytes": float(remaining), "contracted_bps": contracted}

        window = in_quiet_hours(cfg.quiet_hours, now)
        if window:
            return self._skip(task, known, "quiet_hours", f"quiet hours {window} (local time): no test now")
        runs = checks.runs(task, options)
        bound = sum(run.byte_bound or 0 for run in runs.values())
        if bound > remaining:
            return self._skip(task, known, "budget",
                              f"daily budget exhausted: {used / 1e6:.1f} MB of {cfg.max_bytes_per_day / 1e6:.1f} MB "
                              f"used today, a test may move up to {bound / 1e6:.1f} MB")
        busy = self._busy_from_snmp_if(task, cfg, options)
        if busy:
            return self._skip(task, known, "busy", busy)
        if self._running.locked():
            return self._skip(task, known, "concurrent", "another throughput test of this agent is running")
        async with self._running:
            load = await self._load(task, options)
            notes: dict[str, str] = {}
            if load.ratio is None:
                if cfg.when_load_unknown == "skip":
                    return self._skip(task, known, "load_unknown", f"link load unknown ({load.reason}): no test")
                notes["load"] = f"not read ({load.reason}); tested anyway (when_load_unknown: test)"
            elif load.ratio > cfg.busy_threshold_ratio:
                return self._skip(task, known, "busy", (
                    f"link busy at {load.ratio * 100:.0f} % of contracted rate (threshold "
                    f"{cfg.busy_threshold_ratio * 100:.0f} %, {load.reason}): no test now"))
            else:
                notes["load"] = f"{load.ratio * 100:.0f} % before the test ({load.reason})"
            return await self._test(task, cfg, options, runs, now.date(), load, notes)

    async def _load(self, task: ProbeTask, options: ThroughputOptions) -> LinkLoad:
        assert task.link is not None and task.link.contracted_bps
        if task.link.snmp is None:
            return LinkLoad(None, "the link has no snmp section to read it from")
        return await self.meter.reading(task.link.snmp, task.link.contracted_bps, options.load_reading_seconds,
                                        options.load_align_seconds)

    def _busy_from_snmp_if(self, task: ProbeTask, cfg: ThroughputConfig, options: ThroughputOptions) -> str | None:
        """A fresh snmp_if result that shows the link busy (a quiet one is not enough: see ``_load``)."""
        assert task.link is not None
        snmp = self.context.latest_for(ProbeKind.SNMP_IF, task.link.name)
        if snmp is None or snmp.status is not Status.OK or "utilisation_ratio" not in snmp.values:
            return None
        age_seconds = (time.time_ns() - snmp.time_ns) / 1e9
        window_start_ns = snmp.time_ns - int(snmp.values.get("window_seconds", 0) * 1e9)
        if age_seconds > options.busy_max_age or window_start_ns < self._last_test_end_ns:
            return None  # old, or it measured our own test
        ratio = snmp.values["utilisation_ratio"]
        if ratio <= cfg.busy_threshold_ratio:
            return None
        threshold = cfg.busy_threshold_ratio * 100
        return (f"link busy at {ratio * 100:.0f} % of contracted rate (threshold {threshold:.0f} %, "
                f"SNMP {age_seconds:.0f} s ago): no test now")

    def _skip(self, task: ProbeTask, known: dict[str, float], what: str, reason: str) -> Observation:
        return task.observe(Status.OK, values=known, reason=reason, info={"skipped": what})

    async def _test(self, task: ProbeTask, cfg: ThroughputConfig, options: ThroughputOptions,
                    runs: dict[str, IperfRun], today: dt.date, load: LinkLoad, notes: dict[str, str]) -> Observation:
        assert task.link is not None and task.link.contracted_bps
        contracted = task.link.contracted_bps
        started = time.monotonic()
        results: dict[str, DirectionResult] = {}
        failure = None
        # a test stopped by its time limit left no report: charge what it may have sent
        unreported_bytes = 0
        try:  # IperfUnavailable (not installed) is a ProbeError: the runner reports it
            for direction, run in runs.items():
                try:
                    results[direction] = await run_direction(run)
                except IperfFailure as exc:
                    failure = f"{direction}: {exc}"
                    unreported_bytes = int(min(run.byte_bound or 0, (run.rate_cap_bps or 0) / 8 * exc.ran_seconds))
                    break
        finally:
            self._last_test_end_ns = time.time_ns()
        bytes_used = sum(result.payload_bytes for result in results.values()) + unreported_bytes
        used_today = self.budget.add(task.key, bytes_used, today)
        values: dict[str, float] = {
            "bytes_used": float(bytes_used), "contracted_bps": contracted,
            "budget_remaining_bytes": float(max(0, cfg.max_bytes_per_day - used_today)),
            "duration_seconds": time.monotonic() - started,
        }
        cap = runs["upload"].rate_cap_bps or 0
        for direction, result in results.items():
            values[f"{direction}_bps"] = result.bits_per_second
            values[f"{direction}_ratio"] = result.bits_per_second / contracted
            if cap and result.bits_per_second >= 0.97 * cap:
                notes[f"{direction}_capped"] = (f"reached the test's rate cap ({cap / 1e6:g} Mbit/s): the line "
                                                "carries at least that")
        if failure:
            return task.observe(Status.FAILED, values=values, reason=failure, info=notes)
        busy = await self._busy_during(task, options, load, results)
        if busy is not None:
            notes["busy_during_test"] = busy
            for direction in results:
                values[f"{direction}_leftover_bps"] = values.pop(f"{direction}_bps")
                del values[f"{direction}_ratio"]
            return task.observe(Status.DEGRADED, values=values, info=notes, reason=(
                "the line turned busy during the test: the figures are what other traffic left, not the "
                f"line's capacity ({busy})"))
        return task.observe(Status.OK, values=values, info=notes)

    async def _busy_during(self, task: ProbeTask, options: ThroughputOptions, load: LinkLoad,
                           results: dict[str, DirectionResult]) -> str | None:
        """Why the test's window was busy with other traffic, or None (quiet, or not watched: noted)."""
        assert task.link is not None and task.link.contracted_bps
        if load.last is None or task.link.snmp is None:
            return None
        try:
            after = await self.meter.sample(task.link.snmp, options.load_align_seconds)
        except SnmpFailure:
            return None
        up = results["upload"].payload_bytes if "upload" in results else 0
        down = results["download"].payload_bytes if "download" in results else 0
        found = others_during(load.last, after, task.link.contracted_bps, up, down)
        if found is None or found[0] <= options.busy_during_test_ratio:
            return None
        return f"{found[0] * 100:.0f} % of the contracted rate was other traffic: {found[1]}"

    async def aclose(self) -> None:
        await self.meter.aclose()
