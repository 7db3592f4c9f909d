"""Every go-live default rule fires on a bad result pattern and resolves on a good one, through the
engine (real ResultRecords, real SQLite), and the agent heartbeat tells "link down" from "site silent"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netmon.alerting.engine import AlertEngine
from netmon.contract import LinkKind, ProbeKind, Status
from netmon.statedb import StateLocation
from tests.alerting.helpers import T0, alerting_config, engine, heartbeat, record, registry

LEASED: dict[str, Any] = {"link": "leased", "link_kind": LinkKind.LEASED_LINE, "target": "isp-edge"}
LAN: dict[str, Any] = {"link": "lan", "link_kind": LinkKind.LAN, "target": "gateway"}
TSLCD_HTTP: dict[str, Any] = {"link": "tslcd", "link_kind": None, "target": "dvc-dongnai"}
PING_OK = {"rtt_avg_seconds": 0.004, "jitter_seconds": 0.001, "loss_ratio": 0.0}

CASES: list[tuple[str, ProbeKind, dict[str, Any], dict[str, float], Status, dict[str, float]]] = [
    ("LinkUtilisationHigh", ProbeKind.SNMP_IF, {**LEASED, "target": "router"}, {"utilisation_ratio": 0.85},
     Status.OK, {"utilisation_ratio": 0.5}),
    ("LinkDown", ProbeKind.ICMP, LEASED, {"loss_ratio": 1.0}, Status.FAILED, PING_OK),
    ("LinkLossHigh", ProbeKind.UDP_ECHO, LEASED, {**PING_OK, "loss_ratio": 0.05}, Status.DEGRADED, PING_OK),
    ("LinkRttHigh", ProbeKind.ICMP, LAN, {**PING_OK, "rtt_avg_seconds": 0.030}, Status.OK, PING_OK),
    ("LinkJitterHigh", ProbeKind.ICMP, LEASED, {**PING_OK, "jitter_seconds": 0.040}, Status.OK, PING_OK),
    ("PlatformUnreachable", ProbeKind.HTTP, TSLCD_HTTP, {}, Status.FAILED, {"total_seconds": 0.3}),
    ("PlatformSlow", ProbeKind.HTTP, TSLCD_HTTP, {"total_seconds": 4.0}, Status.OK, {"total_seconds": 0.3}),
    ("ThroughputBelowContract", ProbeKind.THROUGHPUT, {**LEASED, "target": "iperf"},
     {"download_ratio": 0.4, "upload_ratio": 0.9}, Status.OK, {"download_ratio": 0.95, "upload_ratio": 0.9}),
    ("InterfaceErrors", ProbeKind.SNMP_IF, {**LEASED, "target": "router"}, {"in_errors_per_second": 3.0},
     Status.OK, {"in_errors_per_second": 0.0}),
    ("InterfaceDiscards", ProbeKind.SNMP_IF, {**LEASED, "target": "router"}, {"out_discards_per_second": 40.0},
     Status.OK, {"out_discards_per_second": 0.0}),
    ("LanGatewayDown", ProbeKind.LAN, LAN, {"gateway_up": 0.0}, Status.FAILED, {"gateway_up": 1.0}),
    ("GatewayMacChanged", ProbeKind.LAN, LAN, {"gateway_mac_changed": 1.0, "gateway_up": 1.0}, Status.OK,
     {"gateway_mac_changed": 0.0, "gateway_up": 1.0}),
]


def feed(eng: AlertEngine, site: Any, t: float, probe: ProbeKind, where: dict[str, Any], values: dict[str, float],
         status: Status) -> None:
    eng.observe(site, [heartbeat(site.id, t), record(site.id, probe, t, values, status=status, **where)], t)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_default_rule_fires_and_resolves(alert_state: StateLocation, case: tuple[Any, ...], tmp_path: Path) -> None:
    name, probe, where, bad, status, good = case
    reg = registry(1)
    site = reg.sites[0]
    eng = engine(alert_state, alerting_config([{"name": "c", "type": "console", "path": str(tmp_path / "c.log")}]), reg)
    rule = eng.evaluator.rules[name]
    t = T0
    while t <= T0 + rule.for_seconds + 10:
        feed(eng, site, t, probe, where, bad, status)
        t += 10
    fired = [i for i in eng.incidents(state="firing", now=t) if i.rule == name]
    assert len(fired) == 1, [(i.rule, i.state) for i in eng.incidents(state="all", now=t)]
    end = t + rule.keep_firing_for
    while t <= end + 10:
        feed(eng, site, t, probe, where, good, Status.OK)
        t += 10
    assert eng.incident(fired[0].id, now=t).state == "resolved"
    eng.store.close()


def test_heartbeat_tells_link_down_from_site_silent(alert_state: StateLocation, tmp_path: Path) -> None:
    reg = registry(2)
    alive, silent = reg.sites
    eng = engine(alert_state, alerting_config([{"name": "c", "type": "console", "path": str(tmp_path / "c.log")}]), reg)
    for s in (alive, silent):
        eng.observe(s, [heartbeat(s.id, T0)], T0)
    for i in range(1, 10):  # 90 s: the alive agent reports its leased line dead; the other sends nothing
        t = T0 + 10 * i
        eng.observe(alive, [heartbeat(alive.id, t),
                            record(alive.id, ProbeKind.ICMP, t, {"loss_ratio": 1.0}, status=Status.FAILED)], t)
        eng.tick(t)
    firing = {(i.site_id, i.rule) for i in eng.incidents(state="firing", now=T0 + 90)}
    assert firing == {(alive.id, "LinkDown"), (silent.id, "SiteSilent")}
    eng.store.close()
