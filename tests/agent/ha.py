"""What the high-availability tests read from real collectors and agents: each collector's own
counts, the shared counts, an agent's metrics, and the exactly-once check against InfluxDB."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from netmon.lab.collector import CollectorProcess
from netmon.lab.services import Server
from netmon.lab.tsdbquery import influxql
from tests.agent.helpers import outbox_rows


def collector_samples(collector: CollectorProcess, family: str) -> list[tuple[str, dict[str, str], float]]:
    text = collector.read("/metrics")[2].decode()
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) if f.name == family
            for s in f.samples]


def accepted(collector: CollectorProcess) -> int:
    """What this collector itself took in (its own /metrics): /api/v1/stats counts every collector's."""
    return int(sum(value for name, labels, value in collector_samples(collector, "netmon_collector_results")
                   if name.endswith("_total") and labels.get("outcome") == "accepted"))


def own_site_accepted(collector: CollectorProcess, site_id: str) -> int:
    """What this collector itself took in of ``site_id`` (its journal's count in /metrics)."""
    return int(sum(value for name, labels, value in collector_samples(collector, "netmon_site_results")
                   if name == "netmon_site_results_total" and labels == {"site": site_id, "outcome": "accepted"}))


def shared_site_accepted(collector: CollectorProcess, site_id: str) -> int:
    return int(collector.get_json(f"/api/v1/sites/{site_id}")["accepted"])


def agent_samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def outbox_queued(url: str) -> int:
    return int(agent_samples(url)[("netmon_agent_outbox_queued", ())])


def shared_state(tmp_path: Path, pg_dsn: str, name: str = "state.dsn", **options: Any) -> dict[str, Any]:
    """Collectors on one PostgreSQL: a site enrolled through one is valid on every other."""
    (tmp_path / name).write_text(pg_dsn + "\n")
    return {"postgres": {"dsn_file": str(tmp_path / name), **options}}


def stored_once(influx: Server, state_dir: Path, site_id: str) -> set[int]:
    """Every result the agent saw acknowledged is in InfluxDB, none twice; returns those seqs."""
    queued, meta, integrity = outbox_rows(state_dir)
    assert integrity == "ok"
    delivered = set(range(meta["base_seq"] + 1, meta["last_seq"] + 1)) - set(queued)
    rows = influxql(influx.url, "netmon", f"SELECT seq FROM agent WHERE site = '{site_id}'")
    stored = [int(r["seq"]) for r in rows]
    assert len(stored) == len(set(stored)), f"a result of {site_id} is in InfluxDB twice"
    assert set(stored) == delivered, site_id
    return delivered
