"""throughput: a bounded upload + download test of a link against an iperf3 server.

One task per link with a ``throughput:`` section. Before loading a thin line it checks,
in this order, and *refuses* (status ``ok``, no measured values, ``info.skipped`` and a
reason) when:

- it is inside a quiet-hours window (local time);
- today's byte budget for the link cannot cover another test;
- the latest ``snmp_if`` result for the same link shows it already above
  ``busy_threshold_ratio`` of its contracted rate (testing then would only measure the
  leftover and slow the office down);
- another throughput test of this agent is running.

A refusal is a result, not an error: dashboards show *why* no figure came.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import ClassVar

from pydantic import Field

from netmon.config.site import ThroughputConfig
from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import IperfFailure
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.throughput.guards import ByteBudget, in_quiet_hours
from netmon.probes.throughput.iperf3 import FINISH_SECONDS, DirectionResult, IperfRun, run_direction

# A TCP test cannot carry more than the line; allow a line a little faster than sold.
BUDGET_RATE_MARGIN = 1.1


class ThroughputOptions(ProbeOptions):
    interval: PositiveSeconds = 3600.0
    timeout: PositiveSeconds = 60.0
    omit_seconds: int = Field(default=1, ge=0, le=10, description="TCP slow start left out of the rate")
    congestion: str | None = Field(default="cubic", description="iperf3 -C; BBR under-fills a tbf-like queue less")
    connect_timeout: PositiveSeconds = 3.0
    streams: int = Field(default=1, ge=1, le=8)
    iperf3: str = "iperf3"
    # SNMP results older than this do not count as "the link is busy now"
    busy_max_age: PositiveSeconds = 600.0


class ThroughputProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.THROUGHPUT
    Options: ClassVar[type[ProbeOptions]] = ThroughputOptions
    scope: ClassVar[Scope] = "link"
    link_section: ClassVar[str | None] = "throughput"

    def __init__(self, context: ProbeContext) -> None:
        self.context = context
        self.budget = ByteBudget(context.state_dir)
        self._running = asyncio.Lock()
        # when our own last test ended: SNMP windows that saw it are not "someone else is busy"
        self._last_test_end_ns = 0

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(ThroughputOptions)
        if task.link is None or task.link.throughput is None:
            return task.observe(Status.ERROR, reason="throughput task without a link throughput section")
        cfg = task.link.throughput
        contracted = task.link.contracted_bps
        now = self.now()
        used = self.budget.used(task.key, now.date())
        remaining = max(0, cfg.max_bytes_per_day - used)
        known: dict[str, float] = {"budget_remaining_bytes": float(remaining)}
        if contracted:
            known["contracted_bps"] = contracted

        window = in_quiet_hours(cfg.quiet_hours, now)
        if window:
            return self._skip(task, known, "quiet_hours", f"quiet hours {window} (local time): no test now")
        need = self._bytes_needed(cfg, options, contracted)
        if remaining <= 0 or (need is not None and need > remaining):
            return self._skip(task, known, "budget",
                              f"daily budget exhausted: {used / 1e6:.1f} MB of {cfg.max_bytes_per_day / 1e6:.1f} MB "
                              f"used today" + (f", a test needs about {need / 1e6:.1f} MB" if need else ""))
        busy = self._busy(task, cfg, options)
        if busy:
            return self._skip(task, known, "busy", busy)
        if self._running.locked():
            return self._skip(task, known, "concurrent", "another throughput test of this agent is running")
        async with self._running:
            return await self._test(task, cfg, options, contracted, now.date())

    def _bytes_needed(self, cfg: ThroughputConfig, options: ThroughputOptions, contracted: float | None) -> int | None:
        if not contracted:
            return None
        return int(2 * contracted * BUDGET_RATE_MARGIN / 8 * (cfg.duration + options.omit_seconds))

    def _busy(self, task: ProbeTask, cfg: ThroughputConfig, options: ThroughputOptions) -> str | None:
        assert task.link is not None
        snmp = self.context.latest_for(ProbeKind.SNMP_IF, task.link.name)
        if snmp is None or snmp.status is not Status.OK or "utilisation_ratio" not in snmp.values:
            return None
        age_seconds = (time.time_ns() - snmp.time_ns) / 1e9
        if age_seconds > options.busy_max_age:
            return None
        window_start_ns = snmp.time_ns - int(snmp.values.get("window_seconds", 0) * 1e9)
        if window_start_ns < self._last_test_end_ns:
            return None  # that window saw our own test
        ratio = snmp.values["utilisation_ratio"]
        if ratio <= cfg.busy_threshold_ratio:
            return None
        threshold = cfg.busy_threshold_ratio * 100
        return (f"link busy at {ratio * 100:.0f} % of contracted rate (threshold {threshold:.0f} %, "
                f"SNMP {age_seconds:.0f} s ago): no test now")

    def _skip(self, task: ProbeTask, known: dict[str, float], what: str, reason: str) -> Observation:
        return task.observe(Status.OK, values=known, reason=reason, info={"skipped": what})

    async def _test(self, task: ProbeTask, cfg: ThroughputConfig, options: ThroughputOptions,
                    contracted: float | None, today: dt.date) -> Observation:
        assert task.link is not None
        timeout_each = options.timeout / 2
        runs = {}
        for direction, reverse in (("upload", False), ("download", True)):
            runs[direction] = IperfRun(
                server=cfg.server, port=cfg.port, duration_seconds=cfg.duration, omit_seconds=options.omit_seconds,
                reverse=reverse, congestion=options.congestion, connect_timeout_seconds=options.connect_timeout,
                source_address=task.link.source_address, streams=options.streams, binary=options.iperf3)
            if runs[direction].limit_seconds > timeout_each:
                return task.observe(Status.ERROR, reason=(
                    f"a test may take {2 * runs[direction].limit_seconds:g} s (two directions of connect "
                    f"{options.connect_timeout:g} + omit {options.omit_seconds} + duration {cfg.duration:g} "
                    f"+ {FINISH_SECONDS:g} s); probes.throughput.timeout is {options.timeout:g} s"))
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
                    unreported_bytes = int((contracted or 0) * BUDGET_RATE_MARGIN / 8 * exc.ran_seconds)
                    break
        finally:
            self._last_test_end_ns = time.time_ns()
        bytes_used = sum(result.payload_bytes for result in results.values()) + unreported_bytes
        used_today = self.budget.add(task.key, bytes_used, today)
        values: dict[str, float] = {
            "bytes_used": float(bytes_used),
            "budget_remaining_bytes": float(max(0, cfg.max_bytes_per_day - used_today)),
            "duration_seconds": time.monotonic() - started,
        }
        if contracted:
            values["contracted_bps"] = contracted
        for direction, result in results.items():
            values[f"{direction}_bps"] = result.bits_per_second
            if contracted:
                values[f"{direction}_ratio"] = result.bits_per_second / contracted
        if failure:
            return task.observe(Status.FAILED, values=values, reason=failure)
        return task.observe(Status.OK, values=values)

    async def aclose(self) -> None:
        return None
