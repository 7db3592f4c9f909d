"""The runner is where hangs, crashes and probes that cannot run become results."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import ClassVar

import pytest

from netmon.config.site import SiteIdentity
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import ProbeError
from netmon.probes import runner
from netmon.probes.base import ProbeOptions, ProbeTask, Scope
from netmon.probes.runner import TIMEOUT_GRACE_SECONDS, run_task

SITE = SiteIdentity(id="26734", name="Phường Phước Tân", province="Đồng Nai")


class Misbehaving:
    kind: ClassVar[ProbeKind] = ProbeKind.TCP
    Options: ClassVar[type[ProbeOptions]] = ProbeOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None

    def __init__(self, mode: str) -> None:
        self.mode = mode

    async def measure(self, task: ProbeTask) -> Observation:
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if self.mode == "cannot run":
            raise ProbeError("source_address 10.9.9.9 is not configured on this host")
        raise RuntimeError("socket table corrupted")

    async def aclose(self) -> None:
        pass


def task(timeout: float) -> ProbeTask:
    return ProbeTask(kind=ProbeKind.TCP, key="tcp/lan/gw", target="gw", host="127.0.0.1",
                     options=ProbeOptions(timeout=timeout), site=SITE)


async def test_a_hanging_probe_is_cut_off_at_its_timeout_and_reported() -> None:
    start = time.monotonic()
    result = await run_task(Misbehaving("hang"), task(0.2))  # type: ignore[arg-type]
    elapsed = time.monotonic() - start
    assert result.status is Status.ERROR
    assert result.reason == f"probe did not finish within {0.2 + TIMEOUT_GRACE_SECONDS:g} s and was cut off"
    assert 1.2 <= elapsed < 1.7


async def test_a_crashing_probe_becomes_an_error_result() -> None:
    result = await run_task(Misbehaving("crash"), task(1))  # type: ignore[arg-type]
    assert result.status is Status.ERROR
    assert result.reason == "probe crashed: RuntimeError: socket table corrupted"
    assert result.target == "gw"


class CrashesTwoWays(Misbehaving):
    """Like the ``UnboundLocalError`` snmp_if once raised on every poll of a partial agent."""

    def __init__(self) -> None:
        super().__init__("crash")
        self.runs = 0

    async def measure(self, task: ProbeTask) -> Observation:
        self.runs += 1
        if self.runs % 2:
            raise KeyError(f"column {self.runs}")  # the text changes, the place does not
        raise ValueError("no counters")


async def test_a_probe_crashing_on_every_poll_logs_one_line_per_distinct_crash(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_logged_crashes", set())
    probe = CrashesTwoWays()
    with caplog.at_level(logging.ERROR, logger="netmon.probes.runner"):
        results = [await run_task(probe, task(1)) for _ in range(6)]  # type: ignore[arg-type]
    assert [r.status for r in results] == [Status.ERROR] * 6
    assert results[2].reason == "probe crashed: KeyError: 'column 3'"
    assert results[5].reason == "probe crashed: ValueError: no counters"
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("probe tcp/lan/gw crashed: KeyError: 'column 1' (at ")
    assert lines[1].startswith("probe tcp/lan/gw crashed: ValueError: no counters (at ")
    assert "test_runner.py:" in lines[0] and "\n" not in lines[0]
    assert all(record.exc_info is None for record in caplog.records)  # no traceback per crash


async def test_a_probe_that_cannot_run_is_an_error_result_with_its_own_reason(caplog: pytest.LogCaptureFixture) -> None:
    result = await run_task(Misbehaving("cannot run"), task(1))  # type: ignore[arg-type]
    assert result.status is Status.ERROR
    assert result.reason == "source_address 10.9.9.9 is not configured on this host"
    assert not [r for r in caplog.records if r.exc_info]  # a configuration fault, not a bug: no traceback
