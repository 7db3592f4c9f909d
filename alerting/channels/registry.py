"""Explicit registration of alert channel types; the one place that lists them all.

Registering a type twice is a programming error and raises at once (like
``probes.registry`` and prometheus_client's ``CollectorRegistry``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netmon.alerting.channels.base import Channel
from netmon.config.alerting import ChannelBase


class DuplicateChannelType(ValueError):
    pass


class UnknownChannelType(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class ChannelRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[Channel]] = {}

    def register(self, channel_class: type[Channel]) -> type[Channel]:
        name = channel_class.kind
        if name in self._types:
            raise DuplicateChannelType(
                f"channel type {name!r} is already registered by {self._types[name].__qualname__}")
        self._types[name] = channel_class
        return channel_class

    def get(self, name: str) -> type[Channel]:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownChannelType(f"unknown channel type {name!r}; known: {', '.join(self.types())}") from None

    def types(self) -> list[str]:
        return sorted(self._types)

    def build(self, config: ChannelBase) -> Channel:
        kind: Any = getattr(config, "type")  # noqa: B009 - every concrete channel config has a type literal
        return self.get(str(kind))(config)

    def build_all(self, configs: Iterable[ChannelBase]) -> dict[str, Channel]:
        return {config.name: self.build(config) for config in configs}


def default_channel_registry() -> ChannelRegistry:
    """Every channel type netmon ships, one line each."""
    from netmon.alerting.channels.alertmanager import AlertmanagerChannel
    from netmon.alerting.channels.console import ConsoleChannel
    from netmon.alerting.channels.smtp import SmtpChannel
    from netmon.alerting.channels.telegram import TelegramChannel
    from netmon.alerting.channels.webhook import WebhookChannel
    from netmon.alerting.channels.zalo import ZaloChannel

    registry = ChannelRegistry()
    registry.register(ZaloChannel)
    registry.register(TelegramChannel)
    registry.register(SmtpChannel)
    registry.register(WebhookChannel)
    registry.register(AlertmanagerChannel)
    registry.register(ConsoleChannel)
    return registry
