"""One real collector (with alerting) and one real influxd per test module of the hostile suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.lab.collector import influx_settings, lab_site, start_collector, write_central, write_registry
from netmon.lab.services import start_influxdb
from tests.conftest import netmon_env
from tests.hostile.lane import Centre, enrol_all

SITES = [str(41000 + i) for i in range(1, 17)]
MakeCentre = Callable[..., Centre]


@pytest.fixture(scope="module")
def make_centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeCentre]:
    """Start the module's centre once: ``make_centre(limits=..., journal=..., plans={site: plan}, rules=YAML)``."""
    started: list[Any] = []

    def make(plans: dict[str, dict[str, Any]] | None = None, rules: str | None = None, **sections: Any) -> Centre:
        workdir = Path(tmp_path_factory.mktemp("centre"))
        # Lanes report a 70 s outage in one batch and good results 100 s back: for this suite (one site
        # against another, not replay after an outage, which tests/alerting covers) that is news, not a backlog.
        sections["alerting"] = {"late_margin": 150, **sections.get("alerting", {})}
        if rules is not None:
            (workdir / "rules.yaml").write_text(rules)
            sections["alerting"] = {**sections.get("alerting", {}), "rules_file": str(workdir / "rules.yaml")}
        influx = start_influxdb(workdir / "influx")
        started.append(influx)
        registry = write_registry(workdir / "sites.yaml", [lab_site(s, **({"plan": plans[s]} if plans and s in plans
                                                                         else {})) for s in SITES])
        config = write_central(workdir, registry, influx=influx_settings(influx, "v1"), **sections)
        collector = start_collector(config, env=netmon_env())
        started.append(collector)
        return Centre(collector, influx, enrol_all(collector, SITES))

    try:
        yield make
    finally:
        for part in reversed(started):
            part.stop()
