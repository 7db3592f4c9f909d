"""Time is checked at the door: results stamped in 2100 or in 2000 are refused (422, the field path,
counted), a sample a little ahead of the collector's clock cannot pin "latest" or stop alert
evaluation, and the centre shows which sites' clocks are off, as their agents measured it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from netmon.config.site import CollectorConnection
from netmon.probes.agent import collector_client
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.outbox import Queued
from tests.hostile.conftest import SITES, MakeCentre
from tests.hostile.lane import Attack, Centre, batch, flooding, icmp

YEAR_2100_NS = 4_102_444_800 * 10**9
YEAR_2000_NS = 946_684_800 * 10**9


# LinkDown as in production, but firing after 2 s of loss instead of a minute
RULES = """include_defaults: true
rules:
  - {name: LinkDown, probe: [icmp, udp_echo], value: loss_ratio, critical: 1.0, clear: 0.5, for: 2s, storm: true}
"""


@pytest.fixture(scope="module")
def centre(make_centre: MakeCentre) -> Centre:
    return make_centre(rules=RULES)


def refused(centre: Centre, site: str, reason: str) -> int:
    return int(centre.sample("netmon_site_refused_results_total", site=site, reason=reason) or 0)


def wait_firing(centre: Centre, site: str, expected: bool = True) -> None:
    deadline = time.monotonic() + 10
    while ("LinkDown" in centre.firing(site)) != expected:
        assert time.monotonic() < deadline, f"LinkDown of {site} {'never fired' if expected else 'never resolved'}"
        time.sleep(0.2)


def wait_resolved(centre: Centre, site: str) -> None:
    wait_firing(centre, site, expected=False)


def test_a_broken_clock_is_refused_at_the_door_and_alerts_still_fire(centre: Centre) -> None:
    """Issue 11: one record stamped in 2100 pinned "latest" and stopped alert evaluation for the site."""
    lane = centre.lane(SITES[0])
    stamps = iter([YEAR_2100_NS, YEAR_2000_NS, time.time_ns() - 9 * 86400 * 10**9] * 10**6)

    def broken_clock() -> tuple[int, object]:  # the site's own agent, with its clock wrong
        [seq] = lane.seqs(1)
        return lane.post(batch(lane.site_id, [icmp(lane.site_id, seq, next(stamps))]))

    with flooding(Attack("clock", broken_clock)) as attack:
        lag = lane.measure()
        # a sample 4 minutes ahead (within limits.max_future_skew) is accepted but counts as taken now:
        # the line going down in the next seconds still fires (it used to be ignored until the clock passed it)
        assert centre.firing(lane.site_id) == ["LinkDown"]
        lane.send(13, ago=0)  # the line is back: LinkDown resolves (clear 0.5)
        [ahead] = lane.seqs(1)
        status, ack = lane.post(batch(lane.site_id, [icmp(lane.site_id, ahead, time.time_ns() + 240 * 10**9)]))
        assert (status, ack["accepted"]) == (200, 1)
        wait_resolved(centre, lane.site_id)
        lane.link_down_live(3.5)
        wait_firing(centre, lane.site_id)
    assert set(attack.statuses) == {422} and lag < 10, attack.statuses
    errors = [a["rejected"][0]["errors"] for a in attack.answers]
    assert all(len(e) == 1 and e[0]["path"] == "results[0].time_ns" for e in errors), errors
    assert {e[0]["message"][:19] for e in errors[:2]} == {"stamped 2100-01-01T", "stamped 2000-01-01T"}
    future = next(a for a in attack.answers if "2100" in str(a))["rejected"][0]["errors"][0]["message"]
    assert future.endswith("s ahead of the collector's clock (limit 300 s, limits.max_future_skew): the agent's "
                           "clock is wrong")
    old = next(a for a in attack.answers if "2000-01" in str(a))["rejected"][0]["errors"][0]["message"]
    assert old.endswith("older than the collector accepts (8 d, limits.max_result_age)")
    posts = sum(attack.statuses.values())
    assert refused(centre, lane.site_id, "future") + refused(centre, lane.site_id, "too_old") == posts
    # "latest" is the genuine newest sample, the LinkDown just sent, not the one stamped ahead
    leased = next(link for link in centre.collector.get_json(f"/api/v1/sites/{lane.site_id}")["links"]
                  if link["name"] == "leased")
    assert leased["loss_ratio"] == 1.0 and leased["updated_ns"] <= time.time_ns()


def test_the_centre_shows_whose_clock_is_off_as_the_agent_measured_it(centre: Centre, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The real agent client against the real collector: its offset from the collector's Date answers."""
    site = SITES[1]
    token_file = tmp_path / "token"
    token_file.write_text(centre.tokens[site] + "\n")
    connection = CollectorConnection(url=centre.collector.url, token_file=str(token_file), insecure_http=True)
    lane = centre.lane(site)

    async def post_twice() -> float | None:
        client = CollectorClient(connection, site_id=site, agent_id=f"{site}-agent")
        try:
            for _ in range(2):  # the first answer's Date gives the offset, the second upload reports it
                [seq] = lane.seqs(1)
                record = icmp(site, seq, time.time_ns())
                settled = await client.post([Queued(seq, "icmp", json.dumps(record))], 0)
                assert settled.acked == {seq}
            return client.clock_offset_seconds
        finally:
            await client.aclose()

    real_time = time.time
    monkeypatch.setattr(collector_client.time, "time", lambda: real_time() + 3600.0)  # the agent's clock: +1 h
    offset = asyncio.run(post_twice())
    monkeypatch.undo()
    assert offset is not None and abs(offset - 3600) < 1.5
    stats = centre.collector.get_json("/api/v1/stats")
    mine = next(s for s in stats["sites"] if s["site_id"] == site)
    assert abs(mine["clock_offset_seconds"] - 3600) < 1.5 and mine["clock_off"] is True
    assert site in stats["totals"]["sites_clock_off"]
    shown = centre.sample("netmon_site_clock_offset_seconds", site=site)
    assert shown is not None and abs(shown - 3600) < 1.5
    assert (centre.sample("netmon_collector_sites_clock_off") or 0) >= 1
    # a site whose clock is right is not listed
    good = next(s for s in stats["sites"] if s["site_id"] == SITES[0])
    assert good["clock_off"] is False
