"""What the event loop hands the journal's writer thread: one frozen message per kind of work.

The writer takes every message waiting and runs them in one transaction (group commit), then
answers each sender; ``Stop`` ends the thread after that last transaction. Only ``Commit``
answers with data (a ``CommitResult``); ``Maintain`` answers how many results it pruned.
"""

from __future__ import annotations

import dataclasses

from netmon.contract import ResultBatch, ResultRecord


@dataclasses.dataclass(frozen=True, slots=True)
class Commit:
    """De-duplicate and store one batch; ``body`` is its bytes as received (gzip stays gzip)."""

    batch: ResultBatch
    body: bytes
    gzipped: bool
    # the registry's tags for the site at accept time, stored with the batch for the TSDB
    province: str
    district: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class MarkWritten:
    """The TSDB holds these batches (``results`` results in all): take them off the pending set."""

    batch_ids: tuple[int, ...]
    results: int


@dataclasses.dataclass(frozen=True, slots=True)
class TargetWritten:
    """One TSDB target holds these batches, but for the points it refused (``set_aside``: batch id,
    index, site, reason). The journal advances that target's cursor and turns the batches every
    target now holds into a ``MarkWritten``."""

    target: str
    batch_ids: tuple[int, ...]
    set_aside: tuple[tuple[int, int, str, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class NoteRejected:
    """Count records refused at validation (nobody waits for this)."""

    site_id: str
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class Maintain:
    """Close old dedupe gaps and prune written rows past retention, as of ``now_ns``."""

    now_ns: int


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxPushed:
    """The shared state holds the outbox up to ``last_id``: delete those rows."""

    last_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class Stop:
    """Run what is queued, then end the writer thread."""


# the work a transaction applies (``Stop`` is handled by the writer loop itself, ``TargetWritten``
# by the journal, which hands ``JournalState`` the resulting ``MarkWritten``)
Work = Commit | MarkWritten | NoteRejected | Maintain | OutboxPushed
Message = Work | TargetWritten | Stop


@dataclasses.dataclass(frozen=True, slots=True)
class CommitResult:
    """What one ``Commit`` did: the newly accepted records, how many were duplicates, the seqs to ack."""

    accepted: list[ResultRecord]
    duplicates: int
    acked_seqs: list[int]
