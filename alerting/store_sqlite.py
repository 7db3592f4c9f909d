"""The alert store in one SQLite file (WAL), for a single collector: ``state_dir/alerting.db``.

One connection, one lock: the collector's event loop and the API's worker threads take turns.
Transactions are ``BEGIN IMMEDIATE`` (the write lock at once), so ``exclusive`` needs nothing
more here; this collector is the only one, so it always dispatches. sqlite3 errors become
``StorageError`` here.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from netmon.alerting.store import AlertStore, Row
from netmon.alerting.store_schema import COMPONENT, MIGRATIONS
from netmon.config.statefiles import private_file
from netmon.errors import StorageError
from netmon.statedb.migrations import migrate_sqlite


class SqliteAlertStore(AlertStore):
    backend = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = f"alert state {self.path}"
        self._lock = threading.RLock()
        try:
            private_file(self.path)  # 0600, and its WAL with it
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=5000")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.where}: {exc}") from exc
        migrate_sqlite(self.db, COMPONENT, MIGRATIONS, self.where)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def holds_dispatch(self) -> bool:
        return True

    @contextlib.contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[None]:
        with self._lock:
            if self.db.in_transaction:
                yield
                return
            try:
                self.db.execute("BEGIN IMMEDIATE")
                yield
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise StorageError(f"{self.where}: {exc}") from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            try:
                return [dict(row) for row in self.db.execute(sql, params).fetchall()]
            except sqlite3.Error as exc:
                raise StorageError(f"{self.where}: {exc}") from exc

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            try:
                return self.db.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise StorageError(f"{self.where}: {exc}") from exc

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            try:
                self.db.executemany(sql, rows)
            except sqlite3.Error as exc:
                raise StorageError(f"{self.where}: {exc}") from exc
