"""The accept journal: a batch is durable (committed, fsynced) before the collector answers 200.

One writer thread owns ``journal.db``. Concurrent requests hand it their batches; it takes
every batch waiting, runs one transaction for all of them (de-duplicate, insert, update marks,
counters and latest values) and one fsync, then resolves each request's future: group commit.
Under load many batches share an fsync; when idle a batch waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from netmon.collectors import journal_db as db
from netmon.collectors.journal_state import JournalState, Outcome, Work
from netmon.collectors.sqlite import JOURNAL_DB, connect, transaction
from netmon.contract import ResultBatch
from netmon.errors import StorageError

log = logging.getLogger("netmon.collector.journal")
MAX_GROUP_RESULTS = 50_000
__all__ = ["Journal", "Outcome"]


class Journal:
    def __init__(self, state_dir: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", to_tsdb: bool = False,
                 gap_close_after_seconds: float = 8 * 86400, max_gaps_per_agent: int = 10_000,
                 retention_seconds: float = 2 * 86400) -> None:
        self.path = state_dir / JOURNAL_DB
        self._conn = connect(self.path, synchronous=synchronous, check_same_thread=False)
        self._conn.executescript(db.SCHEMA)
        self.state = JournalState(self._conn, to_tsdb=to_tsdb, gap_close_after_seconds=gap_close_after_seconds,
                                  max_gaps_per_agent=max_gaps_per_agent, retention_seconds=retention_seconds)
        self._queue: queue.SimpleQueue[Work] = queue.SimpleQueue()
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

    # --- the async API (event loop side) -------------------------------------------------
    async def commit(self, batch: ResultBatch, body: bytes, gzipped: bool, province: str, district: str | None
                     ) -> Outcome:
        """De-duplicate and durably store ``batch`` (``body``: its bytes as received); returns once committed."""
        work = Work("commit", batch=batch, body=body, gzipped=gzipped, tags=(province, district))
        return await self._submit(work)  # type: ignore[no-any-return]

    async def mark_written(self, batch_ids: list[int], results: int) -> None:
        """The TSDB holds these batches (``results`` results in all): take them off the pending set."""
        await self._submit(Work("written", ids=batch_ids, count=results))

    async def maintain(self) -> int:
        """Prune written rows past retention and close old dedupe gaps; returns rows pruned."""
        return await self._submit(Work("maintain", now_ns=time.time_ns()))  # type: ignore[no-any-return]

    def note_rejected(self, site_id: str, count: int) -> None:
        """Count rejected records; nobody waits for this to be durable."""
        self._queue.put(Work("rejected", site_id=site_id, count=count))

    async def _submit(self, work: Work) -> Any:
        loop = asyncio.get_running_loop()
        work.loop, work.future = loop, loop.create_future()
        self._queue.put(work)
        return await work.future

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(Work("stop"))
            self._thread.join(30)
        self._conn.close()

    # --- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            results = len(group[0].batch.results) if group[0].batch else 0
            while results < MAX_GROUP_RESULTS:
                try:
                    work = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(work)
                results += len(work.batch.results) if work.batch else 0
            stop = any(w.kind == "stop" for w in group)
            self._process([w for w in group if w.kind != "stop"], final=stop)
            if stop:
                return

    def _process(self, group: list[Work], final: bool) -> None:
        now_ns = time.time_ns()
        answers: list[Any] = []
        try:
            with transaction(self._conn, "journal commit") as conn:
                for work in group:
                    answers.append(self.state.apply(conn, work, now_ns))
                self.state.save_dirty(conn)
        except StorageError as exc:
            log.error("journal transaction failed, %d request(s) answered 503: %s", len(group), exc)
            self._reload_after_failure()
            for work in group:
                self._resolve(work, exc, failed=True)
            return
        except BaseException as exc:  # a bug must not leave requests hanging forever
            log.exception("journal writer failed")
            self._reload_after_failure()
            for work in group:
                self._resolve(work, StorageError(f"journal writer failed: {exc!r}"), failed=True)
            return
        for work, answer in zip(group, answers, strict=True):
            self._resolve(work, answer, failed=False)
        if final:
            log.info("journal closed")

    def _reload_after_failure(self) -> None:
        try:
            self.state.reload(self._conn)
        except Exception:
            log.exception("journal state reload failed")

    @staticmethod
    def _resolve(work: Work, answer: Any, failed: bool) -> None:
        if work.future is None or work.loop is None:
            return
        future = work.future

        def settle() -> None:
            if future.done():
                return
            if failed:
                future.set_exception(answer)
            else:
                future.set_result(answer)

        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody waits any more
            work.loop.call_soon_threadsafe(settle)

    # --- reads (any thread, own connection) --------------------------------------------------
    def reader(self) -> Any:
        return connect(self.path, check_same_thread=False, readonly=True)

    def latest_records(self) -> Sequence[tuple[str, int, dict[str, Any]]]:
        conn = self.reader()
        try:
            return db.load_latest(conn)
        finally:
            conn.close()
