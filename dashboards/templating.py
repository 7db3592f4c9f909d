"""Grafana's template interpolation for InfluxQL queries, so a dashboard query can be run as
Grafana would run it — by the tests (against real InfluxDB) and by the readiness report
(which reuses the dashboards' queries for one province).

What Grafana 11 does, and so what this does:

- the frontend (``applyVariables`` in the InfluxDB datasource) replaces dashboard variables
  (``$site``, ``${site}``, ``[[site]]``) with Grafana's ``regex`` format: every value
  regex-escaped (``escapeRegex`` of @grafana/data), several values joined as ``(a|b)``;
  "All" with a custom all value is that value, unescaped (ours: ``.*``);
- the backend then replaces ``$timeFilter`` with ``time >= <from>ms and time <= <to>ms``,
  ``$__interval`` / ``$interval`` with the interval text (``10s``, ``1m``) and
  ``$__interval_ms`` with milliseconds (pkg/tsdb/influxdb/models/query.go).

Unknown variables are left as they are, as Grafana does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from netmon.dashboards.datasources import MIN_INTERVAL_SECONDS

_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)\]\]|\$\{(\w+)\}")
# @grafana/data escapeRegex.
_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")


@dataclasses.dataclass(frozen=True)
class Variable:
    """A dashboard variable's current selection."""

    values: tuple[str, ...]
    # Set when "All" is selected and the variable has a custom all value (ours: ``.*``).
    all_value: str | None = None

    @classmethod
    def single(cls, value: str) -> Variable:
        return cls(values=(value,))

    @classmethod
    def selection(cls, values: Sequence[str]) -> Variable:
        return cls(values=tuple(values))

    @classmethod
    def all(cls, all_value: str = ".*") -> Variable:
        return cls(values=(), all_value=all_value)


def format_value(variable: Variable) -> str:
    if variable.all_value is not None:
        return variable.all_value
    escaped = [_REGEX_SPECIAL.sub(r"\\\g<0>", value) for value in variable.values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def format_interval(seconds: float) -> str:
    """gtime.FormatInterval: the largest whole unit (d, h, m, s, ms)."""
    ms = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def interpolate(query: str, variables: Mapping[str, Variable], *, time_from_ms: int, time_to_ms: int,
                interval_seconds: float) -> str:
    """``query`` as Grafana sends it to InfluxDB for this selection, time range and interval."""
    # Grafana's frontend leaves these to its backend; one pass does both stages because no
    # netmon variable shares a name with them.
    builtins = {
        "timeFilter": f"time >= {time_from_ms}ms and time <= {time_to_ms}ms",
        "__interval_ms": str(round(interval_seconds * 1000)),
        "__interval": format_interval(interval_seconds),
        "interval": format_interval(interval_seconds),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in builtins:
            return builtins[name]
        variable = variables.get(name)
        return format_value(variable) if variable is not None else match.group(0)

    return _VARIABLE.sub(replace, query)


# Grafana's rangeutil.roundInterval: raw interval (ms) upper bound -> the "nice" interval used.
_ROUND_MS = ((10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
             (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
             (90000, 60000), (210000, 120000), (450000, 300000), (1050000, 600000), (2100000, 1200000),
             (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
             (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000))


def grafana_interval_seconds(range_seconds: float, max_data_points: int, min_interval_seconds: float = 0.0) -> float:
    """``$__interval`` as Grafana computes it: range / max data points, rounded to a nice value,
    never below the panel's (or datasource's) minimum interval."""
    raw_ms = range_seconds * 1000 / max(1, max_data_points)
    rounded = next((nice for bound, nice in _ROUND_MS if raw_ms <= bound), 31536000000)
    return max(rounded / 1000, min_interval_seconds)


_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """A Grafana duration (``5m``, ``1h``) in seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a Grafana duration: {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def panel_interval_seconds(panel: Mapping[str, Any], range_seconds: float, *,
                           datasource_min_seconds: float = MIN_INTERVAL_SECONDS) -> float:
    """``$__interval`` for a panel of built dashboard JSON: its max data points (default: its width
    in pixels, ~75 px per grid column on a 1920-px screen) and min interval (its own, else the
    datasource's)."""
    points = int(panel.get("maxDataPoints") or panel["gridPos"]["w"] * 75)
    minimum = duration_seconds(panel["interval"]) if panel.get("interval") else datasource_min_seconds
    return grafana_interval_seconds(range_seconds, points, minimum)
