"""Who answers for a site, and where their messages go.

A site's team is, in order: the team the registry names for the site, the registry's
default team of its province, the alerting team declared for its province, and finally
``alerting.default_team``. Only teams declared under ``alerting.teams`` have channels; a
registry team without one falls through to the next step (and is logged once).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from netmon.config.alerting import AlertingConfig, TeamConfig
from netmon.config.registry import Registry, RegistrySite

log = logging.getLogger(__name__)


class Router:
    def __init__(self, config: AlertingConfig, registry: Registry | None) -> None:
        self.config = config
        self.registry = registry
        self._teams = {t.name: t for t in config.teams}
        self._by_province = {t.province: t.name for t in config.teams if t.province}
        self._warned: set[str] = set()

    def team_for_site(self, site: RegistrySite) -> str | None:
        candidates: list[str | None] = [site.team]
        if self.registry is not None:
            province = self.registry.province(site.province)
            candidates.append(province.default_team if province else None)
        candidates += [self._by_province.get(site.province), self.config.default_team]
        for name in candidates:
            if name is None:
                continue
            if name in self._teams:
                return name
            if name not in self._warned:
                self._warned.add(name)
                log.warning("team %r (site %s) is not declared under alerting.teams; trying the next route",
                            name, site.id)
        return None

    def team_for_group(self, teams: Iterable[str | None], platform: bool = False) -> str | None:
        """The team of an aggregate: the platform team, else the team most of its sites share."""
        if platform and self.config.platform_team:
            return self.config.platform_team
        counted = Counter(t for t in teams if t)
        if counted:
            return counted.most_common(1)[0][0]
        return self.config.default_team

    def team(self, name: str | None) -> TeamConfig | None:
        return self._teams.get(name) if name else None

    def channels(self, team: str | None, escalated: bool = False) -> list[str]:
        config = self.team(team)
        if config is None:
            return []
        names = list(config.channels)
        if escalated:
            names += [c for c in config.escalate_to if c not in names]
        return names

    def language(self, team: str | None) -> str:
        config = self.team(team)
        return (config.language if config and config.language else None) or self.config.language

    def upstream_of(self, site: RegistrySite) -> str | None:
        if site.upstream:
            return site.upstream
        if self.registry is not None:
            province = self.registry.province(site.province)
            return province.upstream if province else None
        return None
