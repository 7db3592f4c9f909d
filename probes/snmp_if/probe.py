"""snmp_if: utilisation of a link, read from its router's IF-MIB counters (pysnmp 7, asyncio).

One task per link with an ``snmp:`` section. Each run takes one sample of the link's
interface (``interfaces.resolve``: by ifName/ifDescr, ifAlias or ifIndex); rates come from
this sample and the task's previous one, so the window is the probe interval. Utilisation
is against the link's **contracted** rate: a router port says 1 Gbit/s (a veth says
10 Gbit/s) whatever the line behind it was sold at.

Samples are timed at the agent's counter refresh (``sampling``); a sample whose wait was
cut short gives no rate and does not start the next window. Columns the agent lacks make
the result smaller, and say so in ``info.missing``; no octet counters at all is
``degraded`` with the reason.
"""

from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

from pydantic import Field

from netmon.config.site import SnmpConfig
from netmon.config.units import PositiveSeconds, Seconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import MissingInstance, SnmpCredentialsUnusable, SnmpFailure, UnknownInterface
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope, TaskProblem
from netmon.probes.snmp_if import checks
from netmon.probes.snmp_if.client import SnmpClient
from netmon.probes.snmp_if.counters import Rates, Rebaseline, Sample, compute_rates
from netmon.probes.snmp_if.interfaces import Binding, resolve
from netmon.probes.snmp_if.oids import OPER_STATUS
from netmon.probes.snmp_if.sampling import Reading, aligned


class SnmpIfOptions(ProbeOptions):
    interval: PositiveSeconds = 60.0
    # room for an aligned sample: two requests with every try timing out (link snmp.timeout
    # 2 s x 2 tries by default) and align_seconds
    timeout: PositiveSeconds = 15.0
    # Poll for up to this long until the octet counters change, to time the sample at the
    # agent's counter refresh; must cover the agent's refresh period (net-snmp: about 3 s).
    # 0: take the first reading as it is (agents that count live).
    align_seconds: Seconds = 4.0
    align_poll_seconds: PositiveSeconds = 0.05
    max_concurrent_requests: int = Field(default=32, ge=1, le=1024)
    # A counter that went backwards is a wrap only if the implied rate is at most this
    # multiple of the contracted rate (and at most the interface speed).
    wrap_max_contracted_multiple: float = Field(default=4.0, gt=0)


# states kept per task for differing snmp sections (a new plan may point the link elsewhere)
MAX_CONFIGS_PER_TASK = 4


@dataclasses.dataclass
class _TaskState:
    binding: Binding | None = None
    previous: Sample | None = None  # the last usable (aligned) sample


class SnmpIfProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.SNMP_IF
    Options: ClassVar[type[ProbeOptions]] = SnmpIfOptions
    scope: ClassVar[Scope] = "link"
    link_section: ClassVar[str | None] = "snmp"

    def __init__(self, context: ProbeContext) -> None:
        self.context = context
        self._client: SnmpClient | None = None
        # per (task key, snmp section): a changed section starts from nothing
        self._state: dict[tuple[str, str], _TaskState] = {}

    @classmethod
    def check_task(cls, task: ProbeTask) -> list[TaskProblem]:
        return checks.check_task(task)

    def _state_for(self, key: str, cfg: SnmpConfig) -> _TaskState:
        identity = (key, cfg.model_dump_json())
        state = self._state.get(identity)
        if state is None:
            older = [k for k in self._state if k[0] == key]
            for stale in older[: max(0, len(older) - MAX_CONFIGS_PER_TASK + 1)]:
                del self._state[stale]
            state = self._state[identity] = _TaskState()
        return state

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
        state = self._state_for(task.key, cfg)
        deadline = time.monotonic() + options.timeout

        async def sample(binding: Binding) -> Reading:
            return await aligned(client, cfg, binding, options.align_seconds, options.align_poll_seconds, deadline)

        moved = ""
        try:
            if state.binding is None:
                state.binding = await resolve(client, cfg)
            reading: Reading | None
            try:
                reading = await sample(state.binding)
                # a down row may be what net-snmp keeps of a deleted interface while the live
                # one with the same name has a new ifIndex (a pinned ifIndex is what it is)
                stale = reading.sample.oper_status not in (1, None) and cfg.if_index is None
            except MissingInstance:
                reading, stale = None, True
            if stale:
                binding = await resolve(client, cfg)
                if binding.if_index != state.binding.if_index:
                    moved = f"{_label(cfg)} moved from ifIndex {state.binding.if_index} to {binding.if_index}"
                if moved or reading is None:
                    state.binding = binding
                    reading = await sample(binding)
        except SnmpCredentialsUnusable as exc:
            return task.observe(Status.ERROR, reason=str(exc))
        except SnmpFailure as exc:
            if isinstance(exc, UnknownInterface):
                state.binding = None
            return task.observe(Status.FAILED, reason=str(exc))
        binding = state.binding
        assert reading is not None  # a stale row was read again above
        if reading.lost:
            state.binding = None  # the agent stopped answering a column: learn its columns again
        return self._observe(task, options, state, binding, reading, moved)

    def _observe(self, task: ProbeTask, options: SnmpIfOptions, state: _TaskState, binding: Binding,
                 reading: Reading, moved: str) -> Observation:
        assert task.link is not None and task.link.snmp is not None
        sample, contracted = reading.sample, task.link.contracted_bps
        values: dict[str, float] = {}
        info = {"if_index": str(sample.if_index), "aligned": reading.aligned, "found_by": binding.found_by}
        reasons: list[str] = []
        if sample.oper_status is not None:
            values["oper_up"] = 1.0 if sample.oper_status == 1 else 0.0
        if sample.sys_uptime_seconds is not None:
            values["sys_uptime_seconds"] = sample.sys_uptime_seconds
        if sample.if_speed_bps > 0:
            values["if_speed_bps"] = sample.if_speed_bps
        elif contracted:
            values["if_speed_bps"] = contracted
            info["speed_from"] = "the contracted rate (the agent gives neither ifHighSpeed nor ifSpeed)"
        if contracted:
            values["contracted_bps"] = contracted
        missing = sorted(set(binding.missing) | set(reading.lost))
        if missing:
            info["missing"] = ", ".join(missing)
        if moved:
            info["moved"] = moved
        if binding.counters is None:
            state.previous = None
            reasons.append(f"SNMP agent {task.link.snmp.host} has neither ifHCInOctets/ifHCOutOctets nor "
                           f"ifInOctets/ifOutOctets for {binding.found_by}: no utilisation")
        elif not reading.usable:
            # not kept: the next window starts at the last aligned sample instead
            reasons.append(f"sample not aligned with the agent's counter refresh ({reading.aligned[4:]}): "
                           "no rate from it")
        else:
            info["counters"] = f"{'/'.join(sample.counter_names)} ({sample.counter_bits}-bit)"
            previous, state.previous = state.previous, sample
            rates: Rates | Rebaseline
            if previous is None:
                rates = Rebaseline("first sample of this task, rates from the next one")
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
                if rates.notes:
                    info["notes"] = "; ".join(rates.notes)
        if sample.oper_status not in (1, None):
            name = OPER_STATUS.get(sample.oper_status, str(sample.oper_status))
            reasons.insert(0, f"interface {_label(task.link.snmp)} is {name} (ifOperStatus {sample.oper_status})")
        status = Status.DEGRADED if reasons else Status.OK
        return task.observe(status, values=values, reason="; ".join(reasons) or None, info=info,
                            time_ns=sample.wall_ns)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _label(cfg: SnmpConfig) -> str:
    """The interface as the config names it: ``Gi0/1``, ``'VNPT-HNI-0042'``, ``ifIndex 3``."""
    return cfg.if_name or (repr(cfg.if_alias) if cfg.if_alias else f"ifIndex {cfg.if_index}")


def _rate_values(rates: Rates, capacity_bps: float) -> dict[str, float]:
    values = {"in_bps": rates.in_bps, "out_bps": rates.out_bps, "window_seconds": rates.window_seconds}
    for name in ("in_errors_per_second", "out_errors_per_second", "in_discards_per_second",
                 "out_discards_per_second"):
        value = getattr(rates, name)
        if value is not None:
            values[name] = value
    if capacity_bps > 0:
        values["in_utilisation_ratio"] = rates.in_bps / capacity_bps
        values["out_utilisation_ratio"] = rates.out_bps / capacity_bps
        values["utilisation_ratio"] = max(values["in_utilisation_ratio"], values["out_utilisation_ratio"])
    return values
