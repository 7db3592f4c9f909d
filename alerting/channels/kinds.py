"""Explicit registration of alert channel kinds; the one place that lists them all.

Registering a kind twice is a programming error and raises at once (like
``probes.kinds`` and prometheus_client's ``CollectorRegistry``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netmon.alerting.channels.base import Channel
from netmon.config.alerting import ChannelBase
from netmon.errors import AlreadyRegistered, NotRegistered


class ChannelKinds:
    """The channel kinds alerting can send through, by the ``type`` a channel config names."""

    def __init__(self) -> None:
        self._types: dict[str, type[Channel]] = {}

    def register(self, channel_class: type[Channel]) -> type[Channel]:
        name = channel_class.kind
        if name in self._types:
            raise AlreadyRegistered(
                f"channel type {name!r} is already registered by {self._types[name].__qualname__}")
        self._types[name] = channel_class
        return channel_class

    def get(self, name: str) -> type[Channel]:
        try:
            return self._types[name]
        except KeyError:
            raise NotRegistered(f"unknown channel type {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def build(self, config: ChannelBase) -> Channel:
        kind: Any = getattr(config, "type")  # noqa: B009 - every concrete channel config has a type literal
        return self.get(str(kind))(config)

    def build_all(self, configs: Iterable[ChannelBase]) -> dict[str, Channel]:
        return {config.name: self.build(config) for config in configs}


def default_channel_kinds() -> ChannelKinds:
    """Every channel kind netmon ships, one line each."""
    from netmon.alerting.channels.alertmanager import AlertmanagerChannel
    from netmon.alerting.channels.console import ConsoleChannel
    from netmon.alerting.channels.smtp import SmtpChannel
    from netmon.alerting.channels.telegram import TelegramChannel
    from netmon.alerting.channels.webhook import WebhookChannel
    from netmon.alerting.channels.zalo import ZaloChannel

    kinds = ChannelKinds()
    kinds.register(ZaloChannel)
    kinds.register(TelegramChannel)
    kinds.register(SmtpChannel)
    kinds.register(WebhookChannel)
    kinds.register(AlertmanagerChannel)
    kinds.register(ConsoleChannel)
    return kinds
