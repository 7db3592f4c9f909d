"""Run one task: the single place that enforces timeouts and turns exceptions into results.

A ``ProbeError`` (the probe cannot run here: source address, permission, a missing tool) is an
``error`` result with its own text. Any other exception is a bug: it gives an ``error`` result
every time, but is logged once per distinct crash — kind, exception type and where it was
raised — as one line, not a traceback per poll: a bug that hits every 60 s on 300 tasks must not
bury the log. The traceback is logged once at DEBUG. Neither stops the agent.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from netmon.contract import Observation, Status
from netmon.errors import ProbeError
from netmon.probes.base import Probe, ProbeTask

log = logging.getLogger(__name__)

# Grace on top of the probe's own timeout, so a probe that handles its timeout itself
# (and reports partial results, e.g. ICMP replies received so far) gets to do so.
TIMEOUT_GRACE_SECONDS = 1.0
# distinct crashes remembered; past this a new one is still logged, the memory starts over
MAX_REMEMBERED_CRASHES = 1000
_logged_crashes: set[tuple[str, str, str]] = set()


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def _log_crash(task: ProbeTask, exc: Exception) -> None:
    where = _where(exc)
    signature = (task.kind.value, type(exc).__name__, where)
    if signature in _logged_crashes:
        return
    if len(_logged_crashes) >= MAX_REMEMBERED_CRASHES:
        _logged_crashes.clear()
    _logged_crashes.add(signature)
    log.error("probe %s crashed: %s: %s (at %s); each run gives an error result, further crashes like this "
              "one are not logged again", task.key, type(exc).__name__, exc, where)
    log.debug("traceback of that crash", exc_info=exc)


async def run_task(probe: Probe, task: ProbeTask) -> Observation:
    limit = task.options.timeout + TIMEOUT_GRACE_SECONDS
    try:
        return await asyncio.wait_for(probe.measure(task), timeout=limit)
    except TimeoutError:
        return task.observe(Status.ERROR, reason=f"probe did not finish within {limit:g} s and was cut off")
    except asyncio.CancelledError:
        raise
    except ProbeError as exc:
        return task.observe(Status.ERROR, reason=str(exc) or type(exc).__name__)
    except Exception as exc:  # a probe bug must not stop the agent: report it as a result
        _log_crash(task, exc)
        return task.observe(Status.ERROR, reason=f"probe crashed: {type(exc).__name__}: {exc}")
