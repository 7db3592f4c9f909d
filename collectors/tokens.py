"""Site tokens: issued once, stored only as a SHA-256 digest, checked on every request.

A token is 256 random bits (``secrets.token_urlsafe(32)``). Hashing it is enough: with that
much entropy there is nothing for a slow password hash to protect, and a digest lookup costs
microseconds per request. Lookup is by digest, and the digest found is compared again with
``hmac.compare_digest``, so response time says nothing about how much of a guess was right.

Valid digests are cached in memory. The cache is dropped whenever ``sites.db`` changed
(SQLite's ``PRAGMA data_version``, checked at most every ``RECHECK_SECONDS``), so a
revocation by ``netmon sites revoke`` — another process — takes effect within 0.1 s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import sqlite3
import time

from netmon.collectors.sqlite import query, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    revoked_ns INTEGER
);
CREATE INDEX IF NOT EXISTS tokens_site ON tokens(site_id);
"""
MAX_TOKEN_CHARS = 200
RECHECK_SECONDS = 0.1


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclasses.dataclass(frozen=True)
class TokenInfo:
    site_id: str
    created_ns: int
    revoked_ns: int | None

    @property
    def active(self) -> bool:
        return self.revoked_ns is None


class TokenStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.executescript(SCHEMA)
        self._cache: dict[str, str] = {}
        self._version = -1
        self._checked = 0.0

    def site_for(self, token: str) -> str | None:
        """The site an active token belongs to, or None (unknown, revoked or malformed)."""
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
        rows = query(self._conn, "SELECT token_sha256, site_id FROM tokens "
                                 "WHERE token_sha256 = ? AND revoked_ns IS NULL", (digest,), "token lookup")
        if rows and hmac.compare_digest(str(rows[0][0]), digest):
            self._cache[digest] = site_id = str(rows[0][1])
            return site_id
        return None

    def forget(self) -> None:
        """Drop the cache (this connection's own writes do not change its data_version)."""
        self._cache = {}

    def has_active(self, site_id: str) -> bool:
        return bool(query(self._conn, "SELECT 1 FROM tokens WHERE site_id = ? AND revoked_ns IS NULL", (site_id,)))

    def enrol(self, site_id: str) -> str:
        """Issue a token for ``site_id``; earlier tokens of the site stop working at once."""
        token = new_token()
        now = time.time_ns()
        self.forget()
        with transaction(self._conn, "enrol") as conn:
            conn.execute("UPDATE tokens SET revoked_ns = ? WHERE site_id = ? AND revoked_ns IS NULL", (now, site_id))
            conn.execute("INSERT INTO tokens (token_sha256, site_id, created_ns) VALUES (?, ?, ?)",
                         (token_digest(token), site_id, now))
        return token

    def revoke(self, site_id: str) -> int:
        """Revoke every active token of ``site_id``; returns how many were active."""
        self.forget()
        with transaction(self._conn, "revoke") as conn:
            cursor = conn.execute("UPDATE tokens SET revoked_ns = ? WHERE site_id = ? AND revoked_ns IS NULL",
                                  (time.time_ns(), site_id))
            return cursor.rowcount

    def tokens(self) -> list[TokenInfo]:
        rows = query(self._conn, "SELECT site_id, created_ns, revoked_ns FROM tokens ORDER BY site_id, created_ns")
        return [TokenInfo(str(r[0]), int(r[1]), None if r[2] is None else int(r[2])) for r in rows]  # type: ignore[call-overload]
