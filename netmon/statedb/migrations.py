"""Versioned schemas: each part of the centre lists its migrations; the program applies what is missing.

    ALERT_MIGRATIONS = (
        Migration(1, "incidents, silences, deliveries, baselines, last seen", sqlite=V1_SQLITE, postgres=V1_PG),
        Migration(2, "who saw a site last; open incidents by site", sqlite="ALTER TABLE ...", postgres="..."),
    )
    migrate_sqlite(conn, "alerting", ALERT_MIGRATIONS)     # or migrate_postgres(conn, ...)

One ``schema_version`` table per database holds one row per component (``alerting``; the
collector's own tables will be another), so components evolve independently in one database.
Every missing step runs, in order, in one transaction with the version bump: a failure leaves
the schema as it was. Two collectors starting together against one PostgreSQL take an
advisory lock first, so one migrates and the other then finds nothing to do. A database at a
version newer than this program knows is refused (an older netmon must not write to a schema
it does not understand); steps are never edited once released, only appended.

Version 1 of a component is written with ``IF NOT EXISTS`` so that a SQLite file created before
versioning existed (same tables, no ``schema_version``) is adopted as version 1 without change.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from netmon.errors import StorageError

if TYPE_CHECKING:
    import psycopg

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL, " \
                "applied_at DOUBLE PRECISION NOT NULL)"
# pg_advisory_xact_lock key for schema changes: any fixed 64-bit number no other part uses
MIGRATION_LOCK = 0x6E65746D6F6E0001


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: str  # one or more statements
    postgres: str


def _checked(component: str, migrations: Sequence[Migration]) -> int:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{component} migrations must be numbered 1, 2, 3 ... in order; got {versions}")
    return len(versions)


def _too_new(component: str, found: int, known: int, where: str) -> StorageError:
    return StorageError(f"{where}: the {component} schema is at version {found}, newer than this netmon knows "
                        f"({known}); upgrade netmon on this host (or point it at another database)")


def statements(script: str) -> Iterator[str]:
    """Split ``script`` into complete SQL statements (a trigger body's semicolons stay inside it)."""
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if current.strip() != ";" and sqlite3.complete_statement(current):
            yield current.strip()
            current = ""
    if current.strip(" \n\t;"):
        yield current.strip()


def migrate_sqlite(conn: sqlite3.Connection, component: str, migrations: Sequence[Migration], where: str) -> int:
    """Bring ``component`` up to date in a SQLite database opened with ``isolation_level=None``."""
    known = _checked(component, migrations)
    try:
        conn.execute("BEGIN IMMEDIATE")  # the write lock first: a CLI process may migrate at the same time
        try:
            conn.execute(VERSION_TABLE)
            row = conn.execute("SELECT version FROM schema_version WHERE component = ?", (component,)).fetchone()
            found = int(row[0]) if row else 0
            if found > known:
                raise _too_new(component, found, known, where)
            for migration in migrations[found:]:
                for statement in statements(migration.sqlite):
                    conn.execute(statement)
            if found < known:
                conn.execute("INSERT INTO schema_version (component, version, applied_at) VALUES (?, ?, ?) "
                             "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
                             "applied_at = excluded.applied_at", (component, known, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StorageError(f"{where}: migrating the {component} schema failed: {exc}") from exc
    return known


def migrate_postgres(conn: psycopg.Connection[Any], component: str, migrations: Sequence[Migration],
                     where: str) -> int:
    """Bring ``component`` up to date in PostgreSQL (``conn`` in autocommit mode)."""
    import psycopg

    known = _checked(component, migrations)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(VERSION_TABLE)
            row = conn.execute("SELECT version FROM schema_version WHERE component = %s", (component,)).fetchone()
            found = int(_first(row)) if row else 0
            if found > known:
                raise _too_new(component, found, known, where)
            for migration in migrations[found:]:
                conn.execute(migration.postgres.encode())
            if found < known:
                conn.execute("INSERT INTO schema_version (component, version, applied_at) VALUES (%s, %s, %s) "
                             "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
                             "applied_at = excluded.applied_at", (component, known, time.time()))
    except psycopg.Error as exc:
        raise StorageError(f"{where}: migrating the {component} schema failed: {exc}") from exc
    return known


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def schema_version(conn: Any, component: str) -> int:
    """The version ``component`` is at (0: never migrated); for status pages and tests."""
    marker = "?" if isinstance(conn, sqlite3.Connection) else "%s"
    row = conn.execute(f"SELECT version FROM schema_version WHERE component = {marker}", (component,)).fetchone()
    return int(_first(row)) if row else 0
