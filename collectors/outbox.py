"""The journal's outbox for the shared marks and counters (``state.postgres``): what each commit did,
queued in the commit's own SQLite transaction, for ``outbox_push.py`` to send to PostgreSQL.

A row is one of:

    counted   the seqs a commit accepted (as runs ``[first, last]``) for one (token site, agent),
              with the commit's local figures: accepted, duplicate, the agent's dropped_total, when
    rejected  records refused at validation (no seqs)
    fill      gaps the local marks closed (by age or the cap): added to the shared marks, never counted

Ids only grow (AUTOINCREMENT: never reused after a delete), so "pushed up to id N" names
exactly what the shared state already holds from this journal.
"""

from __future__ import annotations

import array
import dataclasses
import sqlite3
from collections.abc import Iterable, Sequence

Run = tuple[int, int]  # [first, last] seqs, both included


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    kind: str  # counted | rejected | fill
    site_id: str
    agent_id: str
    runs: list[Run]
    accepted: int
    duplicate: int
    rejected: int
    dropped_total: int | None
    at_ns: int


def runs_of(seqs: Iterable[int]) -> list[Run]:
    """Sorted distinct ``seqs`` as maximal runs of consecutive numbers."""
    out: list[Run] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def _pack(runs: Sequence[Run]) -> bytes:
    return array.array("q", [n for run in runs for n in run]).tobytes()


def _unpack(blob: bytes | None) -> list[Run]:
    if not blob:
        return []
    flat = array.array("q", blob)
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def queue_counted(conn: sqlite3.Connection, site_id: str, agent_id: str, runs: Sequence[Run], accepted: int,
                  duplicate: int, dropped_total: int, at_ns: int) -> None:
    conn.execute("INSERT INTO ingest_outbox (kind, site_id, agent_id, runs, accepted, duplicate, dropped_total, "
                 "at_ns) VALUES ('counted', ?, ?, ?, ?, ?, ?, ?)",
                 (site_id, agent_id, _pack(runs) if runs else None, accepted, duplicate, dropped_total, at_ns))


def queue_rejected(conn: sqlite3.Connection, site_id: str, count: int, at_ns: int) -> None:
    conn.execute("INSERT INTO ingest_outbox (kind, site_id, agent_id, rejected, at_ns) "
                 "VALUES ('rejected', ?, '', ?, ?)", (site_id, count, at_ns))


def queue_fill(conn: sqlite3.Connection, site_id: str, agent_id: str, runs: Sequence[Run], at_ns: int) -> None:
    if runs:
        conn.execute("INSERT INTO ingest_outbox (kind, site_id, agent_id, runs, at_ns) VALUES ('fill', ?, ?, ?, ?)",
                     (site_id, agent_id, _pack(runs), at_ns))


def closed_runs(before: Sequence[Run], after: Sequence[Run]) -> list[Run]:
    """The intervals of ``after`` that are not intervals of ``before``: each merged closed gaps (their
    union with the shared marks adds exactly those gaps; the seqs around them are there already)."""
    kept = set(before)
    return [run for run in after if run not in kept]


def read(conn: sqlite3.Connection, limit: int) -> list[OutboxRow]:
    return [OutboxRow(int(i), str(kind), str(site), str(agent), _unpack(runs), int(acc), int(dup), int(rej),
                      None if dropped is None else int(dropped), int(at))
            for i, kind, site, agent, runs, acc, dup, rej, dropped, at in conn.execute(
                "SELECT id, kind, site_id, agent_id, runs, accepted, duplicate, rejected, dropped_total, at_ns "
                "FROM ingest_outbox ORDER BY id LIMIT ?", (limit,))]


def backlog(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM ingest_outbox").fetchone()[0])


def delete_upto(conn: sqlite3.Connection, last_id: int) -> None:
    conn.execute("DELETE FROM ingest_outbox WHERE id <= ?", (last_id,))
    number_after(conn, last_id)


def last_number(conn: sqlite3.Connection) -> int:
    """The highest id the outbox has ever given a row (AUTOINCREMENT never reuses one)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'ingest_outbox'").fetchone()
    return 0 if row is None else int(row[0])


def number_after(conn: sqlite3.Connection, last_id: int) -> None:
    """Give the next row an id above ``last_id``. A journal.db put back from an older copy would
    otherwise number its new rows from where the copy stood, at or below what the shared state has
    already taken, and they would be skipped as pushed before (their counts lost)."""
    if last_number(conn) < last_id:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'ingest_outbox'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('ingest_outbox', ?)", (last_id,))


def journal_id(conn: sqlite3.Connection) -> str:
    return str(conn.execute("SELECT value FROM journal_meta WHERE key = 'journal_id'").fetchone()[0])
