"""De-duplication marks: the sequence numbers seen from each agent, as sorted intervals.

An agent's seqs arrive mostly in order, so ``[first, latest]`` is usually one interval and
the marks stay a few bytes per agent however many results it sends. Out-of-order delivery
(the newest heartbeat first after an outage) opens a second interval that merges back once
the backlog arrives. Seqs that never arrive (dropped by the agent's full outbox, or rejected
here) leave a *gap* between intervals; a gap is closed — its seqs then count as seen — once
it has been open longer than ``close_after``. That is safe when ``close_after`` exceeds the
agents' outbox ``max_age``: every seq in the gap is older than the interval above it, so the
agent has dropped it by then. Seqs below an agent's first interval are never treated as seen.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_right

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedupe_marks (
    agent_id TEXT NOT NULL,
    start_seq INTEGER NOT NULL,
    end_seq INTEGER NOT NULL,
    -- when the interval's current start was accepted: its lower gap closes relative to this
    since_ns INTEGER NOT NULL,
    PRIMARY KEY (agent_id, start_seq)
) WITHOUT ROWID;
"""


class SeqIntervals:
    """Disjoint, non-adjacent ``[start, end]`` intervals of seqs, with change tracking for SQLite."""

    __slots__ = ("_changed", "_removed", "ends", "since_ns", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.since_ns: list[int] = []
        self._changed: set[int] = set()
        self._removed: set[int] = set()

    def __contains__(self, seq: int) -> bool:
        i = bisect_right(self.starts, seq) - 1
        return i >= 0 and seq <= self.ends[i]

    @property
    def gaps(self) -> int:
        return max(0, len(self.starts) - 1)

    def add(self, seq: int, now_ns: int) -> bool:
        """Mark ``seq`` seen; False if it already was (a duplicate)."""
        starts, ends = self.starts, self.ends
        if ends and seq == ends[-1] + 1:  # the common case: the next seq of the newest interval
            ends[-1] = seq
            self._changed.add(starts[-1])
            return True
        i = bisect_right(starts, seq) - 1
        if i >= 0 and seq <= ends[i]:
            return False
        left = i >= 0 and ends[i] == seq - 1
        right = i + 1 < len(starts) and starts[i + 1] == seq + 1
        if left and right:
            ends[i] = ends[i + 1]
            self._drop(i + 1)
            self._changed.add(starts[i])
        elif left:
            ends[i] = seq
            self._changed.add(starts[i])
        elif right:
            self._removed.add(starts[i + 1])
            starts[i + 1] = seq
            self.since_ns[i + 1] = now_ns
            self._changed.add(seq)
        else:
            starts.insert(i + 1, seq)
            ends.insert(i + 1, seq)
            self.since_ns.insert(i + 1, now_ns)
            self._changed.add(seq)
        return True

    def add_run(self, first: int, last: int, now_ns: int) -> bool:
        """Mark ``first..last`` seen in one step when the whole run lies above every interval (the
        common case: a batch of consecutive seqs). False, changing nothing, when it does not."""
        starts, ends = self.starts, self.ends
        if ends and first <= ends[-1]:
            return False
        if ends and first == ends[-1] + 1:
            ends[-1] = last
            self._changed.add(starts[-1])
        else:
            starts.append(first)
            ends.append(last)
            self.since_ns.append(now_ns)
            self._changed.add(first)
        return True

    def _drop(self, i: int) -> None:
        self._removed.add(self.starts[i])
        del self.starts[i], self.ends[i], self.since_ns[i]

    def close_gaps(self, now_ns: int, close_after_ns: int, max_gaps: int) -> tuple[int, int]:
        """Close gaps open longer than ``close_after_ns``, then the oldest ones beyond ``max_gaps``.

        Returns (closed by age, closed by the cap)."""
        by_age = by_cap = 0
        i = 1
        while i < len(self.starts):
            if self.since_ns[i] + close_after_ns <= now_ns:
                self._merge_down(i)
                by_age += 1
            else:
                i += 1
        while self.gaps > max_gaps:
            self._merge_down(1)
            by_cap += 1
        return by_age, by_cap

    def _merge_down(self, i: int) -> None:
        self.ends[i - 1] = self.ends[i]
        self._changed.add(self.starts[i - 1])
        self._drop(i)

    def take_changes(self) -> tuple[list[int], list[tuple[int, int, int]]]:
        """(starts to delete, rows to upsert) since the last call."""
        current = dict(zip(self.starts, zip(self.ends, self.since_ns, strict=True), strict=True))
        deletes = [s for s in self._removed if s not in current]
        upserts = [(s, *current[s]) for s in self._changed if s in current]
        self._changed.clear()
        self._removed.clear()
        return deletes, upserts


def load_marks(conn: sqlite3.Connection) -> dict[str, SeqIntervals]:
    conn.executescript(SCHEMA)
    marks: dict[str, SeqIntervals] = {}
    for agent_id, start, end, since in conn.execute(
            "SELECT agent_id, start_seq, end_seq, since_ns FROM dedupe_marks ORDER BY agent_id, start_seq"):
        intervals = marks.setdefault(agent_id, SeqIntervals())
        intervals.starts.append(start)
        intervals.ends.append(end)
        intervals.since_ns.append(since)
    return marks


def save_changes(conn: sqlite3.Connection, agent_id: str, intervals: SeqIntervals) -> None:
    """Write the changes of one agent's marks (inside the caller's transaction)."""
    deletes, upserts = intervals.take_changes()
    if deletes:
        conn.executemany("DELETE FROM dedupe_marks WHERE agent_id = ? AND start_seq = ?",
                         [(agent_id, s) for s in deletes])
    if upserts:
        conn.executemany("INSERT OR REPLACE INTO dedupe_marks (agent_id, start_seq, end_seq, since_ns) "
                         "VALUES (?, ?, ?, ?)", [(agent_id, *row) for row in upserts])
