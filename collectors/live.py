"""Live state: the newest result per (site, probe, link, target), and when each site last reported.

A ``ResultSink`` fed after every commit, rebuilt at start from the journal's ``latest`` table
and counters, so a restart does not blank the NOC's view. The headline figures per link —
RTT, loss, utilisation of the *contracted* rate — are derived here for /metrics and the API.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from netmon.config.registry import RegistryLink, RegistrySite
from netmon.contract import RECORD_ADAPTER, ProbeKind, ResultRecord

RTT_KINDS = (ProbeKind.ICMP, ProbeKind.UDP_ECHO)
# A commune has a few dozen (probe, link, target) series; an agent inventing new target names
# must not grow the live state, /metrics or the journal's `latest` table without bound.
MAX_SERIES_PER_SITE = 500
Key = tuple[str, str, str]  # (probe, link or "", target)


@dataclasses.dataclass
class SiteLive:
    last_seen_ns: int | None = None
    results: dict[Key, ResultRecord] = dataclasses.field(default_factory=dict)
    # what decides which result is the newest: its time, but never later than when it was accepted,
    # so a sample stamped ahead of the collector's clock cannot keep newer ones out
    order_ns: dict[Key, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LinkFigures:
    rtt_seconds: float | None
    loss_ratio: float | None
    utilisation_ratio: float | None
    updated_ns: int | None


def utilisation(record: ResultRecord, link: RegistryLink | None) -> float | None:
    """Utilisation of the contracted rate: the agent's own figure, else bps against the registry."""
    values = record.values
    if "utilisation_ratio" in values:
        return values["utilisation_ratio"]
    ratios = [values[k] for k in ("in_utilisation_ratio", "out_utilisation_ratio") if k in values]
    if ratios:
        return max(ratios)
    rates = [values[k] for k in ("in_bps", "out_bps") if k in values]
    contracted = link.contracted_bps if link is not None else None
    if rates and contracted:
        return max(rates) / contracted
    return None


class LiveState:
    name = "live_state"

    def __init__(self) -> None:
        self.sites: dict[str, SiteLive] = {}

    async def handle(self, site: RegistrySite, records: Sequence[ResultRecord]) -> None:
        self.apply(site.id, records, time.time_ns())

    def apply(self, site_id: str, records: Iterable[ResultRecord], seen_ns: int | None) -> None:
        live = self.sites.get(site_id)
        if live is None:
            live = self.sites[site_id] = SiteLive()
        if seen_ns is not None and (live.last_seen_ns is None or seen_ns > live.last_seen_ns):
            live.last_seen_ns = seen_ns
        results, order = live.results, live.order_ns
        for record in records:
            key = (record.probe, record.link or "", record.target)  # a StrEnum member is its name
            time_ns = record.time_ns if seen_ns is None else min(record.time_ns, seen_ns)
            current = order.get(key)
            if current is None or current <= time_ns:
                results[key] = record
                order[key] = time_ns
        if len(results) > MAX_SERIES_PER_SITE:
            newest = sorted(order, key=order.__getitem__)[-MAX_SERIES_PER_SITE:]
            live.results = {key: results[key] for key in newest}
            live.order_ns = {key: order[key] for key in newest}

    def rebuild(self, latest: Iterable[tuple[str, int, dict[str, Any]]], last_seen: Callable[[str], int | None]
                ) -> int:
        """From the journal's newest result per key (records as the agent sent them)."""
        count = 0
        for site_id, time_ns, record in latest:
            # the journal's time_ns orders (capped at the accept time); the record keeps its own
            self.apply(site_id, [RECORD_ADAPTER.validate_python({"time_ns": time_ns, **record})], time_ns)
            count += 1
        for site_id, live in self.sites.items():
            live.last_seen_ns = last_seen(site_id)
        return count

    def last_report_age_seconds(self, site_id: str, now_ns: int | None = None) -> float | None:
        live = self.sites.get(site_id)
        if live is None or live.last_seen_ns is None:
            return None
        return max(0.0, ((now_ns or time.time_ns()) - live.last_seen_ns) / 1e9)

    def link_results(self, site_id: str, link: str) -> list[ResultRecord]:
        live = self.sites.get(site_id)
        if live is None:
            return []
        return [r for (_, name, _), r in sorted(live.results.items()) if name == link]

    def figures(self, site: RegistrySite, link: str) -> LinkFigures:
        results = self.link_results(site.id, link)
        rtt = [r for r in results if r.probe in RTT_KINDS]
        newest_rtt = max((r for r in rtt if "rtt_avg_seconds" in r.values), key=lambda r: r.time_ns, default=None)
        newest_loss = max((r for r in rtt if "loss_ratio" in r.values), key=lambda r: r.time_ns, default=None)
        snmp = max((r for r in results if r.probe is ProbeKind.SNMP_IF), key=lambda r: r.time_ns, default=None)
        return LinkFigures(
            rtt_seconds=newest_rtt.values["rtt_avg_seconds"] if newest_rtt else None,
            loss_ratio=newest_loss.values["loss_ratio"] if newest_loss else None,
            utilisation_ratio=utilisation(snmp, site.link(link)) if snmp else None,
            updated_ns=max((r.time_ns for r in results), default=None),
        )
