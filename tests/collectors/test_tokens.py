"""The token store on a real sites.db: site tokens bound to their agent, role tokens, revocation seen
through the cache, and a sites.db of the release before migrated in place (its tokens keep working)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from netmon.collectors.abc import Role
from netmon.collectors.sqlite import connect
from netmon.collectors.tokens import TokenStore, token_digest
from netmon.errors import StorageError


def test_site_and_role_tokens_say_what_they_may_do_and_revocation_is_seen(tmp_path: Path) -> None:
    store = TokenStore(connect(tmp_path / "sites.db"))
    site = store.enrol("26734")
    named = store.enrol("26740", "box-7")
    viewer = store.issue(Role.VIEWER, "noc-hanoi")
    grant = store.grant_for(site)
    assert grant is not None and (grant.role, grant.site_id, grant.agent_id) == (Role.AGENT, "26734", "26734-agent")
    grant = store.grant_for(named)
    assert grant is not None and grant.agent_id == "box-7"
    grant = store.grant_for(viewer)
    assert grant is not None and (grant.role, grant.name, grant.site_id) == (Role.VIEWER, "noc-hanoi", None)
    assert store.grant_for("x" * 201) is None and store.grant_for(viewer + "x") is None
    with pytest.raises(ValueError, match="site tokens: 'netmon sites enrol'"):
        store.issue(Role.AGENT, "sneaky")
    other = TokenStore(connect(tmp_path / "sites.db"))  # the CLI, another process
    assert other.revoke_role("noc-hanoi") == 1 and other.revoke("26734") == 1
    store._checked = 0.0  # as after RECHECK_SECONDS
    assert store.grant_for(viewer) is None and store.grant_for(site) is None
    assert [(t.role, t.name, t.active) for t in store.role_tokens()] == [(Role.VIEWER, "noc-hanoi", False)]


def test_a_sites_db_of_the_release_before_keeps_its_tokens_and_binds_them_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "sites.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE sites (site_id TEXT PRIMARY KEY, name TEXT NOT NULL, province TEXT NOT NULL, district TEXT,
                            doc TEXT NOT NULL);
        CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE tokens (token_sha256 TEXT PRIMARY KEY, site_id TEXT NOT NULL, created_ns INTEGER NOT NULL,
                             revoked_ns INTEGER);
    """)
    conn.execute("INSERT INTO tokens VALUES (?, '26734', 1, NULL)", (token_digest("old-token"),))
    conn.commit()
    conn.close()
    path.chmod(0o644)
    store = TokenStore(connect(path))
    grant = store.grant_for("old-token")
    assert grant is not None and (grant.site_id, grant.agent_id) == ("26734", None)
    store.bind_agent(grant.digest, "26734-agent")
    bound = store.grant_for("old-token")
    assert bound is not None and bound.agent_id == "26734-agent"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # tightened when found wider


def test_a_sites_db_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "sites.db")
    conn.execute("PRAGMA user_version = 9")
    conn.close()
    with pytest.raises(StorageError, match=r"sites\.db is at schema version 9, newer than this netmon knows"):
        TokenStore(connect(tmp_path / "sites.db"))
