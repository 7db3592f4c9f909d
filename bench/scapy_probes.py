"""Cost of the scapy-based probes (lan, path), each beside a reference measured in the same run.

- import: the agent's lazy path (only the scapy layers a probe needs, loaded on its first run)
  vs ``import scapy.all``, in fresh interpreters (time of the import, peak RSS after it);
- lan: one ARP sweep of a /24 office LAN (real bridge, one namespace per PC) vs Debian's
  ``arp-scan`` over the same LAN at the same packet rate;
- path: one traceroute + path-MTU measurement vs iputils ``tracepath`` (hops and PMTU), with a
  narrowed link (frag-needed answered) and with a router that sends no ICMP (bisection).

Wall time and CPU time (this process, all threads) per measurement; medians over ``--runs``.
Run as root from the repository root:  ``.venv/bin/python bench/scapy_probes.py --runs 5``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.config.site import SiteConfig
from netmon.contract import Observation
from netmon.lab.netns import Lab, Namespace, call_in_namespace
from netmon.lab.office import build_office
from netmon.lab.topology import build_site
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.kinds import default_kinds
from netmon.probes.plan import build_tasks
from netmon.probes.scapy_loader import MODULES

REPO = Path(__file__).resolve().parents[1]
SITE: dict[str, Any] = {"site": {"id": "26734", "name": "bench", "province": "bench"}}
# Each row: a fresh interpreter that has started the agent's side (probe kinds built, config
# models loaded), then times one import statement: what the agent pays at a probe's first run.
IMPORTS = {
    "nothing more (agent started, no scapy)": "pass",
    "lan + path: load_scapy() (the probes' way)": "import probes.scapy_loader as s; s.load_scapy()",
    "the same modules, OpenSSL not kept out": "; ".join(f"import {m}" for m in MODULES),
    "reference: import scapy.all": "import scapy.all",
}
IMPORT_SCRIPT = """
import json, re, time
from pathlib import Path
import netmon.probes.kinds
netmon.probes.kinds.default_kinds()
def rss_mb(field):  # of this process image only (ru_maxrss would include the parent's, kept over exec)
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
before = rss_mb("VmRSS")
start = time.perf_counter()
{statement}
print(json.dumps({{"ms": (time.perf_counter() - start) * 1000, "before": before, "after": rss_mb("VmRSS")}}))
"""


def import_costs(runs: int) -> None:
    print(f"## import cost at a probe's first run (fresh interpreter each, median of {runs})")
    print(f"| {'what':<42} | import ms | RSS before MB | RSS after MB | added MB |")
    print(f"|{'-' * 44}|-----------|---------------|--------------|----------|")
    for label, statement in IMPORTS.items():
        samples = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT.format(statement=statement)], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout
            samples.append(json.loads(out))
        ms, before, after = (statistics.median(s[k] for s in samples) for k in ("ms", "before", "after"))
        print(f"| {label:<42} | {ms:9.0f} | {before:13.1f} | {after:12.1f} | {after - before:8.1f} |")
    print()


def task(fragment: dict[str, Any], kind: str) -> ProbeTask:
    config = SiteConfig.model_validate({**SITE, **fragment})
    return next(t for t in build_tasks(config, default_kinds()) if t.kind.value == kind)


def timed(ns: Namespace, state_dir: Path, the_task: ProbeTask) -> tuple[Observation, float, float]:
    probe_class = default_kinds().get(the_task.kind.value)

    def once() -> tuple[Observation, float, float]:
        probe = probe_class(ProbeContext(state_dir=state_dir))
        wall, cpu = time.perf_counter(), time.process_time()
        result = asyncio.run(probe.measure(the_task))
        return result, time.perf_counter() - wall, time.process_time() - cpu

    return call_in_namespace(ns, once)


def reference(ns: Namespace, argv: list[str]) -> tuple[str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    out = ns.run(*argv).stdout
    elapsed = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, elapsed, cpu


def series(runs: int, fn: Callable[[], tuple[Any, float, float]]) -> tuple[Any, float, float]:
    results = [fn() for _ in range(runs)]
    return results[-1][0], statistics.median(r[1] for r in results), statistics.median(r[2] for r in results)


def row(label: str, wall: float, cpu: float, result: str) -> None:
    print(f"| {label:<44} | {wall * 1000:8.0f} | {cpu * 1000:7.1f} | {result} |")


def lan_costs(lab: Lab, runs: int, state_dir: Path) -> None:
    office = build_office(lab, hosts=20, prefix="o")
    rate = 400
    lan_task = task({"links": [{"name": "lan", "kind": "lan", "probes": [],
                                "lan": {"subnet": "10.77.1.0/24", "interface": "eth0"}}],
                     "probes": {"lan": {"rate_pps": rate, "reply_wait_seconds": 0.5}}}, "lan")
    first, first_wall, first_cpu = timed(office.site, state_dir, lan_task)
    result, wall, cpu = series(runs, lambda: timed(office.site, state_dir, lan_task))
    # arp-scan at the same rate: --bandwidth is in bit/s of 64-byte frames on the wire (84 bytes)
    out, ref_wall, ref_cpu = series(runs, lambda: reference(office.site, [
        "arp-scan", "--interface=eth0", "--localnet", "--retry=1", "--timeout=500",
        f"--bandwidth={rate * 84 * 8}", "--quiet"]))
    found = sum(1 for line in out.splitlines() if line.startswith("10.77.1."))
    print(f"## lan: ARP sweep of 10.77.1.0/24 (253 addresses, 20 PCs + gateway), {rate}/s, median of {runs}")
    print(f"| {'what':<44} | wall ms |  CPU ms | result |")
    print(f"|{'-' * 46}|---------|---------|--------|")
    row("lan probe, first run (imports scapy)", first_wall, first_cpu, f"{first.values['hosts_live_count']:.0f} hosts")
    row("lan probe", wall, cpu, f"{result.values['hosts_live_count']:.0f} hosts, "
        f"{cpu / 253 * 1e6:.0f} µs CPU per request")
    row("reference: arp-scan (process)", ref_wall, ref_cpu, f"{found} hosts")
    print()


def path_costs(lab: Lab, runs: int, state_dir: Path) -> None:
    topo = build_site(lab, leased_mbit=None, tslcd_mbit=None, prefix="p")
    for ns in (topo.router, topo.centre):
        ns.run("ip", "link", "set", "dev", topo.leased.router_if, "mtu", "1400")
    path_task = task({"links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["path"],
                                 "targets": [{"host": "10.77.2.2", "name": "centre"}]}],
                      "probes": {"path": {"timeout": 10, "per_hop_timeout": 0.5, "attempts": 1}}}, "path")
    print(f"## path: site -> router -> centre 10.77.2.2, leased link MTU 1400, median of {runs}")
    print(f"| {'what':<44} | wall ms |  CPU ms | result |")
    print(f"|{'-' * 46}|---------|---------|--------|")
    first, wall, cpu = timed(topo.site, state_dir, path_task)
    row("path probe, first run (scapy loaded by lan)", wall, cpu, describe(first))
    result, wall, cpu = series(runs, lambda: timed(topo.site, state_dir, path_task))
    row("path probe (frag-needed answered)", wall, cpu, describe(result))
    out, ref_wall, ref_cpu = series(runs, lambda: reference(topo.site, ["tracepath", "-n", "-m", "8", "10.77.2.2"]))
    row("reference: tracepath (process)", ref_wall, ref_cpu, out.strip().splitlines()[-1].strip())
    topo.router.run("ip", "rule", "add", "iif", "lo", "ipproto", "icmp", "blackhole")
    result, wall, cpu = series(runs, lambda: timed(topo.site, state_dir, path_task))
    row("path probe, router sends no ICMP (bisection)", wall, cpu, describe(result))
    print()


def describe(result: Observation) -> str:
    values = result.values
    if "hop_count" not in values:
        return f"{result.status.value}: {result.reason}"
    return f"{values['hop_count']:.0f} hops, pmtu {values.get('path_mtu_bytes', 0):.0f}, `{result.info['hops']}`"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import_costs(args.runs)
    with Lab() as lab, tempfile.TemporaryDirectory() as state:
        rss_before = vm_rss_mb()
        lan_costs(lab, args.runs, Path(state))
        path_costs(lab, args.runs, Path(state))
        rss_after = vm_rss_mb()
    print(f"bench process RSS: {rss_before:.0f} MB before the probes first ran, {rss_after:.0f} MB after")


def vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
