"""Real InfluxDB (Debian's influxd, 1.x API) loaded once with the known province of ``dataset``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from netmon.collectors.lineproto import line
from netmon.config.central import InfluxConfig
from netmon.dashboards.influx import InfluxQLClient
from netmon.lab.services import Server, start_influxdb
from tests.dashboards import dataset


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_influxdb(tmp_path_factory.mktemp("influxdb"))
    try:
        yield server
    finally:
        server.stop()


def write_lines(server: Server, database: str, lines: list[str]) -> None:
    httpx.post(f"{server.url}/query", data={"q": f'CREATE DATABASE "{database}"'}, timeout=10).raise_for_status()
    for start in range(0, len(lines), 5000):
        response = httpx.post(f"{server.url}/write", params={"db": database, "precision": "ns"},
                              content="\n".join(lines[start:start + 5000]).encode(), timeout=30)
        assert response.status_code == 204, response.text


@pytest.fixture(scope="session")
def loaded(influxdb: Server) -> tuple[InfluxConfig, int]:
    """(connection, now in ms): the dataset written relative to ``now``."""
    now_ns = time.time_ns()
    records = dataset.records(now_ns)
    # The collector's own TSDB line writer: exactly what it stores (docs/schema.md).
    write_lines(influxdb, "netmon", [line(r.model_dump(mode="json"), dataset.province_of(r.site_id), None, r.seq,
                                          r.time_ns) for r in records])
    return InfluxConfig(url=influxdb.url, api="v1", database="netmon"), now_ns // 1_000_000


@pytest.fixture
def influx_client(loaded: tuple[InfluxConfig, int]) -> Iterator[InfluxQLClient]:
    with InfluxQLClient(loaded[0]) as client:
        yield client
