"""Several TSDB targets, and writes a store refuses: real InfluxDB 1.x and real VictoriaMetrics.

- two targets, each with its own cursor: VictoriaMetrics down, InfluxDB keeps receiving (and
  VictoriaMetrics catches up, every point once, when it returns);
- twenty 3.9 MB points in the journal (written there directly: the ingest limits refuse such
  records at the door): writes stay under ``batch_max_bytes``, InfluxDB takes them one per write,
  VictoriaMetrics refuses each (its line limit), they are set aside and counted, and every other
  site's data keeps flowing to both on time.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.collectors.journal_db import insert_batch, max_batch_id
from netmon.lab.collector import CollectorProcess, influx_settings, sample_batch
from netmon.lab.netns import wait_until
from netmon.lab.procstat import rss_mib
from netmon.lab.services import Server, start_influxdb, start_victoriametrics
from tests.collectors.conftest import make_collector
from tests.collectors.tsdb_readback import read_points, seed_influx

# an hour ago: the collector refuses results older than limits.max_result_age at the door
T0 = (time.time_ns() // 10**9 - 3600) * 10**9


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    influx = start_influxdb(tmp_path / "influx")
    vm = start_victoriametrics(tmp_path / "vm")
    try:
        yield influx, vm
    finally:
        influx.stop()
        vm.stop()


def targets(influx: Server, vm: Server) -> list[dict[str, Any]]:
    return [influx_settings(influx, "v1", name="influx"), influx_settings(vm, "v2", name="vm")]


def metrics(collector: CollectorProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = collector.read("/metrics")[2].decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def target_state(collector: CollectorProcess) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in collector.get_json("/api/v1/stats")["totals"]["tsdb_targets"]}


def seqs(server: Server, api: str, site: str, measurement: str = "icmp") -> list[int]:
    if api == "v2":
        server.flush()
    try:
        points, samples = read_points(server, api, measurement, site)
    except RuntimeError as exc:  # the collector creates the InfluxDB database with its first write
        if "database not found" in str(exc):
            return []
        raise
    assert samples == len(points), f"{site}: a point twice in {api}"
    return sorted(points)


def test_one_target_down_holds_back_no_other(tmp_path: Path, stores: tuple[Server, Server]) -> None:
    influx, vm = stores
    with make_collector(tmp_path / "c", influx=targets(influx, vm)) as collector:
        token = collector.enrol("26734")
        assert collector.post_batch(token, sample_batch("26734", range(1, 101), time_ns=T0))[0] == 200
        wait_until(lambda: seqs(influx, "v1", "26734") == list(range(1, 101)) and
                   seqs(vm, "v2", "26734") == list(range(1, 101)), 20, what="both targets to hold the first batch")
        vm.stop()  # (a graceful stop: kill -9 loses VictoriaMetrics' own unflushed samples, not ours to test)
        started = time.monotonic()
        for start in (101, 201):
            assert collector.post_batch(token, sample_batch("26734", range(start, start + 100), time_ns=T0),
                                        gzipped=True)[0] == 200
        wait_until(lambda: seqs(influx, "v1", "26734") == list(range(1, 301)), 10, interval=0.2,
                   what="InfluxDB receiving while VictoriaMetrics is down")
        print(f"InfluxDB held the new results {time.monotonic() - started:.1f} s after they were posted")
        wait_until(lambda: not target_state(collector)["vm"]["up"], 10, what="the vm target marked down")
        wait_until(lambda: target_state(collector)["influx"]["write_lag_seconds"] == 0.0, 5,
                   what="the influx target caught up (its cursor moved past the points it wrote)")
        state = target_state(collector)
        assert state["influx"]["up"] and state["vm"]["write_lag_seconds"] > 0
        totals = collector.get_json("/api/v1/stats")["totals"]
        assert totals["journal_pending_results"] == 200 and not totals["tsdb_up"]  # not yet in every target
        vm = start_victoriametrics(tmp_path / "vm", port=vm.port)
        try:
            wait_until(lambda: collector.get_json("/api/v1/stats")["totals"]["journal_pending_results"] == 0, 40,
                       what="the vm target to catch up")
            wait_until(lambda: seqs(vm, "v2", "26734") == list(range(1, 301)), 15, interval=0.5,
                       what="every point in VictoriaMetrics, once")
            assert seqs(influx, "v1", "26734") == list(range(1, 301))
            values = metrics(collector)
            assert values[("netmon_collector_tsdb_points_written_total", (("target", "influx"),))] == 300
            assert values[("netmon_collector_tsdb_points_written_total", (("target", "vm"),))] == 300
        finally:
            vm.stop()


def huge_batches(state_dir: Path, site: str, count: int, info_bytes: int) -> None:
    """Put ``count`` batches of one heartbeat each with a ``info_bytes`` info text straight into the journal,
    as a collector would have accepted them before ingest limits existed."""
    conn = sqlite3.connect(state_dir / "journal.db", isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        first = max_batch_id(conn) + 1
        for i in range(count):
            record = {"site_id": site, "agent_id": f"{site}-agent", "seq": 1 + i, "probe": "agent",
                      "target": f"{site}-agent", "time_ns": T0 + i * 10**9, "status": "ok",
                      "values": {"uptime_seconds": float(i)}, "info": {"note": chr(97 + i) * info_bytes}}
            body = gzip.compress(json.dumps({"results": [record]}).encode())
            insert_batch(conn, (first + i, site, f"{site}-agent", time.time_ns(), "Đồng Nai", "Biên Hòa", 1, 1 + i,
                                1 + i, record["time_ns"], None, 1, body), True)
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_huge_points_are_written_alone_or_set_aside_and_the_rest_keeps_flowing(
        tmp_path: Path, stores: tuple[Server, Server]) -> None:
    influx, vm = stores
    collector = make_collector(tmp_path / "c", influx=targets(influx, vm))
    try:
        tokens = {site: collector.enrol(site) for site in ("26734", "26740")}
        collector.stop()  # the journal's file is ours for a moment
        huge_batches(collector.state_dir, "26799", 20, int(3.9e6))  # 78 MB of info as one site's backlog
        collector.restart()
        posted = time.monotonic()
        for site, token in tokens.items():
            for start in range(1, 301, 50):
                assert collector.post_batch(token, sample_batch(site, range(start, start + 50)))[0] == 200
        wait_until(lambda: all(seqs(s, api, site) == list(range(1, 301)) for s, api in ((influx, "v1"), (vm, "v2"))
                               for site in tokens), 20, interval=0.5, what="the other sites' results in both stores")
        print(f"other sites' results in both stores {time.monotonic() - posted:.1f} s after posting")
        wait_until(lambda: collector.get_json("/api/v1/stats")["totals"]["journal_pending_results"] == 0, 60,
                   what="the huge batches to leave the journal")
        # InfluxDB 1.x takes a 3.9 MB string field; each was written alone (4 MiB per write at most)
        assert seqs(influx, "v1", "26799", "agent") == list(range(1, 21))
        # VictoriaMetrics refuses a line over 256 KiB: each one isolated, set aside, counted
        assert seqs(vm, "v2", "26799", "agent") == []
        state = target_state(collector)
        assert (state["influx"]["points_set_aside"], state["vm"]["points_set_aside"]) == (0, 20)
        values = metrics(collector)
        assert values[("netmon_site_tsdb_points_set_aside", (("site", "26799"), ("target", "vm")))] == 20
        assert values[("netmon_collector_tsdb_points_rejected_total", (("target", "vm"),))] == 20
        assert collector.get_json("/api/v1/sites/26799")["tsdb_points_set_aside"] == 20
        # kept in the journal with the store's reason
        conn = sqlite3.connect(f"file:{collector.state_dir / 'journal.db'}?mode=ro", uri=True)
        try:
            reasons = [r[0] for r in conn.execute("SELECT reason FROM tsdb_set_aside WHERE target = 'vm'")]
        finally:
            conn.close()
        assert len(reasons) == 20 and all("too long line" in r for r in reasons), reasons[:1]
        rss = rss_mib(collector.proc.pid)
        print(f"collector resident memory after the huge batches: {rss:.0f} MiB")
        assert rss < 400  # never 78 MB writes and their copies at once
        assert "Traceback" not in collector.proc.log()
    finally:
        collector.stop()


async def test_refusal_counts_are_read_from_the_stores_own_answers(stores: tuple[Server, Server]) -> None:
    from netmon.collectors.tsdb import InfluxV1Writer, InfluxV2Writer
    from netmon.config.central import InfluxConfig
    from netmon.errors import TSDBRejected

    influx, vm = stores

    # the field v exists as a string: our float points conflict with it
    await asyncio.to_thread(seed_influx, influx, f'm,site=x v="text" {T0}')
    v1 = InfluxV1Writer(InfluxConfig.model_validate(influx_settings(influx, "v1")))
    v2 = InfluxV2Writer(InfluxConfig.model_validate(influx_settings(vm, "v2")))
    cases = [  # (lines, refused as InfluxDB 1.x tells it)
        ([f"m,site=a v=1.0 {T0 + 1}", f"m,site=b v=2.0 {T0 + 2}", f"m,site=c w=3.0 {T0 + 3}"], 2),  # partial write
        (["not line protocol", f"m,site=c w=2.0 {T0 + 6}"], 1),  # a parse error only: "dropped=0" + 1
        # both at once: InfluxDB names the conflict only ("dropped=1"), the unparsable line is in no count;
        # only splitting the write finds both (test_tsdb_delivery: the refused points are isolated one by one)
        ([f"m,site=a v=1.0 {T0 + 4}", "not line protocol", f"m,site=c w=1.0 {T0 + 5}"], 1),
        ([f"m,site=a v=1.0 {T0 + 7}"], 1),  # one error, no "partial write": all that was sent
    ]
    try:
        for lines, refused in cases:
            with pytest.raises(TSDBRejected) as info:
                await v1.write(lines)
            assert info.value.dropped == refused, (lines, str(info.value))
        # VictoriaMetrics refuses the whole request for one line well over its 256 KiB limit
        with pytest.raises(TSDBRejected, match="too long line") as info:
            await v2.write([f"m,site=a v=1.0,note=\"{'x' * 1_000_000}\" {T0}", f"m,site=b v=1.0 {T0}"])
        assert info.value.dropped == 2
    finally:
        await v1.aclose()
        await v2.aclose()


def test_targets_config_single_mapping_still_valid_and_names_unique(tmp_path: Path) -> None:
    import yaml

    from netmon.config.central import load_central
    from netmon.errors import ConfigError

    (tmp_path / "sites.yaml").write_text("sites: []\n")
    one = {"url": "http://127.0.0.1:8086", "api": "v1", "database": "netmon"}

    def central(influx: Any) -> Path:
        path = tmp_path / "central.yaml"
        path.write_text(yaml.safe_dump({"registry": "sites.yaml", "influxdb": influx}))
        return path

    config = load_central(central(one))
    assert [t.target_name for t in config.tsdb_targets] == ["http://127.0.0.1:8086"]
    assert config.query_influx is not None and config.query_influx.database == "netmon"
    two = load_central(central([one, {**one, "url": "http://127.0.0.1:8087", "name": "second"}]))
    assert [t.target_name for t in two.tsdb_targets] == ["http://127.0.0.1:8086", "second"]
    with pytest.raises(ConfigError, match=r"two TSDB targets with the same name: http://127\.0\.0\.1:8086"):
        load_central(central([one, one]))
