"""The notification queue: one row per message per channel, kept until delivered or given up.

Rows are written in the same transaction that marks incidents as announced, and are
delivered per channel in id order, so a resolve never overtakes its firing message and a
restart re-sends only what had not been delivered. The rows live in the ``deliveries`` table
of the alert store (SQLite or PostgreSQL, ``alerting/store.py``); with several collectors only
the one holding the dispatch lease sends them.
"""

from __future__ import annotations

import dataclasses

from netmon.alerting.message import Message
from netmon.alerting.store import AlertStore


@dataclasses.dataclass(frozen=True)
class PendingNotification:
    """A message still to be sent to one channel, and how often sending it has failed."""

    id: int
    channel: str
    team: str | None
    message: Message
    created_at: float
    attempts: int
    # the channel this message was moved from because that one kept rate limiting it
    rerouted_from: str | None = None


def enqueue(store: AlertStore, channel: str, message: Message, now: float, rerouted_from: str | None = None) -> int:
    return store.enqueue_notification(channel, message.team, message.to_json(), now, rerouted_from)


def pending(store: AlertStore, now: float) -> dict[str, list[PendingNotification]]:
    """Undelivered rows per channel, oldest first; a channel stops at its first row not yet due
    (it is backing off), so later rows wait behind it."""
    out: dict[str, list[PendingNotification]] = {}
    blocked: set[str] = set()
    for row in store.open_notifications():
        channel = row["channel"]
        if channel in blocked:
            continue
        if row["next_attempt_at"] > now:
            blocked.add(channel)
            continue
        out.setdefault(channel, []).append(PendingNotification(
            id=row["id"], channel=channel, team=row["team"], message=Message.from_json(row["payload"]),
            created_at=row["created_at"], attempts=row["attempts"], rerouted_from=row["rerouted_from"]))
    return out


def delivered(store: AlertStore, notification_id: int, now: float) -> None:
    store.notification_delivered(notification_id, now)


def retry_at(store: AlertStore, notification_id: int, when: float, error: str) -> None:
    store.notification_retry(notification_id, when, error)


def give_up(store: AlertStore, notification_id: int, now: float, error: str, attempted: bool = True) -> None:
    store.notification_given_up(notification_id, now, error, attempted)
