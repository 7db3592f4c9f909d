"""Provision the netmon folder and dashboards through Grafana's HTTP API with grafana-client.

Idempotent: a dashboard whose stored JSON already equals ours (ignoring the ``id`` and
``version`` Grafana manages) in the netmon folder is left alone, so a second push changes
nothing — no new dashboard versions, no audit noise. Calls made, all documented Grafana
HTTP API: ``GET/POST/PUT /api/folders``, ``GET /api/search``, ``GET /api/dashboards/uid/:uid``,
``POST /api/dashboards/db``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import niquests
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from netmon.dashboards.build import FOLDER_TITLE, FOLDER_UID
from netmon.errors import GrafanaPushError

MANAGED_KEYS = ("id", "version")


@dataclasses.dataclass
class PushReport:
    folder: str = "unchanged"  # created | renamed | unchanged
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.folder != "unchanged" or bool(self.created or self.updated)


@contextmanager
def _grafana_errors(url: str, what: str) -> Iterator[None]:
    try:
        yield
    except GrafanaException as exc:
        raise GrafanaPushError(f"Grafana refused {what}: {exc.message}") from None
    except niquests.exceptions.RequestException as exc:
        # urllib3 nests the cause several levels deep; the errno text is what people can act on.
        cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        raise GrafanaPushError(f"Grafana at {url} did not answer ({what}): "
                               f"{cause.group(1) if cause else type(exc).__name__}") from None


def _comparable(board: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in board.items() if k not in MANAGED_KEYS}


def _ensure_folder(api: GrafanaApi) -> str:
    try:
        folder = api.folder.get_folder(FOLDER_UID)  # type: ignore[no-untyped-call]
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)  # type: ignore[no-untyped-call]
        return "created"
    if folder.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)  # type: ignore[no-untyped-call]
        return "renamed"
    return "unchanged"


def push(url: str, token: str, dashboards: Mapping[str, dict[str, Any]], *, timeout_seconds: float = 10.0
         ) -> PushReport:
    """Make Grafana at ``url`` hold exactly these dashboards (by uid) in the netmon folder."""
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_seconds)
    report = PushReport()
    with _grafana_errors(url, "the netmon folder"):
        report.folder = _ensure_folder(api)
    with _grafana_errors(url, "the dashboard search"):
        hits = api.search.search_dashboards(type_="dash-db", dashboard_uids=list(dashboards))
    existing = {hit["uid"] for hit in hits}
    for uid, board in dashboards.items():
        if uid in existing:
            with _grafana_errors(url, f"reading dashboard {uid}"):
                stored = api.dashboard.get_dashboard(uid)
            same_place = stored.get("meta", {}).get("folderUid") == FOLDER_UID
            if same_place and _comparable(stored.get("dashboard", {})) == _comparable(board):
                report.unchanged.append(uid)
                continue
        payload = {"dashboard": {**_comparable(board), "id": None}, "folderUid": FOLDER_UID, "overwrite": True,
                   "message": "netmon dashboards push"}
        with _grafana_errors(url, f"saving dashboard {uid}"):
            api.dashboard.update_dashboard(payload)
        (report.updated if uid in existing else report.created).append(uid)
    return report
