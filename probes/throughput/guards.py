"""What keeps a throughput test from hurting the link it measures: a daily byte budget and quiet hours.

The budget is per task (per link), kept in ``state_dir/throughput-budget.json`` so an agent
restart does not hand out a fresh allowance, and starts again at local midnight (the
office's day, not UTC's). Writes are atomic (temp file + rename): a crash mid-write
leaves the previous state, never an empty file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "throughput-budget.json"


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def in_quiet_hours(windows: list[str], now: dt.datetime) -> str | None:
    """The window (``HH:MM-HH:MM``, local time) that ``now`` falls in, if any.

    A window whose end is before its start runs over midnight (``22:00-06:00``).
    """
    minute = now.hour * 60 + now.minute
    for window in windows:
        start_text, end_text = window.split("-")
        start, end = _minutes(start_text), _minutes(end_text)
        inside = start <= minute < end if start <= end else (minute >= start or minute < end)
        if inside:
            return window
    return None


class ByteBudget:
    """Bytes used today per key, persisted; ``today`` is injectable for tests of the midnight reset."""

    def __init__(self, state_dir: Path, *, read_only: bool = False) -> None:
        self.path = state_dir / STATE_FILE
        # read_only (``probe once``): today's spend is read and reported, never written
        self.read_only = read_only

    def _load(self, today: dt.date) -> dict[str, int]:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # a damaged file must not stop measurements; the budget restarts (logged)
            log.warning("throughput budget state %s unreadable (%s); starting the day at 0", self.path, exc)
            return {}
        if not isinstance(state, dict) or state.get("date") != today.isoformat():
            return {}
        used = state.get("used", {})
        return {str(k): int(v) for k, v in used.items()} if isinstance(used, dict) else {}

    def used(self, key: str, today: dt.date) -> int:
        return self._load(today).get(key, 0)

    def add(self, key: str, nbytes: int, today: dt.date) -> int:
        used = self._load(today)
        used[key] = used.get(key, 0) + max(0, nbytes)
        if self.read_only:
            return used[key]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".throughput-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump({"date": today.isoformat(), "used": used}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return used[key]
