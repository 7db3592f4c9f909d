"""Who is told what, when: inhibition, silences, grouping per team, escalation.

Each tick looks at open incidents. One is due once it has been firing for the wait that
applies to it (``group_wait``; ``storm.wait`` for alerts that may still turn out to be part
of a storm), and is not inhibited (by its aggregate or by a firing rule that ``inhibits``
it) nor silenced. When a team's first incident is due, everything the team has ready goes
out as ONE message per channel (Alertmanager's group_wait). Resolves of announced incidents
follow the same way. A firing incident nobody acknowledged within the team's
``escalate_after`` is re-sent once to ``escalate_to``.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import quote

from netmon.alerting import notifications
from netmon.alerting.message import Message
from netmon.alerting.model import Event, Incident, Member, Notice
from netmon.alerting.routing import Router
from netmon.alerting.rules import SEVERITY_RANK, Rule
from netmon.alerting.store import AlertStore
from netmon.config.alerting import AlertingConfig

log = logging.getLogger(__name__)
DASHBOARD_UID = "netmon-site-detail"


@dataclasses.dataclass(frozen=True)
class Item:
    ready_at: float
    event: Event
    incident: Incident
    storm_sensitive: bool = False


class Planner:
    def __init__(self, store: AlertStore, router: Router, config: AlertingConfig, rules: dict[str, Rule],
                 grafana_url: str | None) -> None:
        self.store = store
        self.router = router
        self.config = config
        self.rules = rules
        self.grafana_url = grafana_url.rstrip("/") if grafana_url else None
        self.next_check = 0.0

    def plan(self, now: float) -> int:
        """Queue the messages that are due; returns how many deliveries were queued. Sets
        ``next_check``: when something not yet due becomes due (nothing changing meanwhile)."""
        silences = self.store.silences(active_at=now)
        wake = [s.ends_at for s in silences]
        firing = self._candidates()
        inhibitors = [(inc, self.rules[inc.rule]) for inc in firing
                      if inc.kind == "alert" and inc.rule in self.rules and self.rules[inc.rule].inhibits]
        due: dict[str | None, list[Item]] = {}
        escalations: dict[str | None, list[Item]] = {}
        queued = 0
        with self.store.transaction():
            for inc in firing:
                inhibited_by = f"incident #{inc.parent_id}" if inc.parent_id else self._inhibitor(inc, inhibitors)
                silenced_by = next((s.id for s in silences if s.matches(inc.labels)), None)
                if (inhibited_by, silenced_by) != (inc.inhibited_by, inc.silenced_by):
                    self.store.update_incident(inc.id, inhibited_by=inhibited_by, silenced_by=silenced_by)
                if inhibited_by or silenced_by:
                    continue
                if SEVERITY_RANK.get(inc.severity, 0) > SEVERITY_RANK.get(inc.notified_severity, 0):
                    sensitive = inc.kind == "alert" and (inc.storm or inc.aggregate)
                    wait = self.config.group_wait
                    if inc.kind == "upstream" or (sensitive and inc.storm):
                        wait = self.config.storm.wait  # a storm is still growing: let it gather
                    elif inc.kind == "platform" or sensitive:
                        wait = self.config.platform.wait
                    due.setdefault(inc.team, []).append(Item((inc.fired_at or now) + wait, "firing", inc, sensitive))
                else:
                    escalate_at = self._escalation_at(inc)
                    if escalate_at is not None and escalate_at <= now:
                        escalations.setdefault(inc.team, []).append(Item(now, "escalation", inc))
                    elif escalate_at is not None:
                        wake.append(escalate_at)
            for inc in self.store.incidents("state = 'resolved' AND notified_severity IS NOT NULL "
                                            "AND resolve_notified_at IS NULL"):
                ready_at = (inc.resolved_at or now) + self.config.group_wait
                due.setdefault(inc.team, []).append(Item(ready_at, "resolved", inc))
            for team, items in due.items():
                if min(item.ready_at for item in items) > now:
                    wake.append(min(item.ready_at for item in items))
                    continue
                chosen = [i for i in items if i.ready_at <= now or not i.storm_sensitive]
                wake += [i.ready_at for i in items if i.ready_at > now and i.storm_sensitive]
                queued += self._send(team, chosen, now)
            for team, items in escalations.items():
                queued += self._send(team, items, now)
        self.next_check = min(wake, default=float("inf"))
        return queued

    def _candidates(self) -> list[Incident]:
        """Firing incidents this pass may act on: not yet (fully) announced, escalation
        candidates, and inhibition sources. Announced ones need no look each second."""
        inhibiting = [r.name for r in self.rules.values() if r.inhibits]
        escalating = [t.name for t in self.config.teams if t.escalate_after is not None and t.escalate_to]
        either = ["notified_severity IS NULL", "(notified_severity = 'warning' AND severity = 'critical')"]
        if inhibiting:  # (an empty IN () is valid in SQLite only)
            either.append(f"rule IN ({','.join('?' for _ in inhibiting)})")
        if escalating:
            teams = ",".join("?" for _ in escalating)
            either.append(f"(acked_at IS NULL AND escalated_at IS NULL AND team IN ({teams}))")
        return self.store.incidents(f"state = 'firing' AND ({' OR '.join(either)})", [*inhibiting, *escalating])

    def _inhibitor(self, inc: Incident, inhibitors: list[tuple[Incident, Rule]]) -> str | None:
        for source, rule in inhibitors:
            if source.id == inc.id or not ("*" in rule.inhibits or inc.rule in rule.inhibits):
                continue
            if all(inc.labels.get(name) == source.labels.get(name) for name in rule.inhibit_equal):
                return f"{source.rule} #{source.id}"
        return None

    def _escalation_at(self, inc: Incident) -> float | None:
        team = self.router.team(inc.team)
        if team is None or team.escalate_after is None or not team.escalate_to:
            return None
        if inc.notified_at is None or inc.acked_at is not None or inc.escalated_at is not None:
            return None
        return inc.notified_at + team.escalate_after

    def _send(self, team: str | None, items: list[Item], now: float) -> int:
        per_channel: dict[str, list[Notice]] = {}
        for item in items:
            inc = item.incident
            if item.event == "escalation":
                inc = inc.model_copy(update={"escalated_at": now})
                config = self.router.team(team)
                channels = list(config.escalate_to) if config else []
            else:
                channels = self.router.channels(team, escalated=item.event == "resolved" and
                                                inc.escalated_at is not None)
            notice = Notice(event=item.event, incident=inc, members=self._members(inc),
                            dashboard_url=self._dashboard(inc),
                            history=self._history(inc) if item.event == "resolved" else [])
            for channel in channels:
                per_channel.setdefault(channel, []).append(notice)
            if not channels:
                log.warning("incident %s (%s) has no team with channels (team %r): recorded, not sent",
                            inc.id, inc.rule, team)
            if item.event == "firing":
                self.store.update_incident(inc.id, notified_severity=inc.severity,
                                           notified_at=inc.notified_at if inc.notified_at is not None else now)
            elif item.event == "resolved":
                self.store.update_incident(inc.id, resolve_notified_at=now)
            else:
                self.store.update_incident(inc.id, escalated_at=now)
        language = self.router.language(team)
        for channel, notices in per_channel.items():
            message = Message(notices=tuple(notices), team=team, language=language, timezone=self.config.timezone,
                              external_url=self.config.external_url, created_at=now)
            notifications.enqueue(self.store, channel, message, now)
        return len(per_channel)

    def _members(self, inc: Incident) -> list[Member]:
        if inc.kind == "alert":
            return []
        members: dict[str, Member] = {}
        for member in self.store.incidents("parent_id = ?", (inc.id,)):
            if member.site_id and member.site_id not in members:
                members[member.site_id] = Member(
                    site_id=member.site_id, name=member.labels.get("site_name", member.site_id),
                    district=member.labels.get("district"), province=member.labels.get("province"))
        return sorted(members.values(), key=lambda m: m.name)

    def _history(self, inc: Incident) -> list[Incident]:
        """What the site's backlog showed happening while it was silent (over, never announced),
        less what another of them explains (loss on a link that was down)."""
        if inc.kind != "alert":
            return []
        history = self.store.incidents("parent_id = ? AND replayed = 1", (inc.id,),
                                       order="active_at, rule, link, target, id")
        sources = [(h, self.rules[h.rule]) for h in history if h.rule in self.rules and self.rules[h.rule].inhibits]
        return [h for h in history if self._inhibitor(h, sources) is None]

    def _dashboard(self, inc: Incident) -> str | None:
        if self.grafana_url is None or inc.site_id is None:
            return None
        return f"{self.grafana_url}/d/{DASHBOARD_UID}?var-site={quote(inc.site_id)}"
