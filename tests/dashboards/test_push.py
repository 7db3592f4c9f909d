"""``netmon dashboards push`` against a stand-in implementing Grafana's folder, search and
dashboard endpoints (Grafana itself is not installable here): the first push creates the
folder and the four dashboards, a second push writes nothing, a dashboard edited in Grafana is
put back, and refusals come back as one clear line."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.dashboards.build import DASHBOARD_UIDS, build_all
from netmon.dashboards.push import push
from netmon.errors import GrafanaPushError
from netmon.lab.topology import free_port
from tests.conftest import netmon_argv, netmon_env
from tests.dashboards.grafana_standin import GrafanaStandIn

TOKEN = "glsa_standin_token_0123456789"


@pytest.fixture
def grafana() -> Iterator[GrafanaStandIn]:
    with GrafanaStandIn(TOKEN) as standin:
        yield standin


def push_cli(grafana: GrafanaStandIn, tmp_path: Path, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    token_file = tmp_path / "grafana.token"
    token_file.write_text(token + "\n")
    return subprocess.run(netmon_argv("dashboards", "push", "--url", grafana.url, "--token-file", str(token_file)),
                          env=netmon_env(), capture_output=True, text=True, timeout=60)


def test_first_push_creates_folder_and_dashboards_second_push_changes_nothing(
        grafana: GrafanaStandIn, tmp_path: Path) -> None:
    first = push_cli(grafana, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == ("folder: created; created: " + ", ".join(DASHBOARD_UIDS)
                                    + "; updated: -; unchanged: -")
    assert {uid: f["title"] for uid, f in grafana.folders.items()} == {"netmon": "netmon"}
    built = build_all()
    assert set(grafana.dashboards) == set(DASHBOARD_UIDS)
    for uid, stored in grafana.dashboards.items():
        assert stored["folder_uid"] == "netmon"
        assert stored["dashboard"]["version"] == 1
        assert {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")} == built[uid]

    writes_before = len(grafana.writes())
    assert writes_before == 5  # one folder, four dashboards
    second = push_cli(grafana, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == ("folder: unchanged; created: -; updated: -; unchanged: "
                                     + ", ".join(DASHBOARD_UIDS))
    assert len(grafana.writes()) == writes_before, grafana.writes()[writes_before:]
    assert {s["dashboard"]["version"] for s in grafana.dashboards.values()} == {1}


def test_push_restores_a_dashboard_edited_in_grafana(grafana: GrafanaStandIn) -> None:
    push(grafana.url, TOKEN, build_all())
    grafana.dashboards["netmon-capacity"]["dashboard"]["title"] = "edited by hand"
    grafana.folders["netmon"]["title"] = "renamed"
    report = push(grafana.url, TOKEN, build_all())
    assert (report.folder, report.created, report.updated) == ("renamed", [], ["netmon-capacity"])
    assert report.unchanged == [u for u in DASHBOARD_UIDS if u != "netmon-capacity"]
    stored = grafana.dashboards["netmon-capacity"]["dashboard"]
    assert (stored["title"], stored["version"]) == ("netmon — Dung lượng đường truyền", 2)
    assert grafana.folders["netmon"]["title"] == "netmon"
    assert not push(grafana.url, TOKEN, build_all()).changed


def test_wrong_token_is_one_clear_line_and_nothing_written(grafana: GrafanaStandIn, tmp_path: Path) -> None:
    proc = push_cli(grafana, tmp_path, token="not-the-token")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "push failed: Grafana refused the netmon folder: Unauthorized"
    assert grafana.writes() == [] and grafana.dashboards == {}


def test_unreachable_grafana_is_reported() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(GrafanaPushError) as raised:
        push(url, TOKEN, build_all(), timeout_seconds=2)
    assert str(raised.value) == f"Grafana at {url} did not answer (the netmon folder): Connection refused"


def test_missing_token_file(tmp_path: Path) -> None:
    proc = subprocess.run(netmon_argv("dashboards", "push", "--url", "http://127.0.0.1:9", "--token-file",
                                      str(tmp_path / "absent")), env=netmon_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{tmp_path / 'absent'}: cannot read token: No such file or directory"
