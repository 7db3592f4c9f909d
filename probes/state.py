"""Small per-task memory that must survive agent restarts (the gateway MAC, the last path).

One JSON file per task key under ``<state_dir>/probe-state/``, replaced atomically so a
power cut mid-write leaves the old file, never half a file. A missing or unreadable file
means "nothing remembered": the probe then starts a new baseline instead of failing.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def state_path(state_dir: Path, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key.replace("/", "__"))
    return state_dir / "probe-state" / f"{safe}.json"


def load_state(state_dir: Path, key: str) -> dict[str, Any] | None:
    path = state_path(state_dir, key)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable probe state %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def save_state(state_dir: Path, key: str, data: dict[str, Any]) -> bool:
    """False (and a warning) when it cannot be written: the measurement still counts."""
    path = state_path(state_dir, key)
    tmp = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot save probe state %s: %s", path, exc)
        return False
    return True
