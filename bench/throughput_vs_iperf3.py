"""The throughput probe vs iperf3's own client, side by side in one run, at 20 and 100 Mbit/s.

Builds the standard lab topology, starts ``iperf3 -s`` at the centre end of the leased
line, shapes the line with ``tbf`` to each rate, and alternates probe runs and iperf3
client runs (same duration, omit and congestion control) from the site namespace.
Receiver-side rates in both cases. Needs root (network namespaces).

    python bench/throughput_vs_iperf3.py [--runs 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.config.site import SiteConfig
from netmon.lab.iperf import iperf3_client, received_bps, start_iperf3
from netmon.lab.netns import Lab, call_in_namespace
from netmon.lab.topology import build_site
from netmon.probes.base import ProbeContext
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks
from netmon.probes.throughput import ThroughputProbe

SERVER = "10.77.2.2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    kinds = ProbeKinds()
    kinds.register(ThroughputProbe)
    rows = []
    with Lab() as lab, TemporaryDirectory() as state:
        topo = build_site(lab)
        start_iperf3(topo.centre, SERVER, 5201)
        for rate in (20, 100):
            topo.shape(topo.leased, rate)
            config = SiteConfig.model_validate({
                "site": {"id": "bench", "name": "bench", "province": "bench"},
                "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": rate, "probes": [],
                           # the idle bench line has no snmp section: test it without a load reading
                           "throughput": {"server": SERVER, "duration": args.seconds, "max_bytes_per_day": "100GB",
                                          "when_load_unknown": "test"}}],
                "probes": {"throughput": {"timeout": 2 * (args.seconds + 8)}},
            })
            (task,) = build_tasks(config, kinds)
            probe = ThroughputProbe(ProbeContext(state_dir=Path(state)))
            probe_up, probe_down, ref_up, ref_down = [], [], [], []
            for _ in range(args.runs):
                started = time.monotonic()
                result = call_in_namespace(topo.site, lambda: asyncio.run(probe.measure(task)))  # noqa: B023
                if "upload_bps" not in result.values:
                    raise SystemExit(f"probe failed: {result.reason}")
                probe_up.append(result.values["upload_bps"])
                probe_down.append(result.values["download_bps"])
                ref_up.append(received_bps(iperf3_client(topo.site, SERVER, seconds=args.seconds)))
                ref_down.append(received_bps(iperf3_client(topo.site, SERVER, seconds=args.seconds, reverse=True)))
                print(f"  {rate} Mbit/s run: probe {probe_up[-1] / 1e6:.2f}/{probe_down[-1] / 1e6:.2f}, iperf3 "
                      f"{ref_up[-1] / 1e6:.2f}/{ref_down[-1] / 1e6:.2f} Mbit/s up/down "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
            rows.append((rate, statistics.median(probe_up), statistics.median(ref_up),
                         statistics.median(probe_down), statistics.median(ref_down)))
    print(f"\nthroughput probe vs iperf3 client, median of {args.runs} runs of {args.seconds:g} s per direction "
          "(receiver side, Mbit/s)")
    print("| tbf rate | probe upload | iperf3 upload | diff | probe download | iperf3 download | diff |")
    print("|---|---|---|---|---|---|---|")
    for rate, pu, ru, pd, rd in rows:
        print(f"| {rate} Mbit/s | {pu / 1e6:.2f} | {ru / 1e6:.2f} | {(pu / ru - 1) * 100:+.2f} % "
              f"| {pd / 1e6:.2f} | {rd / 1e6:.2f} | {(pd / rd - 1) * 100:+.2f} % |")


if __name__ == "__main__":
    main()
