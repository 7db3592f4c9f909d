"""Two token stores on one PostgreSQL, as two collectors would hold them."""

from __future__ import annotations

import time

from netmon.collectors.abc import Role
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
