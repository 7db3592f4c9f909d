"""Per site: how far its agent's clock is off the collector's, as last seen at the door.

The agent measures it from the ``Date`` of the collector's answers and reports it on every upload
(``X-Netmon-Clock-Offset``, seconds, agent minus collector; ±1 s: ``Date`` has whole seconds).
An agent that does not report it (older releases) is estimated from its batch's ``sent_at_ns``
against the arrival time, which also counts the upload's transit time. Noted before any record
is checked, so a site whose records are all refused for their timestamps still shows why.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Literal

# a reported offset beyond this is noise or hostile, not a clock (±300 years)
MAX_REPORTED_SECONDS = 1e10
# an agent's own report is preferred to the estimate while it keeps reporting
REPORT_STALE_NS = 600 * 10**9


@dataclasses.dataclass(frozen=True, slots=True)
class ClockReading:
    offset_seconds: float  # the agent's clock minus the collector's
    source: Literal["agent", "sent_at"]
    at_ns: int  # when the collector saw it


def reported_offset(header: str | None) -> float | None:
    """The offset an agent reports in ``X-Netmon-Clock-Offset``, or None when absent or unreadable."""
    if not header:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= MAX_REPORTED_SECONDS else None


class SiteClocks:
    def __init__(self, max_offset_seconds: float) -> None:
        self.max_offset_seconds = max_offset_seconds
        self.readings: dict[str, ClockReading] = {}

    def note_reported(self, site_id: str, offset: float, now_ns: int | None = None) -> None:
        self.readings[site_id] = ClockReading(offset, "agent", now_ns or time.time_ns())

    def note_sent_at(self, site_id: str, sent_at_ns: int, now_ns: int) -> None:
        """An estimate from the batch's own send time, unless the agent reported its offset itself."""
        current = self.readings.get(site_id)
        if current is None or current.source == "sent_at" or now_ns - current.at_ns > REPORT_STALE_NS:
            self.readings[site_id] = ClockReading((sent_at_ns - now_ns) / 1e9, "sent_at", now_ns)

    def offset(self, site_id: str) -> float | None:
        reading = self.readings.get(site_id)
        return reading.offset_seconds if reading else None

    def off(self, site_id: str) -> bool:
        offset = self.offset(site_id)
        return offset is not None and abs(offset) > self.max_offset_seconds

    def sites_off(self) -> list[str]:
        return sorted(site for site in self.readings if self.off(site))
