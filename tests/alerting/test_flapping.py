"""A link wandering around its limit makes one alert, not a message per crossing (for + hysteresis)."""

from __future__ import annotations

from netmon.alerting.rules import load_rules
from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation
from tests.alerting.helpers import T0, alerting_config, engine, registry, step, utilisation

# 20 minutes of 10 s SNMP windows: 10 min crossing 80 % and 70 % every sample, 3 min above 80 %,
# 10 min wandering 75..85 % (across the warning limit, above the clear limit), then back to 50 %.
PATTERN = ([0.90 if i % 2 == 0 else 0.50 for i in range(60)] + [0.90] * 18
           + [0.85 if i % 2 == 0 else 0.75 for i in range(60)] + [0.50] * 12)


async def feed(state: StateLocation, hook: WebhookReceiver, rules_text: str | None = None) -> None:
    reg = registry(1)
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}])
    rules = None
    if rules_text is not None:
        path = state.state_dir / "rules.yaml"
        path.write_text(rules_text)
        rules = load_rules(path)
    eng = engine(state, config, reg, rules=rules)
    site = reg.sites[0]
    for i, ratio in enumerate(PATTERN):
        t = T0 + 10 * i
        eng.observe(site, [utilisation(site.id, t, ratio)], t)
        await step(eng, t + 0.5)
    for extra in range(1, 11):
        await step(eng, T0 + 10 * len(PATTERN) + extra)
    await eng.aclose()


async def test_flapping_link_gives_exactly_one_firing_and_one_resolve(alert_state: StateLocation,
                                                                      hook: WebhookReceiver) -> None:
    await feed(alert_state, hook)
    bodies = hook.bodies()
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    assert [a["labels"]["alertname"] for b in bodies for a in b["alerts"]] == ["LinkUtilisationHigh"] * 2
    fired, resolved = (b["alerts"][0] for b in bodies)
    # fired after 2 min above 80 % in the 3-minute block; resolved when it fell under 70 %
    assert fired["startsAt"] == "2025-07-01T01:12:00.000Z"  # T0 + 600 s + 120 s
    assert resolved["endsAt"] == "2025-07-01T01:23:00.000Z"  # T0 + 1380 s: first 50 % sample


async def test_without_hysteresis_and_for_the_same_link_would_storm(alert_state: StateLocation,
                                                                    hook: WebhookReceiver) -> None:
    # the reference the test above is measured against: what a naive rule would send
    await feed(alert_state, hook, "rules:\n  - name: Naive\n    probe: snmp_if\n    value: utilisation_ratio\n"
                               "    warning: 0.8\n")
    # 30 crossings of phase A alone: 30 alerts fired and resolved, in about as many messages
    assert len(hook.alerts()) >= 60
    assert len(hook.bodies()) >= 30
