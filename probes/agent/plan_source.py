"""Where the probe plan comes from, and polling the centre for a newer one.

Precedence at start:

1. the last good plan received from the centre (``<state_dir>/plan.json``), when the local
   file has a ``collector:`` section and that cached plan still validates;
2. otherwise the plan in the local file (``links``, ``platforms``, ``probes``).

Identity, the collector connection, paths and bounds always come from the local file. The
centre decides what to measure and how often — links, targets, intervals, budgets — never what
to run or which file to read: a plan that sets a program or a file (``config.site.LOCAL_ONLY``,
options a kind marks ``local_only`` such as ``probes.throughput.iperf3``) is refused whole, and
those settings come from the local file (by link and platform name).

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
from typing import Any

from pydantic import ValidationError

from netmon.config.loader import validation_problems
from netmon.config.site import LOCAL_ONLY, ProbePlan, SiteConfig
from netmon.errors import ConfigError, DeliveryError
from netmon.probes.agent.collector_client import CollectorClient
from netmon.probes.agent.metrics import AgentMetrics
from netmon.probes.base import ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks

log = logging.getLogger(__name__)
PLAN_CACHE = "plan.json"
ApplyPlan = Callable[[SiteConfig, list[ProbeTask]], Awaitable[None]]


Problem = tuple[str, int | None, str]


def canonical(plan: ProbePlan | dict[str, Any]) -> str:
    data = plan.model_dump(mode="json") if isinstance(plan, ProbePlan) else plan
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def local_only_options(kinds: ProbeKinds) -> dict[str, frozenset[str]]:
    """Per probe kind, the options its model marks ``local_only`` (programs, files)."""
    out = {}
    for name in kinds.names():
        fields = kinds.get(name).Options.model_fields
        out[name] = frozenset(key for key, field in fields.items() if isinstance(field.json_schema_extra, dict)
                              and field.json_schema_extra.get("local_only"))
    return out


def _sections(data: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(name)
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def local_only_problems(data: dict[str, Any], kinds: ProbeKinds) -> list[Problem]:
    """Every setting of a centre's plan that only the local file may give."""
    why = "names a program or a file: only the agent's own site file may set it, never the centre"
    problems: list[Problem] = []
    probes = data.get("probes")
    for kind, keys in local_only_options(kinds).items():
        options = probes.get(kind) if isinstance(probes, dict) else None
        if isinstance(options, dict):
            problems += [(f"probes.{kind}.{key}", None, why) for key in sorted(keys & set(options))]
    for i, link in _sections(data, "links"):
        snmp = link.get("snmp")
        if isinstance(snmp, dict):
            problems += [(f"links[{i}].snmp.{key}", None, why) for key in LOCAL_ONLY["links.snmp"] if key in snmp]
    for i, platform in _sections(data, "platforms"):
        problems += [(f"platforms[{i}].{key}", None, why) for key in LOCAL_ONLY["platforms"] if key in platform]
    return problems


def with_local_settings(data: dict[str, Any], local: SiteConfig, kinds: ProbeKinds) -> dict[str, Any]:
    """The centre's plan with the local file's programs and files put in (links and platforms by name)."""
    data = json.loads(json.dumps(data))  # a copy to change
    probes = data.setdefault("probes", {})
    for kind, keys in local_only_options(kinds).items():
        mine = {key: value for key, value in local.probes.get(kind, {}).items() if key in keys}
        if mine and isinstance(probes, dict):
            probes[kind] = {**(probes.get(kind) or {}), **mine}
    local_links = {link.name: link for link in local.links}
    for _, link in _sections(data, "links"):
        mine_link = local_links.get(str(link.get("name")))
        if isinstance(link.get("snmp"), dict) and mine_link is not None and mine_link.snmp is not None:
            snmp = mine_link.snmp
            link["snmp"].update({key: getattr(snmp, key) for key in LOCAL_ONLY["links.snmp"]
                                 if getattr(snmp, key) is not None})
    local_platforms = {platform.name: platform for platform in local.platforms}
    for _, platform in _sections(data, "platforms"):
        mine_platform = local_platforms.get(str(platform.get("name")))
        if mine_platform is not None:
            platform.update({key: getattr(mine_platform, key) for key in LOCAL_ONLY["platforms"]
                             if getattr(mine_platform, key) is not None})
    return data


def validate_plan(raw: bytes | str, local: SiteConfig, kinds: ProbeKinds, source: str
                  ) -> tuple[dict[str, Any], ProbePlan, SiteConfig, list[ProbeTask]]:
    """Parse and plan a centre's ``raw`` plan against the local identity and settings: (the plan as the
    centre sent it, as run, the config, its tasks); ConfigError naming the keys if it is not usable."""
    try:
        sent = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(source, [("", None, f"not JSON: {exc}")]) from None
    if not isinstance(sent, dict):
        raise ConfigError(source, [("", None, "a plan is a JSON object")])
    problems = local_only_problems(sent, kinds)
    if problems:
        raise ConfigError(source, problems)
    try:
        plan = ProbePlan.model_validate(with_local_settings(sent, local, kinds))
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from None
    config = local.with_plan(plan)
    return sent, plan, config, build_tasks(config, kinds, source=source)


def cache_path(local: SiteConfig) -> Path:
    return Path(local.state_dir) / PLAN_CACHE


def save_plan(path: Path, plan: dict[str, Any]) -> None:
    """Write the plan as the centre sent it, atomically (temp file, fsync, rename): a power cut
    leaves the old or the new plan."""
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
            _, _, config, tasks = validate_plan(path.read_bytes(), local, kinds, str(path))
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
            sent, plan, config, tasks = validate_plan(response.content, self.local, self.kinds, source)
        except ConfigError as exc:
            log.error("the centre served an invalid plan; keeping the current one:\n%s", exc.render())
            return "invalid"
        self.etag = response.headers.get("etag")  # only a valid plan's: an invalid one is fetched again
        if canonical(plan) == self.current:
            return "unchanged"
        await self.apply(config, tasks)
        self.current = canonical(plan)
        try:
            save_plan(cache_path(self.local), sent)
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
