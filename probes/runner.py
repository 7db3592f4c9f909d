"""Run one task: the single place that enforces timeouts and turns exceptions into results.

A ``ProbeError`` (the probe cannot run here: source address, permission, a missing tool) is an
``error`` result with its own text; any other exception is a bug, logged with its traceback and
reported as ``error`` "probe crashed"; neither stops the agent.
"""

from __future__ import annotations

import asyncio
import logging

from netmon.contract import Observation, Status
from netmon.errors import ProbeError
from netmon.probes.base import Probe, ProbeTask

log = logging.getLogger(__name__)

# Grace on top of the probe's own timeout, so a probe that handles its timeout itself
# (and reports partial results, e.g. ICMP replies received so far) gets to do so.
TIMEOUT_GRACE_SECONDS = 1.0


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
        log.exception("probe %s crashed", task.key)
        return task.observe(Status.ERROR, reason=f"probe crashed: {type(exc).__name__}: {exc}")
