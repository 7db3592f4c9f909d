"""The agent's own ``/metrics`` (prometheus-client, its own registry, Prometheus naming).

Process counters (``*_produced_total``, ``*_acknowledged_total``, ship failures) start at 0
with the process, as Prometheus counters do. The outbox figures come from the outbox's
persisted state: ``netmon_agent_outbox_dropped_total`` is the same cumulative number the
agent reports to the centre in ``ResultBatch.dropped_total``, so both sides agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netmon.config.site import SiteIdentity
from netmon.probes.agent.outbox import OutboxStats

# Probe durations run from sub-millisecond (TCP connect on a LAN) to tens of seconds (throughput).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


class _OutboxCollector(Collector):
    def __init__(self, stats: Callable[[], OutboxStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        yield GaugeMetricFamily("netmon_agent_outbox_queued", "Results stored in the outbox, not yet acknowledged.",
                                value=stats.queued)
        yield GaugeMetricFamily("netmon_agent_outbox_oldest_age_seconds",
                                "Age of the oldest result waiting in the outbox (0 when empty).",
                                value=stats.oldest_age_seconds())
        yield CounterMetricFamily("netmon_agent_outbox_dropped", "Results the outbox dropped (oldest first) to stay "
                                  "within its bounds, since the outbox was created.", value=stats.dropped_total)
        yield GaugeMetricFamily("netmon_agent_outbox_last_seq", "Highest result sequence number ever assigned.",
                                value=stats.last_seq)


class _BudgetCollector(Collector):
    """Each throughput link's bytes left for today, read from the budget state when scraped
    (so the midnight reset shows without waiting for the next test)."""

    def __init__(self, budgets: Callable[[], dict[str, float]]) -> None:
        self._budgets = budgets

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("netmon_agent_throughput_budget_remaining_bytes",
                                   "Bytes today's throughput budget still allows, per link.", labels=["link"])
        for link, remaining in sorted(self._budgets().items()):
            family.add_metric([link], remaining)
        yield family


class AgentMetrics:
    def __init__(self, site: SiteIdentity, agent_id: str, stats: Callable[[], OutboxStats | None],
                 budgets: Callable[[], dict[str, float]] = dict) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # what every Prometheus user expects beside ours: process_* (CPU, memory, open files, start time)
        # and python_* (version, garbage collections), on this registry, not the library's global one
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.produced = Counter("netmon_agent_results_produced", "Results produced (stored in the outbox).",
                                ["probe"], registry=r)
        self.acknowledged = Counter("netmon_agent_results_acknowledged",
                                    "Results the collector acknowledged as durable (deleted from the outbox).",
                                    registry=r)
        self.rejected = Counter("netmon_agent_results_rejected",
                                "Results the collector refused for good (dropped, reason logged).", registry=r)
        self.duration = Histogram("netmon_agent_probe_duration_seconds", "Time one probe run took.", ["probe"],
                                  buckets=DURATION_BUCKETS, registry=r)
        self.skipped = Counter("netmon_agent_probe_runs_skipped",
                               "Probe runs skipped because the previous run of the same task was still going.",
                               ["probe"], registry=r)
        self.batches = Counter("netmon_agent_batches_acknowledged", "Batches the collector acknowledged.",
                               registry=r)
        self.ship_failures = Counter("netmon_agent_ship_failures", "Failed attempts to ship a batch, by reason.",
                                     ["reason"], registry=r)
        self.collector_switches = Counter(
            "netmon_agent_collector_switches", "Moves to another collector of collector.urls, by reason (failover: "
            "the one in use failed; failback: back to the first).", ["reason"], registry=r)
        self.collector_in_use = Gauge("netmon_agent_collector_in_use",
                                      "Position in collector.urls of the collector in use (0: the first).", registry=r)
        self.plan_polls = Counter("netmon_agent_plan_polls", "Probe-plan polls of the centre, by result.",
                                  ["result"], registry=r)
        self.last_ship = Gauge("netmon_agent_last_successful_ship_timestamp_seconds",
                               "When the collector last acknowledged a batch (Unix time).", registry=r)
        self.tasks = Gauge("netmon_agent_probe_tasks", "Probe tasks currently scheduled.", registry=r)
        self.clock_offset = Gauge("netmon_agent_clock_offset_seconds", "This agent's clock minus the collector's, "
                                  "from the Date of its last answer (±1 s).", registry=r)
        start = Gauge("netmon_agent_start_time_seconds", "When the agent started (Unix time).", registry=r)
        start.set(time.time())
        info = Gauge("netmon_agent_info", "The site this agent measures (value 1).",
                     ["site", "agent", "province"], registry=r)
        info.labels(site=site.id, agent=agent_id, province=site.province).set(1)
        r.register(_OutboxCollector(stats))
        r.register(_BudgetCollector(budgets))
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint on its own thread; returns the bound port (``port`` 0 picks one)."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
