"""Run a dashboard panel's InfluxQL targets the way Grafana 11 would: variables interpolated by
``dashboards.templating``, the panel's relative time override applied, one request per target."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from netmon.dashboards.datasources import INFLUX_REF_UID, INFLUX_UID, resolved_uid
from netmon.dashboards.influx import InfluxQLClient, QuerySeries
from netmon.dashboards.templating import Variable, interpolate
from netmon.lab.grafana_interval import duration_seconds, panel_interval_seconds

_LEFTOVER = re.compile(r"\$\w|\$\{|\[\[")


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        if panel["type"] != "row":
            yield panel
        yield from panel.get("panels", [])


def influx_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(board) if resolved_uid(p["datasource"]["uid"], board) == INFLUX_UID]


def run_panel(client: InfluxQLClient, panel: dict[str, Any], variables: Mapping[str, Variable], *, now_ms: int,
              range_seconds: float) -> dict[str, list[QuerySeries]]:
    """refId -> the series InfluxDB returned for that target."""
    if panel.get("timeFrom"):
        range_seconds = duration_seconds(panel["timeFrom"])
    interval_seconds = panel_interval_seconds(panel, range_seconds)
    out = {}
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == INFLUX_REF_UID  # the dashboard's InfluxDB picker
        query = interpolate(target["query"], variables, time_from_ms=now_ms - int(range_seconds * 1000),
                            time_to_ms=now_ms, interval_seconds=interval_seconds)
        assert not _LEFTOVER.search(query), f"{panel['title']}: variable left in {query}"
        out[target["refId"]] = client.query(query)
    return out
