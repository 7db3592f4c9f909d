"""What the engine keeps about a problem (``Incident``), a silence, and what it tells people (``Notice``).

One table holds every incident: a single alert series (``kind="alert"``) from its first
bad sample (``pending``) to ``firing`` and ``resolved``, and the aggregates storm control
makes of many alerts (``upstream``: sites behind one upstream; ``platform``: sites failing
one platform). A member alert points at its aggregate through ``parent_id`` and is not
sent on its own while the aggregate is open.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

Kind = Literal["alert", "upstream", "platform"]
State = Literal["pending", "firing", "resolved"]
Event = Literal["firing", "resolved", "escalation"]


class Incident(BaseModel):
    id: int
    kind: Kind
    key: str
    rule: str
    severity: str
    state: State
    team: str | None = None
    site_id: str | None = None
    upstream: str | None = None
    target: str | None = None
    link: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    value_name: str | None = None
    op: str | None = None
    value: float | None = None
    threshold: float | None = None
    last_good_value: float | None = None
    resolve_value: float | None = None
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    parent_id: int | None = None
    storm: bool = False
    aggregate: bool = False
    member_count: int = 0
    below_since: float | None = None
    notified_severity: str | None = None
    notified_at: float | None = None
    resolve_notified_at: float | None = None
    escalated_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    ack_comment: str | None = None
    silenced_by: int | None = None
    inhibited_by: str | None = None
    # Known only from results that arrived late, and over by then: history, never announced.
    replayed: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> str:
        """What people see: pending, firing, acknowledged, silenced, inhibited, resolved, history."""
        if self.state == "resolved" and self.replayed:
            return "history"
        if self.state != "firing":
            return self.state
        if self.acked_at is not None:
            return "acknowledged"
        if self.silenced_by is not None:
            return "silenced"
        if self.parent_id is not None or self.inhibited_by is not None:
            return "inhibited"
        return "firing"


class Silence(BaseModel):
    id: int
    # Every given matcher must equal the incident's label of that name.
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    reason: str
    created_by: str | None = None
    created_at: float

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(name) == value for name, value in self.matchers.items())


class Member(BaseModel):
    site_id: str
    name: str
    district: str | None = None
    province: str | None = None


class Notice(BaseModel):
    """One incident in one message: a snapshot, so a later change cannot alter what was sent."""

    event: Event
    incident: Incident
    members: list[Member] = Field(default_factory=list)
    dashboard_url: str | None = None
    # What the site's backlog showed happening while it was silent (a silence's resolve).
    history: list[Incident] = Field(default_factory=list)
