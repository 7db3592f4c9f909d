"""Result sinks: explicit registration refuses duplicates; a failing sink is logged and counted and
never fails the ingest; sinks see only newly accepted records."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from netmon.collectors.app import create_app
from netmon.collectors.core import CollectorCore
from netmon.collectors.settings import load_central
from netmon.collectors.sinks import SinkRegistry
from netmon.config.registry import RegistrySite
from netmon.contract import ResultRecord
from netmon.errors import AlreadyRegistered
from netmon.lab.collector import lab_site, sample_batch, write_central, write_registry
from netmon.lab.netns import wait_until


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[int]]] = []
        self.ticks = 0

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        self.seen.append((site.id, [r.seq for r in records]))

    async def tick(self, now_seconds: float) -> None:
        self.ticks += 1


class Broken:
    name = "broken"

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        raise RuntimeError("alerting engine bug")


def test_registration_is_explicit_and_refuses_duplicates() -> None:
    sinks = SinkRegistry()
    sinks.register(Recorder())
    with pytest.raises(AlreadyRegistered, match="a sink named 'recorder' is already registered"):
        sinks.register(Recorder())
    with pytest.raises(TypeError, match="does not implement ResultSink"):
        sinks.register(object())  # type: ignore[arg-type]


def test_a_failing_sink_never_fails_the_ingest(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry)
    recorder = Recorder()

    def extension(app: FastAPI, core: CollectorCore) -> None:
        core.sinks.register(Broken())
        core.sinks.register(recorder)

    app = create_app(load_central(config), extensions=[extension])
    core: CollectorCore = app.state.core
    token = core.tokens.enrol("26734")
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(2):
            response = client.post("/api/v1/results", json=sample_batch("26734", [1, 2, 3]), headers=headers)
            assert response.status_code == 200
        assert recorder.seen == [("26734", [1, 2, 3])]  # the replay brought nothing new
        metrics = client.get("/metrics").text
        assert 'netmon_collector_sink_failures_total{sink="broken"} 1.0' in metrics
        assert client.get("/api/v1/sites/26734").json()["accepted"] == 3
        assert core.sinks.names() == ["live_state", "broken", "recorder"]
        wait_until(lambda: recorder.ticks >= 1, 5, what="the periodic tick")


class Slow:
    """Blocks the event loop as a CPU-bound evaluation would (what the metric is there to show)."""
    name = "slow"

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        time.sleep(0.05 * len(records))  # noqa: ASYNC251 - blocking on purpose


def test_the_time_each_sink_takes_is_exported(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    app = create_app(load_central(write_central(tmp_path, registry)),
                     extensions=[lambda app, core: core.sinks.register(Slow())])
    token = app.state.core.tokens.enrol("26734")
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/results", json=sample_batch("26734", [1, 2, 3, 4]),
                           headers=headers).status_code == 200
        families = {s.labels["sink"] + "/" + s.labels["call"]: s.value
                    for f in text_string_to_metric_families(client.get("/metrics").text)
                    if f.name == "netmon_collector_sink_duration_seconds" for s in f.samples
                    if s.name.endswith("_total")}
    assert 0.2 <= families["slow/handle"] < 0.5, families
    assert families["live_state/handle"] < 0.05, families
