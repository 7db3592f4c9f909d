"""Go-live surge: for the provinces in ``surge:`` of central.yaml, until ``until``, each probe
kind's options in ``surge.probes`` are merged over the site plan's own.

Applied with SIGHUP (``CollectorCore.reload`` re-reads the section); agents pick it up at their
next config poll (``GET /api/v1/agents/{site_id}/config``).
"""

from __future__ import annotations

import datetime as dt

from netmon.config.central import SurgeConfig
from netmon.config.registry import RegistrySite
from netmon.config.site import ProbePlan
from netmon.errors import NoProbePlan


def surge_on(surge: SurgeConfig | None, province: str, now: dt.datetime | None = None) -> bool:
    if surge is None or province not in surge.provinces:
        return False
    if surge.until is None:
        return True
    until = surge.until if surge.until.tzinfo else surge.until.replace(tzinfo=dt.UTC)
    return (now or dt.datetime.now(dt.UTC)) < until


def surge_provinces(surge: SurgeConfig | None, now: dt.datetime | None = None) -> list[str]:
    """The provinces in surge now (the listed ones, until ``until``)."""
    return [p for p in surge.provinces if surge_on(surge, p, now)] if surge else []


def plan_for(site: RegistrySite, surge: SurgeConfig | None) -> tuple[ProbePlan, bool]:
    """The site's probe plan with the surge merged in, and whether it was; NoProbePlan without one."""
    if site.plan is None:
        raise NoProbePlan(f"the registry holds no probe plan for site {site.id}; the agent keeps its local plan")
    if not surge_on(surge, site.province):
        return site.plan, False
    assert surge is not None
    probes = {kind: dict(options) for kind, options in site.plan.probes.items()}
    for kind, options in surge.probes.items():
        probes[kind] = {**probes.get(kind, {}), **options}
    return site.plan.model_copy(update={"probes": probes}), True
