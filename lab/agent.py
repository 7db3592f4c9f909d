"""The real agent as a process of the testbed: ``netmon probe run`` inside a lab namespace (or, for
an agent that only ships heartbeats to collectors on loopback, in the root namespace), and where
it says its /metrics listen (the port is chosen by the kernel: ``metrics_port: 0``)."""

from __future__ import annotations

import re
from pathlib import Path

from netmon.lab.collector import netmon_argv, netmon_env
from netmon.lab.netns import LabError, Namespace, Proc, wait_until
from netmon.lab.services import spawn

_METRICS = re.compile(r"metrics listening on http://([^:]+):(\d+)/metrics")


def start_agent(ns: Namespace | None, config: Path, name: str = "agent", debug: bool = True) -> Proc:
    argv = netmon_argv("probe", "run", "--config", str(config), "--log-level", "debug" if debug else "info")
    if ns is None:
        proc = spawn(argv, config.parent / f"{name}.log", name=name, env=netmon_env())
    else:
        proc = ns.start(argv, name=name, env=netmon_env())
    wait_until(lambda: metrics_url(proc) is not None or not proc.alive(), 20, what="agent metrics port")
    if not proc.alive():
        raise LabError(f"the agent exited while starting:\n{proc.log()[-3000:]}")
    return proc


def metrics_url(proc: Proc) -> str | None:
    match = _METRICS.search(proc.log())
    return f"http://{match.group(1)}:{match.group(2)}/metrics" if match else None
