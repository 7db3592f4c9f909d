"""Ingest as a service: ``IngestService.accept`` takes one upload of results and answers a
``BatchAck`` once the batch is durable, or raises a ``RequestRefused`` saying why not.

Steps, in this order (the first that refuses ends the request): token (a site token) -> cut off
from the shared state (503 ``X-Netmon-Cut-Off``, unless the agent says it is its last resort) -> body
size on the wire -> gunzip within the size -> JSON, envelope, schema version -> sites -> the
agent the token speaks for -> (the agent's clock offset is noted) -> records: contract, then
limits and time window -> the site's series budget -> journal capacity -> the site's rate ->
journal commit (group commit, fsync) -> metrics -> sinks. A refused request writes no result;
only a batch that passed every check counts against the site's rate. Every refusal is counted
in ``netmon_collector_rejected_requests_total{reason}`` (and, once the token named its site,
``netmon_site_rejected_requests_total{site,reason}``), refused records also per site in
``netmon_site_refused_results_total{site,reason}``, and, except for a missing or bad token
(401, which a scanner can repeat at will) and a cut-off (said once per outage), logged.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from netmon.collectors.auth import Authenticator
from netmon.collectors.body import Upload, decode, read_body
from netmon.collectors.budget import SeriesBudget
from netmon.collectors.clocks import SiteClocks, reported_offset
from netmon.collectors.http_errors import http_status
from netmon.collectors.journal import Journal
from netmon.collectors.limits import RecordLimits
from netmon.collectors.metrics import CollectorMetrics
from netmon.collectors.ratelimit import SiteRateLimiter
from netmon.collectors.sinks import Sinks
from netmon.collectors.tokens import Grant
from netmon.collectors.validate import check_limits, parse_batch, records_rejected
from netmon.config.central import Limits
from netmon.config.registry import RegistrySite
from netmon.contract import BatchAck, RejectedRecord, ResultBatch
from netmon.errors import (
    CollectorBusy,
    CutOff,
    Forbidden,
    RecordsRejected,
    RequestRefused,
    SiteRateLimited,
    StorageError,
    Unauthenticated,
)

log = logging.getLogger("netmon.collector.ingest")


@dataclasses.dataclass(frozen=True)
class Door:
    """What ingest checks a site's upload against, besides the journal and the sinks it feeds."""

    auth: Authenticator
    limiter: SiteRateLimiter
    limits: Limits
    records: RecordLimits
    budget: SeriesBudget
    clocks: SiteClocks


class IngestService:
    def __init__(self, door: Door, journal: Journal, sinks: Sinks, metrics: CollectorMetrics,
                 max_pending_results: int, cut_off: Callable[[], float | None] = lambda: None) -> None:
        self._door = door
        self._cut_off = cut_off
        self._journal = journal
        self._sinks = sinks
        self._metrics = metrics
        self._max_pending = max_pending_results

    async def accept(self, token: str | None, body: Upload, encoding: str | None,
                     clock_offset: str | None = None, last_resort: bool = False) -> BatchAck:
        """``token``: the bearer token sent (None: none); ``encoding``: the Content-Encoding header;
        ``clock_offset``: the agent's ``X-Netmon-Clock-Offset`` header; ``last_resort``: its
        ``X-Netmon-Last-Resort`` (every collector it knows said cut off: take the batch anyway)."""
        started = time.perf_counter()
        site_id = "?"
        door = self._door
        try:
            site, grant = door.auth.site_for(token)
            site_id = site.id
            cut_off = None if last_resort else self._cut_off()
            if cut_off is not None:
                raise CutOff(f"this collector has not reached the shared state for {cut_off:.0f} s: send the "
                             "results to another collector", seconds=cut_off)
            offset = reported_offset(clock_offset)
            if offset is not None:
                door.clocks.note_reported(site.id, offset)
            limit = door.limits.max_body_bytes
            wire = await read_body(body, limit)
            raw = decode(wire, encoding, limit)
            now_ns = time.time_ns()
            try:
                batch = parse_batch(raw, site.id, door.records, now_ns)
                self._check_agent(grant, batch)
                if offset is None and "sent_at_ns" in batch.model_fields_set:
                    door.clocks.note_sent_at(site.id, batch.sent_at_ns, now_ns)
                check_limits(batch, door.records, now_ns, len(raw))
                self._admit_series(site, batch)
            except RecordsRejected as exc:
                self._count_refused(site.id, exc)
                raise
            if self._journal.pending >= self._max_pending:
                raise CollectorBusy("the collector's journal is full while the TSDB catches up; keep the results "
                                    "in the outbox and retry", reason="overloaded", retry_after=30)
            wait_seconds = door.limiter.admit(site.id, len(batch.results))
            if wait_seconds:
                raise SiteRateLimited(f"site {site.id} is over its limit of {door.limits.site_results_per_minute} "
                                      f"results per minute; retry in {wait_seconds:.0f} s", retry_after=wait_seconds)
            try:
                # the journal keeps the body as it came: gzip stays gzip
                committed = await self._journal.commit(batch, wire, raw is not wire, site.province, site.district)
            except StorageError as exc:
                raise CollectorBusy(f"the batch could not be stored ({exc}); it was not accepted, resend it",
                                    reason="storage_error", retry_after=5) from exc
        except RequestRefused as exc:
            self._metrics.rejected_requests.labels(exc.reason).inc()
            if site_id != "?":  # the token named its site: who keeps sending what is refused
                self._metrics.site_rejected_requests.labels(site_id, exc.reason).inc()
            if not isinstance(exc, (Unauthenticated, CutOff)):
                log.warning("site %s: %d %s: %s", site_id, http_status(exc), exc.reason, exc.detail)
            raise
        metrics = self._metrics
        metrics.batches.inc()
        if committed.accepted:
            metrics.results.labels("accepted").inc(len(committed.accepted))
        if committed.duplicates:
            metrics.results.labels("duplicate").inc(committed.duplicates)
        metrics.ingest_seconds.observe(time.perf_counter() - started)
        await self._sinks.dispatch(site, committed.accepted)
        return BatchAck(accepted=len(committed.accepted), duplicates=committed.duplicates,
                        acked_seqs=committed.acked_seqs)

    def _check_agent(self, grant: Grant, batch: ResultBatch) -> None:
        """A site token speaks for the one agent it was enrolled for (bound on first use if older)."""
        if grant.agent_id is None:
            self._door.auth.bind_agent(grant, batch.agent_id)
            log.info("site %s: token bound to agent %s (enrolled before tokens named their agent)",
                     grant.site_id, batch.agent_id)
        elif batch.agent_id != grant.agent_id:
            raise Forbidden(f"the batch's agent_id is {batch.agent_id!r} but the token of site {grant.site_id!r} "
                            f"was enrolled for agent {grant.agent_id!r}; re-enrol with 'netmon sites enrol "
                            f"{grant.site_id} --rotate --agent-id {batch.agent_id}' if the agent was renamed")

    def _admit_series(self, site: RegistrySite, batch: ResultBatch) -> None:
        over = self._door.budget.admit(site, batch.results)
        if over:
            rejected = [RejectedRecord(index=i, seq=batch.results[i].seq, errors=[error]) for i, error in over]
            raise records_rejected(rejected, len(batch.results), {"series_budget": len(rejected)})

    def _count_refused(self, site_id: str, exc: RecordsRejected) -> None:
        self._metrics.results.labels("rejected").inc(len(exc.rejected))
        self._journal.note_rejected(site_id, len(exc.rejected))
        for reason, count in exc.refused.items():
            self._metrics.site_refused.labels(site_id, reason).inc(count)
