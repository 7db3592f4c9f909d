"""Results that arrive late make history, not pages: an outage already over when its results
reach the centre is told once (the silence and its resolve, listing what happened meanwhile),
one still going on still pages, and a short one pages nobody. Driven through the real engine
and a webhook receiver with the go-live default rules, by an agent model that ships the way
``probes/agent`` does (every 10 s; after a failure the newest heartbeat first, then the
backlog oldest first)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmon.alerting.engine import AlertEngine
from netmon.contract import LinkKind, ProbeKind, ResultRecord, Status
from netmon.lab.standins import WebhookReceiver
from tests.alerting.helpers import T0, alerting_config, engine, heartbeat, record, registry, step

SHIP = 10.0
YEAR = 365 * 86400.0
LINKS = (("leased", LinkKind.LEASED_LINE, "isp-edge"), ("tslcd", LinkKind.DATA_NETWORK, "provincial-dc"))
PLATFORMS = ("dvc", "qlvb")

# (moment, site's uplink up?, leased line working?) -> the site's whole state at a moment
State = Callable[[float], tuple[bool, bool]]


@dataclasses.dataclass
class Agent:
    """Measures every SHIP seconds (its clock ``offset`` from the centre's), ships when its uplink is up."""

    site_id: str
    offset: float = 0.0
    queued: list[ResultRecord] = dataclasses.field(default_factory=list)
    failing: bool = False

    def measure(self, t: float, uplink: bool, leased: bool) -> None:
        clock = t + self.offset
        for name, kind, target in LINKS:
            works = uplink and (leased or name != "leased")
            values = {"loss_ratio": 0.0, "rtt_avg_seconds": 0.004} if works else {"loss_ratio": 1.0}
            self.queued.append(record(self.site_id, ProbeKind.ICMP, clock, values, link=name, link_kind=kind,
                                      target=target, status=Status.OK if works else Status.FAILED))
        for platform in PLATFORMS:
            self.queued.append(record(self.site_id, ProbeKind.HTTP, clock, {"total_seconds": 0.2} if uplink else {},
                                      link=None, link_kind=None, target=platform,
                                      status=Status.OK if uplink else Status.FAILED))
        self.queued.append(heartbeat(self.site_id, clock))

    def ship(self, uplink: bool) -> list[ResultRecord]:
        if not uplink:
            self.failing = True
            return []
        batch, self.queued = self.queued, []
        if self.failing and batch:  # after a failure: the newest heartbeat in front
            newest = max((r for r in batch if r.probe is ProbeKind.AGENT), key=lambda r: r.time_ns)
            batch = [newest, *(r for r in batch if r is not newest)]
        self.failing = False
        return batch


async def play(tmp_path: Path, hook: WebhookReceiver, state: State, seconds: float, offset: float = 0.0
               ) -> AlertEngine:
    reg = registry(1)
    eng = engine(tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}]), reg)
    site = reg.sites[0]
    agent = Agent(site.id, offset)
    t = T0
    while t < T0 + seconds:
        uplink, leased = state(t)
        agent.measure(t, uplink, leased)
        batch = agent.ship(uplink)
        if batch:
            eng.observe(site, batch, t + 0.2)
        for tick in range(int(SHIP)):
            await step(eng, t + 0.5 + tick)
        t += SHIP
    return eng


def sent(hook: WebhookReceiver) -> list[tuple[str, str, str]]:
    """(status, alertname, link or target) of every alert in every message, in order."""
    return [(a["status"], a["labels"]["alertname"], a["labels"].get("link") or a["labels"].get("target", ""))
            for a in hook.alerts()]


def by_rule(eng: AlertEngine) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for inc in eng.incidents(state="all"):
        out.setdefault((inc.rule, inc.link or inc.target or ""), []).append(inc.status)
    return out


OUTAGE = (T0 + 600, T0 + 780)  # 3 minutes: longer than the silence timer (60 s) and every `for`


def uplink_lost(t: float) -> tuple[bool, bool]:
    return not OUTAGE[0] <= t < OUTAGE[1], True


async def test_an_outage_that_is_over_when_its_results_arrive_is_told_once(tmp_path: Path,
                                                                           hook: WebhookReceiver) -> None:
    eng = await play(tmp_path, hook, uplink_lost, 1200)
    assert sent(hook) == [("firing", "SiteSilent", ""), ("resolved", "SiteSilent", "")]
    # what the backlog showed is in the incident log as history, never sent
    incidents = by_rule(eng)
    assert incidents.pop(("SiteSilent", "")) == ["resolved"]
    assert incidents == {("LinkDown", "leased"): ["history"], ("LinkDown", "tslcd"): ["history"],
                         ("LinkLossHigh", "leased"): ["history"], ("LinkLossHigh", "tslcd"): ["history"],
                         ("PlatformUnreachable", "dvc"): ["history"], ("PlatformUnreachable", "qlvb"): ["history"]}
    down = next(i for i in eng.incidents(state="all") if i.rule == "LinkDown" and i.link == "leased")
    assert down.active_at == OUTAGE[0] and down.fired_at == OUTAGE[0] + 60 and down.resolved_at == OUTAGE[1]
    assert down.notified_at is None and down.replayed
    # the resolve says, as history, what happened meanwhile
    resolved = next(a for a in hook.alerts() if a["status"] == "resolved")["annotations"]["description"]
    meanwhile = resolved.split("Trong thời gian đó (số liệu đến sau, sự cố đã hết, không báo riêng):\n")[1]
    # loss on a link that was down says nothing more (LinkDown inhibits LinkLossHigh): left out
    assert [line for line in meanwhile.splitlines() if line.startswith("• ")] == [
        "• Mất kết nối đường truyền (máy đo vẫn hoạt động) · leased: 08:10:00 01/07/2025 → 08:13:00 01/07/2025 "
        "(3 phút, 100 %)",
        "• Mất kết nối đường truyền (máy đo vẫn hoạt động) · tslcd: 08:10:00 01/07/2025 → 08:13:00 01/07/2025 "
        "(3 phút, 100 %)",
        "• Không truy cập được nền tảng dùng chung · dvc: 08:10:00 01/07/2025 → 08:13:00 01/07/2025 (3 phút)",
        "• Không truy cập được nền tảng dùng chung · qlvb: 08:10:00 01/07/2025 → 08:13:00 01/07/2025 (3 phút)"]
    await eng.aclose()


async def test_an_outage_still_going_on_when_its_results_arrive_still_pages(tmp_path: Path,
                                                                            hook: WebhookReceiver) -> None:
    def leased_broken_too(t: float) -> tuple[bool, bool]:
        # the leased line breaks during the silence and stays broken: the site is back over the data network
        return not OUTAGE[0] <= t < OUTAGE[1], t < OUTAGE[0]

    eng = await play(tmp_path, hook, leased_broken_too, 1200)
    assert sent(hook) == [("firing", "SiteSilent", ""), ("resolved", "SiteSilent", ""),
                          ("firing", "LinkDown", "leased")]
    down = next(i for i in eng.incidents(state="firing") if i.rule == "LinkDown")
    assert down.link == "leased" and down.active_at == OUTAGE[0]  # since when: from the backlog
    assert by_rule(eng)[("LinkDown", "tslcd")] == ["history"]
    await eng.aclose()


async def test_a_loss_shorter_than_every_for_pages_nobody(tmp_path: Path, hook: WebhookReceiver) -> None:
    def short_loss(t: float) -> tuple[bool, bool]:
        return not T0 + 600 <= t < T0 + 640, True  # 40 s: under the silence timer and every `for`

    eng = await play(tmp_path, hook, short_loss, 900)
    assert sent(hook) == []
    assert eng.incidents(state="all") == []
    await eng.aclose()


async def test_a_site_clock_a_year_off_is_judged_by_its_own_lag(tmp_path: Path, hook: WebhookReceiver) -> None:
    """Late is measured against the site's own clock: the same outage, told the same way."""
    eng = await play(tmp_path, hook, uplink_lost, 1200, offset=-YEAR)
    assert sent(hook) == [("firing", "SiteSilent", ""), ("resolved", "SiteSilent", "")]
    assert by_rule(eng)[("LinkDown", "leased")] == ["history"]
    await eng.aclose()


def test_the_late_bound_is_the_shipping_interval_plus_the_margin(tmp_path: Path) -> None:
    config: dict[str, Any] = {"late_margin": "20s"}
    eng = engine(tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/"}],
                                           **config), registry(1))
    assert eng.evaluator.late_after_seconds == SHIP + 20


async def test_late_results_resolve_a_firing_alert_but_never_make_it_worse(tmp_path: Path,
                                                                          hook: WebhookReceiver) -> None:
    reg = registry(1)
    eng = engine(tmp_path, alerting_config([{"name": "hook", "type": "webhook", "url": hook.url + "/alerts"}]), reg)
    site = reg.sites[0]

    def loss(t: float, ratio: float) -> ResultRecord:
        return record(site.id, ProbeKind.ICMP, t, {"loss_ratio": ratio, "rtt_avg_seconds": 0.004})

    t = T0
    for _ in range(16):  # 5 % loss on the leased line: LinkLossHigh warning after its 2 minutes
        eng.observe(site, [heartbeat(site.id, t), loss(t, 0.05)], t + 0.2)
        await step(eng, t + 1)
        t += SHIP
    await step(eng, t + 20)
    assert sent(hook) == [("firing", "LinkLossHigh", "leased")]
    # 50 s without a line (under the silence timer), then it all arrives at once: worse (30 %)
    # at first, healthy from t + 30 s; then current results, healthy
    backlog = [loss(t + 10 * i, 0.30) for i in range(3)] + [loss(t + 30 + 10 * i, 0.0) for i in range(2)]
    eng.observe(site, [heartbeat(site.id, t + 50), *backlog], t + 50.2)
    for second in range(51, 120):
        if second % 10 == 0:
            eng.observe(site, [heartbeat(site.id, t + second), loss(t + second, 0.0)], t + second + 0.2)
        await step(eng, t + second + 0.5)
    assert sent(hook) == [("firing", "LinkLossHigh", "leased"), ("resolved", "LinkLossHigh", "leased")]
    (incident,) = eng.incidents(state="all")
    assert incident.severity == "warning" and incident.resolved_at == t + 30  # resolved by the backlog
    await eng.aclose()
