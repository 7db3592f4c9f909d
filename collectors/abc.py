"""The collector's pluggable parts, as interfaces: all a part may rely on.

    ResultSink      gets the newly accepted records of every committed batch (live state, alerting)
    TickingSink     a sink that also gets a tick about once a second (absence timers)
    ClosingSink     a sink with work of its own to stop when the collector stops
    CollectorHost   what the collector offers an extension
    Extension       a part installed when the app is built and closed when the collector stops
    Role, Principal who may call a route (``host.require(Role.OPERATOR)``), and who called it

The program's wiring lists the extensions (``netmon collector serve``: alerting, readiness) and
passes them to ``create_app``, which installs them in that order; on shutdown the collector
stops its ticker, closes the sinks, then the extensions (both in reverse order). An extension
that needs another gets it as a constructor argument, never by looking it up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from netmon.config.central import CentralConfig
from netmon.config.registry import Registry, RegistrySite
from netmon.contract import ResultRecord
from netmon.statedb import StateLocation

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client.registry import Collector


class Role(StrEnum):
    """What a token may do (docs/security.md). ``agent`` is a site's own lane and nothing else;
    the others are ranked: each may do what the roles below it may."""

    AGENT = "agent"  # send its site's results, read its site's probe plan
    VIEWER = "viewer"  # read: stats, sites, incidents, silences, readiness, /metrics, /docs
    OPERATOR = "operator"  # and acknowledge incidents, set and end silences
    ADMIN = "admin"  # and list the tokens the collector knows

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.AGENT: 0, Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token belongs to: ``name`` is the name it was issued under (a site id for an
    agent token); ``site_id`` is set for agent tokens only."""

    role: Role
    name: str
    site_id: str | None = None


@runtime_checkable
class ResultSink(Protocol):
    """Runs on the event loop before the 200 is sent: keep ``handle`` quick, slow work on a task."""

    name: str

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None: ...


@runtime_checkable
class TickingSink(Protocol):
    name: str

    async def tick(self, now_seconds: float) -> None: ...


@runtime_checkable
class ClosingSink(Protocol):
    name: str

    async def aclose(self) -> None: ...


class CollectorHost(Protocol):
    """What an extension may use of the collector (``CollectorCore`` provides it)."""

    @property
    def config(self) -> CentralConfig:
        """central.yaml as loaded at start (each part reads its own section)."""
        ...

    @property
    def config_file(self) -> str | None:
        """The file ``config`` came from, for messages that name it (None when built in code)."""
        ...

    @property
    def state(self) -> StateLocation:
        """Where shared state lives (``state:`` in central.yaml): SQLite in state_dir, or PostgreSQL.
        An extension opens its own store there, with its own schema migrations."""
        ...

    def site_registry(self) -> Registry:
        """The site registry in use now: it is replaced on SIGHUP, so call this each time."""
        ...

    def add_sink(self, sink: ResultSink) -> None:
        """Receive accepted results from now on; a second sink of the same name is refused."""
        ...

    def add_metrics(self, collector: Collector) -> None:
        """Add a prometheus-client collector to the collector's ``/metrics``."""
        ...

    def require(self, role: Role) -> Any:
        """A FastAPI dependency, ``Depends(host.require(Role.OPERATOR))``, returning the caller's
        ``Principal``: 401 without a valid token, 403 when its role is below ``role``."""
        ...


class Extension(Protocol):
    name: str

    def install(self, host: CollectorHost, app: FastAPI) -> None:
        """Register sinks and metrics through ``host``, routers with ``app.include_router``.
        Raise ``ConfigError`` for a bad section: the collector then refuses to start."""
        ...

    async def aclose(self) -> None:
        """Release what ``install`` built; runs once on a clean shutdown, after the sinks closed."""
        ...
