"""``netmon probe once``: every task of the plan, once, concurrently (bounded).

Nothing goes through the outbox and nothing is written (``ProbeContext.read_only``): this is a
diagnostic that must not consume seqs of (or need write access to) a running agent's state.
Records get ``seq`` = their position in this run (0, 1, 2, ... in plan order), so they are
never to be shipped or mixed with an agent's data.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from netmon.config.site import SiteConfig
from netmon.contract import Observation, ResultRecord, Status
from netmon.probes.agent.collector_client import skip_httpx_cli
from netmon.probes.base import Probe, ProbeContext, ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.runner import run_task


async def run_once(config: SiteConfig, tasks: list[ProbeTask], kinds: ProbeKinds) -> list[ResultRecord]:
    skip_httpx_cli()
    # reads the running agent's state (budget, remembered gateway and path) and writes none of it
    context = ProbeContext(state_dir=Path(config.state_dir), read_only=True)
    probes: dict[str, Probe] = {}
    limit = asyncio.Semaphore(config.agent.max_concurrent_probes)

    async def one(task: ProbeTask) -> Observation:
        async with limit:
            kind = task.kind.value
            if kind not in probes:
                try:
                    probes[kind] = kinds.get(kind)(context)
                except Exception as exc:
                    return task.observe(Status.ERROR, reason=f"probe kind {kind} could not start: {exc}")
            observation = await run_task(probes[kind], task)
            context.latest[task.key] = observation
            return observation

    try:
        observations = await asyncio.gather(*(one(t) for t in tasks))
    finally:
        for probe in probes.values():
            with contextlib.suppress(Exception):
                await probe.aclose()
    return [o.to_record(site_id=config.site.id, agent_id=config.agent_id, seq=i) for i, o in enumerate(observations)]
