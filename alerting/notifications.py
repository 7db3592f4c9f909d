"""The notification queue: one row per message per channel, kept until delivered or given up.

Rows are written in the same transaction that marks incidents as announced, and are
delivered per channel in id order, so a resolve never overtakes its firing message and a
restart re-sends only what had not been delivered. (The rows live in the ``deliveries``
table of the alert store; the name stays because renaming it would need a migration of
every running collector's alerting.db.)
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


def enqueue(store: AlertStore, channel: str, message: Message, now: float) -> int:
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO deliveries (channel, team, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
            (channel, message.team, message.to_json(), now, now))
        return int(cursor.lastrowid or 0)


def pending(store: AlertStore, now: float) -> dict[str, list[PendingNotification]]:
    """Undelivered rows per channel, oldest first; a channel stops at its first row not yet due
    (it is backing off), so later rows wait behind it."""
    rows = store.query("SELECT * FROM deliveries WHERE delivered_at IS NULL AND gave_up_at IS NULL ORDER BY id")
    out: dict[str, list[PendingNotification]] = {}
    blocked: set[str] = set()
    for row in rows:
        channel = row["channel"]
        if channel in blocked:
            continue
        if row["next_attempt_at"] > now:
            blocked.add(channel)
            continue
        out.setdefault(channel, []).append(PendingNotification(
            id=row["id"], channel=channel, team=row["team"], message=Message.from_json(row["payload"]),
            created_at=row["created_at"], attempts=row["attempts"]))
    return out


def delivered(store: AlertStore, notification_id: int, now: float) -> None:
    with store.transaction() as db:
        db.execute("UPDATE deliveries SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                   (now, notification_id))


def retry_at(store: AlertStore, notification_id: int, when: float, error: str) -> None:
    with store.transaction() as db:
        db.execute("UPDATE deliveries SET next_attempt_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                   (when, error[:500], notification_id))


def give_up(store: AlertStore, notification_id: int, now: float, error: str) -> None:
    with store.transaction() as db:
        db.execute("UPDATE deliveries SET gave_up_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                   (now, error[:500], notification_id))
