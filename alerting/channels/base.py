"""The one shape every alert channel has, and what they share: secrets from files, kept out of logs.

A channel turns a ``Message`` into one request to its service and raises, where the
service's answer enters our code: ``ChannelRateLimited`` (try again after
``retry_after``), ``ChannelRejected`` (permanent: bad chat id, bad address, bad token) or
``ChannelError`` (transient: network, 5xx). Retries, backoff and rate limits are the
dispatcher's job (``alerting.dispatch``), the same for every channel.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Protocol

from netmon.alerting.message import Message
from netmon.config.alerting import ChannelBase
from netmon.errors import ConfigError


class Channel(Protocol):
    kind: ClassVar[str]
    config_model: ClassVar[type[ChannelBase]]
    # Longest text the service accepts in one message; None for structured (JSON) receivers.
    max_text_chars: ClassVar[int | None]
    # Services that expire alerts unless re-sent (Alertmanager) set this; None otherwise.
    resend_interval: float | None

    @property
    def config(self) -> ChannelBase: ...

    def __init__(self, config: Any) -> None: ...

    async def send(self, message: Message) -> None: ...

    async def aclose(self) -> None: ...


class _Redact(logging.Filter):
    """Replaces known secrets in log records (httpx logs request URLs, and a bot token is in the URL)."""

    secrets: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            clean = text
            for secret in self.secrets:
                clean = clean.replace(secret, "***")
            if clean != text:
                record.msg, record.args = clean, None
        return True


_REDACT = _Redact()
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_REDACT)


def redact(text: str) -> str:
    for secret in _Redact.secrets:
        text = text.replace(secret, "***")
    return text


def read_secret(path: str, what: str) -> str:
    """The secret in ``path`` (surrounding whitespace removed); refused at start if unreadable or empty."""
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", None, f"cannot read {what}: {exc.__class__.__name__}")]) from None
    if not secret:
        raise ConfigError(path, [("", None, f"{what} file is empty")])
    if len(secret) >= 6:
        _Redact.secrets.add(secret)
    return secret
