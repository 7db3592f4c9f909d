"""Scale: 3,321 simulated commune agents drive the real collector, through the agent's own outbox,
shipper and client code (``probes/agent``), over the real wire contract, on loopback.

    python bench/scale.py                      # 3,321 sites, 240 s
    python bench/scale.py --soak 1800          # the 30-minute soak: RSS must stay flat, errors 0

Each simulated site produces ~40 results per 30 s (icmp on two links and udp_echo every 5 s,
snmp_if on two links, tcp and dns every 10 s, five platforms over http every 15 s, a heartbeat
every 60 s) into its own SQLite outbox (``probes.agent.outbox.Outbox``, WAL, synchronous=FULL,
on tmpfs: the agents' disks are not what is measured) and ships it with
``probes.agent.shipper.Shipper`` every ``--ship-interval`` (default 10 s, the agent's
default). A fraction of the sites saturates (utilisation ~1, loss, high RTT) and a fraction
goes silent for the middle third of the run (its client raises ``CollectorUnreachable``, as a
dead line does; the real shipper backs off and drains its backlog when the line returns).

The collector is the real ``netmon collector serve`` process (embedded SQLite journal; InfluxDB
1.x when ``influxd`` is installed; the go-live default alert rules), so its RSS and CPU are its own. The
sites run in ``--workers`` processes (one asyncio loop each; each outbox on a thread of its own,
as in the agent). Reported: accepted results/s, client-side p50/p99 ingest latency (POST → 200),
collector CPU per 1,000 results, RSS over time, TSDB write lag, journal depth, errors.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import functools
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netmon.lab.collector import netmon_env, write_central, write_registry  # noqa: E402
from netmon.lab.procstat import cpu_seconds, rss_mib  # noqa: E402
from netmon.lab.topology import free_port  # noqa: E402

HOST = "127.0.0.1"
TICK_SECONDS = 5.0
PLATFORMS = ("dvc", "qlvb", "hop", "lgsp", "baocao")


def site_ids(count: int) -> list[str]:
    return [f"{10000 + i}" for i in range(count)]


def site_role(rng: random.Random, args: argparse.Namespace) -> tuple[bool, bool]:
    """(saturating, silent) for the site whose generator is ``rng`` (fresh: ``random.Random(site)``)."""
    saturated = rng.random() < args.saturating_fraction
    return saturated, not saturated and rng.random() < args.silent_fraction


# --- one simulated site (runs in a worker) -------------------------------------------------------------
def observations(tick: int, saturated: bool, rng: random.Random) -> list[Any]:
    """What a site's probes produce at tick ``tick`` (every 5 s): ~40 results per 30 s."""
    from netmon.contract import Observation

    obs = []
    loss = rng.uniform(0.05, 0.2) if saturated else 0.0
    for link, kind, rtt in (("leased", "leased_line", 0.012), ("tslcd", "data_network", 0.008)):
        link_rtt = rtt * (12 if saturated and link == "leased" else 1) * rng.uniform(0.9, 1.3)
        echo = {"rtt_avg_seconds": link_rtt, "rtt_min_seconds": link_rtt * 0.8, "rtt_max_seconds": link_rtt * 1.5,
                "jitter_seconds": link_rtt * 0.1, "loss_ratio": loss if link == "leased" else 0.0,
                "sent_packets": 20.0, "received_packets": 20.0 * (1 - (loss if link == "leased" else 0.0))}
        obs.append(Observation(probe="icmp", link=link, link_kind=kind, target=f"{link}-gw", status="ok", values=echo))
        if link == "leased":
            obs.append(Observation(probe="udp_echo", link=link, link_kind=kind, target="isp-edge", status="ok",
                                   values=echo))
        if tick % 2 == 0:
            util = rng.uniform(0.95, 1.0) if saturated and link == "leased" else rng.uniform(0.05, 0.4)
            obs.append(Observation(probe="snmp_if", link=link, link_kind=kind, target=link, status="ok",
                                   values={"utilisation_ratio": util, "in_utilisation_ratio": util,
                                           "out_utilisation_ratio": util * 0.3, "oper_up": 1.0}))
    if tick % 2 == 1:
        obs.append(Observation(probe="tcp", link="tslcd", link_kind="data_network", target="provincial-dc",
                               status="ok", values={"connect_seconds": rng.uniform(0.005, 0.02)}))
        obs.append(Observation(probe="dns", link="tslcd", link_kind="data_network", target="resolver",
                               status="ok", values={"resolve_seconds": rng.uniform(0.002, 0.01), "answer_count": 1.0}))
    if tick % 3 == 0:
        for name in PLATFORMS:
            obs.append(Observation(probe="http", link="tslcd", link_kind="data_network", target=name, status="ok",
                                   values={"total_seconds": rng.uniform(0.1, 0.6), "status_code": 200.0}))
    return obs


async def run_site(site: str, token_file: Path, url: str, state: Path,
                   args: argparse.Namespace, t0: float, stats: dict[str, Any]) -> None:
    from netmon.config.site import CollectorConnection, SiteIdentity
    from netmon.errors import CollectorUnavailable, CollectorUnreachable
    from netmon.probes.agent.async_outbox import AsyncOutbox
    from netmon.probes.agent.collector_client import CollectorClient
    from netmon.probes.agent.heartbeat import heartbeat
    from netmon.probes.agent.metrics import AgentMetrics
    from netmon.probes.agent.outbox import Outbox
    from netmon.probes.agent.shipper import Shipper

    rng = random.Random(site)
    agent_id = f"{site}-agent"
    saturated, silent = site_role(rng, args)
    down_from, down_until = (t0 + args.duration * fraction for fraction in args.silent_window)
    connection = CollectorConnection(url=url, token_file=str(token_file), ship_interval=args.ship_interval,
                                     request_timeout=30, max_backoff=60, insecure_http=url.startswith("http://"))
    # The agent gives its outbox a thread of its own (AsyncOutbox.open). 3,321 threads in two processes
    # would measure the GIL's convoy, not the agent: each outbox here is pinned to one of a worker's few
    # outbox threads instead (still one connection, one thread, writes in order).
    executor = stats["outbox_threads"][int(site) % len(stats["outbox_threads"])]
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(executor, functools.partial(
        Outbox, state / f"{site}.sqlite3", site_id=site, agent_id=agent_id, max_results=500_000,
        max_age_seconds=7 * 86400))
    outbox = AsyncOutbox(executor, store)
    latencies: list[float] = stats["latencies"]

    class SimulatedLine(CollectorClient):
        """The agent's client with the line cut for silent sites, and the POST timed."""
        async def post(self, items: Any, dropped_total: int) -> Any:
            if silent and down_from <= time.monotonic() < down_until:
                raise CollectorUnreachable("line down (simulated)")
            started = time.perf_counter()
            try:
                outcome = await super().post(items, dropped_total)
            except CollectorUnreachable:
                stats["errors"]["unreachable"] = stats["errors"].get("unreachable", 0) + 1
                raise
            except CollectorUnavailable as exc:
                stats["errors"][type(exc).__name__] = stats["errors"].get(type(exc).__name__, 0) + 1
                raise
            latencies.append(time.perf_counter() - started)
            stats["batches"] += 1
            stats["results_sent"] += len(items)
            return outcome

    client = SimulatedLine(connection, site_id=site, agent_id=agent_id)
    identity = SiteIdentity(id=site, name=f"Xã {site}", province="Bench")
    metrics = AgentMetrics(identity, agent_id, lambda: outbox.snapshot)
    shipper = Shipper(outbox, client, connection, metrics, rng=rng)
    stop = asyncio.Event()
    await asyncio.sleep(rng.uniform(0, TICK_SECONDS))  # agents are spread over the interval
    ship_task = asyncio.create_task(shipper.run(stop))
    started = time.monotonic()
    tick = 0
    try:
        while time.monotonic() - t0 < args.duration:
            batch = observations(tick, saturated, rng)
            if tick % 12 == 0:
                batch.append(heartbeat(agent_id, started, outbox.snapshot))
            await outbox.add(batch)
            stats["produced"] += len(batch)
            if outbox.snapshot.queued >= connection.batch_max_results:
                shipper.wake.set()
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * TICK_SECONDS - time.monotonic()))
    finally:
        stop.set()
        await ship_task
        stats["queued_at_end"] += outbox.snapshot.queued
        await loop.run_in_executor(executor, store.close)  # not outbox.close(): the thread is shared
        await client.aclose()


async def worker_main(args: argparse.Namespace, tokens: dict[str, str]) -> dict[str, Any]:
    mine = sorted(tokens)[args.worker_index::args.workers]
    state = Path(args.state) / f"w{args.worker_index}"
    state.mkdir(parents=True, exist_ok=True)
    threads = [concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
               for _ in range(args.outbox_threads)]
    stats: dict[str, Any] = {"latencies": [], "errors": {}, "batches": 0, "results_sent": 0, "produced": 0,
                             "queued_at_end": 0, "sites": len(mine), "outbox_threads": threads}
    t0 = time.monotonic()
    tasks = []
    for site in mine:
        token_file = state / f"{site}.token"
        token_file.write_text(tokens[site])
        tasks.append(run_site(site, token_file, args.url, state, args, t0, stats))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for executor in threads:
        executor.shutdown(wait=True)
    del stats["outbox_threads"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    crashed = [repr(r) for r in results if isinstance(r, BaseException)]
    stats["site_crashes"] = len(crashed)
    stats["crash_sample"] = crashed[:3]
    return stats


# --- the orchestrator ----------------------------------------------------------------------------------




# reads need a viewer token (enrol_all issues one)
READ_HEADERS: dict[str, str] = {}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=READ_HEADERS), timeout=10) as response:
        return json.loads(response.read())


def scrape(url: str) -> tuple[dict[float, float], dict[str, float]]:
    """From the collector's /metrics: its ``netmon_collector_ingest_duration_seconds`` buckets (request →
    durable commit) and the seconds each sink took (``alerting/handle`` is alert evaluation)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(urllib.request.Request(url + "/metrics", headers=READ_HEADERS), timeout=10) as response:
        text = response.read().decode()
    buckets: dict[float, float] = {}
    sinks: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "netmon_collector_ingest_duration_seconds":
            buckets = {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
        elif family.name == "netmon_collector_sink_duration_seconds":
            sinks = {f"{s.labels['sink']}/{s.labels['call']}": s.value for s in family.samples
                     if s.name.endswith("_total")}
    return buckets, sinks


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the bucket holding quantile ``q`` of the observations between two scrapes."""
    counts = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = counts[-1][1] if counts else 0.0
    return next((le for le, cumulative in counts if cumulative >= q * total), float("nan")) if total else float("nan")


def rss_slope(samples: list[dict[str, Any]]) -> float:
    """Least-squares slope of RSS over time, MiB per 10 minutes: ~0 when memory is flat."""
    if len(samples) < 3:
        return float("nan")
    ts, ys = [s["t"] for s in samples], [s["rss_mib"] for s in samples]
    mean_t, mean_y = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mean_t) ** 2 for t in ts)
    return round(sum((t - mean_t) * (y - mean_y) for t, y in zip(ts, ys, strict=True)) / var * 600, 1) if var else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def enrol_all(config: Path, sites: list[str]) -> dict[str, str]:
    """Tokens straight into sites.db with the collector's own TokenStore (the CLI takes ~1 s a site),
    and a viewer token for the orchestrator's reads (READ_HEADERS)."""
    from netmon.collectors.abc import Role
    from netmon.collectors.sqlite import SITES_DB, connect
    from netmon.collectors.tokens import TokenStore
    from netmon.config.central import load_central

    store = TokenStore(connect(Path(load_central(config).state_dir) / SITES_DB))
    READ_HEADERS["Authorization"] = f"Bearer {store.issue(Role.VIEWER, 'bench')}"
    return {site: store.enrol(site) for site in sites}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=3321)
    parser.add_argument("--duration", type=float, default=240.0,
                        help="seconds; the default rules fire after 2 min, so shorter runs alert on nothing")
    parser.add_argument("--soak", type=float, help="soak run of this many seconds (overrides --duration)")
    parser.add_argument("--ship-interval", type=float, default=10.0)
    parser.add_argument("--silent-fraction", type=float, default=0.03)
    parser.add_argument("--silent-window", type=float, nargs=2, default=(1 / 3, 2 / 3), metavar=("FROM", "UNTIL"),
                        help="when the silent sites' line is down, as fractions of the run (default: the middle third)")
    parser.add_argument("--saturating-fraction", type=float, default=0.03)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--outbox-threads", type=int, default=4, help="outbox threads per worker process")
    parser.add_argument("--no-influx", action="store_true", help="embedded SQLite only")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.soak:
        args.duration = args.soak
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.worker_index is not None:
        logging.basicConfig(level=logging.ERROR)  # the shipper's per-site warnings would flood the output
        stats = asyncio.run(worker_main(args, json.loads(Path(args.tokens).read_text())))
        Path(args.result).write_text(json.dumps(stats))
        return
    orchestrate(args)


def orchestrate(args: argparse.Namespace) -> None:
    from netmon.lab.collector import influx_settings
    from netmon.lab.services import start_influxdb

    sites = site_ids(args.sites)
    procs: list[subprocess.Popen[bytes]] = []
    influx = None
    with tempfile.TemporaryDirectory(prefix="netmon-scale-") as tmp, \
            tempfile.TemporaryDirectory(prefix="netmon-scale-outbox-", dir="/dev/shm") as shm:
        work = Path(tmp)
        try:
            if not args.no_influx and shutil.which("influxd"):
                influx = start_influxdb(work / "influx")
            registry = write_registry(work / "sites.yaml", [
                {"id": s, "name": f"Xã {s}", "province": "Bench",
                 "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20},
                           {"name": "tslcd", "kind": "data_network", "contracted_mbps": 10}]} for s in sites])
            port = free_port(HOST)
            # The collector always evaluates the go-live default rules (incidents in its API even
            # without channels); its cost is the alerting sink's time, which the report shows.
            # Messages go to a file.
            sections: dict[str, Any] = {"limits": {"site_results_per_minute": 60_000},
                                        "expected_ship_interval": f"{args.ship_interval:g}s", "alerting": {
                "teams": [{"name": "noc", "channels": ["console"]}], "default_team": "noc", "platform_team": "noc",
                "channels": [{"name": "console", "type": "console", "path": str(work / "alerts.log")}]}}
            config = write_central(work, registry, host=HOST, port=port,
                                   influx=influx_settings(influx, "v1", flush_interval="1s") if influx else None,
                                   **sections)
            tokens = enrol_all(config, sites)
            (work / "tokens.json").write_text(json.dumps(tokens))
            with open(work / "collector.log", "wb") as log:
                collector = subprocess.Popen([sys.executable, "-m", "netmon", "collector", "serve", "--config",
                                              str(config)], stdout=log, stderr=subprocess.STDOUT, env=netmon_env())
            procs.append(collector)
            url = f"http://{HOST}:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    get_json(url + "/healthz")
                    break
                except OSError:
                    if time.monotonic() > deadline or collector.poll() is not None:
                        raise SystemExit((work / "collector.log").read_text()[-3000:]) from None
                    time.sleep(0.2)
            report = run_load(args, work, shm, url, collector, procs)
            report["alerting_outcome"] = alerting_outcome(url, sites, args)
            alerts = work / "alerts.log"
            report["alert_messages"] = alerts.read_text().count("----- netmon") if alerts.exists() else 0
            report["collector_log_errors"] = [line for line in (work / "collector.log").read_text(
                errors="replace").splitlines() if "Error" in line or "Traceback" in line][:20]
        finally:
            if (work / "collector.log").exists():
                shutil.copy(work / "collector.log", Path(tempfile.gettempdir()) / "netmon-scale-collector.log")
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            if influx is not None:
                influx.stop()
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def alerting_outcome(url: str, sites: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Which sites the collector alerted on (fired, whether resolved since or not), against the sites
    the run degraded: every saturating and every silent site should be there, no healthy one."""
    incidents = get_json(url + "/api/v1/incidents?state=all&limit=5000")["incidents"]
    fired = [i for i in incidents if i["fired_at"] is not None and i["site_id"]]
    roles = {site: site_role(random.Random(site), args) for site in sites}
    saturating = {site for site, (sat, _) in roles.items() if sat}
    silent = {site for site, (_, sil) in roles.items() if sil}
    alerted: dict[str, set[str]] = {}
    for incident in fired:
        alerted.setdefault(incident["site_id"], set()).add(incident["rule"])
    rules: dict[str, int] = {}
    for incident in fired:
        rules[incident["rule"]] = rules.get(incident["rule"], 0) + 1
    return {"incidents_fired": len(fired), "by_rule": rules,
            "saturating_sites_alerted": f"{len(saturating & alerted.keys())}/{len(saturating)}",
            "silent_sites_alerted": f"{len(silent & alerted.keys())}/{len(silent)}",
            "healthy_sites_alerted": sorted(alerted.keys() - saturating - silent)[:20],
            "pending_or_unfired": len(incidents) - len(fired)}


def run_load(args: argparse.Namespace, work: Path, shm: str, url: str, collector: subprocess.Popen[bytes],
             procs: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    workers = []
    for index in range(args.workers):
        argv = [sys.executable, __file__, "--worker-index", str(index), "--workers", str(args.workers),
                "--tokens", str(work / "tokens.json"), "--state", shm, "--url", url,
                "--result", str(work / f"worker{index}.json"), "--duration", str(args.duration),
                "--ship-interval", str(args.ship_interval), "--silent-fraction", str(args.silent_fraction),
                "--silent-window", *(str(f) for f in args.silent_window),
                "--saturating-fraction", str(args.saturating_fraction), "--outbox-threads", str(args.outbox_threads)]
        workers.append(subprocess.Popen(argv, env=netmon_env()))
    procs.extend(workers)
    start_stats = get_json(url + "/api/v1/stats")["totals"]
    hist0, sinks0 = scrape(url)
    cpu0, t0 = cpu_seconds(collector.pid), time.monotonic()
    samples = []
    stats_errors: list[str] = []
    while any(w.poll() is None for w in workers):
        time.sleep(5)
        try:
            totals = get_json(url + "/api/v1/stats")["totals"]
        except OSError as exc:  # urllib's HTTPError too: the status API failing is a finding, not the end
            stats_errors.append(f"t={time.monotonic() - t0:.0f}s: {exc}")
            print(f"/api/v1/stats failed: {exc}", flush=True)
            continue
        samples.append({"t": round(time.monotonic() - t0), "rss_mib": round(rss_mib(collector.pid), 1),
                        "accepted": totals["accepted"], "tsdb_lag_seconds": totals["tsdb_write_lag_seconds"],
                        "journal_pending": totals["journal_pending_results"]})
        print(json.dumps(samples[-1]), flush=True)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(collector.pid) - cpu0
    end = get_json(url + "/api/v1/stats")["totals"]
    hist1, sinks1 = scrape(url)
    flowing = [s for s in samples if s["accepted"] > start_stats["accepted"]]
    steady_rate = ((flowing[-1]["accepted"] - flowing[0]["accepted"]) / (flowing[-1]["t"] - flowing[0]["t"])
                   if len(flowing) > 1 and flowing[-1]["t"] > flowing[0]["t"] else 0.0)
    parts = [json.loads((work / f"worker{i}.json").read_text()) for i in range(args.workers)]
    latencies = [x for p in parts for x in p["latencies"]]
    accepted = end["accepted"] - start_stats["accepted"]
    errors: dict[str, int] = {}
    for p in parts:
        for key, value in p["errors"].items():
            errors[key] = errors.get(key, 0) + value
    steady = [s["rss_mib"] for s in samples[len(samples) // 4:]] or [0.0]
    return {
        "sites": args.sites, "duration_seconds": args.duration, "ship_interval_seconds": args.ship_interval,
        "workers": args.workers,
        "load_average_1min_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "influxdb": "influxd" if not args.no_influx and shutil.which("influxd") else None,
        "produced": sum(p["produced"] for p in parts), "accepted": accepted,
        "accepted_per_second": round(accepted / elapsed, 1), "batches": sum(p["batches"] for p in parts),
        "accepted_per_second_once_flowing": round(steady_rate, 1),
        "expected_per_second": round(args.sites * 40 / 30, 1),
        "collector_ingest_p50_ms_bucket": histogram_quantile(hist0, hist1, 0.50) * 1000,
        "collector_ingest_p99_ms_bucket": histogram_quantile(hist0, hist1, 0.99) * 1000,
        "client_round_trip_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "client_round_trip_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "collector_cpu_seconds": round(cpu, 1),
        "generator_cpu_seconds": round(sum(p["cpu_seconds"] for p in parts), 1),
        "collector_cpu_ms_per_1000_results": round(cpu / max(accepted, 1) * 1e6, 1),
        # wall time on the collector's event loop, per 1,000 accepted results (handle) and per second (tick)
        "sink_ms_per_1000_results": {k: round((v - sinks0.get(k, 0.0)) / max(accepted, 1) * 1e6, 1)
                                     for k, v in sinks1.items() if k.endswith("/handle")},
        "sink_tick_ms_per_second": {k: round((v - sinks0.get(k, 0.0)) / elapsed * 1e3, 2)
                                    for k, v in sinks1.items() if k.endswith("/tick")},
        "collector_rss_mib_first_last_max_steady": [samples[0]["rss_mib"] if samples else 0, steady[-1],
                                                     max(steady)],
        "collector_rss_mib_per_10_min_steady": rss_slope(samples[len(samples) // 4:]),
        "tsdb_write_lag_seconds_max": max((s["tsdb_lag_seconds"] for s in samples), default=0.0),
        "journal_pending_max": max((s["journal_pending"] for s in samples), default=0),
        "collector_rejected": end["rejected"] - start_stats["rejected"], "stats_api_errors": stats_errors,
        "client_errors": errors, "site_crashes": sum(p["site_crashes"] for p in parts),
        "crash_sample": [c for p in parts for c in p["crash_sample"]][:3],
        "queued_at_end": sum(p["queued_at_end"] for p in parts), "rss_samples": samples,
    }


if __name__ == "__main__":
    main()
