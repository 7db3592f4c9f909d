"""Build every netmon dashboard and Grafana's file-provisioning files for them.

Layout of ``--out DIR`` (point Grafana's ``paths.provisioning`` at ``DIR/provisioning``)::

    DIR/dashboards/netmon-*.json              one file per dashboard
    DIR/provisioning/dashboards/netmon.yaml   file provider for the folder "netmon"
    DIR/provisioning/datasources/netmon.yaml  InfluxDB (InfluxQL) and Prometheus, fixed uids
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from netmon.config.central import InfluxConfig
from netmon.config.readiness import ReadinessConfig
from netmon.dashboards import capacity, datasources, province_overview, site_detail, stack_health
from netmon.dashboards.thresholds import DashboardLimits

FOLDER_UID = "netmon"
FOLDER_TITLE = "netmon"
DASHBOARD_UIDS = (province_overview.UID, site_detail.UID, capacity.UID, stack_health.UID)


def build_all(limits: DashboardLimits | None = None, silent_after_seconds: float = 60.0,
              readiness: ReadinessConfig | None = None) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON, in the order NOC staff open them."""
    builders: list[Callable[[], dict[str, Any]]] = [
        lambda: province_overview.build(limits, silent_after_seconds, readiness),
        lambda: site_detail.build(limits),
        lambda: capacity.build(limits),
        lambda: stack_health.build(silent_after_seconds),
    ]
    built = [build() for build in builders]
    return {d["uid"]: d for d in built}


def dashboards_provider(dashboards_path: str) -> dict[str, Any]:
    return {"apiVersion": 1, "providers": [{
        "name": "netmon", "orgId": 1, "folder": FOLDER_TITLE, "folderUid": FOLDER_UID, "type": "file",
        # Generated from code: edits in the UI would be lost on the next build, so refuse them.
        "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": dashboards_path, "foldersFromFilesStructure": False},
    }]}


def write(out_dir: Path, influx: InfluxConfig, prometheus_url: str, *, dashboards_path: str | None = None,
          limits: DashboardLimits | None = None, silent_after_seconds: float = 60.0,
          readiness: ReadinessConfig | None = None) -> list[Path]:
    """Write the dashboards and provisioning files under ``out_dir``; return the files written."""
    boards_dir = out_dir / "dashboards"
    dash_prov = out_dir / "provisioning" / "dashboards"
    ds_prov = out_dir / "provisioning" / "datasources"
    for directory in (boards_dir, dash_prov, ds_prov):
        directory.mkdir(parents=True, exist_ok=True)
    written = []
    for uid, board in build_all(limits, silent_after_seconds, readiness).items():
        path = boards_dir / f"{uid}.json"
        path.write_text(json.dumps(board, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    provider = dash_prov / "netmon.yaml"
    provider.write_text(yaml.safe_dump(dashboards_provider(dashboards_path or str(boards_dir.resolve())),
                                       sort_keys=False, allow_unicode=True), encoding="utf-8")
    sources = ds_prov / "netmon.yaml"
    sources.write_text(yaml.safe_dump(datasources.provisioning(influx, prometheus_url), sort_keys=False,
                                      allow_unicode=True), encoding="utf-8")
    return [*written, provider, sources]
