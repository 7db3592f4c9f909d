"""De-duplication marks: the sequence numbers seen from each (site, agent), as sorted intervals.

The key is the site of the token that sent them and the agent id: nothing one site sends can
mark another site's seqs as seen. An agent's seqs arrive mostly in order, so ``[first,
latest]`` is usually one interval and the marks stay a few bytes per agent however many
results it sends. Out-of-order delivery (the newest heartbeat first after an outage) opens a
second interval that merges back once the backlog arrives.

Seqs that never arrive (dropped by the agent's full outbox, or rejected here) leave a *gap*
between intervals. Closing a gap (its seqs then count as seen) is what could turn a genuine
result into a "duplicate", so a gap is closed only once the agent has demonstrably moved past
it — the interval above it has **grown since it began** (the agent sent later seqs
contiguously above the gap: it ships oldest first, so it holds nothing below any more) — and:

- by age, when moreover neither side has changed for ``close_after`` (beyond the agents'
  outbox ``max_age``: every seq in the gap is older than that by then);
- by the cap (more than ``max_gaps``), lowest gaps first.

A seq far above the agent's range (a broken agent, a stolen token, an outbox that restarted
numbering) opens an interval that has not grown, so no gap below it ever closes and it cannot
make the agent's next results duplicates. An outbox that really restarted keeps sending from
its new base, so its interval grows and the old range's gap closes in time. When the cap is
reached with no gap the agent has moved past, intervals are *forgotten* instead, the smallest
first and never the one that grew last: a forgotten seq is stored again if it is ever re-sent
(a duplicate point in the TSDB, never a lost result). Seqs below an agent's first interval are
never treated as seen.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_right
from collections.abc import Callable

MarkKey = tuple[str, str]  # (site_id, agent_id)


class SeqIntervals:
    """Disjoint, non-adjacent ``[start, end]`` intervals of seqs, with change tracking for SQLite.

    ``since_ns[i]``: when interval i's current start was accepted; ``grown_ns[i]``: when its end last advanced."""

    __slots__ = ("_changed", "_removed", "ends", "grown_ns", "since_ns", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.since_ns: list[int] = []
        self.grown_ns: list[int] = []
        self._changed: set[int] = set()
        self._removed: set[int] = set()

    def __contains__(self, seq: int) -> bool:
        i = bisect_right(self.starts, seq) - 1
        return i >= 0 and seq <= self.ends[i]

    @property
    def gaps(self) -> int:
        return max(0, len(self.starts) - 1)

    @property
    def highest(self) -> int | None:
        return self.ends[-1] if self.ends else None

    def add(self, seq: int, now_ns: int) -> bool:
        """Mark ``seq`` seen; False if it already was (a duplicate)."""
        starts, ends = self.starts, self.ends
        if ends and seq == ends[-1] + 1:  # the common case: the next seq of the newest interval
            ends[-1] = seq
            self.grown_ns[-1] = now_ns
            self._changed.add(starts[-1])
            return True
        i = bisect_right(starts, seq) - 1
        if i >= 0 and seq <= ends[i]:
            return False
        left = i >= 0 and ends[i] == seq - 1
        right = i + 1 < len(starts) and starts[i + 1] == seq + 1
        if left and right:
            ends[i] = ends[i + 1]
            self.grown_ns[i] = now_ns
            self._drop(i + 1)
            self._changed.add(starts[i])
        elif left:
            ends[i] = seq
            self.grown_ns[i] = now_ns
            self._changed.add(starts[i])
        elif right:
            self._removed.add(starts[i + 1])
            starts[i + 1] = seq
            self.since_ns[i + 1] = now_ns
            self._changed.add(seq)
        else:
            self._insert(i + 1, seq, seq, now_ns)
        return True

    def add_run(self, first: int, last: int, now_ns: int) -> bool:
        """Mark ``first..last`` seen in one step when the whole run lies above every interval (the
        common case: a batch of consecutive seqs). False, changing nothing, when it does not."""
        starts, ends = self.starts, self.ends
        if ends and first <= ends[-1]:
            return False
        if ends and first == ends[-1] + 1:
            ends[-1] = last
            self.grown_ns[-1] = now_ns
            self._changed.add(starts[-1])
        else:
            self._insert(len(starts), first, last, now_ns)
        return True

    def _insert(self, i: int, start: int, end: int, now_ns: int) -> None:
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        self.since_ns.insert(i, now_ns)
        self.grown_ns.insert(i, now_ns)
        self._changed.add(start)

    def _drop(self, i: int) -> None:
        self._removed.add(self.starts[i])
        del self.starts[i], self.ends[i], self.since_ns[i], self.grown_ns[i]

    def _moved_past(self, i: int) -> bool:
        """The agent has sent seqs contiguously above the gap below interval ``i``."""
        return self.grown_ns[i] > self.since_ns[i]

    def close_gaps(self, now_ns: int, close_after_ns: int, max_gaps: int) -> tuple[int, int, int]:
        """Close the gaps the agent has moved past that are old, then (beyond ``max_gaps``) the lowest
        such; beyond that, forget intervals. Returns (closed by age, closed by the cap, forgotten).
        Each step is one pass over the intervals (an agent may have been made to open very many)."""
        by_age = self._merge(lambda i, lower_grown: self._moved_past(i) and self.since_ns[i] + close_after_ns
                             <= now_ns and lower_grown + close_after_ns <= now_ns)
        by_cap = self._merge(lambda i, _: self._moved_past(i), limit=self.gaps - max_gaps)
        return by_age, by_cap, self._forget(self.gaps - max_gaps)

    def _merge(self, closes: Callable[[int, int], bool], limit: int | None = None) -> int:
        """Close the gap below each interval ``i`` for which ``closes(i, grown_ns of the interval below)``,
        lowest first, at most ``limit``."""
        if len(self.starts) < 2 or (limit is not None and limit <= 0):
            return 0
        starts, ends, since, grown = [self.starts[0]], [self.ends[0]], [self.since_ns[0]], [self.grown_ns[0]]
        closed = 0
        for i in range(1, len(self.starts)):
            if (limit is None or closed < limit) and closes(i, grown[-1]):
                ends[-1] = self.ends[i]
                grown[-1] = max(grown[-1], self.grown_ns[i])
                self._changed.add(starts[-1])
                self._removed.add(self.starts[i])
                closed += 1
            else:
                starts.append(self.starts[i])
                ends.append(self.ends[i])
                since.append(self.since_ns[i])
                grown.append(self.grown_ns[i])
        self.starts, self.ends, self.since_ns, self.grown_ns = starts, ends, since, grown
        return closed

    def _forget(self, count: int) -> int:
        """Forget ``count`` intervals, the smallest first, never the one that grew last."""
        if count <= 0:
            return 0
        live = max(range(len(self.starts)), key=self.grown_ns.__getitem__)
        ranked = sorted((k for k in range(len(self.starts)) if k != live),
                        key=lambda k: (self.ends[k] - self.starts[k], self.grown_ns[k]))
        doomed = set(ranked[:count])
        self._removed.update(self.starts[k] for k in doomed)
        kept = [k for k in range(len(self.starts)) if k not in doomed]
        self.starts = [self.starts[k] for k in kept]
        self.ends = [self.ends[k] for k in kept]
        self.since_ns = [self.since_ns[k] for k in kept]
        self.grown_ns = [self.grown_ns[k] for k in kept]
        return len(doomed)

    def take_changes(self) -> tuple[list[int], list[tuple[int, int, int, int]]]:
        """(starts to delete, rows (start, end, since, grown) to upsert) since the last call."""
        current = {s: (e, since, grown) for s, e, since, grown in
                   zip(self.starts, self.ends, self.since_ns, self.grown_ns, strict=True)}
        deletes = [s for s in self._removed if s not in current]
        upserts = [(s, *current[s]) for s in self._changed if s in current]
        self._changed.clear()
        self._removed.clear()
        return deletes, upserts


def load_marks(conn: sqlite3.Connection) -> dict[MarkKey, SeqIntervals]:
    marks: dict[MarkKey, SeqIntervals] = {}
    for site_id, agent_id, start, end, since, grown in conn.execute(
            "SELECT site_id, agent_id, start_seq, end_seq, since_ns, grown_ns FROM dedupe_marks "
            "ORDER BY site_id, agent_id, start_seq"):
        intervals = marks.setdefault((site_id, agent_id), SeqIntervals())
        intervals.starts.append(start)
        intervals.ends.append(end)
        intervals.since_ns.append(since)
        intervals.grown_ns.append(grown)
    return marks


def save_changes(conn: sqlite3.Connection, key: MarkKey, intervals: SeqIntervals) -> None:
    """Write the changes of one agent's marks (inside the caller's transaction)."""
    deletes, upserts = intervals.take_changes()
    if deletes:
        conn.executemany("DELETE FROM dedupe_marks WHERE site_id = ? AND agent_id = ? AND start_seq = ?",
                         [(*key, s) for s in deletes])
    if upserts:
        conn.executemany("INSERT OR REPLACE INTO dedupe_marks (site_id, agent_id, start_seq, end_seq, since_ns, "
                         "grown_ns) VALUES (?, ?, ?, ?, ?, ?)", [(*key, *row) for row in upserts])
