"""The webhook channel speaks Alertmanager's webhook JSON (version 4), so existing receivers work."""

from __future__ import annotations

from pathlib import Path

from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation
from tests.alerting.helpers import T0, TEAM, alerting_config, engine, notification_rows, registry, step, utilisation

ALERT_KEYS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
BODY_KEYS = {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
             "commonAnnotations", "externalURL", "alerts"}


async def test_webhook_body_has_alertmanagers_shape(alert_state: StateLocation, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(2)
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}],
                             external_url="http://collector.test:8080")
    eng = engine(alert_state, config, reg)
    for i in range(16):
        t = T0 + 10 * i
        ratio = 0.97 if i < 14 else 0.2
        for s in reg.sites:
            eng.observe(s, [utilisation(s.id, t, ratio)], t)
        await step(eng, t + 5)
    await eng.aclose()
    firing, resolved = hook.bodies()
    assert hook.requests[0]["path"] == "/alerts"
    assert hook.requests[0]["headers"]["Content-Type"] == "application/json"
    for body in (firing, resolved):
        assert set(body) == BODY_KEYS
        assert (body["version"], body["receiver"], body["truncatedAlerts"]) == ("4", "hook", 0)
        assert body["groupLabels"] == {"team": TEAM} and body["groupKey"] == '{}:{team="rrt-dong-nai"}'
        assert body["externalURL"] == "http://collector.test:8080"
        assert len(body["alerts"]) == 2  # both sites, grouped for the team
        for alert in body["alerts"]:
            assert set(alert) == ALERT_KEYS
            assert len(alert["fingerprint"]) == 16
    assert firing["status"] == "firing" and resolved["status"] == "resolved"
    assert firing["commonLabels"]["alertname"] == "LinkUtilisationHigh"
    assert "site" not in firing["commonLabels"]  # differs between the two alerts
    assert firing["commonAnnotations"]["summary"] == "Đường truyền sắp hết băng thông hợp đồng"
    alert = firing["alerts"][0]
    assert alert["status"] == "firing" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["startsAt"] == "2025-07-01T01:02:00.000Z"
    assert alert["generatorURL"].startswith("http://collector.test:8080/api/v1/incidents/")
    assert alert["annotations"]["dashboard"] == "http://grafana.test/d/netmon-site-detail?var-site=26000"
    back = resolved["alerts"][0]
    assert back["status"] == "resolved" and back["endsAt"] == "2025-07-01T01:02:20.000Z"
    assert back["fingerprint"] == alert["fingerprint"]


async def test_receiver_errors_are_retried_with_backoff_or_retry_after(alert_state: StateLocation, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = registry(1)
    site = reg.sites[0]
    eng = engine(alert_state, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}]), reg)
    hook.fail = [503, 429]
    for i in range(13):
        eng.observe(site, [utilisation(site.id, T0 + 10 * i, 0.97)], T0 + 10 * i)
    await step(eng, T0 + 124)  # due: 503 -> back off 5 s
    await step(eng, T0 + 128)
    await step(eng, T0 + 129)  # 429 with Retry-After: 7
    await step(eng, T0 + 135)
    assert hook.bodies() == []
    await step(eng, T0 + 136)
    assert len(hook.bodies()) == 1
    [row] = notification_rows(eng.store)
    assert row["attempts"] == 3 and row["delivered_at"] == T0 + 136
    await eng.aclose()
