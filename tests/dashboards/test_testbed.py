"""A province on the namespace testbed, end to end: four communes run the real agent
(``netmon probe run``: icmp, http, throughput, heartbeats) against the real collector, which
writes to real InfluxDB and is scraped by real Prometheus. Communes 3 and 4 have their
data-network line shaped to 4 and 6 Mbit/s — below the 10 Mbit/s an online meeting needs — and
the platforms answer commune 2 in 3.5 s. A fifth commune of the registry never reports.

- the readiness report (CLI module and the collector's ``GET /api/v1/readiness``) marks exactly
  communes 2, 3, 4 and 5 as not ready, with the measured values; the throughput it reports is
  within 15 % of iperf3's own client measured on the same lines before the agents started;
- every dashboard panel — InfluxQL and PromQL — run on this real data returns the communes,
  links and platforms that exist, and nothing for what this testbed does not measure (SNMP).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.config.central import InfluxConfig
from netmon.config.readiness import ReadinessConfig
from netmon.config.registry import load_registry
from netmon.dashboards.build import build_all
from netmon.dashboards.datasources import PROMETHEUS_UID, resolved_uid
from netmon.dashboards.influx import InfluxQLClient, QuerySeries
from netmon.dashboards.readiness.model import ReadinessReport
from netmon.dashboards.readiness.report import build_report
from netmon.dashboards.templating import Variable
from netmon.lab.collector import (
    CollectorProcess,
    influx_settings,
    lab_site,
    start_collector,
    write_central,
    write_registry,
)
from netmon.lab.grafana_interval import panel_interval_seconds
from netmon.lab.iperf import iperf3_client, received_bps, start_iperf3
from netmon.lab.netns import Lab, LabError, Namespace, Proc, call_in_namespace, wait_until
from netmon.lab.platforms import start_platforms
from netmon.lab.province import PROVINCIAL_DC, Province, build_province
from netmon.lab.services import start_influxdb
from tests.agent.helpers import start_agent, write_config
from tests.conftest import require_netns
from tests.dashboards import prometheus_run as prom
from tests.dashboards.grafana_run import panels, run_panel
from tests.dashboards.selections import all_selected

pytestmark = pytest.mark.netns

PROVINCE = "Đồng Nai"
SITES = ["48001", "48002", "48003", "48004"]
NEVER = "48009"
NAMES = {"48001": "Phường Trấn Biên", "48002": "Phường Tam Hiệp", "48003": "Xã Phú Lý", "48004": "Xã Đak Lua",
         NEVER: "Xã Thanh Sơn"}
# (leased, data network) Mbit/s per commune; tbf queue 5 ms so a throughput test cannot make
# a healthy line look slow.
RATES: list[tuple[float | None, float | None]] = [(20, 50), (20, 50), (20, 4), (20, 6)]
SLOW_PLATFORM_SECONDS = 3.5
READINESS = {"window": "30s", "data_network": {"max_rtt": "30ms", "max_loss_ratio": 0.05},
             "throughput": {"min_download_mbps": 10, "min_upload_mbps": 10},
             "platforms": {"max_response": "3s", "min_success_ratio": 0.9},
             "reporting": {"bucket": "10s", "min_ratio": 0.95}}
SHIP_SECONDS = 2.0
SILENT_AFTER_SECONDS = 6 * SHIP_SECONDS


@dataclasses.dataclass
class ProvinceBed:
    province: Province
    collector: CollectorProcess
    influx: InfluxConfig
    prometheus_url: str
    reference_bps: dict[str, float]
    agents: list[Proc]

    @property
    def centre(self) -> Namespace:
        return self.province.centre

    def in_centre(self, fn: Callable[[], Any]) -> Any:
        return call_in_namespace(self.centre, fn)


def site_config(tmp: Path, index: int, token: str) -> Path:
    site = SITES[index - 1]
    token_file = tmp / f"token-{site}"
    token_file.write_text(token)
    directory = tmp / f"agent-{site}"
    directory.mkdir()
    config = write_config(directory / "site.yaml", **{
        "site": {"id": site, "name": NAMES[site], "province": PROVINCE},
        "agent": {"heartbeat_interval": 2},
        "collector": {"url": f"http://{PROVINCIAL_DC}:8080", "token_file": str(token_file), "insecure_http": True,
                      "ship_interval": f"{SHIP_SECONDS:g}s"},
        "links": [
            {"name": "tslcd", "kind": "data_network", "contracted_mbps": 100, "probes": ["icmp"],
             "targets": [{"host": PROVINCIAL_DC, "name": "provincial-dc"}],
             # no SNMP on these lines: test without reading their load (the default skips such a line)
             "throughput": {"server": PROVINCIAL_DC, "port": 5200 + index, "max_bytes_per_day": "500MB",
                            "duration": "2s", "when_load_unknown": "test"}},
            {"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["icmp"],
             "targets": [{"host": "10.78.0.1", "name": "isp-edge"}]},
        ],
        "platforms": [{"name": "dvc", "system": "admin_procedures", "url": f"http://{PROVINCIAL_DC}:8081/dvc/"},
                      {"name": "qlvb", "system": "document_management",
                       "url": f"http://{PROVINCIAL_DC}:8081/qlvb/"}],
        "probes": {"icmp": {"interval": "2s", "count": 5, "spacing": 0.1, "timeout": "1.5s"},
                   "http": {"interval": "3s", "timeout": "6s"},
                   "throughput": {"interval": "15s", "timeout": "14s", "connect_timeout": "1s"}},
    })
    return config


def throughput_sites(testbed: ProvinceBed, since_ns: int) -> set[str]:
    def read() -> set[str]:
        with InfluxQLClient(testbed.influx) as client:
            try:
                series = client.query(f'SELECT count("download_bps") FROM "throughput" WHERE time >= {since_ns} '
                                      'GROUP BY "site"')
            except Exception:  # the database appears with the collector's first write
                return set()
        return {s.tags["site"] for s in series}
    return set(testbed.in_centre(read))


def reference_download(site: Namespace, port: int) -> float:
    """iperf3's own client, download direction. A server just started may still be tearing down
    the readiness probe's connection ("Connection reset by peer"): try again, briefly."""
    for attempt in range(3):
        try:
            return received_bps(iperf3_client(site, PROVINCIAL_DC, port, seconds=3, reverse=True))
        except LabError:
            if attempt == 2:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvinceBed]:
    require_netns()
    tmp = tmp_path_factory.mktemp("testbed")
    with Lab() as lab:
        province = build_province(lab, RATES, latency_ms=5)
        centre = province.centre
        server = start_influxdb(tmp / "influx", host="127.0.0.1", ns=centre)
        registry = write_registry(tmp / "sites.yaml", [
            lab_site(site, province=PROVINCE, district=None, name=NAMES[site]) for site in [*SITES, NEVER]])
        # The go-live rules, with PlatformSlow quick enough to fire for commune 2 within the run.
        (tmp / "rules.yaml").write_text(
            "include_defaults: true\nrules:\n  - {name: PlatformSlow, probe: http, value: total_seconds, "
            "warning: 3.0, critical: 10.0, clear: 2.0, for: 4s, aggregate: target}\n")
        central = write_central(tmp, registry, host=PROVINCIAL_DC, port=8080, influx=influx_settings(server, "v1"),
                                expected_ship_interval=f"{SHIP_SECONDS:g}s", readiness=READINESS,
                                alerting={"rules_file": str(tmp / "rules.yaml")})
        collector = start_collector(central, ns=centre)
        for index in range(1, len(SITES) + 1):
            start_iperf3(centre, PROVINCIAL_DC, 5200 + index)
        # iperf3's own client on the shaped lines, before any agent traffic: the reference.
        reference: dict[str, float] = {}
        for index in (3, 4):
            ref_server = start_iperf3(centre, PROVINCIAL_DC, 5300 + index)
            reference[SITES[index - 1]] = reference_download(province.communes[index - 1].site, 5300 + index)
            ref_server.stop()
        control = tmp / "platforms.json"
        control.write_text(json.dumps({"slow": {"10.102.": SLOW_PLATFORM_SECONDS}}))
        start_platforms(PROVINCIAL_DC, 8081, tmp / "platforms", ns=centre, control=control)
        _, prometheus_url = prom.start_prometheus(centre, tmp / "prometheus", f"{PROVINCIAL_DC}:8080",
                                                  collector.role_token("viewer"))
        agents = [start_agent(commune.site, site_config(tmp, i, collector.enrol(SITES[i - 1])), name=f"agent{i}",
                              debug=False)
                  for i, commune in enumerate(province.communes, start=1)]
        bed = ProvinceBed(province, collector, InfluxConfig(url=server.url, api="v1", database="netmon"),
                      prometheus_url, reference, agents)
        started_ns = time.time_ns()
        # A refused request, so the "refused by reason" panel has something to show.
        collector.post_batch("not-a-token", {"site_id": SITES[0], "agent_id": "x", "results": []})
        # Long enough for the 30 s readiness window (10 s buckets) to lie inside the run, and for
        # every commune to have run a throughput test after its first 10 s.
        time.sleep(45)
        try:
            wait_until(lambda: throughput_sites(bed, started_ns + 10 * 10**9) == set(SITES), 60,
                       interval=1, what="a throughput test from every commune")
        except TimeoutError as exc:
            pytest.fail(f"{exc}\n{diagnose(bed)}")
        for agent in agents:
            assert agent.alive(), agent.log()[-3000:]
        yield bed


def diagnose(bed: ProvinceBed) -> str:
    """What InfluxDB holds and what the agents said: enough to see why a run went wrong."""
    def read() -> list[str]:
        out = []
        with InfluxQLClient(bed.influx) as client:
            for query in ('SELECT count("status_level") FROM /.*/ GROUP BY "site"',
                          'SELECT "status", "reason", "download_bps" FROM "throughput" GROUP BY "site"'):
                try:
                    out += [f"{s.name} {s.tags} {s.values[-4:]}" for s in client.query(query)]
                except Exception as exc:
                    out.append(f"{query}: {exc}")
        return out
    lines = bed.in_centre(read)
    lines += [f"--- {a.name} alive={a.alive()}\n{a.log()[-1500:]}" for a in bed.agents]
    lines.append(f"--- collector\n{bed.collector.proc.log()[-1500:]}")
    return "\n".join(lines)


def report_of(testbed: ProvinceBed) -> ReadinessReport:
    registry = load_registry(Path(testbed.collector.config_path.parent / "sites.yaml"))
    config = ReadinessConfig.model_validate(READINESS)
    return testbed.in_centre(lambda: build_report(testbed.influx, PROVINCE, config, registry=registry))  # type: ignore[no-any-return]


def test_readiness_marks_exactly_the_communes_below_the_requirements(testbed: ProvinceBed) -> None:
    report = report_of(testbed)
    assert report.summary.sites == 5
    assert {s.site_id for s in report.sites if s.ready} == {"48001"}, [
        (s.site_id, s.reasons) for s in report.sites]
    checks = {s.site_id: {c.key: c for c in s.checks} for s in report.sites}
    reasons = {n.site_id: n.reasons for n in report.not_ready}

    # Commune 2: its lines are fine, the platforms answer it in 3.5 s.
    assert all(checks["48002"][k].passed for k in ("data_network.rtt", "data_network.loss", "throughput.download"))
    for platform in ("dvc", "qlvb"):
        response = checks["48002"][f"platform.{platform}.response"]
        # p95 of a 3.5 s delay: at least the delay, plus what a busy 2-core machine adds to its tail
        assert not response.passed and SLOW_PLATFORM_SECONDS <= response.measured < SLOW_PLATFORM_SECONDS + 1.5
        shown = f"{response.measured:.1f}".replace(".", ",")
        assert f"Thời gian phản hồi nền tảng {platform} (p95): {shown} s, yêu cầu ≤ 3,0 s" in reasons["48002"]

    # Communes 3 and 4: below the online-meeting throughput, within 15 % of iperf3's own measurement.
    for site, shaped in (("48003", 4e6), ("48004", 6e6)):
        download = checks[site]["throughput.download"]
        assert download.measured is not None, f"no throughput test of {site} in the window\n{diagnose(testbed)}"
        assert not download.passed
        assert download.measured == pytest.approx(testbed.reference_bps[site], rel=0.15)
        assert download.measured < shaped
        shown = f"{download.measured / 1e6:.1f}".replace(".", ",")
        assert f"Thông lượng tải xuống (họp trực tuyến): {shown} Mbit/s, yêu cầu ≥ 10,0 Mbit/s" in reasons[site]
        assert checks[site]["throughput.upload"].measured == pytest.approx(shaped, rel=0.2)

    # Commune 1 passes everything, on measured values.
    assert checks["48001"]["throughput.download"].measured > 30e6
    assert checks["48001"]["reporting"].measured == 1.0
    assert checks["48001"]["data_network.rtt"].measured < 0.030
    assert reasons[NEVER] == ["Không có số liệu nào trong 30 giây qua: máy đo chưa lắp đặt, mất điện hoặc không "
                              "gửi được số liệu về trung tâm"]


def test_the_collector_api_gives_the_same_verdicts(testbed: ProvinceBed) -> None:
    status, _, body = testbed.collector.read("/api/v1/readiness?province=%C4%90%E1%BB%93ng%20Nai", timeout=60)
    assert status == 200, body[:500]
    answer = json.loads(body)
    assert answer["summary"]["sites"] == 5 and answer["summary"]["ready"] == 1
    assert {n["site_id"] for n in answer["not_ready"]} == {"48002", "48003", "48004", NEVER}
    status, headers, body = testbed.collector.read(
        "/api/v1/readiness?province=%C4%90%E1%BB%93ng%20Nai&format=html", timeout=60)
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "Xã Phú Lý" in body.decode()


# -- every dashboard panel on the real data ------------------------------------------------------

def tags(results: dict[str, list[QuerySeries]], *keys: str) -> set[tuple[str, ...]]:
    return {tuple(s.tags[k] for k in keys) for s in results["A"]}


def table_keys(results: dict[str, list[QuerySeries]], *keys: str) -> set[tuple[str, ...]]:
    return {tuple(row[k] for k in keys) for s in results["A"] for row in s.rows()}


def empty(results: dict[str, list[QuerySeries]]) -> None:
    assert results["A"] == [], "this testbed has no SNMP: the panel must be empty"


SITE_SET = {(s,) for s in SITES}
LINKS = {"tslcd", "leased"}


def overview_expectations() -> dict[str, Callable[[dict[str, list[QuerySeries]]], None]]:
    def counts_sum(results: dict[str, list[QuerySeries]]) -> int:
        return sum(int(row["sites"]) for s in results["A"] for row in s.rows())

    def site_rows(results: dict[str, list[QuerySeries]]) -> None:
        assert table_keys(results, "site") == SITE_SET

    def top_kind(results: dict[str, list[QuerySeries]], link: str) -> None:
        assert table_keys(results, "site", "link") == {(s, link) for s in SITES}

    seen: dict[str, int] = {}

    def count(name: str) -> Callable[[dict[str, list[QuerySeries]]], None]:
        def check(results: dict[str, list[QuerySeries]]) -> None:
            seen[name] = counts_sum(results)
            if len(seen) == 3:  # every reporting commune is in exactly one of the three
                assert sum(seen.values()) == len(SITES), seen
        return check

    return {
        "Xã tốt": count("green"), "Xã suy giảm": count("degraded"), "Xã mất kết nối": count("down"),
        "Trạng thái đường truyền theo xã": lambda r: _eq(tags(r, "site"), SITE_SET),
        "Đường truyền — trạng thái mới nhất": lambda r: _eq(tags(r, "site", "link"),
                                                             {(s, x) for s in SITES for x in LINKS}),
        "Nền tảng dùng chung — trạng thái mới nhất": lambda r: _eq(tags(r, "site", "target"),
                                                                    {(s, p) for s in SITES for p in ("dvc", "qlvb")}),
        "Mức sử dụng cao nhất (so với băng thông cam kết)": empty,
        "Độ trễ cao nhất — mạng truyền số liệu chuyên dùng": lambda r: top_kind(r, "tslcd"),
        "Mất gói cao nhất — mạng truyền số liệu chuyên dùng": lambda r: top_kind(r, "tslcd"),
        "Độ trễ cao nhất — kênh thuê riêng": lambda r: top_kind(r, "leased"),
        "Mất gói cao nhất — kênh thuê riêng": lambda r: top_kind(r, "leased"),
        "Độ trễ cao nhất — mạng LAN": empty, "Mất gói cao nhất — mạng LAN": empty,
        "Mạng truyền số liệu theo xã (số liệu báo cáo sẵn sàng)": lambda r: _eq(tags(r, "site"), SITE_SET),
        "Thông lượng đo được theo xã (số liệu báo cáo sẵn sàng)": lambda r: _eq(tags(r, "site"), SITE_SET),
    }


def _eq(actual: Any, expected: Any) -> None:
    assert actual == expected


def site_expectations(reference_bps: float) -> dict[str, Callable[[dict[str, list[QuerySeries]]], None]]:
    """Site detail of commune 3 (data network shaped to 4 Mbit/s), every link."""

    def throughput(results: dict[str, list[QuerySeries]]) -> None:
        (series,) = results["A"]
        assert series.tags == {"link": "tslcd"}
        downloads = [row["download"] for row in series.rows() if row["download"] is not None]
        assert downloads and all(d == pytest.approx(reference_bps, rel=0.15) for d in downloads)

    per_link = lambda r: _eq(tags(r, "link"), {(x,) for x in LINKS})  # noqa: E731
    per_platform = lambda r: _eq(tags(r, "target"), {("dvc",), ("qlvb",)})  # noqa: E731
    return {"Trạng thái đường truyền": per_link, "Trạng thái nền tảng dùng chung": per_platform,
            "Biến động trễ (jitter)": per_link, "Tỷ lệ mất gói": per_link,
            "Mức sử dụng so với băng thông cam kết": empty, "Kiểm tra thông lượng": throughput,
            "Lỗi và gói bị loại trên cổng": empty, "Thời gian phản hồi nền tảng": per_platform}


def capacity_expectations() -> dict[str, Callable[[dict[str, list[QuerySeries]]], None]]:
    def lowest(results: dict[str, list[QuerySeries]]) -> None:
        (series,) = results["A"]
        ratios = {row["site"]: row["download_ratio"] for row in series.rows()}
        assert set(ratios) == set(SITES)
        assert min(ratios, key=lambda s: ratios[s]) == "48003"  # 4 of its contracted 100 Mbit/s

    return {"Đường truyền có phân vị 95 ≥ 80%": empty, "Đường truyền có phân vị 95 ≥ 95%": empty,
            "20 đường truyền gần chạm băng thông cam kết nhất": empty, "Phân vị 95 theo ngày": empty,
            "Phân vị 95 theo tuần": empty, "Thông lượng đo được thấp nhất so với cam kết": lowest}


def stack_expectations() -> dict[str, Callable[[dict[str, list[QuerySeries]]], None]]:
    def outbox_total(results: dict[str, list[QuerySeries]]) -> None:
        (series,) = results["A"]
        assert series.values

    return {"Tổng số kết quả chờ gửi (outbox)": outbox_total,
            "15 agent có outbox tồn đọng nhiều nhất": lambda r: _eq(table_keys(r, "site"), SITE_SET),
            "Kết quả bị bỏ do outbox đầy": lambda r: _eq(r["A"], []),  # nothing dropped
            "Lần cuối nhận heartbeat của từng agent": lambda r: _eq(tags(r, "site"), SITE_SET)}


def test_every_influx_panel_on_real_probe_data(testbed: ProvinceBed) -> None:
    boards = build_all(silent_after_seconds=SILENT_AFTER_SECONDS,
                       readiness=ReadinessConfig.model_validate(READINESS))
    province = Variable.single(PROVINCE)
    runs = [("netmon-province-overview", {"province": province}, overview_expectations()),
            ("netmon-site-detail", {"province": province, "site": Variable.single("48003"), "link": all_selected()},
             site_expectations(testbed.reference_bps["48003"])),
            ("netmon-capacity", {"province": province, "site": all_selected(), "link": all_selected()},
             capacity_expectations()),
            ("netmon-stack-health", {"province": province}, stack_expectations())]
    now_ms = time.time_ns() // 1_000_000

    def run_all() -> None:
        with InfluxQLClient(testbed.influx) as client:
            for uid, variables, expectations in runs:
                checked = set()
                for panel in panels(boards[uid]):
                    if resolved_uid(panel["datasource"]["uid"], boards[uid]) == PROMETHEUS_UID:
                        continue
                    title = panel["title"]
                    if panel.get("repeat") == "link":
                        for link in sorted(LINKS):
                            results = run_panel(client, panel, {**variables, "link": Variable.single(link)},
                                                now_ms=now_ms, range_seconds=3600)
                            if title.startswith("Lưu lượng"):
                                empty(results)  # no SNMP on this testbed
                            else:
                                (series,) = results["A"]
                                assert {r["avg"] for r in series.rows()} and all(
                                    r["min"] <= r["avg"] <= r["max"] for r in series.rows())
                    else:
                        assert title in expectations, f"{uid}: no expectation for {title!r}"
                        expectations[title](run_panel(client, panel, variables, now_ms=now_ms, range_seconds=3600))
                    checked.add(title)
                assert set(expectations) <= checked

    testbed.in_centre(run_all)


def test_every_prometheus_panel_on_the_real_collector(testbed: ProvinceBed) -> None:
    boards = build_all(silent_after_seconds=SILENT_AFTER_SECONDS)
    by_title = {p["title"]: p for b in boards.values() for p in panels(b)
                if resolved_uid(p["datasource"]["uid"], b) == PROMETHEUS_UID}
    assert set(by_title) == {"Xã im lặng", "Sự cố đang mở", "Kết quả tiếp nhận mỗi giây",
                             "Bị từ chối mỗi giây, theo lý do", "Độ sâu nhật ký tiếp nhận (journal)",
                             "Độ trễ ghi InfluxDB", f"Agent im lặng quá {SILENT_AFTER_SECONDS:g} giây"}

    def run(title: str) -> list[dict[str, Any]]:
        panel = by_title[title]
        (target,) = panel["targets"]
        expr = prom.interpolate(target["expr"], PROVINCE, panel_interval_seconds(panel, 3600))
        return prom.query(testbed.centre, testbed.prometheus_url, expr)

    (silent,) = run("Xã im lặng")
    assert silent["value"][1] == "1"  # the commune that never reported
    (listed,) = run(f"Agent im lặng quá {SILENT_AFTER_SECONDS:g} giây")
    assert (listed["metric"]["site"], listed["metric"]["name"]) == (NEVER, NAMES[NEVER])
    outcomes = {r["metric"]["outcome"]: float(r["value"][1]) for r in run("Kết quả tiếp nhận mỗi giây")}
    assert set(outcomes) == {"accepted", "duplicate", "rejected"} and outcomes["accepted"] > 1
    assert {r["metric"]["reason"] for r in run("Bị từ chối mỗi giây, theo lý do")} >= {"unauthorized"}
    assert len(run("Độ sâu nhật ký tiếp nhận (journal)")) == 1
    (lag,) = run("Độ trễ ghi InfluxDB")
    assert 0 <= float(lag["value"][1]) < 30
    # The collector's alerting engine: commune 2's slow platforms fire PlatformSlow.
    firing = {(r["metric"]["site"], r["metric"]["rule"]) for r in run("Sự cố đang mở")}
    assert {("48002", "PlatformSlow")} <= firing, firing
    assert {site for site, _ in firing} <= {*SITES, NEVER}
