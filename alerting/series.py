"""One watched series (rule x site x link x target x value) and its state machine.

    inactive --bad sample--> pending --bad for `for`--> firing --beyond `clear` for clear_for--> resolved
                 ^---- a sample that is not bad ----'

Pending needs the condition to hold without a break (Prometheus' ``for``); a firing alert
ends only beyond the clear threshold (hysteresis), so a value wandering around the limit
produces one alert, not one per crossing.

Samples that arrive late (an agent's backlog after an outage, see ``replay.py``) are
*held*: they move a series as usual, except that meeting ``for`` does not fire it. The
series stays pending and remembers when ``for`` was met (``overdue_at``); if the condition
is over by the time the samples are current, it ends as ``history`` (kept in the incident
log, never paged), and if it is still going on, the first current bad sample fires it.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from netmon.alerting.rules import SEVERITY_RANK, BaselineSpec, Rule, Thresholds
from netmon.contract import LinkKind

INACTIVE, PENDING, FIRING = "inactive", "pending", "firing"
TransitionKind = Literal["pending", "cancelled", "firing", "upgraded", "resolved", "history"]
# (rule, site, link, target, value name); "" where a part does not apply.
SeriesKey = tuple[str, str, str, str, str]


def key_text(key: SeriesKey) -> str:
    return "|".join(key)


def key_from_text(text: str) -> SeriesKey:
    parts = text.split("|")
    return (parts[0], parts[1], parts[2], parts[3], parts[4])


@dataclasses.dataclass(slots=True)
class Series:
    key: SeriesKey
    rule: Rule
    link_kind: LinkKind | None = None
    probe: str | None = None
    state: str = INACTIVE
    active_at: float | None = None
    fired_at: float | None = None
    severity: str | None = None
    value: float | None = None
    threshold: float | None = None
    clear_since: float | None = None
    last_t: float = 0.0
    last_good: float | None = None
    incident_id: int | None = None
    baseline_mean: float | None = None
    baseline_samples: int = 0
    baseline_dirty: bool = False
    # Held samples met ``for`` at this sample time (with this value): a condition that may be over.
    overdue_at: float | None = None
    overdue_value: float | None = None

    def reset(self) -> None:
        self.state = INACTIVE
        self.active_at = self.fired_at = self.severity = self.threshold = self.clear_since = None
        self.incident_id = self.overdue_at = self.overdue_value = None


@dataclasses.dataclass(slots=True, frozen=True)
class Transition:
    kind: TransitionKind
    series: Series
    at: float
    # history: the incident of the site's silence during which it happened
    covered_by: int | None = None


def classify(value: float, th: Thresholds, above: bool) -> tuple[str | None, float | None, bool]:
    """(level crossed or None, the threshold crossed, whether the value is beyond ``clear``)."""
    sign = 1.0 if above else -1.0
    level: str | None = None
    crossed: float | None = None
    if th.critical is not None and sign * (value - th.critical) >= 0:
        level, crossed = "critical", th.critical
    elif th.warning is not None and sign * (value - th.warning) >= 0:
        level, crossed = "warning", th.warning
    clear = th.clear if th.clear is not None else (th.warning if th.warning is not None else th.critical)
    cleared = clear is not None and sign * (value - clear) < 0
    return level, crossed, cleared


def baseline_thresholds(rule: Rule, spec: BaselineSpec, mean: float) -> Thresholds:
    """A baseline rule's factors applied to the series' mean, never closer to it than min_delta."""
    above = rule.op == "above"

    def scaled(factor: float | None) -> float | None:
        if factor is None:
            return None
        limit = mean * factor
        return max(limit, mean + spec.min_delta) if above else min(limit, mean - spec.min_delta)

    clear = scaled(rule.clear) if rule.clear is not None else None
    return Thresholds(warning=scaled(rule.warning), critical=scaled(rule.critical), clear=clear)


def learn(series: Series, spec: BaselineSpec, value: float) -> None:
    if series.baseline_mean is None:
        series.baseline_mean = value
    else:
        series.baseline_mean += spec.alpha * (value - series.baseline_mean)
    series.baseline_samples += 1
    series.baseline_dirty = True


def step(series: Series, level: str | None, crossed: float | None, cleared: bool, value: float | None,
         t: float, held: bool = False) -> TransitionKind | None:
    """Advance ``series`` by one sample taken at ``t``; return the transition it made, if any.
    A ``held`` sample (late) never fires: it marks the series overdue instead."""
    rule = series.rule
    series.value = value
    series.last_t = t
    if series.state == INACTIVE:
        if level is None:
            series.last_good = value
            return None
        series.state, series.active_at, series.severity, series.threshold = PENDING, t, level, crossed
        series.clear_since = None
        if not _on_good_side(series.last_good, crossed, rule.op == "above"):
            series.last_good = None  # "last good" is a value this alert would not have raised
        if rule.for_seconds <= 0:
            return _overdue(series, t, value) if held else _fire(series, t)
        return "pending"
    if series.state == PENDING:
        if level is None:
            # the caller records it (as history when it had lasted ``for``), then resets the series
            return "history" if series.overdue_at is not None else "cancelled"
        if SEVERITY_RANK[level] > SEVERITY_RANK[series.severity]:
            series.severity, series.threshold = level, crossed
        if series.active_at is not None and t - series.active_at >= rule.for_seconds:
            if held:
                _overdue(series, t, value)
                return None
            return _fire(series, t)
        return None
    upgraded: TransitionKind | None = None
    # a held sample may end a firing alert but not announce it again as worse
    if level is not None and SEVERITY_RANK[level] > SEVERITY_RANK[series.severity] and not held:
        series.severity, series.threshold = level, crossed
        upgraded = "upgraded"
    if not cleared:
        series.clear_since = None
        return upgraded
    if series.clear_since is None:
        series.clear_since = t
    return expire(series, t) or upgraded


def expire(series: Series, now: float) -> TransitionKind | None:
    """Resolve a firing series that has stayed beyond ``clear`` long enough (also run by the tick)."""
    rule = series.rule
    if series.state == FIRING and series.clear_since is not None and \
            now - series.clear_since >= max(rule.clear_for, rule.keep_firing_for):
        return "resolved"  # the caller records it, then resets the series
    return None


def _on_good_side(value: float | None, threshold: float | None, above: bool) -> bool:
    if value is None or threshold is None:
        return True
    return value < threshold if above else value > threshold


def _overdue(series: Series, t: float, value: float | None) -> TransitionKind:
    if series.overdue_at is None:
        series.overdue_at, series.overdue_value = t, value
    return "pending"


def _fire(series: Series, t: float) -> TransitionKind:
    series.state = FIRING
    series.fired_at = t
    return "firing"
