"""The accept journal: a batch is durable (committed, fsynced) before the collector answers 200.

One writer thread owns ``journal.db``. Concurrent requests hand it their batches; it takes
every batch waiting, runs one transaction for all of them (de-duplicate, insert, update marks,
counters and latest values) and one fsync, then resolves each request's future: group commit.
Under load many batches share an fsync; when idle a batch waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from netmon.collectors import journal_db as db
from netmon.collectors.journal_messages import (
    Commit,
    CommitResult,
    Maintain,
    MarkWritten,
    Message,
    NoteRejected,
    OutboxPushed,
    Stop,
    TargetWritten,
    Work,
)
from netmon.collectors.journal_state import JournalState
from netmon.collectors.schema import ensure_journal
from netmon.collectors.sqlite import JOURNAL_DB, connect, transaction
from netmon.contract import ResultBatch
from netmon.errors import StorageError

log = logging.getLogger("netmon.collector.journal")
MAX_GROUP_RESULTS = 50_000
__all__ = ["CommitResult", "Journal"]


Answer = CommitResult | int | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Reply:
    """Where the writer thread sends a message's answer: a future of the sender's event loop."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Answer]

    def settle(self, answer: Answer) -> None:
        self._on_loop(lambda: self.future.set_result(answer))

    def fail(self, error: StorageError) -> None:
        self._on_loop(lambda: self.future.set_exception(error))

    def _on_loop(self, resolve: Callable[[], None]) -> None:
        def settle() -> None:
            if not self.future.done():
                resolve()

        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody waits any more
            self.loop.call_soon_threadsafe(settle)


_Queued = tuple[Message, _Reply | None]
_Task = Work | TargetWritten


def _results_in(message: Message) -> int:
    return len(message.batch.results) if isinstance(message, Commit) else 0


class Journal:
    def __init__(self, state_dir: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", to_tsdb: bool = False,
                 gap_close_after_seconds: float = 8 * 86400, max_gaps_per_agent: int = 10_000,
                 retention_seconds: float = 2 * 86400, tsdb_targets: Sequence[str] = ("tsdb",),
                 outbox: bool = False) -> None:
        """``outbox``: queue every commit's seqs and counts for the shared state (``collectors/outbox.py``)."""
        self.path = state_dir / JOURNAL_DB
        self._conn = connect(self.path, synchronous=synchronous, check_same_thread=False)
        ensure_journal(self._conn)
        if to_tsdb:
            with transaction(self._conn, "journal: TSDB targets"):
                db.sync_targets(self._conn, list(tsdb_targets))
        self.set_aside = db.set_aside_counts(self._conn)
        self.state = JournalState(self._conn, to_tsdb=to_tsdb, gap_close_after_seconds=gap_close_after_seconds,
                                  max_gaps_per_agent=max_gaps_per_agent, retention_seconds=retention_seconds,
                                  outbox=outbox)
        self._queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="netmon-journal", daemon=True)
        self._thread.start()

    # read by the status API and /metrics (plain attribute reads of the writer's state)
    @property
    def pending(self) -> int:
        """Results accepted but not yet in the TSDB."""
        return self.state.pending

    @property
    def counters(self) -> dict[str, db.SiteCounters]:
        return self.state.counters

    @property
    def gaps_closed(self) -> dict[str, int]:
        return self.state.gaps_closed

    @property
    def seq_anomalies(self) -> dict[str, dict[str, int]]:
        """Per site: ``jump`` (seqs far above the agent's range), ``forgotten`` (intervals dropped at the cap)."""
        return self.state.seq_anomalies

    # --- the async API (event loop side) -------------------------------------------------
    async def commit(self, batch: ResultBatch, body: bytes, gzipped: bool, province: str, district: str | None
                     ) -> CommitResult:
        """De-duplicate and durably store ``batch`` (``body``: its bytes as received); returns once committed."""
        result = await self._submit(Commit(batch, body, gzipped, province, district))
        assert isinstance(result, CommitResult)
        return result

    async def mark_written(self, batch_ids: list[int], results: int) -> None:
        """The TSDB holds these batches (``results`` results in all): take them off the pending set."""
        await self._submit(MarkWritten(tuple(batch_ids), results))

    async def target_written(self, target: str, batch_ids: list[int],
                             set_aside: Sequence[db.SetAside] = ()) -> None:
        """``target`` holds these batches but for the points in ``set_aside`` (refused by it)."""
        await self._submit(TargetWritten(target, tuple(batch_ids), tuple(set_aside)))

    async def maintain(self, now_ns: int | None = None) -> int:
        """Prune written rows past retention and close old dedupe gaps (as of ``now_ns``, default now);
        returns rows pruned."""
        pruned = await self._submit(Maintain(time.time_ns() if now_ns is None else now_ns))
        assert isinstance(pruned, int)
        return pruned

    async def outbox_pushed(self, last_id: int) -> None:
        """The shared state holds the outbox up to ``last_id``."""
        await self._submit(OutboxPushed(last_id))

    def number_outbox_after(self, last_id: int) -> None:
        """Number the outbox's next rows above ``last_id``; runs before any commit queued after this call."""
        self._queue.put((OutboxPushed(last_id), None))

    def note_rejected(self, site_id: str, count: int) -> None:
        """Count rejected records; nobody waits for this to be durable."""
        self._queue.put((NoteRejected(site_id, count), None))

    async def _submit(self, work: _Task) -> Answer:
        loop = asyncio.get_running_loop()
        reply = _Reply(loop, loop.create_future())
        self._queue.put((work, reply))
        return await reply.future

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put((Stop(), None))
            self._thread.join(30)
        self._conn.close()

    # --- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            results = _results_in(group[0][0])
            while results < MAX_GROUP_RESULTS:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(queued)
                results += _results_in(queued[0])
            stop = any(isinstance(message, Stop) for message, _ in group)
            self._process([(m, reply) for m, reply in group if not isinstance(m, Stop)], final=stop)
            if stop:
                return

    def _process(self, group: list[tuple[_Task, _Reply | None]], final: bool) -> None:
        now_ns = time.time_ns()
        answers: list[Answer] = []
        set_aside: list[tuple[str, str]] = []
        try:
            with transaction(self._conn, "journal commit") as conn:
                for work, _ in group:
                    if isinstance(work, TargetWritten):
                        done, results = db.target_written(conn, work.target, list(work.batch_ids),
                                                          list(work.set_aside), now_ns)
                        set_aside += [(work.target, site) for _, _, site, _ in work.set_aside]
                        work = MarkWritten(tuple(done), results)
                    answers.append(self.state.apply(conn, work, now_ns))
                self.state.save_dirty(conn)
        except StorageError as exc:
            log.error("journal transaction failed, %d request(s) answered 503: %s", len(group), exc)
            self._reload_after_failure()
            self._answer_all(group, exc)
            return
        except BaseException as exc:  # a bug must not leave requests hanging forever
            log.exception("journal writer failed")
            self._reload_after_failure()
            self._answer_all(group, StorageError(f"journal writer failed: {exc!r}"))
            return
        for key in set_aside:  # counted once committed (read by /metrics and the status API)
            self.set_aside[key] = self.set_aside.get(key, 0) + 1
        for (_, reply), answer in zip(group, answers, strict=True):
            if reply is not None:
                reply.settle(answer)
        if final:
            log.info("journal closed")

    @staticmethod
    def _answer_all(group: list[tuple[_Task, _Reply | None]], error: StorageError) -> None:
        for _, reply in group:
            if reply is not None:
                reply.fail(error)

    def _reload_after_failure(self) -> None:
        try:
            self.state.reload(self._conn)
        except Exception:
            log.exception("journal state reload failed")

    # --- reads (any thread, own connection) --------------------------------------------------
    def reader(self) -> Any:
        return connect(self.path, check_same_thread=False, readonly=True)

    def latest_records(self) -> Sequence[tuple[str, int, dict[str, Any]]]:
        conn = self.reader()
        try:
            return db.load_latest(conn)
        finally:
            conn.close()
