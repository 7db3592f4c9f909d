"""The systemd units netmon ships: what `netmon probe unit` / `netmon collector unit` print is the
packaged file with ExecStart pointing at the netmon asked for, and systemd itself accepts it
(`systemd-analyze verify`). The Ansible roles install the same files plus a drop-in
(tests/ansible/test_deploy.py checks the merged result)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from netmon.deploy.units import AGENT_UNIT, COLLECTOR_UNIT, unit_text
from tests.conftest import netmon_argv, netmon_env


@pytest.mark.parametrize(("command", "unit", "default_bin"), [
    ("probe", AGENT_UNIT, "/opt/netmon-agent/bin/netmon"), ("collector", COLLECTOR_UNIT, "/opt/netmon/bin/netmon")])
def test_the_printed_unit_is_the_packaged_one_and_systemd_accepts_it(tmp_path: Path, command: str, unit: str,
                                                                     default_bin: str) -> None:
    netmon = tmp_path / "venv" / "bin" / "netmon"
    netmon.parent.mkdir(parents=True)
    netmon.write_text("#!/bin/sh\n")
    netmon.chmod(0o755)
    out = subprocess.run([*netmon_argv(command, "unit", "--netmon", str(netmon))], capture_output=True, text=True,
                         env=netmon_env(), timeout=60)
    assert (out.returncode, out.stderr) == (0, "")
    packaged = unit_text(unit)
    assert f"ExecStart={default_bin} " in packaged
    assert out.stdout == packaged.replace(f"ExecStart={default_bin} ", f"ExecStart={netmon} ", 1)
    path = tmp_path / unit
    path.write_text(out.stdout)
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (Debian's systemd) is installed by scripts/install-system-deps.sh"
    proc = subprocess.run([analyze, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr


def test_the_collector_unit_gives_it_what_a_province_needs_and_nothing_more() -> None:
    lines = set(unit_text(COLLECTOR_UNIT).splitlines())
    assert {"CapabilityBoundingSet=", "AmbientCapabilities=", "NoNewPrivileges=yes", "ProtectSystem=strict",
            "StateDirectory=netmon", "LimitNOFILE=65536", "ExecReload=/bin/kill -HUP $MAINPID",
            "User=netmon", "Restart=always"} <= lines
