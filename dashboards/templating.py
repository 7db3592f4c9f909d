"""Grafana's template interpolation for InfluxQL queries, so a dashboard query can be run as
Grafana would run it — by the readiness report (which reuses the dashboards' queries for one
province) and by the tests against real InfluxDB (with ``$__interval`` from
``netmon.lab.grafana_interval``).

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
from collections.abc import Mapping

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
