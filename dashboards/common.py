"""Pieces every netmon dashboard shares: template variables, status colours, threshold steps,
InfluxQL filter fragments, and the final pass that numbers panels and serialises to JSON.

Template variables follow Grafana's InfluxDB conventions: tag values from ``SHOW TAG
VALUES``, used in regex matches ``"site" =~ /^$site$/`` so single values, multi-value
selections (rendered by Grafana as ``(a|b)``, regex-escaped) and "All" (``.*``) all work.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, ThresholdsConfig
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as m

from netmon.dashboards.datasources import INFLUX_VARIABLE, PROMETHEUS_VARIABLE, datasource_variable, influx_ref
from netmon.dashboards.thresholds import STATUS_COLOUR, STATUS_LEVEL, STATUS_TEXT_VI, Limit

# Filters used in every InfluxQL query; Grafana fills in the variables.
PROVINCE = '"province" =~ /^$province$/'
SITE = '"site" =~ /^$site$/'
LINK = '"link" =~ /^$link$/'
TIME = "$timeFilter"
INTERVAL = "time($__interval)"

# The tags that say where a record comes from (docs/schema.md). Dashboards list tag values
# from these measurements only, so a future measurement cannot leak odd values into a picker.
LINK_MEASUREMENTS = '"icmp", "udp_echo", "snmp_if", "throughput"'


def where(*conditions: str) -> str:
    return " AND ".join(conditions)


def province_variable() -> QueryVariable:
    return (QueryVariable("province").label("Tỉnh/thành").datasource(influx_ref())
            .query('SHOW TAG VALUES FROM "agent" WITH KEY = "province"')
            .refresh(m.VariableRefresh.ON_DASHBOARD_LOAD).sort(m.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
            .multi(False).include_all(False))


def site_variable(*, multi: bool) -> QueryVariable:
    variable = (QueryVariable("site").label("Xã/phường").datasource(influx_ref())
                .query(f'SHOW TAG VALUES FROM "agent" WITH KEY = "site" WHERE {PROVINCE}')
                .refresh(m.VariableRefresh.ON_DASHBOARD_LOAD).sort(m.VariableSort.NATURAL_ASC).multi(multi))
    if multi:
        variable = variable.include_all(True).all_value(".*")
    return variable


def link_variable() -> QueryVariable:
    return (QueryVariable("link").label("Đường truyền").datasource(influx_ref())
            .query(f'SHOW TAG VALUES FROM {LINK_MEASUREMENTS} WITH KEY = "link" WHERE {SITE}')
            .refresh(m.VariableRefresh.ON_DASHBOARD_LOAD).sort(m.VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).all_value(".*"))


def status_mappings() -> list[m.ValueMapping]:
    """status_level 0..3 -> Vietnamese text and the colour used everywhere for that state."""
    options = {str(level): m.ValueMappingResult(text=STATUS_TEXT_VI[status], color=STATUS_COLOUR[status], index=level)
               for status, level in STATUS_LEVEL.items()}
    return [m.ValueMap(options=options)]


def status_thresholds() -> ThresholdsConfig:
    steps = [m.Threshold(value=None if level == 0 else float(level), color=STATUS_COLOUR[status])
             for status, level in STATUS_LEVEL.items()]
    return ThresholdsConfig().mode(m.ThresholdsMode.ABSOLUTE).steps(steps)


def limit_thresholds(limit: Limit) -> ThresholdsConfig:
    return ThresholdsConfig().mode(m.ThresholdsMode.ABSOLUTE).steps(
        [m.Threshold(value=None, color="green"), m.Threshold(value=limit.warning, color="yellow"),
         m.Threshold(value=limit.critical, color="red")])


def count_thresholds(colour: str) -> ThresholdsConfig:
    return ThresholdsConfig().mode(m.ThresholdsMode.ABSOLUTE).steps([m.Threshold(value=None, color=colour)])


def transformation(id_val: str, options: dict[str, Any]) -> m.DataTransformerConfig:
    return m.DataTransformerConfig(id_val=id_val, options=options)


def hide_time() -> m.DataTransformerConfig:
    return transformation("organize", {"excludeByName": {"Time": True}})


def to_json(builder: Dashboard) -> dict[str, Any]:
    """Serialise, giving every panel (rows and the panels inside collapsed rows) a unique id."""
    data: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    next_id = 1
    for panel in data.get("panels", []):
        panel["id"] = next_id
        next_id += 1
        for inner in panel.get("panels", []):
            inner["id"] = next_id
            next_id += 1
    return data


def base_dashboard(uid: str, title: str, *, refresh: str = "1m", time_from: str = "now-6h",
                   prometheus: bool = True) -> Dashboard:
    """A dashboard with its datasource pickers first (InfluxDB; Prometheus when ``prometheus``)."""
    board = (Dashboard(title).uid(uid).tags(["netmon"]).refresh(refresh).time(time_from, "now")
             .timezone("browser").tooltip(m.DashboardCursorSync.CROSSHAIR).readonly()
             .with_variable(datasource_variable(INFLUX_VARIABLE)))
    return board.with_variable(datasource_variable(PROMETHEUS_VARIABLE)) if prometheus else board
