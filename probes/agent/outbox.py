"""The durable outbox: every result enters here first and gets its identity here.

SQLite in WAL mode with ``synchronous=FULL`` (a commune box loses power more often than a
data centre does): a result is on disk before anyone else sees it. ``seq`` is assigned in the
same transaction that stores the row and raises the persisted high-water mark, so a crash
at any instant neither reuses a seq nor loses a committed row.

A fresh outbox starts numbering just above the current time in microseconds rather than at
1: an agent re-imaged with its old identity (SD card replaced, state lost) then still never
reuses a seq the collector has already de-duplicated against.

Bounds (``max_results``, ``max_age``) drop strictly oldest first and count the drops in the
same transaction. Age is how long a row has been *in the outbox*, on the outbox's own clock
(``OutboxClock``: the kernel's boot-time clock, carried across agent restarts; it does not run
while the box is off), never the probe's timestamp or the wall clock: a box that boots with its
clock in 2000 and then steps to the right time, or one stepped to 2100 by a bad NTP answer,
keeps every queued result. A dropped row that is part of the batch on the wire may still reach the
collector: it is counted only once that batch's answer is known — acknowledged if the
collector took it, dropped otherwise (or after a crash, when nobody knows) — so the loss the
centre shows is exact. ``produced = acknowledged + rejected + dropped + queued`` holds across
restarts (plus, for a moment, the in-flight drops still waiting for their answer).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from netmon.config.statefiles import private_file
from netmon.contract import Observation, ResultRecord
from netmon.errors import StorageError

# schema versions (``user_version``): 1 as before versions were kept; 2 ages rows by the outbox clock
_STEPS = (
    (1, ("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
         "CREATE TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY, probe TEXT NOT NULL, time_ns INTEGER NOT NULL, "
         "body TEXT NOT NULL)",
         "CREATE INDEX IF NOT EXISTS results_probe ON results (probe, seq)")),
    # rows queued before have no entry time: they count as entering now (an upgrade drops nothing)
    (2, ("ALTER TABLE results ADD COLUMN queued_ns INTEGER NOT NULL DEFAULT 0",
         "DROP INDEX IF EXISTS results_time",
         "CREATE INDEX results_queued ON results (queued_ns)")),
)
_COUNTERS = ("base_seq", "last_seq", "dropped_total", "acknowledged_total", "rejected_total",
             "dropped_in_flight", "clock_ns", "clock_boot", "clock_boottime_ns")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> int:
    """This boot of the machine, as a number the meta table can hold (0 when the kernel does not say)."""
    try:
        return int(BOOT_ID.read_text().strip().replace("-", "")[:15], 16)
    except (OSError, ValueError):
        return 0


def boottime_ns() -> int:
    """Nanoseconds since boot, suspend included; never stepped by NTP or by hand."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class OutboxClock:
    """The outbox's own time, in ns: it runs with the boot-time clock and is carried over an agent
    restart within one boot; across a reboot it resumes where it was (the time off does not count)."""

    def __init__(self, stored_ns: int, stored_boot: int, stored_boottime_ns: int, boot: int,
                 steady: Callable[[], int]) -> None:
        self._steady = steady
        now = steady()
        same_boot = boot != 0 and boot == stored_boot and now >= stored_boottime_ns
        self._base = stored_ns + (now - stored_boottime_ns if same_boot else 0)
        self._anchor = now
        self.boot = boot

    def now_ns(self) -> int:
        return self._base + (self._steady() - self._anchor)

    def steady_ns(self) -> int:
        return self._steady()


@dataclasses.dataclass(frozen=True)
class OutboxStats:
    queued: int
    oldest_queued_ns: int | None  # on the outbox clock
    base_seq: int  # the first result got base_seq + 1
    last_seq: int  # high-water mark: the last seq ever assigned
    dropped_total: int
    acknowledged_total: int
    rejected_total: int
    clock: Callable[[], int] = dataclasses.field(default=time.time_ns, compare=False)

    @property
    def produced_total(self) -> int:
        return self.last_seq - self.base_seq

    def oldest_age_seconds(self) -> float:
        """How long the oldest row has been waiting in the outbox (0 when empty)."""
        if self.oldest_queued_ns is None:
            return 0.0
        return max(0.0, (self.clock() - self.oldest_queued_ns) / 1e9)


@dataclasses.dataclass(frozen=True)
class Queued:
    seq: int
    probe: str
    body: str  # the ResultRecord as JSON, exactly as it will be sent


class Outbox:
    """Synchronous and single-threaded by design: ``AsyncOutbox`` gives it one thread of its own."""

    def __init__(self, path: Path, *, site_id: str, agent_id: str, max_results: int, max_age_seconds: float,
                 clock_ns: Callable[[], int] = time.time_ns, steady_ns: Callable[[], int] = boottime_ns,
                 boot: int | None = None) -> None:
        """``clock_ns``: the wall clock (a fresh outbox's first seq); ``steady_ns`` and ``boot``: what the
        outbox clock runs on (the boot-time clock and this boot's id)."""
        self.path = path
        self.site_id = site_id
        self.agent_id = agent_id
        self.max_results = max_results
        self.max_age_ns = int(max_age_seconds * 1e9)
        self._in_flight: frozenset[int] = frozenset()
        self._dropped_in_flight: set[int] = set()  # dropped by a bound while their batch is on the wire
        try:
            private_file(path)  # the results name the site's targets: 0600, its WAL with it
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
            with self._transaction():
                start = clock_ns() // 1000
                for key in _COUNTERS:
                    initial = start if key in {"base_seq", "last_seq"} else 0
                    self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, initial))
            self._queued = int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
            self._counters = self._read_counters()
            c = self._counters
            self.clock = OutboxClock(c["clock_ns"], c["clock_boot"], c["clock_boottime_ns"],
                                     boot_id() if boot is None else boot, steady_ns)
            with self._transaction():  # a crash left in-flight drops unanswered: they count as dropped
                self._bump("dropped_total", self._counters["dropped_in_flight"])
                self._bump("dropped_in_flight", -self._counters["dropped_in_flight"])
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open outbox {path}: {exc}") from exc
        self.snapshot = self._stats()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _migrate(self) -> None:
        found = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if found > _STEPS[-1][0]:
            raise StorageError(f"outbox {self.path} is at schema version {found}, newer than this agent knows")
        for version, statements in _STEPS:
            if version > found:
                with self._transaction():
                    for statement in statements:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version}")

    def _keep_clock(self) -> None:
        """Persist the outbox clock (inside the caller's transaction), for the next start to resume it."""
        for key, value in (("clock_ns", self.clock.now_ns()), ("clock_boot", self.clock.boot),
                           ("clock_boottime_ns", self.clock.steady_ns())):
            self._counters[key] = value
            self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    def _bump(self, key: str, by: int) -> None:
        if by:
            self._counters[key] += by
            self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (self._counters[key], key))

    def add(self, observations: Sequence[Observation]) -> list[ResultRecord]:
        """Store observations with fresh seqs (one transaction); apply the bounds."""
        if not observations:
            return []
        seq = self._counters["last_seq"]
        records = []
        for observation in observations:
            seq += 1
            records.append(observation.to_record(site_id=self.site_id, agent_id=self.agent_id, seq=seq))
        entered = self.clock.now_ns()
        rows = [(r.seq, r.probe.value, r.time_ns, r.model_dump_json(exclude_none=True), entered) for r in records]
        try:
            with self._transaction():
                self._db.executemany("INSERT INTO results (seq, probe, time_ns, body, queued_ns) "
                                     "VALUES (?, ?, ?, ?, ?)", rows)
                self._keep_clock()
                self._counters["last_seq"] = seq
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (seq,))
                self._queued += len(rows)
                pending = self._enforce_bounds()
        except sqlite3.Error as exc:
            self._reload()
            raise StorageError(f"outbox {self.path}: cannot store results: {exc}") from exc
        self._dropped_in_flight.update(pending)
        self.snapshot = self._stats()
        return records

    def _enforce_bounds(self) -> list[int]:
        """Drop what exceeds the bounds; returns the dropped seqs whose batch is on the wire."""
        victims: list[int] = []
        excess = self._queued - self.max_results
        if excess > 0:
            victims = [int(s) for (s,) in self._db.execute("SELECT seq FROM results ORDER BY seq LIMIT ?", (excess,))]
        cutoff = self.clock.now_ns() - self.max_age_ns
        oldest = set(victims)
        victims += [int(s) for (s,) in self._db.execute("SELECT seq FROM results WHERE queued_ns < ?", (cutoff,))
                    if s not in oldest]
        if not victims:
            return []
        self._queued -= int(self._db.executemany("DELETE FROM results WHERE seq = ?", [(s,) for s in victims]).rowcount)
        pending = [s for s in victims if s in self._in_flight]
        self._bump("dropped_in_flight", len(pending))
        self._bump("dropped_total", len(victims) - len(pending))
        return pending

    def set_in_flight(self, seqs: Iterable[int]) -> None:
        """The seqs of the batch on the wire; called with none once its answer has been settled,
        which turns its drops that the collector did not acknowledge into counted drops."""
        self._in_flight = frozenset(seqs)
        unanswered = [s for s in self._dropped_in_flight if s not in self._in_flight]
        if unanswered:
            try:
                with self._transaction():
                    self._bump("dropped_in_flight", -len(unanswered))
                    self._bump("dropped_total", len(unanswered))
            except sqlite3.Error as exc:
                self._reload()
                raise StorageError(f"outbox {self.path}: cannot count drops: {exc}") from exc
            self._dropped_in_flight.difference_update(unanswered)
            self.snapshot = self._stats()

    def prune(self) -> int:
        """Apply the age bound now (the shipper calls this while the collector is unreachable)."""
        before = self._counters["dropped_total"]
        try:
            with self._transaction():
                pending = self._enforce_bounds()
                self._keep_clock()
        except sqlite3.Error as exc:
            self._reload()
            raise StorageError(f"outbox {self.path}: cannot prune: {exc}") from exc
        self._dropped_in_flight.update(pending)
        self.snapshot = self._stats()
        return self._counters["dropped_total"] - before

    def oldest(self, limit: int, exclude: Iterable[int] = ()) -> list[Queued]:
        skip = set(exclude)
        rows = self._read("SELECT seq, probe, body FROM results ORDER BY seq LIMIT ?", (limit + len(skip),))
        return [q for q in rows if q.seq not in skip][:limit]

    def newest(self, probe: str) -> Queued | None:
        rows = self._read("SELECT seq, probe, body FROM results WHERE probe = ? ORDER BY seq DESC LIMIT 1", (probe,))
        return rows[0] if rows else None

    def _read(self, sql: str, args: tuple[object, ...]) -> list[Queued]:
        try:
            return [Queued(int(s), str(p), str(b)) for s, p, b in self._db.execute(sql, args).fetchall()]
        except sqlite3.Error as exc:
            raise StorageError(f"outbox {self.path}: cannot read: {exc}") from exc

    def acknowledge(self, seqs: Iterable[int]) -> int:
        """Delete what the collector holds durably. Returns how many rows that removed."""
        return self._remove(seqs, "acknowledged_total")

    def reject(self, seqs: Iterable[int]) -> int:
        """Delete what the collector refused for good (its reason is logged by the caller)."""
        return self._remove(seqs, "rejected_total")

    def _remove(self, seqs: Iterable[int], counter: str) -> int:
        wanted = {int(s) for s in seqs}
        late = wanted & self._dropped_in_flight  # the bound dropped them while the collector took them
        if not wanted:
            return 0
        try:
            with self._transaction():
                present = [(s,) for s in wanted - late]
                removed = len(late)
                if present:
                    removed += int(self._db.executemany("DELETE FROM results WHERE seq = ?", present).rowcount)
                self._queued -= removed - len(late)
                self._bump(counter, removed)
                self._bump("dropped_in_flight", -len(late))
        except sqlite3.Error as exc:
            self._reload()
            raise StorageError(f"outbox {self.path}: cannot delete: {exc}") from exc
        self._dropped_in_flight -= late
        self.snapshot = self._stats()
        return removed

    def _stats(self) -> OutboxStats:
        oldest = self._db.execute("SELECT MIN(queued_ns) FROM results").fetchone()[0]
        c = self._counters
        return OutboxStats(queued=self._queued, oldest_queued_ns=oldest, base_seq=c["base_seq"], last_seq=c["last_seq"],
                           dropped_total=c["dropped_total"], acknowledged_total=c["acknowledged_total"],
                           rejected_total=c["rejected_total"], clock=self.clock.now_ns)

    def _reload(self) -> None:
        # after a failed transaction, memory must match what the database kept
        self._queued = int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        self._counters = self._read_counters()

    def _read_counters(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._db.execute("SELECT key, value FROM meta").fetchall()}

    def close(self) -> None:
        try:  # where the outbox clock stands, so that after a reboot it resumes from here
            with self._transaction():
                self._keep_clock()
        except sqlite3.Error:
            pass  # at worst it resumes from the last row stored
        self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
