"""The systemd units netmon ships in its package (``netmon/deploy/systemd/``).

One source for a unit's hardening: a hand install prints it with ``netmon probe unit``
(docs/agent.md) or ``netmon collector unit`` (docs/collector.md), the Ansible roles install the
same files and change only what their inventory sets, in a drop-in.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

AGENT_UNIT = "netmon-agent.service"
AGENT_DEFAULT_BIN = "/opt/netmon-agent/bin/netmon"
COLLECTOR_UNIT = "netmon-collector.service"
COLLECTOR_DEFAULT_BIN = "/opt/netmon/bin/netmon"


def unit_text(name: str) -> str:
    return resources.files("netmon.deploy").joinpath("systemd", name).read_text(encoding="utf-8")


def this_netmon() -> Path:
    """The ``netmon`` script of the environment running now (``/opt/netmon-agent/bin/netmon``)."""
    return Path(sys.prefix) / "bin" / "netmon"


def unit_starting(name: str, default_bin: str, netmon: Path | None = None) -> str:
    """The packaged unit ``name``, its ExecStart pointing at ``netmon`` (default: this installation's)."""
    binary = str((netmon or this_netmon()).absolute())  # systemd takes absolute paths only
    return unit_text(name).replace(f"ExecStart={default_bin} ", f"ExecStart={binary} ", 1)


def agent_unit(netmon: Path | None = None) -> str:
    return unit_starting(AGENT_UNIT, AGENT_DEFAULT_BIN, netmon)


def collector_unit(netmon: Path | None = None) -> str:
    return unit_starting(COLLECTOR_UNIT, COLLECTOR_DEFAULT_BIN, netmon)
