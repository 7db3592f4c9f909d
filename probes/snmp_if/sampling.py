"""One sample of a bound interface, timed at the agent's counter refresh.

Many agents refresh interface counters only every few seconds (net-snmp about every 3 s,
some routers every 5-10 s), so a counter read at time t may be that long old. A sample is
therefore taken by polling until an octet counter changes and using that moment as its
time. The verdict says how the sample was timed:

- ``yes``: a counter changed while we polled: the sample is timed at the refresh.
- ``idle``: nothing changed for the whole ``align_seconds`` (which must cover the agent's
  refresh period): no traffic, the value is current.
- ``off``: ``align_seconds`` is 0 (agents that count live).
- ``no: ...``: the wait was cut short (the task's time ran out): the sample may be up to a
  refresh period old. It gives no rate, and is not kept as the start of the next window.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from netmon.config.site import SnmpConfig
from netmon.errors import MissingInstance
from netmon.probes.snmp_if.client import SnmpClient
from netmon.probes.snmp_if.counters import Sample
from netmon.probes.snmp_if.interfaces import Binding, text
from netmon.probes.snmp_if.oids import SYS_UPTIME


@dataclasses.dataclass(frozen=True)
class Reading:
    sample: Sample
    lost: tuple[str, ...] = ()  # columns the binding expected that this answer lacked
    aligned: str = "off"

    @property
    def usable(self) -> bool:
        """A sample rates may be computed from."""
        return not self.aligned.startswith("no")


def _int(got: dict[str, Any], oid: str) -> int | None:
    value = got.get(oid)
    return None if value is None else int(value)


async def read(client: SnmpClient, cfg: SnmpConfig, binding: Binding) -> Reading:
    index = binding.if_index
    oids = [SYS_UPTIME] + [column.at(index) for column in binding.columns]
    wall_before, before = time.time_ns(), time.monotonic()
    got = await client.get(cfg, oids, missing_ok=True)
    wall_after, after = time.time_ns(), time.monotonic()
    if binding.identity is not None:
        now = got.get(binding.identity.at(index))
        if now is None or text(now) != binding.identity_value:
            # the index now belongs to another interface, or to none: same as it being gone
            raise MissingInstance(f"ifIndex {index} is no longer {binding.identity.mib_name} "
                                  f"{binding.identity_value!r}")
    fields = {column.name: _int(got, column.at(index))
              for column in binding.columns if column is not binding.identity}
    if all(value is None for value in fields.values()):
        raise MissingInstance(f"ifIndex {index} no longer answers")
    bits, names = 64, ("", "")
    in_octets = out_octets = None
    if binding.counters is not None:
        incoming, outgoing = binding.counters
        in_octets, out_octets = fields.pop(incoming.name), fields.pop(outgoing.name)
        names = (incoming.mib_name, outgoing.mib_name)
        # as wide as the values are, whatever the column: some agents serve a Counter32 in
        # ifHCInOctets, others a Counter64 in ifInOctets
        raw = (got.get(incoming.at(index)), got.get(outgoing.at(index)))
        # imported here: `netmon config check` loads every probe kind, and needs no pysnmp
        from pysnmp.proto.rfc1902 import Counter64

        bits = 64 if all(isinstance(value, Counter64) for value in raw) else 32
    sample = Sample(
        if_index=index, monotonic_seconds=(before + after) / 2, wall_ns=(wall_before + wall_after) // 2,
        sys_uptime_ticks=_int(got, SYS_UPTIME), discontinuity_ticks=fields.get("discontinuity_ticks"),
        in_octets=in_octets, out_octets=out_octets,
        in_errors=fields.get("in_errors"), out_errors=fields.get("out_errors"),
        in_discards=fields.get("in_discards"), out_discards=fields.get("out_discards"),
        high_speed_mbps=fields.get("high_speed_mbps") or 0, speed_bps=fields.get("speed_bps") or 0,
        oper_status=fields.get("oper_status"), counter_bits=bits, counter_names=names,
    )
    lost = tuple(column.mib_name for column in binding.columns if column.at(index) not in got)
    return Reading(sample, lost)


async def aligned(client: SnmpClient, cfg: SnmpConfig, binding: Binding, align_seconds: float,
                  poll_seconds: float, deadline: float) -> Reading:
    """A reading timed at a counter refresh, with its verdict (see the module's doc)."""
    first = await read(client, cfg, binding)
    if align_seconds <= 0 or binding.counters is None:
        return first
    start = first.sample
    wanted_end = start.monotonic_seconds + align_seconds
    # the last poll must be able to finish (every try timing out) before the task's deadline
    stop_at = min(wanted_end, deadline - cfg.request_seconds)
    latest = first
    while time.monotonic() + poll_seconds < stop_at:
        await asyncio.sleep(poll_seconds)
        latest = await read(client, cfg, binding)
        now = latest.sample
        if (now.in_octets, now.out_octets) != (start.in_octets, start.out_octets) \
                or (now.sys_uptime_ticks or 0) < (start.sys_uptime_ticks or 0):
            return dataclasses.replace(latest, aligned="yes")
    waited = latest.sample.monotonic_seconds - start.monotonic_seconds
    if stop_at < wanted_end:
        return dataclasses.replace(latest, aligned=(
            f"no: counters did not move in {waited:.1f} s and the task's time left no room to wait the "
            f"{align_seconds:g} s of align_seconds"))
    return dataclasses.replace(latest, aligned="idle")
