"""The demo's summary text, from the incidents and peaks the observer collected (no stack needed)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from netmon.lab.demo.observe import Peaks
from netmon.lab.demo.plan import communes
from netmon.lab.demo.scenario import Roles
from netmon.lab.demo.summary import MAX_LISTED, summary_lines


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
