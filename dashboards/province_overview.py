"""Province overview: every commune of a province on one screen, worst first.

Built to stay readable at 168 communes (Hồ Chí Minh City) and at a few hundred: rows per
commune in paginated state timelines and scrollable tables, counts in stat panels, worst-N
tables — no map (thousands of markers tell a NOC nothing).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, statetimeline, table
from grafana_foundation_sdk.builders.common import ReduceDataOptions, TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import Row, ThresholdsConfig
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, Threshold, ThresholdsMode

from netmon.config.readiness import ReadinessConfig
from netmon.contract import LinkKind
from netmon.dashboards import prometheus as prom
from netmon.dashboards.common import (
    INTERVAL,
    PROVINCE,
    TIME,
    base_dashboard,
    count_thresholds,
    hide_time,
    limit_thresholds,
    province_variable,
    status_mappings,
    status_thresholds,
    to_json,
    transformation,
    where,
)
from netmon.dashboards.datasources import influx_ref, prometheus_ref
from netmon.dashboards.influxql import InfluxQL
from netmon.dashboards.readiness import queries as readiness_queries
from netmon.dashboards.thresholds import LINK_KIND_VI, DashboardLimits, Limit, default_limits

UID = "netmon-province-overview"
TOP_N = 10
# "Now" for the state counts: long enough to hold a full probe cycle of every link.
STATE_WINDOW = "5m"

# Worst current state per commune: the latest status of each (link, target) pair, then the
# worst of those per site. A site counts once, in exactly one bucket.
_SITE_STATE = ('SELECT max("s") AS "worst" FROM (SELECT last("status_level") AS "s" FROM "icmp" '
               f'WHERE {where(PROVINCE, TIME)} GROUP BY "site", "link", "target") GROUP BY "site"')


def state_count_query(condition: str) -> str:
    return f'SELECT count("worst") AS "sites" FROM ({_SITE_STATE}) WHERE {condition}'


def _count_panel(title: str, condition: str, colour: str, description: str) -> stat.Panel:
    return (stat.Panel().title(title).description(description).datasource(influx_ref())
            .with_target(InfluxQL(state_count_query(condition)).ref_id("A"))
            .time_from(STATE_WINDOW).hide_time_override(True).no_value("0")
            .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).fields("/^sites$/"))
            .thresholds(count_thresholds(colour)).color_mode(c.BigValueColorMode.BACKGROUND)
            .graph_mode(c.BigValueGraphMode.NONE).height(4).span(6))


def _silent_panel(silent_after_seconds: float) -> stat.Panel:
    expr = f"count({prom.silent_sites(silent_after_seconds)}) or vector(0)"
    return (stat.Panel().title("Xã im lặng").datasource(prometheus_ref())
            .description(f"Xã không gửi kết quả nào trong {silent_after_seconds:g} giây hoặc chưa từng gửi "
                         "(máy đo, nguồn điện hoặc cả hai đường truyền).")
            .with_target(prom.promql(expr, instant=True).ref_id("A"))
            .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
            .thresholds(count_thresholds("blue")).color_mode(c.BigValueColorMode.BACKGROUND)
            .graph_mode(c.BigValueGraphMode.NONE).height(4).span(6))


def state_timeline_query() -> str:
    return (f'SELECT max("status_level") FROM "icmp" WHERE {where(PROVINCE, TIME)} '
            f'GROUP BY {INTERVAL}, "site" fill(none)')


def latest_matrix_query(measurement: str, column_tag: str) -> str:
    return (f'SELECT last("status_level") AS "status" FROM "{measurement}" WHERE {where(PROVINCE, TIME)} '
            f'GROUP BY "site", "{column_tag}"')


def _matrix_table(title: str, description: str, measurement: str, column_tag: str) -> table.Panel:
    return (table.Panel().title(title).description(description).datasource(influx_ref())
            .with_target(InfluxQL(latest_matrix_query(measurement, column_tag)).ref_id("A").table())
            .time_from(STATE_WINDOW).hide_time_override(True)
            .with_transformation(transformation("groupingToMatrix", {
                "columnField": column_tag, "rowField": "site", "valueField": "status", "emptyValue": "null"}))
            .mappings(status_mappings()).thresholds(status_thresholds())
            .cell_options(c.TableColoredBackgroundCellOptions()).filterable(True)
            .height(14).span(12))


def top_query(measurement: str, field: str, alias: str, *conditions: str, inner: str = "mean") -> str:
    inner_query = (f'SELECT {inner}("{field}") AS "v" FROM "{measurement}" WHERE {where(PROVINCE, *conditions, TIME)} '
                   'GROUP BY "site", "link"')
    return f'SELECT top("v", {TOP_N}) AS "{alias}", "site", "link" FROM ({inner_query})'


def utilisation_top_query() -> str:
    # Peak of 5-minute means: what a capacity engineer calls "busy", without one-sample spikes.
    inner = (f'SELECT max("m") AS "v" FROM (SELECT mean("utilisation_ratio") AS "m" FROM "snmp_if" '
             f'WHERE {where(PROVINCE, TIME)} GROUP BY time(5m), "site", "link") GROUP BY "site", "link"')
    return f'SELECT top("v", {TOP_N}) AS "utilisation", "site", "link" FROM ({inner})'


def _top_table(title: str, query: str, field: str, unit: str, limit: Limit, span: int) -> table.Panel:
    return (table.Panel().title(title).datasource(influx_ref())
            .with_target(InfluxQL(query).ref_id("A").table())
            .with_transformation(hide_time())
            .sort_by([TableSortByFieldState().display_name(field).desc(True)])
            .override_by_name(field, [_prop("unit", unit), _prop("thresholds", limit_thresholds(limit).build()),
                                      _prop("custom.cellOptions", c.TableColoredBackgroundCellOptions())])
            .height(9).span(span))


def _prop(name: str, value: Any) -> DynamicConfigValue:
    return DynamicConfigValue(id_val=name, value=value)


def _incidents_panel() -> table.Panel:
    expr = f"{prom.ALERTS_FIRING} * {prom.IN_PROVINCE}"
    return (table.Panel().title("Sự cố đang mở").datasource(prometheus_ref())
            .description("Cảnh báo đang kích hoạt của các xã trong tỉnh, từ số liệu Prometheus của bộ thu thập.")
            .with_target(prom.promql(expr, instant=True, table=True).ref_id("A"))
            .with_transformation(transformation("organize", {"excludeByName": {"Time": True, "Value": True,
                                                                               "__name__": True}}))
            .height(8).span(24))


def _readiness_table(title: str, description: str, query: str,
                     overrides: dict[str, tuple[str, ThresholdsConfig]]) -> table.Panel:
    panel = (table.Panel().title(title).description(description).datasource(influx_ref())
             .with_target(InfluxQL(query).ref_id("A").table()).with_transformation(hide_time())
             .filterable(True).height(10).span(12))
    for field, (unit, steps) in overrides.items():
        panel = panel.override_by_name(field, [_prop("unit", unit), _prop("thresholds", steps.build()),
                                               _prop("custom.cellOptions", c.TableColoredBackgroundCellOptions())])
    return panel


def _pass_fail(limit: float, *, minimum: bool = False) -> ThresholdsConfig:
    """Two colours, as the report judges: at or under a maximum is green; for a minimum, at or above."""
    low, high = ("red", "green") if minimum else ("green", "red")
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=None, color=low), Threshold(value=limit if minimum else limit * (1 + 1e-9), color=high)])


def _readiness_row(config: ReadinessConfig) -> list[table.Panel]:
    """The numbers the readiness report judges, from the report's own queries."""
    dn, tp = config.data_network, config.throughput
    panels = [
        _readiness_table("Mạng truyền số liệu theo xã (số liệu báo cáo sẵn sàng)",
                         f"Độ trễ p{dn.rtt_percentile:g}, biến động trễ và mất gói trong khoảng thời gian đang xem.",
                         readiness_queries.data_network(config),
                         {"rtt_seconds": ("s", _pass_fail(dn.max_rtt)),
                          "jitter_seconds": ("s", _pass_fail(dn.max_jitter)),
                          "loss_ratio": ("percentunit", _pass_fail(dn.max_loss_ratio))}),
    ]
    if tp is not None:  # not required where the province runs no throughput test
        panels.append(_readiness_table(
            "Thông lượng đo được theo xã (số liệu báo cáo sẵn sàng)",
            "Trung vị các lần đo thông lượng; ngưỡng là yêu cầu tối thiểu cho họp trực tuyến.",
            readiness_queries.throughput(config),
            {"download_bps": ("bps", _pass_fail(tp.min_download_mbps * 1e6, minimum=True)),
             "upload_bps": ("bps", _pass_fail(tp.min_upload_mbps * 1e6, minimum=True))}))
    return panels


def build(limits: DashboardLimits | None = None, silent_after_seconds: float = 60.0,
          readiness: ReadinessConfig | None = None) -> dict[str, Any]:
    limits = limits or default_limits()
    dash = (base_dashboard(UID, "netmon — Tổng quan tỉnh").with_variable(province_variable())
            .with_row(Row("Tình trạng hiện tại"))
            .with_panel(_count_panel("Xã tốt", '"worst" = 0', "green",
                                     "Mọi đường truyền của xã đều tốt ở lần đo gần nhất."))
            .with_panel(_count_panel("Xã suy giảm", '"worst" = 1', "yellow",
                                     "Ít nhất một đường truyền suy giảm (trễ hoặc mất gói)."))
            .with_panel(_count_panel("Xã mất kết nối", '"worst" >= 2', "red",
                                     "Ít nhất một đường truyền không trả lời ở lần đo gần nhất."))
            .with_panel(_silent_panel(silent_after_seconds))
            .with_row(Row("Từng xã"))
            .with_panel(statetimeline.Panel().title("Trạng thái đường truyền theo xã").datasource(influx_ref())
                        .description("Mỗi hàng là một xã: trạng thái xấu nhất trong các đường truyền của xã.")
                        .with_target(InfluxQL(state_timeline_query()).ref_id("A").alias("$tag_site"))
                        .mappings(status_mappings()).thresholds(status_thresholds())
                        # One column per ~1 % of the range is plenty for a state row, and keeps
                        # the answer small at hundreds of communes (bench/dashboards_queries.py).
                        .max_data_points(100).interval("1m")
                        .per_page(40).row_height(0.8).show_value(c.VisibilityMode.NEVER)
                        .height(20).span(24))
            .with_panel(_matrix_table("Đường truyền — trạng thái mới nhất",
                                      "Mỗi hàng một xã, mỗi cột một đường truyền.", "icmp", "link"))
            .with_panel(_matrix_table("Nền tảng dùng chung — trạng thái mới nhất",
                                      "Mỗi hàng một xã, mỗi cột một nền tảng (HTTP).", "http", "target"))
            .with_row(Row(f"{TOP_N} đường truyền kém nhất"))
            .with_panel(_top_table("Mức sử dụng cao nhất (so với băng thông cam kết)", utilisation_top_query(),
                                   "utilisation", "percentunit", limits.utilisation_ratio, 8)))
    for kind in (LinkKind.DATA_NETWORK, LinkKind.LEASED_LINE, LinkKind.LAN):
        kind_limits = limits.for_kind(kind)
        kind_filter = f"\"link_kind\" = '{kind.value}'"
        span = 8 if kind is LinkKind.DATA_NETWORK else 6
        dash = dash.with_panel(_top_table(f"Độ trễ cao nhất — {LINK_KIND_VI[kind]}",
                                          top_query("icmp", "rtt_avg_seconds", "rtt", kind_filter),
                                          "rtt", "s", kind_limits.rtt_seconds, span))
        dash = dash.with_panel(_top_table(f"Mất gói cao nhất — {LINK_KIND_VI[kind]}",
                                          top_query("icmp", "loss_ratio", "loss", kind_filter),
                                          "loss", "percentunit", kind_limits.loss_ratio, span))
    dash = dash.with_row(Row("Sự cố")).with_panel(_incidents_panel())
    dash = dash.with_row(Row("Số liệu cho báo cáo sẵn sàng vận hành"))
    for panel in _readiness_row(readiness or ReadinessConfig()):
        dash = dash.with_panel(panel)
    return to_json(dash)
