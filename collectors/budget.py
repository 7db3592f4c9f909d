"""The per-site series budget: which (probe, link, target) series a site may add to the TSDB.

A series is *planned* when the registry knows its link (one of the site's links, or none) and
its target (a target, link or platform name of the site's plan, a link name for the link
probes, the agent's default id for its heartbeat). Planned series are always admitted; at most
``limits.site_unplanned_series`` others are, per site, first come first served — a plan-less
site's targets are all "unplanned", which is what the allowance is sized for. A record of a
series beyond the budget is refused (422, ``results[i].target``) and nothing of it reaches the
TSDB, the live state or the alert engine, so one site cannot grow another's (or InfluxDB's
1 M-series-per-database) limits. The series a site already has come back from the live state
at start, so a restart does not hand out a fresh allowance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netmon.collectors.tokens import default_agent_id
from netmon.config.registry import RegistrySite
from netmon.contract import FieldError, ResultRecord

Key = tuple[str, str, str]  # (probe, link or "", target), as the live state keys them


def planned_names(site: RegistrySite) -> tuple[frozenset[str], frozenset[str]]:
    """(link names, target names) the registry plans for ``site``."""
    links = {link.name for link in site.links}
    targets = set(links) | {default_agent_id(site.id)}
    if site.plan is not None:
        for link in site.plan.links:
            links.add(link.name)
            targets.add(link.name)
            targets.update(t.name for t in link.targets)
        targets.update(p.name for p in site.plan.platforms)
    return frozenset(links), frozenset(targets)


class _SiteSeries:
    __slots__ = ("known", "links", "site", "targets", "unplanned")

    def __init__(self, site: RegistrySite) -> None:
        self.site = site
        self.links, self.targets = planned_names(site)
        self.known: set[Key] = set()
        self.unplanned = 0

    def planned(self, key: Key) -> bool:
        return (not key[1] or key[1] in self.links) and key[2] in self.targets

    def replan(self, site: RegistrySite) -> None:
        """The registry was reloaded: count the known series against the new plan."""
        self.site = site
        self.links, self.targets = planned_names(site)
        self.unplanned = sum(1 for key in self.known if not self.planned(key))


class SeriesBudget:
    def __init__(self, unplanned_per_site: int) -> None:
        self.allowance = unplanned_per_site
        self._sites: dict[str, _SiteSeries] = {}

    def _series(self, site: RegistrySite) -> _SiteSeries:
        state = self._sites.get(site.id)
        if state is None:
            state = self._sites[site.id] = _SiteSeries(site)
        elif state.site is not site:
            state.replan(site)
        return state

    def seed(self, site: RegistrySite, keys: Iterable[Key]) -> None:
        """Series the site already has (from the journal's latest results at start)."""
        state = self._series(site)
        for key in keys:
            if key not in state.known:
                state.known.add(key)
                state.unplanned += not state.planned(key)

    def unplanned(self, site_id: str) -> int:
        state = self._sites.get(site_id)
        return state.unplanned if state else 0

    def admit(self, site: RegistrySite, records: Sequence[ResultRecord]) -> list[tuple[int, FieldError]]:
        """Admit the records' new series; (index, error) for each record whose series is over the budget."""
        state = self._series(site)
        known = state.known
        over: list[tuple[int, FieldError]] = []
        for i, record in enumerate(records):
            key = (record.probe, record.link or "", record.target)  # a StrEnum member is its name
            if key in known:
                continue
            if state.planned(key):
                known.add(key)
            elif state.unplanned < self.allowance:
                known.add(key)
                state.unplanned += 1
            else:
                over.append((i, FieldError(path=f"results[{i}].target", message=(
                    f"series {record.probe.value}/{record.link or '-'}/{record.target} is not in the site's registry "
                    f"entry, and the site already has {state.unplanned} such series (limits.site_unplanned_series)"))))
        return over
