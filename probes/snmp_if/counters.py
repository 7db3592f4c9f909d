"""Rates from two IF-MIB samples, with counter wrap and agent restarts handled.

Pure arithmetic on ``Sample`` objects, so the rules can be checked with any counter
values (a real 64-bit wrap takes centuries at 10 Gbit/s and cannot be produced on a test
bed; the tests feed values near 2**64 here and through a real snmpd ``pass`` script).

The rules, in order:

1. ``sysUpTime`` did not advance with the local clock (it went back, or is less than the
   previous uptime plus the window): the agent restarted in between (or its 32-bit uptime
   wrapped after 497 days) and every counter may have restarted with it: re-baseline.
2. ``ifCounterDiscontinuityTime`` changed, or the interface moved to another ifIndex:
   the counters are not comparable: re-baseline.
3. A 64-bit octet counter decreased without either of the above: take it as a wrap only if
   the rate that implies is possible (not above the interface speed, nor above
   ``wrap_max_contracted_multiple`` times the contracted rate); otherwise the counter was
   reset behind our back: re-baseline. A rate above the interface speed is refused the
   same way. Never a negative or absurd rate.
4. 32-bit error and discard counters wrap modulo 2**32 (they do, at ~4 billion).
"""

from __future__ import annotations

import dataclasses

COUNTER64_MODULUS = 2**64
COUNTER32_MODULUS = 2**32
# Timing jitter of the two request midpoints can make a saturated port read a little above
# its speed; more than this is not a measurement.
SPEED_SLACK = 1.05
# sysUpTime has 10 ms ticks and our two clock readings their own jitter
UPTIME_SLACK_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class Sample:
    """One reading of an interface's counters, and when the agent took it."""

    if_index: int
    monotonic_seconds: float  # local monotonic clock at the request's midpoint
    wall_ns: int
    sys_uptime_ticks: int  # hundredths of a second
    discontinuity_ticks: int
    in_octets: int
    out_octets: int
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0
    high_speed_mbps: int = 0
    oper_status: int = 1

    @property
    def if_speed_bps(self) -> float:
        return self.high_speed_mbps * 1e6

    @property
    def sys_uptime_seconds(self) -> float:
        return self.sys_uptime_ticks / 100.0


@dataclasses.dataclass(frozen=True)
class Rates:
    window_seconds: float
    in_bps: float
    out_bps: float
    in_errors_per_second: float
    out_errors_per_second: float
    in_discards_per_second: float
    out_discards_per_second: float
    wrapped: tuple[str, ...] = ()  # counters that wrapped in this window


@dataclasses.dataclass(frozen=True)
class Rebaseline:
    """The two samples cannot give a rate; ``reason`` says why. Start again from the newer one."""

    reason: str


def compute_rates(prev: Sample, cur: Sample, contracted_bps: float | None,
                  wrap_max_contracted_multiple: float = 4.0) -> Rates | Rebaseline:
    window = cur.monotonic_seconds - prev.monotonic_seconds
    if window <= 0:
        return Rebaseline("no time passed between the two samples")
    # sysUpTime must have advanced with our clock; less means a restart in between, even
    # one long enough ago that the new uptime is already past the old one
    expected_uptime = prev.sys_uptime_seconds + window
    if cur.sys_uptime_seconds + max(UPTIME_SLACK_SECONDS, 0.01 * window) < expected_uptime:
        return Rebaseline(f"agent restarted (sysUpTime {cur.sys_uptime_seconds:.1f} s, "
                          f"{expected_uptime:.1f} s expected after {prev.sys_uptime_seconds:.1f} s)")
    if cur.if_index != prev.if_index:
        return Rebaseline(f"interface moved from ifIndex {prev.if_index} to {cur.if_index}")
    if cur.discontinuity_ticks != prev.discontinuity_ticks:
        return Rebaseline("ifCounterDiscontinuityTime changed: the agent reset this interface's counters")

    octet_rates: dict[str, float] = {}
    wrapped: list[str] = []
    for name, before, after in (("ifHCInOctets", prev.in_octets, cur.in_octets),
                                ("ifHCOutOctets", prev.out_octets, cur.out_octets)):
        is_wrap = after < before
        delta = (after - before) % COUNTER64_MODULUS
        rate = delta * 8 / window
        limits = []
        if cur.if_speed_bps > 0:
            limits.append(("the interface speed", cur.if_speed_bps * SPEED_SLACK))
        if is_wrap and contracted_bps:
            limits.append((f"{wrap_max_contracted_multiple:g}x the contracted rate",
                           contracted_bps * wrap_max_contracted_multiple))
        if is_wrap and not limits:
            return Rebaseline(f"{name} went backwards ({before} -> {after}) without an agent restart, and "
                              "no speed is known to tell a wrap from a reset")
        for what, limit in limits:
            if rate > limit:
                if is_wrap:
                    return Rebaseline(f"{name} went backwards ({before} -> {after}) without an agent restart; "
                                      f"as a wrap it would mean {rate / 1e6:.1f} Mbit/s, above {what}: "
                                      "treated as a counter reset")
                return Rebaseline(f"{name} grew by {delta} octets in {window:.1f} s ({rate / 1e6:.1f} Mbit/s), "
                                  f"above {what}: not a real rate")
        if is_wrap:
            wrapped.append(name)
        octet_rates[name] = rate

    def per_second(before: int, after: int) -> float:
        return ((after - before) % COUNTER32_MODULUS) / window

    return Rates(
        window_seconds=window,
        in_bps=octet_rates["ifHCInOctets"],
        out_bps=octet_rates["ifHCOutOctets"],
        in_errors_per_second=per_second(prev.in_errors, cur.in_errors),
        out_errors_per_second=per_second(prev.out_errors, cur.out_errors),
        in_discards_per_second=per_second(prev.in_discards, cur.in_discards),
        out_discards_per_second=per_second(prev.out_discards, cur.out_discards),
        wrapped=tuple(wrapped),
    )
