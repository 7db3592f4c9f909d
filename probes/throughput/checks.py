"""The two iperf3 runs of a throughput task, and what ``netmon config check`` says about it.

Refused: a link without a contracted rate (it paces the test and so bounds its bytes), and
a timeout that cannot hold the load reading before the test, both directions and the SNMP
sample after it, each at its worst (every SNMP try timing out, iperf3 cut at its limit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netmon.probes.base import ProbeTask, TaskProblem
from netmon.probes.throughput.iperf3 import FINISH_SECONDS, IperfRun

if TYPE_CHECKING:
    from netmon.probes.throughput.probe import ThroughputOptions


def runs(task: ProbeTask, options: ThroughputOptions) -> dict[str, IperfRun]:
    assert task.link is not None and task.link.throughput is not None
    cfg, contracted = task.link.throughput, task.link.contracted_bps
    cap = contracted * options.rate_cap_contracted_multiple if contracted else None
    return {direction: IperfRun(
        server=cfg.server, port=cfg.port, duration_seconds=cfg.duration, omit_seconds=options.omit_seconds,
        reverse=reverse, congestion=options.congestion, connect_timeout_seconds=options.connect_timeout,
        source_address=task.link.source_address, streams=options.streams, binary=options.iperf3, rate_cap_bps=cap)
        for direction, reverse in (("upload", False), ("download", True))}


def snmp_seconds(task: ProbeTask, options: ThroughputOptions) -> float:
    """The longest the load reading before and the sample after a test can take (0 without snmp)."""
    assert task.link is not None
    if task.link.snmp is None:
        return 0.0
    one_sample = 2 * task.link.snmp.request_seconds + options.load_align_seconds
    return 3 * one_sample + options.load_reading_seconds


def check_task(task: ProbeTask) -> list[TaskProblem]:
    from netmon.probes.throughput.probe import ThroughputOptions

    options = task.options_as(ThroughputOptions)
    if task.link is None or task.link.throughput is None:
        return []
    if not task.link.contracted_bps:
        return [TaskProblem("link", "throughput", "a throughput test needs the link's contracted_mbps: the test "
                                                  "is paced to a multiple of it, which bounds its bytes")]
    directions = runs(task, options)
    test = sum(run.limit_seconds for run in directions.values())
    snmp = snmp_seconds(task, options)
    if test + snmp > options.timeout:
        run = directions["upload"]
        return [TaskProblem("options", "timeout", (
            f"{options.timeout:g} s cannot hold a test of link {task.link.name!r}: two directions of connect "
            f"{run.connect_timeout_seconds:g} + omit {run.omit_seconds} + duration {run.duration_seconds:g} + "
            f"{FINISH_SECONDS:g} s" + (f", and {snmp:g} s of SNMP load readings before and after" if snmp else "")
            + f" need {test + snmp:g} s"))]
    return []
