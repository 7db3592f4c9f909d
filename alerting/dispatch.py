"""Sending: queued notifications to channels, with one retry policy and one rate limit per channel.

Per channel, rows go out in order and one at a time; channels run side by side. A
``ChannelRateLimited`` answer parks the channel until ``retry_after``, cut to the channel's
``max_retry_after`` (5 min); messages that have waited longer than ``rate_limited_give_up_after``
(15 min) when the channel answers "rate limited" again are given up there and queued on the
team's ``escalate_to`` channels instead (once: a moved message is never moved again). A
transient error backs off exponentially (5 s doubling to 5 min) until the channel's
``give_up_after``; a ``ChannelRejected`` answer gives that row up at once (logged) and the
channel carries on. Every message given up is counted by channel and reason
(``netmon_alert_notifications_failed_total``).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import math
from collections.abc import Mapping

from netmon.alerting import notifications
from netmon.alerting.channels.base import Channel
from netmon.alerting.message import Message
from netmon.alerting.model import Notice
from netmon.alerting.notifications import PendingNotification
from netmon.alerting.routing import Router
from netmon.alerting.store import AlertStore
from netmon.errors import ChannelError, ChannelRateLimited, ChannelRejected

log = logging.getLogger(__name__)
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 300.0


@dataclasses.dataclass
class TokenBucket:
    rate_per_second: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def take(self, now: float) -> bool:
        if self.updated is None:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_second)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Dispatcher:
    def __init__(self, store: AlertStore, channels: Mapping[str, Channel], router: Router) -> None:
        self.store = store
        self.channels = dict(channels)
        self.router = router
        self.buckets = {name: TokenBucket(ch.config.rate_per_minute / 60.0, ch.config.burst)
                        for name, ch in self.channels.items()}
        self._last_resend: dict[str, float] = {}
        # (channel, reason) -> messages given up: rejected, gave_up, rate_limited, no_channel
        self.failed: collections.Counter[tuple[str, str]] = collections.Counter()

    async def deliver(self, now: float) -> int:
        """Send what is due; returns how many deliveries succeeded."""
        due = notifications.pending(self.store, now)
        results = await asyncio.gather(*(self._channel(name, rows, now) for name, rows in due.items()))
        return sum(results)

    async def _channel(self, name: str, rows: list[PendingNotification], now: float) -> int:
        channel = self.channels.get(name)
        sent = 0
        for index, row in enumerate(rows):
            if channel is None:
                notifications.give_up(self.store, row.id, now, f"no channel named {name!r} is configured")
                self.failed[(name, "no_channel")] += 1
                continue
            if not self.buckets[name].take(now):
                break  # over this channel's rate: the row stays queued for a later pass
            try:
                await asyncio.wait_for(channel.send(row.message), timeout=channel.config.timeout + 5.0)
            except ChannelRateLimited as exc:
                self._rate_limited(name, channel, rows[index:], exc, now)
                break
            except ChannelRejected as exc:
                log.error("delivery %s given up: %s", row.id, exc)
                notifications.give_up(self.store, row.id, now, str(exc))
                self.failed[(name, "rejected")] += 1
            except (ChannelError, TimeoutError) as exc:
                error = str(exc) or type(exc).__name__
                if now - row.created_at >= channel.config.give_up_after:
                    log.error("delivery %s given up after %d attempts: %s", row.id, row.attempts + 1, error)
                    notifications.give_up(self.store, row.id, now, error)
                    self.failed[(name, "gave_up")] += 1
                    continue
                delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** row.attempts)
                log.warning("delivery %s to %s failed (%s); retrying in %.0f s", row.id, name, error, delay)
                notifications.retry_at(self.store, row.id, now + delay, error)
                break
            else:
                notifications.delivered(self.store, row.id, now)
                sent += 1
        return sent

    def _rate_limited(self, name: str, channel: Channel, due: list[PendingNotification], exc: ChannelRateLimited,
                      now: float) -> None:
        """Park the channel for (at most ``max_retry_after``) the time asked; move messages that have
        waited too long to the team's escalation channels."""
        config = channel.config
        wait = exc.retry_after if math.isfinite(exc.retry_after) else config.max_retry_after
        wait = min(max(wait, 0.0), config.max_retry_after)
        stale = list(itertools.takewhile(lambda row: now - row.created_at >= config.rate_limited_give_up_after, due))
        with self.store.transaction():
            for row in stale:
                self._reroute(name, row, now, str(exc))
            waiting = due[len(stale):]
            if waiting:
                log.warning("%s; retrying in %.0f s", exc, wait)
                notifications.retry_at(self.store, waiting[0].id, now + wait, str(exc))

    def _reroute(self, name: str, row: PendingNotification, now: float, error: str) -> None:
        team = self.router.team(row.team)
        targets = [] if row.rerouted_from else [
            c for c in (team.escalate_to if team else []) if c != name and c in self.channels]
        waited = f"rate limited, still not sent {now - row.created_at:.0f} s after it was queued"
        moved = f"; sent through {', '.join(targets)} instead" if targets else "; no escalation channel to move it to"
        log.error("delivery %s to %s given up: %s%s (%s)", row.id, name, waited, moved, error)
        notifications.give_up(self.store, row.id, now, f"{waited}{moved}: {error}")
        self.failed[(name, "rate_limited")] += 1
        for target in targets:
            notifications.enqueue(self.store, target, row.message, now, rerouted_from=name)

    async def resend(self, now: float, language: str, timezone: str, external_url: str | None) -> None:
        """Re-push firing, announced incidents to channels that expire alerts (Alertmanager)."""
        for name, channel in self.channels.items():
            interval = channel.resend_interval
            if not interval or now - self._last_resend.get(name, float("-inf")) < interval:
                continue
            self._last_resend[name] = now
            notices = tuple(Notice(event="firing", incident=inc) for inc in
                            self.store.incidents("state = 'firing' AND notified_severity IS NOT NULL")
                            if name in self.router.channels(inc.team, escalated=inc.escalated_at is not None))
            if not notices:
                continue
            message = Message(notices=notices, team=None, language=language, timezone=timezone,
                              external_url=external_url, created_at=now)
            try:
                await channel.send(message)
            except ChannelError as exc:
                log.warning("re-sending %d firing alerts to %s failed: %s", len(notices), name, exc)

    async def aclose(self) -> None:
        for channel in self.channels.values():
            await channel.aclose()
