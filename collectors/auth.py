"""Per-site bearer tokens on the request: 401 without a valid one, 403 for a site gone from the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from netmon.collectors.http_errors import ApiError
from netmon.config.registry import RegistrySite
from netmon.errors import StorageError

if TYPE_CHECKING:
    from netmon.collectors.core import CollectorCore

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="netmon"'}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(core: CollectorCore, request: Request) -> RegistrySite:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "missing site token: send 'Authorization: Bearer <token>' (issued by "
                            "'netmon sites enrol SITE_ID')", reason="unauthorized", headers=CHALLENGE)
    try:
        site_id = core.tokens.site_for(token)
    except StorageError as exc:
        raise ApiError(503, f"the token store is unavailable ({exc}); retry", reason="storage_error",
                       headers={"Retry-After": "5"}) from exc
    if site_id is None:
        raise ApiError(401, "invalid or revoked site token", reason="unauthorized", headers=CHALLENGE)
    site = core.sites.site(site_id)
    if site is None:
        raise ApiError(403, f"site {site_id!r} holds a token but is not in the site registry", reason="forbidden")
    return site
