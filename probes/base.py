"""The one shape every probe kind has.

A probe kind is a class with a ``kind``, an ``Options`` model (validated from the
``probes:`` section of the site config), a ``scope`` that tells the planner what it runs
against, and ``measure(task) -> Observation``. Network failures are returned as
observations with status ``failed``. A probe that cannot run at all raises ``ProbeError``
and ``probes.runner`` (which also enforces the timeout) makes it an ``error`` result with
that text; any other exception is a bug, reported as ``error`` too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from netmon.config.site import LinkConfig, PlatformConfig, SiteIdentity
from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import ProbeError

Scope = Literal["target", "link", "platform"]
OptionsT = TypeVar("OptionsT", bound="ProbeOptions")


class ProbeOptions(BaseModel):
    """Options every kind has; kinds subclass this with their own fields and defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: PositiveSeconds = 60.0
    timeout: PositiveSeconds = 10.0


@dataclasses.dataclass
class ProbeContext:
    """What a probe instance may use besides its task."""

    state_dir: Path
    # ``netmon probe once``: read what the agent remembers (gateway MAC, path, today's byte
    # budget) but write nothing, so a diagnostic never creates or changes the agent's state.
    read_only: bool = False
    # Latest observation per task key, shared by all probes of this agent (the throughput
    # probe asks the SNMP probe's latest utilisation before loading a link).
    latest: dict[str, Observation] = dataclasses.field(default_factory=dict)

    def latest_for(self, kind: ProbeKind, link: str) -> Observation | None:
        found = [o for o in self.latest.values() if o.probe is kind and o.link == link]
        return max(found, key=lambda o: o.time_ns) if found else None


@dataclasses.dataclass(frozen=True)
class ProbeTask:
    kind: ProbeKind
    key: str  # stable: "icmp/leased/isp-edge"; used for scheduling and probe state
    target: str  # the name (becomes a tag)
    host: str  # address, host name or URL
    options: ProbeOptions
    site: SiteIdentity
    link: LinkConfig | None = None
    platform: PlatformConfig | None = None
    port: int | None = None

    def options_as(self, options_class: type[OptionsT]) -> OptionsT:
        """The options as the kind's own model, the one way a kind reads them: ``build_tasks``
        validated them with that kind's ``Options``, so anything else is a task planned for
        another kind (a ``ProbeError``, reported as an ``error`` result)."""
        if not isinstance(self.options, options_class):
            raise ProbeError(f"task {self.key} carries {type(self.options).__name__}, "
                             f"not the {options_class.__name__} its probe kind reads")
        return self.options

    def observe(
        self,
        status: Status,
        values: Mapping[str, float] | None = None,
        reason: str | None = None,
        info: Mapping[str, str] | None = None,
        time_ns: int | None = None,
    ) -> Observation:
        extra: dict[str, Any] = {} if time_ns is None else {"time_ns": time_ns}
        return Observation(
            probe=self.kind,
            link=self.link.name if self.link else (self.platform.link if self.platform else None),
            link_kind=self.link.kind if self.link else None,
            target=self.target,
            target_host=self.host[:255],
            status=status,
            reason=reason[:500] if reason else None,
            values=dict(values or {}),
            info=dict(info or {}),
            **extra,
        )


@dataclasses.dataclass(frozen=True)
class TaskProblem:
    """A task whose options cannot work together (``fatal``: the plan is refused) or look risky."""

    section: Literal["options", "link"]  # probes.<kind>.<key>, or links[i].<key>
    key: str
    message: str
    fatal: bool = True


@runtime_checkable
class ChecksTasks(Protocol):
    """Optional for a probe kind: checks that need a whole task (options and link together),
    run by ``plan.build_tasks`` (fatal problems) and ``netmon config check`` (all)."""

    @classmethod
    def check_task(cls, task: ProbeTask) -> list[TaskProblem]: ...


@runtime_checkable
class Probe(Protocol):
    kind: ClassVar[ProbeKind]
    Options: ClassVar[type[ProbeOptions]]
    scope: ClassVar[Scope]
    # For scope "link": the LinkConfig section that switches this probe on ("snmp", "lan", ...).
    link_section: ClassVar[str | None]

    def __init__(self, context: ProbeContext) -> None: ...

    async def measure(self, task: ProbeTask) -> Observation: ...

    async def aclose(self) -> None: ...
