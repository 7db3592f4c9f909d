"""Every dashboard builds, and its JSON is what Grafana needs: fixed uids, datasources by fixed
uid, raw InfluxQL targets, template variables, unique panel ids, a layout without overlaps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from netmon.alerting.rules import load_rules
from netmon.contract import LinkKind
from netmon.dashboards.build import DASHBOARD_UIDS, build_all
from netmon.dashboards.datasources import (
    INFLUX_REF_UID,
    INFLUX_UID,
    PROMETHEUS_REF_UID,
    PROMETHEUS_UID,
    resolved_uid,
)
from netmon.dashboards.thresholds import LINK_KIND_VI, Limit, default_limits, limits_from_rules
from tests.conftest import netmon_argv, netmon_env

EXPECTED_VARIABLES = {
    "netmon-province-overview": ["ds_influxdb", "ds_prometheus", "province"],
    "netmon-site-detail": ["ds_influxdb", "province", "site", "link"],
    "netmon-capacity": ["ds_influxdb", "province", "site", "link"],
    "netmon-stack-health": ["ds_influxdb", "ds_prometheus", "province"],
}


def all_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_every_dashboard_builds_with_its_fixed_uid() -> None:
    boards = build_all()
    assert list(boards) == list(DASHBOARD_UIDS) == [
        "netmon-province-overview", "netmon-site-detail", "netmon-capacity", "netmon-stack-health"]
    for uid, board in boards.items():
        assert board["uid"] == uid
        assert board["schemaVersion"] == 41  # Grafana 11.6, the SDK build pinned in pyproject
        assert board["title"].startswith("netmon — ")
        # Built twice, byte-identical: provisioning and push compare JSON, so it must be deterministic.
        assert json.dumps(board, sort_keys=True) == json.dumps(build_all()[uid], sort_keys=True)


def test_panels_have_unique_ids_datasources_and_queries() -> None:
    counts = {}
    for uid, board in build_all().items():
        panels = all_panels(board)
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{uid}: duplicate panel ids"
        queries = 0
        for panel in panels:
            if panel["type"] == "row":
                continue
            # panels name the dashboard's datasource variable, which selects the provisioned uid
            assert panel["datasource"]["uid"] in {INFLUX_REF_UID, PROMETHEUS_REF_UID}, (uid, panel["title"])
            source = resolved_uid(panel["datasource"]["uid"], board)
            assert source in {INFLUX_UID, PROMETHEUS_UID}, (uid, panel["title"])
            assert panel["targets"], (uid, panel["title"])
            for target in panel["targets"]:
                assert resolved_uid(target["datasource"]["uid"], board) == source, (uid, panel["title"])
                assert target["refId"]
                if source == INFLUX_UID:
                    assert target["rawQuery"] is True and target["query"].startswith("SELECT "), target
                    assert "$timeFilter" in target["query"] or "$__interval" in target["query"], target
                else:
                    assert target["expr"]
                queries += 1
        counts[uid] = queries
    # Every panel's query is run against real InfluxDB/Prometheus in test_queries.py; this pins
    # how many there are so a new panel without a query test shows up here.
    assert counts == {"netmon-province-overview": 17, "netmon-site-detail": 10, "netmon-capacity": 6,
                      "netmon-stack-health": 9}


def test_template_variables_query_tags_from_the_influx_datasource() -> None:
    for uid, board in build_all().items():
        variables = board["templating"]["list"]
        assert [v["name"] for v in variables] == EXPECTED_VARIABLES[uid]
        for variable in variables:
            if variable["type"] == "datasource":
                continue
            assert variable["type"] == "query"
            assert resolved_uid(variable["datasource"]["uid"], board) == INFLUX_UID
            assert variable["query"].startswith("SHOW TAG VALUES")
            if variable["name"] in {"site", "link"} and variable.get("multi"):
                assert variable["includeAll"] and variable["allValue"] == ".*"
        names = {v["name"] for v in variables}
        for panel in all_panels(board):
            if panel.get("repeat"):
                assert panel["repeat"] in names


def test_layout_has_no_overlapping_panels() -> None:
    for uid, board in build_all().items():
        cells: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (uid, panel["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{uid}: {panel['title']!r} overlaps {cells[(x, y)]!r}"
                    cells[(x, y)] = panel["title"]


def top_table_steps(board: dict[str, Any], title: str) -> list[float | None]:
    top = next(p for p in board["panels"] if p["title"].startswith(title))
    override = top["fieldConfig"]["overrides"][0]
    return [s["value"] for s in next(p["value"]["steps"] for p in override["properties"] if p["id"] == "thresholds")]


def panel_steps(board: dict[str, Any], title: str) -> list[float | None]:
    panel = next(p for p in all_panels(board) if p["title"] == title)
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_limits_given_colour_the_panels() -> None:
    custom = default_limits().model_copy(update={"utilisation_ratio": Limit(warning=0.7, critical=0.9)})
    board = build_all(custom)["netmon-province-overview"]
    assert top_table_steps(board, "Mức sử dụng cao nhất") == [None, 0.7, 0.9]


def test_default_dashboards_show_the_numbers_of_the_go_live_alert_rules() -> None:
    """The limits are read from alerting's rules, not copied: every coloured panel shows the
    warning and critical of the rule that alerts on the same value."""
    rules = {rule.name: rule for rule in load_rules()}
    boards = build_all()
    overview, detail = boards["netmon-province-overview"], boards["netmon-site-detail"]
    utilisation = rules["LinkUtilisationHigh"]
    assert top_table_steps(overview, "Mức sử dụng cao nhất") == [None, utilisation.warning, utilisation.critical]
    assert panel_steps(detail, "Mức sử dụng so với băng thông cam kết") == [
        None, utilisation.warning, utilisation.critical]
    platform = rules["PlatformSlow"]
    assert panel_steps(detail, "Thời gian phản hồi nền tảng") == [None, platform.warning, platform.critical]
    for kind in LinkKind:
        rtt, loss = rules["LinkRttHigh"].link_kinds[kind], rules["LinkLossHigh"].link_kinds[kind]
        assert top_table_steps(overview, f"Độ trễ cao nhất — {LINK_KIND_VI[kind]}") == [None, rtt.warning, rtt.critical]
        assert top_table_steps(overview, f"Mất gói cao nhất — {LINK_KIND_VI[kind]}") == [
            None, loss.warning, loss.critical]


def test_a_rules_file_colours_what_it_defines_and_the_go_live_rules_the_rest(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: LinkRttHigh, probe: icmp, value: rtt_avg_seconds, link_kinds: {lan: {warning: 0.03, "
        "critical: 0.2}}}\n")
    limits = limits_from_rules(load_rules(tmp_path / "rules.yaml"))
    assert limits.for_kind(LinkKind.LAN).rtt_seconds == Limit(warning=0.03, critical=0.2)
    defaults = default_limits()
    assert limits.for_kind(LinkKind.LEASED_LINE) == defaults.for_kind(LinkKind.LEASED_LINE)
    assert limits.utilisation_ratio == defaults.utilisation_ratio


def test_cli_build_writes_dashboards_and_provisioning(tmp_path: Path) -> None:
    central = tmp_path / "central.yaml"
    central.write_text("registry: sites.yaml\nexpected_ship_interval: 15s\n"
                       "influxdb: {url: 'http://10.0.0.5:8086', api: v2, org: noc, bucket: netmon, "
                       "token_file: /etc/netmon/influx.token}\n")
    out = tmp_path / "out"
    proc = subprocess.run(netmon_argv("dashboards", "build", "--out", str(out), "--config", str(central),
                                      "--prometheus-url", "http://10.0.0.6:9090"),
                          env=netmon_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["dashboards/netmon-capacity.json", "dashboards/netmon-province-overview.json",
                     "dashboards/netmon-site-detail.json", "dashboards/netmon-stack-health.json",
                     "provisioning/dashboards/netmon.yaml", "provisioning/datasources/netmon.yaml"]
    board = json.loads((out / "dashboards/netmon-province-overview.json").read_text())
    silent = next(p for p in board["panels"] if p["title"] == "Xã im lặng")
    assert "<= 90)" in silent["targets"][0]["expr"]  # 6 shipping intervals of 15 s
    provider = yaml.safe_load((out / "provisioning/dashboards/netmon.yaml").read_text())["providers"][0]
    assert provider["folderUid"] == "netmon" and provider["options"]["path"] == str((out / "dashboards").resolve())
    sources = {s["uid"]: s for s in yaml.safe_load((out / "provisioning/datasources/netmon.yaml").read_text())["datasources"]}
    assert sources[INFLUX_UID]["url"] == "http://10.0.0.5:8086"
    assert sources[INFLUX_UID]["jsonData"] == {"version": "InfluxQL", "httpMode": "POST", "dbName": "netmon",
                                               "timeInterval": "10s", "httpHeaderName1": "Authorization"}
    # The token stays in its file; Grafana reads it from there.
    assert sources[INFLUX_UID]["secureJsonData"] == {"httpHeaderValue1": "Token $__file{/etc/netmon/influx.token}"}
    assert sources[PROMETHEUS_UID]["url"] == "http://10.0.0.6:9090"
    # an existing Grafana keeps its own default datasource
    assert sources[INFLUX_UID]["isDefault"] is False and sources[PROMETHEUS_UID]["isDefault"] is False


def test_cli_build_colours_by_the_collectors_rules_file(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "include_defaults: true\nrules:\n"
        "  - {name: LinkUtilisationHigh, probe: snmp_if, value: utilisation_ratio, warning: 0.6, critical: 0.85, "
        "clear: 0.5, for: 2m}\n")
    central = tmp_path / "central.yaml"
    central.write_text("registry: sites.yaml\nalerting: {rules_file: rules.yaml}\n"
                       "influxdb: {url: 'http://127.0.0.1:8086', api: v1, database: netmon}\n")
    proc = subprocess.run(netmon_argv("dashboards", "build", "--out", str(tmp_path / "out"), "--config", str(central)),
                          env=netmon_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    board = json.loads((tmp_path / "out/dashboards/netmon-province-overview.json").read_text())
    top = next(p for p in board["panels"] if p["title"].startswith("Mức sử dụng cao nhất"))
    steps = next(p["value"]["steps"] for p in top["fieldConfig"]["overrides"][0]["properties"] if p["id"] == "thresholds")
    assert [s["value"] for s in steps] == [None, 0.6, 0.85]
    (tmp_path / "rules.yaml").write_text("rules:\n  - {name: Bad, probe: snmp_if, value: nope, warning: 1}\n")
    proc = subprocess.run(netmon_argv("dashboards", "build", "--out", str(tmp_path / "out"), "--config", str(central)),
                          env=netmon_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and f"{tmp_path / 'rules.yaml'}:2: rules[0].value: nope is not a value" in proc.stderr


def test_cli_build_reports_config_errors_with_file_and_key(tmp_path: Path) -> None:
    central = tmp_path / "central.yaml"
    central.write_text("registry: sites.yaml\ninfluxdb: {url: 'ftp://x', api: v1, database: netmon}\n")
    proc = subprocess.run(netmon_argv("dashboards", "build", "--out", str(tmp_path / "o"), "--config", str(central)),
                          env=netmon_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"{central}:2: influxdb.url: String should match pattern" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_dashboard_imported_into_another_grafana_uses_the_datasources_chosen_there() -> None:
    """Importing the JSON where the datasources have other uids: choosing them in the two pickers
    (what Grafana's import does, or what it falls back to: the first datasource of the type) moves
    every panel, target and query variable over; nothing names the provisioned uids directly."""
    chosen = {"ds_influxdb": "P951FEA4DE68E13C5", "ds_prometheus": "PBFA97CFB590B2093"}
    for uid, board in build_all().items():
        pickers = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
        assert {v["name"]: v["query"] for v in pickers} == {
            name: kind for name, kind in (("ds_influxdb", "influxdb"), ("ds_prometheus", "prometheus"))
            if name in EXPECTED_VARIABLES[uid]}
        text = json.dumps(board)
        assert text.count(f'"{INFLUX_UID}"') == 1 and text.count(f'"{PROMETHEUS_UID}"') == len(pickers) - 1, uid
        for picker in pickers:
            picker["current"] = {"selected": True, "text": "theirs", "value": chosen[picker["name"]]}
        refs = [p["datasource"] for p in all_panels(board) if p["type"] != "row"]
        refs += [t["datasource"] for p in all_panels(board) for t in p.get("targets", [])]
        refs += [v["datasource"] for v in board["templating"]["list"] if v["type"] == "query"]
        wanted = {"influxdb": chosen["ds_influxdb"], "prometheus": chosen["ds_prometheus"]}
        assert refs and all(resolved_uid(ref["uid"], board) == wanted[ref["type"]] for ref in refs), uid

