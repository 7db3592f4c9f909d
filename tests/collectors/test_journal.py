"""The journal on a real SQLite file: marks and counters survive a restart; retention prunes what
is already in the TSDB, never what is still pending, and keeps what the live state points at."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from netmon.collectors.journal import Journal
from netmon.collectors.journal_db import read_pending
from netmon.collectors.schema import JOURNAL_STEPS
from netmon.contract import BATCH_ADAPTER, ResultBatch
from netmon.lab.collector import sample_batch


def parsed(batch: dict[str, Any]) -> tuple[ResultBatch, bytes, bool]:
    body = json.dumps(batch).encode()
    return BATCH_ADAPTER.validate_json(body), body, False


async def test_marks_and_counters_survive_a_journal_restart(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    try:
        first = await journal.commit(*parsed(sample_batch("26734", [1, 2, 3, 7])), "P", None)
        assert (len(first.accepted), first.duplicates) == (4, 0)
    finally:
        journal.close()
    journal = Journal(tmp_path)
    try:
        again = await journal.commit(*parsed(sample_batch("26734", range(1, 9))), "P", None)
        assert [r.seq for r in again.accepted] == [4, 5, 6, 8] and again.duplicates == 4
        assert again.acked_seqs == list(range(1, 9))
        assert (journal.counters["26734"].accepted, journal.counters["26734"].duplicate) == (8, 4)
    finally:
        journal.close()


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path / "journal.db")
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_retention_prunes_written_results_and_keeps_pending_and_latest(tmp_path: Path) -> None:
    journal = Journal(tmp_path, to_tsdb=True, retention_seconds=0.001)
    try:
        for start, target in ((1, "dns-a"), (11, "isp-edge"), (21, "isp-edge")):
            await journal.commit(*parsed(sample_batch("26734", range(start, start + 10), target=target)), "P", None)
        assert (count(tmp_path, "batches"), journal.pending) == (3, 30)
        await asyncio.sleep(0.01)
        assert await journal.maintain() == 0  # nothing reached the TSDB yet: nothing may go
        await journal.mark_written([1, 2], 20)  # the first two batches are in the TSDB
        # batch 1 holds the newest dns-a result (the live state's): kept; batch 2 is not needed
        assert await journal.maintain() == 10
        assert (count(tmp_path, "batches"), journal.pending) == (2, 10)
        latest = journal.latest_records()
        assert [(record["target"], record["seq"]) for _, _, record in latest] == [("dns-a", 10), ("isp-edge", 30)]
        again = await journal.commit(*parsed(sample_batch("26734", range(1, 31))), "P", None)
        assert again.duplicates == 30  # pruning the journal never forgets the dedupe marks
    finally:
        journal.close()


async def test_the_tsdb_reads_only_accepted_results_with_the_timestamps_they_were_accepted_with(tmp_path: Path
                                                                                                ) -> None:
    journal = Journal(tmp_path, to_tsdb=True)
    try:
        await journal.commit(*parsed(sample_batch("26734", [1, 2, 3], time_ns=1000)), "P", None)
        overlap = sample_batch("26734", [2, 3, 4, 5], time_ns=1000)
        del overlap["results"][3]["time_ns"]  # the agent left it out: the collector's clock fills it in
        outcome = await journal.commit(*parsed(overlap), "P", "D")
        assert ([r.seq for r in outcome.accepted], outcome.duplicates) == ([4, 5], 2)
        defaulted = outcome.accepted[1].time_ns
        assert defaulted > 10**18
        conn = journal.reader()
        try:
            batches = read_pending(conn, "tsdb", 100)
        finally:
            conn.close()
        assert [(b.id, b.district, [(r["seq"], r["time_ns"]) for r in b.records]) for b in batches] == [
            (1, None, [(1, 1000 + 10**9), (2, 1000 + 2 * 10**9), (3, 1000 + 3 * 10**9)]),
            (2, "D", [(4, 1000 + 4 * 10**9), (5, defaulted)])]
        assert journal.pending == 5
    finally:
        journal.close()


async def test_an_agent_inventing_targets_cannot_grow_the_live_state_without_bound(tmp_path: Path) -> None:
    from netmon.collectors.live import MAX_SERIES_PER_SITE, LiveState

    journal = Journal(tmp_path)
    live = LiveState()
    try:
        for start in range(0, 2 * MAX_SERIES_PER_SITE, 100):
            batch = sample_batch("26734", range(start + 1, start + 101))
            for record in batch["results"]:
                record["target"] = f"t{record['seq']}"
            outcome = await journal.commit(*parsed(batch), "P", None)
            live.apply("26734", outcome.accepted, time.time_ns())
        assert len(live.sites["26734"].results) == MAX_SERIES_PER_SITE
        assert min(int(k[2][1:]) for k in live.sites["26734"].results) == MAX_SERIES_PER_SITE + 1  # the newest kept
        assert count(tmp_path, "latest") == 2 * MAX_SERIES_PER_SITE
        await journal.maintain()
        assert count(tmp_path, "latest") == MAX_SERIES_PER_SITE
        assert sorted(r["seq"] for _, _, r in journal.latest_records())[0] == MAX_SERIES_PER_SITE + 1
    finally:
        journal.close()


async def test_the_same_agent_id_under_two_sites_is_two_sequence_spaces(tmp_path: Path) -> None:
    """A site can no longer mark another's seqs seen by naming its agent (the token's site is in the key)."""
    journal = Journal(tmp_path)
    try:
        hostile = sample_batch("26740", range(1, 1001), agent_id="26734-agent")
        assert len((await journal.commit(*parsed(hostile), "P", None)).accepted) == 1000
        genuine = await journal.commit(*parsed(sample_batch("26734", range(1, 101))), "P", None)
        assert (len(genuine.accepted), genuine.duplicates) == (100, 0)
    finally:
        journal.close()


OLD_JOURNAL = """
CREATE TABLE batches (id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, agent_id TEXT NOT NULL,
    accepted_ns INTEGER NOT NULL, province TEXT NOT NULL, district TEXT, results INTEGER NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, min_time_ns INTEGER NOT NULL, accepted_idx BLOB,
    gzipped INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE dedupe_marks (agent_id TEXT NOT NULL, start_seq INTEGER NOT NULL, end_seq INTEGER NOT NULL,
    since_ns INTEGER NOT NULL, PRIMARY KEY (agent_id, start_seq)) WITHOUT ROWID;
INSERT INTO batches VALUES (1, '26734', 'box-7', 1, 'P', NULL, 1, 1, 50, 1, NULL, 0, '{"results": []}');
INSERT INTO dedupe_marks VALUES ('box-7', 1, 50, 1), ('26740-agent', 1, 20, 1), ('lost', 1, 5, 1);
"""


async def test_a_journal_of_the_release_before_keeps_its_marks_under_their_sites(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "journal.db")
    conn.executescript(OLD_JOURNAL)
    conn.close()
    journal = Journal(tmp_path)
    try:
        # box-7 sent for 26734 (its batch says so); 26740-agent by its name; 'lost' names no site
        box = await journal.commit(*parsed(sample_batch("26734", range(45, 56), agent_id="box-7")), "P", None)
        assert (box.duplicates, [r.seq for r in box.accepted]) == (6, list(range(51, 56)))
        named = await journal.commit(*parsed(sample_batch("26740", range(19, 23))), "P", None)
        assert named.duplicates == 2
    finally:
        journal.close()
    conn = sqlite3.connect(tmp_path / "journal.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == JOURNAL_STEPS[-1][0]
        assert sorted(conn.execute("SELECT DISTINCT site_id, agent_id FROM dedupe_marks")) == [
            ("26734", "box-7"), ("26740", "26740-agent")]
    finally:
        conn.close()
