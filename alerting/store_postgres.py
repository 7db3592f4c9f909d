"""The alert store in PostgreSQL, shared by several collectors (``state: {postgres: ...}`` in central.yaml).

What makes side-by-side collectors safe:

- **one open incident per key**: the partial unique index ``incidents_open_key`` and
  ``INSERT ... ON CONFLICT DO NOTHING`` (``AlertStore.open_incident``): the second collector to
  open an incident gets the first one's row instead of a second page;
- **planning one at a time**: ``transaction(exclusive=True)`` takes a transaction-scoped
  advisory lock, so storm control and the planner of one collector see what the other one
  committed before it and never queue the same message twice;
- **one dispatcher**: a session advisory lock held on a connection of its own (``holds_dispatch``).
  Only its holder sends, so per-channel order, rate limits and ``Retry-After`` stay whole. When
  the holder dies its session ends — at once for a killed process (the kernel closes the
  socket), within ~11 s for a dead host (``statedb.postgres`` keepalives) — and the lock passes to
  the next collector that asks (every delivery pass, about once a second).

Transactions begin lazily (``BEGIN`` before the first statement inside ``transaction()``), so an
evaluation pass that changes nothing costs no round trip. A lost connection is re-made on the
next call; while PostgreSQL is unreachable calls fail at once with ``StorageError``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from netmon.alerting.store import AlertStore, Row
from netmon.alerting.store_schema import COMPONENT, MIGRATIONS
from netmon.errors import StorageError
from netmon.statedb.migrations import migrate_postgres
from netmon.statedb.postgres import Reconnecting, storage_error

if TYPE_CHECKING:
    import psycopg

# advisory lock keys (any fixed 64-bit numbers no other part of netmon uses)
PLAN_LOCK = 0x6E65746D6F6E0101
DISPATCH_LOCK = 0x6E65746D6F6E0102


class PostgresAlertStore(AlertStore):
    backend = "postgres"
    shared = True

    def __init__(self, dsn: str, *, instance: str, connect_timeout: float = 5.0) -> None:
        self.instance = instance
        self._conn = Reconnecting(dsn, application_name=f"netmon-collector {instance}", connect_timeout=connect_timeout)
        self._lease = Reconnecting(dsn, application_name=f"netmon-dispatch {instance}",
                                   connect_timeout=connect_timeout)
        self.where = f"alert state in {self._conn.where}"
        self._lock = threading.RLock()
        self._depth = 0
        self._tx: psycopg.Connection[dict[str, Any]] | None = None
        self._exclusive = False
        self._lease_conn: psycopg.Connection[dict[str, Any]] | None = None
        self._leading = False
        self.dispatching = False
        self._sql: dict[str, bytes] = {}
        try:
            first = self._conn.get()
        except StorageError as exc:
            raise StorageError(f"alert state (state.postgres): {exc}") from None
        migrate_postgres(first, COMPONENT, MIGRATIONS, self.where)

    def close(self) -> None:
        import psycopg

        with self._lock:
            self._conn.drop()
            if self._leading and self._lease_conn is not None:
                # hand the lease over now: a closed socket frees it only once PostgreSQL has ended
                # the session, a moment later
                with contextlib.suppress(psycopg.Error):
                    self._lease_conn.execute("SELECT pg_advisory_unlock(%s)", (DISPATCH_LOCK,))
            self._lease.drop()
            self._leading = self.dispatching = False

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[None]:
        import psycopg

        with self._lock:
            self._depth += 1
            outer = self._depth == 1
            try:
                if outer:
                    self._exclusive = exclusive
                    if exclusive:
                        # inside the try: a BEGIN or lock that fails must still unwind _depth, or
                        # every later transaction would nest in one that is never committed
                        self._begin()
                yield
                if outer and self._tx is not None:
                    self._tx.execute("COMMIT")
            except psycopg.Error as exc:
                self._rollback()
                raise storage_error(self.where, exc) from exc
            except BaseException:
                if outer:
                    self._rollback()
                raise
            finally:
                self._depth -= 1
                if outer:
                    self._tx = None

    def _begin(self) -> psycopg.Connection[dict[str, Any]]:
        import psycopg

        conn = self._conn.get()
        try:
            conn.execute("BEGIN")
        except psycopg.Error as exc:
            self._failed(conn)
            raise storage_error(self.where, exc) from exc
        if self._exclusive:
            try:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLAN_LOCK,))
            except psycopg.Error as exc:
                # the session sits in an aborted transaction: end it, or the next statement on
                # this connection fails and any lock it took stays held
                self._tx = conn
                self._rollback()
                self._failed(conn)
                raise storage_error(self.where, exc) from exc
        self._tx = conn
        return conn

    def _rollback(self) -> None:
        conn, self._tx = self._tx, None
        if conn is None:
            return
        try:
            conn.execute("ROLLBACK")
        except Exception:  # the connection itself is gone: PostgreSQL rolled back for us
            self._conn.drop()

    def _failed(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        if conn.broken or conn.closed:
            self._conn.drop()

    def _connection(self) -> psycopg.Connection[dict[str, Any]]:
        if self._depth == 0:
            return self._conn.get()
        if self._tx is None:
            return self._begin()
        if self._tx.broken or self._tx.closed:
            raise StorageError(f"{self.where}: the connection broke inside a transaction")
        return self._tx

    def _query(self, sql: str) -> bytes:
        converted = self._sql.get(sql)
        if converted is None:
            converted = self._sql[sql] = sql.replace("?", "%s").encode()
        return converted

    # -- statements --------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql, params, fetch=True) or []

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params, fetch=False) or 0

    def _run(self, sql: str, params: Sequence[Any], *, fetch: bool) -> Any:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                cursor = conn.execute(self._query(sql), list(params))
                return cursor.fetchall() if fetch else cursor.rowcount
            except psycopg.Error as exc:
                self._failed(conn)
                raise storage_error(self.where, exc) from exc

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cursor:
                    cursor.executemany(self._query(sql), [list(r) for r in rows])
            except psycopg.Error as exc:
                self._failed(conn)
                raise storage_error(self.where, exc) from exc

    # -- the dispatch lease ------------------------------------------------------------------

    def holds_dispatch(self) -> bool:
        import psycopg

        with self._lock:
            try:
                conn = self._lease.get()
                if conn is not self._lease_conn:  # a new session holds no lock yet
                    self._lease_conn, self._leading = conn, False
                if self._leading:
                    conn.execute("SELECT 1")  # the session lives, and with it the lock
                else:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (DISPATCH_LOCK,)).fetchone()
                    self._leading = bool(row and row["got"])
            except (psycopg.Error, StorageError):
                self._lease.drop()
                self._lease_conn, self._leading = None, False
            self.dispatching = self._leading
            return self._leading

    def dispatcher(self) -> str | None:
        """The collector holding the dispatch lease now (its ``instance``), if any."""
        rows = self._fetch("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                           "WHERE l.locktype = 'advisory' AND l.granted AND "
                           "(l.classid::bigint << 32) | l.objid::bigint = ?", (DISPATCH_LOCK,))
        name = str(rows[0]["application_name"]) if rows else None
        return name.removeprefix("netmon-dispatch ") if name else None
