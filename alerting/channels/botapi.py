"""Telegram-style Bot API ``sendMessage`` (Telegram, and Zalo Bot Platform which copies it).

Request: ``POST {base_url}/bot{token}/sendMessage`` with JSON ``{"chat_id", "text"}``.
Answer: ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error_code": N,
"description": "...", "parameters": {"retry_after": S}}``; Telegram also sets the HTTP
status to the error code, Zalo may answer 200 with ``ok: false``. The token is in the URL,
so errors are built here without it and httpx's own log lines are redacted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from netmon.alerting.channels.base import read_secret, redact
from netmon.alerting.message import Message
from netmon.config.alerting import TelegramChannelConfig, ZaloChannelConfig
from netmon.errors import ChannelError, ChannelRateLimited, ChannelRejected

DEFAULT_RETRY_AFTER_SECONDS = 30.0


class BotApiChannel:
    kind: ClassVar[str]
    max_text_chars: ClassVar[int | None]
    service: ClassVar[str]

    def __init__(self, config: Any) -> None:
        assert isinstance(config, TelegramChannelConfig | ZaloChannelConfig)
        self.config = config
        self.resend_interval: float | None = None
        self._token = read_secret(config.token_file, f"{self.service} bot token")
        self._client = httpx.AsyncClient(timeout=config.timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.config.name!r}, chat_id={self.config.chat_id!r})"

    async def send(self, message: Message) -> None:
        where = f"{self.service} channel {self.config.name!r}"
        url = f"{self.config.base_url.rstrip('/')}/bot{self._token}/sendMessage"
        body = {"chat_id": self.config.chat_id, "text": message.text(self.max_text_chars)}
        try:
            response = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise ChannelError(f"{where}: {type(exc).__name__}: {redact(str(exc))}") from None
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        status = response.status_code
        code = data.get("error_code") if isinstance(data.get("error_code"), int) else None
        description = redact(str(data.get("description") or response.reason_phrase or ""))[:300]
        if status == 429 or code == 429:
            parameters = data.get("parameters")
            retry_after = (parameters.get("retry_after") if isinstance(parameters, dict) else None) \
                or response.headers.get("retry-after")
            try:
                seconds = float(retry_after) if retry_after is not None else DEFAULT_RETRY_AFTER_SECONDS
            except ValueError:
                seconds = DEFAULT_RETRY_AFTER_SECONDS
            raise ChannelRateLimited(f"{where}: rate limited: {description}", retry_after=seconds)
        if 200 <= status < 300 and data.get("ok") is True:
            return
        if status >= 500 or (code is not None and code >= 500) or status == 408:
            raise ChannelError(f"{where}: server error {code or status}: {description}")
        raise ChannelRejected(f"{where}: refused ({code or status}): {description}")

    async def aclose(self) -> None:
        await self._client.aclose()
