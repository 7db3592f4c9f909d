"""Fixtures for the alerting tests: local receivers, torn down after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netmon.lab.standins import WebhookReceiver


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
