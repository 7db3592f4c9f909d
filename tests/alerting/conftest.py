"""Fixtures for the alerting tests: the state store on each backend, local receivers, torn down after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.alerting.store import AlertStore, open_store
from netmon.lab.postgres import PostgresServer
from netmon.lab.standins import WebhookReceiver
from netmon.statedb import StateLocation


@pytest.fixture(params=["sqlite", "postgres"])
def alert_state(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    """Where a test's alert state lives, once per backend (the same test body runs against both, as
    apscheduler 4 runs its data store tests): ``state_dir/alerting.db``, or a fresh database of the
    session's real PostgreSQL."""
    if request.param == "sqlite":
        return StateLocation(state_dir=tmp_path, instance="test")
    server: PostgresServer = request.getfixturevalue("postgres")
    return StateLocation(state_dir=tmp_path, instance="test", postgres_dsn=server.create_database())


@pytest.fixture
def alert_store(alert_state: StateLocation) -> Iterator[AlertStore]:
    store = open_store(alert_state)
    yield store
    store.close()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def noc_hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
