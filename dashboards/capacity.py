"""Capacity: which circuits are running out, measured against their contracted rate.

95th-percentile utilisation is the number carriers and capacity planners argue with: it
ignores the few busiest minutes and shows the load a line must carry every day. Daily and
weekly buckets show the trend; the table ranks every link of the province by how close it
runs to its contracted rate.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, ReduceDataOptions, TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import Row
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from netmon.dashboards.common import (
    LINK,
    PROVINCE,
    SITE,
    TIME,
    base_dashboard,
    count_thresholds,
    hide_time,
    limit_thresholds,
    link_variable,
    province_variable,
    site_variable,
    to_json,
    where,
)
from netmon.dashboards.datasources import influx_ref
from netmon.dashboards.influxql import InfluxQL
from netmon.dashboards.thresholds import DashboardLimits, default_limits

UID = "netmon-capacity"
CLOSEST_N = 20
_FILTER = where(PROVINCE, SITE, LINK, TIME)


def p95_by_link_query() -> str:
    return ('SELECT percentile("utilisation_ratio", 95) AS "p95", max("utilisation_ratio") AS "peak", '
            'last("contracted_bps") AS "contracted_bps" '
            f'FROM "snmp_if" WHERE {_FILTER} GROUP BY "site", "link"')


def closest_query() -> str:
    return (f'SELECT top("p95", {CLOSEST_N}) AS "p95", "site", "link", "peak", "contracted_bps" '
            f'FROM ({p95_by_link_query()})')


def count_above_query(limit: float) -> str:
    return f'SELECT count("p95") AS "links" FROM ({p95_by_link_query()}) WHERE "p95" >= {limit:g}'


def p95_trend_query(bucket: str) -> str:
    return (f'SELECT percentile("utilisation_ratio", 95) FROM "snmp_if" WHERE {_FILTER} '
            f'GROUP BY time({bucket}), "site", "link" fill(none)')


def throughput_lowest_query() -> str:
    inner = ('SELECT median("download_ratio") AS "download_ratio", median("upload_ratio") AS "upload_ratio" '
             f'FROM "throughput" WHERE {_FILTER} GROUP BY "site", "link"')
    return (f'SELECT bottom("download_ratio", {CLOSEST_N}) AS "download_ratio", "site", "link", "upload_ratio" '
            f'FROM ({inner})')


def _prop(name: str, value: Any) -> DynamicConfigValue:
    return DynamicConfigValue(id_val=name, value=value)


def _count(title: str, limit: float, colour: str) -> stat.Panel:
    return (stat.Panel().title(title).datasource(influx_ref())
            .with_target(InfluxQL(count_above_query(limit)).ref_id("A"))
            .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).fields("/^links$/")).no_value("0")
            .thresholds(count_thresholds(colour)).color_mode(c.BigValueColorMode.BACKGROUND)
            .graph_mode(c.BigValueGraphMode.NONE).height(4).span(12))


def _trend(title: str, bucket: str, limits: DashboardLimits) -> timeseries.Panel:
    return (timeseries.Panel().title(title).datasource(influx_ref()).unit("percentunit").min(0).axis_soft_max(1.0)
            .with_target(InfluxQL(p95_trend_query(bucket)).ref_id("A").alias("$tag_site $tag_link"))
            .thresholds(limit_thresholds(limits.utilisation_ratio))
            .thresholds_style(GraphThresholdsStyleConfig().mode(c.GraphThresholdsStyleMode.DASHED))
            .draw_style(c.GraphDrawStyle.BARS).fill_opacity(60).height(9).span(12))


def build(limits: DashboardLimits | None = None) -> dict[str, Any]:
    limits = limits or default_limits()
    utilisation = limits.utilisation_ratio
    dash = (base_dashboard(UID, "netmon — Dung lượng đường truyền", refresh="15m", time_from="now-30d",
                           prometheus=False)
            .with_variable(province_variable()).with_variable(site_variable(multi=True)).with_variable(link_variable())
            .with_row(Row("Phân vị 95 mức sử dụng"))
            .with_panel(_count(f"Đường truyền có phân vị 95 ≥ {utilisation.warning:.0%}", utilisation.warning,
                               "yellow"))
            .with_panel(_count(f"Đường truyền có phân vị 95 ≥ {utilisation.critical:.0%}", utilisation.critical,
                               "red"))
            .with_panel(table.Panel().title(f"{CLOSEST_N} đường truyền gần chạm băng thông cam kết nhất")
                        .description("Phân vị 95 và đỉnh mức sử dụng trong khoảng thời gian đang xem.")
                        .datasource(influx_ref()).with_target(InfluxQL(closest_query()).ref_id("A").table())
                        .with_transformation(hide_time())
                        .sort_by([TableSortByFieldState().display_name("p95").desc(True)])
                        .override_by_name("p95", [_prop("unit", "percentunit"),
                                                  _prop("thresholds", limit_thresholds(utilisation).build()),
                                                  _prop("custom.cellOptions", c.TableColoredBackgroundCellOptions())])
                        .override_by_name("peak", [_prop("unit", "percentunit")])
                        .override_by_name("contracted_bps", [_prop("unit", "bps")])
                        .height(10).span(24))
            .with_panel(_trend("Phân vị 95 theo ngày", "1d", limits))
            .with_panel(_trend("Phân vị 95 theo tuần", "1w", limits))
            .with_row(Row("Thông lượng đo chủ động"))
            .with_panel(table.Panel().title("Thông lượng đo được thấp nhất so với cam kết")
                        .description("Trung vị các lần đo (tải xuống / tải lên) chia cho băng thông cam kết.")
                        .datasource(influx_ref()).with_target(InfluxQL(throughput_lowest_query()).ref_id("A").table())
                        .with_transformation(hide_time())
                        .sort_by([TableSortByFieldState().display_name("download_ratio")])
                        .override_by_regexp("/_ratio$/", [_prop("unit", "percentunit")])
                        .height(9).span(24)))
    return to_json(dash)
