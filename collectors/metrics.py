"""``/metrics``: collector health and the live state of every site and link (prometheus-client).

Own ``CollectorRegistry`` (no process-global state, several apps per test process are fine).
Base units, ``_total`` counters; site metadata (name, province, district) only on
``netmon_site_info`` so it can be joined in PromQL instead of repeated on every series.
Live-state series are produced at scrape time from the live state itself, so a site that
leaves the registry leaves /metrics with it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netmon.collectors.budget import SeriesBudget
from netmon.collectors.clocks import SiteClocks
from netmon.collectors.drain import TsdbDrainer
from netmon.collectors.journal import Journal
from netmon.collectors.live import LiveState
from netmon.collectors.sitestore import RegistryStore

INGEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # what every Prometheus user expects beside ours: process_* (CPU, memory, open files, start time)
        # and python_* (version, garbage collections), on this registry, not the library's global one
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.results = Counter("netmon_collector_results", "Results received, by outcome.", ["outcome"], registry=r)
        self.rejected_requests = Counter("netmon_collector_rejected_requests",
                                         "Ingest requests refused, by reason.", ["reason"], registry=r)
        self.batches = Counter("netmon_collector_batches", "Batches committed to the journal (answered 200).",
                               registry=r)
        self.ingest_seconds = Histogram("netmon_collector_ingest_duration_seconds",
                                        "Time from request to durable commit for accepted batches.",
                                        buckets=INGEST_BUCKETS, registry=r)
        self.sink_failures = Counter("netmon_collector_sink_failures", "Result sinks that raised, by sink.",
                                     ["sink"], registry=r)
        self.sink_seconds = Counter("netmon_collector_sink_duration_seconds",
                                    "Time the event loop spent in each sink (alert evaluation is one), by call "
                                    "(handle: per accepted batch; tick: timers).", ["sink", "call"], registry=r)
        self.site_refused = Counter("netmon_site_refused_results", "Results refused at the door, by site and why "
                                    "(invalid, limits, future, too_old, series_budget).", ["site", "reason"],
                                    registry=r)
        self.site_rejected_requests = Counter("netmon_site_rejected_requests", "Ingest requests of a site refused "
                                              "after its token was recognised, by site and reason.",
                                              ["site", "reason"], registry=r)
        self.registry_reloads = Counter("netmon_collector_registry_reloads", "Site registry reloads, by outcome.",
                                        ["outcome"], registry=r)
        for outcome in ("accepted", "duplicate", "rejected"):
            self.results.labels(outcome)
        for outcome in ("ok", "error"):
            self.registry_reloads.labels(outcome)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class StateCollector(Collector):
    """Journal, TSDB and live-state figures computed at scrape time."""

    def __init__(self, sites: RegistryStore, journal: Journal, live: LiveState, drainers: list[TsdbDrainer],
                 clocks: SiteClocks, budget: SeriesBudget) -> None:
        self.sites = sites
        self.journal = journal
        self.live = live
        self.drainers = drainers
        self.clocks = clocks
        self.budget = budget

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self._collector_health()
        yield from self._live()

    def _collector_health(self) -> Iterator[Metric]:
        journal = self.journal
        yield _single(_gauge("netmon_collector_journal_pending_results",
                             "Accepted results in the journal not yet written to every TSDB target."), journal.pending)
        size = journal.path.stat().st_size if journal.path.exists() else 0
        wal = journal.path.with_name(journal.path.name + "-wal")
        size += wal.stat().st_size if wal.exists() else 0
        yield _single(_gauge("netmon_collector_journal_size_bytes", "Size of journal.db and its WAL."), size)
        yield from self._tsdb()
        gaps = CounterMetricFamily("netmon_collector_dedupe_gaps_closed",
                                   "Gaps in agents' sequence numbers closed, by reason.", labels=["reason"])
        for reason, count in journal.gaps_closed.items():
            gaps.add_metric([reason], count)
        yield gaps
        yield _single(_gauge("netmon_collector_registry_sites", "Sites in the loaded registry."),
                      len(self.sites.registry.sites))
        # collectors side by side must hold the same file: compare this label across them
        loaded = GaugeMetricFamily("netmon_collector_registry_info", "The loaded site registry file's SHA-256.",
                                   labels=["sha256"])
        loaded.add_metric([self.sites.digest], 1.0)
        yield loaded
        yield _single(_gauge("netmon_collector_sites_clock_off", "Sites whose agent's clock is further off the "
                             "collector's than limits.max_clock_offset."), len(self.clocks.sites_off()))

    def _tsdb(self) -> Iterator[Metric]:
        """Per TSDB target (``target``: its name, the URL unless ``name`` is set)."""
        lag = _gauge("netmon_collector_tsdb_write_lag_seconds",
                     "Age of the oldest accepted result the target does not hold yet (0 when caught up).", ["target"])
        up = _gauge("netmon_collector_tsdb_up", "1 when the last write to the target succeeded.", ["target"])
        kept = _gauge("netmon_collector_tsdb_points_set_aside",
                      "Points the target refused, kept in the journal (until journal.retention).", ["target"])
        per_site = _gauge("netmon_site_tsdb_points_set_aside", "Points of the site a TSDB target refused, kept in "
                          "the journal.", ["site", "target"])
        counters = [CounterMetricFamily(name, doc, labels=["target"]) for name, doc in (
            ("netmon_collector_tsdb_points_written", "Points written to the target."),
            ("netmon_collector_tsdb_points_rejected", "Points the target refused, isolated and set aside."),
            ("netmon_collector_tsdb_write_errors", "Failed writes to the target (retried unless refused)."),
            ("netmon_collector_tsdb_write_splits", "Refused writes split in two to isolate refused points."))]
        for drainer in self.drainers:
            target = drainer.target
            lag.add_metric([target], drainer.lag_seconds())
            up.add_metric([target], 1.0 if drainer.available else 0.0)
            set_aside = drainer.points_set_aside()
            kept.add_metric([target], sum(set_aside.values()))
            for site, count in sorted(set_aside.items()):
                per_site.add_metric([site, target], count)
            for family, value in zip(counters, (drainer.points_written, drainer.points_rejected, drainer.write_errors,
                                                drainer.splits), strict=True):
                family.add_metric([target], value)
        yield from (lag, up, kept, per_site, *counters)

    def _live(self) -> Iterator[Metric]:
        journal, live_state = self.journal, self.live
        now_ns = time.time_ns()
        info = _gauge("netmon_site_info", "Site metadata from the registry (always 1).",
                      ["site", "name", "province", "district"])
        age = _gauge("netmon_site_last_report_age_seconds", "Seconds since the site's last accepted result.",
                     ["site"])
        results = CounterMetricFamily("netmon_site_results", "Results from the site, by outcome.",
                                      labels=["site", "outcome"])
        dropped = CounterMetricFamily("netmon_site_agent_dropped_results",
                                      "Results the site's agent reports dropping from its full outbox.",
                                      labels=["site"])
        rtt = _gauge("netmon_link_rtt_seconds", "Latest average RTT per link and target.",
                     ["site", "link", "probe", "target"])
        loss = _gauge("netmon_link_loss_ratio", "Latest packet loss per link and target.",
                      ["site", "link", "probe", "target"])
        util = _gauge("netmon_link_utilisation_ratio", "Latest utilisation of the link's contracted rate.",
                      ["site", "link"])
        clock = _gauge("netmon_site_clock_offset_seconds", "The site agent's clock minus the collector's (as the "
                       "agent measured it from the collector's Date answers, else from its batches' sent_at).",
                       ["site"])
        unplanned = _gauge("netmon_site_unplanned_series", "Series of the site the registry does not plan, "
                           "against limits.site_unplanned_series.", ["site"])
        anomalies = CounterMetricFamily("netmon_site_seq_anomalies", "Sequence-number anomalies of the site's agent "
                                        "since the collector started: jump (far above its range: an outbox that "
                                        "restarted, or a broken or hostile sender), forgotten (dedupe intervals "
                                        "dropped at the cap).", labels=["site", "kind"])
        for site in self.sites.registry.sites:
            info.add_metric([site.id, site.name, site.province, site.district or ""], 1.0)
            offset = self.clocks.offset(site.id)
            if offset is not None:
                clock.add_metric([site.id], offset)
            series = self.budget.unplanned(site.id)
            if series:
                unplanned.add_metric([site.id], series)
            # list(): one C-level copy, so the journal's writer thread adding a kind cannot break the loop
            for kind, count in list(journal.seq_anomalies.get(site.id, {}).items()):
                anomalies.add_metric([site.id, kind], count)
            counters = journal.counters.get(site.id)
            if counters is not None:
                results.add_metric([site.id, "accepted"], counters.accepted)
                results.add_metric([site.id, "duplicate"], counters.duplicate)
                results.add_metric([site.id, "rejected"], counters.rejected)
                dropped.add_metric([site.id], counters.dropped_total)
            seconds = live_state.last_report_age_seconds(site.id, now_ns)
            if seconds is not None:
                age.add_metric([site.id], seconds)
            live = live_state.sites.get(site.id)
            if live is None:
                continue
            for (probe, link_name, target), record in sorted(live.results.items()):
                if link_name and probe in ("icmp", "udp_echo"):
                    if "rtt_avg_seconds" in record.values:
                        rtt.add_metric([site.id, link_name, probe, target], record.values["rtt_avg_seconds"])
                    if "loss_ratio" in record.values:
                        loss.add_metric([site.id, link_name, probe, target], record.values["loss_ratio"])
            for link in site.links:
                figures = live_state.figures(site, link.name)
                if figures.utilisation_ratio is not None:
                    util.add_metric([site.id, link.name], figures.utilisation_ratio)
        yield from (info, age, results, dropped, rtt, loss, util, clock, unplanned, anomalies)


def _single(family: GaugeMetricFamily | CounterMetricFamily, value: float) -> Metric:
    family.add_metric([], value)
    return family

