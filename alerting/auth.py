"""The admin token that may acknowledge incidents and set silences.

The collector reads ``alerting.admin_token_file``: either the token itself, or only its
hash as ``sha256:<hex>`` (what ``netmon alerts token --write FILE`` stores, so the
server never holds the token). Requests carry ``Authorization: Bearer <token>``; tokens
are compared by hash in constant time and never logged. Without a configured file, ack
and silence are refused (403), never open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from netmon.errors import ConfigError

PREFIX = "sha256:"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token and the line to store for the server (its hash)."""
    token = secrets.token_urlsafe(32)
    return token, PREFIX + digest(token)


class AdminToken:
    def __init__(self, expected_digest: str | None) -> None:
        self._digest = expected_digest

    @classmethod
    def from_file(cls, path: str | None) -> AdminToken:
        if path is None:
            return cls(None)
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(path, [("", None, f"cannot read the admin token file: {exc.__class__.__name__}")]) \
                from None
        if not text:
            raise ConfigError(path, [("", None, "the admin token file is empty")])
        if text.startswith(PREFIX):
            value = text[len(PREFIX):].strip().lower()
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise ConfigError(path, [("", 1, "expected 'sha256:' and 64 hex digits")])
            return cls(value)
        return cls(digest(text))

    @property
    def configured(self) -> bool:
        return self._digest is not None

    def check(self, token: str | None) -> bool:
        if self._digest is None or not token:
            return False
        return hmac.compare_digest(digest(token), self._digest)
