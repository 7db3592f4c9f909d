"""``$__interval`` as Grafana computes it for a panel of built dashboard JSON.

Not product code: the dashboards send their queries through Grafana, which computes the
interval itself. The dashboard tests and ``bench/dashboards_queries.py`` run the same queries
against a real TSDB without a Grafana in between, so they need the same number Grafana 11
would use (``rangeutil.roundInterval`` and the panel's max data points and min interval).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from netmon.dashboards.datasources import MIN_INTERVAL_SECONDS

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
