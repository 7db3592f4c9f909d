"""End to end on the namespace testbed: a commune's leased line, tbf-shaped to its contracted
20 Mbit/s, is saturated with UDP through the site router; the agent (``netmon probe run`` with
snmp_if + icmp) ships to the real collector; the utilisation and RTT alerts fire once each and
reach a webhook receiver run by the test; the load stops and one resolve per alert follows.
Then the site loses its uplink: a long loss is told once (the silence and its resolve), a short
one not at all, however much of the outage the agent's backlog replays."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from netmon.lab.alert_stack import SITE, OutageTiming, Stack, start_outage_stack, start_stack
from netmon.lab.netns import wait_until
from netmon.lab.topology import SiteTopology


@pytest.mark.netns
@pytest.mark.slow
def test_saturated_leased_line_fires_and_resolves_once(site_topo: SiteTopology, tmp_path: Path) -> None:
    stack = start_stack(site_topo, tmp_path)
    hook, collector, timing = stack.hook, stack.collector, stack.timing
    try:
        # a healthy start: utilisation and RTT known, nothing fires
        wait_until(lambda: "snmp_if" in str(collector.get_json(f"/api/v1/sites/{SITE['id']}")), 30,
                   what="first utilisation result at the collector")
        time.sleep(4)
        assert hook.arrivals() == []

        load_seconds = 30
        load_start = time.time()
        load = stack.load(load_seconds)
        both = {"LinkUtilisationHigh", "LinkRttHigh"}
        wait_until(lambda: {n for s, n, _ in hook.notices() if s == "firing"} >= both, timing.for_s + 45,
                   interval=0.2, what="both alerts at the webhook")
        fired = {n: at for s, n, at in hook.notices() if s == "firing"}
        wait_until(lambda: not load.alive(), load_seconds + 15, what="the load to end")
        load_end = time.time()
        wait_until(lambda: {n for s, n, _ in hook.notices() if s == "resolved"} >= both, 45, interval=0.2,
                   what="both resolves")
        time.sleep(timing.snmp_s + timing.ship_s + timing.group_wait_s + 3)  # room for a duplicate or a flap
        assert stack.agent.alive()

        sent = hook.notices()
        assert sorted((s, n) for s, n, _ in sent) == [("firing", "LinkRttHigh"), ("firing", "LinkUtilisationHigh"),
                                                     ("resolved", "LinkRttHigh"),
                                                     ("resolved", "LinkUtilisationHigh")], sent
        # Delay from the load starting, at worst: the first sample that is bad from end to end closes up to
        # two intervals later (plus SNMP's alignment to snmpd's counter refresh); `for` completes on the first
        # sample at least `for` after it (rounded up to the interval); then shipping, grouping, the tick.
        slack = timing.ship_s + timing.group_wait_s + 1 + 3

        def worst(interval: float, align: float) -> float:
            return 2 * interval + align + math.ceil(timing.for_s / interval) * interval

        worst_s = {"LinkRttHigh": worst(timing.icmp_s, 1.5),
                   "LinkUtilisationHigh": worst(timing.snmp_s, timing.snmp_align_s)}
        for name, at in fired.items():
            delay = at - load_start
            print(f"{name}: delivered {delay:.1f} s after the load started (for = {timing.for_s} s)")
            assert timing.for_s <= delay <= worst_s[name] + slack, (name, delay)
        for s, name, at in sent:
            if s == "resolved":
                print(f"{name}: resolve delivered {at - load_end:.1f} s after the load ended")
                assert at - load_end <= 2 * timing.snmp_s + timing.snmp_align_s + slack
        alerts = {(a["status"], a["labels"]["alertname"]): a for _, body in hook.arrivals() for a in body["alerts"]}
        util = alerts[("firing", "LinkUtilisationHigh")]
        assert util["labels"]["site"] == SITE["id"] and util["labels"]["link"] == "leased"
        assert util["labels"]["team"] == "rrt-dong-nai" and util["labels"]["severity"] == "critical"
        text = util["annotations"]["description"]
        assert "Xã/phường: Phường Tân Phong (26734) — Biên Hòa, Đồng Nai" in text
        assert "Đường truyền: leased (đường thuê bao Internet)" in text
        assert "(ngưỡng 95 %)" in text and "Giá trị tốt gần nhất:" in text
        assert util["annotations"]["dashboard"] == "http://grafana.lab/d/netmon-site-detail?var-site=26734"
        rtt = alerts[("firing", "LinkRttHigh")]["annotations"]["description"]
        # the saturated tbf queue holds 50 ms: the RTT read is about that
        now_ms = float(rtt.split("Hiện tại: ")[1].split(" ms")[0].replace(",", "."))
        assert 30 <= now_ms <= 120, rtt
        incidents = collector.get_json("/api/v1/incidents?state=all")["incidents"]
        assert sorted((i["rule"], i["status"]) for i in incidents) == [("LinkRttHigh", "resolved"),
                                                                      ("LinkUtilisationHigh", "resolved")]
    finally:
        stack.close()


def _quiet_for(stack: Stack, seconds: float) -> None:
    """Wait ``seconds`` more, long enough for anything late to arrive (a duplicate, a flap)."""
    time.sleep(seconds)
    assert stack.agent.alive(), stack.agent.log()[-2000:]


@pytest.mark.netns
@pytest.mark.slow
def test_an_uplink_loss_longer_than_the_silence_timer_is_told_once(site_topo: SiteTopology, tmp_path: Path) -> None:
    """The site goes silent for 25 s (its router's LAN port dark): its agent keeps measuring both
    links down and three platforms unreachable, for longer than every ``for``. Told once: the
    silence while it lasts, its resolve after, listing what happened meanwhile; nothing fires
    after recovery (before replay-aware alerting: LinkDown x2 and PlatformUnreachable x3 fired
    with the resolve, and resolved seconds later)."""
    timing = OutageTiming()
    stack = start_outage_stack(site_topo, tmp_path, timing)
    hook, collector = stack.hook, stack.collector
    try:
        wait_until(lambda: collector.get_json(f"/api/v1/sites/{SITE['id']}")["accepted"] >= 30, 30,
                   what="first results at the collector")
        _quiet_for(stack, 3)
        assert hook.notices() == []

        site_topo.set_uplink_down()
        down_at = time.time()
        time.sleep(25)
        site_topo.set_uplink_down(False)
        up_at = time.time()
        wait_until(lambda: any(s == "resolved" for s, _, _ in hook.notices()), 30, interval=0.2,
                   what="the silence's resolve")
        _quiet_for(stack, timing.for_s + timing.group_wait_s + 5)

        sent = hook.notices()
        assert [(s, n) for s, n, _ in sent] == [("firing", "SiteSilent"), ("resolved", "SiteSilent")], sent
        (_, _, fired), (_, _, resolved) = sent
        assert down_at + timing.silent_after_intervals * timing.ship_s <= fired < up_at
        assert up_at < resolved <= up_at + 15
        incidents = collector.get_json("/api/v1/incidents?state=all")["incidents"]
        assert sorted((i["rule"], i["link"] or i["target"], i["status"]) for i in incidents) == [
            ("LinkDown", "leased", "history"), ("LinkDown", "tslcd", "history"),
            ("PlatformUnreachable", "dvc", "history"), ("PlatformUnreachable", "hop", "history"),
            ("PlatformUnreachable", "qlvb", "history"), ("SiteSilent", None, "resolved")]
        # the resolve tells, as history, what the backlog showed
        text = next(a for _, body in hook.arrivals() for a in body["alerts"]
                    if a["status"] == "resolved")["annotations"]["description"]
        meanwhile = text.split("Trong thời gian đó (số liệu đến sau, sự cố đã hết, không báo riêng):\n")[1]
        items = [line for line in meanwhile.splitlines() if line.startswith("• ")]
        assert [item.split(":")[0] for item in items] == [
            "• Mất kết nối đường truyền (máy đo vẫn hoạt động) · leased",
            "• Mất kết nối đường truyền (máy đo vẫn hoạt động) · tslcd",
            "• Không truy cập được nền tảng dùng chung · dvc", "• Không truy cập được nền tảng dùng chung · hop",
            "• Không truy cập được nền tảng dùng chung · qlvb"] or items
    finally:
        stack.close()


@pytest.mark.netns
@pytest.mark.slow
def test_a_loss_shorter_than_every_for_pages_nobody(site_topo: SiteTopology, tmp_path: Path) -> None:
    timing = OutageTiming()
    stack = start_outage_stack(site_topo, tmp_path, timing)
    hook, collector = stack.hook, stack.collector
    try:
        wait_until(lambda: collector.get_json(f"/api/v1/sites/{SITE['id']}")["accepted"] >= 30, 30,
                   what="first results at the collector")
        site_topo.set_uplink_down()
        time.sleep(4)  # under the silence timer (6 s) and every `for` (10 s), longer than the late bound
        site_topo.set_uplink_down(False)
        accepted = collector.get_json(f"/api/v1/sites/{SITE['id']}")["accepted"]
        wait_until(lambda: collector.get_json(f"/api/v1/sites/{SITE['id']}")["accepted"] >= accepted + 30, 20,
                   what="the backlog and fresh results")
        _quiet_for(stack, timing.for_s + timing.group_wait_s + 3)
        assert hook.notices() == []
        assert collector.get_json("/api/v1/incidents?state=all")["incidents"] == []
    finally:
        stack.close()
