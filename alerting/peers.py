"""What one collector must know of the others sharing its alert store (PostgreSQL), to evaluate
only what it can see.

- **Absence.** A site shipping to another collector is silent as far as this one's memory goes.
  Every collector publishes when it received each site (and that it was this one), and reads
  what the others published, at least three times per shortest absence limit (every 5 s at
  most): another collector's view of a site is then at most two exchanges — two thirds of the
  limit — old, and a site seen elsewhere is not silent here.
- **Hand-over.** A site's results arriving here after a pause of more than 1.5 ship intervals
  (its agent moved) make this collector re-read the site's open incidents first
  (``IncidentWriter.resync``), so its own series follow what the other collector did.
- **Who decides a site's clear timers.** The collector that received the site last (``owns``).
- **Blind.** While this collector cannot exchange (PostgreSQL is away from it), its sites'
  agents are moving to a collector that can (the cut-off rule, ``collectors/outbox_push.py``):
  they are not silent, this one just cannot see where they went. Silence is not judged here
  until an exchange has worked again, so an outage of one collector's database link never
  pages "site silent" for every site it served.

With a store of one collector's own (SQLite) none of this runs and ``owns`` is always true.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from netmon.alerting.evaluator import Evaluator
from netmon.alerting.incidents import IncidentWriter
from netmon.alerting.rules import Rule, absence_limits
from netmon.alerting.store import AlertStore
from netmon.errors import StorageError

log = logging.getLogger(__name__)
SEEN_SYNC_SECONDS = 5.0
HANDOVER_AFTER_INTERVALS = 1.5


class Peers:
    def __init__(self, store: AlertStore, instance: str, ship_interval_seconds: float, rules: Sequence[Rule],
                 now: float) -> None:
        self.store = store
        self.instance = instance
        self.ship_interval_seconds = ship_interval_seconds
        self.received: dict[str, float] = {}  # when this collector last received each site
        self.shared_seen: dict[str, tuple[float, str | None]] = store.seen() if store.shared else {}
        self._resync_due: set[str] = set()
        self._synced_at = now
        self._failing = False
        limits = absence_limits(rules, ship_interval_seconds)
        self.sync_seconds = min([SEEN_SYNC_SECONDS, *(limit / 3 for _, limit in limits)])

    def received_from(self, site_id: str, now: float, writer: IncidentWriter, evaluator: Evaluator) -> None:
        """A batch of ``site_id`` arrived here: after a pause, another collector may have had its results."""
        if not self.store.shared:
            return
        last = self.received.get(site_id)
        self.received[site_id] = now
        if last is None or now - last > HANDOVER_AFTER_INTERVALS * self.ship_interval_seconds:
            self._resync_due.add(site_id)
        if site_id in self._resync_due:
            try:
                if writer.resync(site_id, evaluator):
                    self._resync_due.discard(site_id)
            except StorageError as exc:
                log.warning("alerting: cannot re-read site %s's open incidents: %s", site_id, exc)

    def owns(self, site_id: str) -> bool:
        """Does this collector receive ``site_id``'s results (so its clear timers decide)?"""
        if not self.store.shared:
            return True
        mine = self.received.get(site_id)
        shared = self.shared_seen.get(site_id)
        return mine is not None and (shared is None or shared[1] == self.instance or mine >= shared[0])

    def blind(self) -> bool:
        """Has the last exchange failed (what the others received is unknown here)?"""
        return self._failing

    def exchange(self, now: float, evaluator: Evaluator) -> None:
        """When due: publish when this collector received its sites, learn when the others did."""
        if not self.store.shared or now - self._synced_at < self.sync_seconds:
            return
        dirty = evaluator.take_dirty_seen()
        try:
            self.store.save_seen(dirty, seen_by=self.instance)
            for site_id, (at, by) in self.store.seen(since=self._synced_at - 60.0).items():
                self.shared_seen[site_id] = (at, by)
                if by != self.instance:
                    evaluator.seen_elsewhere(site_id, at)
        except StorageError as exc:  # try again in one interval; say so once per outage
            evaluator.requeue_seen(site_id for site_id, _ in dirty)
            if not self._failing:
                log.warning("alerting: last-seen times not exchanged: %s", exc)
            self._failing = True
        else:
            if self._failing:
                log.info("alerting: last-seen times exchanged again")
            self._failing = False
        self._synced_at = now
