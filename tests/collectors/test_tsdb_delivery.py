"""Accepted results reach the TSDB exactly once, with the tags and fields of docs/schema.md —
the same test against InfluxDB 1.x (/write) and VictoriaMetrics (v2 API, influxdb-client).
Then the outages: InfluxDB stopped while results arrive, and the collector killed with -9."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.collectors.journal_db import read_batches
from netmon.lab.collector import CollectorProcess, influx_settings, sample_batch
from netmon.lab.netns import wait_until
from netmon.lab.services import Server, start_influxdb, start_victoriametrics
from tests.collectors.conftest import make_collector
from tests.collectors.tsdb_readback import read_points, seed_influx

T0 = (time.time_ns() // 10**9 - 86400) * 10**9  # a day ago, whole seconds: inside limits.max_result_age


def start_backend(api: str, data_dir: Path, port: int | None = None) -> Server:
    return start_influxdb(data_dir, port=port) if api == "v1" else start_victoriametrics(data_dir, port=port)


@pytest.fixture(params=["v1", "v2"], ids=["influxdb-1.x-write", "victoriametrics-v2-api"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Server]]:
    server = start_backend(request.param, tmp_path / "tsdb")
    try:
        yield request.param, server
    finally:
        server.stop()


def mixed_batch(seq0: int) -> dict[str, Any]:
    """An snmp_if, a failed platform check and an agent heartbeat: other measurements, tags and fields."""
    common = {"site_id": "26734", "agent_id": "26734-agent"}
    results = [
        {**common, "seq": seq0, "probe": "snmp_if", "link": "tslcd", "link_kind": "data_network",
         "target": "router", "time_ns": T0 + 5_000_000_000, "status": "ok",
         "values": {"in_bps": 50e6, "out_bps": 20e6, "contracted_bps": 200e6, "utilisation_ratio": 0.25,
                    "sys_uptime_seconds": 1e16}, "info": {"if_name": "tslcd", "oper_status": "up"}},
        {**common, "seq": seq0 + 1, "probe": "http", "target": "dvc", "time_ns": T0 + 6_000_000_000,
         "status": "failed", "reason": 'connect timeout to "dvc", 5 s', "values": {"total_seconds": 5.0}},
        {**common, "seq": seq0 + 2, "probe": "agent", "target": "26734-agent", "time_ns": T0 + 7_000_000_000,
         "status": "ok", "values": {"outbox_queued_count": 0.0, "uptime_seconds": 3600.0}},
    ]
    return {**common, "results": results}


def metric(collector: CollectorProcess, name: str) -> float:
    """A metric of the collector's /metrics, summed over its labels (the TSDB ones are per target)."""
    text = collector.read("/metrics")[2].decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def drained(collector: CollectorProcess, total: int) -> bool:
    stats = collector.get_json("/api/v1/stats")["totals"]
    return bool(stats["accepted"] == total and stats["journal_pending_results"] == 0)


def wait_for_points(server: Server, api: str, measurement: str, site: str, count: int, timeout: float = 20) -> Any:
    result: list[Any] = []

    def enough() -> bool:
        if api == "v2":
            server.flush()  # VictoriaMetrics makes fresh samples searchable ~10 s later otherwise
        result[:] = [read_points(server, api, measurement, site)]
        return len(result[0][0]) >= count

    wait_until(enough, timeout, interval=0.2, what=f"{count} {measurement} points of site {site}")
    return result[0]


def test_every_record_is_in_the_tsdb_exactly_once_with_the_schema(backend: tuple[str, Server], tmp_path: Path
                                                                   ) -> None:
    api, server = backend
    with make_collector(tmp_path / "c", influx=influx_settings(server, api)) as collector:
        tokens = {s: collector.enrol(s) for s in ("26734", "26740")}
        first = sample_batch("26734", range(1, 151), time_ns=T0)
        assert collector.post_batch(tokens["26734"], first, gzipped=True)[1]["accepted"] == 150
        assert collector.post_batch(tokens["26734"], mixed_batch(151))[1]["accepted"] == 3
        # another site's agent may use the same seqs: identity is site + agent + seq
        assert collector.post_batch(tokens["26740"], sample_batch("26740", range(1, 101), time_ns=T0))[0] == 200
        assert collector.post_batch(tokens["26734"], first)[1] == {
            "accepted": 0, "duplicates": 150, "rejected": [], "acked_seqs": list(range(1, 151))}
        wait_until(lambda: drained(collector, 253), 20, what="the journal to drain")

        icmp, samples = wait_for_points(server, api, "icmp", "26734", 150)
        assert sorted(icmp) == list(range(1, 151)) and samples == 150
        other, samples = wait_for_points(server, api, "icmp", "26740", 100)
        assert sorted(other) == list(range(1, 101)) and samples == 100
        tags, fields = icmp[7]
        assert tags == {"province": "Đồng Nai", "district": "Biên Hòa", "site": "26734", "link": "leased",
                        "link_kind": "leased_line", "target": "isp-edge"}
        expected = {"rtt_avg_seconds": 0.017, "loss_ratio": 0.0, "sent_packets": 5.0, "received_packets": 5.0,
                    "status_level": 0, "seq": 7}
        assert {k: fields[k] for k in expected} == expected

        snmp, _ = wait_for_points(server, api, "snmp_if", "26734", 1)
        tags, fields = snmp[151]
        assert tags == {"province": "Đồng Nai", "district": "Biên Hòa", "site": "26734", "link": "tslcd",
                        "link_kind": "data_network", "target": "router"}
        assert fields["utilisation_ratio"] == 0.25 and fields["sys_uptime_seconds"] == 1e16
        http, _ = wait_for_points(server, api, "http", "26734", 1)
        tags, fields = http[152]
        assert tags == {"province": "Đồng Nai", "district": "Biên Hòa", "site": "26734", "target": "dvc"}
        assert (fields["status_level"], fields["total_seconds"]) == (2, 5.0)
        agent, _ = wait_for_points(server, api, "agent", "26734", 1)
        assert agent[153][1]["uptime_seconds"] == 3600.0
        if api == "v1":  # VictoriaMetrics keeps numeric fields only
            assert (fields["status"], fields["reason"]) == ("failed", 'connect timeout to "dvc", 5 s')
            assert (snmp[151][1]["if_name"], snmp[151][1]["oper_status"], snmp[151][1]["status"]) == (
                "tslcd", "up", "ok")
        assert metric(collector, "netmon_collector_tsdb_points_written_total") == 253
        # the writes are counted above; one INFO line per TSDB request would flood the journal
        assert "HTTP Request:" not in collector.proc.log(), collector.proc.log()[-2000:]


def test_results_accepted_while_influxdb_is_down_are_written_when_it_returns(tmp_path: Path) -> None:
    server = start_influxdb(tmp_path / "influx")
    try:
        with make_collector(tmp_path / "c", influx=influx_settings(server, "v1")) as collector:
            token = collector.enrol("26734")
            assert collector.post_batch(token, sample_batch("26734", range(1, 51), time_ns=T0))[0] == 200
            wait_until(lambda: drained(collector, 50), 20, what="the first batch to reach InfluxDB")
            server.stop()
            for start in (51, 151):
                assert collector.post_batch(token, sample_batch("26734", range(start, start + 100), time_ns=T0),
                                            gzipped=True)[1]["accepted"] == 100
            wait_until(lambda: not collector.get_json("/api/v1/stats")["totals"]["tsdb_up"], 10,
                       what="the collector to notice InfluxDB is down")
            totals = collector.get_json("/api/v1/stats")["totals"]
            assert totals["journal_pending_results"] == 200 and totals["tsdb_write_lag_seconds"] > 0
            server = start_influxdb(tmp_path / "influx", port=server.port)  # same data dir
            wait_until(lambda: drained(collector, 250), 40, what="the journal to drain after the outage")
            points, samples = wait_for_points(server, "v1", "icmp", "26734", 250)
            assert sorted(points) == list(range(1, 251)) and samples == 250
            assert metric(collector, "netmon_collector_tsdb_points_written_total") == 250
    finally:
        server.stop()


def journal_seqs(state_dir: Path) -> list[int]:
    """The seq of every result the journal holds (one agent here), read from the file itself."""
    conn = sqlite3.connect(f"file:{state_dir / 'journal.db'}?mode=ro", uri=True)
    try:
        ids = [row[0] for row in conn.execute("SELECT id FROM batches")]
        return sorted(int(r["seq"]) for batch in read_batches(conn, ids).values() for r in batch.records)
    finally:
        conn.close()


def test_kill_9_after_200_loses_nothing_and_a_resend_is_all_duplicates(tmp_path: Path) -> None:
    server = start_victoriametrics(tmp_path / "vm")
    try:
        collector = make_collector(tmp_path / "c", influx=influx_settings(server, "v2"))
        token = collector.enrol("26734")
        server.stop()  # nothing can leave the journal before the kill
        batches = [sample_batch("26734", range(1 + 50 * i, 51 + 50 * i), time_ns=T0) for i in range(200)]
        acked: list[int] = []
        lock = threading.Lock()

        def sender(mine: list[dict[str, Any]]) -> None:
            for batch in mine:
                try:
                    status, body = collector.post_batch(token, batch)
                except OSError:
                    return
                if status == 200:
                    with lock:
                        acked.extend(body["acked_seqs"])

        assert collector.post_batch(token, batches[0])[0] == 200
        acked.extend(r["seq"] for r in batches[0]["results"])
        threads = [threading.Thread(target=sender, args=(batches[1 + i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(acked) >= 1000, 20, interval=0.002, what="some batches to be acknowledged")
        collector.kill()
        for thread in threads:
            thread.join(20)
        print(f"acknowledged before the kill: {len(set(acked))} of 10000")
        assert set(acked) <= set(journal_seqs(collector.state_dir)), "a 200 was answered before the commit"

        server = start_victoriametrics(tmp_path / "vm", port=server.port)
        collector.restart()
        accepted = duplicates = 0
        for batch in batches:
            status, body = collector.post_batch(token, batch)
            assert status == 200
            accepted += body["accepted"]
            duplicates += body["duplicates"]
            if set(body["acked_seqs"]) <= set(acked):
                assert body["accepted"] == 0
        assert duplicates >= len(set(acked)) and accepted + duplicates == 10_000
        wait_until(lambda: drained(collector, 10_000), 30, what="the journal to drain after the restart")
        points, samples = wait_for_points(server, "v2", "icmp", "26734", 10_000, timeout=30)
        assert sorted(points) == list(range(1, 10_001)) and samples == 10_000
        collector.stop()
    finally:
        server.stop()


def test_points_influxdb_refuses_are_counted_and_do_not_block_the_rest(tmp_path: Path) -> None:
    server = start_influxdb(tmp_path / "influx")
    try:
        # someone wrote rtt_avg_seconds as a string into the same shard: our float points conflict
        seed_influx(server, f'icmp,site=x rtt_avg_seconds="fast" {T0}')
        with make_collector(tmp_path / "c", influx=influx_settings(server, "v1")) as collector:
            token = collector.enrol("26734")
            assert collector.post_batch(token, sample_batch("26734", range(1, 11), time_ns=T0))[0] == 200
            wait_until(lambda: drained(collector, 10), 20, what="the refused batch to leave the journal")
            assert collector.post_batch(token, mixed_batch(11))[0] == 200
            wait_until(lambda: drained(collector, 13), 20, what="the next batch to be written")
            assert metric(collector, "netmon_collector_tsdb_points_rejected_total") == 10
            assert metric(collector, "netmon_collector_tsdb_points_written_total") == 3
            assert metric(collector, "netmon_collector_tsdb_up") == 1
            # each refused point isolated (writes split in halves) and kept in the journal, counted per site
            assert metric(collector, "netmon_collector_tsdb_points_set_aside") == 10
            assert collector.get_json("/api/v1/sites/26734")["tsdb_points_set_aside"] == 10
            assert "field type conflict" in collector.proc.log()
            snmp, _ = wait_for_points(server, "v1", "snmp_if", "26734", 1)
            assert list(snmp) == [11]
    finally:
        server.stop()
