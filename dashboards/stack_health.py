"""Stack health: is the monitoring itself working? Collector ingest, rejects, journal and TSDB
lag (the collector's Prometheus metrics), agents' outbox backlog, drops and silence (the
agents' heartbeat records, measurement ``agent``, in InfluxDB).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.builders.common import TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import Row
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from netmon.dashboards import prometheus as prom
from netmon.dashboards.common import (
    INTERVAL,
    PROVINCE,
    TIME,
    base_dashboard,
    hide_time,
    province_variable,
    to_json,
    transformation,
    where,
)
from netmon.dashboards.datasources import influx_ref, prometheus_ref
from netmon.dashboards.influxql import InfluxQL

UID = "netmon-stack-health"
TOP_N = 15
_AGENT = where(PROVINCE, TIME)


def outbox_total_query() -> str:
    inner = (f'SELECT last("outbox_queued_count") AS "queued" FROM "agent" WHERE {_AGENT} '
             f'GROUP BY {INTERVAL}, "site"')
    return f'SELECT sum("queued") AS "queued" FROM ({inner}) WHERE {TIME} GROUP BY {INTERVAL} fill(none)'


def outbox_top_query() -> str:
    inner = ('SELECT last("outbox_queued_count") AS "queued", '
             'last("outbox_oldest_age_seconds") AS "oldest_age_seconds", '
             f'last("outbox_dropped_total") AS "dropped_total" FROM "agent" WHERE {_AGENT} GROUP BY "site"')
    return f'SELECT top("queued", {TOP_N}) AS "queued", "site", "oldest_age_seconds", "dropped_total" FROM ({inner})'


def drops_query() -> str:
    # outbox_dropped_total is cumulative per agent run: its spread over the range is what
    # was dropped in the range (a restart of the agent can only under-count, never invent).
    inner = f'SELECT spread("outbox_dropped_total") AS "dropped" FROM "agent" WHERE {_AGENT} GROUP BY "site"'
    return f'SELECT "dropped" FROM ({inner}) WHERE "dropped" > 0 GROUP BY "site"'


def last_heartbeat_query() -> str:
    return (f'SELECT last("uptime_seconds") AS "uptime_seconds" FROM "agent" WHERE {_AGENT} GROUP BY "site"')


def _prop(name: str, value: Any) -> DynamicConfigValue:
    return DynamicConfigValue(id_val=name, value=value)


def _prom_series(title: str, expr: str, legend: str, unit: str, description: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).description(description).datasource(prometheus_ref()).unit(unit)
            .with_target(prom.promql(expr, legend=legend).ref_id("A")).min(0).fill_opacity(10).height(8).span(12))


def build(silent_after_seconds: float = 60.0) -> dict[str, Any]:
    rate = "[$__rate_interval]"
    dash = (base_dashboard(UID, "netmon — Sức khoẻ hệ thống giám sát", refresh="30s", time_from="now-3h")
            .with_variable(province_variable())
            .with_row(Row("Bộ thu thập (collector)"))
            .with_panel(_prom_series("Kết quả tiếp nhận mỗi giây",
                                     f"sum by (outcome) (rate({prom.RESULTS_TOTAL}{rate}))", "{{outcome}}", "reqps",
                                     "Theo kết quả xử lý: accepted, duplicate, rejected."))
            .with_panel(_prom_series("Bị từ chối mỗi giây, theo lý do",
                                     f"sum by (reason) (rate({prom.REJECTED_TOTAL}{rate}))", "{{reason}}", "reqps",
                                     "Lô hoặc bản ghi bị từ chối (token sai, dữ liệu không hợp lệ, quá tải...)."))
            .with_panel(_prom_series("Độ sâu nhật ký tiếp nhận (journal)", prom.JOURNAL_PENDING, "journal", "short",
                                     "Kết quả đã nhận nhưng chưa ghi vào InfluxDB."))
            .with_panel(_prom_series("Độ trễ ghi InfluxDB", prom.TSDB_LAG_SECONDS, "lag", "s",
                                     "Tuổi của kết quả cũ nhất chưa ghi vào InfluxDB."))
            .with_row(Row("Agent tại các xã"))
            .with_panel(timeseries.Panel().title("Tổng số kết quả chờ gửi (outbox)").datasource(influx_ref())
                        .description("Tổng hàng đợi outbox của mọi agent trong tỉnh, theo heartbeat của agent.")
                        .with_target(InfluxQL(outbox_total_query()).ref_id("A").alias("queued"))
                        .unit("short").min(0).fill_opacity(10).height(8).span(12))
            .with_panel(table.Panel().title(f"{TOP_N} agent có outbox tồn đọng nhiều nhất").datasource(influx_ref())
                        .with_target(InfluxQL(outbox_top_query()).ref_id("A").table())
                        .with_transformation(hide_time())
                        .sort_by([TableSortByFieldState().display_name("queued").desc(True)])
                        .override_by_name("oldest_age_seconds", [_prop("unit", "s")])
                        .height(8).span(12))
            .with_panel(table.Panel().title("Kết quả bị bỏ do outbox đầy").datasource(influx_ref())
                        .description("Số kết quả agent phải bỏ (cũ nhất trước) trong khoảng thời gian đang xem.")
                        .with_target(InfluxQL(drops_query()).ref_id("A").table())
                        .with_transformation(hide_time())
                        .sort_by([TableSortByFieldState().display_name("dropped").desc(True)])
                        .height(8).span(12))
            .with_panel(table.Panel().title("Lần cuối nhận heartbeat của từng agent").datasource(influx_ref())
                        .description("Cột Time là lúc nhận heartbeat gần nhất; cũ nhất ở trên cùng.")
                        .with_target(InfluxQL(last_heartbeat_query()).ref_id("A").table())
                        .sort_by([TableSortByFieldState().display_name("Time")])
                        .override_by_name("uptime_seconds", [_prop("unit", "s")])
                        .height(8).span(12))
            .with_panel(table.Panel().title(f"Agent im lặng quá {silent_after_seconds:g} giây")
                        .datasource(prometheus_ref())
                        .description("Theo sổ đăng ký trạm: cả xã chưa từng gửi số liệu.")
                        .with_target(prom.promql(prom.silent_sites(silent_after_seconds), instant=True,
                                                 table=True).ref_id("A"))
                        .with_transformation(transformation("organize", {"excludeByName": {
                            "Time": True, "Value": True, "__name__": True}}))
                        .height(8).span(24)))
    return to_json(dash)
