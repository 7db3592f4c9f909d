"""Helpers for probe tests on the lab topology: build tasks, run probes in the site namespace,
and take reference measurements with iputils ``ping`` on the same path."""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from netmon.config.site import LinkConfig, SiteIdentity
from netmon.contract import LinkKind, Observation
from netmon.lab.iperf import start_iperf3
from netmon.lab.netns import Namespace, call_in_namespace
from netmon.lab.topology import SiteTopology
from netmon.probes.base import Probe, ProbeContext, ProbeOptions, ProbeTask
from netmon.probes.runner import run_task

SITE = SiteIdentity(id="26734", name="Phường Phước Tân", province="Đồng Nai")
LEASED = LinkConfig(name="leased", kind=LinkKind.LEASED_LINE, contracted_mbps=20)


def make_task(probe: type[Probe], host: str, options: ProbeOptions, *, target: str = "centre",
              port: int | None = None, link: LinkConfig = LEASED) -> ProbeTask:
    return ProbeTask(kind=probe.kind, key=f"{probe.kind.value}/{link.name}/{target}", target=target, host=host,
                     options=options, site=SITE, link=link, port=port)


def measure(ns: Namespace, probe: type[Probe], tasks: Sequence[ProbeTask], state_dir: Path = Path("/nonexistent")
            ) -> list[Observation]:
    """Run ``tasks`` at the same time with one probe instance, inside ``ns``, through the runner."""

    async def run_all() -> list[Observation]:
        instance = probe(ProbeContext(state_dir=state_dir))
        try:
            return list(await asyncio.gather(*(run_task(instance, task) for task in tasks)))
        finally:
            await instance.aclose()

    return call_in_namespace(ns, lambda: asyncio.run(run_all()))


def measure_one(ns: Namespace, probe: type[Probe], task: ProbeTask) -> Observation:
    return measure(ns, probe, [task])[0]


_PING_TIME = re.compile(r"time=([\d.]+) ms")


def ping_rtts_seconds(ns: Namespace, host: str, count: int, interval_seconds: float, size: int = 56) -> list[float]:
    """RTTs iputils ``ping`` reports on the path from ``ns`` (lost requests have none)."""
    out = ns.run("ping", "-n", "-c", str(count), "-i", f"{interval_seconds:g}",
                 "-s", str(size), "-W", "2", host, check=False, timeout=count * interval_seconds + 10).stdout
    return [float(x) / 1000 for x in _PING_TIME.findall(out)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.4f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def udp_overload(topo: SiteTopology, seconds: float = 12, rate: str = "30M") -> Iterator[None]:
    """iperf3 UDP from the site to the centre at 1.5x the 20 Mbit/s leased line, through the
    router, so the router's tbf queue (latency 50 ms) stays full — a saturated leased line."""
    centre_ip = topo.leased.centre_ip
    start_iperf3(topo.centre, centre_ip, 5201)
    client = topo.site.start(["iperf3", "-c", centre_ip, "-p", "5201", "-u", "-b", rate, "-l", "1200",
                              "-t", f"{seconds:g}"], name="iperf3-overload")
    time.sleep(1.5)  # the queue fills within a few hundred ms; leave iperf3 time to start
    yield
    assert client.alive(), f"the overload ended before the measurements did:\n{client.log()[-1000:]}"
    client.stop()
