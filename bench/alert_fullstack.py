"""Alerting over the full stack: from the moment a saturating load starts on a commune's leased line
to the webhook holding the alert, over ``--runs`` runs, beside the rule's ``for``.

The namespace testbed of ``tests/alerting/test_end_to_end.py`` (``lab/alert_stack.py``):
leased line tbf-shaped to 20 Mbit/s, snmpd on the site router, the real agent (icmp every
``--icmp`` s, snmp_if every ``--snmp`` s) shipping every second to the real collector with
alerting, a webhook receiver at the centre. Each run: UDP at 30 Mbit/s through the router until
both LinkUtilisationHigh and LinkRttHigh have arrived, then the load stops and both resolve.
The delay includes what the engine cannot see earlier: the probe's measurement interval (an
SNMP window must end), the agent's shipping interval, then ``for``, ``group_wait`` and the tick.

Run as root from the repository root:  ``.venv/bin/python bench/alert_fullstack.py --runs 20 --for 5``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.lab.alert_stack import SITE, Timing, start_stack
from netmon.lab.netns import Lab, wait_until
from netmon.lab.topology import build_site

BOTH = {"LinkUtilisationHigh", "LinkRttHigh"}


def summary(values: list[float], rule_for: float) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {"min_s": ordered[0], "p50_s": statistics.median(ordered), "p95_s": p95, "max_s": ordered[-1],
            "p95_minus_for_s": p95 - rule_for}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--for", dest="rule_for", type=float, default=5.0)
    parser.add_argument("--icmp", type=float, default=1.0, help="ICMP probe interval, s")
    parser.add_argument("--snmp", type=float, default=4.0, help="snmp_if probe interval, s")
    args = parser.parse_args()
    timing = Timing(for_s=args.rule_for, icmp_s=args.icmp, snmp_s=args.snmp, snmp_align_s=3.0, ship_s=1,
                    group_wait_s=2)
    delays: dict[str, list[float]] = {name: [] for name in BOTH}
    resolves: dict[str, list[float]] = {name: [] for name in BOTH}
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="netmon-bench-e2e-") as tmp:
        stack = start_stack(build_site(lab, leased_mbit=20, tslcd_mbit=100), Path(tmp), timing)
        try:
            wait_until(lambda: "snmp_if" in str(stack.collector.get_json(f"/api/v1/sites/{SITE['id']}")), 30,
                       what="first utilisation result")
            time.sleep(args.snmp + 2)
            rng = random.Random(11)
            for run in range(args.runs):
                # a random phase against the probes' schedules and the collector's ticker: without it the
                # runs lock onto the tick (each starts a fixed time after the last resolve arrived)
                time.sleep(rng.uniform(0, args.snmp))
                seen = len(stack.hook.notices())
                start = time.time()
                load = stack.load(args.rule_for + 60)
                wait_until(lambda seen=seen: {n for s, n, _ in stack.hook.notices()[seen:] if s == "firing"} >= BOTH,
                           args.rule_for + 60, interval=0.05, what="both alerts")
                for _, name, at in [x for x in stack.hook.notices()[seen:] if x[0] == "firing"]:
                    delays[name].append(at - start)
                load.stop()
                stopped = time.time()
                wait_until(lambda seen=seen: {n for s, n, _ in stack.hook.notices()[seen:] if s == "resolved"}
                           >= BOTH, 60, interval=0.05, what="both resolves")
                for _, name, at in [x for x in stack.hook.notices()[seen:] if x[0] == "resolved"]:
                    resolves[name].append(at - stopped)
                print(f"  run {run + 1:2d}: " + ", ".join(f"{n} {delays[n][-1]:.1f} s" for n in sorted(BOTH)),
                      file=sys.stderr)
                time.sleep(args.snmp + 3)  # a clean healthy window before the next run
            sent = stack.hook.notices()
        finally:
            stack.close()
    out: dict[str, Any] = {"for_s": args.rule_for, "icmp_interval_s": args.icmp, "snmp_interval_s": args.snmp,
                           "runs": args.runs, "messages": {"firing": sum(s == "firing" for s, _, _ in sent),
                                                           "resolved": sum(s == "resolved" for s, _, _ in sent)}}
    for name in sorted(BOTH):
        out[name] = {"detect_to_delivery": summary(delays[name], args.rule_for),
                     "load_end_to_resolve": summary(resolves[name], 0.0)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
