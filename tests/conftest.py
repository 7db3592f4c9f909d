"""Shared fixtures. Namespace tests fail (never skip) in CI when root or namespaces are missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.lab.collector import netmon_argv as netmon_argv  # re-exported: one definition each, in the lab
from netmon.lab.collector import netmon_env as netmon_env
from netmon.lab.netns import Lab, namespaces_available, sweep_stale
from netmon.lab.postgres import PostgresServer, start_postgres
from netmon.lab.services import Server, start_influxdb
from netmon.lab.topology import SiteTopology, build_site, use_port_block

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_netns() -> None:
    ok, why = namespaces_available()
    if not ok:
        if IN_CI:
            pytest.fail(f"CI=true and this test needs network namespaces: {why}")
        pytest.skip(why)


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_namespaces() -> None:
    if os.geteuid() == 0:
        sweep_stale()


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_netns()
    with Lab() as lab:
        yield lab


@pytest.fixture
def site_topo(lab: Lab) -> SiteTopology:
    """Site -> router -> centre, leased line shaped to 20 Mbit/s, data network to 100 Mbit/s."""
    return build_site(lab, leased_mbit=20, tslcd_mbit=100)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL 15 for the test session (initdb into a temp dir, free loopback port);
    tests take a database of their own from it (``pg_dsn``). Stopped and removed at the end."""
    with start_postgres() as server:
        yield server


@pytest.fixture
def pg_dsn(postgres: PostgresServer) -> str:
    """The DSN of a new, empty database owned by the ``netmon`` role (one per test)."""
    return postgres.create_database()


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[Server]:
    """A real InfluxDB 1.x of this test's own (free port, data in tmp_path), stopped at the end."""
    server = start_influxdb(tmp_path / "influx")
    yield server
    server.stop()


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))




def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under pytest-xdist
    if worker.startswith("gw") and worker[2:].isdigit():
        use_port_block(int(worker[2:]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/probes/ compares a probe's figure with a reference measured in the
    same test (ping, iperf3, curl, a UDP rate through snmpd): ``make test`` runs them alone."""
    probes = Path(__file__).parent / "probes"
    for item in items:
        if probes in Path(item.path).parents:
            item.add_marker(pytest.mark.exclusive)
