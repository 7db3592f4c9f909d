"""Who a request's token belongs to, and whether that role may call the route.

Every route but ``/healthz`` needs a token (docs/security.md): a site token (role ``agent``)
sends its own site's results and reads its own plan, nothing else; a viewer token reads; an
operator token also acknowledges and silences; an admin token also lists tokens. The token
comes as ``Authorization: Bearer <token>``, or as the password of HTTP Basic (any user name),
so a browser asks for it on ``/docs``.

Besides the tokens in ``sites.db``, ``alerting.admin_token_file`` may hold one admin token: the
token itself, or only its hash as ``sha256:<hex>`` (what ``netmon alerts token --write`` stores,
so the server never holds the token).

Unauthenticated (401) without a valid token, Forbidden (403) for a role that may not,
CollectorBusy (503, retry) when the token store cannot be read.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request

from netmon.collectors.abc import Principal, Role
from netmon.collectors.sitestore import RegistryStore
from netmon.collectors.tokens import Grant, TokenBackend, token_digest
from netmon.config.registry import RegistrySite
from netmon.errors import CollectorBusy, ConfigError, Forbidden, StorageError, Unauthenticated

HASH_PREFIX = "sha256:"


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (or the password of ``Basic``), or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if not value:
        return None
    if scheme.lower() == "bearer":
        return value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        password = decoded.partition(":")[2].strip()
        return password or None
    return None


def admin_file_digest(path: str | None) -> str | None:
    """The SHA-256 of the admin token in ``alerting.admin_token_file``; ConfigError for a bad file."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", None, f"cannot read the admin token file: {exc.__class__.__name__}")]) \
            from None
    if not text:
        raise ConfigError(path, [("", None, "the admin token file is empty")])
    if text.startswith(HASH_PREFIX):
        value = text[len(HASH_PREFIX):].strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ConfigError(path, [("", 1, "expected 'sha256:' and 64 hex digits")])
        return value
    return token_digest(text)


def _missing(what: str) -> Unauthenticated:
    return Unauthenticated(f"missing token: {what} needs 'Authorization: Bearer <token>'")


class Authenticator:
    def __init__(self, tokens: TokenBackend, sites: RegistryStore, admin_digest: str | None = None) -> None:
        self._tokens = tokens
        self._sites = sites
        self._admin_digest = admin_digest

    def grant(self, token: str | None, what: str, kind: str = "token") -> Grant:
        if token is None:
            raise _missing(what)
        try:
            grant = self._tokens.grant_for(token)
        except StorageError as exc:
            raise CollectorBusy(f"the token store is unavailable ({exc}); retry", reason="storage_error",
                                retry_after=5) from exc
        if grant is None and self._admin_digest is not None and hmac.compare_digest(
                token_digest(token), self._admin_digest):
            grant = Grant(self._admin_digest, Role.ADMIN, "alerting.admin_token_file")
        if grant is None:
            raise Unauthenticated(f"invalid or revoked {kind}")
        return grant

    def site_for(self, token: str | None) -> tuple[RegistrySite, Grant]:
        """The registry site of a site token (the agent routes)."""
        if token is None:
            raise Unauthenticated("missing site token: send 'Authorization: Bearer <token>' (issued by "
                                  "'netmon sites enrol SITE_ID')")
        grant = self.grant(token, "this route", "site token")
        if grant.role is not Role.AGENT or grant.site_id is None:
            raise Forbidden(f"a {grant.role.value} token cannot act for a site: agents use their site token")
        site = self._sites.site(grant.site_id)
        if site is None:
            raise Forbidden(f"site {grant.site_id!r} holds a token but is not in the site registry")
        return site, grant

    def bind_agent(self, grant: Grant, agent_id: str) -> None:
        """Bind a site token enrolled before agents were bound to the agent it speaks for now."""
        try:
            self._tokens.bind_agent(grant.digest, agent_id)
        except StorageError as exc:
            raise CollectorBusy(f"the token store is unavailable ({exc}); retry", reason="storage_error",
                                retry_after=5) from exc

    def principal(self, token: str | None, role: Role, what: str) -> Principal:
        grant = self.grant(token, what)
        if grant.role is Role.AGENT:
            raise Forbidden(f"a site token may only send its site's results and read its plan, not {what}")
        if grant.role.rank < role.rank:
            raise Forbidden(f"{what} needs the {role.value} role; this token is a {grant.role.value} token")
        return Principal(grant.role, grant.name, grant.site_id)

    def require(self, role: Role) -> Callable[[Request], Principal]:
        """A FastAPI dependency: the caller's ``Principal`` when its token has ``role`` or above."""
        def dependency(request: Request) -> Principal:
            what = f"{request.method} {request.url.path}"
            return self.principal(bearer_token(request.headers.get("authorization")), role, what)
        return dependency
