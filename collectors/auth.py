"""Per-site bearer tokens: which registry site a request's token belongs to.

Unauthenticated without a valid token (401), Forbidden for a site gone from the registry (403),
CollectorBusy when the token store cannot be read (503, retry).
"""

from __future__ import annotations

from netmon.collectors.sitestore import RegistryStore
from netmon.collectors.tokens import TokenStore
from netmon.config.registry import RegistrySite
from netmon.errors import CollectorBusy, Forbidden, StorageError, Unauthenticated


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class SiteAuthenticator:
    def __init__(self, tokens: TokenStore, sites: RegistryStore) -> None:
        self._tokens = tokens
        self._sites = sites

    def site_for(self, token: str | None) -> RegistrySite:
        if token is None:
            raise Unauthenticated("missing site token: send 'Authorization: Bearer <token>' (issued by "
                                  "'netmon sites enrol SITE_ID')")
        try:
            site_id = self._tokens.site_for(token)
        except StorageError as exc:
            raise CollectorBusy(f"the token store is unavailable ({exc}); retry", reason="storage_error",
                                retry_after=5) from exc
        if site_id is None:
            raise Unauthenticated("invalid or revoked site token")
        site = self._sites.site(site_id)
        if site is None:
            raise Forbidden(f"site {site_id!r} holds a token but is not in the site registry")
        return site
