"""In-stream rule evaluation: every accepted result advances the series it belongs to.

No scrape cycle: a result that completes a rule's ``for`` fires the alert while the batch
that carried it is being accepted. Timers cover what results cannot: a site that sends
nothing (absence), and ``clear_for`` / ``keep_firing_for`` running out between samples.
Transitions go to ``emit`` synchronously, in order, so the caller's records (incident
ids) are in place before the next sample of the same series is looked at. Late results
(``replay.py``) are evaluated too, but held: they make history, not pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from netmon.alerting.replay import ArrivalLags, CatchUp
from netmon.alerting.rules import Rule
from netmon.alerting.series import (
    FIRING,
    INACTIVE,
    Series,
    SeriesKey,
    Transition,
    TransitionKind,
    baseline_thresholds,
    classify,
    expire,
    key_text,
    learn,
    step,
)
from netmon.contract import ProbeKind, ResultRecord


class Evaluator:
    def __init__(self, rules: Sequence[Rule], *, ship_interval_seconds: float, stale_after_seconds: float,
                 emit: Callable[[Transition], None], started_at: float, late_after_seconds: float | None = None
                 ) -> None:
        self.rules = {r.name: r for r in rules}
        self.ship_interval_seconds = ship_interval_seconds
        self.stale_after_seconds = stale_after_seconds
        self.late_after_seconds = late_after_seconds if late_after_seconds is not None else 2 * ship_interval_seconds
        self.arrival_lags = ArrivalLags()
        self.catching_up: dict[str, CatchUp] = {}
        self._overdue: dict[str, set[SeriesKey]] = {}
        self.emit = emit
        self.started_at = started_at
        self._by_probe: dict[ProbeKind, list[Rule]] = {}
        for rule in rules:
            for kind in rule.probe:
                self._by_probe.setdefault(kind, []).append(rule)
        self._absence = [r for r in rules if r.type == "absence"]
        self.series: dict[SeriesKey, Series] = {}
        self.seen: dict[str, float] = {}
        self._seen_dirty: set[str] = set()
        self._silent: dict[str, list[Series]] = {}
        self._clearing: set[SeriesKey] = set()
        self._baseline_dirty: set[SeriesKey] = set()

    # -- results -----------------------------------------------------------------------------

    def observe(self, site_id: str, records: Sequence[ResultRecord], now: float) -> None:
        self.seen[site_id] = now
        self._seen_dirty.add(site_id)
        base_lag = self.arrival_lags.base_lag(site_id, max((r.time_ns for r in records), default=0) / 1e9, now) \
            if records else 0.0
        ages = [now - r.time_ns / 1e9 - base_lag for r in records]
        any_late = any(age > self.late_after_seconds for age in ages)
        catch_up = self.catching_up.get(site_id)
        if any_late:
            if catch_up is None:
                catch_up = self.catching_up[site_id] = CatchUp(heard_at=now, heard_at_site=now - base_lag,
                                                               last_late_batch=now)
            catch_up.last_late_batch = now
            # the silence ends once the backlog is in, so its resolve can say what happened
            catch_up.silent += self._silent.pop(site_id, [])
        for series in self._silent.pop(site_id, []):
            series.value = now - (series.active_at or now)
            self._emit("resolved", series, now)
        # While a site catches up, a sample fires nothing unless it was measured a whole late
        # bound after the site was heard again: earlier ones (the last of the backlog, a probe
        # that was under way when the line came back) cannot tell an outage going on from one over.
        confirm_after = catch_up.heard_at_site + self.late_after_seconds if catch_up is not None else None
        for record, age in zip(records, ages, strict=True):
            rules = self._by_probe.get(record.probe)
            if not rules or age > self.stale_after_seconds:
                continue
            taken = record.time_ns / 1e9  # on the site's clock, like the catch-up bound
            late = age > self.late_after_seconds
            held = late or (confirm_after is not None and taken < confirm_after)
            # a sample stamped ahead of the collector's clock (within the skew the door allows) counts as
            # taken now: it must not make every later sample of its series look older and be ignored
            t = min(taken, now)
            for rule in rules:
                if rule.link_kind and record.link_kind not in rule.link_kind:
                    continue
                if rule.target and record.target not in rule.target:
                    continue
                if rule.status:
                    bad = record.status in rule.status
                    series = self._series(rule, site_id, record, "")
                    if t >= series.last_t:
                        level = rule.severity if bad else None
                        self._emit(step(series, level, None, not bad, None, t, held), series, t)
                    continue
                for name in rule.value:
                    value = record.values.get(name)
                    if value is not None:
                        self._value(rule, self._series(rule, site_id, record, name), value, t, held)
        if catch_up is not None and not any_late and not self._overdue.get(site_id):
            self._end_catch_up(site_id)  # the backlog is in and every condition it showed is decided

    def _series(self, rule: Rule, site_id: str, record: ResultRecord, value_name: str) -> Series:
        key: SeriesKey = (rule.name, site_id, record.link or "", record.target, value_name)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(key=key, rule=rule)
        if series.probe is None:
            series.probe, series.link_kind = record.probe.value, record.link_kind
        return series

    def _value(self, rule: Rule, series: Series, value: float, t: float, held: bool) -> None:
        if t < series.last_t:
            return  # an older sample than one already seen (re-ordered delivery)
        if rule.baseline is not None:
            spec = rule.baseline
            if series.baseline_mean is None or series.baseline_samples < spec.min_samples:
                # learnt, not judged: with no threshold yet it is not a "last good" value (a spike
                # while learning showed as "last good 55.5 ms" beside a 44 ms threshold)
                learn(series, spec, value)
                self._baseline_dirty.add(series.key)
                series.last_t = t
                return
            thresholds = baseline_thresholds(rule, spec, series.baseline_mean)
        else:
            found = rule.thresholds_for(series.link_kind)
            if found is None:
                return
            thresholds = found
        level, crossed, cleared = classify(value, thresholds, rule.op == "above")
        kind = step(series, level, crossed, cleared, value, t, held)
        if rule.baseline is not None and level is None and series.state == INACTIVE:
            learn(series, rule.baseline, value)  # only healthy samples teach the baseline
            self._baseline_dirty.add(series.key)
        self._emit(kind, series, t)

    def _emit(self, kind: TransitionKind | None, series: Series, t: float) -> None:
        if kind is not None:
            catch_up = self.catching_up.get(series.key[1]) if kind == "history" else None
            covered_by = next((s.incident_id for s in catch_up.silent if s.incident_id is not None), None) \
                if catch_up is not None else None
            self.emit(Transition(kind, series, t, covered_by))
            if kind in ("cancelled", "resolved", "history"):
                value = series.value
                series.reset()
                # the sample that ended it was good; an absence's value is how long it was silent
                series.last_good = value if series.rule.type != "absence" else None
            elif kind == "firing":
                series.overdue_at = series.overdue_value = None
        if series.overdue_at is not None:
            self._overdue.setdefault(series.key[1], set()).add(series.key)
        elif series.key[1] in self._overdue:
            self._overdue[series.key[1]].discard(series.key)
        if series.state == FIRING and series.clear_since is not None:
            self._clearing.add(series.key)
        else:
            self._clearing.discard(series.key)

    def _end_catch_up(self, site_id: str) -> None:
        """The backlog is in: the silence resolves, as of when the site was heard again."""
        catch_up = self.catching_up.pop(site_id)
        for silent in catch_up.silent:
            silent.value = catch_up.heard_at - (silent.active_at or catch_up.heard_at)
            self._emit("resolved", silent, catch_up.heard_at)

    # -- timers ------------------------------------------------------------------------------

    def timers(self, now: float, *, absence: bool = True) -> None:
        """Expire what is due; ``absence=False`` (this collector is blind to the others) skips silence checks."""
        for site_id, catch_up in list(self.catching_up.items()):
            # a condition still undecided this long after the site came back (its probe has
            # stopped, or runs less often than this) does not hold the silence's resolve any longer
            if now - catch_up.last_late_batch > self.late_after_seconds and \
                    now - catch_up.heard_at > 2 * self.late_after_seconds:
                self._end_catch_up(site_id)
        for key in list(self._clearing):
            series = self.series.get(key)
            if series is not None:
                self._emit(expire(series, now), series, now)
        for rule in self._absence if absence else ():
            limit = (rule.after_intervals or 1.0) * self.ship_interval_seconds
            for site_id, last_seen in self.seen.items():
                since = max(last_seen, self.started_at)
                if now - since <= limit:
                    continue
                silent_key: SeriesKey = (rule.name, site_id, "", "", "")
                series = self.series.get(silent_key)
                if series is None:
                    series = self.series[silent_key] = Series(key=silent_key, rule=rule)
                if series.state == FIRING:
                    continue
                series.state, series.severity, series.active_at, series.fired_at = FIRING, rule.severity, since, now
                series.value, series.threshold, series.last_t = now - last_seen, limit, now
                self._silent.setdefault(site_id, []).append(series)
                self.emit(Transition("firing", series, now))

    def seen_elsewhere(self, site_id: str, at: float) -> None:
        """Another collector received ``site_id``'s results at ``at`` (shared state): not silent."""
        if at <= self.seen.get(site_id, float("-inf")):
            return
        self.seen[site_id] = at
        for series in self._silent.pop(site_id, []):
            series.value = at - (series.active_at or at)
            self._emit("resolved", series, at)

    # -- persistence hooks -------------------------------------------------------------------

    def restore(self, series: Series) -> None:
        """Put back a pending or firing series read from the state store after a restart."""
        series.last_t = min(series.last_t, self.started_at)  # state saved before future samples were capped
        self.series[series.key] = series
        if series.rule.type == "absence" and series.state == FIRING:
            self._silent.setdefault(series.key[1], []).append(series)

    def restore_baseline(self, key: SeriesKey, mean: float, samples: int) -> None:
        rule = self.rules.get(key[0])
        if rule is None or rule.baseline is None:
            return
        series = self.series.setdefault(key, Series(key=key, rule=rule))
        series.baseline_mean, series.baseline_samples = mean, samples

    def take_dirty_baselines(self) -> list[tuple[str, float, int]]:
        out = []
        for key in self._baseline_dirty:
            series = self.series.get(key)
            if series is not None and series.baseline_mean is not None:
                out.append((key_text(key), series.baseline_mean, series.baseline_samples))
        self._baseline_dirty.clear()
        return out

    def take_dirty_seen(self) -> list[tuple[str, float]]:
        out = [(site_id, self.seen[site_id]) for site_id in self._seen_dirty]
        self._seen_dirty.clear()
        return out

    def requeue_seen(self, site_ids: Iterable[str]) -> None:
        """Publishing these sites' last-seen times failed: publish them next time."""
        self._seen_dirty.update(site_ids)
