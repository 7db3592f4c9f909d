"""Which results arrive late, and when a site has caught up after an outage.

An agent that lost its line keeps measuring; when the line is back it sends its backlog
(the newest heartbeat first, then the oldest results). Evaluated as if new, that backlog
would page for an outage that is already over, and resolve it seconds later. So:

- A result is **late** when it is older than ``late_after`` (the expected shipping interval
  plus ``alerting.late_margin``) on arrival. Age is measured against the site's own
  clock: ``ArrivalLags`` keeps the smallest lag of the newest result of each of the site's
  batches over the last ten minutes, so an agent clock minutes or years off is neither
  always late nor never late. A site with no recent batches is trusted (lag 0) until
  ten minutes of batches show otherwise: a batch of only old results is a backlog, not a
  clock that is off (an agent back from an outage sends its newest heartbeat first).
- A batch with a late result starts (or continues) the site's **catch-up**. Late samples,
  and samples measured less than ``late_after`` after the site was heard again (the end of
  the backlog, a probe that was under way when the line came back), are *held*
  (``series.step``): a condition they show that ends becomes history; one that is still
  bad on a later sample is going on, and pages then, with its start from the backlog.
- The catch-up ends with a batch that has no late result once every condition the backlog
  showed is decided, or ``2 x late_after`` after the site was heard again at the latest.
  The site's silence alert resolves then, as of the time the site was heard again, so its
  resolve message can list what happened meanwhile (and it inhibits the site's other alerts
  until then).
"""

from __future__ import annotations

import collections
import dataclasses

from netmon.alerting.series import Series

CLOCK_WINDOW_SECONDS = 600.0


class ArrivalLags:
    """Per site, how far behind the centre's clock its freshest results arrive (never less than 0:
    a sample stamped ahead counts as taken on arrival, as the evaluator takes it, so one sample a few
    minutes ahead cannot make the site's genuine results look late for ten minutes)."""

    def __init__(self, window_seconds: float = CLOCK_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        # (arrival, lag) with lags increasing from the left: a sliding-window minimum
        self._lags: dict[str, collections.deque[tuple[float, float]]] = {}

    def base_lag(self, site_id: str, newest_t: float, now: float) -> float:
        """Add this batch's newest sample time; return the site's smallest recent lag."""
        lags = self._lags.setdefault(site_id, collections.deque())
        while lags and lags[0][0] < now - self.window_seconds:
            lags.popleft()
        if not lags:
            lags.append((now, 0.0))  # trusted until shown otherwise
        lag = max(0.0, now - newest_t)
        while lags and lags[-1][1] >= lag:
            lags.pop()
        lags.append((now, lag))
        return lags[0][1]


@dataclasses.dataclass
class CatchUp:
    """A site sending its backlog: when it was heard again (centre's and its own clock), its
    last late batch, the silence it ends."""

    heard_at: float
    heard_at_site: float
    last_late_batch: float
    silent: list[Series] = dataclasses.field(default_factory=list)  # the absence alerts it ends
