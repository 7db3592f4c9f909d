"""Benchmark: the province overview's queries and the readiness report at 168 and 500 communes.

    .venv/bin/python bench/dashboards_queries.py [--communes 168 500] [--hours 6] [--runs 5]

Starts Debian's influxd (1.x) on loopback in a temp dir, writes ``hours`` of go-live-rate
results per commune (icmp on 3 links, snmp_if on 2, http to 5 platforms, agent heartbeat, all
every 60 s; 2 throughput tests), then for each province size prints:

- the median latency of every InfluxQL panel of the province overview (range = all data,
  variables interpolated as Grafana does), and their sum (what one dashboard load costs);
- the readiness report's wall time (aggregation inside InfluxDB, as shipped) beside a
  reference that pulls the raw points of the same fields and aggregates in Python, with the
  bytes each moves.

Grafana runs a dashboard's queries concurrently; the sum is the InfluxDB work of one load.
Targets on this 2-core machine: every overview panel under 2 s at 500 communes; the report at
least 2x faster and 10x smaller on the wire than the raw pull.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.config.central import InfluxConfig
from netmon.config.readiness import ReadinessConfig
from netmon.config.registry import Registry
from netmon.dashboards import province_overview
from netmon.dashboards.datasources import INFLUX_UID, resolved_uid
from netmon.dashboards.influx import InfluxQLClient
from netmon.dashboards.readiness.report import build_report
from netmon.dashboards.templating import Variable, interpolate
from netmon.lab.grafana_interval import duration_seconds, panel_interval_seconds
from netmon.lab.services import start_influxdb

LINKS = (("lan", "lan", "gateway"), ("leased", "leased_line", "isp-edge"), ("tslcd", "data_network", "provincial-dc"))
PLATFORMS = ("dvc", "qlvb", "hop", "lgsp", "baocao")


def province_lines(province: str, communes: int, hours: float, end_ns: int) -> list[str]:
    tag_province = province.replace(" ", "\\ ")
    lines = []
    steps = int(hours * 60)
    for c in range(communes):
        site = f"{province[:2].upper()}{c:04d}"
        base = f"province={tag_province},site={site}"
        for step in range(steps):
            t = end_ns - step * 60 * 10**9
            for link, kind, target in LINKS:
                rtt = 0.002 + 0.0001 * (c % 50) + 0.00001 * (step % 7)
                lines.append(f"icmp,{base},link={link},link_kind={kind},target={target} rtt_min_seconds={rtt * 0.8},"
                             f"rtt_avg_seconds={rtt},rtt_max_seconds={rtt * 1.5},jitter_seconds=0.001,loss_ratio=0.0,"
                             f'status="ok",status_level=0i,seq={step}i {t}')
                if link != "lan":
                    util = (c % 100) / 100
                    lines.append(f"snmp_if,{base},link={link},link_kind={kind},target=router utilisation_ratio={util},"
                                 f'in_bps={util * 1e8},out_bps={util * 5e7},contracted_bps=1e8,status="ok",'
                                 f"status_level=0i,seq={step}i {t}")
            for platform in PLATFORMS:
                lines.append(f'http,{base},target={platform} total_seconds=0.3,status_code=200,status="ok",'
                             f"status_level=0i,seq={step}i {t}")
            lines.append(f"agent,{base},target={site}-agent uptime_seconds={step * 60.0},outbox_queued_count=0,"
                         f'outbox_dropped_total=0,status="ok",status_level=0i,seq={step}i {t}')
        for test in (1, 3):
            lines.append(f"throughput,{base},link=tslcd,link_kind=data_network,target=iperf download_bps=9e7,"
                         f'upload_bps=8e7,status="ok",status_level=0i,seq=0i {end_ns - test * 3600 * 10**9}')
    return lines


def write(url: str, lines: list[str]) -> None:
    with httpx.Client(timeout=120) as client:
        client.post(f"{url}/query", data={"q": 'CREATE DATABASE "netmon"'}).raise_for_status()
        for start in range(0, len(lines), 20000):
            response = client.post(f"{url}/write", params={"db": "netmon"},
                                   content="\n".join(lines[start:start + 20000]).encode())
            assert response.status_code == 204, response.text


def timed(fn: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def raw_reference(url: str, province: str, start_ms: int, end_ms: int) -> tuple[int, int]:
    """Pull the raw points the report judges and aggregate in Python: (communes judged, bytes)."""
    where = f"\"province\" = '{province}' AND time >= {start_ms}ms AND time < {end_ms}ms"
    total = 0
    per_site: dict[str, list[float]] = {}
    with httpx.Client(timeout=120) as client:
        for query in (f'SELECT "rtt_avg_seconds", "loss_ratio", "jitter_seconds", "site" FROM "icmp" WHERE {where} '
                      "AND \"link_kind\" = 'data_network'",
                      f'SELECT "download_bps", "upload_bps", "site" FROM "throughput" WHERE {where}',
                      f'SELECT "total_seconds", "status_level", "site", "target" FROM "http" WHERE {where}',
                      f'SELECT "uptime_seconds", "site" FROM "agent" WHERE {where}'):
            response = client.post(f"{url}/query", data={"db": "netmon", "q": query, "epoch": "ms"})
            total += len(response.content)
            for series in response.json()["results"][0].get("series", []):
                for row in series["values"]:
                    per_site.setdefault(row[-1], []).append(row[1] or 0.0)
    for values in per_site.values():
        sorted(values)[int(len(values) * 0.95) - 1]  # the percentile the report computes
    return len(per_site), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, nargs="+", default=[168, 500])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    end_ns = time.time_ns()
    with tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        server = start_influxdb(Path(tmp) / "influx")
        try:
            provinces = {n: f"Province {n}" for n in args.communes}
            for n, name in provinces.items():
                lines = province_lines(name, n, args.hours, end_ns)
                start = time.perf_counter()
                write(server.url, lines)
                print(f"{name}: wrote {len(lines):,} points in {time.perf_counter() - start:.1f} s")
            influx = InfluxConfig(url=server.url, api="v1", database="netmon")
            board = province_overview.build()
            now_ms = end_ns // 1_000_000 + 1000
            range_ms = int(args.hours * 3600 * 1000)
            print(f"\n{'panel':<62}" + "".join(f"{n:>10} c." for n in args.communes))
            totals = dict.fromkeys(args.communes, 0.0)
            with InfluxQLClient(influx) as client:
                for panel in board["panels"]:
                    if panel["type"] == "row" or resolved_uid(panel["datasource"]["uid"], board) != INFLUX_UID:
                        continue
                    cells = []
                    window_s = duration_seconds(panel["timeFrom"]) if panel.get("timeFrom") else range_ms / 1000
                    interval = panel_interval_seconds(panel, window_s)
                    for n, name in provinces.items():
                        query = interpolate(panel["targets"][0]["query"], {"province": Variable.single(name)},
                                            time_from_ms=now_ms - int(window_s * 1000), time_to_ms=now_ms,
                                            interval_seconds=interval)
                        seconds = timed(lambda q=query: client.query(q), args.runs)
                        totals[n] += seconds
                        cells.append(f"{seconds * 1000:>9.1f}ms")
                    print(f"{panel['title'][:60]:<62}" + "".join(cells))
            print(f"{'whole overview (sum)':<62}" + "".join(f"{totals[n] * 1000:>9.1f}ms" for n in args.communes))

            print(f"\n{'readiness report':<40}{'communes':>9}{'wall':>10}{'bytes':>12}")
            config = ReadinessConfig.model_validate({"window": f"{int(args.hours)}h"})
            now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
            start_ms = now_ms - int(args.hours * 3600 * 1000)
            for n, name in provinces.items():
                registry = Registry.model_validate({"sites": [
                    {"id": f"{name[:2].upper()}{c:04d}", "name": f"Xã {c}", "province": name} for c in range(n)]})
                report = None

                def run(name: str = name, registry: Registry = registry) -> None:
                    nonlocal report
                    report = build_report(influx, name, config, registry=registry, now=now)

                seconds = timed(run, args.runs)
                assert report is not None and report.summary.sites == n
                size = len(report.model_dump_json())
                print(f"{'aggregated in InfluxDB (shipped)':<40}{n:>9}{seconds:>9.2f}s{size:>12,}")
                ref_seconds = timed(lambda name=name: raw_reference(server.url, name, start_ms, now_ms), args.runs)
                _, ref_bytes = raw_reference(server.url, name, start_ms, now_ms)
                print(f"{'reference: raw points, Python':<40}{n:>9}{ref_seconds:>9.2f}s{ref_bytes:>12,}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
