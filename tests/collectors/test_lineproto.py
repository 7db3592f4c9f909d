"""The line protocol the TSDB writer sends, exactly (docs/schema.md)."""

from __future__ import annotations

import json

from netmon.collectors.lineproto import line
from netmon.contract import ResultRecord


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
