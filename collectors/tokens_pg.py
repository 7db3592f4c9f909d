"""Token digests in PostgreSQL (component ``sites``): one enrolment valid on every collector.

Same contract as ``collectors/tokens.py`` (SQLite): tokens stored only as SHA-256 digests, found
by digest and compared again with ``hmac.compare_digest``. The hot path never waits for
PostgreSQL per request: every active digest is held in memory (a few thousand rows for a
province), and a watcher thread polls ``sites_changes.counter`` every ``RECHECK_SECONDS`` and
reloads them when it moved, so an enrolment or a revocation made on any collector or by the CLI
holds everywhere within about a second. Only a token newer than the last reload costs a query.

PostgreSQL unreachable: every token active at the last reload keeps working (ingest goes on — the
journal is local; a revocation made meanwhile holds once PostgreSQL is back) and the outage is
logged once; a token newer than that cannot be checked and is answered 503 with Retry-After
(``StorageError``), never 401 — its agent keeps its batch and tries again.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Any

from netmon.collectors.abc import Role
from netmon.collectors.sites_schema_pg import COMPONENT, MIGRATIONS
from netmon.collectors.tokens import (
    ISSUED_ROLES,
    MAX_TOKEN_CHARS,
    Grant,
    TokenInfo,
    default_agent_id,
    new_token,
    token_digest,
)
from netmon.errors import StorageError
from netmon.statedb.migrations import migrate_postgres
from netmon.statedb.postgres import Reconnecting, storage_error

log = logging.getLogger(__name__)
RECHECK_SECONDS = 1.0


def _site_grant(row: dict[str, Any]) -> Grant:
    site_id, agent_id = str(row["site_id"]), row["agent_id"]
    return Grant(str(row["token_sha256"]), Role.AGENT, site_id, site_id, None if agent_id is None else str(agent_id))


def _role_grant(row: dict[str, Any]) -> Grant:
    return Grant(str(row["token_sha256"]), Role(str(row["role"])), str(row["name"]))


class PostgresTokenStore:
    def __init__(self, dsn: str, *, application_name: str = "netmon-tokens", connect_timeout: float = 3.0,
                 watch: bool = True) -> None:
        self._db = Reconnecting(dsn, application_name=application_name, connect_timeout=connect_timeout)
        try:
            first = self._db.get()
        except StorageError as exc:
            raise StorageError(f"site tokens (state.postgres): {exc}") from None
        migrate_postgres(first, COMPONENT, MIGRATIONS, self._db.where)
        self._lock = threading.Lock()  # one connection, used from the event loop and worker threads
        self._cache: dict[str, Grant] = {}
        self._counter = -1
        self._reachable = True
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        if watch:
            self._watch_db = Reconnecting(dsn, application_name=f"{application_name} watch",
                                          connect_timeout=connect_timeout)
            self.refresh()
            self._watcher = threading.Thread(target=self._watch, name="netmon-token-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        """Poll the change counter off the event loop: a connect timeout here holds no request."""
        while not self._closed.wait(RECHECK_SECONDS):
            self.refresh()

    def refresh(self) -> None:
        """What the watcher does every ``RECHECK_SECONDS``: reload the active digests if anything
        changed, note whether PostgreSQL answers. Never raises."""
        import psycopg

        db = self._watch_db

        try:
            row = db.get().execute(b"SELECT counter FROM sites_changes WHERE id = 1").fetchone()
            counter = int(row["counter"]) if row else -1
            if counter != self._counter:
                # the whole active set, not an empty cache: if PostgreSQL goes away next, every agent
                # enrolled until now still gets in
                grants = self._active_grants(db)
                self._counter, self._cache = counter, grants
        except (psycopg.Error, StorageError) as exc:
            db.drop()
            if self._reachable:
                self._reachable = False
                log.warning("token store unreachable, serving %d active grant(s), answering 503 to tokens "
                            "newer than that: %s", len(self._cache), exc)
            return
        if not self._reachable:
            self._reachable = True
            log.warning("token store reachable again (%s)", db.where)

    @staticmethod
    def _active_grants(db: Reconnecting) -> dict[str, Grant]:
        conn = db.get()
        grants = {}
        for r in conn.execute(b"SELECT token_sha256, site_id, agent_id FROM tokens WHERE revoked_ns IS NULL"):
            grants[str(r["token_sha256"])] = _site_grant(r)
        for r in conn.execute(b"SELECT token_sha256, role, name FROM role_tokens WHERE revoked_ns IS NULL"):
            grants[str(r["token_sha256"])] = _role_grant(r)
        return grants

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import psycopg

        with self._lock:
            # a read is safe to repeat: once on a fresh connection when the kept one died with the
            # server (a PostgreSQL restart or failover), so the first lookup after it is not a 503
            for attempt in (1, 2):
                try:
                    return self._db.get().execute(sql.encode(), params).fetchall()
                except psycopg.OperationalError as exc:
                    self._db.drop()
                    if attempt == 2:
                        raise storage_error(self._db.where, exc) from None
                except psycopg.Error as exc:
                    self._db.drop()
                    raise storage_error(self._db.where, exc) from None
        raise AssertionError("unreachable")

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        import psycopg

        self.forget()
        try:
            with self._lock:
                return self._db.get().execute(sql.encode(), params).rowcount
        except psycopg.Error as exc:
            self._db.drop()
            raise storage_error(self._db.where, exc) from None

    def grant_for(self, token: str) -> Grant | None:
        """The active token's grant, or None; ``StorageError`` when it is not cached and PostgreSQL
        cannot be asked."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        if not self._reachable:
            raise StorageError(f"{self._db.where} unreachable: a token not seen before cannot be checked")
        seen = self._counter
        grant = self._lookup(digest)
        # a change committed while we looked (the watcher saw the counter move) may have revoked it
        if grant is not None and self._counter == seen:
            self._cache[digest] = grant
        return grant

    @property
    def reachable(self) -> bool:
        return self._reachable

    def _lookup(self, digest: str) -> Grant | None:
        rows = self._rows("SELECT token_sha256, site_id, agent_id FROM tokens "
                          "WHERE token_sha256 = %s AND revoked_ns IS NULL", (digest,))
        if rows and hmac.compare_digest(str(rows[0]["token_sha256"]), digest):
            return _site_grant(rows[0])
        rows = self._rows("SELECT token_sha256, role, name FROM role_tokens "
                          "WHERE token_sha256 = %s AND revoked_ns IS NULL", (digest,))
        if rows and hmac.compare_digest(str(rows[0]["token_sha256"]), digest):
            return _role_grant(rows[0])
        return None

    def forget(self) -> None:
        self._cache = {}

    # -- site tokens ------------------------------------------------------------------------
    def has_active(self, site_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM tokens WHERE site_id = %s AND revoked_ns IS NULL", (site_id,)))

    def enrol(self, site_id: str, agent_id: str | None = None) -> str:
        token, now = new_token(), time.time_ns()
        # one statement, one transaction: the old tokens revoked and the new one stored together
        self._write("WITH old AS (UPDATE tokens SET revoked_ns = %s WHERE site_id = %s AND revoked_ns IS NULL) "
                    "INSERT INTO tokens (token_sha256, site_id, created_ns, agent_id) VALUES (%s, %s, %s, %s)",
                    (now, site_id, token_digest(token), site_id, now, agent_id or default_agent_id(site_id)))
        return token

    def bind_agent(self, digest: str, agent_id: str) -> None:
        self._write("UPDATE tokens SET agent_id = %s WHERE token_sha256 = %s AND agent_id IS NULL", (agent_id, digest))

    def revoke(self, site_id: str) -> int:
        return self._write("UPDATE tokens SET revoked_ns = %s WHERE site_id = %s AND revoked_ns IS NULL",
                           (time.time_ns(), site_id))

    def tokens(self) -> list[TokenInfo]:
        return [TokenInfo(Role.AGENT, str(r["site_id"]), int(r["created_ns"]),
                          None if r["revoked_ns"] is None else int(r["revoked_ns"]),
                          None if r["agent_id"] is None else str(r["agent_id"]))
                for r in self._rows("SELECT site_id, created_ns, revoked_ns, agent_id FROM tokens "
                                    "ORDER BY site_id, created_ns")]

    # -- role tokens ------------------------------------------------------------------------
    def has_active_role(self, name: str) -> bool:
        return bool(self._rows("SELECT 1 FROM role_tokens WHERE name = %s AND revoked_ns IS NULL", (name,)))

    def issue(self, role: Role, name: str) -> str:
        if role not in ISSUED_ROLES:
            raise ValueError(f"role {role.value!r} is not issued this way (site tokens: 'netmon sites enrol')")
        token, now = new_token(), time.time_ns()
        self._write("WITH old AS (UPDATE role_tokens SET revoked_ns = %s WHERE name = %s AND revoked_ns IS NULL) "
                    "INSERT INTO role_tokens (token_sha256, role, name, created_ns) VALUES (%s, %s, %s, %s)",
                    (now, name, token_digest(token), role.value, name, now))
        return token

    def revoke_role(self, name: str) -> int:
        return self._write("UPDATE role_tokens SET revoked_ns = %s WHERE name = %s AND revoked_ns IS NULL",
                           (time.time_ns(), name))

    def role_tokens(self) -> list[TokenInfo]:
        return [TokenInfo(Role(str(r["role"])), str(r["name"]), int(r["created_ns"]),
                          None if r["revoked_ns"] is None else int(r["revoked_ns"]))
                for r in self._rows("SELECT role, name, created_ns, revoked_ns FROM role_tokens "
                                    "ORDER BY name, created_ns")]

    def import_once(self, rows_tokens: list[tuple[Any, ...]], rows_roles: list[tuple[Any, ...]]) -> int:
        """A collector switching from sites.db to PostgreSQL: copy the local digests (never tokens —
        only digests exist) when PostgreSQL holds none yet, so enrolled agents keep working.
        Returns how many rows were copied (0: PostgreSQL already had tokens; nothing is merged)."""
        import psycopg

        if not rows_tokens and not rows_roles:
            return 0
        self.forget()
        try:
            conn = self._db.get()
            with conn.transaction():
                conn.execute("LOCK TABLE tokens, role_tokens IN EXCLUSIVE MODE")
                if conn.execute("SELECT 1 FROM tokens UNION ALL SELECT 1 FROM role_tokens LIMIT 1").fetchone():
                    return 0
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO tokens (token_sha256, site_id, created_ns, revoked_ns, agent_id) "
                                    "VALUES (%s, %s, %s, %s, %s)", rows_tokens)
                    cur.executemany("INSERT INTO role_tokens (token_sha256, role, name, created_ns, revoked_ns) "
                                    "VALUES (%s, %s, %s, %s, %s)", rows_roles)
        except psycopg.Error as exc:
            self._db.drop()
            raise storage_error(self._db.where, exc) from None
        log.warning("copied %d site and %d role token digests from sites.db to %s (first start on PostgreSQL)",
                    len(rows_tokens), len(rows_roles), self._db.where)
        return len(rows_tokens) + len(rows_roles)

    def close(self) -> None:
        self._closed.set()
        if self._watcher is not None:
            self._watcher.join(timeout=RECHECK_SECONDS + 5)
            self._watch_db.drop()
        with self._lock:
            self._db.drop()
