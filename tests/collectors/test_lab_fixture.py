"""The lab fixture starts the real collector inside a lab namespace too (for the delivery tests)."""

from __future__ import annotations

from pathlib import Path

from netmon.lab.collector import lab_site, sample_batch, start_collector, write_central, write_registry
from netmon.lab.netns import Lab
from tests.conftest import netmon_env


def test_collector_inside_a_lab_namespace(lab: Lab, tmp_path: Path) -> None:
    centre = lab.namespace("centre")
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry, host="127.0.0.1", port=18080)  # the namespace's own loopback
    collector = start_collector(config, ns=centre, env=netmon_env())
    token = collector.enrol("26734")
    assert collector.post_batch(token, sample_batch("26734", [1, 2, 3]), gzipped=True)[1]["accepted"] == 3
    assert collector.get_json("/api/v1/sites/26734")["accepted"] == 3
    collector.kill()
    assert not collector.proc.alive()
