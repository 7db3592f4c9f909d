"""The ``sites`` component's PostgreSQL schema: created by the program, versioned, and every write
to the token tables bumps the change counter the digest caches poll."""

from __future__ import annotations

from netmon.collectors.sites_schema_pg import COMPONENT, MIGRATIONS
from netmon.statedb.migrations import migrate_postgres, schema_version
from netmon.statedb.postgres import connect


def _counter(conn: object) -> int:
    row = conn.execute("SELECT counter FROM sites_changes WHERE id = 1").fetchone()  # type: ignore[attr-defined]
    return int(row["counter"])


def test_sites_schema_is_versioned_and_counts_changes(pg_dsn: str) -> None:
    conn = connect(pg_dsn, application_name="test", connect_timeout=5)
    try:
        assert migrate_postgres(conn, COMPONENT, MIGRATIONS, "test") == len(MIGRATIONS)
        assert migrate_postgres(conn, COMPONENT, MIGRATIONS, "test") == len(MIGRATIONS)  # a second start: no-op
        assert schema_version(conn, COMPONENT) == len(MIGRATIONS)
        assert _counter(conn) == 0
        conn.execute("INSERT INTO tokens (token_sha256, site_id, created_ns, agent_id) VALUES ('d1', 's1', 1, 's1-agent')")
        assert _counter(conn) == 1
        conn.execute("UPDATE tokens SET revoked_ns = 2 WHERE site_id = 's1'")
        assert _counter(conn) == 2
        conn.execute("INSERT INTO role_tokens (token_sha256, role, name, created_ns) VALUES ('d2', 'viewer', 'noc', 3)")
        assert _counter(conn) == 3
        conn.execute("UPDATE tokens SET revoked_ns = 4 WHERE site_id = 'nobody'")  # statement-level: still a bump
        assert _counter(conn) == 4
    finally:
        conn.close()
