"""Alerting: detection-to-delivery latency beside the rule's ``for``, and rule evaluation cost per
result at national scale (3,321 sites), each beside a reference measured in the same run.

1. latency (``--runs`` runs): the engine runs as it does in the collector (``AlertingSink``:
   ``handle`` per accepted batch, ``tick`` every second from a ticker task, its own delivery
   task) and is fed real ``ResultRecord``s in real time, one SNMP utilisation result per
   ``--interval`` seconds per site; at a random moment the link saturates (97 %). Measured:
   from the first saturated result to the webhook receiver (a local HTTP server) holding the
   firing message. Goal: p95 within ``for`` + 5 s. The full stack (agent + probes + collector
   over HTTP) adds the probe's measurement window and the shipping interval on top.
2. cost: every default rule evaluated in-stream over ``--cycles`` one-minute cycles of a
   realistic per-site result mix (15 results: heartbeat, ICMP per target, UDP echo, SNMP per
   link, HTTP per platform, DNS) from ``--sites`` sites, 2 % of them degraded; time and CPU per
   result for ``observe`` and per ``tick``, and the memory the series take. Reference: the
   collector's own per-result cost of validating the wire JSON (``BATCH_ADAPTER.validate_json``).

Run from the repository root:  ``.venv/bin/python bench/alert_latency.py --runs 20 --for 5``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.alerting.engine import AlertEngine
from netmon.alerting.rules import load_rules
from netmon.alerting.service import AlertingSink
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import Province, Registry, RegistryLink, RegistrySite
from netmon.contract import BATCH_ADAPTER, LinkKind, ProbeKind, ResultBatch, ResultRecord, Status
from netmon.lab.procstat import rss_mib
from netmon.lab.standins import Recorder


class TimedReceiver(Recorder):
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        super().__init__()

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        self.arrivals.append((time.time(), request["body"]))
        return 200, {"status": "success"}, {}




def site(i: int, province: str) -> RegistrySite:
    return RegistrySite(id=f"{10000 + i}", name=f"Xã Thử Nghiệm {i}", province=province, district=f"Khu vực {i // 20}",
                        upstream=f"agg-{i // 20}",
                        links=[RegistryLink(name="leased", kind=LinkKind.LEASED_LINE, contracted_mbps=20),
                               RegistryLink(name="tslcd", kind=LinkKind.DATA_NETWORK, contracted_mbps=100),
                               RegistryLink(name="lan", kind=LinkKind.LAN)])


def national(sites: int) -> Registry:
    provinces = [Province(name=f"Tỉnh {p:02d}", default_team=f"rrt-{p:02d}") for p in range(34)]
    return Registry(provinces=provinces, sites=[site(i, provinces[i % 34].name) for i in range(sites)])


def config(url: str | None, teams: int = 34) -> AlertingConfig:
    channels = [{"name": "hook", "type": "webhook", "url": url or "http://127.0.0.1:9/unused"}]
    return AlertingConfig.model_validate({
        "channels": channels, "teams": [{"name": f"rrt-{p:02d}", "channels": ["hook"]} for p in range(teams)]})


# -- 1. latency ------------------------------------------------------------------------------

def snmp(site_id: str, seq: int, t: float, ratio: float) -> ResultRecord:
    return ResultRecord(site_id=site_id, agent_id=f"{site_id}-agent", seq=seq, probe=ProbeKind.SNMP_IF,
                        link="leased", link_kind=LinkKind.LEASED_LINE, target="router", time_ns=int(t * 1e9),
                        status=Status.OK, values={"utilisation_ratio": ratio, "contracted_bps": 20e6})


async def one_run(tmp: Path, rule_for: float, interval: float, receiver: TimedReceiver, rng: random.Random) -> float:
    rules_file = tmp / "rules.yaml"
    rules_file.write_text(f"rules:\n  - name: LinkUtilisationHigh\n    probe: snmp_if\n    value: utilisation_ratio\n"
                          f"    warning: 0.8\n    critical: 0.95\n    clear: 0.7\n    for: {rule_for}s\n")
    reg = national(34)
    engine = AlertEngine(config(receiver.url), state_path=tmp / "alerting.db", registry=reg,
                         rules=load_rules(rules_file))
    sink = AlertingSink(engine)
    target = reg.sites[0]
    before = len(receiver.arrivals)

    async def ticker() -> None:
        await asyncio.sleep(rng.random())  # the collector's ticker has its own phase
        while True:
            await sink.tick(time.time())
            await asyncio.sleep(1.0)

    ticking = asyncio.create_task(ticker())
    saturate_after = 2 + rng.random() * 3
    start = time.time()
    load_started: float | None = None
    seq = 0
    while len(receiver.arrivals) == before and time.time() - start < rule_for + 60:
        now = time.time()
        saturated = now - start >= saturate_after
        if saturated and load_started is None:
            load_started = now
        seq += 1
        await sink.handle(target, [snmp(target.id, seq, now, 0.97 if saturated else 0.3)])
        await asyncio.sleep(interval)
    ticking.cancel()
    await sink.aclose()
    assert load_started is not None and len(receiver.arrivals) > before, "no firing message arrived"
    arrived, body = receiver.arrivals[before]
    assert body["status"] == "firing"
    return arrived - load_started


async def latency(runs: int, rule_for: float, interval: float) -> dict[str, float]:
    receiver = TimedReceiver()
    rng = random.Random(4)
    delays = []
    try:
        for run in range(runs):
            with tempfile.TemporaryDirectory(prefix="netmon-bench-alert-") as tmp:
                delays.append(await one_run(Path(tmp), rule_for, interval, receiver, rng))
            print(f"  run {run + 1:2d}: {delays[-1]:.2f} s", file=sys.stderr)
    finally:
        receiver.close()
    ordered = sorted(delays)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {"for_s": rule_for, "runs": runs, "min_s": ordered[0], "p50_s": statistics.median(ordered),
            "p95_s": p95, "max_s": ordered[-1], "p95_minus_for_s": p95 - rule_for, "goal_s": rule_for + 5}


# -- 2. evaluation cost ----------------------------------------------------------------------

PLATFORMS = ["dvc", "qlvb", "hop", "lgsp", "baocao"]
SPREAD_S = 30.0


def mix(s: RegistrySite, t: float, seq: int, bad: bool, rng: random.Random) -> list[ResultRecord]:
    def rec(probe: ProbeKind, link: str | None, kind: LinkKind | None, target: str, values: dict[str, float],
            status: Status = Status.OK) -> ResultRecord:
        nonlocal seq
        seq += 1
        return ResultRecord(site_id=s.id, agent_id=f"{s.id}-agent", seq=seq, probe=probe, link=link, link_kind=kind,
                            target=target, time_ns=int(t * 1e9), status=status, values=values,
                            reason=None if status is Status.OK else "timeout")

    rtt = 0.060 if bad else 0.004 + rng.random() * 0.002
    ping = {"rtt_avg_seconds": rtt, "rtt_min_seconds": rtt * 0.8, "rtt_max_seconds": rtt * 1.5,
            "jitter_seconds": rtt / 10, "loss_ratio": 0.04 if bad else 0.0, "sent_packets": 5, "received_packets": 5}
    out = [rec(ProbeKind.AGENT, None, None, "agent", {"uptime_seconds": 3600, "outbox_queued_count": 0})]
    for link, kind in (("leased", LinkKind.LEASED_LINE), ("tslcd", LinkKind.DATA_NETWORK)):
        out += [rec(ProbeKind.ICMP, link, kind, f"{link}-t{j}", ping) for j in range(2)]
        out.append(rec(ProbeKind.SNMP_IF, link, kind, "router", {
            "utilisation_ratio": 0.97 if bad else rng.random() * 0.5, "in_errors_per_second": 0.0,
            "out_errors_per_second": 0.0, "in_discards_per_second": 0.0, "out_discards_per_second": 0.0}))
    out.append(rec(ProbeKind.ICMP, "lan", LinkKind.LAN, "gateway", {**ping, "rtt_avg_seconds": 0.0004}))
    out.append(rec(ProbeKind.UDP_ECHO, "tslcd", LinkKind.DATA_NETWORK, "reflector", ping))
    out += [rec(ProbeKind.HTTP, "tslcd", None, name, {"total_seconds": 0.2, "status_code": 200}) for name in PLATFORMS]
    out.append(rec(ProbeKind.DNS, "tslcd", None, "resolver", {"resolve_seconds": 0.01}))
    return out


def cost(sites: int, cycles: int) -> dict[str, float]:
    rng = random.Random(7)
    reg = national(sites)
    bad = set(rng.sample(range(sites), k=sites // 50))
    t0 = time.time() - cycles * 60
    # each site reports at its own moment within the first SPREAD_S seconds of every minute
    batches = [[(s, mix(s, t0 + 60 * c + SPREAD_S * i / sites, 100 * c, i in bad and c >= 2, rng))
                for i, s in enumerate(reg.sites)] for c in range(cycles)]
    results = sum(len(b) for cycle in batches for _, b in cycle)
    with tempfile.TemporaryDirectory(prefix="netmon-bench-cost-") as tmp:
        rss0 = rss_mib()
        engine = AlertEngine(config(None), state_path=Path(tmp) / "alerting.db", registry=reg, now=t0)
        wall = cpu = 0.0
        tick_after_cycle: list[float] = []
        for c, cycle in enumerate(batches):
            w, p = time.perf_counter(), time.process_time()
            for i, (s, batch) in enumerate(cycle):
                engine.observe(s, batch, t0 + 60 * c + SPREAD_S * i / sites + 0.5)  # arrives 0.5 s after
            wall += time.perf_counter() - w
            cpu += time.process_time() - p
            for second in range(2, 5):  # the ticks right after: transitions to plan, messages to queue
                w = time.perf_counter()
                engine.tick(t0 + 60 * c + SPREAD_S + second)
                tick_after_cycle.append(time.perf_counter() - w)
        rss1 = rss_mib()  # the engine's series and caches (the prepared results are in both readings)
        bodies = [ResultBatch(site_id=s.id, agent_id=f"{s.id}-agent", results=b).model_dump_json().encode()
                  for cycle in batches[:2] for s, b in cycle]
        ref_results = sum(len(b) for cycle in batches[:2] for _, b in cycle)
        del batches, cycle  # a collector does not hold a quarter million results: keep the GC's work realistic
        gc.collect()
        tick_quiet: list[float] = []
        tick_quiet_cpu: list[float] = []
        for second in range(5, 15):  # ticks with nothing new: absence timers over every site
            w, p = time.perf_counter(), time.process_time()
            engine.tick(t0 + 60 * (cycles - 1) + SPREAD_S + second)
            tick_quiet.append(time.perf_counter() - w)
            tick_quiet_cpu.append(time.process_time() - p)
        series = len(engine.evaluator.series)
        firing = len(engine.incidents(state="firing", limit=100_000))
        engine.store.close()
    # reference: the collector validating the same results from their wire JSON
    w = time.perf_counter()
    for body in bodies:
        BATCH_ADAPTER.validate_json(body)
    ref_wall = time.perf_counter() - w
    return {"sites": sites, "results": results, "observe_us_per_result": wall / results * 1e6,
            "observe_cpu_us_per_result": cpu / results * 1e6,
            "reference_validate_json_us_per_result": ref_wall / ref_results * 1e6,
            "tick_after_cycle_ms_median": statistics.median(tick_after_cycle) * 1000,
            "tick_after_cycle_ms_max": max(tick_after_cycle) * 1000,
            "tick_quiet_ms_median": statistics.median(tick_quiet) * 1000,
            "tick_quiet_cpu_ms_median": statistics.median(tick_quiet_cpu) * 1000, "series": series,
            "rss_added_mb": rss1 - rss0, "firing_incidents": firing,
            "national_results_per_s": sites * 15 / 60, "core_share_at_national_rate":
                sites * 15 / 60 * wall / results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--for", dest="rule_for", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between SNMP results")
    parser.add_argument("--sites", type=int, default=3321)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if not args.skip_latency:
        print("latency (detection to delivery)...", file=sys.stderr)
        out["latency"] = asyncio.run(latency(args.runs, args.rule_for, args.interval))
    print("evaluation cost...", file=sys.stderr)
    out["cost"] = cost(args.sites, args.cycles)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
