"""What the demo shows comes from the collector's own API, the way a NOC would see it:
``/api/v1/stats`` (ingest totals, last report age), ``/api/v1/sites/{id}`` (per-link RTT, loss,
utilisation of the contracted rate; platform results) and, with alerting, ``/api/v1/incidents``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from netmon.lab.demo.stack import Stack

SILENT_AFTER_SECONDS = 8.0
RATE_WINDOW_SECONDS = 6.0


@dataclasses.dataclass
class LinkView:
    rtt_seconds: float | None = None
    loss_ratio: float | None = None
    utilisation_ratio: float | None = None


@dataclasses.dataclass
class SiteView:
    site_id: str
    name: str
    accepted: int = 0
    report_age_seconds: float | None = None
    links: dict[str, LinkView] = dataclasses.field(default_factory=dict)
    platforms: dict[str, tuple[str, float | None]] = dataclasses.field(default_factory=dict)

    @property
    def silent(self) -> bool:
        return self.report_age_seconds is None or self.report_age_seconds > SILENT_AFTER_SECONDS


@dataclasses.dataclass
class Peaks:
    """Worst values seen per site over the run, for the summary."""
    utilisation_ratio: dict[str, float] = dataclasses.field(default_factory=dict)
    loss_ratio: dict[str, float] = dataclasses.field(default_factory=dict)
    rtt_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    silent_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    platform_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    incidents: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Snapshot:
    sites: list[SiteView]
    incidents: list[dict[str, Any]]
    ingest_per_second: float
    accepted_total: int
    tsdb_lag_seconds: float
    errors: list[str]


def _max(table: dict[str, float], key: str, value: float | None) -> None:
    if value is not None:
        table[key] = max(table.get(key, value), value)


class Observer:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peaks = Peaks()
        # (time, accepted) samples of the last few seconds: agents ship every 2 s, so a rate
        # between two 1-s polls would flicker between 0 and twice the real one.
        self._history: list[tuple[float, int]] = []
        self.details: dict[str, Any] = {}
        self._last_poll = time.monotonic()

    def poll(self) -> Snapshot:
        errors: list[str] = []
        now = time.monotonic()
        step = now - self._last_poll
        self._last_poll = now
        stats = self.stack.api("/api/v1/stats")
        accepted = int(stats["totals"]["accepted"])
        self._history = [h for h in self._history if now - h[0] <= RATE_WINDOW_SECONDS] + [(now, accepted)]
        first = self._history[0]
        rate = (accepted - first[1]) / (now - first[0]) if now > first[0] else 0.0
        sites = []
        for site in self.stack.sites:
            try:
                detail = self.stack.api(f"/api/v1/sites/{site.spec.site_id}")
            except Exception as exc:  # the view must keep going; the error is shown
                errors.append(f"{site.spec.site_id}: {exc}")
                continue
            self.details[site.spec.site_id] = detail
            sites.append(self._site(detail, step))
        incidents: list[dict[str, Any]] = []
        try:
            answer = self.stack.api("/api/v1/incidents?state=firing")
            incidents = list(answer if isinstance(answer, list) else answer.get("incidents", []))
        except Exception as exc:
            errors.append(f"incidents: {exc}")
        for incident in incidents:
            self.peaks.incidents[str(incident.get("id"))] = incident
        return Snapshot(sites, incidents, rate, accepted, float(stats["totals"]["tsdb_write_lag_seconds"]), errors)

    def _site(self, detail: dict[str, Any], step: float) -> SiteView:
        view = SiteView(detail["site_id"], detail["name"], int(detail["accepted"]), detail["last_report_age_seconds"])
        for link in detail["links"]:
            lv = LinkView(link["rtt_seconds"], link["loss_ratio"], link["utilisation_ratio"])
            view.links[link["name"]] = lv
            key = f"{view.site_id}/{link['name']}"
            _max(self.peaks.utilisation_ratio, key, lv.utilisation_ratio)
            _max(self.peaks.loss_ratio, key, lv.loss_ratio)
            _max(self.peaks.rtt_seconds, key, lv.rtt_seconds)
        # platforms tied to a link come with that link's results, the others in other_results
        every = [r for link in detail["links"] for r in link["results"]] + list(detail["other_results"])
        for result in every:
            if result["probe"] == "http":
                total = result["values"].get("total_seconds")
                view.platforms[result["target"]] = (result["status"], total)
                _max(self.peaks.platform_seconds, view.site_id, total)
        if view.silent and view.accepted:
            self.peaks.silent_seconds[view.site_id] = self.peaks.silent_seconds.get(view.site_id, 0.0) + step
        return view
