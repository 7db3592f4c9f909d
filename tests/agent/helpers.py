"""Shared by the agent tests: write a site config, start ``netmon probe run`` as a real process
(inside a lab namespace), find its metrics port, read its outbox file directly."""

from __future__ import annotations

import re
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from netmon.lab.netns import Namespace, Proc, call_in_namespace, wait_until
from tests.conftest import netmon_argv, netmon_env

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
_METRICS = re.compile(r"metrics listening on http://([^:]+):(\d+)/metrics")
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


def start_agent(ns: Namespace, config: Path, name: str = "agent", debug: bool = True) -> Proc:
    argv = netmon_argv("probe", "run", "--config", str(config), "--log-level", "debug" if debug else "info")
    proc = ns.start(argv, name=name, env=netmon_env())
    wait_until(lambda: metrics_url(proc) is not None or not proc.alive(), 20, what="agent metrics port")
    assert proc.alive(), proc.log()[-3000:]
    return proc


def metrics_url(proc: Proc) -> str | None:
    match = _METRICS.search(proc.log())
    return f"http://{match.group(1)}:{match.group(2)}/metrics" if match else None


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
