"""In-stream rule evaluation: every accepted result advances the series it belongs to.

No scrape cycle: a result that completes a rule's ``for`` fires the alert while the batch
that carried it is being accepted. Timers cover what results cannot: a site that sends
nothing (absence), and ``clear_for`` / ``keep_firing_for`` running out between samples.
Transitions go to ``emit`` synchronously, in order, so the caller's records (incident
ids) are in place before the next sample of the same series is looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

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
                 emit: Callable[[Transition], None], started_at: float) -> None:
        self.rules = {r.name: r for r in rules}
        self.ship_interval_seconds = ship_interval_seconds
        self.stale_after_seconds = stale_after_seconds
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

    def observe(self, site_id: str, records: Iterable[ResultRecord], now: float) -> None:
        self.seen[site_id] = now
        self._seen_dirty.add(site_id)
        for series in self._silent.pop(site_id, []):
            series.value = now - (series.active_at or now)
            self._emit("resolved", series, now)
        for record in records:
            rules = self._by_probe.get(record.probe)
            if not rules:
                continue
            # a sample stamped ahead of the collector's clock (within the skew the door allows) counts as
            # taken now: it must not make every later sample of its series look older and be ignored
            t = min(record.time_ns / 1e9, now)
            if now - t > self.stale_after_seconds:
                continue
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
                        self._emit(step(series, level, None, not bad, None, t), series, t)
                    continue
                for name in rule.value:
                    value = record.values.get(name)
                    if value is not None:
                        self._value(rule, self._series(rule, site_id, record, name), value, t)

    def _series(self, rule: Rule, site_id: str, record: ResultRecord, value_name: str) -> Series:
        key: SeriesKey = (rule.name, site_id, record.link or "", record.target, value_name)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(key=key, rule=rule)
        if series.probe is None:
            series.probe, series.link_kind = record.probe.value, record.link_kind
        return series

    def _value(self, rule: Rule, series: Series, value: float, t: float) -> None:
        if t < series.last_t:
            return  # an older sample than one already seen (re-ordered delivery)
        if rule.baseline is not None:
            spec = rule.baseline
            if series.baseline_mean is None or series.baseline_samples < spec.min_samples:
                learn(series, spec, value)
                self._baseline_dirty.add(series.key)
                series.last_good, series.last_t = value, t
                return
            thresholds = baseline_thresholds(rule, spec, series.baseline_mean)
        else:
            found = rule.thresholds_for(series.link_kind)
            if found is None:
                return
            thresholds = found
        level, crossed, cleared = classify(value, thresholds, rule.op == "above")
        kind = step(series, level, crossed, cleared, value, t)
        if rule.baseline is not None and level is None and series.state == INACTIVE:
            learn(series, rule.baseline, value)  # only healthy samples teach the baseline
            self._baseline_dirty.add(series.key)
        self._emit(kind, series, t)

    def _emit(self, kind: TransitionKind | None, series: Series, t: float) -> None:
        if kind is not None:
            self.emit(Transition(kind, series, t))
            if kind in ("cancelled", "resolved"):
                value = series.value
                series.reset()
                series.last_good = value
        if series.state == FIRING and series.clear_since is not None:
            self._clearing.add(series.key)
        else:
            self._clearing.discard(series.key)

    # -- timers ------------------------------------------------------------------------------

    def timers(self, now: float) -> None:
        for key in list(self._clearing):
            series = self.series.get(key)
            if series is not None:
                self._emit(expire(series, now), series, now)
        for rule in self._absence:
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
