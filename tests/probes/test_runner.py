"""The runner is where hangs, crashes and probes that cannot run become results."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import pytest

from netmon.config.site import SiteIdentity
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import ProbeError
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


async def test_a_probe_that_cannot_run_is_an_error_result_with_its_own_reason(caplog: pytest.LogCaptureFixture) -> None:
    result = await run_task(Misbehaving("cannot run"), task(1))  # type: ignore[arg-type]
    assert result.status is Status.ERROR
    assert result.reason == "source_address 10.9.9.9 is not configured on this host"
    assert not [r for r in caplog.records if r.exc_info]  # a configuration fault, not a bug: no traceback
