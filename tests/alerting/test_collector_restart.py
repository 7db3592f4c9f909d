"""The real collector (``netmon collector serve``) with alerting: results posted over HTTP fire an
alert at a webhook; the collector is killed (SIGKILL) while it fires; after the restart nothing is
sent twice and the resolve still arrives. A malformed rules file stops it at start."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.alerting.service import STATE_FILE
from netmon.lab.collector import CollectorProcess, start_collector, write_central, write_registry
from netmon.lab.netns import LabError, wait_until
from netmon.lab.standins import WebhookReceiver
from tests.conftest import netmon_env

SITE = {"id": "26734", "name": "Phường Tân Phong", "province": "Đồng Nai",
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20}]}
RULES = ("rules:\n  - name: LinkUtilisationHigh\n    probe: snmp_if\n    value: utilisation_ratio\n"
         "    warning: 0.8\n    critical: 0.95\n    clear: 0.7\n    for: 3s\n")


def batch(seq: int, ratio: float) -> dict[str, Any]:
    record = {"site_id": SITE["id"], "agent_id": "26734-agent", "seq": seq, "probe": "snmp_if", "link": "leased",
              "link_kind": "leased_line", "target": "router", "time_ns": time.time_ns(), "status": "ok",
              "values": {"utilisation_ratio": ratio, "contracted_bps": 20e6}}
    return {"site_id": SITE["id"], "agent_id": "26734-agent", "results": [record]}


@pytest.fixture
def setup(tmp_path: Path, hook: WebhookReceiver) -> Iterator[tuple[Path, WebhookReceiver]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    registry = write_registry(tmp_path / "sites.yaml", [SITE],
                              provinces=[{"name": "Đồng Nai", "default_team": "rrt-dong-nai"}])
    central = write_central(tmp_path, registry, alerting={
        "rules_file": str(rules), "group_wait": "1s",
        "channels": [{"name": "hook", "type": "webhook", "url": hook.url}],
        "teams": [{"name": "rrt-dong-nai", "channels": ["hook"]}]})
    yield central, hook


def post(collector: CollectorProcess, token: str, seq: int, ratio: float) -> None:
    status, answer = collector.post_batch(token, batch(seq, ratio))
    assert status == 200, answer


def delivered(collector: CollectorProcess) -> int:
    """Deliveries the collector has recorded as sent, from its alert state (SQLite in WAL mode: a
    reader beside the running collector)."""
    with contextlib.closing(sqlite3.connect(f"file:{collector.state_dir / STATE_FILE}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM deliveries WHERE delivered_at IS NOT NULL").fetchone()[0])


def firing_series(collector: CollectorProcess) -> set[tuple[str, ...]]:
    exposed = collector.read("/metrics")[2].decode()
    return {(s.labels["site"], s.labels["rule"], s.labels["severity"], s.labels["link"], s.labels["target"])
            for family in text_string_to_metric_families(exposed) if family.name == "netmon_alerts_firing"
            for s in family.samples if s.value == 1.0}


def test_collector_killed_while_firing(setup: tuple[Path, WebhookReceiver]) -> None:
    central, hook = setup
    collector = start_collector(central)
    try:
        token = collector.enrol(SITE["id"])
        seq = 1
        while not hook.bodies():
            post(collector, token, seq, 0.97)
            seq += 1
            time.sleep(0.5)
            assert seq < 40, "no firing message"
        assert [b["status"] for b in hook.bodies()] == ["firing"]
        # the alerting extension exports what fires on the collector's /metrics (the province dashboard reads it)
        assert firing_series(collector) == {(SITE["id"], "LinkUtilisationHigh", "critical", "leased", "router")}
        # killed once the collector has recorded the delivery: between the receiver's answer and that
        # commit, a SIGKILL means "not known to be sent" and the message goes out again by design (at
        # least once, 1 CI run in 4 hit that window); it is not what this test is about
        wait_until(lambda: delivered(collector) == 1, 10, interval=0.05, what="the delivery to be recorded")
        collector.kill()
        collector.restart()
        for _ in range(10):  # still saturated, 5 s after the restart: nothing new to say
            post(collector, token, seq, 0.97)
            seq += 1
            time.sleep(0.5)
        assert [b["status"] for b in hook.bodies()] == ["firing"]
        post(collector, token, seq, 0.3)
        wait_until(lambda: len(hook.bodies()) == 2, 15, what="the resolve")
        time.sleep(2)
        bodies = hook.bodies()
        assert [b["status"] for b in bodies] == ["firing", "resolved"]
        assert bodies[0]["alerts"][0]["fingerprint"] == bodies[1]["alerts"][0]["fingerprint"]
        listed = collector.get_json("/api/v1/incidents?state=all")["incidents"]
        assert [(i["rule"], i["status"]) for i in listed] == [("LinkUtilisationHigh", "resolved")]
    finally:
        collector.stop()


def test_malformed_rules_file_stops_the_collector_at_start(setup: tuple[Path, WebhookReceiver]) -> None:
    central, _ = setup
    rules = central.parent / "rules.yaml"
    rules.write_text(RULES.replace("    for: 3s", "    fro: 3s"))
    argv = [sys.executable, "-m", "netmon", "collector", "serve", "--config", str(central)]
    out = subprocess.run(argv, capture_output=True, text=True, env=netmon_env(), timeout=60)
    assert out.returncode != 0
    assert f"{rules}:8: rules[0].fro: unknown key" in out.stderr + out.stdout
    with pytest.raises(LabError):
        start_collector(central, ready_timeout=10)
