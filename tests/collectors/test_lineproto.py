"""The line protocol the TSDB writer sends, exactly (docs/schema.md)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from netmon.collectors.lineproto import line
from netmon.contract import ResultRecord
from netmon.lab.services import start_influxdb, start_victoriametrics
from tests.collectors.tsdb_readback import read_points

T0 = 1_750_000_000_000_000_000  # 2025-06-15, inside any retention


def as_journal(record: ResultRecord) -> dict[str, object]:
    return json.loads(record.model_dump_json())  # type: ignore[no-any-return]


def test_tags_fields_and_escaping() -> None:
    record = ResultRecord(site_id="26734", agent_id="a-1", seq=42, probe="snmp_if", link="leased",
                          link_kind="leased_line", target="router", time_ns=1_750_000_000_123_456_789,
                          status="degraded", reason='errors on "eth1"\nsince boot', values={"in_bps": 1e9, "oper_up": 1},
                          info={"if_name": "eth1"})
    # the contract refuses reserved info keys; a record journalled before it did is still written harmlessly
    journalled = as_journal(record)
    journalled["info"] = {"if_name": "eth1", "seq": "x", "site": "26740", "rtt_avg_seconds": "0"}
    assert line(journalled, "Bà Rịa, Vũng Tàu", "Thành phố=Vũng Tàu", 42, record.time_ns) == (
        r"snmp_if,district=Thành\ phố\=Vũng\ Tàu,link=leased,link_kind=leased_line,province=Bà\ Rịa\,\ Vũng\ Tàu,"
        r"site=26734,target=router "
        r'in_bps=1000000000.0,oper_up=1.0,status="degraded",status_level=1i,seq=42i,'
        r'reason="errors on \"eth1\" since boot",if_name="eth1",info_seq="x",info_site="26740",'
        r'info_rtt_avg_seconds="0" 1750000000123456789')


def test_a_platform_probe_has_no_link_tags_and_no_district_when_unset() -> None:
    record = ResultRecord(site_id="26734", agent_id="a-1", seq=1, probe="http", target="dvc", time_ns=5,
                          status="ok", values={"total_seconds": 0.25})
    assert line(as_journal(record), "Đồng Nai", None, 1, 5) == (
        'http,province=Đồng\\ Nai,site=26734,target=dvc total_seconds=0.25,status="ok",status_level=0i,seq=1i 5')


# (district as the registry has it, as every store reads it back)
BACKSLASHES = [("Biên Hòa\\", "Biên Hòa/"), ("Long\\, Thành", "Long/, Thành"), ("C:\\x", "C:\\x"),
               ("a\\\\b", "a/\\b"), ("Xã = Phường", "Xã = Phường")]


def test_a_backslash_in_a_tag_value_never_escapes_the_separator() -> None:
    record = ResultRecord(site_id="26734", agent_id="a-1", seq=1, probe="http", target="dvc", time_ns=5,
                          status="ok", values={"total_seconds": 0.25})
    assert line(as_journal(record), "Đồng Nai", "Biên Hòa\\", 1, 5) == (
        'http,district=Biên\\ Hòa/,province=Đồng\\ Nai,site=26734,target=dvc '
        'total_seconds=0.25,status="ok",status_level=0i,seq=1i 5')


@pytest.mark.parametrize("api", ["v1", "v2"], ids=["influxdb-1.x", "victoriametrics"])
def test_stores_read_back_every_tag_of_a_backslashed_name_the_same(api: str, tmp_path: Path) -> None:
    """InfluxDB 1.x refused a line whose tag value ended in a backslash; VictoriaMetrics took the
    backslash as escaping the comma and swallowed the next tag into the district."""
    server = start_influxdb(tmp_path / "tsdb") if api == "v1" else start_victoriametrics(tmp_path / "tsdb")
    try:
        lines = []
        for seq, (district, _) in enumerate(BACKSLASHES, start=1):
            record = ResultRecord(site_id=f"2673{seq}", agent_id="a-1", seq=seq, probe="http", target="dvc",
                                  time_ns=T0 + seq, status="ok", values={"total_seconds": 0.25})
            lines.append(line(as_journal(record), "Đồng Nai", district, seq, T0 + seq))
        body = ("\n".join(lines) + "\n").encode()
        if api == "v1":
            urllib.request.urlopen(f"{server.url}/query?q=CREATE%20DATABASE%20netmon", data=b"", timeout=10).close()
        with urllib.request.urlopen(f"{server.url}/write?db=netmon", data=body, timeout=10) as response:
            assert response.status == 204
        if api == "v2":
            server.flush()
        for seq, (_, stored) in enumerate(BACKSLASHES, start=1):
            points, _ = read_points(server, api, "http", f"2673{seq}")
            if api == "v2":  # VictoriaMetrics adds the database as a label
                points = {s: ({k: v for k, v in t.items() if k != "db"}, f) for s, (t, f) in points.items()}
            assert {s: t for s, (t, _) in points.items()} == {
                seq: {"district": stored, "province": "Đồng Nai", "site": f"2673{seq}", "target": "dvc"}}
    finally:
        server.stop()
