"""The InfluxQL behind the readiness report, written like the dashboards' queries (same
``$province`` / ``$timeFilter`` variables, interpolated the way Grafana does) so a number in the
report can be reproduced in Grafana by pasting its query into the InfluxDB datasource.

All aggregate per site (and per platform) over the report window in InfluxDB: a province of a
few hundred communes is a few thousand rows back, whatever the window.
"""

from __future__ import annotations

from netmon.config.readiness import ReadinessConfig
from netmon.dashboards.common import PROVINCE, TIME, where


def _link_kind(kind: str) -> str:
    return f"\"link_kind\" = '{kind}'"


def data_network(config: ReadinessConfig) -> str:
    req = config.data_network
    conditions = [PROVINCE, _link_kind(req.link_kind.value)]
    if req.target:
        conditions.append(f"\"target\" = '{req.target}'")
    return (f'SELECT percentile("rtt_avg_seconds", {req.rtt_percentile:g}) AS "rtt_seconds", '
            'mean("jitter_seconds") AS "jitter_seconds", mean("loss_ratio") AS "loss_ratio", '
            f'count("loss_ratio") AS "cycles" FROM "icmp" WHERE {where(*conditions, TIME)} GROUP BY "site"')


def throughput(config: ReadinessConfig) -> str:
    assert config.throughput is not None
    kind = _link_kind(config.throughput.link_kind.value)
    return ('SELECT median("download_bps") AS "download_bps", median("upload_bps") AS "upload_bps", '
            f'count("download_bps") AS "tests" FROM "throughput" WHERE {where(PROVINCE, kind, TIME)} GROUP BY "site"')


def utilisation(config: ReadinessConfig) -> str:
    req = config.utilisation
    assert req is not None
    kinds = " OR ".join(_link_kind(kind.value) for kind in req.link_kinds)
    return (f'SELECT percentile("utilisation_ratio", {req.percentile:g}) AS "utilisation_ratio" FROM "snmp_if" '
            f'WHERE {where(PROVINCE, f"({kinds})", TIME)} GROUP BY "site", "link"')


def platform_response(config: ReadinessConfig) -> str:
    pct = config.platforms.response_percentile
    return (f'SELECT percentile("total_seconds", {pct:g}) AS "response_seconds", count("status_level") AS "probes" '
            f'FROM "http" WHERE {where(PROVINCE, TIME)} GROUP BY "site", "target"')


def platform_ok() -> str:
    ok = '"status_level" = 0'
    return (f'SELECT count("status_level") AS "ok" FROM "http" WHERE {where(PROVINCE, ok, TIME)} '
            'GROUP BY "site", "target"')


def reporting(config: ReadinessConfig) -> str:
    bucket = f"{round(config.reporting.bucket)}s"
    return (f'SELECT count("uptime_seconds") AS "heartbeats" FROM "agent" WHERE {where(PROVINCE, TIME)} '
            f'GROUP BY time({bucket}), "site" fill(0)')


def sites() -> str:
    return f'SHOW TAG VALUES FROM "agent" WITH KEY = "site" WHERE {PROVINCE}'
