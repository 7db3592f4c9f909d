"""Push to an existing Alertmanager (``POST /api/v2/alerts``); its routes, silences and receivers take over.

Like Prometheus, firing alerts carry ``endsAt`` a few resend intervals ahead and are re-sent
every ``resend_interval``, so Alertmanager resolves them on its own if netmon stops; a
resolve is sent with ``endsAt`` = the time it ended.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import httpx

from netmon.alerting.channels.amformat import postable_alert
from netmon.alerting.channels.base import read_secret
from netmon.alerting.channels.webhook import post_json
from netmon.alerting.message import Message
from netmon.config.alerting import AlertmanagerChannelConfig, ChannelBase

RESENDS_BEFORE_EXPIRY = 4


class AlertmanagerChannel:
    kind: ClassVar[str] = "alertmanager"
    config_model: ClassVar[type[ChannelBase]] = AlertmanagerChannelConfig
    max_text_chars: ClassVar[int | None] = None

    def __init__(self, config: Any) -> None:
        assert isinstance(config, AlertmanagerChannelConfig)
        self.config = config
        self.resend_interval: float | None = config.resend_interval
        self._headers: dict[str, str] = {}
        if config.bearer_token_file:
            self._headers["Authorization"] = f"Bearer {read_secret(config.bearer_token_file, 'Alertmanager token')}"
        self._client = httpx.AsyncClient(timeout=config.timeout)

    async def send(self, message: Message) -> None:
        now = time.time()
        horizon = RESENDS_BEFORE_EXPIRY * self.config.resend_interval
        alerts = [postable_alert(n, message, now, horizon) for n in message.notices]
        url = f"{self.config.url.rstrip('/')}/api/v2/alerts"
        await post_json(self._client, f"alertmanager channel {self.config.name!r}", url, alerts, self._headers)

    async def aclose(self) -> None:
        await self._client.aclose()
