"""Identity is the token's site: another site's agent id, site id or replayed batch is refused (403),
and seqs far ahead of a site's range — even sent with that site's own token — never turn its later
results into duplicates. Each test floods from one site while a victim site works as usual."""

from __future__ import annotations

import time

import pytest

from netmon.collectors.sqlite import SITES_DB, connect
from netmon.collectors.tokens import TokenStore
from tests.hostile.conftest import SITES, MakeCentre
from tests.hostile.lane import Attack, Centre, batch, detail, flooding, icmp


@pytest.fixture(scope="module")
def centre(make_centre: MakeCentre) -> Centre:
    # gaps close after 2 s, at most 10 per agent, checked every second: what takes days in production
    return make_centre(journal={"dedupe_gap_close_after": "2s", "dedupe_max_gaps_per_agent": 10,
                                "maintenance_interval": "1s"})


def test_another_sites_agent_id_is_refused_and_its_seqs_stay_the_victims(centre: Centre) -> None:
    """Issue 11: posting under the victim's agent id marked its seqs seen; its results became duplicates."""
    attacker, victim = centre.lane(SITES[0]), centre.lane(SITES[1])
    target_seqs = range(victim.next_seq, victim.next_seq + 2000)  # everything the victim will send next
    scattered = [victim.next_seq + 10**12 * k for k in range(1, 13)]
    posts = iter(range(10**9))

    def under_the_victims_agent() -> tuple[int, object]:
        k = next(posts)
        seqs = list(target_seqs)[k % 100 * 13:][:13] if k % 2 else scattered
        return attacker.post(batch(attacker.site_id, [icmp(attacker.site_id, s, time.time_ns(),
                                                            agent_id=f"{victim.site_id}-agent") for s in seqs],
                                   agent_id=f"{victim.site_id}-agent"))

    with flooding(Attack("agent-id", under_the_victims_agent)) as attack:
        lag = victim.measure()
    assert set(attack.statuses) == {403}, attack.statuses
    assert detail(attack.answers[0]) == (
        f"the batch's agent_id is '{victim.site_id}-agent' but the token of site '{attacker.site_id}' was enrolled "
        f"for agent '{attacker.site_id}-agent'; re-enrol with 'netmon sites enrol {attacker.site_id} --rotate "
        f"--agent-id {victim.site_id}-agent' if the agent was renamed")
    assert lag < 10 and centre.stored_seqs(attacker.site_id) == set()
    assert centre.sample("netmon_site_rejected_requests_total", site=attacker.site_id, reason="forbidden") == \
        attack.statuses[403]


def test_another_sites_id_or_a_replayed_batch_of_it_is_refused(centre: Centre) -> None:
    attacker, victim = centre.lane(SITES[2]), centre.lane(SITES[3])
    captured = batch(victim.site_id, [icmp(victim.site_id, s, time.time_ns() - 200 * 10**9) for s in victim.seqs(13)])
    status, ack = victim.post(captured)
    assert status == 200 and ack["accepted"] == 13
    forged = batch(attacker.site_id, [icmp(victim.site_id, s, time.time_ns()) for s in attacker.seqs(13)])
    answers = iter([captured, forged] * 10**6)
    with flooding(Attack("replay", lambda: attacker.post(next(answers)))) as attack:
        lag = victim.measure()
    assert set(attack.statuses) == {403}, attack.statuses
    assert {detail(a) for a in attack.answers} == {
        f"the batch's site_id is '{victim.site_id}' but the token belongs to site '{attacker.site_id}'; a token "
        "writes only its own site",
        f"results[0].site_id is '{victim.site_id}' but the token belongs to site '{attacker.site_id}'; a token "
        "writes only its own site"}
    assert lag < 10


def test_seqs_far_ahead_even_with_the_sites_own_token_never_make_its_next_results_duplicates(
        centre: Centre) -> None:
    """A stolen (or broken) agent of the site itself: scattered huge seqs, then the gap cap and gap age."""
    lane = centre.lane(SITES[4])
    lane.send(13)
    for k in range(1, 21):  # twenty islands far ahead, with the site's own token: accepted (200), harmless
        status, ack = lane.post(batch(lane.site_id, [icmp(lane.site_id, lane.next_seq + k * 10**12,
                                                          time.time_ns() - 200 * 10**9)]))
        assert (status, ack["accepted"]) == (200, 1)
    time.sleep(3.5)  # the gaps are older than dedupe_gap_close_after and over the cap; maintenance ran
    lag = lane.measure()  # every later result of the genuine agent is new, stored, alerted on
    assert lag < 10
    assert centre.sample("netmon_site_seq_anomalies_total", site=lane.site_id, kind="jump") == 20
    forgotten = centre.sample("netmon_site_seq_anomalies_total", site=lane.site_id, kind="forgotten")
    assert forgotten is not None and forgotten >= 10


def test_a_token_enrolled_before_agents_were_bound_binds_to_its_first_agent(centre: Centre) -> None:
    site = SITES[5]
    conn = connect(centre.collector.state_dir / SITES_DB)
    try:
        token = TokenStore(conn).enrol(site)
        conn.execute("UPDATE tokens SET agent_id = NULL WHERE site_id = ? AND revoked_ns IS NULL", (site,))
    finally:
        conn.close()
    time.sleep(0.2)  # the collector's token cache notices sites.db changed
    lane = centre.lane(site)
    lane.token = token
    first = batch(site, [icmp(site, s, time.time_ns(), agent_id="box-7") for s in lane.seqs(3)], agent_id="box-7")
    assert lane.post(first)[0] == 200
    again = batch(site, [icmp(site, s, time.time_ns()) for s in lane.seqs(3)])
    status, body = lane.post(again)
    assert status == 403 and "was enrolled for agent 'box-7'" in detail(body)
