"""Site detail: one commune, link by link — what the NOC opens from an alert's link.

RTT and utilisation panels repeat per link (``$link``), so each link gets its own min/avg/max
band and its own contracted-rate line; the other panels show every selected link together.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import statetimeline, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
from grafana_foundation_sdk.builders.dashboard import Row
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from netmon.dashboards.common import (
    INTERVAL,
    LINK,
    SITE,
    TIME,
    base_dashboard,
    limit_thresholds,
    link_variable,
    province_variable,
    site_variable,
    status_mappings,
    status_thresholds,
    to_json,
    where,
)
from netmon.dashboards.datasources import influx_ref
from netmon.dashboards.influxql import InfluxQL
from netmon.dashboards.thresholds import DashboardLimits, default_limits

UID = "netmon-site-detail"
_LINK_FILTER = where(SITE, LINK, TIME)


def rtt_band_query() -> str:
    return ('SELECT min("rtt_min_seconds") AS "min", mean("rtt_avg_seconds") AS "avg", max("rtt_max_seconds") AS "max" '
            f'FROM "icmp" WHERE {_LINK_FILTER} GROUP BY {INTERVAL} fill(none)')


def per_link_query(measurement: str, selects: str) -> str:
    return f'SELECT {selects} FROM "{measurement}" WHERE {_LINK_FILTER} GROUP BY {INTERVAL}, "link" fill(none)'


def traffic_query() -> str:
    return ('SELECT mean("in_bps") AS "in", mean("out_bps") AS "out", last("contracted_bps") AS "contracted" '
            f'FROM "snmp_if" WHERE {_LINK_FILTER} GROUP BY {INTERVAL} fill(none)')


def platform_query(selects: str) -> str:
    return f'SELECT {selects} FROM "http" WHERE {where(SITE, TIME)} GROUP BY {INTERVAL}, "target" fill(none)'


def _series(title: str, unit: str, description: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).description(description).datasource(influx_ref()).unit(unit)
            .line_width(1).fill_opacity(10).span_nulls(False).height(8).span(12))


def _prop(name: str, value: Any) -> DynamicConfigValue:
    return DynamicConfigValue(id_val=name, value=value)


def build(limits: DashboardLimits | None = None) -> dict[str, Any]:
    limits = limits or default_limits()
    dashed = {"fill": "dash", "dash": [10, 10]}
    dash = (base_dashboard(UID, "netmon — Chi tiết xã", time_from="now-24h", prometheus=False)
            .with_variable(province_variable()).with_variable(site_variable(multi=False))
            .with_variable(link_variable())
            .with_row(Row("Trạng thái"))
            .with_panel(statetimeline.Panel().title("Trạng thái đường truyền").datasource(influx_ref())
                        .with_target(InfluxQL(per_link_query("icmp", 'max("status_level")')).ref_id("A")
                                     .alias("$tag_link"))
                        .mappings(status_mappings()).thresholds(status_thresholds())
                        .show_value(c.VisibilityMode.NEVER).height(6).span(12))
            .with_panel(statetimeline.Panel().title("Trạng thái nền tảng dùng chung").datasource(influx_ref())
                        .with_target(InfluxQL(platform_query('max("status_level")')).ref_id("A")
                                     .alias("$tag_target"))
                        .mappings(status_mappings()).thresholds(status_thresholds())
                        .show_value(c.VisibilityMode.NEVER).height(6).span(12))
            .with_row(Row("Độ trễ, biến động trễ, mất gói"))
            .with_panel(_series("Độ trễ $link (min / trung bình / max)", "s",
                                "Dải min–max của mọi gói ICMP trong mỗi khoảng; đường giữa là trung bình.")
                        .with_target(InfluxQL(rtt_band_query()).ref_id("A").alias("$col"))
                        .repeat("link").repeat_direction("h").max_per_row(3)
                        .override_by_name("max", [_prop("custom.fillBelowTo", "min"),
                                                  _prop("custom.fillOpacity", 20), _prop("custom.lineWidth", 0)])
                        .override_by_name("min", [_prop("custom.lineWidth", 0)]))
            .with_panel(_series("Biến động trễ (jitter)", "s", "Trung bình chênh lệch RTT giữa hai gói liên tiếp.")
                        .with_target(InfluxQL(per_link_query("icmp", 'mean("jitter_seconds")')).ref_id("A")
                                     .alias("$tag_link")))
            .with_panel(_series("Tỷ lệ mất gói", "percentunit", "Tỷ lệ gói ICMP không được trả lời.")
                        .with_target(InfluxQL(per_link_query("icmp", 'mean("loss_ratio")')).ref_id("A")
                                     .alias("$tag_link")).min(0))
            .with_row(Row("Băng thông"))
            .with_panel(_series("Lưu lượng $link so với băng thông cam kết", "bps",
                                "Lưu lượng vào/ra cổng router (SNMP); đường đứt đoạn là băng thông cam kết.")
                        .with_target(InfluxQL(traffic_query()).ref_id("A").alias("$col"))
                        .repeat("link").repeat_direction("h").max_per_row(3).min(0)
                        .override_by_name("contracted", [_prop("custom.lineStyle", dashed),
                                                         _prop("custom.fillOpacity", 0),
                                                         _prop("color", {"mode": "fixed", "fixedColor": "red"})]))
            .with_panel(_series("Mức sử dụng so với băng thông cam kết", "percentunit",
                                "Ngưỡng vàng/đỏ là ngưỡng cảnh báo.")
                        .with_target(InfluxQL(per_link_query("snmp_if", 'max("utilisation_ratio")')).ref_id("A")
                                     .alias("$tag_link"))
                        .thresholds(limit_thresholds(limits.utilisation_ratio))
                        .thresholds_style(GraphThresholdsStyleConfig().mode(c.GraphThresholdsStyleMode.LINE_AND_AREA))
                        .min(0).axis_soft_max(1.0))
            .with_panel(_series("Kiểm tra thông lượng", "bps",
                                "Kết quả đo thông lượng chủ động (iperf3) mỗi lần đo, so với băng thông cam kết.")
                        .with_target(InfluxQL(per_link_query(
                            "throughput", 'last("download_bps") AS "download", last("upload_bps") AS "upload"'))
                            .ref_id("A").alias("$tag_link $col"))
                        .draw_style(c.GraphDrawStyle.POINTS).point_size(8).min(0))
            .with_panel(_series("Lỗi và gói bị loại trên cổng", "pps", "Lỗi/loại bỏ mỗi giây theo IF-MIB.")
                        .with_target(InfluxQL(per_link_query(
                            "snmp_if", 'mean("in_errors_per_second") AS "in_errors", '
                                       'mean("out_errors_per_second") AS "out_errors", '
                                       'mean("in_discards_per_second") AS "in_discards", '
                                       'mean("out_discards_per_second") AS "out_discards"'))
                            .ref_id("A").alias("$tag_link $col")).min(0))
            .with_row(Row("Nền tảng dùng chung"))
            .with_panel(_series("Thời gian phản hồi nền tảng", "s", "Tổng thời gian một yêu cầu HTTP tới nền tảng.")
                        .with_target(InfluxQL(platform_query('mean("total_seconds")')).ref_id("A")
                                     .alias("$tag_target"))
                        .thresholds(limit_thresholds(limits.platform_response_seconds))
                        .thresholds_style(GraphThresholdsStyleConfig().mode(c.GraphThresholdsStyleMode.LINE))
                        .min(0).span(24)))
    return to_json(dash)
