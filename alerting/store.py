"""Alert state in SQLite (WAL): incidents, silences, queued notifications, baselines, last-seen times.

A firing alert and the fact that it was announced are rows here, written in the same
transaction as the notification that announces it; so a restart neither loses a firing alert
nor announces it twice. sqlite3 errors become ``StorageError`` here.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from netmon.alerting.model import Incident, Silence
from netmon.config.statefiles import private_file
from netmon.errors import StorageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, rule TEXT NOT NULL,
  severity TEXT NOT NULL, state TEXT NOT NULL, team TEXT, site_id TEXT, upstream TEXT, target TEXT, link TEXT,
  labels TEXT NOT NULL, annotations TEXT NOT NULL, value_name TEXT, op TEXT, value REAL, threshold REAL,
  last_good_value REAL, resolve_value REAL, active_at REAL NOT NULL, fired_at REAL, resolved_at REAL,
  parent_id INTEGER, storm INTEGER NOT NULL DEFAULT 0, aggregate INTEGER NOT NULL DEFAULT 0,
  member_count INTEGER NOT NULL DEFAULT 0, below_since REAL, notified_severity TEXT, notified_at REAL,
  resolve_notified_at REAL, escalated_at REAL, acked_at REAL, acked_by TEXT, ack_comment TEXT,
  silenced_by INTEGER, inhibited_by TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_key ON incidents(key) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS incidents_state ON incidents(state);
CREATE INDEX IF NOT EXISTS incidents_parent ON incidents(parent_id);
CREATE TABLE IF NOT EXISTS silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT, matchers TEXT NOT NULL, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
  reason TEXT NOT NULL, created_by TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, team TEXT, payload TEXT NOT NULL,
  created_at REAL NOT NULL, next_attempt_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at REAL, gave_up_at REAL, last_error TEXT);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries(id) WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE TABLE IF NOT EXISTS baselines (key TEXT PRIMARY KEY, mean REAL NOT NULL, samples INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS site_seen (site_id TEXT PRIMARY KEY, last_seen REAL NOT NULL);
"""

_JSON_COLUMNS = ("labels", "annotations")
LAST_DATE_SECONDS = 253402300799.0  # 9999-12-31T23:59:59Z


def _representable(seconds: float) -> float:
    return seconds if math.isfinite(seconds) and seconds < LAST_DATE_SECONDS else LAST_DATE_SECONDS

_BOOL_COLUMNS = ("storm", "aggregate")


class AlertStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            private_file(self.path)  # 0600, and its WAL with it
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"alert state {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit (re-entrant: a nested call joins the outer transaction)."""
        with self._lock:
            if self.db.in_transaction:
                yield self.db
                return
            try:
                self.db.execute("BEGIN IMMEDIATE")
                yield self.db
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self.db.execute("ROLLBACK")
                raise StorageError(f"alert state {self.path}: {exc}") from exc
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"alert state {self.path}: {exc}") from exc

    # -- incidents ---------------------------------------------------------------------------

    def insert_incident(self, **fields: Any) -> int:
        row = _encode(fields)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as db:
            cursor = db.execute(f"INSERT INTO incidents ({names}) VALUES ({marks})", list(row.values()))
            return int(cursor.lastrowid or 0)

    def update_incident(self, incident_id: int, **fields: Any) -> None:
        if not fields:
            return
        row = _encode(fields)
        assignments = ", ".join(f"{name} = ?" for name in row)
        with self.transaction() as db:
            db.execute(f"UPDATE incidents SET {assignments} WHERE id = ?", [*row.values(), incident_id])

    def delete_incident(self, incident_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM incidents WHERE id = ?", (incident_id,))

    def incident(self, incident_id: int) -> Incident | None:
        rows = self.query("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return _incident(rows[0]) if rows else None

    def incidents(self, where: str = "1", params: Sequence[Any] = (), order: str = "id",
                  limit: int | None = None) -> list[Incident]:
        sql = f"SELECT * FROM incidents WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_incident(row) for row in self.query(sql, params)]

    # -- silences ----------------------------------------------------------------------------

    def add_silence(self, matchers: dict[str, str], starts_at: float, ends_at: float, reason: str,
                    created_by: str | None, now: float) -> Silence:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO silences (matchers, starts_at, ends_at, reason, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (json.dumps(matchers), starts_at, ends_at, reason, created_by, now))
            silence_id = int(cursor.lastrowid or 0)
        return Silence(id=silence_id, matchers=matchers, starts_at=starts_at, ends_at=ends_at, reason=reason,
                       created_by=created_by, created_at=now)

    def expire_silence(self, silence_id: int, now: float) -> bool:
        with self.transaction() as db:
            cursor = db.execute("UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?",
                                (now, silence_id, now))
            return cursor.rowcount > 0

    def silences(self, active_at: float | None = None) -> list[Silence]:
        if active_at is None:
            rows = self.query("SELECT * FROM silences ORDER BY id")
        else:
            rows = self.query("SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ? ORDER BY id",
                              (active_at, active_at))
        # a silence stored before durations were bounded may end at infinity: shown as the last date there is
        return [Silence(**{**dict(row), "matchers": json.loads(row["matchers"]),
                           "ends_at": _representable(float(row["ends_at"]))}) for row in rows]

    # -- baselines and last-seen times (written in batches by the engine's tick) -------------

    def save_baselines(self, items: Sequence[tuple[str, float, int]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO baselines (key, mean, samples) VALUES (?, ?, ?)", items)

    def baselines(self) -> dict[str, tuple[float, int]]:
        return {row["key"]: (row["mean"], row["samples"]) for row in self.query("SELECT * FROM baselines")}

    def save_seen(self, items: Sequence[tuple[str, float]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO site_seen (site_id, last_seen) VALUES (?, ?)", items)

    def seen(self) -> dict[str, float]:
        return {row["site_id"]: row["last_seen"] for row in self.query("SELECT * FROM site_seen")}


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name in _JSON_COLUMNS:
        if name in out:
            out[name] = json.dumps(out[name], ensure_ascii=False, sort_keys=True)
    for name in _BOOL_COLUMNS:
        if name in out:
            out[name] = int(bool(out[name]))
    return out


def _incident(row: sqlite3.Row) -> Incident:
    data = dict(row)
    for name in _JSON_COLUMNS:
        data[name] = json.loads(data[name])
    return Incident.model_validate(data)
