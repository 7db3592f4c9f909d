"""The alerting engine: results in, incidents kept, messages out.

    engine = AlertEngine(config, registry=registry, store=open_store(location),   # or state_path=...db
                         ship_interval_seconds=10, grafana_url="https://grafana.example")
    engine.observe(site, records)      # in-stream, for every durably accepted batch
    engine.tick(now)                   # timers, storm control, grouping (about once a second)
    await engine.deliver(now)          # send what is due (retries, rate limits)

``observe`` and ``tick`` are synchronous and CPU-bound (plus short store writes); only
delivery waits on the network. All state needed across a restart is in the store
(``alerting/store.py``).

Several collectors on one PostgreSQL store each evaluate the results they receive; the store
makes an incident open once and plans one collector at a time, and only the holder of the
dispatch lease sends. What a collector must know of the others (last-seen times for absence,
hand-over of a site's incidents) is ``alerting/peers.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from netmon.alerting import storm
from netmon.alerting.channels.base import Channel
from netmon.alerting.channels.kinds import ChannelKinds, default_channel_kinds
from netmon.alerting.dispatch import Dispatcher
from netmon.alerting.evaluator import Evaluator
from netmon.alerting.incidents import IncidentWriter
from netmon.alerting.model import Incident, Silence
from netmon.alerting.peers import Peers
from netmon.alerting.planner import Planner
from netmon.alerting.routing import Router
from netmon.alerting.rules import Rule, load_rules
from netmon.alerting.series import Transition
from netmon.alerting.store import AlertStore
from netmon.alerting.store_sqlite import SqliteAlertStore
from netmon.config.alerting import MAX_SILENCE_SECONDS, AlertingConfig
from netmon.config.registry import Registry, RegistrySite
from netmon.contract import ResultRecord
from netmon.errors import IncidentClosed, IncidentNotFound, StorageError

log = logging.getLogger(__name__)
PERSIST_EVERY_SECONDS = 30.0
RECHECK_SECONDS = 10.0
# The longest silence: a year and a day covers any planned work, and keeps ends_at a date


class AlertEngine:
    def __init__(self, config: AlertingConfig, *, state_path: str | Path | None = None,
                 store: AlertStore | None = None, instance: str = "local", registry: Registry | None = None,
                 ship_interval_seconds: float = 10.0, grafana_url: str | None = None,
                 rules: Sequence[Rule] | None = None, channels: Mapping[str, Channel] | None = None,
                 channel_kinds: ChannelKinds | None = None, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.config = config
        self.rules = list(rules) if rules is not None else load_rules(config.rules_file)
        if store is None:
            if state_path is None:
                raise ValueError("AlertEngine needs a store or a state_path")
            store = SqliteAlertStore(state_path)
        self.store = store
        self.instance = instance
        self.router = Router(config, registry)
        self._sites: dict[str, RegistrySite] = dict(registry.by_id()) if registry else {}
        self._lock = threading.RLock()
        self.peers = Peers(self.store, instance, ship_interval_seconds, self.rules, now)
        self.writer = IncidentWriter(self.store, self.router, self._sites.get, owns=self.peers.owns)
        self.evaluator = Evaluator(self.rules, ship_interval_seconds=ship_interval_seconds,
                                   stale_after_seconds=config.stale_after, emit=self._transition, started_at=now,
                                   late_after_seconds=ship_interval_seconds + config.late_margin)
        restored = self.writer.restore(self.evaluator, self.evaluator.rules, now)
        if restored:
            log.info("alerting: %d open alert(s) restored from %s", restored, self.store.where)
        self.planner = Planner(self.store, self.router, config, self.evaluator.rules, grafana_url)
        if channels is None:
            channels = (channel_kinds or default_channel_kinds()).build_all(config.channels)
        self.dispatcher = Dispatcher(self.store, channels, self.router)
        self._persisted_at = now
        # Storm control and planning read every open incident: run them when something
        # changed, or when something they left waiting falls due (not blindly every tick).
        self._changed = True
        self._recheck_at = now
        self._planning_failed = False

    def _transition(self, transition: Transition) -> None:
        self.writer.apply(transition)
        self._changed = True

    def set_registry(self, registry: Registry) -> None:
        """A re-read site registry: new teams, upstreams and names apply to alerts from now on."""
        with self._lock:
            self.router.registry = registry
            self._sites.update(registry.by_id())

    # -- the stream --------------------------------------------------------------------------

    def observe(self, site: RegistrySite, records: Sequence[ResultRecord], now: float | None = None) -> None:
        """Evaluate one accepted batch of ``site``'s results (what changed: one store transaction)."""
        now = time.time() if now is None else now
        with self._lock:
            self._sites[site.id] = site
            self.peers.received_from(site.id, now, self.writer, self.evaluator)
            self.evaluator.observe(site.id, records, now)
            self.writer.flush()

    def tick(self, now: float | None = None) -> int:
        """Timers, storm control and grouping; returns how many deliveries it queued."""
        now = time.time() if now is None else now
        with self._lock:
            self.peers.exchange(now, self.evaluator)
            self.evaluator.timers(now, absence=not self.peers.blind())
            self.writer.flush()
            queued = 0
            if self._changed or now >= self._recheck_at:
                self._changed = True  # until planning succeeds
                try:
                    with self.store.transaction(exclusive=True):  # one collector plans at a time
                        closes_at = storm.update(self.store, self.router, self.config, now)
                        queued = self.planner.plan(now)
                except StorageError as exc:  # the store is away: plan again next tick, say so once
                    if not self._planning_failed:
                        log.error("alerting: planning notifications failed, retrying every tick: %s", exc)
                    self._planning_failed = True
                    return 0
                if self._planning_failed:
                    log.info("alerting: planning notifications again")
                self._planning_failed = self._changed = False
                self._recheck_at = min(closes_at, self.planner.next_check, now + RECHECK_SECONDS)
            if now - self._persisted_at >= PERSIST_EVERY_SECONDS:
                self.persist(now)
        return queued

    def persist(self, now: float | None = None) -> None:
        """Write baselines and last-seen times (batched: they change with every result)."""
        with self._lock:
            self.store.save_baselines(self.evaluator.take_dirty_baselines())
            self.store.save_seen(self.evaluator.take_dirty_seen(), seen_by=self.instance)
            self._persisted_at = time.time() if now is None else now

    async def deliver(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        if not self.store.holds_dispatch():
            return 0  # another collector sends
        sent = await self.dispatcher.deliver(now)
        await self.dispatcher.resend(now, self.config.language, self.config.timezone, self.config.external_url)
        return sent

    async def run_once(self, now: float | None = None) -> int:
        self.tick(now)
        return await self.deliver(now)

    # -- operators ---------------------------------------------------------------------------

    def incidents(self, state: str | None = None, team: str | None = None, site: str | None = None,
                  limit: int = 200, now: float | None = None) -> list[Incident]:
        """Newest first. ``state``: open (default: pending and firing), firing, pending, resolved, all."""
        where, params = ["1 = 1"], []
        states = {"open": ("pending", "firing"), "firing": ("firing",), "pending": ("pending",),
                  "resolved": ("resolved",), "all": None}[state or "open"]
        if states:
            where.append(f"state IN ({','.join('?' for _ in states)})")
            params += list(states)
        if team:
            where.append("team = ?")
            params.append(team)
        if site:
            where.append("site_id = ?")
            params.append(site)
        return self._live(self.store.incidents(" AND ".join(where), params, order="id DESC", limit=limit), now)

    def incident(self, incident_id: int, now: float | None = None) -> Incident:
        found = self.store.incident(incident_id)
        if found is None:
            raise IncidentNotFound(incident_id)
        return self._live([found], now)[0]

    def _live(self, incidents: list[Incident], now: float | None) -> list[Incident]:
        """Show silences as they are now (the planner records them only on what it may send)."""
        silences = self.store.silences(active_at=time.time() if now is None else now)
        out = []
        for inc in incidents:
            if inc.state == "firing":
                silenced_by = next((s.id for s in silences if s.matches(inc.labels)), None)
                inc = inc.model_copy(update={"silenced_by": silenced_by})
            out.append(inc)
        return out

    def ack(self, incident_id: int, by: str | None, comment: str | None = None,
            now: float | None = None) -> Incident:
        """Acknowledge: somebody is on it, so escalation stops. Idempotent for an already acked incident."""
        now = time.time() if now is None else now
        with self._lock:
            incident = self.incident(incident_id, now)
            if incident.state == "resolved":
                raise IncidentClosed(f"incident {incident_id} is already resolved")
            if incident.acked_at is None:
                self.store.update_incident(incident_id, acked_at=now, acked_by=by, ack_comment=comment)
                self._changed = True
            return self.incident(incident_id, now)

    def silence(self, matchers: dict[str, str], duration_seconds: float, reason: str, by: str | None,
                now: float | None = None) -> Silence:
        now = time.time() if now is None else now
        if not matchers:
            raise ValueError("a silence needs at least one matcher (site, rule, team, upstream, target, link)")
        if not 0 < duration_seconds <= MAX_SILENCE_SECONDS:  # NaN fails too
            raise ValueError(f"a silence lasts more than 0 s and at most {MAX_SILENCE_SECONDS / 86400:g} days, "
                             f"not {duration_seconds!r} s")
        self._changed = True
        return self.store.add_silence(matchers, now, now + duration_seconds, reason, by, now)

    def unsilence(self, silence_id: int, now: float | None = None) -> bool:
        self._changed = True
        return self.store.expire_silence(silence_id, time.time() if now is None else now)

    def silences(self, now: float | None = None, active_only: bool = True) -> list[Silence]:
        return self.store.silences(active_at=(time.time() if now is None else now) if active_only else None)

    async def aclose(self) -> None:
        self.persist()
        await self.dispatcher.aclose()
        self.store.close()
