"""What ``netmon config check`` (and every plan the agent loads) says about an snmp_if task.

- Refused: a timeout that cannot hold the alignment wait. A sample is the first request,
  up to ``align_seconds`` of polling for a counter change, and a last request; each
  request may take the link's ``snmp.timeout`` for every try. Less than that and the wait
  would be cut on every sample, which is how a saturated line once read 0.54 and 1.71.
- Warned: an interval too long for 32-bit octet counters at the contracted rate (they
  wrap every 2^32 x 8 / rate seconds: 34 s at 1 Gbit/s). Whether the router has 64-bit
  counters is known only when it is asked; without them such a link gets no rates.
- Warned: a timeout longer than the interval (runs overlap: every other one is skipped).
"""

from __future__ import annotations

from netmon.probes.base import ProbeTask, TaskProblem
from netmon.probes.snmp_if.counters import wrap_seconds

WINDOW_MARGIN = 0.8


def check_task(task: ProbeTask) -> list[TaskProblem]:
    from netmon.probes.snmp_if.probe import SnmpIfOptions

    options = task.options_as(SnmpIfOptions)
    if task.link is None or task.link.snmp is None:
        return []
    cfg, name = task.link.snmp, task.link.name
    problems = []
    request = cfg.request_seconds
    needed = 2 * request + options.align_seconds
    if options.align_seconds > 0 and options.timeout < needed:
        problems.append(TaskProblem("options", "timeout", (
            f"{options.timeout:g} s cannot hold an aligned sample of link {name!r}: a first SNMP request "
            f"(up to {request:g} s: snmp.timeout {cfg.timeout:g} s x {cfg.retries + 1} tries), align_seconds "
            f"{options.align_seconds:g} s of waiting for the counters to move, and a last request (up to "
            f"{request:g} s) need {needed:g} s; raise timeout to {needed:g} s or lower align_seconds or the "
            "link's snmp.timeout/retries")))
    if options.timeout > options.interval:
        problems.append(TaskProblem("options", "timeout", (
            f"{options.timeout:g} s is longer than the interval ({options.interval:g} s): a slow run makes "
            "the next one be skipped"), fatal=False))
    contracted = task.link.contracted_bps
    # windows run a little longer than the interval (jitter, the alignment wait)
    if contracted and options.interval > WINDOW_MARGIN * wrap_seconds(contracted):
        every = wrap_seconds(contracted)
        problems.append(TaskProblem("options", "interval", (
            f"{options.interval:g} s is too long for 32-bit octet counters on link {name!r}: at its contracted "
            f"{contracted / 1e6:g} Mbit/s they wrap every {every:.0f} s; if its router has no 64-bit counters "
            f"(ifHCInOctets) the link gets no rates. Poll at most every {WINDOW_MARGIN * every:.0f} s"),
            fatal=False))
    return problems
