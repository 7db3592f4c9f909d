"""A small InfluxQL reader: ``/query`` on InfluxDB 1.x, or 2.x/3.x through their v1-compatible
endpoint (DBRP mapping, token auth) — the same endpoint Grafana's InfluxQL datasource uses.

influxdb-client (used by the collector to write) speaks Flux for queries, which InfluxDB 3
dropped; InfluxQL over plain HTTP is what every version answers, so reads go through httpx.
HTTP and transport failures become ``TSDBUnavailable``; a query InfluxDB refuses becomes
``StorageError`` with InfluxDB's message.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx

from netmon.config.central import InfluxConfig
from netmon.errors import StorageError, TSDBUnavailable


@dataclasses.dataclass(frozen=True)
class QuerySeries:
    """One series of an InfluxQL answer (not alerting's per-series alert state, ``alerting.series``)."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.values]


def _read_secret(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StorageError(f"cannot read InfluxDB secret file {path}: {exc.strerror}") from None


class InfluxQLClient:
    def __init__(self, config: InfluxConfig, *, timeout_seconds: float | None = None) -> None:
        self.database = config.database if config.api == "v1" else config.bucket
        params: dict[str, str] = {"db": self.database or "", "epoch": "ms"}
        headers: dict[str, str] = {}
        if config.api == "v1":
            if config.username:
                params["u"] = config.username
                params["p"] = _read_secret(config.password_file) or ""
            if config.retention_policy:
                params["rp"] = config.retention_policy
        else:
            token = _read_secret(config.token_file)
            if token:
                headers["Authorization"] = f"Token {token}"
        self._params = params
        self._client = httpx.Client(base_url=config.url.rstrip("/"), headers=headers,
                                    timeout=timeout_seconds or config.timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InfluxQLClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def query(self, statement: str) -> list[QuerySeries]:
        """Run one InfluxQL statement; its series (empty when nothing matched)."""
        try:
            response = self._client.post("/query", data={**self._params, "q": statement})
        except httpx.HTTPError as exc:
            raise TSDBUnavailable(f"InfluxDB at {self._client.base_url} did not answer: {exc}") from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500:
            raise TSDBUnavailable(f"InfluxDB answered {response.status_code}: {body.get('error', response.text[:200])}")
        if response.status_code >= 400:
            raise StorageError(f"InfluxDB refused the query ({response.status_code}): "
                               f"{body.get('error', response.text[:200])}")
        results = body.get("results") or [{}]
        result = results[0]
        if "error" in result:
            raise StorageError(f"InfluxDB query failed: {result['error']} — query: {statement}")
        return [QuerySeries(name=s.get("name", ""), tags=dict(s.get("tags") or {}), columns=list(s["columns"]),
                       values=[list(v) for v in s.get("values", [])])
                for s in result.get("series", [])]

    def command(self, statement: str) -> None:
        """A statement with no result worth reading (CREATE DATABASE in tests and the demo)."""
        self.query(statement)
