"""Series transitions become incident rows; open rows become series again (at start, and when a
site's results move here from another collector).

Transitions are queued in memory as they happen and written by ``flush()`` in one transaction at
the end of each evaluation pass, so a batch that changes nothing costs the store nothing and a
store that is briefly unreachable (PostgreSQL restarting) loses nothing: the queue is kept and
written, in order, by the next pass that reaches it. Writes are made to be safe when another
collector works on the same incidents:

- opening an incident whose key is already open (another collector opened it) adopts that row;
  if it is already firing, the series here becomes firing too instead of announcing it again;
- an update to an incident another collector has resolved opens a new one (the condition still
  holds here, where the site's results arrive), a resolve or cancel of one changes nothing;
- a clear timer's resolve for a site this collector no longer receives is not written: the
  collector that receives the site decides (``owns``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Literal

from netmon.alerting.evaluator import Evaluator
from netmon.alerting.model import Incident
from netmon.alerting.routing import Router
from netmon.alerting.rules import Rule
from netmon.alerting.series import FIRING, PENDING, Series, SeriesKey, Transition, key_from_text, key_text
from netmon.alerting.store import AlertStore, Opened
from netmon.config.registry import RegistrySite
from netmon.contract import LinkKind
from netmon.errors import StorageError

log = logging.getLogger(__name__)
# Writes waiting for an unreachable store; beyond this the oldest are dropped (and counted).
MAX_QUEUED_WRITES = 100_000


@dataclasses.dataclass(slots=True)
class _Ref:
    """The incident row of one episode of a series; ``id`` is known once its open is written."""

    id: int | None = None


@dataclasses.dataclass(slots=True)
class _Write:
    kind: Literal["open", "update", "resolve", "cancel"]
    series: Series
    ref: _Ref
    fields: dict[str, Any]  # open: the whole row; otherwise the columns that change
    reopen: dict[str, Any] | None = None  # update: the whole row, should the incident be closed meanwhile


class IncidentWriter:
    def __init__(self, store: AlertStore, router: Router, site: Callable[[str], RegistrySite | None],
                 owns: Callable[[str], bool] = lambda site_id: True) -> None:
        self.store = store
        self.router = router
        self.site = site
        self.owns = owns
        self._refs: dict[SeriesKey, _Ref] = {}
        self._by_site: dict[str, set[SeriesKey]] = {}
        self._queue: list[_Write] = []
        self.dropped_writes = 0
        self.failed_flushes = 0
        self._failing = False

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def apply(self, transition: Transition) -> None:
        series, at, kind = transition.series, transition.at, transition.kind
        ref = self._refs.get(series.key)
        if ref is None:
            if kind in ("pending", "firing"):
                self._queue.append(_Write("open", series, self._track(series.key), self._new(series, at)))
            return
        if kind == "cancelled":
            self._untrack(series.key)
            self._queue.append(_Write("cancel", series, ref, {}))
        elif kind == "history":
            # lasted ``for`` while its results were on their way, and was over when they came:
            # kept in the incident log, never announced
            self._untrack(series.key)
            if series.rule.type == "absence" or self.owns(series.key[1]):
                self._queue.append(_Write("resolve", series, ref, {
                    "state": "resolved", "replayed": True, "parent_id": transition.covered_by,
                    "fired_at": series.overdue_at, "resolved_at": at, "severity": series.severity,
                    "value": series.overdue_value, "threshold": series.threshold,
                    "last_good_value": series.last_good, "resolve_value": series.value}))
        elif kind == "resolved":
            self._untrack(series.key)
            if series.rule.type == "absence" or self.owns(series.key[1]):
                self._queue.append(_Write("resolve", series, ref, {
                    "state": "resolved", "resolved_at": at, "resolve_value": series.value}))
        elif kind == "firing":
            self._queue.append(_Write("update", series, ref, {
                "state": "firing", "fired_at": at, "severity": series.severity, "value": series.value,
                "threshold": series.threshold, "last_good_value": series.last_good}, self._new(series, at)))
        elif kind == "upgraded":
            self._queue.append(_Write("update", series, ref, {
                "severity": series.severity, "value": series.value, "threshold": series.threshold},
                self._new(series, at)))

    def flush(self) -> bool:
        """Write what is queued in one transaction; False (and kept for the next call) if the store failed."""
        if not self._queue:
            return True
        queue: list[_Write] = self._queue
        assigned: list[_Ref] = []
        try:
            with self.store.transaction():
                for write in queue:
                    self._write(write, assigned)
        except StorageError as exc:
            for ref in assigned:  # rolled back: those rows do not exist
                ref.id = None
            self.failed_flushes += 1
            if not self._failing:
                log.error("alert state: %d change(s) not written, kept for the next pass: %s", len(queue), exc)
            self._failing = True
            if len(queue) > MAX_QUEUED_WRITES:
                dropped = len(queue) - MAX_QUEUED_WRITES
                self.dropped_writes += dropped
                del queue[:dropped]
                log.error("alert state unreachable: dropped the %d oldest unwritten change(s)", dropped)
            return False
        if self._failing:
            log.info("alert state: written again (%d queued change(s))", len(queue))
        self._failing = False
        self._queue = []
        for write in queue:
            if self._refs.get(write.series.key) is write.ref:
                write.series.incident_id = write.ref.id
        return True

    def _write(self, write: _Write, assigned: list[_Ref]) -> None:
        store, ref = self.store, write.ref
        if write.kind == "open" or (write.kind == "update" and ref.id is None):
            fields = write.fields if write.kind == "open" else write.reopen
            assert fields is not None
            opened = store.open_incident(fields)
            ref.id = opened.id
            assigned.append(ref)
            if opened.adopted:
                self._adopt(write, fields, opened)
        elif ref.id is None:
            return  # its open was dropped while the store was unreachable: nothing to close
        elif write.kind == "update":
            if not store.update_incident(ref.id, only_open=True, **write.fields):
                assert write.reopen is not None  # resolved elsewhere, still bad here: a new incident
                ref.id = store.open_incident(write.reopen).id
                assigned.append(ref)
        elif write.kind == "resolve":
            store.update_incident(ref.id, only_open=True, **write.fields)
        else:
            store.delete_incident(ref.id, only_pending=True)

    def _adopt(self, write: _Write, fields: dict[str, Any], opened: Opened) -> None:
        """Another collector opened this key first: one incident, whichever state is further on."""
        series = write.series
        if opened.state == FIRING and fields["state"] == PENDING:
            if self._refs.get(series.key) is write.ref and series.state == PENDING:
                series.state, series.fired_at = FIRING, opened.fired_at
        elif opened.state == PENDING and fields["state"] == FIRING:
            self.store.update_incident(opened.id, only_open=True, **{
                name: fields[name] for name in ("state", "fired_at", "severity", "value", "threshold",
                                                "last_good_value")})

    # -- which series have an open incident ---------------------------------------------------

    def _track(self, key: SeriesKey, incident_id: int | None = None) -> _Ref:
        ref = self._refs[key] = _Ref(incident_id)
        self._by_site.setdefault(key[1], set()).add(key)
        return ref

    def _untrack(self, key: SeriesKey) -> None:
        self._refs.pop(key, None)
        keys = self._by_site.get(key[1])
        if keys is not None:
            keys.discard(key)

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

    # -- from rows back to series -------------------------------------------------------------

    def restore(self, evaluator: Evaluator, rules: dict[str, Rule], now: float) -> int:
        """Reload pending and firing alerts (and baselines, last-seen times) into ``evaluator``; returns how many."""
        count = 0
        for inc in self.store.incidents("kind = 'alert' AND state != 'resolved'"):
            rule = rules.get(inc.rule)
            if rule is None:
                log.warning("incident %s: rule %r no longer exists; resolving it", inc.id, inc.rule)
                self.store.update_incident(inc.id, state="resolved", resolved_at=now)
                continue
            self._load(evaluator, inc, rule)
            count += 1
        for text, (mean, samples) in self.store.baselines().items():
            evaluator.restore_baseline(key_from_text(text), mean, samples)
        evaluator.seen.update({site: at for site, (at, _) in self.store.seen().items()})
        return count

    def resync(self, site_id: str, evaluator: Evaluator) -> bool:
        """Make this collector's series of ``site_id`` match the store's open incidents (the site's
        results arrive here again after another collector had them). False: not done, try later."""
        if self._queue:
            return False  # our own unwritten changes first
        rows = {key_from_text(inc.key): inc for inc in
                self.store.incidents("kind = 'alert' AND site_id = ? AND state != 'resolved'", (site_id,))}
        for key in list(self._by_site.get(site_id, ())):
            row = rows.get(key)
            if row is None or row.id != self._refs[key].id:  # closed elsewhere
                self._untrack(key)
                series = evaluator.series.get(key)
                if series is not None:
                    series.reset()
        for key, inc in rows.items():
            series = evaluator.series.get(key)
            ref = self._refs.get(key)
            if ref is not None and ref.id == inc.id and series is not None and series.state == inc.state:
                continue
            rule = evaluator.rules.get(inc.rule)
            if rule is not None:
                self._load(evaluator, inc, rule)
        return True

    def _load(self, evaluator: Evaluator, inc: Incident, rule: Rule) -> None:
        series = Series(key=key_from_text(inc.key), rule=rule, state=FIRING if inc.state == "firing" else PENDING,
                        active_at=inc.active_at, fired_at=inc.fired_at, severity=inc.severity, value=inc.value,
                        threshold=inc.threshold, last_t=inc.fired_at or inc.active_at,
                        last_good=inc.last_good_value, incident_id=inc.id)
        series.probe = inc.labels.get("probe")
        series.link_kind = LinkKind(inc.labels["link_kind"]) if inc.labels.get("link_kind") else None
        previous = evaluator.series.get(series.key)
        if previous is not None:  # keep what was learned
            series.baseline_mean, series.baseline_samples = previous.baseline_mean, previous.baseline_samples
        evaluator.restore(series)
        self._track(series.key, inc.id)
