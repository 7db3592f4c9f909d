"""Two token stores on one PostgreSQL, as two collectors would hold them."""

from __future__ import annotations

import time
from pathlib import Path

from netmon.collectors.abc import Role
from netmon.collectors.sqlite import connect
from netmon.collectors.tokens import TokenStore
from netmon.collectors.tokens_pg import PostgresTokenStore


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
