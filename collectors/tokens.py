"""Tokens: issued once, stored only as a SHA-256 digest, checked on every request.

Two kinds, in ``sites.db``: a **site token** (table ``tokens``, ``netmon sites enrol``) speaks for
one site and one agent of it — the agent id is bound at enrolment (``<site>-agent`` unless
told otherwise); a token enrolled before agents were bound is bound to the first agent id it
sends. A **role token** (table ``role_tokens``, ``netmon tokens issue``) is a viewer, operator
or admin token under a name (``noc-hanoi``, ``prometheus``).

A token is 256 random bits (``secrets.token_urlsafe(32)``). Hashing it is enough: with that
much entropy there is nothing for a slow password hash to protect, and a digest lookup costs
microseconds per request. Lookup is by digest, and the digest found is compared again with
``hmac.compare_digest``, so response time says nothing about how much of a guess was right.

Valid digests are cached in memory. The cache is dropped whenever ``sites.db`` changed
(SQLite's ``PRAGMA data_version``, checked at most every ``RECHECK_SECONDS``), so a
revocation by the CLI — another process — takes effect within 0.1 s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import sqlite3
import time
from typing import Protocol

from netmon.collectors.abc import Role
from netmon.collectors.schema import ensure_sites
from netmon.collectors.sqlite import query, transaction

MAX_TOKEN_CHARS = 200
RECHECK_SECONDS = 0.1
ISSUED_ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def default_agent_id(site_id: str) -> str:
    """The agent's own default (``SiteConfig.agent_id``)."""
    return f"{site_id}-agent"


@dataclasses.dataclass(frozen=True, slots=True)
class Grant:
    """What an active token is: a site token (``site_id``, ``agent_id`` — None until bound) or a role token."""

    digest: str
    role: Role
    name: str
    site_id: str | None = None
    agent_id: str | None = None


@dataclasses.dataclass(frozen=True)
class TokenInfo:
    role: Role
    name: str  # the site id for a site token
    created_ns: int
    revoked_ns: int | None
    agent_id: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_ns is None

    @property
    def site_id(self) -> str:
        return self.name


class TokenBackend(Protocol):
    """What the collector and the CLI need of a token store: ``TokenStore`` (``sites.db``) and
    ``collectors.tokens_pg.PostgresTokenStore`` (shared by every collector) implement it."""

    def grant_for(self, token: str) -> Grant | None: ...
    def forget(self) -> None: ...
    def has_active(self, site_id: str) -> bool: ...
    def enrol(self, site_id: str, agent_id: str | None = None) -> str: ...
    def bind_agent(self, digest: str, agent_id: str) -> None: ...
    def revoke(self, site_id: str) -> int: ...
    def tokens(self) -> list[TokenInfo]: ...
    def has_active_role(self, name: str) -> bool: ...
    def issue(self, role: Role, name: str) -> str: ...
    def revoke_role(self, name: str) -> int: ...
    def role_tokens(self) -> list[TokenInfo]: ...
    def close(self) -> None: ...


class TokenStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        ensure_sites(conn)
        self._cache: dict[str, Grant] = {}
        self._version = -1
        self._checked = 0.0

    def grant_for(self, token: str) -> Grant | None:
        """What an active token may do, or None (unknown, revoked or malformed)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = token_digest(token)
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            version = int(query(self._conn, "PRAGMA data_version", (), "token lookup")[0][0])  # type: ignore[call-overload]
            if version != self._version:
                self._version, self._cache = version, {}
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        grant = self._lookup(digest)
        if grant is not None:
            self._cache[digest] = grant
        return grant

    def _lookup(self, digest: str) -> Grant | None:
        rows = query(self._conn, "SELECT token_sha256, site_id, agent_id FROM tokens "
                                 "WHERE token_sha256 = ? AND revoked_ns IS NULL", (digest,), "token lookup")
        if rows and hmac.compare_digest(str(rows[0][0]), digest):
            site_id, agent_id = str(rows[0][1]), rows[0][2]
            return Grant(digest, Role.AGENT, site_id, site_id, None if agent_id is None else str(agent_id))
        rows = query(self._conn, "SELECT token_sha256, role, name FROM role_tokens "
                                 "WHERE token_sha256 = ? AND revoked_ns IS NULL", (digest,), "token lookup")
        if rows and hmac.compare_digest(str(rows[0][0]), digest):
            return Grant(digest, Role(str(rows[0][1])), str(rows[0][2]))
        return None

    def forget(self) -> None:
        """Drop the cache (this connection's own writes do not change its data_version)."""
        self._cache = {}

    # -- site tokens ------------------------------------------------------------------------
    def has_active(self, site_id: str) -> bool:
        return bool(query(self._conn, "SELECT 1 FROM tokens WHERE site_id = ? AND revoked_ns IS NULL", (site_id,)))

    def enrol(self, site_id: str, agent_id: str | None = None) -> str:
        """Issue a token for ``site_id``'s agent ``agent_id`` (default ``<site>-agent``); earlier
        tokens of the site stop working at once."""
        token = new_token()
        now = time.time_ns()
        self.forget()
        with transaction(self._conn, "enrol") as conn:
            conn.execute("UPDATE tokens SET revoked_ns = ? WHERE site_id = ? AND revoked_ns IS NULL", (now, site_id))
            conn.execute("INSERT INTO tokens (token_sha256, site_id, created_ns, agent_id) VALUES (?, ?, ?, ?)",
                         (token_digest(token), site_id, now, agent_id or default_agent_id(site_id)))
        return token

    def bind_agent(self, digest: str, agent_id: str) -> None:
        """Bind a token enrolled before agents were bound to the agent it first spoke for."""
        self.forget()
        with transaction(self._conn, "bind agent") as conn:
            conn.execute("UPDATE tokens SET agent_id = ? WHERE token_sha256 = ? AND agent_id IS NULL",
                         (agent_id, digest))

    def revoke(self, site_id: str) -> int:
        """Revoke every active token of ``site_id``; returns how many were active."""
        return self._revoke("UPDATE tokens SET revoked_ns = ? WHERE site_id = ? AND revoked_ns IS NULL", site_id)

    def tokens(self) -> list[TokenInfo]:
        rows = query(self._conn, "SELECT site_id, created_ns, revoked_ns, agent_id FROM tokens "
                                 "ORDER BY site_id, created_ns")
        return [TokenInfo(Role.AGENT, str(r[0]), int(r[1]), None if r[2] is None else int(r[2]),  # type: ignore[call-overload]
                          None if r[3] is None else str(r[3])) for r in rows]

    # -- role tokens ------------------------------------------------------------------------
    def has_active_role(self, name: str) -> bool:
        return bool(query(self._conn, "SELECT 1 FROM role_tokens WHERE name = ? AND revoked_ns IS NULL", (name,)))

    def issue(self, role: Role, name: str) -> str:
        """A viewer, operator or admin token named ``name``; an active token of that name is revoked."""
        if role not in ISSUED_ROLES:
            raise ValueError(f"role {role.value!r} is not issued this way (site tokens: 'netmon sites enrol')")
        token = new_token()
        now = time.time_ns()
        self.forget()
        with transaction(self._conn, "issue token") as conn:
            conn.execute("UPDATE role_tokens SET revoked_ns = ? WHERE name = ? AND revoked_ns IS NULL", (now, name))
            conn.execute("INSERT INTO role_tokens (token_sha256, role, name, created_ns) VALUES (?, ?, ?, ?)",
                         (token_digest(token), role.value, name, now))
        return token

    def revoke_role(self, name: str) -> int:
        return self._revoke("UPDATE role_tokens SET revoked_ns = ? WHERE name = ? AND revoked_ns IS NULL", name)

    def role_tokens(self) -> list[TokenInfo]:
        rows = query(self._conn, "SELECT role, name, created_ns, revoked_ns FROM role_tokens ORDER BY name, created_ns")
        return [TokenInfo(Role(str(r[0])), str(r[1]), int(r[2]), None if r[3] is None else int(r[3]))  # type: ignore[call-overload]
                for r in rows]

    def close(self) -> None:
        """Nothing to close: the ``sites.db`` connection belongs to whoever opened it."""

    def export_rows(self) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        """Every digest row (site tokens, role tokens), for a move to PostgreSQL."""
        return ([tuple(r) for r in query(self._conn, "SELECT token_sha256, site_id, created_ns, revoked_ns, agent_id "
                                                     "FROM tokens")],
                [tuple(r) for r in query(self._conn, "SELECT token_sha256, role, name, created_ns, revoked_ns "
                                                     "FROM role_tokens")])

    def _revoke(self, sql: str, key: str) -> int:
        self.forget()
        with transaction(self._conn, "revoke") as conn:
            return conn.execute(sql, (time.time_ns(), key)).rowcount
