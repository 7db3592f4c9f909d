"""De-duplication marks: out-of-order arrival, gaps closed by age and by the cap, bounded growth,
and bounded growth."""

from __future__ import annotations

from netmon.collectors.intervals import SeqIntervals

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
