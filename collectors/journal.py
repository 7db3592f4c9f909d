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

from pydantic import TypeAdapter

from collectors import journal_db as db
from collectors.intervals import SeqIntervals, load_marks, save_changes
from collectors.live import MAX_SERIES_PER_SITE
from collectors.sqlite import JOURNAL_DB, connect, transaction
from netmon.contract import ResultBatch, ResultRecord
from netmon.errors import StorageError

log = logging.getLogger("netmon.collector.journal")
MAX_GROUP_RESULTS = 50_000
RECORDS_ADAPTER: TypeAdapter[list[ResultRecord]] = TypeAdapter(list[ResultRecord])


@dataclasses.dataclass(frozen=True)
class Outcome:
    accepted: list[ResultRecord]
    duplicates: int
    acked_seqs: list[int]


@dataclasses.dataclass
class _Work:
    kind: Literal["commit", "written", "rejected", "maintain", "stop"]
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Any] | None = None
    batch: ResultBatch | None = None
    body: bytes = b""
    gzipped: bool = False
    tags: tuple[str, str | None] = ("", None)
    ids: list[int] = dataclasses.field(default_factory=list)
    now_ns: int = 0
    site_id: str = ""
    count: int = 0


class Journal:
    def __init__(self, state_dir: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", to_tsdb: bool = False,
                 gap_close_after_seconds: float = 8 * 86400, max_gaps_per_agent: int = 10_000,
                 retention_seconds: float = 2 * 86400) -> None:
        self.path = state_dir / JOURNAL_DB
        self.to_tsdb = to_tsdb
        self._gap_close_ns = int(gap_close_after_seconds * 1e9)
        self._max_gaps = max_gaps_per_agent
        self._retention_ns = int(retention_seconds * 1e9)
        self._conn = connect(self.path, synchronous=synchronous, check_same_thread=False)
        self._conn.executescript(db.SCHEMA)
        self._marks: dict[str, SeqIntervals] = load_marks(self._conn)
        self.counters: dict[str, db.SiteCounters] = db.load_counters(self._conn)
        self._next_batch = db.max_batch_id(self._conn) + 1
        self.pending = db.pending_results(self._conn)
        self.gaps_closed = {"age": 0, "cap": 0}
        self.on_gaps_closed: Callable[[str, int], None] | None = None
        self._dirty_counters: set[str] = set()
        self._queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="netmon-journal", daemon=True)
        self._thread.start()

    # --- the async API (event loop side) -------------------------------------------------
    async def commit(self, batch: ResultBatch, body: bytes, gzipped: bool, province: str, district: str | None
                     ) -> Outcome:
        """De-duplicate and durably store ``batch`` (``body``: its bytes as received); returns once committed."""
        work = _Work("commit", batch=batch, body=body, gzipped=gzipped, tags=(province, district))
        return await self._submit(work)  # type: ignore[no-any-return]

    async def mark_written(self, batch_ids: list[int], results: int) -> None:
        """The TSDB holds these batches (``results`` results in all): take them off the pending set."""
        await self._submit(_Work("written", ids=batch_ids, count=results))

    async def maintain(self) -> int:
        """Prune written rows past retention and close old dedupe gaps; returns rows pruned."""
        return await self._submit(_Work("maintain", now_ns=time.time_ns()))  # type: ignore[no-any-return]

    def note_rejected(self, site_id: str, count: int) -> None:
        """Count rejected records; nobody waits for this to be durable."""
        self._queue.put(_Work("rejected", site_id=site_id, count=count))

    async def _submit(self, work: _Work) -> Any:
        loop = asyncio.get_running_loop()
        work.loop, work.future = loop, loop.create_future()
        self._queue.put(work)
        return await work.future

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_Work("stop"))
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

    def _process(self, group: list[_Work], final: bool) -> None:
        now_ns = time.time_ns()
        answers: list[Any] = []
        try:
            with transaction(self._conn, "journal commit") as conn:
                for work in group:
                    answers.append(self._apply(conn, work, now_ns))
                self._save_dirty(conn)
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

    def _apply(self, conn: Any, work: _Work, now_ns: int) -> Any:
        if work.kind == "commit":
            return self._commit_batch(conn, work, now_ns)
        if work.kind == "written":
            db.mark_written(conn, work.ids)
            self.pending -= work.count
            return None
        if work.kind == "rejected":
            self._counters(work.site_id).rejected += work.count
            return None
        return self._maintain(conn, work.now_ns)

    def _commit_batch(self, conn: Any, work: _Work, now_ns: int) -> Outcome:
        batch = work.batch
        assert batch is not None
        marks = self._marks.get(batch.agent_id)
        if marks is None:
            marks = self._marks[batch.agent_id] = SeqIntervals()
        results = batch.results
        seqs = [r.seq for r in results]
        consecutive = bool(seqs) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        if consecutive and marks.add_run(seqs[0], seqs[-1], now_ns):
            accepted = list(range(len(results)))
        else:
            accepted = [i for i, seq in enumerate(seqs) if marks.add(seq, now_ns)]
        if accepted:
            self._store(conn, work, accepted, seqs, now_ns)
        counters = self._counters(batch.site_id)
        counters.accepted += len(accepted)
        counters.duplicate += len(results) - len(accepted)
        counters.dropped_total = batch.dropped_total
        if accepted:
            counters.last_seen_ns = now_ns
        save_changes(conn, batch.agent_id, marks)
        return Outcome([results[i] for i in accepted], len(results) - len(accepted),
                       seqs if consecutive else sorted(set(seqs)))

    def _store(self, conn: Any, work: _Work, accepted: list[int], seqs: list[int], now_ns: int) -> None:
        batch = work.batch
        assert batch is not None
        results = batch.results
        bid = self._next_batch
        everything = len(accepted) == len(results)
        latest: dict[db.LatestKey, tuple[int, int, int]] = {}
        body, gzipped, as_sent = work.body, work.gzipped, True
        if any("time_ns" not in results[i].model_fields_set for i in accepted):
            # a defaulted timestamp exists only in the validated model: store the accepted records as validated
            body = b'{"results":' + RECORDS_ADAPTER.dump_json([results[i] for i in accepted]) + b"}"
            gzipped, as_sent, everything = False, False, True
        for pos, idx in enumerate(accepted):
            record = results[idx]
            # the StrEnum member is the probe name itself (cheaper than .value, binds as text)
            key = (record.site_id, record.probe, record.link or "", record.target)
            current = latest.get(key)
            if current is None or current[0] <= record.time_ns:
                latest[key] = (record.time_ns, bid, idx if as_sent else pos)
        chosen = [seqs[i] for i in accepted]
        db.insert_batch(conn, (
            bid, batch.site_id, batch.agent_id, now_ns, work.tags[0], work.tags[1], len(accepted), min(chosen),
            max(chosen), min(results[i].time_ns for i in accepted), None if everything else db.pack_indices(accepted),
            gzipped, body), self.to_tsdb)
        db.upsert_latest(conn, latest)
        self._next_batch = bid + 1
        if self.to_tsdb:
            self.pending += len(accepted)

    def _maintain(self, conn: Any, now_ns: int) -> int:
        for agent_id, marks in self._marks.items():
            by_age, by_cap = marks.close_gaps(now_ns, self._gap_close_ns, self._max_gaps)
            if by_age or by_cap:
                self.gaps_closed["age"] += by_age
                self.gaps_closed["cap"] += by_cap
                log.info("agent %s: closed %d dedupe gap(s) by age, %d by the per-agent cap", agent_id, by_age, by_cap)
                save_changes(conn, agent_id, marks)
        db.cap_latest(conn, MAX_SERIES_PER_SITE)
        return db.prune(conn, now_ns - self._retention_ns, limit_batches=20_000)

    def _counters(self, site_id: str) -> db.SiteCounters:
        self._dirty_counters.add(site_id)
        counters = self.counters.get(site_id)
        if counters is None:
            counters = self.counters[site_id] = db.SiteCounters()
        return counters

    def _save_dirty(self, conn: Any) -> None:
        dirty, self._dirty_counters = self._dirty_counters, set()
        db.save_counters(conn, [(site, self.counters[site]) for site in dirty])

    def _reload_after_failure(self) -> None:
        # The transaction rolled back: in-memory marks, ids and counters may be ahead of the file.
        try:
            self._marks = load_marks(self._conn)
            self.counters = db.load_counters(self._conn)
            self._next_batch = db.max_batch_id(self._conn) + 1
            self.pending = db.pending_results(self._conn)
        except Exception:
            log.exception("journal state reload failed")

    @staticmethod
    def _resolve(work: _Work, answer: Any, failed: bool) -> None:
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
