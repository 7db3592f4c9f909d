"""The two datasources every netmon dashboard uses, with fixed uids, and their provisioning file.

Fixed uids let dashboards refer to a datasource without a lookup and survive being
re-provisioned: whatever URL an installation uses, the uid stays ``netmon-influxdb`` /
``netmon-prometheus``.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models.dashboard import DataSourceRef

from netmon.config.central import InfluxConfig

INFLUX_UID = "netmon-influxdb"
INFLUX_TYPE = "influxdb"
PROMETHEUS_UID = "netmon-prometheus"
PROMETHEUS_TYPE = "prometheus"
MIN_INTERVAL_SECONDS = 10


def influx_ref() -> DataSourceRef:
    return DataSourceRef(type_val=INFLUX_TYPE, uid=INFLUX_UID)


def prometheus_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


def influx_datasource(influx: InfluxConfig) -> dict[str, Any]:
    """Grafana's InfluxDB datasource in InfluxQL mode, for InfluxDB 1.x or a 2.x/3.x bucket mapped by DBRP.

    Secrets are never copied into the file: Grafana reads them itself from the same files
    the collector uses (``$__file{...}`` in provisioning).
    """
    source: dict[str, Any] = {
        "name": "netmon InfluxDB", "uid": INFLUX_UID, "type": INFLUX_TYPE, "access": "proxy",
        "url": influx.url, "isDefault": True, "editable": False,
        # 10 s: the finest cadence an agent probes at; smaller GROUP BY buckets would only be empty.
        "jsonData": {"version": "InfluxQL", "httpMode": "POST", "dbName": influx.database or influx.bucket,
                     "timeInterval": f"{MIN_INTERVAL_SECONDS}s"},
    }
    if influx.api == "v1":
        if influx.username:
            source["user"] = influx.username
        if influx.password_file:
            source["secureJsonData"] = {"password": f"$__file{{{influx.password_file}}}"}
    elif influx.token_file:
        # InfluxDB 2.x/3.x answer InfluxQL on /query with a token in the Authorization header.
        source["jsonData"]["httpHeaderName1"] = "Authorization"
        source["secureJsonData"] = {"httpHeaderValue1": f"Token $__file{{{influx.token_file}}}"}
    return source


def prometheus_datasource(url: str) -> dict[str, Any]:
    return {"name": "netmon Prometheus", "uid": PROMETHEUS_UID, "type": PROMETHEUS_TYPE, "access": "proxy",
            "url": url, "editable": False, "jsonData": {"httpMethod": "POST", "timeInterval": "15s"}}


def provisioning(influx: InfluxConfig, prometheus_url: str) -> dict[str, Any]:
    """The content of ``provisioning/datasources/netmon.yaml``."""
    return {"apiVersion": 1, "datasources": [influx_datasource(influx), prometheus_datasource(prometheus_url)]}
