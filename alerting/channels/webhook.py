"""Generic webhook: POSTs Alertmanager's webhook JSON, so receivers written for Alertmanager work."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from netmon.alerting.channels.amformat import webhook_payload
from netmon.alerting.channels.base import read_secret, redact
from netmon.alerting.message import Message
from netmon.config.alerting import ChannelBase, WebhookChannelConfig
from netmon.errors import ChannelError, ChannelRateLimited, ChannelRejected


def check_answer(where: str, response: httpx.Response) -> None:
    """Map an HTTP answer to success or one of our channel errors."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = redact(response.text[:300])
    if status == 429:
        try:
            retry_after = float(response.headers.get("retry-after", "30"))
        except ValueError:
            retry_after = 30.0
        raise ChannelRateLimited(f"{where}: rate limited (429): {detail}", retry_after=retry_after)
    if status >= 500 or status == 408:
        raise ChannelError(f"{where}: server error {status}: {detail}")
    raise ChannelRejected(f"{where}: refused ({status}): {detail}")


async def post_json(client: httpx.AsyncClient, where: str, url: str, body: Any, headers: dict[str, str]) -> None:
    try:
        response = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ChannelError(f"{where}: {type(exc).__name__}: {redact(str(exc))}") from None
    check_answer(where, response)


class WebhookChannel:
    kind: ClassVar[str] = "webhook"
    config_model: ClassVar[type[ChannelBase]] = WebhookChannelConfig
    max_text_chars: ClassVar[int | None] = None

    def __init__(self, config: Any) -> None:
        assert isinstance(config, WebhookChannelConfig)
        self.config = config
        self.resend_interval: float | None = None
        self._headers: dict[str, str] = {}
        if config.bearer_token_file:
            self._headers["Authorization"] = f"Bearer {read_secret(config.bearer_token_file, 'webhook token')}"
        self._client = httpx.AsyncClient(timeout=config.timeout)

    async def send(self, message: Message) -> None:
        body = webhook_payload(message, receiver=self.config.name, max_alerts=self.config.max_alerts)
        await post_json(self._client, f"webhook channel {self.config.name!r}", self.config.url, body, self._headers)

    async def aclose(self) -> None:
        await self._client.aclose()
