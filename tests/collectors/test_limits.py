"""The per-record limits and the series budget, unit by unit (the real collector answering them:
tests/hostile/)."""

from __future__ import annotations

import time
from typing import Any

from netmon.collectors.budget import SeriesBudget
from netmon.collectors.limits import RecordLimits, largest_without_info, record_bytes
from netmon.config.central import CentralConfig
from netmon.config.registry import RegistrySite
from netmon.contract import ResultRecord
from netmon.lab.collector import lab_site

NOW = time.time_ns()


def record(i: int = 0, **changes: Any) -> ResultRecord:
    fields: dict[str, Any] = {"site_id": "26734", "agent_id": "26734-agent", "seq": i, "probe": "icmp",
                              "link": "leased", "target": "isp-edge", "time_ns": NOW, "status": "ok",
                              "values": {"loss_ratio": 0.0}}
    return ResultRecord.model_validate({**fields, **changes})


def limits(**limits: Any) -> RecordLimits:
    return RecordLimits(CentralConfig(registry="sites.yaml", limits=limits, journal={"retention": "8d"}))


def test_the_time_window_is_the_skew_ahead_and_the_retention_behind() -> None:
    door = limits(max_future_skew="5m")
    assert door.errors(0, record(time_ns=NOW + 299 * 10**9), NOW, 100) is None
    reason, [error] = door.errors(3, record(time_ns=NOW + 301 * 10**9), NOW, 100) or ("", [])
    assert (reason, error.path) == ("future", "results[3].time_ns") and "301 s ahead" in error.message
    assert door.errors(0, record(time_ns=NOW - 8 * 86400 * 10**9 + 10**9), NOW, 100) is None
    reason, [error] = door.errors(0, record(time_ns=NOW - 8 * 86400 * 10**9 - 10**9), NOW, 100) or ("", [])
    assert reason == "too_old" and error.message.endswith(
        "older than the collector accepts (8 d, limits.max_result_age)")


def test_text_and_info_limits_name_each_field() -> None:
    door = limits(max_text_chars=100, max_info_entries=2, max_info_bytes=300)
    over = record(status="failed", reason="x" * 101, info={"a": "y" * 150, "b": "z", "c": "w"})
    reason, errors = door.errors(0, over, NOW, 100) or ("", [])
    assert reason == "limits"
    assert [(e.path, e.message) for e in errors] == [
        ("results[0].info", "3 entries; at most 2 (limits.max_info_entries)"),
        ("results[0].reason", "101 characters; at most 100 (limits.max_text_chars)"),
        ("results[0].info.a", "150 characters; at most 100 (limits.max_text_chars)")]
    utf8 = record(info={"note": "ữ" * 100})  # 3 bytes a character
    assert [e.message for e in (door.errors(0, utf8, NOW, 100) or ("", []))[1]] == [
        "304 bytes of keys and values; at most 300 (limits.max_info_bytes)"]


def test_the_record_size_is_measured_only_where_it_could_be_exceeded() -> None:
    assert largest_without_info(500) + 4096 <= 8192  # the defaults: a record within its info limits fits
    big = record(info={f"k{i}": "x" * 90 for i in range(12)})  # ~1.1 KB of info
    assert record_bytes(big) > 1100
    tight = limits(max_record_bytes="1KiB")
    reason, [error] = tight.errors(0, big, NOW, 50_000) or ("", [])
    assert (reason, error.path) == ("limits", "results[0]") and error.message.startswith("the record is ")
    assert tight.errors(0, big, NOW, 1000) is None  # a body under the limit cannot hold a record over it
    assert limits().errors(0, big, NOW, 50_000) is None


def site(**extra: Any) -> RegistrySite:
    return RegistrySite.model_validate(lab_site("26734", **extra))


def test_planned_series_always_pass_the_others_fit_the_allowance() -> None:
    plan = {"links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 100,
                       "targets": [{"host": "192.0.2.1", "name": "isp-edge"}]}],
            "platforms": [{"name": "dvc", "system": "admin_procedures", "url": "https://dvc.example/"}]}
    budget = SeriesBudget(unplanned_per_site=2)
    planned = site(plan=plan)
    known = [record(0), record(1, probe="http", link=None, target="dvc", values={"total_seconds": 1.0}),
             record(2, probe="agent", link=None, target="26734-agent", values={})]
    assert budget.admit(planned, known) == [] and budget.unplanned("26734") == 0
    made_up = [record(10 + i, target=f"t{i}") for i in range(4)] + [record(20, link="nowhere")]
    over = budget.admit(planned, made_up)
    assert [i for i, _ in over] == [2, 3, 4] and budget.unplanned("26734") == 2
    assert over[0][1].path == "results[2].target"
    assert budget.admit(planned, made_up[:2]) == []  # series it already has stay admitted
    # the registry is reloaded without the plan: what it has is counted again, nothing new fits
    replanned = site()
    assert budget.admit(replanned, [record(30, target="t9")])[0][0] == 0
    assert budget.unplanned("26734") == 4  # isp-edge, t0, t1 and dvc are now all unplanned


def test_a_restart_does_not_hand_out_a_fresh_allowance() -> None:
    budget = SeriesBudget(unplanned_per_site=2)
    budget.seed(site(), [("icmp", "leased", "a"), ("icmp", "leased", "b")])
    assert [i for i, _ in budget.admit(site(), [record(1, target="c")])] == [0]



def test_the_accepted_age_is_its_own_limit_not_the_journal_retention() -> None:
    config = CentralConfig(registry="r.yaml")
    assert (config.limits.max_result_age, config.journal.retention) == (8 * 86400, 2 * 86400)
    door = RecordLimits(CentralConfig(registry="r.yaml", limits={"max_result_age": 3600}))
    assert door.errors(0, record(time_ns=NOW - 3599 * 10**9), NOW, 100) is None
    reason, [error] = door.errors(0, record(time_ns=NOW - 3601 * 10**9), NOW, 100) or ("", [])
    assert (reason, error.path) == ("too_old", "results[0].time_ns")
    assert error.message.endswith("older than the collector accepts (0.0416667 d, limits.max_result_age)")
