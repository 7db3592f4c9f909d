"""Sending: queued notifications to channels, with one retry policy and one rate limit per channel.

Per channel, rows go out in order and one at a time; channels run side by side. A
``ChannelRateLimited`` answer parks the channel until ``retry_after``; a transient error
backs off exponentially (5 s doubling to 5 min) until the channel's ``give_up_after``; a
``ChannelRejected`` answer gives that row up at once (logged) and the channel carries on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
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

    async def deliver(self, now: float) -> int:
        """Send what is due; returns how many deliveries succeeded."""
        due = notifications.pending(self.store, now)
        results = await asyncio.gather(*(self._channel(name, rows, now) for name, rows in due.items()))
        return sum(results)

    async def _channel(self, name: str, rows: list[PendingNotification], now: float) -> int:
        channel = self.channels.get(name)
        sent = 0
        for row in rows:
            if channel is None:
                notifications.give_up(self.store, row.id, now, f"no channel named {name!r} is configured")
                continue
            if not self.buckets[name].take(now):
                break  # over this channel's rate: the row stays queued for a later pass
            try:
                await asyncio.wait_for(channel.send(row.message), timeout=channel.config.timeout + 5.0)
            except ChannelRateLimited as exc:
                log.warning("%s; retrying in %.0f s", exc, exc.retry_after)
                notifications.retry_at(self.store, row.id, now + exc.retry_after, str(exc))
                break
            except ChannelRejected as exc:
                log.error("delivery %s given up: %s", row.id, exc)
                notifications.give_up(self.store, row.id, now, str(exc))
            except (ChannelError, TimeoutError) as exc:
                error = str(exc) or type(exc).__name__
                if now - row.created_at >= channel.config.give_up_after:
                    log.error("delivery %s given up after %d attempts: %s", row.id, row.attempts + 1, error)
                    notifications.give_up(self.store, row.id, now, error)
                    continue
                delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** row.attempts)
                log.warning("delivery %s to %s failed (%s); retrying in %.0f s", row.id, name, error, delay)
                notifications.retry_at(self.store, row.id, now + delay, error)
                break
            else:
                notifications.delivered(self.store, row.id, now)
                sent += 1
        return sent

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
