"""Every input is bounded at the door: a huge ``info``, ``info`` keys named like tags or values,
made-up targets by the thousand, a flood over the site's rate — each refused with its documented
4xx (the field path in the 422), counted per site, while a victim site's results are all stored
in InfluxDB within seconds and its LinkDown still fires."""

from __future__ import annotations

import time

import pytest

from netmon.lab.tsdbquery import influxql
from tests.hostile.conftest import SITES, MakeCentre
from tests.hostile.lane import Attack, Centre, batch, detail, flooding, icmp

UNPLANNED = 20


@pytest.fixture(scope="module")
def centre(make_centre: MakeCentre) -> Centre:
    return make_centre(limits={"site_unplanned_series": UNPLANNED, "site_results_per_minute": 6000})


def refused(centre: Centre, site: str, reason: str) -> int:
    return int(centre.sample("netmon_site_refused_results_total", site=site, reason=reason) or 0)


def test_a_huge_info_is_refused_at_the_door_and_the_tsdb_keeps_up(centre: Centre) -> None:
    """Issue 11: twenty 3.9 MB records (29 KB gzipped) stalled every site's writes for minutes."""
    attacker, victim = centre.lane(SITES[0]), centre.lane(SITES[1])
    huge = {f"k{i}": "x" * 500 for i in range(7800)}  # 3.9 MB, every key and value within the contract

    def huge_info() -> tuple[int, object]:
        [seq] = attacker.seqs(1)
        return attacker.post(batch(attacker.site_id, [icmp(attacker.site_id, seq, time.time_ns(), info=huge)]),
                             gzipped=True)

    with flooding(Attack("huge-info", huge_info)) as attack:
        lag = victim.measure()
    assert set(attack.statuses) == {422}, attack.statuses
    [rejected] = attack.answers[0]["rejected"]
    info_bytes = sum(len(k) + len(v) for k, v in huge.items())
    assert [(e["path"], e["message"]) for e in rejected["errors"]] == [
        ("results[0].info", "7800 entries; at most 16 (limits.max_info_entries)"),
        ("results[0].info", f"{info_bytes} bytes of keys and values; at most 4096 (limits.max_info_bytes)")]
    assert lag < 10 and centre.stored_seqs(attacker.site_id) == set()
    assert refused(centre, attacker.site_id, "limits") == sum(attack.statuses.values())


def test_info_keys_named_like_tags_or_values_are_refused_and_queries_see_only_the_victim(centre: Centre) -> None:
    """Issue 11: an info key 'site' became a field beside the tag, and queries returned the injected point."""
    attacker, victim = centre.lane(SITES[2]), centre.lane(SITES[3])
    keys = iter([{"site": victim.site_id, "province": "Hà Nội"}, {"rtt_avg_seconds": "0.999"}, {"time": "0"}] * 10**6)

    def spoof() -> tuple[int, object]:
        [seq] = attacker.seqs(1)
        return attacker.post(batch(attacker.site_id, [icmp(attacker.site_id, seq, time.time_ns(), info=next(keys))]))

    with flooding(Attack("reserved-keys", spoof)) as attack:
        lag = victim.measure()
    assert set(attack.statuses) == {422} and lag < 10, attack.statuses
    messages = {a["rejected"][0]["errors"][0]["message"].split(" (got")[0] for a in attack.answers}
    assert messages == {f"Value error, info key(s) {keys} are reserved: tag, field or value names of the storage schema"
                        for keys in (['province', 'site'], ['rtt_avg_seconds'], ['time'])}
    assert {a["rejected"][0]["errors"][0]["path"] for a in attack.answers} == {"results[0].info"}
    # what the dashboards ask InfluxDB: the victim's own points only, and no field named like a tag
    rows = influxql(centre.influx.url, "netmon", f"SELECT * FROM \"icmp\" WHERE \"site\" = '{victim.site_id}'")
    assert {int(r["seq"]) for r in rows} == centre.stored_seqs(victim.site_id) and rows
    fields = influxql(centre.influx.url, "netmon", "SHOW FIELD KEYS FROM \"icmp\"")
    assert not {"site", "province", "time"} & {f["fieldKey"] for f in fields}
    assert {f["fieldType"] for f in fields if f["fieldKey"] == "rtt_avg_seconds"} == {"float"}


def test_made_up_targets_stop_at_the_sites_series_budget(centre: Centre) -> None:
    """Issue 11: two batches of 10,000 made-up targets added 20,000 series and 20,000 alert baselines."""
    attacker, victim = centre.lane(SITES[4]), centre.lane(SITES[5])
    answers = []

    def invent() -> tuple[int, object]:
        seqs = attacker.seqs(10_000)
        body = batch(attacker.site_id, [icmp(attacker.site_id, s, time.time_ns(), target=f"t{s}") for s in seqs])
        status, answer = attacker.post(body, gzipped=True)
        if status == 422:  # what an agent does: drop the rejected seqs, resend the rest
            dropped = {r["seq"] for r in answer["rejected"]}
            body["results"] = [r for r in body["results"] if r["seq"] not in dropped]
            answers.append(attacker.post(body))
        return status, answer

    with flooding(Attack("targets", invent)) as attack:
        lag = victim.measure()
    assert set(attack.statuses) == {422} and lag < 10, attack.statuses
    first = attack.answers[0]
    assert len(first["rejected"]) == 10_000 - UNPLANNED
    error = first["rejected"][0]["errors"][0]
    assert error["path"] == f"results[{UNPLANNED}].target" and error["message"].endswith(
        f"is not in the site's registry entry, and the site already has {UNPLANNED} such series "
        "(limits.site_unplanned_series)")
    assert answers[0][0] == 200 and answers[0][1]["accepted"] == UNPLANNED
    series = influxql(centre.influx.url, "netmon", f"SHOW SERIES FROM \"icmp\" WHERE \"site\" = '{attacker.site_id}'")
    assert len(series) == UNPLANNED
    posts = sum(attack.statuses.values())
    assert refused(centre, attacker.site_id, "series_budget") == (10_000 - UNPLANNED) + 10_000 * (posts - 1)
    assert centre.sample("netmon_site_unplanned_series", site=attacker.site_id) == UNPLANNED


def test_a_flood_over_the_sites_rate_is_429_and_the_victim_keeps_its_pace(centre: Centre) -> None:
    attacker, victim = centre.lane(SITES[6]), centre.lane(SITES[7])

    def flood() -> tuple[int, object]:
        seqs = attacker.seqs(5_000)
        return attacker.post(batch(attacker.site_id, [icmp(attacker.site_id, s, time.time_ns()) for s in seqs]),
                             gzipped=True)

    with flooding(Attack("flood", flood)) as attack:
        lag = victim.measure()
    assert set(attack.statuses) == {200, 429} and attack.statuses[200] == 1, attack.statuses  # 6,000 a minute
    assert detail(attack.first[429]).startswith(f"site {attacker.site_id} is over its limit of 6000 results per minute")
    assert lag < 10


def test_a_gzip_bomb_and_deep_nesting_are_refused_before_they_cost_anything(centre: Centre) -> None:
    import gzip

    attacker, victim = centre.lane(SITES[8]), centre.lane(SITES[9])
    bomb = gzip.compress(b'{"site_id": "' + attacker.site_id.encode() + b'", "results": [' + b" " * 50_000_000 + b"]}")
    nested = b'{"site_id": "x", "agent_id": "y", "results": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    bodies = iter([bomb, nested] * 10**6)

    def hostile_bytes() -> tuple[int, object]:
        body = next(bodies)
        return attacker.post(body, headers={"Content-Encoding": "gzip"} if body is bomb else None)

    with flooding(Attack("bytes", hostile_bytes)) as attack:
        lag = victim.measure()
    assert set(attack.statuses) <= {413, 400, 422} and 413 in attack.statuses, attack.statuses
    assert lag < 10
