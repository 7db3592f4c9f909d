"""The demo's summary text, readiness section and live table, from what the observer collected
(no stack needed; tests/test_demo.py plays the whole demo)."""

from __future__ import annotations

import types
from typing import Any

import pytest
from rich.console import Console

from netmon.config.readiness import ReadinessConfig
from netmon.dashboards.readiness.measure import Window
from netmon.lab.demo.observe import LinkView, Peaks, SiteView, Snapshot
from netmon.lab.demo.plan import PLATFORMS, READINESS_BUCKET_SECONDS, communes, demo_readiness
from netmon.lab.demo.scenario import PLATFORM_DELAY_SECONDS, Roles
from netmon.lab.demo.summary import MAX_LISTED, summary_lines
from netmon.lab.demo.view import sites_table


def scenario() -> Any:
    """What summary_lines reads of a Scenario: the roles it played and its timeline."""
    first, second, third = (types.SimpleNamespace(spec=spec) for spec in communes(3))
    roles = Roles(saturated=third, uplink_lost=second, platform_slow=[first])  # type: ignore[arg-type]
    return types.SimpleNamespace(roles=roles, log=[(9.0, "Xã An Phước (99003): leased line saturated")])


def incident(number: int) -> dict[str, Any]:
    return {"rule": "PlatformSlow", "severity": "warning", "site_id": "99001", "labels": {"site_name": "Xã Phước Tân"},
            "target": f"dvc{number}"}


@pytest.mark.parametrize("count", [0, 1, MAX_LISTED, MAX_LISTED + 1])
def test_the_incident_list_ends_where_it_should(count: int) -> None:
    peaks = Peaks(incidents={str(i): incident(i) for i in range(count)})
    lines = summary_lines(scenario(), peaks)
    start = lines.index(next(line for line in lines if line.startswith("Incidents that fired")))
    listed = lines[start + 1:]
    assert lines[start] == (f"Incidents that fired ({count}: PlatformSlow ×{count}):" if count
                            else "Incidents that fired (0):")
    expected = [f"  PlatformSlow · warning · Xã Phước Tân (99001) · dvc{i}" for i in range(min(count, MAX_LISTED))]
    if count > MAX_LISTED:
        expected.append(f"  … and {count - MAX_LISTED} more (netmon alerts list --state all)")
    assert listed == (expected or ["  none"])
    assert not any("not part of this build" in line for line in lines)


@pytest.mark.parametrize(("story_seconds", "loopback"), [(70.0, False), (100.0, False), (31.3, True)])
def test_the_readiness_window_covers_the_story_in_buckets_it_fills(story_seconds: float, loopback: bool) -> None:
    """A 70-100 s demo never filled one 24-hour bucket, so every commune read "no data"."""
    started, now = 1_751_331_603.7, 1_751_331_603.7 + story_seconds
    config = ReadinessConfig.model_validate(demo_readiness(started, now, loopback=loopback))
    window = Window.ending_at(int(now * 1000), config)
    assert window.start_ms <= started * 1000 < window.start_ms + READINESS_BUCKET_SECONDS * 1000
    assert now * 1000 - READINESS_BUCKET_SECONDS * 1000 < window.end_ms <= now * 1000
    assert window.buckets(config) == round((window.end_ms - window.start_ms) / 1000 / READINESS_BUCKET_SECONDS) >= 4
    assert config.throughput is None and config.platforms.max_response == 5.0
    assert config.platforms.max_response > PLATFORM_DELAY_SECONDS  # the platform's slowdown, not the communes'
    assert (config.utilisation is None) is loopback


def test_the_live_view_gives_platform_times_their_unit() -> None:
    site = SiteView(site_id="99001", name="Xã Phước Tân", report_age_seconds=1.0,
                    links={"leased": LinkView(0.004, 0.0, 0.1)},
                    platforms={name: ("ok", 0.25) for name, _ in PLATFORMS})
    console = Console(width=200, record=True)
    console.print(sites_table(Snapshot(sites=[site], incidents=[], ingest_per_second=1.0, accepted_total=1,
                                       tsdb_lag_seconds=0.0, errors=[])))
    text = console.export_text()
    assert all(f"{name} (s)" in text for name, _ in PLATFORMS)
    assert text.count("0.2 s") == len(PLATFORMS)
