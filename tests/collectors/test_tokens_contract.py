"""One set of token-store behaviours, run against sites.db and against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.collectors.abc import Role
from netmon.collectors.sqlite import connect
from netmon.collectors.tokens import TokenBackend, TokenStore, token_digest
from netmon.collectors.tokens_pg import PostgresTokenStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenBackend]:
    if request.param == "sqlite":
        yield TokenStore(connect(tmp_path / "sites.db"))
        return
    pg = PostgresTokenStore(request.getfixturevalue("pg_dsn"))
    yield pg
    pg.close()


def test_enrol_replaces_the_sites_earlier_token(store: TokenBackend) -> None:
    first = store.enrol("hn-001")
    second = store.enrol("hn-001", "hn-001-b")
    assert store.grant_for(first) is None
    grant = store.grant_for(second)
    assert grant is not None and (grant.role, grant.site_id, grant.agent_id) == (Role.AGENT, "hn-001", "hn-001-b")
    assert grant.digest == token_digest(second)
    assert [t.active for t in store.tokens()] == [False, True] and store.has_active("hn-001")


def test_revoke_counts_and_refuses(store: TokenBackend) -> None:
    token = store.enrol("hn-002")
    assert store.revoke("hn-002") == 1 and store.revoke("hn-002") == 0
    assert store.grant_for(token) is None and not store.has_active("hn-002")


def test_role_tokens(store: TokenBackend) -> None:
    viewer = store.issue(Role.VIEWER, "noc")
    grant = store.grant_for(viewer)
    assert grant is not None and (grant.role, grant.name, grant.site_id) == (Role.VIEWER, "noc", None)
    with pytest.raises(ValueError):
        store.issue(Role.AGENT, "x")
    assert store.revoke_role("noc") == 1 and store.grant_for(viewer) is None
    assert [(t.role, t.name, t.active) for t in store.role_tokens()] == [(Role.VIEWER, "noc", False)]


@pytest.mark.parametrize("bad", ["", "x" * 201, "not-a-token"])
def test_malformed_or_unknown_tokens_are_refused(store: TokenBackend, bad: str) -> None:
    store.enrol("hn-003")
    assert store.grant_for(bad) is None
