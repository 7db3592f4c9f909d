"""What one journal transaction does to the journal's state: de-duplicate and store a batch,
take written batches off the pending set, count rejections, maintenance (gap closing, pruning).

``JournalState`` runs only on the journal's writer thread, inside its transaction; the in-memory
parts (marks, counters, next batch id, pending count) change with it and are reloaded from the
file when a transaction rolls back. With ``outbox`` (shared state in PostgreSQL) each commit, rejection
and closed gap is also queued for the shared marks and counters, in the same transaction
(``collectors/outbox.py``).
"""

from __future__ import annotations

import logging
from typing import Any, assert_never

from pydantic import TypeAdapter

from netmon.collectors import journal_db as db
from netmon.collectors import outbox as shared
from netmon.collectors.intervals import MarkKey, SeqIntervals, load_marks, save_changes
from netmon.collectors.journal_messages import (
    Commit,
    CommitResult,
    Maintain,
    MarkWritten,
    NoteRejected,
    OutboxPushed,
    Work,
)
from netmon.collectors.live import MAX_SERIES_PER_SITE
from netmon.contract import ResultRecord

log = logging.getLogger("netmon.collector.journal")
RECORDS_ADAPTER: TypeAdapter[list[ResultRecord]] = TypeAdapter(list[ResultRecord])
# A batch reaching this far above everything the agent sent before is counted as a jump: more than
# any outbox holds (its newest heartbeat goes first after an outage, at most its backlog ahead).
# An outbox that lost its state restarts numbering at the clock's microseconds: a jump too.
JUMP_SEQS = 10_000_000


class JournalState:
    def __init__(self, conn: Any, *, to_tsdb: bool, gap_close_after_seconds: float, max_gaps_per_agent: int,
                 retention_seconds: float, outbox: bool = False) -> None:
        self.to_tsdb = to_tsdb
        self.outbox = outbox
        self._gap_close_ns = int(gap_close_after_seconds * 1e9)
        self._max_gaps = max_gaps_per_agent
        self._retention_ns = int(retention_seconds * 1e9)
        self.gaps_closed = {"age": 0, "cap": 0}
        # per site: seq jumps far ahead, dedupe intervals forgotten at the cap (since start)
        self.seq_anomalies: dict[str, dict[str, int]] = {}
        self.counters: dict[str, db.SiteCounters] = {}
        self._marks: dict[MarkKey, SeqIntervals] = {}
        self._next_batch = 1
        self.pending = 0
        self._dirty_counters: set[str] = set()
        self.reload(conn)

    def apply(self, conn: Any, work: Work, now_ns: int) -> CommitResult | int | None:
        match work:
            case Commit():
                return self.commit_batch(conn, work, now_ns)
            case MarkWritten(batch_ids=batch_ids, results=results):
                db.mark_written(conn, batch_ids)
                self.pending -= results
                return None
            case NoteRejected(site_id=site_id, count=count):
                self.counters_for(site_id).rejected += count
                if self.outbox:
                    shared.queue_rejected(conn, site_id, count, now_ns)
                return None
            case OutboxPushed(last_id=last_id):
                shared.delete_upto(conn, last_id)
                return None
            case Maintain(now_ns=as_of_ns):
                return self.maintain(conn, as_of_ns)
            case _:
                assert_never(work)

    def commit_batch(self, conn: Any, work: Commit, now_ns: int) -> CommitResult:
        batch = work.batch
        key = (batch.site_id, batch.agent_id)  # the token's site: checked at the door
        marks = self._marks.get(key)
        if marks is None:
            marks = self._marks[key] = SeqIntervals()
        results = batch.results
        seqs = [r.seq for r in results]
        consecutive = bool(seqs) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        highest = marks.highest
        if highest is not None and seqs and (seqs[-1] if consecutive else max(seqs)) > highest + JUMP_SEQS:
            self._anomaly(batch.site_id, "jump")
            log.warning("site %s agent %s: seqs jump from %d to %d (an outbox that restarted, or a broken or "
                        "hostile sender); the jump cannot make later results duplicates", batch.site_id,
                        batch.agent_id, highest, max(seqs))
        if consecutive and marks.add_run(seqs[0], seqs[-1], now_ns):
            accepted = list(range(len(results)))
        else:
            accepted = [i for i, seq in enumerate(seqs) if marks.add(seq, now_ns)]
        if accepted:
            self._store(conn, work, accepted, seqs, now_ns)
        counters = self.counters_for(batch.site_id)
        counters.accepted += len(accepted)
        counters.duplicate += len(results) - len(accepted)
        counters.dropped_total = batch.dropped_total
        if accepted:
            counters.last_seen_ns = now_ns
        if self.outbox:
            runs = [(seqs[0], seqs[-1])] if consecutive and len(accepted) == len(seqs) else \
                shared.runs_of(seqs[i] for i in accepted)
            shared.queue_counted(conn, batch.site_id, batch.agent_id, runs, len(accepted),
                                 len(results) - len(accepted), batch.dropped_total, now_ns)
        save_changes(conn, key, marks)
        return CommitResult([results[i] for i in accepted], len(results) - len(accepted),
                            seqs if consecutive else sorted(set(seqs)))

    def _store(self, conn: Any, work: Commit, accepted: list[int], seqs: list[int], now_ns: int) -> None:
        batch = work.batch
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
            # never later than now: a sample stamped ahead (within the allowed skew) cannot pin "latest"
            time_ns = min(record.time_ns, now_ns)
            current = latest.get(key)
            if current is None or current[0] <= time_ns:
                latest[key] = (time_ns, bid, idx if as_sent else pos)
        chosen = [seqs[i] for i in accepted]
        db.insert_batch(conn, (
            bid, batch.site_id, batch.agent_id, now_ns, work.province, work.district, len(accepted), min(chosen),
            max(chosen), min(results[i].time_ns for i in accepted), None if everything else db.pack_indices(accepted),
            gzipped, body), self.to_tsdb)
        db.upsert_latest(conn, latest)
        self._next_batch = bid + 1
        if self.to_tsdb:
            self.pending += len(accepted)

    def maintain(self, conn: Any, now_ns: int) -> int:
        for key, marks in self._marks.items():
            before = list(zip(marks.starts, marks.ends, strict=True)) if self.outbox and marks.gaps else []
            by_age, by_cap, forgotten = marks.close_gaps(now_ns, self._gap_close_ns, self._max_gaps)
            if self.outbox and (by_age or by_cap):  # the shared marks close the same gaps
                shared.queue_fill(conn, *key, shared.closed_runs(before, list(zip(marks.starts, marks.ends,
                                                                                    strict=True))), now_ns)
            if by_age or by_cap or forgotten:
                self.gaps_closed["age"] += by_age
                self.gaps_closed["cap"] += by_cap
                if forgotten:
                    self._anomaly(key[0], "forgotten", forgotten)
                log.info("site %s agent %s: closed %d dedupe gap(s) by age, %d by the per-agent cap; forgot %d "
                         "interval(s) above the agent's range", *key, by_age, by_cap, forgotten)
                save_changes(conn, key, marks)
        db.cap_latest(conn, MAX_SERIES_PER_SITE)
        return db.prune(conn, now_ns - self._retention_ns, limit_batches=20_000)

    def _anomaly(self, site_id: str, kind: str, count: int = 1) -> None:
        per_site = self.seq_anomalies.setdefault(site_id, {})
        per_site[kind] = per_site.get(kind, 0) + count

    def counters_for(self, site_id: str) -> db.SiteCounters:
        self._dirty_counters.add(site_id)
        counters = self.counters.get(site_id)
        if counters is None:
            counters = self.counters[site_id] = db.SiteCounters()
        return counters

    def save_dirty(self, conn: Any) -> None:
        dirty, self._dirty_counters = self._dirty_counters, set()
        db.save_counters(conn, [(site, self.counters[site]) for site in dirty])

    def reload(self, conn: Any) -> None:
        """After a rolled-back transaction the in-memory marks, ids and counters may be ahead of the file."""
        self._marks = load_marks(conn)
        self.counters = db.load_counters(conn)
        self._next_batch = db.max_batch_id(conn) + 1
        self.pending = db.pending_results(conn)
        self._dirty_counters = set()

