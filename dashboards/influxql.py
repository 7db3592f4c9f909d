"""An InfluxQL query for Grafana's InfluxDB datasource, as a grafana-foundation-sdk query type.

The SDK ships builders for the core datasources it generates from Grafana's schemas, but
not for InfluxDB; its documented extension point is a custom ``Dataquery`` variant with its
own builder ("Defining a custom query type" in the SDK docs). This is that, for raw
InfluxQL — the query language that works on InfluxDB 1.x, 2.x (through DBRP) and 3.x.

The JSON it produces is what Grafana's InfluxDB query editor saves in raw mode:
``{"refId", "datasource", "query", "rawQuery": true, "resultFormat", "alias"}``.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

from netmon.dashboards.datasources import INFLUX_TYPE, influx_ref

ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    def __init__(self, query: str = "", ref_id: str | None = None, hide: bool | None = None,
                 result_format: ResultFormat = "time_series", alias: str | None = None,
                 datasource: dashboard.DataSourceRef | None = None) -> None:
        self.query = query
        self.ref_id = ref_id
        self.hide = hide
        self.result_format = result_format
        self.alias = alias
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {"query": self.query, "rawQuery": True, "resultFormat": self.result_format}
        if self.ref_id is not None:
            payload["refId"] = self.ref_id
        if self.hide is not None:
            payload["hide"] = self.hide
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.datasource is not None:
            payload["datasource"] = self.datasource.to_json()
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        source = data.get("datasource")
        return cls(query=str(data.get("query", "")), ref_id=data.get("refId"), hide=data.get("hide"),
                   result_format=data.get("resultFormat", "time_series"), alias=data.get("alias"),
                   datasource=dashboard.DataSourceRef.from_json(source) if isinstance(source, dict) else None)


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """``InfluxQL('SELECT ...').ref_id('A').table()`` — a raw InfluxQL target on the netmon datasource."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query, datasource=influx_ref())

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def hide(self, hide: bool) -> Self:
        self._internal.hide = hide
        return self

    def table(self) -> Self:
        self._internal.result_format = "table"
        return self

    def alias(self, alias: str) -> Self:
        """Series name pattern: ``$tag_site``, ``$col``, ``$measurement``."""
        self._internal.alias = alias
        return self


# Lets the SDK read our own dashboards back (Dashboard.from_json) without losing the queries.
cogruntime.register_dataquery_variant(
    cogruntime.DataqueryConfig(identifier=INFLUX_TYPE, from_json_hook=InfluxQLQuery.from_json)
)
