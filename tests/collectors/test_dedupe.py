"""De-duplication marks: out-of-order arrival, gaps closed only once the agent moved past them (by
age and by the cap), seqs far ahead that can never make later results duplicates, an outbox that
restarted its numbering, and bounded growth."""

from __future__ import annotations

import time

from netmon.collectors.intervals import SeqIntervals

DAY_NS = 86400 * 10**9
SECOND_NS = 10**9


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


def test_a_gap_the_agent_moved_past_closes_after_close_after_never_below_the_first_seq() -> None:
    marks = SeqIntervals()
    for seq in range(5, 11):
        marks.add(seq, 0)
    # 11..19 never come (dropped by the agent); it goes on from 20, batch after batch
    assert marks.add_run(20, 25, 10 * DAY_NS) and marks.add_run(26, 30, 10 * DAY_NS + 10 * SECOND_NS)
    assert marks.close_gaps(17 * DAY_NS, 8 * DAY_NS, 100) == (0, 0, 0)
    assert 15 not in marks
    assert marks.close_gaps(18 * DAY_NS, 8 * DAY_NS, 100) == (1, 0, 0)
    assert 15 in marks and (marks.starts, marks.ends) == ([5], [30])
    assert 4 not in marks and marks.add(4, 18 * DAY_NS)  # below the first seq: never treated as seen


def test_seqs_far_ahead_never_make_the_agents_next_results_duplicates() -> None:
    """The attack of issue 11: a dozen scattered huge seqs, then the gap cap and the gap age."""
    marks = SeqIntervals()
    marks.add_run(1_000, 1_012, 0)
    for i in range(12):
        assert marks.add(10**15 + i * 10**12, SECOND_NS)  # far ahead, one each: none ever grows
    t = 2 * SECOND_NS
    for first in range(1_013, 1_013 + 13 * 20, 13):  # the genuine agent carries on, 20 batches
        assert marks.add_run(first, first + 12, t) is False  # not above every interval any more
        assert all(marks.add(seq, t) for seq in range(first, first + 13))
        t += 10 * SECOND_NS
    # 30 days later, after an outage of the agent, with the cap far exceeded: no gap below an island closes
    assert marks.close_gaps(30 * DAY_NS, 8 * DAY_NS, 10) == (0, 0, 2)
    assert marks.gaps == 10 and 10**15 not in marks  # the two lowest islands are forgotten, not merged down
    assert all(seq not in marks for seq in range(1_273, 2_000))
    assert all(marks.add(seq, 30 * DAY_NS) for seq in range(1_273, 2_000))  # new results stay new


def test_an_outbox_that_restarted_numbering_moves_on_and_its_old_gap_closes() -> None:
    marks = SeqIntervals()
    old_base, new_base = 1_700_000_000_000_000, 1_760_000_000_000_000  # microseconds at each start
    marks.add_run(old_base + 1, old_base + 500, 0)
    t = DAY_NS
    for first in range(new_base + 1, new_base + 131, 13):  # the re-imaged agent, batch after batch
        assert marks.add_run(first, first + 12, t)
        t += 10 * SECOND_NS
    assert marks.close_gaps(8 * DAY_NS, 8 * DAY_NS, 100) == (0, 0, 0)  # the new range began < 8 days ago
    assert marks.close_gaps(9 * DAY_NS + SECOND_NS, 8 * DAY_NS, 100) == (1, 0, 0)
    assert (marks.starts, marks.ends) == ([old_base + 1], [new_base + 130])


def test_the_cap_closes_gaps_moved_past_lowest_first_then_forgets_islands_never_the_live_interval() -> None:
    marks = SeqIntervals()
    for i, seq in enumerate(range(0, 2000, 2)):  # every other seq missing (rejected): 999 gaps
        marks.add(seq, i * SECOND_NS)
    # each interval is one seq that never grew: the agent did not move past any gap, nothing closes
    assert marks.close_gaps(1, 8 * DAY_NS, 10) == (0, 0, 989)
    assert marks.gaps == 10 and 1998 in marks  # the interval that grew last is kept
    marks = SeqIntervals()
    for i, first in enumerate(range(0, 20_000, 20)):  # batches of 19, one seq rejected in each
        marks.add_run(first, first + 9, i * SECOND_NS)
        marks.add_run(first + 10, first + 18, i * SECOND_NS + 1)  # grew since it began
    assert marks.gaps == 999
    assert marks.close_gaps(1000 * SECOND_NS, 8 * DAY_NS, 10) == (0, 989, 0)
    assert marks.gaps == 10 and 19 in marks and 19_779 in marks and 19_799 not in marks


def test_one_pass_bounds_an_agent_made_to_open_very_many_intervals() -> None:
    marks = SeqIntervals()
    for i in range(100_000):
        marks.add_run(i * 10, i * 10, i)
    started = time.perf_counter()
    assert marks.close_gaps(DAY_NS, 8 * DAY_NS, 10_000) == (0, 0, 89_999)
    assert time.perf_counter() - started < 2.0 and marks.gaps == 10_000
