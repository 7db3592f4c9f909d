"""Where the probe plan comes from, and polling the centre for a newer one.

Precedence at start:

1. the last good plan received from the centre (``<state_dir>/plan.json``), when the local
   file has a ``collector:`` section and that cached plan still validates;
2. otherwise the plan in the local file (``links``, ``platforms``, ``probes``).

Identity, the collector connection, paths and bounds always come from the local file.
While running, the agent polls ``GET /api/v1/agents/{site_id}/config`` every
``config_poll_interval``; a plan that validates (``ProbePlan`` and ``build_tasks`` with this
agent's kinds) and differs from the current one is applied at once and cached. An
invalid plan, an error answer or an unreachable centre leave the current plan in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from netmon.config.loader import validation_problems
from netmon.config.site import ProbePlan, SiteConfig
from netmon.errors import ConfigError, DeliveryError
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.base import ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks

log = logging.getLogger(__name__)
PLAN_CACHE = "plan.json"
ApplyPlan = Callable[[SiteConfig, list[ProbeTask]], Awaitable[None]]


def canonical(plan: ProbePlan) -> str:
    return json.dumps(plan.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def validate_plan(raw: bytes | str, local: SiteConfig, kinds: ProbeKinds, source: str
                  ) -> tuple[ProbePlan, SiteConfig, list[ProbeTask]]:
    """Parse and plan ``raw`` against the local identity; ConfigError naming the keys if it is not usable."""
    try:
        plan = ProbePlan.model_validate_json(raw)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from None
    config = local.with_plan(plan)
    return plan, config, build_tasks(config, kinds, source=source)


def cache_path(local: SiteConfig) -> Path:
    return Path(local.state_dir) / PLAN_CACHE


def save_plan(path: Path, plan: ProbePlan) -> None:
    """Write atomically (temp file, fsync, rename): a power cut leaves the old or the new plan."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(canonical(plan))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def initial_plan(local: SiteConfig, kinds: ProbeKinds, local_source: str
                 ) -> tuple[SiteConfig, list[ProbeTask], str]:
    """The config to start with, its tasks, and where its plan came from. Raises ConfigError
    only when the local file itself is unusable (a bad cache is logged and ignored)."""
    path = cache_path(local)
    if local.collector is not None and path.exists():
        try:
            _, config, tasks = validate_plan(path.read_bytes(), local, kinds, str(path))
            return config, tasks, f"centre (cached in {path})"
        except ConfigError as exc:
            log.warning("ignoring the cached plan from the centre:\n%s", exc.render())
        except OSError as exc:
            log.warning("cannot read the cached plan %s: %s", path, exc)
    return local, build_tasks(local, kinds, source=local_source), f"local file {local_source}"


class PlanPoller:
    def __init__(self, client: CollectorClient, local: SiteConfig, current: ProbePlan, kinds: ProbeKinds,
                 apply: ApplyPlan, metrics: AgentMetrics) -> None:
        self.client = client
        self.local = local
        self.current = canonical(current)
        self.kinds = kinds
        self.apply = apply
        self.metrics = metrics
        self.path = f"/api/v1/agents/{local.site.id}/config"
        self.etag: str | None = None  # the centre answers 304 while the plan is unchanged

    async def poll_once(self) -> str:
        """One poll; returns the outcome (also counted in ``netmon_agent_plan_polls_total``)."""
        result = await self._poll()
        self.metrics.plan_polls.labels(result=result).inc()
        return result

    async def _poll(self) -> str:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        try:
            response = await self.client.request("GET", self.path, headers=headers)
        except DeliveryError as exc:
            log.info("plan poll: centre unreachable (%s); keeping the current plan", exc)
            return "unreachable"
        if response.status_code == 304:
            return "unchanged"
        if response.status_code == 404:
            log.info("plan poll: the centre has no plan for this site; keeping the current plan")
            return "no_plan"
        if response.status_code != 200:
            log.warning("plan poll: centre answered %d (%s); keeping the current plan",
                        response.status_code, response.text[:200])
            return "error"
        source = f"plan from {self.client.url}{self.path}"
        try:
            plan, config, tasks = validate_plan(response.content, self.local, self.kinds, source)
        except ConfigError as exc:
            log.error("the centre served an invalid plan; keeping the current one:\n%s", exc.render())
            return "invalid"
        self.etag = response.headers.get("etag")  # only a valid plan's: an invalid one is fetched again
        if canonical(plan) == self.current:
            return "unchanged"
        await self.apply(config, tasks)
        self.current = canonical(plan)
        try:
            save_plan(cache_path(self.local), plan)
        except OSError as exc:
            log.error("cannot cache the new plan in %s: %s", cache_path(self.local), exc)
        log.info("applied a new plan from the centre: %d task(s)", len(tasks))
        return "applied"

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.client.connection.config_poll_interval
        while not stop.is_set():
            await self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
