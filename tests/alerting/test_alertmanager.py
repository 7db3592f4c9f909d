"""Push to a real Alertmanager (Debian's prometheus-alertmanager on a free port): the alert shows
in ``amtool alert query`` with the right labels, is kept alive by re-sends, and resolves."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.lab.alertmanager import start_alertmanager
from netmon.lab.services import Server
from netmon.statedb import StateLocation
from tests.alerting.helpers import PROVINCE, TEAM, alerting_config, engine, registry, step, utilisation


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Server]:
    server = start_alertmanager(tmp_path / "am")
    yield server
    server.stop()


def amtool(server: Server, *matchers: str) -> list[dict[str, Any]]:
    binary = shutil.which("amtool")
    assert binary, "amtool is part of Debian's prometheus-alertmanager"
    out = subprocess.run([binary, "alert", "query", f"--alertmanager.url={server.url}", "-o", "json", *matchers],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    alerts: list[dict[str, Any]] = json.loads(out)
    return alerts


async def test_pushed_alert_appears_in_amtool_with_labels_and_resolves(alert_state: StateLocation, tmp_path: Path, alertmanager: Server) -> None:
    base = time.time() - 600  # Alertmanager judges endsAt by its own clock: keep the story in real time
    reg = registry(1)
    site = reg.sites[0]
    config = alerting_config([{"name": "am", "type": "alertmanager", "url": alertmanager.url,
                               "resend_interval": "60s"}], external_url="http://collector.test:8080")
    eng = engine(alert_state, config, reg, now=base)
    for i in range(14):
        t = base + 10 * i
        eng.observe(site, [utilisation(site.id, t, 0.97)], t)
        await step(eng, t + 1)
    [alert] = amtool(alertmanager, "alertname=LinkUtilisationHigh")
    labels = alert["labels"]
    assert labels == {"alertname": "LinkUtilisationHigh", "severity": "critical", "site": site.id,
                      "site_name": site.name, "province": PROVINCE, "district": "Biên Hòa", "team": TEAM,
                      "upstream": "dn-agg-bienhoa", "link": "leased", "link_kind": "leased_line", "target": "router",
                      "probe": "snmp_if", "value": "utilisation_ratio", "incident": labels["incident"]}
    assert alert["annotations"]["summary"] == "Đường truyền sắp hết băng thông hợp đồng"
    assert "Hiện tại: 97 % (ngưỡng 95 %)" in alert["annotations"]["description"]
    assert alert["generatorURL"] == f"http://collector.test:8080/api/v1/incidents/{labels['incident']}"
    assert alert["status"]["state"] == "active"
    # endsAt a few resend intervals ahead, so Alertmanager expires it if netmon stops
    ends = time.mktime(time.strptime(alert["endsAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert 180 < ends - time.time() <= 240 + 5
    assert amtool(alertmanager, "alertname=LinkUtilisationHigh", f"site={site.id}", "severity=critical")
    for i in range(14, 16):
        t = base + 10 * i
        eng.observe(site, [utilisation(site.id, t, 0.30)], t)
        await step(eng, t + 5)
    assert amtool(alertmanager, "alertname=LinkUtilisationHigh") == []
    await eng.aclose()
