"""The two datasources every netmon dashboard uses, with fixed uids, and their provisioning file.

Fixed uids survive being re-provisioned: whatever URL an installation uses, the uid stays
``netmon-influxdb`` / ``netmon-prometheus``. Panels do not name those uids, though: they name
the dashboard's datasource variables ``${ds_influxdb}`` / ``${ds_prometheus}``, whose current
value is the provisioned uid. So a dashboard provisioned with its datasources works as it is,
and the same JSON imported into an existing Grafana uses the InfluxDB and Prometheus chosen in
its pickers (Grafana falls back to the first datasource of the type when the uid is absent).
The provisioned datasources never take over the Grafana's default (``isDefault: false``).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders.dashboard import DatasourceVariable
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableOption

from netmon.config.central import InfluxConfig

INFLUX_UID = "netmon-influxdb"
INFLUX_TYPE = "influxdb"
PROMETHEUS_UID = "netmon-prometheus"
PROMETHEUS_TYPE = "prometheus"
MIN_INTERVAL_SECONDS = 10
# the dashboard variables panels take their datasource from (see above)
INFLUX_VARIABLE = "ds_influxdb"
PROMETHEUS_VARIABLE = "ds_prometheus"
INFLUX_REF_UID = "${" + INFLUX_VARIABLE + "}"
PROMETHEUS_REF_UID = "${" + PROMETHEUS_VARIABLE + "}"
# variable -> (datasource type, the provisioned uid it selects by default, its name, label)
DATASOURCE_VARIABLES = {
    INFLUX_VARIABLE: (INFLUX_TYPE, INFLUX_UID, "netmon InfluxDB", "InfluxDB"),
    PROMETHEUS_VARIABLE: (PROMETHEUS_TYPE, PROMETHEUS_UID, "netmon Prometheus", "Prometheus"),
}


def influx_ref() -> DataSourceRef:
    return DataSourceRef(type_val=INFLUX_TYPE, uid=INFLUX_REF_UID)


def prometheus_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_REF_UID)


def datasource_variable(name: str) -> DatasourceVariable:
    """The picker ``name`` (``ds_influxdb`` or ``ds_prometheus``), set to the provisioned datasource."""
    kind, uid, text, label = DATASOURCE_VARIABLES[name]
    return (DatasourceVariable(name).label(label).type(kind)
            .current(VariableOption(selected=True, text=text, value=uid)))


def resolved_uid(uid: str | None, board: dict[str, Any]) -> str | None:
    """The uid a panel's datasource reference stands for on ``board``, as Grafana resolves it:
    ``${ds_influxdb}`` is that variable's current value."""
    if uid is None or not (uid.startswith("${") and uid.endswith("}")):
        return uid
    name = uid[2:-1]
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("name") == name and variable.get("type") == "datasource":
            value = (variable.get("current") or {}).get("value")
            return value if isinstance(value, str) else None
    return None


def influx_datasource(influx: InfluxConfig) -> dict[str, Any]:
    """Grafana's InfluxDB datasource in InfluxQL mode, for InfluxDB 1.x or a 2.x/3.x bucket mapped by DBRP.

    Secrets are never copied into the file: Grafana reads them itself from the same files
    the collector uses (``$__file{...}`` in provisioning).
    """
    source: dict[str, Any] = {
        "name": "netmon InfluxDB", "uid": INFLUX_UID, "type": INFLUX_TYPE, "access": "proxy",
        # never the default: an existing Grafana keeps its own default datasource
        "url": influx.url, "isDefault": False, "editable": False,
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
            "url": url, "isDefault": False, "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "15s"}}


def provisioning(influx: InfluxConfig, prometheus_url: str) -> dict[str, Any]:
    """The content of ``provisioning/datasources/netmon.yaml``."""
    return {"apiVersion": 1, "datasources": [influx_datasource(influx), prometheus_datasource(prometheus_url)]}
