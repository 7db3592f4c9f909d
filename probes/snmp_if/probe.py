"""snmp_if: utilisation of a link, read from its router's IF-MIB counters (pysnmp 7, asyncio).

One task per link with an ``snmp:`` section. Each run takes one sample of the interface
named ``if_name``; rates come from this sample and the task's previous one, so the window
is the probe interval. Utilisation is against the link's **contracted** rate: a router port
says 1 Gbit/s (a veth says 10 Gbit/s) whatever the line behind it was sold at.

Sample timing: net-snmp refreshes interface counters from the kernel only every few
seconds (about 3 s), so a counter read at time t may be up to 3 s old. Each sample polls
quickly until an octet counter changes and takes that moment as its time (bounded by
``align_seconds``); an idle interface, whose counters do not move, is read as it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, ClassVar

from pydantic import Field

from netmon.config.site import SnmpConfig
from netmon.config.units import PositiveSeconds, Seconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import MissingInstance, SnmpCredentialsUnusable, SnmpFailure, UnknownInterface
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.snmp_if.client import SnmpClient
from netmon.probes.snmp_if.counters import Rates, Rebaseline, Sample, compute_rates

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_X = "1.3.6.1.2.1.31.1.1.1."
IF = "1.3.6.1.2.1.2.2.1."
IF_NAME = IF_X + "1"
COLUMNS = {
    "if_name": IF_X + "1", "in_octets": IF_X + "6", "out_octets": IF_X + "10", "high_speed_mbps": IF_X + "15",
    "discontinuity_ticks": IF_X + "19", "oper_status": IF + "8", "in_discards": IF + "13", "in_errors": IF + "14",
    "out_discards": IF + "19", "out_errors": IF + "20",
}
OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}


class SnmpIfOptions(ProbeOptions):
    interval: PositiveSeconds = 60.0
    timeout: PositiveSeconds = 10.0
    # Poll for up to this long until the octet counters change, to time the sample at
    # snmpd's counter refresh (0: take the first reading as it is).
    align_seconds: Seconds = 4.0
    align_poll_seconds: PositiveSeconds = 0.05
    max_concurrent_requests: int = Field(default=32, ge=1, le=1024)
    # A 64-bit counter that went backwards is a wrap only if the implied rate is at most
    # this multiple of the contracted rate (and at most the interface speed).
    wrap_max_contracted_multiple: float = Field(default=4.0, gt=0)


@dataclasses.dataclass
class _TaskState:
    if_index: int | None = None
    previous: Sample | None = None


class SnmpIfProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.SNMP_IF
    Options: ClassVar[type[ProbeOptions]] = SnmpIfOptions
    scope: ClassVar[Scope] = "link"
    link_section: ClassVar[str | None] = "snmp"

    def __init__(self, context: ProbeContext) -> None:
        self.context = context
        self._client: SnmpClient | None = None
        self._state: dict[str, _TaskState] = {}

    def _client_for(self, options: SnmpIfOptions) -> SnmpClient:
        if self._client is None:
            self._client = SnmpClient(options.max_concurrent_requests)
        return self._client

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(SnmpIfOptions)
        if task.link is None or task.link.snmp is None:
            return task.observe(Status.ERROR, reason="snmp_if task without a link snmp section")
        cfg = task.link.snmp
        client = self._client_for(options)
        state = self._state.setdefault(task.key, _TaskState())
        deadline = time.monotonic() + options.timeout
        moved = ""
        try:
            if state.if_index is None:
                state.if_index = await self._resolve(client, cfg)
            try:
                sample, aligned = await self._aligned_sample(client, cfg, state.if_index, options, deadline)
                stale = sample.oper_status != 1
            except MissingInstance:
                stale = True
            if stale:
                # gone, renumbered, or down: a down row may be what net-snmp keeps of a deleted
                # interface while the live one with the same name has a new ifIndex
                index = await self._resolve(client, cfg)
                if index != state.if_index:
                    moved = f"{cfg.if_name} moved from ifIndex {state.if_index} to {index}"
                    state.if_index = index
                    sample, aligned = await self._aligned_sample(client, cfg, index, options, deadline)
        except SnmpCredentialsUnusable as exc:
            return task.observe(Status.ERROR, reason=str(exc))
        except SnmpFailure as exc:
            if isinstance(exc, UnknownInterface):
                state.if_index = None
            return task.observe(Status.FAILED, reason=str(exc))
        return self._observe(task, options, state, sample, aligned, moved)

    def _observe(self, task: ProbeTask, options: SnmpIfOptions, state: _TaskState, sample: Sample, aligned: str,
                 moved: str) -> Observation:
        assert task.link is not None
        contracted = task.link.contracted_bps
        values: dict[str, float] = {
            "oper_up": 1.0 if sample.oper_status == 1 else 0.0,
            "if_speed_bps": sample.if_speed_bps,
            "sys_uptime_seconds": sample.sys_uptime_seconds,
        }
        if contracted:
            values["contracted_bps"] = contracted
        info = {"if_index": str(sample.if_index), "aligned": aligned}
        previous, state.previous = state.previous, sample
        if moved:
            info["moved"] = moved
        if previous is None:
            rates: Rates | Rebaseline = Rebaseline("first sample of this task, rates from the next one")
        else:
            rates = compute_rates(previous, sample, contracted, options.wrap_max_contracted_multiple)
        if isinstance(rates, Rebaseline):
            info["baseline"] = f"baseline taken: {rates.reason}"
        else:
            values.update(_rate_values(rates, contracted or sample.if_speed_bps))
            if not contracted:
                info["utilisation_of"] = "interface speed (the link has no contracted rate)"
            if rates.wrapped:
                info["wrapped"] = ", ".join(rates.wrapped)
        status, reason = Status.OK, None
        if sample.oper_status != 1:
            name = OPER_STATUS.get(sample.oper_status, str(sample.oper_status))
            if_name = task.link.snmp.if_name if task.link.snmp else "?"
            status = Status.DEGRADED
            reason = f"interface {if_name} is {name} (ifOperStatus {sample.oper_status})"
        return task.observe(status, values=values, reason=reason, info=info, time_ns=sample.wall_ns)

    async def _resolve(self, client: SnmpClient, cfg: SnmpConfig) -> int:
        rows = await client.walk(cfg, IF_NAME)
        names: dict[str, list[int]] = {}
        for oid, value in rows.items():
            names.setdefault(str(value), []).append(int(oid.rsplit(".", 1)[1]))
        candidates = names.get(cfg.if_name)
        if not candidates:
            seen = ", ".join(sorted(names)) or "none"
            raise UnknownInterface(f"SNMP agent {cfg.host} has no interface with ifName {cfg.if_name!r}; "
                                   f"ifNames seen: {seen}")
        if len(candidates) == 1:
            return candidates[0]
        # several rows share the name (net-snmp keeps rows of deleted interfaces): prefer one
        # that is up, then the newest
        status = await client.get(cfg, [f"{COLUMNS['oper_status']}.{index}" for index in candidates])
        return max(candidates, key=lambda i: (int(status[f"{COLUMNS['oper_status']}.{i}"]) == 1, i))

    async def _sample(self, client: SnmpClient, cfg: SnmpConfig, if_index: int) -> Sample:
        oids = [SYS_UPTIME] + [f"{column}.{if_index}" for column in COLUMNS.values()]
        wall_before, before = time.time_ns(), time.monotonic()
        got = await client.get(cfg, oids)
        wall_after, after = time.time_ns(), time.monotonic()
        values: dict[str, Any] = {field: got[f"{column}.{if_index}"] for field, column in COLUMNS.items()}
        if str(values.pop("if_name")) != cfg.if_name:
            # the index now belongs to another interface: same as it being gone
            raise MissingInstance(f"ifIndex {if_index} is no longer {cfg.if_name!r}")
        return Sample(
            if_index=if_index, monotonic_seconds=(before + after) / 2, wall_ns=(wall_before + wall_after) // 2,
            sys_uptime_ticks=int(got[SYS_UPTIME]), **{field: int(value) for field, value in values.items()},
        )

    async def _aligned_sample(self, client: SnmpClient, cfg: SnmpConfig, if_index: int, options: SnmpIfOptions,
                              deadline: float) -> tuple[Sample, str]:
        """A sample timed at a counter refresh, and how it was timed (``info.aligned``)."""
        first = await self._sample(client, cfg, if_index)
        if options.align_seconds <= 0:
            return first, "off"
        # keep room for one full request (with its retries) before the task's deadline
        stop_at = min(first.monotonic_seconds + options.align_seconds,
                      deadline - cfg.timeout * (cfg.retries + 1))
        latest = first
        while time.monotonic() + options.align_poll_seconds < stop_at:
            await asyncio.sleep(options.align_poll_seconds)
            latest = await self._sample(client, cfg, if_index)
            if (latest.in_octets, latest.out_octets) != (first.in_octets, first.out_octets) \
                    or latest.sys_uptime_ticks < first.sys_uptime_ticks:
                return latest, "yes"
        return latest, f"no: counters did not move in {latest.monotonic_seconds - first.monotonic_seconds:.1f} s"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _rate_values(rates: Rates, capacity_bps: float) -> dict[str, float]:
    values = {
        "in_bps": rates.in_bps, "out_bps": rates.out_bps, "window_seconds": rates.window_seconds,
        "in_errors_per_second": rates.in_errors_per_second, "out_errors_per_second": rates.out_errors_per_second,
        "in_discards_per_second": rates.in_discards_per_second,
        "out_discards_per_second": rates.out_discards_per_second,
    }
    if capacity_bps > 0:
        values["in_utilisation_ratio"] = rates.in_bps / capacity_bps
        values["out_utilisation_ratio"] = rates.out_bps / capacity_bps
        values["utilisation_ratio"] = max(values["in_utilisation_ratio"], values["out_utilisation_ratio"])
    return values
