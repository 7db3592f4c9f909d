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


def test_postgres_down_serves_every_token_active_at_the_last_reload_and_cannot_check_newer_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own PostgreSQL, killed: every token enrolled before the watcher's last reload keeps ingest
    going, used or not (an enrolment elsewhere just before the outage must not lock everyone out); a
    newer one is a StorageError (the collector answers 503 + Retry-After, never 401); all normal
    once back. The watcher's polls are made explicit (``refresh``) so the order is the test's."""
    monkeypatch.setattr("netmon.collectors.tokens_pg.RECHECK_SECONDS", 3600.0)
    with start_postgres() as server:
        dsn = server.create_database()
        cli = PostgresTokenStore(dsn, watch=False)
        used, unused = cli.enrol("hn-001"), cli.enrol("hn-002")
        store = PostgresTokenStore(dsn, connect_timeout=1)  # loads both
        try:
            assert store.grant_for(used) is not None
            newer = cli.enrol("hn-003")  # after the reload: this collector has not seen it yet
            server.sql("CHECKPOINT")  # the lab server runs with synchronous_commit=off: keep what was written
            server.kill()
            store.refresh()
            assert not store.reachable
            for token, site in ((used, "hn-001"), (unused, "hn-002")):
                grant = store.grant_for(token)
                assert grant is not None and grant.site_id == site
            with pytest.raises(StorageError, match="a token not seen before cannot be checked"):
                store.grant_for(newer)
            server.start()
            store.refresh()
            assert store.reachable
            assert store.grant_for(newer) is not None and store.grant_for(used) is not None
            cli.close()
            cli = PostgresTokenStore(dsn, watch=False)
            assert cli.revoke("hn-002") == 1
            store.refresh()  # the counter moved: reloaded without the revoked token
            assert store.grant_for(unused) is None
        finally:
            store.close()
            cli.close()
