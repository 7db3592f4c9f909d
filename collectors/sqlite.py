"""SQLite connections for the collector's state, and the one place sqlite3 errors become ours.

Two database files live in ``state_dir``: ``sites.db`` (registry copy, token hashes; written
by the CLI and by registry reloads) and ``journal.db`` (accepted results, de-duplication marks,
counters; written only by the journal's writer thread). Keeping them apart means a token
revocation never waits behind a journal commit, and the journal's writer owns its file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from netmon.config.statefiles import private_file
from netmon.errors import StorageError

SITES_DB = "sites.db"
JOURNAL_DB = "journal.db"


def connect(path: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", check_same_thread: bool = True,
            readonly: bool = False) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with autocommit off-by-default semantics handled by callers."""
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=check_same_thread)
        else:
            private_file(path)  # 0600 before SQLite creates it with the umask's mode (and its WAL with it)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
        # Another process (the CLI) may hold the write lock for a moment.
        conn.execute("PRAGMA busy_timeout=5000")
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"cannot open {path}: {exc}") from exc
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, what: str) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT; any sqlite3 error rolls back and becomes StorageError."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StorageError(f"{what}: {exc}") from exc
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise StorageError(f"{what}: {exc}") from exc
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def query(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = (), what: str = "query"
          ) -> list[tuple[object, ...]]:
    try:
        return list(conn.execute(sql, params))
    except sqlite3.Error as exc:
        raise StorageError(f"{what}: {exc}") from exc
