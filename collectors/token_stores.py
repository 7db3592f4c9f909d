"""Which token store a collector (or the CLI acting for it) uses: ``sites.db`` or the shared PostgreSQL.

With ``state.postgres`` in central.yaml the token digests live in PostgreSQL, so a site enrolled
or a token revoked through any collector holds on every collector of the province. The first
collector that starts on an empty PostgreSQL copies its ``sites.db`` digests there once, so the
agents enrolled before the move keep working; later ``sites.db`` digests are not merged.
"""

from __future__ import annotations

import sqlite3

from netmon.collectors.tokens import TokenBackend, TokenStore
from netmon.statedb import StateLocation


def open_token_store(state: StateLocation, sites_db: sqlite3.Connection, *, watch: bool = True) -> TokenBackend:
    """The store of ``state``; ``watch`` False for a short-lived CLI call (no change watcher thread)."""
    local = TokenStore(sites_db)
    if state.postgres_dsn is None:
        return local
    from netmon.collectors.tokens_pg import PostgresTokenStore

    shared = PostgresTokenStore(state.postgres_dsn, application_name=f"netmon-tokens {state.instance}",
                                connect_timeout=state.connect_timeout_seconds, watch=watch)
    try:
        shared.import_once(*local.export_rows())
    except BaseException:
        shared.close()
        raise
    return shared
