"""The agent's own heartbeat record (``ProbeKind.AGENT``).

It travels like any result, so the centre knows the agent is alive even when every probe
fails, and sees its outbox depth. ``produced_total`` and ``acknowledged_total`` are the
outbox's persisted counts (cumulative since the outbox was created), so the centre can
compare them with what it received; ``uptime_seconds`` is this process's.
"""

from __future__ import annotations

import os
import time

from netmon.contract import Observation, ProbeKind, Status
from netmon.probes.agent.outbox import OutboxStats

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size now (not the peak that ``getrusage`` reports)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def heartbeat(agent_id: str, started_monotonic: float, stats: OutboxStats) -> Observation:
    now_ns = time.time_ns()
    return Observation(
        probe=ProbeKind.AGENT,
        target=agent_id,
        status=Status.OK,
        time_ns=now_ns,
        values={
            "uptime_seconds": round(time.monotonic() - started_monotonic, 3),
            "outbox_queued_count": stats.queued,
            "outbox_dropped_total": stats.dropped_total,
            "outbox_oldest_age_seconds": round(stats.oldest_age_seconds(), 3),
            "produced_total": stats.produced_total,
            "acknowledged_total": stats.acknowledged_total,
            "rss_bytes": rss_bytes(),
        },
    )
