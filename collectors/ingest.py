"""Ingest as a service: ``IngestService.accept`` takes one upload of results and answers a
``BatchAck`` once the batch is durable, or raises a ``RequestRefused`` saying why not.

Steps, in this order (the first that refuses ends the request): token -> body size on the wire
-> gunzip within the size -> JSON, envelope, schema version -> sites -> records -> journal
capacity -> the site's rate -> journal commit (group commit, fsync) -> metrics -> sinks. A
refused request writes no result; only a batch that passed every check counts against the
site's rate. Every refusal is counted in ``netmon_collector_rejected_requests_total{reason}``
and, except for a missing or bad token (401, which a scanner can repeat at will), logged.
"""

from __future__ import annotations

import logging
import time

from netmon.collectors.auth import SiteAuthenticator
from netmon.collectors.body import Upload, decode, read_body
from netmon.collectors.http_errors import http_status
from netmon.collectors.journal import Journal
from netmon.collectors.metrics import CollectorMetrics
from netmon.collectors.ratelimit import SiteRateLimiter
from netmon.collectors.sinks import Sinks
from netmon.collectors.validate import parse_batch
from netmon.config.central import Limits
from netmon.contract import BatchAck
from netmon.errors import CollectorBusy, RecordsRejected, RequestRefused, SiteRateLimited, StorageError, Unauthenticated

log = logging.getLogger("netmon.collector.ingest")


class IngestService:
    def __init__(self, auth: SiteAuthenticator, journal: Journal, limiter: SiteRateLimiter, sinks: Sinks,
                 metrics: CollectorMetrics, limits: Limits, max_pending_results: int) -> None:
        self._auth = auth
        self._journal = journal
        self._limiter = limiter
        self._sinks = sinks
        self._metrics = metrics
        self._limits = limits
        self._max_pending = max_pending_results

    async def accept(self, token: str | None, body: Upload, encoding: str | None) -> BatchAck:
        """``token``: the bearer token sent (None: none); ``encoding``: the Content-Encoding header."""
        started = time.perf_counter()
        site_id = "?"
        try:
            site = self._auth.site_for(token)
            site_id = site.id
            limit = self._limits.max_body_bytes
            wire = await read_body(body, limit)
            raw = decode(wire, encoding, limit)
            try:
                batch = parse_batch(raw, site.id)
            except RecordsRejected as exc:
                self._metrics.results.labels("rejected").inc(len(exc.rejected))
                self._journal.note_rejected(site.id, len(exc.rejected))
                raise
            if self._journal.pending >= self._max_pending:
                raise CollectorBusy("the collector's journal is full while the TSDB catches up; keep the results "
                                    "in the outbox and retry", reason="overloaded", retry_after=30)
            wait_seconds = self._limiter.admit(site.id, len(batch.results))
            if wait_seconds:
                raise SiteRateLimited(f"site {site.id} is over its limit of {self._limits.site_results_per_minute} "
                                      f"results per minute; retry in {wait_seconds:.0f} s", retry_after=wait_seconds)
            try:
                # the journal keeps the body as it came: gzip stays gzip
                committed = await self._journal.commit(batch, wire, raw is not wire, site.province, site.district)
            except StorageError as exc:
                raise CollectorBusy(f"the batch could not be stored ({exc}); it was not accepted, resend it",
                                    reason="storage_error", retry_after=5) from exc
        except RequestRefused as exc:
            self._metrics.rejected_requests.labels(exc.reason).inc()
            if not isinstance(exc, Unauthenticated):
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
