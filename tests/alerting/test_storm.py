"""Storm control: 50 communes behind one upstream go silent within seconds -> ONE upstream
incident message listing them, nothing per site; they come back -> ONE resolve. Many
communes failing the same platform -> ONE platform incident."""

from __future__ import annotations

from pathlib import Path

from netmon.config.registry import Registry
from netmon.contract import ProbeKind, Status
from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation
from tests.alerting.helpers import (
    PROVINCE,
    T0,
    alerting_config,
    engine,
    heartbeat,
    record,
    registry,
    site,
    step,
)

BEHIND = 50


def province_registry() -> Registry:
    # 50 communes behind the Biên Hòa aggregation point, 3 elsewhere that keep working
    reg = registry(BEHIND, upstream="dn-agg-bienhoa")
    reg.sites += [site(BEHIND + i, upstream="dn-agg-longkhanh") for i in range(3)]
    return reg


async def test_fifty_sites_behind_one_upstream_make_one_incident(alert_state: StateLocation, tmp_path: Path, hook: WebhookReceiver) -> None:
    reg = province_registry()
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}])
    eng = engine(alert_state, config, reg)
    behind = reg.sites[:BEHIND]
    elsewhere = reg.sites[BEHIND:]
    fail_at, back_at, end = T0 + 100, T0 + 300, T0 + 400
    t = T0
    while t < end:
        for i, s in enumerate(reg.sites):
            # every agent ships every 10 s, each at its own offset (within the same 10 s)
            if int(t - T0) % 10 != i % 10:
                continue
            if s in behind and fail_at <= t < back_at:
                continue
            eng.observe(s, [heartbeat(s.id, t)], t)
        await step(eng, t + 0.5)
        t += 1
    bodies = hook.bodies()
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    alerts = [a for b in bodies for a in b["alerts"]]
    assert [a["labels"]["alertname"] for a in alerts] == ["UpstreamDown", "UpstreamDown"]
    fired = alerts[0]
    assert fired["labels"]["upstream"] == "dn-agg-bienhoa"
    assert fired["labels"]["province"] == PROVINCE and fired["labels"]["team"] == "rrt-dong-nai"
    text = fired["annotations"]["description"]
    assert f"{BEHIND} xã/phường sau dn-agg-bienhoa" in text
    assert f"Các xã/phường ({BEHIND}): " in text and "Phường Hố Nai" in text
    assert "và 30 xã/phường khác" in text  # 20 names shown, the rest counted
    assert "không cần xử lý từng xã" in fired["annotations"]["check_first"]
    # silent 60 s after each site's last result (6 x 10 s), storm seen before any site alert was due
    # the first site fell silent 60 s after its last result at T0 + 90 s (tick at T0 + 150.5 s)
    assert fired["startsAt"] == "2025-07-01T01:02:30.500Z"
    assert alerts[1]["endsAt"] > "2025-07-01T01:05:00.000Z"
    # nothing per site was ever sent, and the other upstream's sites stayed quiet
    per_site = eng.incidents(state="all")
    silent = [i for i in per_site if i.rule == "SiteSilent"]
    assert len(silent) == BEHIND and all(i.notified_at is None and i.parent_id is not None for i in silent)
    assert not [i for i in per_site if i.site_id in {s.id for s in elsewhere}]
    await eng.aclose()


async def test_a_few_silent_sites_are_announced_one_message_for_the_team(alert_state: StateLocation, tmp_path: Path,
                                                                       hook: WebhookReceiver) -> None:
    reg = province_registry()
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}])
    eng = engine(alert_state, config, reg)
    for s in reg.sites:
        eng.observe(s, [heartbeat(s.id, T0)], T0)
    t = T0 + 1
    while t < T0 + 120:  # three communes stay silent: below storm.min_sites, so they are sent as they are
        for s in reg.sites[3:]:
            if int(t) % 10 == 0:
                eng.observe(s, [heartbeat(s.id, t)], t)
        await step(eng, t)
        t += 1
    await eng.aclose()
    bodies = hook.bodies()
    assert len(bodies) == 1  # grouped: same team, same moment
    assert sorted(a["labels"]["site"] for a in bodies[0]["alerts"]) == [s.id for s in reg.sites[:3]]
    assert {a["labels"]["alertname"] for a in bodies[0]["alerts"]} == {"SiteSilent"}


async def test_many_communes_failing_one_platform_make_one_platform_incident(alert_state: StateLocation, tmp_path: Path,
                                                                            hook: WebhookReceiver) -> None:
    reg = registry(8)
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}])
    eng = engine(alert_state, config, reg)
    for minute in range(4):
        t = T0 + 60 * minute
        for i, s in enumerate(reg.sites):
            failing = minute in (1, 2) and i < 6
            http = record(s.id, ProbeKind.HTTP, t + i, {} if failing else {"total_seconds": 0.3, "status_code": 200},
                          link="tslcd", link_kind=None, target="qlvb-dongnai",
                          status=Status.FAILED if failing else Status.OK, reason="connect timeout" if failing else None)
            eng.observe(s, [heartbeat(s.id, t + i), http], t + i)
        for second in range(60):
            await step(eng, t + second + 0.5)
    await eng.aclose()
    bodies = hook.bodies()
    alerts = [a for b in bodies for a in b["alerts"]]
    assert [(a["status"], a["labels"]["alertname"], a["labels"].get("scope")) for a in alerts] == [
        ("firing", "PlatformUnreachable", "platform"), ("resolved", "PlatformUnreachable", "platform")]
    assert alerts[0]["labels"]["target"] == "qlvb-dongnai"
    assert "Nền tảng qlvb-dongnai: 6 xã/phường cùng lỗi" in alerts[0]["annotations"]["summary"]
