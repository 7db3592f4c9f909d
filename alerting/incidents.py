"""Series transitions become incident rows; open rows become series again after a restart."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from netmon.alerting.evaluator import Evaluator
from netmon.alerting.routing import Router
from netmon.alerting.rules import Rule
from netmon.alerting.series import FIRING, PENDING, Series, Transition, key_from_text, key_text
from netmon.alerting.store import AlertStore
from netmon.config.registry import RegistrySite
from netmon.contract import LinkKind

log = logging.getLogger(__name__)


class IncidentWriter:
    def __init__(self, store: AlertStore, router: Router, site: Callable[[str], RegistrySite | None]) -> None:
        self.store = store
        self.router = router
        self.site = site

    def apply(self, transition: Transition) -> None:
        series, at = transition.series, transition.at
        if series.incident_id is None:
            if transition.kind not in ("pending", "firing"):
                return
            series.incident_id = self.store.insert_incident(**self._new(series, at))
            return
        if transition.kind == "cancelled":
            self.store.delete_incident(series.incident_id)
        elif transition.kind == "history":
            # lasted ``for`` while its results were on their way, and was over when they came:
            # kept in the incident log, never announced
            self.store.update_incident(series.incident_id, state="resolved", replayed=True,
                                       parent_id=transition.covered_by,
                                       fired_at=series.overdue_at, resolved_at=at, severity=series.severity,
                                       value=series.overdue_value, threshold=series.threshold,
                                       last_good_value=series.last_good, resolve_value=series.value)
        elif transition.kind == "firing":
            self.store.update_incident(series.incident_id, state="firing", fired_at=at, severity=series.severity,
                                       value=series.value, threshold=series.threshold,
                                       last_good_value=series.last_good)
        elif transition.kind == "upgraded":
            self.store.update_incident(series.incident_id, severity=series.severity, value=series.value,
                                       threshold=series.threshold)
        elif transition.kind == "resolved":
            self.store.update_incident(series.incident_id, state="resolved", resolved_at=at,
                                       resolve_value=series.value)

    def _new(self, series: Series, at: float) -> dict[str, Any]:
        rule = series.rule
        rule_name, site_id, link, target, value_name = series.key
        site = self.site(site_id)
        labels = {"alertname": rule_name, "site": site_id}
        team = upstream = None
        if site is not None:
            team = self.router.team_for_site(site)
            upstream = self.router.upstream_of(site)
            labels.update(site_name=site.name, province=site.province)
            if site.district:
                labels["district"] = site.district
        extra = {"link": link, "link_kind": series.link_kind.value if series.link_kind else "",
                 "target": target, "probe": series.probe or "", "value": value_name,
                 "team": team or "", "upstream": upstream or ""}
        labels.update({k: v for k, v in extra.items() if v})
        labels.update(rule.labels)
        return {
            "kind": "alert", "key": key_text(series.key), "rule": rule_name, "severity": series.severity or "warning",
            "state": series.state, "team": team, "site_id": site_id, "upstream": upstream,
            "target": target or None, "link": link or None, "labels": labels, "annotations": rule.annotations,
            "value_name": value_name or ("silent_seconds" if rule.type == "absence" else None), "op": rule.op,
            "value": series.value, "threshold": series.threshold, "last_good_value": series.last_good,
            "active_at": series.active_at if series.active_at is not None else at,
            "fired_at": series.fired_at, "storm": rule.storm, "aggregate": rule.aggregate is not None,
        }


def restore(store: AlertStore, evaluator: Evaluator, rules: dict[str, Rule], now: float) -> int:
    """Reload pending and firing alerts (and baselines) into ``evaluator``; returns how many."""
    count = 0
    for inc in store.incidents("kind = 'alert' AND state != 'resolved'"):
        rule = rules.get(inc.rule)
        if rule is None:
            log.warning("incident %s: rule %r no longer exists; resolving it", inc.id, inc.rule)
            store.update_incident(inc.id, state="resolved", resolved_at=now)
            continue
        series = Series(key=key_from_text(inc.key), rule=rule, state=FIRING if inc.state == "firing" else PENDING,
                        active_at=inc.active_at, fired_at=inc.fired_at, severity=inc.severity, value=inc.value,
                        threshold=inc.threshold, last_t=inc.fired_at or inc.active_at,
                        last_good=inc.last_good_value, incident_id=inc.id)
        series.probe = inc.labels.get("probe")
        series.link_kind = LinkKind(inc.labels["link_kind"]) if inc.labels.get("link_kind") else None
        evaluator.restore(series)
        count += 1
    for text, (mean, samples) in store.baselines().items():
        evaluator.restore_baseline(key_from_text(text), mean, samples)
    evaluator.seen.update(store.seen())
    return count
