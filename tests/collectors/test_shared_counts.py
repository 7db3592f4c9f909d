"""Per-site counts and de-duplication marks, on each backend (real SQLite journals, real PostgreSQL).

The same body runs against both: one collector's counts are exact. With PostgreSQL, several
journals (several collectors) push to one set of marks: a batch two of them accepted (a failover
resend) counts once; a push repeated after a crash between PostgreSQL's commit and the local
delete counts nothing; gaps one collector closed keep their meaning for the others; seqs far
ahead never make later results duplicates; the marks stay bounded; PostgreSQL down -> StorageError.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from netmon.collectors import outbox
from netmon.collectors.ingest_postgres import PostgresIngestStore
from netmon.collectors.journal import Journal
from netmon.collectors.outbox_push import SharedIngest
from netmon.collectors.site_counts import SiteCounts, open_counts
from netmon.contract import BATCH_ADAPTER
from netmon.errors import StorageError
from netmon.lab.collector import sample_batch
from netmon.lab.postgres import PostgresServer, start_postgres
from netmon.statedb import StateLocation

SITE = "26734"
Collector = tuple[Journal, SiteCounts]


@pytest.fixture(params=["sqlite", "postgres"])
def ingest_state(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    if request.param == "sqlite":
        return StateLocation(state_dir=tmp_path, instance="test")
    server: PostgresServer = request.getfixturevalue("postgres")
    return StateLocation(state_dir=tmp_path, instance="test", postgres_dsn=server.create_database())


@pytest.fixture
async def open_collector(tmp_path: Path) -> AsyncIterator[Callable[..., Collector]]:
    """Journal + counts as a collector wires them, in a state dir of its own per name."""
    opened: list[Collector] = []

    def make(location: StateLocation, name: str = "a", gap_close_after_seconds: float = 8 * 86400,
             max_gaps: int = 10_000) -> Collector:
        state_dir = tmp_path / name
        state_dir.mkdir(exist_ok=True)
        journal = Journal(state_dir, gap_close_after_seconds=gap_close_after_seconds, max_gaps_per_agent=max_gaps,
                          outbox=location.shared)
        counts = open_counts(StateLocation(state_dir, f"col-{name}", location.postgres_dsn), journal,
                             max_gaps_per_agent=max_gaps)
        opened.append((journal, counts))
        return journal, counts

    yield make
    for journal, counts in opened:
        await counts.aclose()
        journal.close()


async def commit(journal: Journal, seqs: Any, site: str = SITE, dropped_total: int = 0, step_ns: int = 10**9
                 ) -> tuple[int, int]:
    body = json.dumps(sample_batch(site, seqs, dropped_total=dropped_total, step_ns=step_ns)).encode()
    done = await journal.commit(BATCH_ADAPTER.validate_json(body), body, False, "Đồng Nai", None)
    return len(done.accepted), done.duplicates


async def settled(counts: SiteCounts) -> dict[str, tuple[int, int, int, int]]:
    """The counts once this collector's outbox is pushed (at once for the journal's own)."""
    if isinstance(counts, SharedIngest):
        await counts.flush()
    return {site: (c.accepted, c.duplicate, c.rejected, c.dropped_total)
            for site, c in (await counts.site_counters()).items()}


async def test_one_collectors_counts_are_exact(ingest_state: StateLocation,
                                               open_collector: Callable[..., Collector]) -> None:
    journal, counts = open_collector(ingest_state)
    assert await commit(journal, range(1, 6)) == (5, 0)
    assert await commit(journal, range(3, 9), dropped_total=4) == (3, 3)
    journal.note_rejected(SITE, 2)
    assert await commit(journal, [20, 8, 21], site="26740") == (3, 0)
    assert await settled(counts) == {SITE: (8, 3, 2, 4), "26740": (3, 0, 0, 0)}
    assert (await counts.site_counters())[SITE].last_seen_ns is not None


async def test_counts_survive_a_restart_and_a_resend_after_it_is_a_duplicate(
        ingest_state: StateLocation, open_collector: Callable[..., Collector]) -> None:
    journal, counts = open_collector(ingest_state)
    await commit(journal, range(1, 11), dropped_total=2)
    await settled(counts)
    await counts.aclose()
    journal.close()
    journal, counts = open_collector(ingest_state)
    assert await settled(counts) == {SITE: (10, 0, 0, 2)}
    assert await commit(journal, range(8, 14)) == (3, 3)
    assert await settled(counts) == {SITE: (13, 3, 0, 0)}


async def test_the_same_batch_accepted_by_two_collectors_counts_once(
        pg_dsn: str, open_collector: Callable[..., Collector]) -> None:
    location = StateLocation(Path("unused"), "test", pg_dsn)
    (a, counts_a), (b, counts_b) = open_collector(location, "a"), open_collector(location, "b")
    assert await commit(a, range(1, 14)) == (13, 0)  # stored by a, which died before answering
    assert await commit(b, range(1, 21)) == (20, 0)  # the agent resent it to b, with what came since
    assert await commit(a, range(15, 30)) == (15, 0)  # back at a: 15..20 again, 21..29 new
    await asyncio.gather(*(c.flush() for c in (counts_a, counts_b)))  # two pushers at the same time
    for counts in (counts_a, counts_b):  # exact on either: 29 results, 13 + 6 sent twice
        assert await settled(counts) == {SITE: (29, 19, 0, 0)}
    assert isinstance(counts_a, SharedIngest)
    assert counts_a.store.marks() == {(SITE, f"{SITE}-agent"): [(1, 29)]}
    assert (a.counters[SITE].accepted, b.counters[SITE].accepted) == (28, 20)  # each collector's own figure


async def test_a_push_repeated_after_a_crash_between_commit_and_delete_counts_nothing(
        pg_dsn: str, open_collector: Callable[..., Collector]) -> None:
    location = StateLocation(Path("unused"), "test", pg_dsn)
    journal, counts = open_collector(location)
    assert isinstance(counts, SharedIngest)
    await commit(journal, range(1, 11))
    journal.note_rejected(SITE, 1)
    await commit(journal, range(5, 16))
    rows = outbox.read(journal.reader(), 100)
    assert [r.kind for r in rows] == ["counted", "rejected", "counted"]
    first = counts.store.push(counts.journal_id, rows[:2], 1)  # PostgreSQL committed; the delete never ran
    assert (first.rows, first.new, first.replayed) == (2, 10, 0)
    await counts.flush()  # the restarted pusher reads all three rows again
    assert await settled(counts) == {SITE: (15, 6, 1, 0)}
    again = counts.store.push(counts.journal_id, rows, 2)  # and once more, everything
    assert (again.rows, again.new, again.replayed, again.last_id) == (0, 0, 3, rows[-1].id)
    assert await settled(counts) == {SITE: (15, 6, 1, 0)}
    assert outbox.backlog(journal.reader()) == 0


async def test_a_journal_restored_from_a_backup_loses_no_count(pg_dsn: str, tmp_path: Path,
                                                              open_collector: Callable[..., Collector],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """journal.db put back from last night's copy: the shared state has already taken outbox rows
    numbered beyond the copy's, so the rows it queues now must be numbered past those, or they
    would read as already pushed and their counts be lost."""
    location = StateLocation(Path("unused"), "test", pg_dsn)
    journal, counts = open_collector(location)
    await commit(journal, range(1, 11))
    await settled(counts)
    await counts.aclose()
    journal.close()
    backup = {f.name: f.read_bytes() for f in (tmp_path / "a").iterdir() if f.name.startswith("journal.db")}
    journal, counts = open_collector(location)
    await commit(journal, range(11, 21))
    journal.note_rejected(SITE, 1)
    assert await settled(counts) == {SITE: (20, 0, 1, 0)}
    await counts.aclose()
    journal.close()

    for f in (tmp_path / "a").iterdir():  # the disk is lost; last night's copy goes back
        if f.name.startswith("journal.db"):
            f.unlink()
    for name, data in backup.items():
        (tmp_path / "a" / name).write_bytes(data)
    journal, counts = open_collector(location)
    assert await commit(journal, range(11, 26)) == (15, 0)  # it has forgotten 11..20; the agent resends
    journal.note_rejected(SITE, 2)
    assert await settled(counts) == {SITE: (25, 10, 3, 0)}  # 21..25 new, 11..20 sent twice, 3 rejected
    said = [r.getMessage() for r in caplog.records if "older than what the shared state took" in r.getMessage()]
    assert len(said) == 1 and "numbering stood at 1, the shared state has taken up to 3" in said[0], said


async def test_gaps_one_collector_closed_are_closed_for_the_others(
        pg_dsn: str, open_collector: Callable[..., Collector]) -> None:
    location = StateLocation(Path("unused"), "test", pg_dsn)
    a, counts_a = open_collector(location, "a", gap_close_after_seconds=3600)
    b, counts_b = open_collector(location, "b", gap_close_after_seconds=3600)
    await commit(a, range(1, 11))
    await commit(a, range(20, 26))  # 11..19 never came (dropped by the agent's full outbox)
    await commit(a, range(26, 31))  # the agent moved past the gap
    assert await commit(b, [14]) == (1, 0)  # before the gap closes, a late 14 is a result
    assert await settled(counts_a) == {SITE: (21, 0, 0, 0)}
    assert await settled(counts_b) == {SITE: (22, 0, 0, 0)}
    # an hour after the agent moved past it, a's maintenance closes the gap
    await a.maintain(time.time_ns() + 3601 * 10**9)
    assert await commit(b, [15]) == (1, 0)  # b never saw the gap: it stores 15 (the same point if sent twice)
    assert await settled(counts_a) == {SITE: (22, 0, 0, 0)}
    assert await settled(counts_b) == {SITE: (22, 1, 0, 0)}  # but the shared marks count it a duplicate
    assert isinstance(counts_a, SharedIngest)
    assert counts_a.store.marks() == {(SITE, f"{SITE}-agent"): [(1, 30)]}


async def test_seqs_far_ahead_never_make_later_results_duplicates_and_the_marks_stay_bounded(
        pg_dsn: str, open_collector: Callable[..., Collector]) -> None:
    location = StateLocation(Path("unused"), "test", pg_dsn)
    a, counts_a = open_collector(location, "a", max_gaps=3)
    b, counts_b = open_collector(location, "b", max_gaps=3)
    await commit(a, range(1, 101))
    for i in range(6):  # a stolen token (or a broken agent) at b: scattered seqs far ahead
        await commit(b, [10**15 + i * 10**12], step_ns=0)
    assert await commit(a, range(101, 201)) == (100, 0)
    assert isinstance(counts_a, SharedIngest)
    assert await settled(counts_b) == {SITE: (6, 0, 0, 0)}  # b pushes first: a's next results are no duplicates
    assert await settled(counts_a) == {SITE: (206, 0, 0, 0)}
    assert counts_a.store.forget_beyond(3) == 3  # seven ranges, three gaps kept: the smallest forgotten
    kept = counts_a.store.marks()[(SITE, f"{SITE}-agent")]
    assert len(kept) == 4 and kept[0] == (1, 200)  # the agent's own range is never the one forgotten
    assert await commit(a, range(201, 214)) == (13, 0)
    assert await settled(counts_a) == {SITE: (219, 0, 0, 0)}


async def test_counts_are_storage_errors_while_postgres_is_down_and_exact_once_it_is_back(
        tmp_path: Path, open_collector: Callable[..., Collector]) -> None:
    server = start_postgres()
    try:
        location = StateLocation(tmp_path, "test", server.create_database())
        journal, counts = open_collector(location)
        assert isinstance(counts, SharedIngest)
        await counts.start()
        await commit(journal, range(1, 11))
        server.stop()
        assert await commit(journal, range(5, 21)) == (10, 6)  # ingest goes on: the journal is local
        with pytest.raises(StorageError, match=r"ingest counts: PostgreSQL .* cannot connect"):
            await counts.site_counters()
        await asyncio.sleep(1.5)  # the pusher fails meanwhile: the rows wait in the journal
        assert not counts.up and counts.backlog >= 1
        server.start()
        for _ in range(100):
            if counts.up and counts.backlog == 0:
                break
            await asyncio.sleep(0.1)
        assert await settled(counts) == {SITE: (20, 6, 0, 0)}
    finally:
        server.close()


def test_a_second_store_on_the_same_database_finds_the_schema_migrated(pg_dsn: str) -> None:
    stores = [PostgresIngestStore(pg_dsn, instance=name) for name in ("a", "b")]
    try:
        assert all(s.site_counters() == {} for s in stores)
    finally:
        for store in stores:
            store.close()


async def test_two_collectors_pushing_overlapping_seqs_at_the_same_time_count_each_once(
        pg_dsn: str, open_collector: Callable[..., Collector]) -> None:
    """Both pushers running while both journals take batches: the upserts race on the same row."""
    location = StateLocation(Path("unused"), "test", pg_dsn)
    (a, counts_a), (b, counts_b) = open_collector(location, "a"), open_collector(location, "b")
    for counts in (counts_a, counts_b):
        await counts.start()

    async def agent(journal: Journal, first: int, last: int) -> None:
        for start in range(first, last + 1, 13):
            await commit(journal, range(start, min(start + 13, last + 1)))
            await asyncio.sleep(0)

    await asyncio.gather(agent(a, 1, 2000), agent(b, 500, 2500), agent(a, 2400, 2600))
    received = 2000 + 2001 + 201
    await asyncio.gather(*(c.flush() for c in (counts_a, counts_b) if isinstance(c, SharedIngest)))
    for counts in (counts_a, counts_b):
        assert await settled(counts) == {SITE: (2600, received - 2600, 0, 0)}
    assert isinstance(counts_a, SharedIngest)
    assert counts_a.store.marks() == {(SITE, f"{SITE}-agent"): [(1, 2600)]}
