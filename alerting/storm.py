"""Storm control: many sites failing together become one incident.

``upstream``: firing alerts of storm rules (a silent site, a link down) from at least
``storm.min_sites`` sites behind the same upstream (the site's ``upstream`` in the registry,
else its province's data-network core). ``platform``: firing alerts of an ``aggregate:
target`` rule for the same target from at least ``platform.min_sites`` sites. Member alerts
point at the aggregate (``parent_id``) and are not sent on their own. The aggregate ends
after its count stayed below ``min_sites`` for ``clear_for``; members still firing then are
handed back and announced on their own, like Alertmanager lifting an inhibition.
"""

from __future__ import annotations

from collections.abc import Callable

from netmon.alerting.model import Incident
from netmon.alerting.routing import Router
from netmon.alerting.rules import SEVERITY_RANK
from netmon.alerting.store import AlertStore
from netmon.config.alerting import AlertingConfig, StormConfig


def update(store: AlertStore, router: Router, config: AlertingConfig, now: float) -> float:
    """Open, grow and close aggregates; returns when an open one may next close by itself."""
    _update(store, router, "upstream", config.storm, now,
            store.incidents("kind = 'alert' AND state = 'firing' AND storm = 1 AND upstream IS NOT NULL"),
            lambda inc: inc.upstream or "")
    _update(store, router, "platform", config.platform, now,
            store.incidents("kind = 'alert' AND state = 'firing' AND aggregate = 1 AND target IS NOT NULL"),
            lambda inc: f"{inc.rule}:{inc.target}")
    clear_for = {"upstream": config.storm.clear_for, "platform": config.platform.clear_for}
    return min((below_since + clear_for[kind] for kind, below_since in store.closing_aggregates()),
               default=float("inf"))


def _update(store: AlertStore, router: Router, kind: str, config: StormConfig, now: float,
            members: list[Incident], group_of: Callable[[Incident], str]) -> None:
    groups: dict[str, list[Incident]] = {}
    for inc in members:
        groups.setdefault(group_of(inc), []).append(inc)
    open_aggregates = {inc.key: inc for inc in store.incidents("kind = ? AND state = 'firing'", (kind,))}
    with store.transaction():
        for group, incs in groups.items():
            key = f"{kind}:{group}"
            sites = {inc.site_id for inc in incs}
            aggregate = open_aggregates.pop(key, None)
            if aggregate is None:
                if len(sites) < config.min_sites:
                    continue
                aggregate_id = store.open_incident(_new(router, kind, key, incs, len(sites))).id
            else:
                aggregate_id = aggregate.id
                _count(store, aggregate, len(sites), config, now)
            store.set_parent([inc.id for inc in incs if inc.parent_id is None], aggregate_id)
        for aggregate in open_aggregates.values():
            _count(store, aggregate, 0, config, now)


def _count(store: AlertStore, aggregate: Incident, sites: int, config: StormConfig, now: float) -> None:
    if sites >= config.min_sites:
        store.update_incident(aggregate.id, member_count=max(aggregate.member_count, sites), below_since=None)
        return
    below_since = aggregate.below_since if aggregate.below_since is not None else now
    if now - below_since < config.clear_for:
        store.update_incident(aggregate.id, below_since=below_since)
        return
    store.update_incident(aggregate.id, state="resolved", resolved_at=now, below_since=below_since)
    # Members still failing are problems of their own now: hand them back to be announced.
    store.release_members(aggregate.id)


def _new(router: Router, kind: str, key: str, incs: list[Incident], sites: int) -> dict[str, object]:
    first = min(incs, key=lambda inc: inc.fired_at or inc.active_at)
    provinces = {inc.labels.get("province") for inc in incs}
    province = provinces.pop() if len(provinces) == 1 else None
    team = router.team_for_group((inc.team for inc in incs), platform=kind == "platform")
    severity = max((inc.severity for inc in incs), key=lambda s: SEVERITY_RANK.get(s, 0))
    rule = "UpstreamDown" if kind == "upstream" else first.rule
    labels = {"alertname": rule, "scope": kind}
    if kind == "upstream":
        labels["upstream"] = first.upstream or ""
    else:
        labels["target"] = first.target or ""
    if province:
        labels["province"] = province
    if team:
        labels["team"] = team
    return {
        "kind": kind, "key": key, "rule": rule, "severity": severity, "state": "firing", "team": team,
        "upstream": first.upstream if kind == "upstream" else None,
        "target": first.target if kind == "platform" else None, "labels": labels, "annotations": {},
        "active_at": min(inc.active_at for inc in incs), "fired_at": first.fired_at, "member_count": sites,
    }
