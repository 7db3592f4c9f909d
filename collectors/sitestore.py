"""The site registry as the collector holds it: loaded from YAML/CSV, copied into SQLite.

The file is the source of truth (Ansible generates the fleet inventory from it too); the
SQLite copy lets ``netmon sites list`` and other tools read what the running collector uses.
Reload replaces the registry atomically: a file with errors keeps the previous registry and
reports every problem with file, line and key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from netmon.collectors.schema import ensure_sites
from netmon.collectors.sqlite import query, transaction
from netmon.config.registry import Registry, RegistrySite, load_registry


class RegistryStore:
    def __init__(self, path: str | Path, conn: sqlite3.Connection) -> None:
        self.path = Path(path)
        self._conn = conn
        ensure_sites(conn)
        self.registry = Registry()
        self.loaded_ns = 0
        self.digest = ""

    def load(self) -> Registry:
        """Read the file (raises ConfigError and keeps the current registry on errors)."""
        registry = load_registry(self.path)
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        with transaction(self._conn, "registry sync") as conn:
            conn.execute("DELETE FROM sites")
            conn.executemany(
                "INSERT INTO sites (site_id, name, province, district, doc) VALUES (?, ?, ?, ?, ?)",
                [(s.id, s.name, s.province, s.district, s.model_dump_json()) for s in registry.sites])
            conn.executemany("INSERT OR REPLACE INTO registry_meta (key, value) VALUES (?, ?)",
                             [("source", str(self.path.resolve())), ("sha256", digest),
                              ("loaded_ns", str(time.time_ns()))])
        self.registry, self.digest, self.loaded_ns = registry, digest, time.time_ns()
        return registry

    def site(self, site_id: str) -> RegistrySite | None:
        return self.registry.by_id().get(site_id)

    def stored_sites(self) -> list[dict[str, object]]:
        """The registry as last synced into SQLite (by whichever process loaded it)."""
        rows = query(self._conn, "SELECT doc FROM sites ORDER BY province, site_id")
        return [json.loads(str(r[0])) for r in rows]
