"""The storage servers the fixtures start are real, answer their write APIs, and stop cleanly."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

from netmon.lab.services import start_influxdb, start_victoriametrics


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_influxdb_1x_accepts_line_protocol_and_answers_influxql(tmp_path: Path) -> None:
    server = start_influxdb(tmp_path / "influx")
    try:
        post(f"{server.url}/query?q=" + urllib.parse.quote("CREATE DATABASE netmon"), b"")
        assert post(f"{server.url}/write?db=netmon&precision=ns", b"icmp,site=26734 rtt_avg_seconds=0.012 1700000000000000000") == 204
        q = urllib.parse.quote("SELECT rtt_avg_seconds FROM icmp WHERE site='26734'")
        with urllib.request.urlopen(f"{server.url}/query?db=netmon&q={q}", timeout=5) as response:
            series = json.load(response)["results"][0]["series"][0]
        assert series["values"] == [["2023-11-14T22:13:20Z", 0.012]]
    finally:
        server.stop()
    assert not server.proc.alive()


def test_victoriametrics_accepts_the_v2_write_api(tmp_path: Path) -> None:
    server = start_victoriametrics(tmp_path / "vm")
    try:
        now_ns = time.time_ns()
        assert post(f"{server.url}/api/v2/write?org=noc&bucket=netmon&precision=ns",
                    f"icmp,site=26734 rtt_avg_seconds=0.012 {now_ns}".encode()) == 204
        q = urllib.parse.quote('{site="26734"}')
        rows: list[dict[str, object]] = []
        deadline = time.monotonic() + 10
        while not rows and time.monotonic() < deadline:
            server.flush()
            time.sleep(0.2)
            with urllib.request.urlopen(f"{server.url}/api/v1/export?match[]={q}", timeout=5) as response:
                rows = [json.loads(line) for line in response.read().decode().splitlines()]
        assert rows == [{"metric": {"__name__": "icmp_rtt_avg_seconds", "site": "26734"},
                         "values": [0.012], "timestamps": [now_ns // 1_000_000]}]
    finally:
        server.stop()
