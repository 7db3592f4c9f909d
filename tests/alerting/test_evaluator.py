"""The in-stream state machine, fed real ResultRecords: for, hysteresis, severities, baselines,
status rules, absence timers, keep_firing_for, stale and re-ordered samples."""

from __future__ import annotations

from netmon.alerting.evaluator import Evaluator
from netmon.alerting.rules import load_rules
from netmon.alerting.series import Transition
from netmon.contract import LinkKind, ProbeKind, Status
from tests.alerting.helpers import T0, heartbeat, record, utilisation

SITE = "26000"


def evaluator() -> tuple[Evaluator, list[tuple[str, str, float]]]:
    seen: list[tuple[str, str, float]] = []

    def emit(tr: Transition) -> None:
        seen.append((tr.kind, tr.series.key[0], tr.at))

    return Evaluator(load_rules(), ship_interval_seconds=10, stale_after_seconds=300, emit=emit, started_at=T0), seen


def test_utilisation_for_hysteresis_and_severity_upgrade() -> None:
    ev, seen = evaluator()
    samples = [(0, 0.50), (10, 0.85), (70, 0.90), (130, 0.90), (140, 0.97), (150, 0.72), (160, 0.81), (170, 0.69)]
    for dt, ratio in samples:
        ev.observe(SITE, [utilisation(SITE, T0 + dt, ratio)], T0 + dt)
    assert seen == [("pending", "LinkUtilisationHigh", T0 + 10), ("firing", "LinkUtilisationHigh", T0 + 130),
                    ("upgraded", "LinkUtilisationHigh", T0 + 140), ("resolved", "LinkUtilisationHigh", T0 + 170)]


def test_pending_needs_the_condition_without_a_break() -> None:
    ev, seen = evaluator()
    for dt, ratio in [(0, 0.85), (60, 0.79), (70, 0.85), (180, 0.85)]:
        ev.observe(SITE, [utilisation(SITE, T0 + dt, ratio)], T0 + dt)
    assert [k for k, _, _ in seen] == ["pending", "cancelled", "pending"]
    ev.observe(SITE, [utilisation(SITE, T0 + 190, 0.85)], T0 + 190)
    assert seen[-1] == ("firing", "LinkUtilisationHigh", T0 + 190)


def test_thresholds_differ_per_link_kind() -> None:
    ev, seen = evaluator()
    rtt = {"rtt_avg_seconds": 0.050, "loss_ratio": 0.0, "jitter_seconds": 0.001}
    for dt in (0, 130):
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, T0 + dt, rtt, link="lan", link_kind=LinkKind.LAN),
                          record(SITE, ProbeKind.ICMP, T0 + dt, rtt)], T0 + dt)
    # 50 ms is bad on the office LAN (limit 20 ms) and normal on a leased line (limit 80 ms)
    fired = [(kind, ev.series[key].key[2]) for key in ev.series for kind in ("firing",)
             if ev.series[key].state == "firing"]
    assert fired == [("firing", "lan")]
    assert ("firing", "LinkRttHigh", T0 + 130) in seen


def test_baseline_learns_healthy_rtt_then_fires_on_a_multiple() -> None:
    ev, seen = evaluator()
    t = T0
    for _ in range(25):
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": 0.002, "loss_ratio": 0})], t)
        t += 5
    baseline = ev.series[("LinkRttAboveBaseline", SITE, "leased", "isp-edge", "rtt_avg_seconds")]
    assert abs((baseline.baseline_mean or 0) - 0.002) < 1e-9 and baseline.baseline_samples == 25
    # 3x the baseline is 6 ms, but min_delta keeps the limit at baseline + 10 ms = 12 ms
    for rtt in (0.011, 0.011):
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": rtt, "loss_ratio": 0})], t)
        t += 60
    assert seen == []
    for _ in range(3):
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": 0.051, "loss_ratio": 0})], t)
        t += 60
    assert [k for k, name, _ in seen if name == "LinkRttAboveBaseline"] == ["pending", "firing"]
    # the two 11 ms samples were under the limit, so they were learned: limit = mean + 10 ms
    mean = baseline.baseline_mean or 0
    assert 0.0028 < mean < 0.0029
    assert abs((baseline.threshold or 0) - (mean + 0.010)) < 1e-9
    # samples while pending or firing do not teach the baseline
    assert baseline.baseline_samples == 27


def test_status_rule_and_missing_values() -> None:
    ev, seen = evaluator()
    failed = record(SITE, ProbeKind.HTTP, T0, {}, link="tslcd", link_kind=None, target="dvc-dongnai",
                    status=Status.FAILED, reason="connect timeout")
    ev.observe(SITE, [failed], T0)
    ev.observe(SITE, [failed.model_copy(update={"time_ns": int((T0 + 60) * 1e9)})], T0 + 60)
    ok = record(SITE, ProbeKind.HTTP, T0 + 120, {"total_seconds": 0.2, "status_code": 200}, link="tslcd",
                link_kind=None, target="dvc-dongnai")
    ev.observe(SITE, [ok], T0 + 120)
    assert [(k, n) for k, n, _ in seen] == [("pending", "PlatformUnreachable"), ("firing", "PlatformUnreachable"),
                                           ("resolved", "PlatformUnreachable")]


def test_absence_timer_and_recovery() -> None:
    ev, seen = evaluator()
    ev.observe(SITE, [heartbeat(SITE, T0)], T0)
    ev.timers(T0 + 60)
    assert seen == []
    ev.timers(T0 + 61)
    ev.timers(T0 + 90)
    assert seen == [("firing", "SiteSilent", T0 + 61)]
    ev.observe(SITE, [heartbeat(SITE, T0 + 95)], T0 + 95)
    assert seen[-1] == ("resolved", "SiteSilent", T0 + 95)


def test_absence_counts_from_engine_start_for_sites_seen_before_a_restart() -> None:
    ev, seen = evaluator()
    ev.seen[SITE] = T0 - 3600  # restored from the state store: the collector was down an hour
    ev.timers(T0 + 30)
    assert seen == []
    ev.timers(T0 + 61)
    assert seen == [("firing", "SiteSilent", T0 + 61)]


def test_keep_firing_for_holds_an_event_alert() -> None:
    ev, seen = evaluator()
    lan = {"link": "lan", "link_kind": LinkKind.LAN, "target": "gateway"}
    ev.observe(SITE, [record(SITE, ProbeKind.LAN, T0, {"gateway_mac_changed": 1, "gateway_up": 1}, **lan)], T0)
    ev.observe(SITE, [record(SITE, ProbeKind.LAN, T0 + 60, {"gateway_mac_changed": 0, "gateway_up": 1}, **lan)],
               T0 + 60)
    ev.timers(T0 + 60 + 3599)
    mac = [s for s in seen if s[1] == "GatewayMacChanged"]
    assert mac == [("firing", "GatewayMacChanged", T0)]
    ev.timers(T0 + 60 + 3600)
    mac = [s for s in seen if s[1] == "GatewayMacChanged"]
    assert mac[-1] == ("resolved", "GatewayMacChanged", T0 + 3660)


def test_stale_and_reordered_samples_are_not_evaluated() -> None:
    ev, seen = evaluator()
    # an agent draining a backlog: a saturated hour from yesterday must not page anyone today
    ev.observe(SITE, [utilisation(SITE, T0 - 3600 + dt, 0.99) for dt in range(0, 600, 10)], T0)
    assert seen == []
    ev.observe(SITE, [utilisation(SITE, T0 + 10, 0.99)], T0 + 10)
    ev.observe(SITE, [utilisation(SITE, T0 + 5, 0.10)], T0 + 11)  # older than what we have: ignored
    assert [k for k, _, _ in seen] == ["pending"]


def test_last_good_is_a_value_the_alert_would_not_have_raised() -> None:
    """A spike while the baseline was still learning is not a "last good value": it was never
    judged, and showed as "now 54.8 ms (threshold 44 ms), last good value 55.5 ms"."""
    ev, seen = evaluator()
    key = ("LinkRttAboveBaseline", SITE, "leased", "isp-edge", "rtt_avg_seconds")
    t = T0
    for rtt in [0.002] * 19 + [0.0555]:  # the line saturates before learning ends
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": rtt, "loss_ratio": 0})], t)
        t += 5
    fired = []
    for _ in range(4):
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": 0.0548, "loss_ratio": 0})], t)
        if ev.series[key].state == "firing" and not fired:
            fired.append((ev.series[key].threshold, ev.series[key].last_good))
        t += 60
    assert [k for k, name, _ in seen if name == "LinkRttAboveBaseline"] == ["pending", "firing"]
    ((threshold, last_good),) = fired
    assert threshold is not None and threshold < 0.0548 and last_good is None

    # once judged, a healthy sample is the last good one, under the threshold it fired against
    for _ in range(3):
        ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": 0.004, "loss_ratio": 0})], t)
        t += 60
    assert ev.series[key].state == "inactive" and ev.series[key].last_good == 0.004
    ev.observe(SITE, [record(SITE, ProbeKind.ICMP, t, {"rtt_avg_seconds": 0.0548, "loss_ratio": 0})], t)
    assert ev.series[key].state == "pending" and ev.series[key].last_good == 0.004


def test_a_silence_is_not_a_last_good_value() -> None:
    ev, _ = evaluator()
    ev.observe(SITE, [heartbeat(SITE, T0)], T0)
    ev.timers(T0 + 61)
    ev.observe(SITE, [heartbeat(SITE, T0 + 70)], T0 + 70)
    ev.timers(T0 + 131)
    silent = ev.series[("SiteSilent", SITE, "", "", "")]
    assert silent.state == "firing" and silent.last_good is None
