"""Fixtures for collector tests: the real collector as a subprocess, sites enrolled through the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.lab.collector import CollectorProcess, lab_site, start_collector, write_central, write_registry
from tests.conftest import netmon_env

SITES = ("26734", "26740", "26799")


def journal_rows(collector: CollectorProcess) -> int:
    """Results in the journal, read straight from the SQLite file."""
    conn = sqlite3.connect(f"file:{collector.state_dir / 'journal.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT coalesce(sum(results), 0) FROM batches").fetchone()[0])
    finally:
        conn.close()


def make_collector(workdir: Path, influx: dict[str, Any] | list[dict[str, Any]] | None = None,
                   sites: tuple[str, ...] = SITES,
                   **sections: Any) -> CollectorProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    registry = write_registry(workdir / "sites.yaml", [lab_site(s) for s in sites])
    config = write_central(workdir, registry, influx=influx, **sections)
    return start_collector(config, env=netmon_env())


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorProcess, dict[str, str]]]:
    """One SQLite-only collector for a module, small limits, every site enrolled."""
    collector = make_collector(tmp_path_factory.mktemp("collector"),
                               limits={"max_body_bytes": "64KiB", "site_results_per_minute": 300})
    try:
        tokens = {site: collector.enrol(site) for site in SITES}
        yield collector, tokens
    finally:
        collector.stop()
