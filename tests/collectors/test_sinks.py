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

from netmon.collectors.abc import CollectorHost, ResultSink, Role
from netmon.collectors.app import create_app
from netmon.collectors.sinks import Sinks
from netmon.collectors.sqlite import SITES_DB, connect
from netmon.collectors.tokens import TokenStore
from netmon.config.central import load_central
from netmon.config.registry import RegistrySite
from netmon.contract import ResultRecord
from netmon.errors import AlreadyRegistered
from netmon.lab.collector import lab_site, sample_batch, write_central, write_registry
from netmon.lab.netns import wait_until


class SinksOnly:
    """An extension that only adds sinks; notes in ``log`` when the collector closes it."""

    def __init__(self, *sinks: ResultSink, name: str = "sinks-only", log: list[str] | None = None) -> None:
        self.name = name
        self.sinks = sinks
        self.log = log if log is not None else []

    def install(self, host: CollectorHost, app: FastAPI) -> None:
        for sink in self.sinks:
            host.add_sink(sink)

    async def aclose(self) -> None:
        self.log.append(f"extension {self.name}")


def enrol(config: Path, site_id: str) -> str:
    conn = connect(Path(load_central(config).state_dir) / SITES_DB)
    try:
        return TokenStore(conn).enrol(site_id)
    finally:
        conn.close()


def viewer(config: Path) -> dict[str, str]:
    conn = connect(Path(load_central(config).state_dir) / SITES_DB)
    try:
        return {"Authorization": f"Bearer {TokenStore(conn).issue(Role.VIEWER, 'noc')}"}
    finally:
        conn.close()


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
    sinks = Sinks()
    sinks.register(Recorder())
    with pytest.raises(AlreadyRegistered, match="a sink named 'recorder' is already registered"):
        sinks.register(Recorder())
    with pytest.raises(TypeError, match="does not implement ResultSink"):
        sinks.register(object())  # type: ignore[arg-type]


def test_a_failing_sink_never_fails_the_ingest(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry)
    recorder = Recorder()
    token = enrol(config, "26734")
    app = create_app(load_central(config), extensions=[SinksOnly(Broken(), recorder)])
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(2):
            response = client.post("/api/v1/results", json=sample_batch("26734", [1, 2, 3]), headers=headers)
            assert response.status_code == 200
        assert recorder.seen == [("26734", [1, 2, 3])]  # the replay brought nothing new
        metrics = client.get("/metrics", headers=viewer(config)).text
        assert 'netmon_collector_sink_failures_total{sink="broken"} 1.0' in metrics
        assert client.get("/api/v1/sites/26734", headers=viewer(config)).json()["accepted"] == 3
        wait_until(lambda: recorder.ticks >= 1, 5, what="the periodic tick")


class Slow:
    """Blocks the event loop as a CPU-bound evaluation would (what the metric is there to show)."""
    name = "slow"

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        time.sleep(0.05 * len(records))  # noqa: ASYNC251 - blocking on purpose


def test_the_time_each_sink_takes_is_exported(tmp_path: Path) -> None:
    config = write_central(tmp_path, write_registry(tmp_path / "sites.yaml", [lab_site("26734")]))
    token = enrol(config, "26734")
    app = create_app(load_central(config), extensions=[SinksOnly(Slow())])
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/results", json=sample_batch("26734", [1, 2, 3, 4]),
                           headers=headers).status_code == 200
        families = {s.labels["sink"] + "/" + s.labels["call"]: s.value
                    for f in text_string_to_metric_families(client.get("/metrics", headers=viewer(config)).text)
                    if f.name == "netmon_collector_sink_duration_seconds" for s in f.samples
                    if s.name.endswith("_total")}
    assert 0.2 <= families["slow/handle"] < 0.5, families
    assert families["live_state/handle"] < 0.05, families


class Closing:
    """A sink with a task of its own, as the alerting sink has for delivery."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        pass

    async def aclose(self) -> None:
        self.log.append(f"sink {self.name}")


def test_stop_closes_the_sinks_then_the_extensions_last_installed_first(tmp_path: Path) -> None:
    config = write_central(tmp_path, write_registry(tmp_path / "sites.yaml", [lab_site("26734")]))
    closed: list[str] = []
    extensions = [SinksOnly(Closing("a", closed), name="first", log=closed),
                  SinksOnly(Closing("b", closed), Recorder(), name="second", log=closed)]
    with TestClient(create_app(load_central(config), extensions=extensions)) as client:
        assert client.get("/healthz").status_code == 200
        assert closed == []
    assert closed == ["sink b", "sink a", "extension second", "extension first"]


def test_extension_and_sink_names_are_unique(tmp_path: Path) -> None:
    config = load_central(write_central(tmp_path, write_registry(tmp_path / "sites.yaml", [lab_site("26734")])))
    with pytest.raises(AlreadyRegistered, match="an extension named 'sinks-only' is already installed"):
        create_app(config, extensions=[SinksOnly(), SinksOnly()])
    with pytest.raises(AlreadyRegistered, match="a sink named 'recorder' is already registered"):
        create_app(config, extensions=[SinksOnly(Recorder()), SinksOnly(Recorder(), name="other")])
