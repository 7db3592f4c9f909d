"""Telegram Bot API (https://core.telegram.org/bots/api#sendmessage): 4096 characters per message."""

from __future__ import annotations

from typing import ClassVar

from netmon.alerting.channels.botapi import BotApiChannel
from netmon.config.alerting import ChannelBase, TelegramChannelConfig


class TelegramChannel(BotApiChannel):
    kind: ClassVar[str] = "telegram"
    config_model: ClassVar[type[ChannelBase]] = TelegramChannelConfig
    max_text_chars: ClassVar[int | None] = 4096
    service: ClassVar[str] = "Telegram"
