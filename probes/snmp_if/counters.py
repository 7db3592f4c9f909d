"""Rates from two IF-MIB samples, with counter wrap and agent restarts handled.

Pure arithmetic on ``Sample`` objects, so the rules can be checked with any counter
values (a real 64-bit wrap takes centuries at 10 Gbit/s and cannot be produced on a test
bed; the tests feed values near 2**64 here and through a real snmpd ``pass`` script, and
32-bit wraps through snmpsim counters that grow at a known rate).

The rules, in order:

1. ``sysUpTime`` did not advance with the local clock (it went back, or is less than the
   previous uptime plus the window): the agent restarted in between (or its 32-bit uptime
   wrapped after 497 days) and every counter may have restarted with it: re-baseline.
   An agent whose sysUpTime never moves (some do) or that has none loses this check only.
2. ``ifCounterDiscontinuityTime`` changed, or the interface moved to another ifIndex:
   the counters are not comparable: re-baseline.
3. The octet counters are as wide as the agent says (a Counter64 or Counter32 value,
   whatever column it came from). One that decreased without either of the above is a wrap
   only if the rate that implies is possible (not above the interface speed, nor above
   ``wrap_max_contracted_multiple`` times the contracted rate); otherwise the counter was
   reset behind our back: re-baseline. A rate above the interface speed is refused the
   same way. Never a negative or absurd rate.
4. A 32-bit octet counter that could have wrapped more than once in the window (one more
   wrap's worth of octets would still be within the contracted rate, or the interface
   speed when there is no contract) gives no rate: the number of wraps is unknown.
5. 32-bit error and discard counters wrap modulo 2**32 (they do, at ~4 billion).
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
# ifSpeed's largest value means "too fast for this column: see ifHighSpeed"
IF_SPEED_MAX = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class Sample:
    """One reading of an interface's counters, and when the agent took it (None: the agent lacks it)."""

    if_index: int
    monotonic_seconds: float  # local monotonic clock at the request's midpoint
    wall_ns: int
    sys_uptime_ticks: int | None  # hundredths of a second
    discontinuity_ticks: int | None
    in_octets: int | None
    out_octets: int | None
    in_errors: int | None = 0
    out_errors: int | None = 0
    in_discards: int | None = 0
    out_discards: int | None = 0
    high_speed_mbps: int = 0  # ifHighSpeed, 0 when absent
    speed_bps: int = 0  # ifSpeed, 0 when absent
    oper_status: int | None = 1
    counter_bits: int = 64
    counter_names: tuple[str, str] = ("ifHCInOctets", "ifHCOutOctets")

    @property
    def if_speed_bps(self) -> float:
        """ifHighSpeed, else ifSpeed, else 0 (unknown)."""
        if self.high_speed_mbps > 0:
            return self.high_speed_mbps * 1e6
        if 0 < self.speed_bps < IF_SPEED_MAX:
            return float(self.speed_bps)
        return 0.0

    @property
    def sys_uptime_seconds(self) -> float | None:
        return None if self.sys_uptime_ticks is None else self.sys_uptime_ticks / 100.0


@dataclasses.dataclass(frozen=True)
class Rates:
    window_seconds: float
    in_bps: float
    out_bps: float
    in_errors_per_second: float | None
    out_errors_per_second: float | None
    in_discards_per_second: float | None
    out_discards_per_second: float | None
    wrapped: tuple[str, ...] = ()  # counters that wrapped in this window
    notes: tuple[str, ...] = ()  # checks this agent did not allow


@dataclasses.dataclass(frozen=True)
class Rebaseline:
    """The two samples cannot give a rate; ``reason`` says why. Start again from the newer one."""

    reason: str


def _restart(prev: Sample, cur: Sample, window: float, notes: list[str]) -> Rebaseline | None:
    before, after = prev.sys_uptime_seconds, cur.sys_uptime_seconds
    if before is None or after is None:
        notes.append("no sysUpTime: agent restarts are seen only as counters going back")
        return None
    if before == after and window > 2 * UPTIME_SLACK_SECONDS:
        notes.append(f"sysUpTime does not advance (stays {after:.2f} s): agent restarts are seen only as "
                     "counters going back")
        return None
    # sysUpTime must have advanced with our clock; less means a restart in between, even
    # one long enough ago that the new uptime is already past the old one
    expected = before + window
    if after + max(UPTIME_SLACK_SECONDS, 0.01 * window) < expected:
        return Rebaseline(f"agent restarted (sysUpTime {after:.1f} s, {expected:.1f} s expected after {before:.1f} s)")
    return None


def compute_rates(prev: Sample, cur: Sample, contracted_bps: float | None,
                  wrap_max_contracted_multiple: float = 4.0) -> Rates | Rebaseline:
    window = cur.monotonic_seconds - prev.monotonic_seconds
    if window <= 0:
        return Rebaseline("no time passed between the two samples")
    notes: list[str] = []
    restarted = _restart(prev, cur, window, notes)
    if restarted is not None:
        return restarted
    if cur.if_index != prev.if_index:
        return Rebaseline(f"interface moved from ifIndex {prev.if_index} to {cur.if_index}")
    if cur.discontinuity_ticks != prev.discontinuity_ticks:
        return Rebaseline("ifCounterDiscontinuityTime changed: the agent reset this interface's counters")
    if (cur.counter_bits, cur.counter_names) != (prev.counter_bits, prev.counter_names):
        return Rebaseline(f"the agent now gives {'/'.join(cur.counter_names)} ({cur.counter_bits}-bit) instead of "
                          f"{'/'.join(prev.counter_names)} ({prev.counter_bits}-bit)")

    modulus = COUNTER64_MODULUS if cur.counter_bits == 64 else COUNTER32_MODULUS
    speed_limit = [("the interface speed", cur.if_speed_bps * SPEED_SLACK)] if cur.if_speed_bps > 0 else []
    contract_limit = [(f"{wrap_max_contracted_multiple:g}x the contracted rate",
                       contracted_bps * wrap_max_contracted_multiple)] if contracted_bps else []
    limits = speed_limit + contract_limit
    # the fastest the line can really go, for "could a 32-bit counter have wrapped twice?"
    wrap_limit = (("the contracted rate", contracted_bps) if contracted_bps
                  else speed_limit[0] if speed_limit else None)
    octet_rates: list[float] = []
    wrapped: list[str] = []
    for name, before, after in ((cur.counter_names[0], prev.in_octets, cur.in_octets),
                                (cur.counter_names[1], prev.out_octets, cur.out_octets)):
        if before is None or after is None:
            return Rebaseline(f"{name} missing from one of the two samples")
        is_wrap = after < before
        delta = (after - before) % modulus
        rate = delta * 8 / window
        if is_wrap and not limits:
            return Rebaseline(f"{name} went backwards ({before} -> {after}) without an agent restart, and "
                              "no speed is known to tell a wrap from a reset")
        # a wrap must be a possible rate; any rate must fit the port
        for what, limit in limits if is_wrap else speed_limit:
            if rate > limit:
                if is_wrap:
                    return Rebaseline(f"{name} went backwards ({before} -> {after}) without an agent restart; "
                                      f"as a wrap it would mean {rate / 1e6:.1f} Mbit/s, above {what}: "
                                      "treated as a counter reset")
                return Rebaseline(f"{name} grew by {delta} octets in {window:.1f} s ({rate / 1e6:.1f} Mbit/s), "
                                  f"above {what}: not a real rate")
        if modulus == COUNTER32_MODULUS and wrap_limit is not None:
            what, limit = wrap_limit
            if (delta + modulus) * 8 / window <= limit:
                return Rebaseline(f"{name} is a 32-bit counter: in {window:.1f} s it can wrap more than once at "
                                  f"{limit / 1e6:g} Mbit/s ({what}), so the rate is unknown; poll at most "
                                  f"every {wrap_seconds(limit):.0f} s")
        if is_wrap:
            wrapped.append(name)
        octet_rates.append(rate)

    def per_second(before: int | None, after: int | None) -> float | None:
        if before is None or after is None:
            return None
        return ((after - before) % COUNTER32_MODULUS) / window

    return Rates(
        window_seconds=window,
        in_bps=octet_rates[0],
        out_bps=octet_rates[1],
        in_errors_per_second=per_second(prev.in_errors, cur.in_errors),
        out_errors_per_second=per_second(prev.out_errors, cur.out_errors),
        in_discards_per_second=per_second(prev.in_discards, cur.in_discards),
        out_discards_per_second=per_second(prev.out_discards, cur.out_discards),
        wrapped=tuple(wrapped),
        notes=tuple(notes),
    )


def wrap_seconds(rate_bps: float) -> float:
    """How long a 32-bit octet counter takes to wrap at ``rate_bps``: 34 s at 1 Gbit/s."""
    return COUNTER32_MODULUS * 8 / rate_bps
