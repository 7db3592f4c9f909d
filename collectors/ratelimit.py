"""Per-site rate limit on results: a token bucket refilled at ``per_minute / 60`` per second.

The bucket holds one minute's worth, so a site back from an outage may send a minute's
allowance at once and then drains at the steady rate; a batch that does not fit is refused
whole with the seconds until it would fit (``Retry-After``), and consumes nothing.
"""

from __future__ import annotations

import math
import time


class SiteRateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate_per_second = per_minute / 60.0
        self._clock = time.monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # site -> (tokens, at)

    def admit(self, site_id: str, results: int) -> float:
        """0 when ``results`` may pass now (and are counted), else seconds to wait."""
        now = self._clock()
        tokens, at = self._buckets.get(site_id, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate_per_second)
        # a batch larger than the whole bucket passes when the bucket is full, and empties it
        cost = min(float(results), self.capacity)
        if cost <= tokens:
            self._buckets[site_id] = (tokens - cost, now)
            return 0.0
        self._buckets[site_id] = (tokens, now)
        return max(1.0, math.ceil((cost - tokens) / self.rate_per_second))
