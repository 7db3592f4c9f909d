"""The engine as the collector runs it: result sink, ticking sink, its own delivery task; registry reloads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from netmon.alerting.service import AlertingSink, build_engine
from netmon.config.registry import Registry
from netmon.lab.standins import WebhookReceiver
from tests.alerting.helpers import alerting_config, registry, utilisation


async def test_sink_delivers_from_its_own_task_and_follows_registry_reloads(tmp_path: Path,
                                                                        hook: WebhookReceiver) -> None:
    current: list[Registry] = [registry(1)]
    config = alerting_config([{"name": "hook", "type": "webhook", "url": hook.url}])
    engine = build_engine(config, tmp_path, registry=current[0], ship_interval_seconds=10)
    sink = AlertingSink(engine, registry=lambda: current[0])
    site = current[0].sites[0]
    # the registry is re-read (SIGHUP) with a new name for the commune
    renamed = site.model_copy(update={"name": "Phường Tân Phong (mới)"})
    current[0] = Registry(provinces=current[0].provinces, sites=[renamed])
    start = time.time() - 130
    for i in range(14):
        await sink.handle(renamed, [utilisation(site.id, start + 10 * i, 0.97)])
    deadline = time.monotonic() + 10
    while not hook.bodies() and time.monotonic() < deadline:
        await sink.tick(time.time())
        await asyncio.sleep(0.2)
    await sink.aclose()
    await engine.aclose()
    [body] = hook.bodies()
    assert body["alerts"][0]["labels"]["site_name"] == "Phường Tân Phong (mới)"
    assert engine.router.registry is current[0]
