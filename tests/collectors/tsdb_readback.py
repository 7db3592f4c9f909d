"""Read points back from either backend in one shape: {seq: (tags, fields)} per measurement and site."""

from __future__ import annotations

from typing import Any

from netmon.lab.services import Server
from netmon.lab.tsdbquery import influxql, vm_export

Points = dict[int, tuple[dict[str, str], dict[str, Any]]]
TAG_KEYS = {"province", "district", "site", "link", "link_kind", "target"}


def read_points(server: Server, api: str, measurement: str, site: str) -> tuple[Points, int]:
    """(points by seq, how many seq samples the store holds — more than len(points) means duplicates)."""
    if api == "v1":
        rows = influxql(server.url, "netmon", f"SELECT * FROM {measurement} WHERE site='{site}' GROUP BY *")
        points: Points = {}
        partial = 0
        for row in rows:
            tags = {k: v for k, v in row.items() if k in TAG_KEYS and v not in (None, "")}
            fields = {k: v for k, v in row.items() if k not in TAG_KEYS and k != "time" and v is not None}
            if "seq" not in fields:
                # read while InfluxDB was still writing the point's fields (seen once under load): not
                # a point yet; one that never gets its seq stays missing and fails the caller's check
                partial += 1
                continue
            points[int(fields["seq"])] = (tags, fields)
        return points, len(rows) - partial
    series = vm_export(server.url, f'{{__name__=~"{measurement}_.+", site="{site}"}}')
    by_time: dict[tuple[tuple[str, str], ...], dict[int, dict[str, Any]]] = {}
    samples = 0
    for one in series:
        labels = dict(one["metric"])
        field = labels.pop("__name__")[len(measurement) + 1:]
        key = tuple(sorted(labels.items()))
        for ts, value in zip(one["timestamps"], one["values"], strict=True):
            by_time.setdefault(key, {}).setdefault(ts, {})[field] = value
        if field == "seq":
            samples += len(one["values"])
    points = {}
    for key, moments in by_time.items():
        for fields in moments.values():
            points[int(fields["seq"])] = (dict(key), fields)
    return points, samples


def seed_influx(server: Server, line: str, database: str = "netmon") -> None:
    """CREATE DATABASE, then write ``line`` — retried while influxd still answers the fresh database 404
    (its meta store lags the CREATE under load)."""
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"q": f'CREATE DATABASE "{database}"'})
    urllib.request.urlopen(urllib.request.Request(f"{server.url}/query?{query}", b""), timeout=10)
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{server.url}/write?db={database}&precision=ns",
                                                          line.encode()), timeout=10)
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
