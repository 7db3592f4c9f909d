"""Benchmark: the agent's ICMP probe vs iputils ping on the same lab path, side by side in one run.

    sudo .venv/bin/python bench/icmp_vs_ping.py [--runs 5] [--count 200] [--spacing 0.01]

Builds its own lab namespaces (site -> router -> centre, netmon.lab.topology) and removes
them at the end. For each run it alternates one ping run and one probe cycle of ``count``
packets on the same path, and prints per run: median RTT of each and their difference,
and CPU time per packet — the probe's from its own thread (RUSAGE_THREAD around the
cycle, as in the agent where the loop is already running), ping's from its process
(RUSAGE_CHILDREN). Targets: |median difference| <= 0.05 ms, probe CPU <= 0.5 ms per packet.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.config.site import SiteIdentity
from netmon.contract import ProbeKind
from netmon.lab.netns import Lab, Namespace, call_in_namespace
from netmon.lab.topology import build_site
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.icmp import IcmpOptions, IcmpProbe

SITE = SiteIdentity(id="bench", name="bench", province="bench")
_PING_TIME = re.compile(r"time=([\d.]+) ms")


def probe_run(ns: Namespace, host: str, count: int, spacing: float) -> tuple[float, float, int]:
    """(median RTT s, CPU s, packets) of one probe cycle inside ``ns``."""
    options = IcmpOptions(count=count, spacing=spacing, timeout=count * spacing + 3, reply_timeout=1)
    task = ProbeTask(kind=ProbeKind.ICMP, key="icmp/bench", target="bench", host=host, options=options, site=SITE)

    async def cycle() -> tuple[float, float, int]:
        probe = IcmpProbe(ProbeContext(state_dir=Path("/nonexistent")))
        await asyncio.sleep(0)  # the loop is running, as in the agent
        before = resource.getrusage(resource.RUSAGE_THREAD)
        observation = await probe.measure(task)
        after = resource.getrusage(resource.RUSAGE_THREAD)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if observation.values.get("received_packets") != count:
            raise RuntimeError(f"probe lost packets on an idle path: {observation}")
        return observation.values["rtt_median_seconds"], cpu, count

    return call_in_namespace(ns, lambda: asyncio.run(cycle()))


def ping_run(ns: Namespace, host: str, count: int, spacing: float) -> tuple[float, float, int]:
    """(median RTT s, CPU s, packets) of one ``ping -c count`` process inside ``ns``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(ns.argv(["ping", "-n", "-c", str(count), "-i", f"{spacing:g}", host]),
                         capture_output=True, text=True, timeout=count * spacing + 30, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rtts = [float(x) / 1000 for x in _PING_TIME.findall(out)]
    if len(rtts) != count:
        raise RuntimeError(f"ping lost packets on an idle path:\n{out[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return statistics.median(rtts), cpu, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--spacing", type=float, default=0.01)
    args = parser.parse_args()

    ok = True
    with Lab() as lab:
        topo = build_site(lab)
        for label, host in (("IPv4", topo.leased.centre_ip), ("IPv6", topo.leased.centre_ip6)):
            print(f"\nICMP probe vs iputils ping, {label}: site -> router -> centre {host} (idle veth path), "
                  f"{args.runs} runs x {args.count} packets {args.spacing * 1000:g} ms apart")
            print(f"{'run':>4} {'probe median':>13} {'ping median':>12} {'diff':>9} "
                  f"{'probe CPU/pkt':>14} {'ping CPU/pkt':>13}")
            rows = []
            for run in range(1, args.runs + 1):
                ping = ping_run(topo.site, host, args.count, args.spacing)
                probe = probe_run(topo.site, host, args.count, args.spacing)
                rows.append((probe, ping))
                diff_ms = (probe[0] - ping[0]) * 1e3
                print(f"{run:>4} {probe[0] * 1e3:>10.4f} ms {ping[0] * 1e3:>9.4f} ms {diff_ms:>+9.4f} "
                      f"{probe[1] / probe[2] * 1e3:>11.3f} ms {ping[1] / ping[2] * 1e3:>10.3f} ms")
            probe_median = statistics.median(p[0] for p, _ in rows)
            ping_median = statistics.median(q[0] for _, q in rows)
            probe_cpu = sum(p[1] for p, _ in rows) / sum(p[2] for p, _ in rows)
            ping_cpu = sum(q[1] for _, q in rows) / sum(q[2] for _, q in rows)
            diff = probe_median - ping_median
            print(f"{'all':>4} {probe_median * 1e3:>10.4f} ms {ping_median * 1e3:>9.4f} ms {diff * 1e3:>+9.4f} "
                  f"{probe_cpu * 1e3:>11.3f} ms {ping_cpu * 1e3:>10.3f} ms")
            passed = abs(diff) <= 0.05e-3 and probe_cpu <= 0.5e-3
            ok = ok and passed
            print(f"targets |diff| <= 0.05 ms, probe CPU <= 0.5 ms/packet: {'met' if passed else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
