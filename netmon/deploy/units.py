"""The systemd units netmon ships in its package (``netmon/deploy/systemd/``).

One source for a unit's hardening: the technician's install prints it with ``netmon probe
unit`` (docs/agent.md), the Ansible role installs the same file and changes only what its
inventory sets, in a drop-in.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

AGENT_UNIT = "netmon-agent.service"
AGENT_DEFAULT_BIN = "/opt/netmon-agent/bin/netmon"


def unit_text(name: str) -> str:
    return resources.files("netmon.deploy").joinpath("systemd", name).read_text(encoding="utf-8")


def this_netmon() -> Path:
    """The ``netmon`` script of the environment running now (``/opt/netmon-agent/bin/netmon``)."""
    return Path(sys.prefix) / "bin" / "netmon"


def agent_unit(netmon: Path | None = None) -> str:
    """The agent's unit, its ExecStart pointing at ``netmon`` (default: this installation's)."""
    binary = str(netmon or this_netmon())
    return unit_text(AGENT_UNIT).replace(f"ExecStart={AGENT_DEFAULT_BIN} ", f"ExecStart={binary} ", 1)
