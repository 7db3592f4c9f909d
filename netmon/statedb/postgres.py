"""Connections to the shared PostgreSQL, made one way everywhere; psycopg errors become ``StorageError``.

    conn = connect(dsn, application_name="netmon-collector col-a:8080", connect_timeout=5)

Every connection detects a dead peer within seconds, on both sides: libpq's TCP keepalives
(idle 5 s, then 3 probes 2 s apart) and ``tcp_user_timeout`` (10 s of unacknowledged data)
on ours, the same settings for the server's end of the session, so PostgreSQL drops the
session of a collector whose host died — and with it that collector's advisory locks (the
alert dispatcher's lease, ``alerting/store_postgres.py``) — in about 11 s instead of the
kernel's two hours. ``statement_timeout`` (10 s) bounds how long a call into the database can
hold the collector's event loop; ``idle_in_transaction_session_timeout`` ends a session that
died mid-transaction. A DSN that sets ``options`` itself keeps its own.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from netmon.errors import StorageError

if TYPE_CHECKING:
    import psycopg

KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
             "tcp_user_timeout": 10_000}
SERVER_OPTIONS = ("-c statement_timeout=10000 -c idle_in_transaction_session_timeout=60000 "
                  "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 "
                  "-c tcp_user_timeout=10000")


def describe(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, for messages (never its password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # psycopg.ProgrammingError for an unparsable DSN: say so without echoing it
        return "PostgreSQL (unparsable DSN)"
    return f"PostgreSQL {parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def connect(dsn: str, *, application_name: str, connect_timeout: float) -> psycopg.Connection[dict[str, Any]]:
    """An autocommit connection with dict rows; ``StorageError`` naming host and database on failure."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.rows import dict_row

    try:
        given = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise StorageError(f"the PostgreSQL DSN cannot be parsed: {type(exc).__name__}") from None
    extra: dict[str, Any] = {**KEEPALIVE, "application_name": application_name[:63],
                             "connect_timeout": max(1, int(connect_timeout))}
    if "options" not in given:
        extra["options"] = SERVER_OPTIONS
    try:
        return psycopg.connect(dsn, autocommit=True, row_factory=dict_row, **extra)
    except psycopg.Error as exc:
        raise StorageError(f"{describe(dsn)}: cannot connect: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def storage_error(where: str, exc: BaseException) -> StorageError:
    return StorageError(f"{where}: {_one_line(exc)}")


class Reconnecting:
    """One connection, re-made after it broke; while the server is unreachable, calls fail at once
    (for ``retry_seconds``) instead of each waiting for a connect timeout on the event loop."""

    def __init__(self, dsn: str, *, application_name: str, connect_timeout: float,
                 retry_seconds: float = 2.0) -> None:
        self.dsn = dsn
        self.where = describe(dsn)
        self.application_name = application_name
        self.connect_timeout = connect_timeout
        self.retry_seconds = retry_seconds
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._retry_at = 0.0
        self.last_error: str | None = None

    def get(self) -> psycopg.Connection[dict[str, Any]]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self.drop()
        now = time.monotonic()
        if now < self._retry_at:
            raise StorageError(f"{self.where} unavailable ({self.last_error}); retrying in "
                               f"{self._retry_at - now:.0f} s")
        try:
            self._conn = connect(self.dsn, application_name=self.application_name,
                                 connect_timeout=self.connect_timeout)
        except StorageError as exc:
            self._retry_at = now + self.retry_seconds
            self.last_error = str(exc)
            raise
        self.last_error = None
        return self._conn

    @property
    def up(self) -> bool:
        return self._conn is not None and not self._conn.closed and not self._conn.broken

    def drop(self) -> None:
        """Forget the connection (after an error that may have broken it)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may raise anything psycopg raises
                conn.close()
