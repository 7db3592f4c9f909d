"""Two token stores on one PostgreSQL, as two collectors would hold them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netmon.collectors.abc import Role
from netmon.collectors.sqlite import connect
from netmon.collectors.tokens import TokenStore
from netmon.collectors.tokens_pg import PostgresTokenStore
from netmon.errors import StorageError
from netmon.lab.netns import wait_until
from netmon.lab.postgres import start_postgres


def test_enrolment_on_one_is_valid_on_the_other_and_revocation_reaches_it_within_2_s(pg_dsn: str) -> None:
    a, b = PostgresTokenStore(pg_dsn), PostgresTokenStore(pg_dsn)
    try:
        token = a.enrol("hn-001")
        grant = b.grant_for(token)
        assert grant is not None and grant.site_id == "hn-001" and grant.agent_id == "hn-001-agent"
        viewer = b.issue(Role.VIEWER, "noc")
        assert a.grant_for(viewer) is not None and a.grant_for(viewer).role is Role.VIEWER  # type: ignore[union-attr]
        assert a.grant_for(token) is not None  # now cached on A
        assert b.revoke("hn-001") == 1
        started = time.monotonic()
        while a.grant_for(token) is not None:
            assert time.monotonic() - started < 2.0, "revocation on B not seen by A within 2 s"
            time.sleep(0.05)
        assert a.grant_for("never-issued") is None
        assert [t.active for t in b.tokens()] == [False]
    finally:
        a.close()
        b.close()


def test_first_start_on_postgres_copies_the_digests_of_sites_db_once(pg_dsn: str, tmp_path: Path) -> None:
    local = TokenStore(connect(tmp_path / "sites.db"))
    site_token, viewer = local.enrol("hn-009"), local.issue(Role.VIEWER, "noc")
    local.enrol("hn-010")
    local.revoke("hn-010")
    pg = PostgresTokenStore(pg_dsn)
    try:
        assert pg.import_once(*local.export_rows()) == 3
        grant = pg.grant_for(site_token)
        assert grant is not None and grant.agent_id == "hn-009-agent"
        assert pg.grant_for(viewer) is not None
        assert [(t.site_id, t.active) for t in pg.tokens()] == [("hn-009", True), ("hn-010", False)]
        local.enrol("hn-011")
        assert pg.import_once(*local.export_rows()) == 0  # PostgreSQL is the truth from now on
        assert {t.site_id for t in pg.tokens()} == {"hn-009", "hn-010"}
    finally:
        pg.close()


def test_postgres_down_serves_tokens_already_seen_and_cannot_check_new_ones(tmp_path: Path) -> None:
    """Its own PostgreSQL, killed: cached grants keep ingest going, a token not seen before is a
    StorageError (the collector answers 503 + Retry-After, never 401), and all is normal once back."""
    with start_postgres() as server:
        dsn = server.create_database()
        store = PostgresTokenStore(dsn, connect_timeout=1)
        try:
            seen, unseen = store.enrol("hn-001"), store.enrol("hn-002")
            assert store.grant_for(seen) is not None
            server.sql("CHECKPOINT")  # the lab server runs with synchronous_commit=off: keep what was written
            server.kill()
            wait_until(lambda: not store.reachable, 10, what="the watcher noticing PostgreSQL is gone")
            grant = store.grant_for(seen)
            assert grant is not None and grant.site_id == "hn-001"
            with pytest.raises(StorageError, match="a token not seen before cannot be checked"):
                store.grant_for(unseen)
            server.start()
            wait_until(lambda: store.reachable, 15, what="the watcher reconnecting")
            assert store.grant_for(unseen) is not None and store.grant_for(seen) is not None
        finally:
            store.close()
