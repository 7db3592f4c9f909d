"""Token buckets keyed by source, with bounded memory."""

from __future__ import annotations

# Beyond this many tracked sources, idle ones are forgotten first; if all are active, new
# sources are refused until some go quiet (fail closed under a flood of spoofed sources).
MAX_SOURCES = 65536
IDLE_SECONDS = 60.0


class TokenBuckets:
    def __init__(self, rate_per_second: float, burst: float, max_keys: int = MAX_SOURCES) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, time of last update)

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str, now: float) -> bool:
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._forget_idle(now)
            if len(self._buckets) >= self.max_keys:
                return False
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, (_, last) in self._buckets.items() if now - last > IDLE_SECONDS]:
            del self._buckets[key]
