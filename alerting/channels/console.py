"""Prints each message (stdout, or appended to ``path``): for the demo and for trying rules out."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, ClassVar

from netmon.alerting.message import Message
from netmon.config.alerting import ChannelBase, ConsoleChannelConfig
from netmon.errors import ChannelError


class ConsoleChannel:
    kind: ClassVar[str] = "console"
    config_model: ClassVar[type[ChannelBase]] = ConsoleChannelConfig
    max_text_chars: ClassVar[int | None] = None

    def __init__(self, config: Any) -> None:
        assert isinstance(config, ConsoleChannelConfig)
        self.config = config
        self.resend_interval: float | None = None

    async def send(self, message: Message) -> None:
        block = f"----- netmon → {self.config.name} -----\n{message.text()}\n"
        if self.config.path is None:
            sys.stdout.write(block)
            sys.stdout.flush()
            return
        try:
            await asyncio.to_thread(_append, self.config.path, block)
        except OSError as exc:
            raise ChannelError(f"console channel {self.config.name!r}: {exc}") from None

    async def aclose(self) -> None:
        return None


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
