"""De-duplication marks: out-of-order arrival, gaps closed by age and by the cap, bounded growth,
and the marks survive a restart of the journal (real SQLite file)."""

from __future__ import annotations

from pathlib import Path

from collectors.intervals import SeqIntervals
from collectors.journal import Journal
from netmon.contract import BATCH_ADAPTER
from netmon.lab.collector import sample_batch

DAY_NS = 86400 * 10**9


def test_in_order_seqs_stay_one_interval() -> None:
    marks = SeqIntervals()
    assert all(marks.add(seq, 0) for seq in range(1, 100_001))
    assert (marks.starts, marks.ends, marks.gaps) == ([1], [100_000], 0)
    assert not marks.add(50_000, 0) and 100_000 in marks and 100_001 not in marks and 0 not in marks


def test_newest_heartbeat_first_then_the_backlog_merges_back() -> None:
    marks = SeqIntervals()
    for seq in range(1, 11):
        marks.add(seq, 0)
    assert marks.add(500, 1)  # the heartbeat after an outage
    assert marks.gaps == 1
    for seq in range(11, 500):
        assert marks.add(seq, 2)
    assert (marks.starts, marks.ends) == ([1], [500])
    assert not any(marks.add(seq, 3) for seq in (1, 250, 500))


def test_a_permanent_gap_closes_after_close_after_and_never_below_the_first_seq() -> None:
    marks = SeqIntervals()
    for seq in (*range(5, 11), *range(20, 31)):  # 11..19 never come (dropped by the agent)
        marks.add(seq, 0 if seq < 20 else 10 * DAY_NS)
    assert marks.close_gaps(17 * DAY_NS, 8 * DAY_NS, 100) == (0, 0)
    assert 15 not in marks
    assert marks.close_gaps(18 * DAY_NS, 8 * DAY_NS, 100) == (1, 0)
    assert 15 in marks and (marks.starts, marks.ends) == ([5], [30])
    assert 4 not in marks and marks.add(4, 18 * DAY_NS)  # below the first seq: never treated as seen


def test_the_gap_cap_bounds_memory_by_closing_the_oldest_gaps() -> None:
    marks = SeqIntervals()
    for seq in range(0, 2000, 2):  # every other seq missing: 999 gaps
        marks.add(seq, 0)
    assert marks.gaps == 999
    assert marks.close_gaps(1, 8 * DAY_NS, 10) == (0, 989)
    assert marks.gaps == 10 and 1 in marks and 1997 not in marks


async def test_marks_and_counters_survive_a_journal_restart(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    try:
        first = await journal.commit(BATCH_ADAPTER.validate_python(sample_batch("26734", [1, 2, 3, 7])), "P", None)
        assert (len(first.accepted), first.duplicates) == (4, 0)
    finally:
        journal.close()
    journal = Journal(tmp_path)
    try:
        again = await journal.commit(BATCH_ADAPTER.validate_python(sample_batch("26734", range(1, 9))), "P", None)
        assert [r.seq for r in again.accepted] == [4, 5, 6, 8] and again.duplicates == 4
        assert again.acked_seqs == list(range(1, 9))
        assert (journal.counters["26734"].accepted, journal.counters["26734"].duplicate) == (8, 4)
    finally:
        journal.close()
