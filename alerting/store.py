"""The alert state store: one interface, two implementations (SQLite for one collector, PostgreSQL for several).

    store = open_store(location)        # SqliteAlertStore (state_dir/alerting.db) or PostgresAlertStore
    with store.transaction():           # one atomic unit; nested calls join it
        opened = store.open_incident(fields)   # at most one open incident per key, whoever asks
    with store.transaction(exclusive=True):    # planning: one collector at a time
        ...

A firing alert and the fact that it was announced are rows here, written in the same
transaction as the notification that announces it; so a restart (or another collector taking
over) neither loses a firing alert nor announces it twice. ``AlertStore`` holds everything both
backends share (the SQL is written once, with ``?`` placeholders); a backend supplies the
connection, transactions, and who may send (``holds_dispatch``). Database errors become
``StorageError`` in the backend. ``where`` filters given to ``incidents`` are SQL over the
columns of ``alerting/store_schema.py``, written by this package only.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from netmon.alerting.model import Incident, Silence
from netmon.statedb import StateLocation

STATE_FILE = "alerting.db"
_JSON_COLUMNS = ("labels", "annotations")
LAST_DATE_SECONDS = 253402300799.0  # 9999-12-31T23:59:59Z


def _representable(seconds: float) -> float:
    return seconds if math.isfinite(seconds) and seconds < LAST_DATE_SECONDS else LAST_DATE_SECONDS


_BOOL_COLUMNS = ("storm", "aggregate", "replayed")
Row = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Opened:
    """What ``open_incident`` found: the new row, or the open one of that key another writer made first."""

    id: int
    state: str
    fired_at: float | None
    adopted: bool


class AlertStore(abc.ABC):
    backend: str
    # several collectors use this store at the same time
    shared: bool = False
    # for messages: the file or the database (never a password)
    where: str
    # what holds_dispatch answered last (for /metrics, without a round trip)
    dispatching: bool = True

    # -- what a backend provides ---------------------------------------------------------------

    @abc.abstractmethod
    def transaction(self, exclusive: bool = False) -> contextlib.AbstractContextManager[None]:
        """One atomic unit (re-entrant). ``exclusive``: also wait for every other writer's exclusive
        unit to end first, so what is read inside is not changed by another collector meanwhile."""

    @abc.abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abc.abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it changed."""

    @abc.abstractmethod
    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def holds_dispatch(self) -> bool:
        """May this collector send notifications now? Always for one collector; for several, the
        one holding the dispatch lease."""

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- incidents ---------------------------------------------------------------------------

    def open_incident(self, fields: dict[str, Any]) -> Opened:
        """Insert a pending or firing incident unless one of its key is open already (then that one)."""
        row = _encode(fields)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction():
            for _ in range(3):  # the open row may be resolved between our insert and our read
                inserted = self._fetch(f"INSERT INTO incidents ({names}) VALUES ({marks}) ON CONFLICT (key) "
                                       "WHERE state != 'resolved' DO NOTHING RETURNING id", list(row.values()))
                if inserted:
                    return Opened(int(inserted[0]["id"]), str(fields["state"]), fields.get("fired_at"), False)
                found = self._fetch("SELECT id, state, fired_at FROM incidents WHERE key = ? AND state != 'resolved'",
                                    (fields["key"],))
                if found:
                    return Opened(int(found[0]["id"]), str(found[0]["state"]), found[0]["fired_at"], True)
        raise AssertionError(f"incident key {fields['key']!r} kept changing while being opened")

    def update_incident(self, incident_id: int, *, only_open: bool = False, **fields: Any) -> bool:
        """Change an incident; with ``only_open`` not one that is resolved. False: no row changed."""
        if not fields:
            return True
        row = _encode(fields)
        assignments = ", ".join(f"{name} = ?" for name in row)
        condition = " AND state != 'resolved'" if only_open else ""
        with self.transaction():
            return self._execute(f"UPDATE incidents SET {assignments} WHERE id = ?{condition}",
                                 [*row.values(), incident_id]) > 0

    def delete_incident(self, incident_id: int, *, only_pending: bool = False) -> bool:
        condition = " AND state = 'pending'" if only_pending else ""
        with self.transaction():
            return self._execute(f"DELETE FROM incidents WHERE id = ?{condition}", (incident_id,)) > 0

    def incident(self, incident_id: int) -> Incident | None:
        rows = self._fetch("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return _incident(rows[0]) if rows else None

    def incidents(self, where: str = "1 = 1", params: Sequence[Any] = (), order: str = "id",
                  limit: int | None = None) -> list[Incident]:
        sql = f"SELECT * FROM incidents WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_incident(row) for row in self._fetch(sql, params)]

    def set_parent(self, incident_ids: Sequence[int], parent_id: int | None) -> None:
        if incident_ids:
            marks = ",".join("?" for _ in incident_ids)
            with self.transaction():
                self._execute(f"UPDATE incidents SET parent_id = ? WHERE id IN ({marks})", [parent_id, *incident_ids])

    def release_members(self, parent_id: int) -> None:
        """Members of an aggregate that ended and still fail are problems of their own again."""
        with self.transaction():
            self._execute("UPDATE incidents SET parent_id = NULL WHERE parent_id = ? AND state != 'resolved'",
                          (parent_id,))

    def closing_aggregates(self) -> list[tuple[str, float]]:
        """(kind, below_since) of firing aggregates whose count fell below their minimum."""
        rows = self._fetch("SELECT kind, below_since FROM incidents WHERE kind != 'alert' AND state = 'firing' "
                           "AND below_since IS NOT NULL")
        return [(str(r["kind"]), float(r["below_since"])) for r in rows]

    # -- silences ----------------------------------------------------------------------------

    def add_silence(self, matchers: dict[str, str], starts_at: float, ends_at: float, reason: str,
                    created_by: str | None, now: float) -> Silence:
        with self.transaction():
            rows = self._fetch("INSERT INTO silences (matchers, starts_at, ends_at, reason, created_by, created_at) "
                               "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                               (json.dumps(matchers), starts_at, ends_at, reason, created_by, now))
        return Silence(id=int(rows[0]["id"]), matchers=matchers, starts_at=starts_at, ends_at=ends_at, reason=reason,
                       created_by=created_by, created_at=now)

    def expire_silence(self, silence_id: int, now: float) -> bool:
        with self.transaction():
            return self._execute("UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?",
                                 (now, silence_id, now)) > 0

    def silences(self, active_at: float | None = None) -> list[Silence]:
        if active_at is None:
            rows = self._fetch("SELECT * FROM silences ORDER BY id")
        else:
            rows = self._fetch("SELECT * FROM silences WHERE starts_at <= ? AND ends_at > ? ORDER BY id",
                               (active_at, active_at))
        # a silence stored before durations were bounded may end at infinity: shown as the last date there is
        return [Silence(**{**row, "matchers": json.loads(row["matchers"]),
                           "ends_at": _representable(float(row["ends_at"]))}) for row in rows]

    # -- the notification queue (alerting/notifications.py) ------------------------------------

    def enqueue_notification(self, channel: str, team: str | None, payload: str, now: float,
                             rerouted_from: str | None = None) -> int:
        with self.transaction():
            rows = self._fetch("INSERT INTO deliveries (channel, team, payload, created_at, next_attempt_at, "
                               "rerouted_from) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                               (channel, team, payload, now, now, rerouted_from))
        return int(rows[0]["id"])

    def open_notifications(self) -> list[Row]:
        """Rows neither delivered nor given up, oldest first."""
        return self._fetch("SELECT * FROM deliveries WHERE delivered_at IS NULL AND gave_up_at IS NULL ORDER BY id")

    def notifications(self, channel: str | None = None) -> list[Row]:
        """Every row, delivered or not, oldest first (inspection and tests)."""
        if channel is None:
            return self._fetch("SELECT * FROM deliveries ORDER BY id")
        return self._fetch("SELECT * FROM deliveries WHERE channel = ? ORDER BY id", (channel,))

    def notification_delivered(self, notification_id: int, now: float) -> None:
        with self.transaction():
            self._execute("UPDATE deliveries SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                          (now, notification_id))

    def notification_retry(self, notification_id: int, when: float, error: str) -> None:
        with self.transaction():
            self._execute("UPDATE deliveries SET next_attempt_at = ?, attempts = attempts + 1, last_error = ? "
                          "WHERE id = ?", (when, error[:500], notification_id))

    def notification_given_up(self, notification_id: int, now: float, error: str, attempted: bool = True) -> None:
        with self.transaction():
            self._execute("UPDATE deliveries SET gave_up_at = ?, attempts = attempts + ?, last_error = ? WHERE id = ?",
                          (now, int(attempted), error[:500], notification_id))

    # -- baselines and last-seen times (written in batches by the engine's tick) -------------

    def save_baselines(self, items: Sequence[tuple[str, float, int]]) -> None:
        if items:
            with self.transaction():
                self._executemany("INSERT INTO baselines (key, mean, samples) VALUES (?, ?, ?) ON CONFLICT (key) "
                                  "DO UPDATE SET mean = excluded.mean, samples = excluded.samples", items)

    def baselines(self) -> dict[str, tuple[float, int]]:
        return {row["key"]: (row["mean"], row["samples"]) for row in self._fetch("SELECT * FROM baselines")}

    def save_seen(self, items: Sequence[tuple[str, float]], seen_by: str | None = None) -> None:
        """When sites' results were received (never moved back: another collector may have seen one later)."""
        if items:
            with self.transaction():
                self._executemany(
                    "INSERT INTO site_seen (site_id, last_seen, seen_by) VALUES (?, ?, ?) ON CONFLICT (site_id) "
                    "DO UPDATE SET last_seen = excluded.last_seen, seen_by = excluded.seen_by "
                    "WHERE excluded.last_seen > site_seen.last_seen", [(site, at, seen_by) for site, at in items])

    def seen(self, since: float | None = None) -> dict[str, tuple[float, str | None]]:
        """site -> (last seen, by which collector); ``since``: only sites seen after that time."""
        if since is None:
            rows = self._fetch("SELECT site_id, last_seen, seen_by FROM site_seen")
        else:
            rows = self._fetch("SELECT site_id, last_seen, seen_by FROM site_seen WHERE last_seen > ?", (since,))
        return {row["site_id"]: (float(row["last_seen"]), row["seen_by"]) for row in rows}


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name in _JSON_COLUMNS:
        if name in out:
            out[name] = json.dumps(out[name], ensure_ascii=False, sort_keys=True)
    for name in _BOOL_COLUMNS:
        if name in out:
            out[name] = int(bool(out[name]))
    return out


def _incident(row: Row) -> Incident:
    data = dict(row)
    for name in _JSON_COLUMNS:
        data[name] = json.loads(data[name])
    return Incident.model_validate(data)


def open_store(location: StateLocation) -> AlertStore:
    """The alert store of ``location``: PostgreSQL when it names one, else ``state_dir/alerting.db``."""
    if location.postgres_dsn is not None:
        from netmon.alerting.store_postgres import PostgresAlertStore

        return PostgresAlertStore(location.postgres_dsn, instance=location.instance,
                                  connect_timeout=location.connect_timeout_seconds)
    from netmon.alerting.store_sqlite import SqliteAlertStore

    return SqliteAlertStore(location.state_dir / STATE_FILE)
