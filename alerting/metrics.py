"""``netmon_alerts_firing`` on the collector's ``/metrics``: one series per firing alert of a
commune, so Grafana's province overview can list firing incidents from Prometheus (which it
reads natively) instead of the incidents API (which would need a JSON datasource plugin).

Registered by the alerting extension (``alerting/service.py``) and read at scrape time from the
engine's own operator API (``incidents(state="firing")``);
site metadata stays on ``netmon_site_info`` (join on ``site``). Incidents that belong to no
single commune (a platform failing for many, an upstream storm) carry ``site=""`` and are
left out by that join — the incidents API lists them.

``AlertingHealth`` adds how the alerting itself is doing: whether this collector is the one
sending notifications (``netmon_alert_dispatching``: 1 on exactly one collector of a shared
store), changes it could not write to the alert state, and notifications given up, by reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netmon.alerting.model import Incident
from netmon.errors import StorageError

if TYPE_CHECKING:
    from netmon.alerting.engine import AlertEngine

log = logging.getLogger("netmon.alerting")
NAME = "netmon_alerts_firing"
LABELS = ["site", "rule", "severity", "link", "target"]


class FiringIncidents(Collector):
    def __init__(self, firing: Callable[[], Iterable[Incident]]) -> None:
        self._firing = firing
        self._failing = False

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(NAME, "Alerts firing now (1 each), per commune, rule, severity, link, target.",
                                   labels=LABELS)
        try:
            incidents = list(self._firing())
        except StorageError as exc:  # the store is away: a scrape still answers; say so once per outage
            if not self._failing:
                log.warning("netmon_alerts_firing left empty while the alert store is unavailable: %s", exc)
            self._failing = True
            incidents = []
        except Exception:  # a scrape must not fail because of a bug here either
            log.exception("reading firing incidents for /metrics failed")
            incidents = []
        else:
            self._failing = False
        for incident in incidents:
            family.add_metric([incident.site_id or "", incident.rule, incident.severity, incident.link or "",
                               incident.target or ""], 1.0)
        yield family



class AlertingHealth(Collector):
    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        dispatching = GaugeMetricFamily("netmon_alert_dispatching",
                                        "1 when this collector sends the notifications (holds the dispatch lease).")
        dispatching.add_metric([], 1.0 if engine.store.dispatching else 0.0)
        yield dispatching
        for name, doc, value in (
                ("netmon_alert_state_write_failures", "Evaluation passes whose changes could not be written to the "
                 "alert state (kept and written by a later pass).", engine.writer.failed_flushes),
                ("netmon_alert_state_dropped_changes", "Unwritten alert-state changes dropped while the store was "
                 "unreachable for long.", engine.writer.dropped_writes)):
            family = CounterMetricFamily(name, doc)
            family.add_metric([], value)
            yield family
        failed = CounterMetricFamily("netmon_alert_notifications_failed",
                                     "Notifications given up, by channel and reason (rejected, gave_up, rate_limited, "
                                     "no_channel).", labels=["channel", "reason"])
        for (channel, reason), count in sorted(engine.dispatcher.failed.items()):
            failed.add_metric([channel, reason], count)
        yield failed
