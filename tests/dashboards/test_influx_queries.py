"""Every InfluxQL panel of every dashboard, run against real InfluxDB holding a province whose
numbers are known (``dataset``), with the variables substituted as Grafana does: each returns
the series a NOC engineer should see — the right communes, links and values, and nothing from
another province or from a site whose id only looks alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from netmon.config.central import InfluxConfig
from netmon.dashboards.build import build_all
from netmon.dashboards.influx import InfluxQLClient, QuerySeries
from netmon.dashboards.templating import Variable, interpolate
from tests.dashboards import dataset as d
from tests.dashboards.grafana_run import influx_panels, run_panel
from tests.dashboards.selections import all_selected, several

Results = dict[str, list[QuerySeries]]
HOUR = 3600.0


def one_value(results: Results, column: str) -> float:
    (series,) = results["A"]
    (row,) = series.rows()
    return float(row[column])


def by_tags(results: Results, *keys: str) -> dict[tuple[str, ...], QuerySeries]:
    out = {tuple(s.tags[k] for k in keys): s for s in results["A"]}
    assert len(out) == len(results["A"]), "series repeated"
    return out


def column_values(series: QuerySeries, column: str) -> set[float]:
    return {round(float(r[column]), 6) for r in series.rows() if r[column] is not None}


def table(results: Results, value: str, *keys: str) -> dict[tuple[str, ...], float]:
    """A top()/bottom() result: one series whose rows carry tags as columns."""
    (series,) = results["A"]
    return {tuple(r[k] for k in keys): round(float(r[value]), 6) for r in series.rows()}


HCM_LINKS = {(s, link) for s in d.HCM_SITES for link in d.LINKS}
SNMP_LINKS = {(s, link) for s in d.HCM_SITES for link in d.CONTRACTED_BPS}


def overview_checks() -> dict[str, Callable[[Results], None]]:
    def timeline(r: Results) -> None:
        series = by_tags(r, "site")
        assert set(series) == {(s,) for s in d.HCM_SITES}
        for (site,), s in series.items():
            assert column_values(s, "max") == {1 if site == d.DEGRADED else 2 if site == d.DOWN else 0}
            assert 20 <= len(s.values) <= 22  # 20 minutes of data in 1-minute buckets, empty ones not filled

    def links_matrix(r: Results) -> None:
        series = by_tags(r, "site", "link")
        assert set(series) == HCM_LINKS
        worst = {k: v for k, v in ((k, one(s, "status")) for k, s in series.items()) if v}
        assert worst == {(d.DEGRADED, "tslcd"): 1, (d.DOWN, "tslcd"): 2}

    def platform_matrix(r: Results) -> None:
        series = by_tags(r, "site", "target")
        assert set(series) == {(s, p) for s in d.HCM_SITES for p in d.PLATFORMS}
        assert {k for k, s in series.items() if one(s, "status")} == {(d.DEGRADED, "qlvb")}

    def utilisation(r: Results) -> None:
        rows = table(r, "utilisation", "site", "link")
        assert set(rows) == SNMP_LINKS
        assert rows[(d.DOWN, "leased")] == 0.97 and rows[(d.DEGRADED, "tslcd")] == 0.85
        assert sorted(rows.values(), reverse=True)[:2] == [0.97, 0.85]

    def rtt(kind: str, expected: dict[str, float]) -> Callable[[Results], None]:
        def check(r: Results) -> None:
            rows = table(r, "rtt", "site", "link")
            assert rows == {(s, kind): v for s, v in expected.items()}
        return check

    def loss(kind: str, expected: dict[str, float]) -> Callable[[Results], None]:
        def check(r: Results) -> None:
            assert table(r, "loss", "site", "link") == {(s, kind): v for s, v in expected.items()}
        return check

    def readiness_network(r: Results) -> None:
        rows = {k: s.rows()[0] for (k,), s in by_tags(r, "site").items()}
        assert set(rows) == set(d.HCM_SITES)
        assert {k: (v["rtt_seconds"], round(v["loss_ratio"], 6), v["cycles"]) for k, v in rows.items()} == {
            d.GOOD: (0.012, 0.0, 40), d.DEGRADED: (0.07, 0.02, 40), d.DOWN: (None, 1.0, 40),
            d.DOTTED: (0.012, 0.0, 40), d.DECOY: (0.012, 0.0, 40)}

    def readiness_throughput(r: Results) -> None:
        rows = {k: s.rows()[0] for (k,), s in by_tags(r, "site").items()}
        assert {k: (v["download_bps"], v["tests"]) for k, v in rows.items()} == {
            d.GOOD: (95e6, 2), d.DEGRADED: (40e6, 2), d.DOTTED: (90e6, 2), d.DECOY: (90e6, 2)}

    all_sites = dict.fromkeys(d.HCM_SITES, 0.0)
    return {
        "Mạng truyền số liệu theo xã (số liệu báo cáo sẵn sàng)": readiness_network,
        "Thông lượng đo được theo xã (số liệu báo cáo sẵn sàng)": readiness_throughput,
        "Xã tốt": lambda r: _eq(one_value(r, "sites"), 3),
        "Xã suy giảm": lambda r: _eq(one_value(r, "sites"), 1),
        "Xã mất kết nối": lambda r: _eq(one_value(r, "sites"), 1),
        "Trạng thái đường truyền theo xã": timeline,
        "Đường truyền — trạng thái mới nhất": links_matrix,
        "Nền tảng dùng chung — trạng thái mới nhất": platform_matrix,
        "Mức sử dụng cao nhất (so với băng thông cam kết)": utilisation,
        "Độ trễ cao nhất — mạng truyền số liệu chuyên dùng": rtt(
            "tslcd", {s: 0.07 if s == d.DEGRADED else 0.012 for s in d.HCM_SITES if s != d.DOWN}),
        "Mất gói cao nhất — mạng truyền số liệu chuyên dùng": loss(
            "tslcd", {**all_sites, d.DEGRADED: 0.02, d.DOWN: 1.0}),
        "Độ trễ cao nhất — kênh thuê riêng": rtt("leased", dict.fromkeys(d.HCM_SITES, 0.03)),
        "Mất gói cao nhất — kênh thuê riêng": loss("leased", all_sites),
        "Độ trễ cao nhất — mạng LAN": rtt("lan", dict.fromkeys(d.HCM_SITES, 0.0005)),
        "Mất gói cao nhất — mạng LAN": loss("lan", all_sites),
    }


def one(series: QuerySeries, column: str) -> float:
    (row,) = series.rows()
    return float(row[column])


def _eq(actual: float, expected: float) -> None:
    assert actual == expected


def site_checks() -> dict[str, Callable[[Results], None]]:
    """Site detail for the degraded commune, every link selected."""

    def per_link(column: str, expected: dict[str, float]) -> Callable[[Results], None]:
        def check(r: Results) -> None:
            series = by_tags(r, "link")
            assert {k: column_values(s, column) for (k,), s in series.items()} == {
                k: {v} for k, v in expected.items()}
        return check

    def throughput(r: Results) -> None:
        series = by_tags(r, "link")
        assert set(series) == {("tslcd",)}
        rows = series[("tslcd",)].rows()
        assert len(rows) == 2  # the two tests of the last hour, each in its own bucket
        assert {(row["download"], round(row["upload"])) for row in rows} == {(40e6, 36e6)}

    return {
        "Trạng thái đường truyền": per_link("max", {"lan": 0, "leased": 0, "tslcd": 1}),
        "Trạng thái nền tảng dùng chung": lambda r: _eq_map(
            {k: column_values(s, "max") for (k,), s in by_tags(r, "target").items()}, {"dvc": {0}, "qlvb": {2}}),
        "Biến động trễ (jitter)": per_link("mean", {"lan": 0.002, "leased": 0.002, "tslcd": 0.015}),
        "Tỷ lệ mất gói": per_link("mean", {"lan": 0.0, "leased": 0.0, "tslcd": 0.02}),
        "Mức sử dụng so với băng thông cam kết": per_link("max", {"leased": 0.3, "tslcd": 0.85}),
        "Kiểm tra thông lượng": throughput,
        "Lỗi và gói bị loại trên cổng": per_link("in_errors", {"leased": 0.5, "tslcd": 0.5}),
        "Thời gian phản hồi nền tảng": lambda r: _eq_map(
            {k: column_values(s, "mean") for (k,), s in by_tags(r, "target").items()}, {"dvc": {0.25}}),
    }


def _eq_map(actual: dict[Any, Any], expected: dict[Any, Any]) -> None:
    assert actual == expected


def site_repeated_checks(link: str) -> dict[str, Callable[[Results], None]]:
    """Panels repeated per link: Grafana runs them once per link with $link set to that link."""
    rtt = {"lan": 0.0005, "leased": 0.03, "tslcd": 0.07}[link]

    def band(r: Results) -> None:
        (series,) = r["A"]
        assert series.tags == {}
        for row in series.rows():
            assert (round(row["min"], 6), round(row["avg"], 6), round(row["max"], 6)) == (
                round(rtt * 0.8, 6), rtt, round(rtt * 1.5, 6))

    def traffic(r: Results) -> None:
        if link == "lan":
            assert r["A"] == []  # the office LAN has no SNMP-polled uplink port
            return
        (series,) = r["A"]
        util = 0.85 if link == "tslcd" else 0.30
        contracted = d.CONTRACTED_BPS[link]
        assert {(round(x["in"]), round(x["out"]), x["contracted"]) for x in series.rows()} == {
            (round(util * contracted), round(util * contracted / 2), contracted)}

    return {"Độ trễ $link (min / trung bình / max)": band,
            "Lưu lượng $link so với băng thông cam kết": traffic}


def capacity_checks() -> dict[str, Callable[[Results], None]]:
    def closest(r: Results) -> None:
        rows = table(r, "p95", "site", "link")
        assert set(rows) == SNMP_LINKS
        assert rows[(d.DOWN, "leased")] == 0.97 and rows[(d.DEGRADED, "tslcd")] == 0.85
        (series,) = r["A"]
        first = max(series.rows(), key=lambda x: x["p95"])
        assert (first["site"], first["peak"], first["contracted_bps"]) == (d.DOWN, 0.97, 20e6)

    def trend(buckets: tuple[int, int]) -> Callable[[Results], None]:
        def check(r: Results) -> None:
            series = by_tags(r, "site", "link")
            assert set(series) == SNMP_LINKS
            for key, s in series.items():
                assert buckets[0] <= len(s.values) <= buckets[1], key
                expected = {0.97 if key == (d.DOWN, "leased") else 0.85 if key == (d.DEGRADED, "tslcd")
                            else 0.0 if key == (d.DOWN, "tslcd") else 0.3}
                assert column_values(s, "percentile") == expected
        return check

    def throughput(r: Results) -> None:
        rows = table(r, "download_ratio", "site", "link")
        assert rows == {(d.GOOD, "tslcd"): 0.95, (d.DEGRADED, "tslcd"): 0.4, (d.DOTTED, "tslcd"): 0.9,
                        (d.DECOY, "tslcd"): 0.9}

    return {
        "Đường truyền có phân vị 95 ≥ 80%": lambda r: _eq(one_value(r, "links"), 2),
        "Đường truyền có phân vị 95 ≥ 95%": lambda r: _eq(one_value(r, "links"), 1),
        "20 đường truyền gần chạm băng thông cam kết nhất": closest,
        "Phân vị 95 theo ngày": trend((3, 4)),  # 71 hours of hourly samples: 3 or 4 calendar days
        "Phân vị 95 theo tuần": trend((1, 2)),
        "Thông lượng đo được thấp nhất so với cam kết": throughput,
    }


def stack_checks() -> dict[str, Callable[[Results], None]]:
    def outbox_total(r: Results) -> None:
        (series,) = r["A"]
        assert column_values(series, "queued") == {100.0}

    def outbox_top(r: Results) -> None:
        (series,) = r["A"]
        rows = {row["site"]: row for row in series.rows()}
        assert set(rows) == set(d.HCM_SITES)
        assert (rows[d.DOWN]["queued"], rows[d.DOWN]["oldest_age_seconds"], rows[d.DOWN]["dropped_total"]) == (
            100, 600, 7)

    def drops(r: Results) -> None:
        assert {k: one(s, "dropped") for k, s in by_tags(r, "site").items()} == {(d.DOWN,): 7.0}

    def heartbeat(r: Results) -> None:
        assert {k: one(s, "uptime_seconds") for k, s in by_tags(r, "site").items()} == {
            (s,): 3600.0 for s in d.HCM_SITES}

    return {"Tổng số kết quả chờ gửi (outbox)": outbox_total, "15 agent có outbox tồn đọng nhiều nhất": outbox_top,
            "Kết quả bị bỏ do outbox đầy": drops, "Lần cuối nhận heartbeat của từng agent": heartbeat}


HCM = Variable.single(d.PROVINCE)
DASHBOARD_RUNS = {
    "netmon-province-overview": ({"province": HCM}, HOUR, overview_checks),
    "netmon-site-detail": ({"province": HCM, "site": Variable.single(d.DEGRADED), "link": all_selected()}, HOUR,
                           site_checks),
    "netmon-capacity": ({"province": HCM, "site": all_selected(), "link": all_selected()}, 30 * 24 * HOUR,
                        capacity_checks),
    "netmon-stack-health": ({"province": HCM}, HOUR, stack_checks),
}


@pytest.mark.parametrize("uid", list(DASHBOARD_RUNS))
def test_every_influx_panel_returns_the_expected_series(uid: str, influx_client: InfluxQLClient,
                                                        loaded: tuple[InfluxConfig, int]) -> None:
    variables, range_seconds, checks_for = DASHBOARD_RUNS[uid]
    checks = checks_for()
    now_ms = loaded[1] + 1000  # a refresh one second after the last write
    board = build_all()[uid]
    seen = set()
    for panel in influx_panels(board):
        title = panel["title"]
        if panel.get("repeat") == "link":
            for link in d.LINKS:
                results = run_panel(influx_client, panel, {**variables, "link": Variable.single(link)},
                                    now_ms=now_ms, range_seconds=range_seconds)
                site_repeated_checks(link)[title](results)
        else:
            assert title in checks, f"{uid}: panel {title!r} has no expected result in this test"
            results = run_panel(influx_client, panel, variables, now_ms=now_ms, range_seconds=range_seconds)
            checks[title](results)
        seen.add(title)
    assert set(checks) <= seen, f"{uid}: checks for panels that no longer exist: {set(checks) - seen}"


def test_multi_value_selection_is_escaped_like_grafana(influx_client: InfluxQLClient,
                                                       loaded: tuple[InfluxConfig, int]) -> None:
    """Two communes picked, one with a dot in its id: exactly those two, never the look-alike."""
    board = build_all()["netmon-capacity"]
    (panel,) = [p for p in influx_panels(board) if p["title"] == "Phân vị 95 theo ngày"]
    variables = {"province": HCM, "site": several([d.DOTTED, d.GOOD]), "link": Variable.single("tslcd")}
    results = run_panel(influx_client, panel, variables, now_ms=loaded[1] + 1000, range_seconds=30 * 24 * HOUR)
    assert set(by_tags(results, "site", "link")) == {(d.DOTTED, "tslcd"), (d.GOOD, "tslcd")}
    assert "/^(26740\\.2|26734)$/" in interpolate(panel["targets"][0]["query"], variables, time_from_ms=0,
                                                  time_to_ms=1, interval_seconds=60)


def test_template_variable_queries_list_the_right_tag_values(influx_client: InfluxQLClient) -> None:
    board = build_all()["netmon-site-detail"]
    variables = {v["name"]: v["query"] for v in board["templating"]["list"]}

    def values(name: str, selection: dict[str, Variable]) -> set[str]:
        query = interpolate(variables[name], selection, time_from_ms=0, time_to_ms=1, interval_seconds=60)
        return {row[1] for series in influx_client.query(query) for row in series.values}

    assert values("province", {}) == {d.PROVINCE, d.OTHER_PROVINCE}
    assert values("site", {"province": HCM}) == set(d.HCM_SITES)
    assert values("site", {"province": Variable.single(d.OTHER_PROVINCE)}) == {d.ELSEWHERE}
    assert values("link", {"site": Variable.single(d.DEGRADED)}) == set(d.LINKS)
