"""The readiness report on the known province (real InfluxDB): exactly the communes that miss a
requirement are not ready, each with the measured value; the HTML is one self-contained file
that headless Chromium renders with its chart; the API answers the same as the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from netmon.config.central import CentralConfig, InfluxConfig
from netmon.config.readiness import ReadinessConfig
from netmon.config.registry import Registry
from netmon.dashboards.readiness.api import make_router
from netmon.dashboards.readiness.model import ReadinessReport
from netmon.dashboards.readiness.render import render
from netmon.dashboards.readiness.report import build_report
from tests.conftest import IN_CI, netmon_argv, netmon_env
from tests.dashboards import dataset as d

NAMES = {d.GOOD: "Phường Sài Gòn", d.DEGRADED: "Phường Bến Thành", d.DOWN: "Xã Cần Giờ", d.DOTTED: "Phường Thủ Đức",
         d.DECOY: "Xã Bình Chánh", "26799": "Xã Thạnh An", d.ELSEWHERE: "Phường Phước Tân"}
# Judge the last 15 minutes in 1-minute buckets: the dataset holds 20 minutes of results.
CONFIG = {"window": "15m", "reporting": {"bucket": "1m"}}


def registry() -> Registry:
    return Registry.model_validate({"sites": [
        {"id": site, "name": name, "province": d.province_of(site) if site != "26799" else d.PROVINCE}
        for site, name in NAMES.items()]})


def report_now(loaded: tuple[InfluxConfig, int], config: dict[str, object] | None = None) -> ReadinessReport:
    now = dt.datetime.fromtimestamp(loaded[1] / 1000 + 1, dt.UTC)
    return build_report(loaded[0], d.PROVINCE, ReadinessConfig.model_validate(config or CONFIG), registry=registry(),
                        now=now)


def test_exactly_the_communes_missing_a_requirement_are_not_ready(loaded: tuple[InfluxConfig, int]) -> None:
    report = report_now(loaded)
    assert (report.summary.sites, report.summary.ready, report.summary.ready_ratio) == (6, 3, 0.5)
    assert {s.site_id for s in report.sites if s.ready} == {d.GOOD, d.DOTTED, d.DECOY}
    assert {n.site_id: n.reasons for n in report.not_ready} == {
        d.DEGRADED: ["Độ trễ mạng truyền số liệu (p95): 70 ms, yêu cầu ≤ 50 ms",
                     "Mất gói mạng truyền số liệu: 2,0 %, yêu cầu ≤ 1,0 %",
                     "Truy cập thành công nền tảng qlvb: 0,0 %, yêu cầu ≥ 95,0 %"],
        d.DOWN: ["Mất gói mạng truyền số liệu: 100,0 %, yêu cầu ≤ 1,0 %",
                 "Thông lượng tải xuống (họp trực tuyến): không có số liệu trong 15 phút qua",
                 "Thông lượng tải lên (họp trực tuyến): không có số liệu trong 15 phút qua"],
        "26799": ["Không có số liệu nào trong 15 phút qua: máy đo chưa lắp đặt, mất điện hoặc không gửi được "
                  "số liệu về trung tâm"],
    }
    good = {c.key: c for c in next(s for s in report.sites if s.site_id == d.GOOD).checks}
    assert {k: (round(c.measured, 9) if c.measured is not None else None, c.passed) for k, c in good.items()} == {
        "data_network.rtt": (0.012, True), "data_network.jitter": (0.002, True), "data_network.loss": (0.0, True),
        "throughput.download": (95e6, True), "throughput.upload": (85.5e6, True),
        "platform.dvc.reachable": (1.0, True), "platform.dvc.response": (0.25, True),
        "platform.qlvb.reachable": (1.0, True), "platform.qlvb.response": (0.4, True), "reporting": (1.0, True)}
    assert d.ELSEWHERE not in {s.site_id for s in report.sites}


def test_requirements_come_from_the_config(loaded: tuple[InfluxConfig, int]) -> None:
    stricter = {**CONFIG, "data_network": {"max_rtt": "10ms"}, "throughput": {"min_download_mbps": 92},
                "platforms": {"required": ["dvc", "dichvucong"]}}
    report = report_now(loaded, stricter)
    assert report.summary.ready == 0
    good = next(n for n in report.not_ready if n.site_id == d.GOOD)
    assert good.reasons == ["Độ trễ mạng truyền số liệu (p95): 12 ms, yêu cầu ≤ 10 ms",
                            "Truy cập thành công nền tảng dichvucong: không có số liệu trong 15 phút qua",
                            "Thời gian phản hồi nền tảng dichvucong (p95): không có số liệu trong 15 phút qua"]
    dotted = next(n for n in report.not_ready if n.site_id == d.DOTTED)
    assert "Thông lượng tải xuống (họp trực tuyến): 90,0 Mbit/s, yêu cầu ≥ 92,0 Mbit/s" in dotted.reasons


def test_lines_full_of_their_contract_fail_and_an_unrun_test_can_be_left_out(loaded: tuple[InfluxConfig, int]
                                                                              ) -> None:
    """``utilisation`` (opt in): no line above 80 % of its contracted rate at p95, per link, from
    SNMP; ``throughput: null``: a province that runs no throughput test is not judged on one."""
    report = report_now(loaded, {**CONFIG, "throughput": None, "utilisation": {"max_ratio": 0.8}})
    assert {s.site_id for s in report.sites if s.ready} == {d.GOOD, d.DOTTED, d.DECOY}
    reasons = {n.site_id: n.reasons for n in report.not_ready}
    assert reasons[d.DEGRADED] == [
        "Độ trễ mạng truyền số liệu (p95): 70 ms, yêu cầu ≤ 50 ms", "Mất gói mạng truyền số liệu: 2,0 %, yêu cầu ≤ 1,0 %",
        "Mức sử dụng đường truyền tslcd so với băng thông hợp đồng (p95): 85,0 %, yêu cầu ≤ 80,0 %",
        "Truy cập thành công nền tảng qlvb: 0,0 %, yêu cầu ≥ 95,0 %"]
    assert reasons[d.DOWN] == [
        "Mất gói mạng truyền số liệu: 100,0 %, yêu cầu ≤ 1,0 %",
        "Mức sử dụng đường truyền leased so với băng thông hợp đồng (p95): 97,0 %, yêu cầu ≤ 80,0 %"]
    good = {c.key: c.measured for c in next(s for s in report.sites if s.site_id == d.GOOD).checks}
    assert not any(key.startswith("throughput.") for key in good)
    assert (good["utilisation.leased"], good["utilisation.tslcd"]) == (0.30, 0.30)
    html = render(report, "html")
    assert "<th>Sử dụng leased</th><th>Sử dụng tslcd</th>" in html and "<th>Tải xuống</th>" not in html
    assert "Đường truyền không quá tải: mức sử dụng p95" in html and "Thông lượng đo được" not in html


def test_json_and_csv(loaded: tuple[InfluxConfig, int]) -> None:
    report = report_now(loaded)
    assert ReadinessReport.model_validate_json(render(report, "json")) == report
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [r["site_id"] for r in rows] == [s.site_id for s in report.sites]
    by_site = {r["site_id"]: r for r in rows}
    assert by_site[d.DEGRADED]["ready"] == "0" and by_site[d.DEGRADED]["data_network.rtt"] == "0.07"
    assert by_site[d.DEGRADED]["data_network.rtt_passed"] == "0"
    assert by_site[d.GOOD]["ready"] == "1" and by_site[d.GOOD]["throughput.download"] == "9.5e+07"
    assert by_site["26799"]["data_network.rtt"] == ""


def chromium_screenshot(html: Path, png: Path, width: int, height: int) -> None:
    binary = shutil.which("chromium")
    if binary is None:
        if IN_CI:
            pytest.fail("chromium is missing: scripts/install-system-deps.sh installs it")
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="netmon-chromium-") as profile:
        proc = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}",
             html.resolve().as_uri()], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0 and png.exists(), proc.stderr[-2000:]


def test_html_is_self_contained_and_renders_its_chart(loaded: tuple[InfluxConfig, int], tmp_path: Path) -> None:
    html = render(report_now(loaded), "html")
    lowered = html.lower()
    for external in ("<script", "<link", "src=", "url(", "@import"):
        assert external not in lowered, external
    assert '<html lang="vi">' in html and "Báo cáo sẵn sàng vận hành" in html
    assert "<h2>Các xã chưa đạt và lý do</h2>" in html and "Xã Cần Giờ" in html
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "report.png"
    chromium_screenshot(page, png, 1280, 1800)
    if os.environ.get("NETMON_KEEP_SCREENSHOT"):
        shutil.copy(png, os.environ["NETMON_KEEP_SCREENSHOT"])
    image = Image.open(png).convert("RGB")
    assert image.size == (1280, 1800)
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200  # text, table and chart, not a blank or error page
    counts = {rgb: n for n, rgb in colours}
    # The donut and the bars: 3 of 6 communes ready, so both colours fill large areas.
    assert counts.get((0x2E, 0x7D, 0x32), 0) > 5000, "green (ready) missing from the chart"
    assert counts.get((0xC6, 0x28, 0x28), 0) > 5000, "red (not ready) missing from the chart"
    # Top-left is the title text on white, not Chromium's error page.
    assert image.getpixel((5, 5)) == (255, 255, 255)


def open_access(role: object) -> object:
    """Who may read is the collector's to say (tested with it in test_the_real_collector_serves_readiness...)."""
    return lambda: None


def test_api_answers_like_the_cli(loaded: tuple[InfluxConfig, int], tmp_path: Path) -> None:
    central = CentralConfig(registry="sites.yaml", influxdb=loaded[0], readiness=ReadinessConfig.model_validate(CONFIG))
    app = FastAPI()
    app.include_router(make_router(lambda: central, registry, open_access))
    client = TestClient(app)
    answer = client.get("/api/v1/readiness", params={"province": d.PROVINCE})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["summary"]["ready"], body["summary"]["sites"]) == (3, 6)
    assert {n["site_id"] for n in body["not_ready"]} == {d.DEGRADED, d.DOWN, "26799"}
    as_csv = client.get("/api/v1/readiness", params={"province": d.PROVINCE, "format": "csv"})
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8" and as_csv.text.count("\n") == 7
    as_html = client.get("/api/v1/readiness", params={"province": d.PROVINCE, "format": "html"})
    assert as_html.headers["content-type"] == "text/html; charset=utf-8" and "Xã Thạnh An" in as_html.text
    unknown = client.get("/api/v1/readiness", params={"province": "Atlantis"})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no site of province 'Atlantis' in the registry; "
                                        "provinces: Hồ Chí Minh, Đồng Nai"}
    missing = client.get("/api/v1/readiness")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "province"]
    bad_format = client.get("/api/v1/readiness", params={"province": d.PROVINCE, "format": "pdf"})
    assert bad_format.status_code == 422 and bad_format.json()["detail"][0]["loc"] == ["query", "format"]
    embedded = FastAPI()  # a collector running on SQLite alone
    embedded.include_router(make_router(lambda: CentralConfig(registry="sites.yaml"), registry, open_access))
    no_tsdb = TestClient(embedded).get("/api/v1/readiness", params={"province": d.PROVINCE})
    assert no_tsdb.status_code == 503
    assert no_tsdb.json() == {"detail": "the readiness report reads InfluxDB, and this collector has none configured"}

    # The CLI on the same data and configuration.
    (tmp_path / "sites.yaml").write_text(yaml.safe_dump(registry().model_dump(mode="json", exclude_none=True),
                                                        allow_unicode=True), encoding="utf-8")
    config_file = tmp_path / "central.yaml"
    config_file.write_text(yaml.safe_dump({"registry": "sites.yaml", "state_dir": str(tmp_path),
                                           "influxdb": loaded[0].model_dump(mode="json", exclude_none=True),
                                           "readiness": CONFIG}, allow_unicode=True), encoding="utf-8")
    proc = subprocess.run(netmon_argv("readiness", "report", "--province", d.PROVINCE, "--format", "json",
                                      "--config", str(config_file)), env=netmon_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    assert cli["summary"] == body["summary"] and cli["not_ready"] == body["not_ready"]


def test_cli_errors_name_the_problem(tmp_path: Path, loaded: tuple[InfluxConfig, int]) -> None:
    (tmp_path / "sites.yaml").write_text(yaml.safe_dump(registry().model_dump(mode="json", exclude_none=True),
                                                        allow_unicode=True), encoding="utf-8")
    config_file = tmp_path / "central.yaml"
    config_file.write_text(yaml.safe_dump({"registry": "sites.yaml",
                                           "influxdb": loaded[0].model_dump(mode="json", exclude_none=True),
                                           "readiness": {"window": "forever"}}), encoding="utf-8")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(netmon_argv("readiness", "report", "--config", str(config_file), *extra),
                              env=netmon_env(), capture_output=True, text=True, timeout=60)

    proc = run("--province", d.PROVINCE)
    assert proc.returncode == 1
    assert f"{config_file}:" in proc.stderr and "readiness.window: expected a duration" in proc.stderr
    config_file.write_text(config_file.read_text().replace("forever", "15m"))
    proc = run("--province", "Atlantis")
    assert proc.returncode == 1
    assert "no site of province 'Atlantis' in the registry; provinces: Hồ Chí Minh, Đồng Nai" in proc.stderr


def test_the_real_collector_serves_readiness_and_the_metrics_dashboards_read(
        loaded: tuple[InfluxConfig, int], tmp_path: Path) -> None:
    """``netmon collector serve`` with its default extensions: the readiness API answers from the
    collector's own config and registry, and /metrics carries every name a dashboard queries."""
    from netmon.dashboards import prometheus as prom
    from netmon.lab.collector import sample_batch, start_collector, write_central, write_registry

    sites = [s.model_dump(mode="json", exclude_none=True) for s in registry().sites]
    config = write_central(tmp_path, write_registry(tmp_path / "sites.yaml", sites),
                           influx=loaded[0].model_dump(mode="json", exclude_none=True), readiness=CONFIG)
    with start_collector(config) as collector:
        # The InfluxDB is the session's dataset, shared with the dashboard query tests: results of
        # the other province's commune change none of the figures those expect for Hồ Chí Minh.
        token = collector.enrol(d.ELSEWHERE)
        status, _ = collector.post_batch(token, sample_batch(d.ELSEWHERE, range(1, 11)))
        assert status == 200
        assert collector.post_batch("wrong-token", sample_batch(d.ELSEWHERE, [11]))[0] == 401
        path = "/api/v1/readiness?province=" + urllib.parse.quote(d.PROVINCE)
        assert collector.request("GET", path)[0] == 401  # the report runs InfluxDB queries: a viewer's
        status, _, body = collector.read(path, timeout=30)
        assert status == 200, body[:300]
        answer = json.loads(body)
        assert (answer["summary"]["sites"], answer["summary"]["ready"]) == (6, 3)
        assert {n["site_id"] for n in answer["not_ready"]} == {d.DEGRADED, d.DOWN, "26799"}
        assert collector.read("/api/v1/readiness?province=Atlantis")[0] == 404
        schema = json.loads(collector.read("/openapi.json")[2])
        assert "/api/v1/readiness" in schema["paths"]
        exposed = collector.read("/metrics")[2].decode()
    samples = {line.split("{")[0].split(" ")[0] for line in exposed.splitlines() if line and not line.startswith("#")}
    # A family with no sample yet (no alert firing) is still declared by its TYPE line.
    declared = {line.split(" ")[2] for line in exposed.splitlines() if line.startswith("# TYPE ")}
    assert set(prom.COLLECTOR_METRICS) <= samples | declared, set(prom.COLLECTOR_METRICS) - samples - declared
    assert "# TYPE netmon_alerts_firing gauge" in exposed
