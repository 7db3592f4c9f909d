"""Prometheus metric names the dashboards read, in one place, and a PromQL target builder.

The collector and the alerting engine own these names (their ``/metrics``); a test scrapes
the real collector and checks that every name used here is exposed, so a rename there
fails here instead of leaving an empty panel.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from netmon.dashboards.datasources import prometheus_ref

RESULTS_TOTAL = "netmon_collector_results_total"  # {outcome}
REJECTED_TOTAL = "netmon_collector_rejected_requests_total"  # {reason}
JOURNAL_PENDING = "netmon_collector_journal_pending_results"
TSDB_LAG_SECONDS = "netmon_collector_tsdb_write_lag_seconds"
TSDB_ERRORS_TOTAL = "netmon_collector_tsdb_write_errors_total"
SITE_INFO = "netmon_site_info"  # {site, name, province, district}
SITE_REPORT_AGE = "netmon_site_last_report_age_seconds"  # {site}
SITE_AGENT_DROPPED_TOTAL = "netmon_site_agent_dropped_results_total"  # {site}
ALERTS_FIRING = "netmon_alerts_firing"  # {site, rule, severity, link, target}: alerting.metrics

COLLECTOR_METRICS = (RESULTS_TOTAL, REJECTED_TOTAL, JOURNAL_PENDING, TSDB_LAG_SECONDS, TSDB_ERRORS_TOTAL, SITE_INFO,
                     SITE_REPORT_AGE, SITE_AGENT_DROPPED_TOTAL, ALERTS_FIRING)

# Restrict a per-site series to the selected province through the site's info metric, the
# Prometheus convention for metadata (DESIGN decision 8): labels stay off every series.
IN_PROVINCE = f'on(site) group_left() {SITE_INFO}{{province=~"$province"}}'


def silent_sites(after_seconds: float) -> str:
    """The province's sites (from the registry, via the info metric) with no result for
    ``after_seconds`` — including those that never reported, which have no age at all."""
    return (f'{SITE_INFO}{{province=~"$province"}} unless on(site) '
            f"({SITE_REPORT_AGE} <= {after_seconds:g})")


def promql(expr: str, *, legend: str | None = None, instant: bool = False, table: bool = False) -> Dataquery:
    query = Dataquery().expr(expr).datasource(prometheus_ref())
    if legend is not None:
        query = query.legend_format(legend)
    query = query.instant() if instant else query.range()
    if table:
        query = query.format(PromQueryFormat.TABLE)
    return query
