"""Zalo Bot Platform (bot.zaloplatforms.com): Telegram-style sendMessage, 2000 characters per message."""

from __future__ import annotations

from typing import ClassVar

from netmon.alerting.channels.botapi import BotApiChannel
from netmon.config.alerting import ChannelBase, ZaloChannelConfig


class ZaloChannel(BotApiChannel):
    kind: ClassVar[str] = "zalo"
    config_model: ClassVar[type[ChannelBase]] = ZaloChannelConfig
    max_text_chars: ClassVar[int | None] = 2000
    service: ClassVar[str] = "Zalo"
