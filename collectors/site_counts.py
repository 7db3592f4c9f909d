"""Where ``/api/v1/stats`` reads its per-site counts: one interface, two implementations.

    counts = open_counts(location, journal, ...)   # JournalCounts, or SharedIngest (outbox_push.py)
    await counts.start(); await counts.site_counters(); await counts.aclose()


One collector (SQLite): the journal's own counters, exact as they are. Several collectors on one
PostgreSQL: the shared counters, which each collector's outbox feeds (``collectors/outbox.py``),
so a batch two collectors both accepted (a failover resend) counts once; while PostgreSQL is
unreachable the read raises ``StorageError`` (503). The local figures stay in ``/metrics``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from netmon.collectors.journal import Journal
from netmon.collectors.journal_db import SiteCounters
from netmon.statedb import StateLocation

if TYPE_CHECKING:
    from prometheus_client.registry import Collector


class SiteCounts(Protocol):
    # several collectors' counts (False: this collector's own)
    shared: bool

    async def start(self) -> None: ...

    async def site_counters(self) -> dict[str, SiteCounters]:
        """site -> accepted, duplicate, rejected, agent-dropped, last seen."""
        ...

    def collectors(self) -> list[Collector]:
        """Its own /metrics (the shared state's outbox backlog, push failures)."""
        ...

    def cut_off_seconds(self) -> float | None:
        """How long this collector has not reached the shared state, once that is longer than
        ``cut_off_after`` (its agents should go elsewhere); None while it is not cut off."""
        ...

    async def aclose(self) -> None:
        """Stop; the shared kind pushes what is queued first."""
        ...


class JournalCounts:
    shared = False

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    async def start(self) -> None:
        return None

    async def site_counters(self) -> dict[str, SiteCounters]:
        return self._journal.counters

    def collectors(self) -> list[Collector]:
        return []

    def cut_off_seconds(self) -> float | None:
        return None  # its own state: nothing to be cut off from

    async def aclose(self) -> None:
        return None


def open_counts(location: StateLocation, journal: Journal, *, max_gaps_per_agent: int,
                maintenance_interval_seconds: float = 60.0) -> SiteCounts:
    """The counts of ``location``: shared in its PostgreSQL (the journal must have its outbox on), else local."""
    if location.postgres_dsn is None:
        return JournalCounts(journal)
    from netmon.collectors.ingest_postgres import PostgresIngestStore
    from netmon.collectors.outbox_push import SharedIngest

    store = PostgresIngestStore(location.postgres_dsn, instance=location.instance,
                                connect_timeout=location.connect_timeout_seconds)
    return SharedIngest(store, journal, max_gaps_per_agent=max_gaps_per_agent,
                        maintenance_interval_seconds=maintenance_interval_seconds,
                        cut_off_after_seconds=location.cut_off_after_seconds)
