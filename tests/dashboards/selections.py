"""Selections of a dashboard variable the tests query with, as Grafana would send them (the
product itself only ever selects one value: the readiness report's province)."""

from __future__ import annotations

from collections.abc import Sequence

from netmon.dashboards.templating import Variable


def several(values: Sequence[str]) -> Variable:
    return Variable(values=tuple(values))


def all_selected(all_value: str = ".*") -> Variable:
    """"All" selected, with the custom all value the dashboards declare (``.*``)."""
    return Variable(values=(), all_value=all_value)
