"""Acknowledgement, escalation, silences, inhibition and routing, through the engine to real receivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.alerting.routing import Router
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import Province, Registry
from netmon.contract import ProbeKind
from netmon.errors import IncidentClosed, IncidentNotFound
from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation
from tests.alerting.helpers import (
    T0,
    alerting_config,
    engine,
    heartbeat,
    record,
    registry,
    site,
    step,
    utilisation,
)


async def test_unacknowledged_incident_is_escalated_once_and_resolve_reaches_both(alert_state: StateLocation,
        tmp_path: Path, hook: WebhookReceiver, noc_hook: WebhookReceiver) -> None:
    reg = registry(2)
    a, b = reg.sites
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url},
                              {"name": "noc", "type": "webhook", "url": noc_hook.url}],
                             team={"channels": ["hook"], "escalate_after": "15m", "escalate_to": ["noc"]})
    eng = engine(alert_state, config, reg)
    for i in range(13):
        for s in (a, b):
            eng.observe(s, [utilisation(s.id, T0 + 10 * i, 0.97)], T0 + 10 * i)
    await step(eng, T0 + 125)
    [first] = hook.bodies()
    ids = {alert["labels"]["site"]: int(alert["labels"]["incident"]) for alert in first["alerts"]}
    eng.ack(ids[b.id], by="anh.nguyen", comment="đang gọi VNPT", now=T0 + 300)
    for t in range(130, 1200, 10):
        for s in (a, b):  # the agents keep reporting (otherwise the sites would fall silent)
            eng.observe(s, [heartbeat(s.id, T0 + t)], T0 + t)
        await step(eng, T0 + t)
    # only the unacknowledged one, once, to the escalation contact
    [escalated] = noc_hook.bodies()
    assert [al["labels"]["site"] for al in escalated["alerts"]] == [a.id]
    assert escalated["alerts"][0]["annotations"]["description"].startswith(
        "⏫ CHUYỂN CẤP — chưa ai xác nhận sau 15 phút\n🔴 NGHIÊM TRỌNG")
    assert len(hook.bodies()) == 1
    for s in (a, b):
        eng.observe(s, [utilisation(s.id, T0 + 1200, 0.2)], T0 + 1200)
    await step(eng, T0 + 1205)
    assert [al["labels"]["site"] for al in hook.bodies()[1]["alerts"]] == [a.id, b.id]
    assert [al["status"] for al in noc_hook.bodies()[1]["alerts"]] == ["resolved"]
    acked = eng.incident(ids[b.id])
    assert (acked.acked_by, acked.ack_comment, acked.status) == ("anh.nguyen", "đang gọi VNPT", "resolved")
    with pytest.raises(IncidentClosed):
        eng.ack(ids[b.id], by="x")
    with pytest.raises(IncidentNotFound):
        eng.ack(9999, by="x")
    await eng.aclose()


async def test_silenced_site_is_not_sent_until_the_silence_ends(alert_state: StateLocation, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(2)
    a, b = reg.sites
    eng = engine(alert_state, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    silence = eng.silence({"site": a.id}, 2 * 3600, "bảo trì router", by="noc", now=T0)
    for i in range(13):
        for s in (a, b):
            eng.observe(s, [utilisation(s.id, T0 + 10 * i, 0.97)], T0 + 10 * i)
    await step(eng, T0 + 130)
    assert [al["labels"]["site"] for body in hook.bodies() for al in body["alerts"]] == [b.id]
    assert [i.status for i in eng.incidents(now=T0 + 130)] == ["firing", "silenced"]  # newest first: b, a
    assert eng.unsilence(silence.id, now=T0 + 200)
    for s in (a, b):
        eng.observe(s, [heartbeat(s.id, T0 + 200)], T0 + 200)
    await step(eng, T0 + 201)
    assert [al["labels"]["site"] for al in hook.bodies()[1]["alerts"]] == [a.id]
    await eng.aclose()


async def test_link_down_inhibits_the_loss_alert_of_the_same_link(alert_state: StateLocation, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(1)
    s = reg.sites[0]
    eng = engine(alert_state, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    for i in range(25):
        t = T0 + 10 * i
        loss = 1.0 if i < 20 else 0.0
        values = {"loss_ratio": loss, "sent_packets": 5, "received_packets": 5 * (1 - loss)}
        if loss < 1:
            values["rtt_avg_seconds"] = 0.004
        eng.observe(s, [record(s.id, ProbeKind.ICMP, t, values)], t)
        await step(eng, t + 5)
    rules = sorted({i.rule for i in eng.incidents(state="all")})
    assert rules == ["LinkDown", "LinkLossHigh"]  # both fired ...
    sent = [(al["status"], al["labels"]["alertname"]) for body in hook.bodies() for al in body["alerts"]]
    assert sent == [("firing", "LinkDown"), ("resolved", "LinkDown")]  # ... only the cause was sent
    assert "máy đo vẫn hoạt động" in hook.bodies()[0]["alerts"][0]["annotations"]["summary"]
    await eng.aclose()


def test_routing_site_team_then_province_default_then_fallback(caplog: pytest.LogCaptureFixture) -> None:
    reg = Registry(provinces=[Province(name="Đồng Nai", default_team="rrt-dong-nai"),
                              Province(name="Lâm Đồng")],
                   sites=[site(0, team="rrt-tan-phong"), site(1, team="not-declared"), site(2)])
    lam_dong = site(3).model_copy(update={"province": "Lâm Đồng"})
    config = AlertingConfig.model_validate({
        "channels": [{"name": "c", "type": "console"}],
        "teams": [{"name": "rrt-tan-phong", "channels": ["c"]}, {"name": "rrt-dong-nai", "channels": ["c"]},
                  {"name": "noc", "channels": ["c"]}],
        "default_team": "noc"})
    router = Router(config, reg)
    assert [router.team_for_site(s) for s in reg.sites] == ["rrt-tan-phong", "rrt-dong-nai", "rrt-dong-nai"]
    assert "'not-declared'" in caplog.text
    assert router.team_for_site(lam_dong) == "noc"
    assert router.upstream_of(reg.sites[0]) == "dn-agg-bienhoa"


def test_config_refuses_unknown_channel_names(tmp_path: Path) -> None:
    from netmon.config.loader import load_model
    from netmon.errors import ConfigError

    path = tmp_path / "alerting.yaml"
    path.write_text("channels:\n  - {name: zalo-dn, type: zalo, token_file: /x, chat_id: '1'}\nteams:\n"
                    "  - {name: rrt, channels: [zalo-dn, mail-dn]}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_model(path, AlertingConfig)
    [(key, line, message)] = info.value.problems
    assert (key, line) == ("teams", 3) and "names unknown channel 'mail-dn'" in message
