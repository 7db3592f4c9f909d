"""One push of the outbox to the shared marks and counters, planned from its rows (no database here).

A plan takes a prefix of the outbox: counted and rejected rows, then the fill rows right after
them, and stops before the next counted row. So within one push the counted seqs are judged
against the marks as they were before it, and gaps closed by this journal are added after them
— the order the journal did them in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from netmon.collectors.intervals import MarkKey
from netmon.collectors.outbox import OutboxRow, Run


@dataclasses.dataclass
class SiteFigures:
    """What this journal's rows say about a site: the local counts and the newest times."""

    accepted: int = 0  # accepted here: the shared marks decide how many of these were new
    duplicate: int = 0  # duplicates here are duplicates everywhere
    rejected: int = 0
    dropped_total: int | None = None
    dropped_at_ns: int | None = None
    last_seen_ns: int | None = None


@dataclasses.dataclass
class PushPlan:
    last_id: int = 0
    counted: dict[MarkKey, list[Run]] = dataclasses.field(default_factory=dict)
    fills: dict[MarkKey, list[Run]] = dataclasses.field(default_factory=dict)
    sites: dict[str, SiteFigures] = dataclasses.field(default_factory=dict)
    rows: int = 0


def merged(runs: Iterable[Run]) -> list[Run]:
    """Sorted, overlapping or adjacent runs joined."""
    out: list[Run] = []
    for first, last in sorted(runs):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def multirange(runs: Sequence[Run]) -> str:
    """PostgreSQL's text form of an ``int8multirange`` (half-open ranges, as it stores them)."""
    return "{" + ",".join(f"[{first},{last + 1})" for first, last in runs) + "}"


def plan(rows: Sequence[OutboxRow]) -> PushPlan:
    """The push of the longest prefix of ``rows`` (oldest first) that one push can do exactly."""
    out = PushPlan()
    counted: dict[MarkKey, list[Run]] = {}
    fills: dict[MarkKey, list[Run]] = {}
    for row in rows:
        if row.kind == "fill":
            fills.setdefault((row.site_id, row.agent_id), []).extend(row.runs)
        elif fills:
            break  # counted after a fill: the next push, against marks that hold the fill
        else:
            site = out.sites.setdefault(row.site_id, SiteFigures())
            site.rejected += row.rejected
            if row.kind == "counted":
                counted.setdefault((row.site_id, row.agent_id), []).extend(row.runs)
                site.accepted += row.accepted
                site.duplicate += row.duplicate
                if site.dropped_at_ns is None or row.at_ns >= site.dropped_at_ns:
                    site.dropped_total, site.dropped_at_ns = row.dropped_total, row.at_ns
                if row.accepted:
                    site.last_seen_ns = max(site.last_seen_ns or 0, row.at_ns)
        out.last_id = row.id
        out.rows += 1
    out.counted = {key: merged(runs) for key, runs in sorted(counted.items())}
    out.fills = {key: merged(runs) for key, runs in sorted(fills.items())}
    return out
