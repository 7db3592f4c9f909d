"""Shared by the agent tests: write a site config, start ``netmon probe run`` as a real process
(inside a lab namespace), find its metrics port, read its outbox file directly."""

from __future__ import annotations

import re
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from netmon.lab.agent import metrics_url as metrics_url  # re-exported for the agent tests
from netmon.lab.agent import start_agent as start_agent
from netmon.lab.netns import Namespace, Proc, call_in_namespace

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
_STORED = re.compile(r"stored seq (\d+) ")


def write_config(path: Path, **sections: Any) -> Path:
    data: dict[str, Any] = {"site": SITE, "state_dir": str(path.parent / "state"),
                            "agent": {"metrics_port": 0, "heartbeat_interval": 3600}}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def fetch(ns: Namespace, url: str) -> str:
    def get() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    return call_in_namespace(ns, get)


def stored_seqs_logged(proc: Proc) -> list[int]:
    """Seqs the agent logged after their transaction committed (``--log-level debug``)."""
    return [int(m) for m in _STORED.findall(proc.log())]


def outbox_rows(state_dir: Path) -> tuple[list[int], dict[str, int], str]:
    """(seqs present, meta counters, integrity_check) read straight from the SQLite file."""
    db = sqlite3.connect(state_dir / "outbox.sqlite3")
    try:
        seqs = [int(s) for (s,) in db.execute("SELECT seq FROM results ORDER BY seq")]
        meta = {str(k): int(v) for k, v in db.execute("SELECT key, value FROM meta")}
        integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()
    return seqs, meta, integrity
