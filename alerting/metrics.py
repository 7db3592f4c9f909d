"""``netmon_alerts_firing`` on the collector's ``/metrics``: one series per firing alert of a
commune, so Grafana's province overview can list firing incidents from Prometheus (which it
reads natively) instead of the incidents API (which would need a JSON datasource plugin).

Registered by the alerting extension (``alerting/service.py``) and read at scrape time from the
engine's own operator API (``incidents(state="firing")``);
site metadata stays on ``netmon_site_info`` (join on ``site``). Incidents that belong to no
single commune (a platform failing for many, an upstream storm) carry ``site=""`` and are
left out by that join — the incidents API lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netmon.alerting.model import Incident

log = logging.getLogger("netmon.alerting")
NAME = "netmon_alerts_firing"
LABELS = ["site", "rule", "severity", "link", "target"]


class FiringIncidents(Collector):
    def __init__(self, firing: Callable[[], Iterable[Incident]]) -> None:
        self._firing = firing

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(NAME, "Alerts firing now (1 each), per commune, rule, severity, link, target.",
                                   labels=LABELS)
        try:
            incidents = list(self._firing())
        except Exception:  # a scrape must not fail because the alert store is busy
            log.exception("reading firing incidents for /metrics failed")
            incidents = []
        for incident in incidents:
            family.add_metric([incident.site_id or "", incident.rule, incident.severity, incident.link or "",
                               incident.target or ""], 1.0)
        yield family

