"""Read back what the collector wrote: InfluxQL on InfluxDB 1.x, the export API on VictoriaMetrics."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any


def influxql(url: str, database: str, query: str) -> list[dict[str, Any]]:
    """Rows of every series the query returns, each a dict of column -> value plus the series' tags."""
    params = urllib.parse.urlencode({"db": database, "q": query, "epoch": "ns"})
    with urllib.request.urlopen(f"{url}/query?{params}", timeout=10) as response:
        payload = json.load(response)
    rows: list[dict[str, Any]] = []
    for result in payload.get("results", []):
        if "error" in result:
            raise RuntimeError(f"InfluxQL error: {result['error']}")
        for series in result.get("series", []):
            for values in series["values"]:
                rows.append({**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))})
    return rows


def vm_export(url: str, match: str) -> list[dict[str, Any]]:
    """VictoriaMetrics ``/api/v1/export``: one dict per series (metric labels, values, timestamps)."""
    params = urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(f"{url}/api/v1/export?{params}", timeout=10) as response:
        return [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]
