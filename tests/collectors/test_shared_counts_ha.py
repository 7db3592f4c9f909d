"""Two real collectors (``netmon collector serve``) on one real PostgreSQL and one real InfluxDB.

An agent-like client sends a batch to the first, gets no answer (as when that collector dies
mid-request) and resends it to the second, as ``collector.urls`` failover does; later batches go
back and forth. ``/api/v1/stats`` on either collector counts each distinct result once and every
resend once as a duplicate; InfluxDB holds each point once. PostgreSQL stopped: ingest goes on
(200), the stats answer 503 saying why; PostgreSQL back: the queued counts arrive, exact again.
A collector killed (-9) right after a commit pushes its queue when it restarts: still exact.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netmon.lab.collector import (
    CollectorProcess,
    enrol,
    influx_settings,
    lab_site,
    sample_batch,
    start_collector,
    write_central,
    write_registry,
)
from netmon.lab.netns import wait_until
from netmon.lab.postgres import PostgresServer, start_postgres
from netmon.lab.services import Server, start_influxdb
from tests.collectors.test_tsdb_targets import seqs
from tests.conftest import netmon_env

ROAMING, STAYING = "26734", "26740"  # an agent failing over between the two / one that stays at the second
T0 = (time.time_ns() // 10**9 - 3600) * 10**9  # fixed: a resent batch is the same points


@pytest.fixture
def province(tmp_path: Path) -> Iterator[tuple[PostgresServer, Server, list[Path], dict[str, str]]]:
    """A PostgreSQL of its own (the test stops it), InfluxDB, two collectors' configs, the tokens."""
    server = start_postgres()
    influx = start_influxdb(tmp_path / "influx")
    try:
        (tmp_path / "state.dsn").write_text(server.create_database() + "\n")
        registry = write_registry(tmp_path / "sites.yaml", [lab_site(s) for s in (ROAMING, STAYING)])
        configs = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            configs.append(write_central(
                tmp_path / name, registry, influx=influx_settings(influx, "v1"),
                state={"postgres": {"dsn_file": str(tmp_path / "state.dsn")}, "instance": f"col-{name}"}))
        tokens = {site: enrol(configs[0], site, env=netmon_env()) for site in (ROAMING, STAYING)}
        yield server, influx, configs, tokens
    finally:
        influx.stop()
        server.close()


def send(collector: CollectorProcess, token: str, site: str, batch_seqs: range) -> dict[str, Any]:
    status, answer = collector.post_batch(token, sample_batch(site, batch_seqs, time_ns=T0))
    assert status == 200, answer
    return dict(answer)


def counts(collector: CollectorProcess) -> dict[str, tuple[int, int]] | None:
    """Accepted and duplicate per site and in all; None while the stats answer 503."""
    status, _, body = collector.read("/api/v1/stats")
    if status == 503:
        return None
    assert status == 200, body
    stats = json.loads(body)
    figures = {s["site_id"]: (s["accepted"], s["duplicate"]) for s in stats["sites"]}
    figures["totals"] = (stats["totals"]["accepted"], stats["totals"]["duplicate"])
    return figures


def shared_state_up(collector: CollectorProcess) -> float:
    text = collector.read("/metrics")[2].decode()
    return next(s.value for f in text_string_to_metric_families(text)
                if f.name == "netmon_collector_shared_state_up" for s in f.samples)


def test_a_failover_resend_counts_once_on_either_collector_and_is_one_point_in_influxdb(
        province: tuple[PostgresServer, Server, list[Path], dict[str, str]]) -> None:
    server, influx, configs, tokens = province
    first = start_collector(configs[0], env=netmon_env())
    second = start_collector(configs[1], env=netmon_env())
    try:
        send(first, tokens[ROAMING], ROAMING, range(1, 14))
        send(first, tokens[ROAMING], ROAMING, range(14, 27))  # stored, but the answer never reached the agent
        assert send(second, tokens[ROAMING], ROAMING, range(14, 27))["accepted"] == 13  # the resend: new here
        send(second, tokens[ROAMING], ROAMING, range(27, 40))
        send(first, tokens[ROAMING], ROAMING, range(27, 40))  # back at the first, the same batch once more
        send(second, tokens[STAYING], STAYING, range(1, 14))
        assert send(second, tokens[STAYING], STAYING, range(1, 14))["duplicates"] == 13  # a plain retry
        # 39 + 13 distinct results; 13 + 13 resent across collectors, 13 retried at one
        exact = {ROAMING: (39, 26), STAYING: (13, 13), "totals": (52, 39)}
        wait_until(lambda: counts(first) == exact and counts(second) == exact, 10,
                   what="both collectors' stats counting every result once")
        wait_until(lambda: seqs(influx, "v1", ROAMING) == list(range(1, 40)) and
                   seqs(influx, "v1", STAYING) == list(range(1, 14)), 10, what="every point once in InfluxDB")

        server.stop()  # PostgreSQL down: ingest goes on, the shared counts cannot be read
        send(first, tokens[ROAMING], ROAMING, range(40, 53))
        status, headers, body = first.read("/api/v1/stats")
        assert status == 503 and {k.lower(): v for k, v in headers.items()}.get("retry-after") == "5", body
        assert b"state store unavailable: ingest counts" in body and b"PostgreSQL 127.0.0.1" in body
        wait_until(lambda: shared_state_up(first) == 0.0, 10, what="the pusher noticing PostgreSQL is gone")
        send(second, tokens[ROAMING], ROAMING, range(40, 53))  # resent to the second meanwhile

        server.start()
        exact = {ROAMING: (52, 39), STAYING: (13, 13), "totals": (65, 52)}
        wait_until(lambda: shared_state_up(first) == 1.0, 15, what="the pusher reconnecting")
        wait_until(lambda: counts(first) == exact and counts(second) == exact, 15,
                   what="the counts queued during the outage arriving, each result once")
        wait_until(lambda: seqs(influx, "v1", ROAMING) == list(range(1, 53)), 10, what="every point once")

        send(first, tokens[ROAMING], ROAMING, range(53, 66))
        first.kill()  # kill -9 right after committing: its outbox is most likely not pushed yet
        send(second, tokens[ROAMING], ROAMING, range(53, 66))  # the agent's resend, at the survivor
        with contextlib.closing(sqlite3.connect(first.state_dir / "journal.db")) as journal:
            queued = journal.execute("SELECT count(*) FROM ingest_outbox").fetchone()[0]
        print(f"outbox rows left by the killed collector: {queued}")
        first.restart()  # its journal pushes what it queued; the shared marks have it already
        exact = {ROAMING: (65, 52), STAYING: (13, 13), "totals": (78, 65)}
        wait_until(lambda: counts(first) == exact and counts(second) == exact, 15,
                   what="the killed collector's queued counts arriving after its restart, each result once")
        wait_until(lambda: seqs(influx, "v1", ROAMING) == list(range(1, 66)), 10, what="every point once")
    finally:
        first.stop()
        second.stop()
