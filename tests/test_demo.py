"""``netmon demo`` end to end: a 3-commune province, the go-live story, its summary and output
files, and that nothing it started survives — after a normal run and after Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from netmon.lab.demo.plan import alerting_available, dashboards_available
from tests.conftest import REPO_ROOT, netmon_argv, netmon_env, require_netns


def _namespaces(prefix: str) -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listing.splitlines() if line.startswith(prefix)]


def _processes_mentioning(text: str) -> list[str]:
    """Processes whose command line names the run's output folder (agents, collector, snmpd, influxd,
    platform stand-in all take a file from it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and "pytest" not in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def _assert_cleaned(pid: int, out: Path) -> None:
    assert _namespaces(f"nmt-{pid}-") == []
    assert _processes_mentioning(str(out)) == []


def test_demo_plays_the_story_and_cleans_up(tmp_path: Path) -> None:
    require_netns()
    out = tmp_path / "demo-out"
    proc = subprocess.Popen(netmon_argv("demo", "--sites", "3", "--duration", "45", "--no-live", "--out", str(out)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=netmon_env(),
                            cwd=REPO_ROOT)
    stdout, _ = proc.communicate(timeout=170)
    assert proc.returncode == 0, stdout[-3000:]
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    # commune 3 (a 4 Mbit/s leased line) is saturated, commune 2 loses its uplink
    saturated = re.search(r"Saturated leased line: Xã An Phước \(99003\) — peak utilisation (\d+) %", summary)
    assert saturated is not None, summary
    assert int(saturated.group(1)) >= 80, summary   # the centre saw it through SNMP, not just the script
    silent = re.search(r"Lost uplink: Xã Tam Phước \(99002\) — silent for (\d+) s", summary)
    assert silent is not None and int(silent.group(1)) >= 3, summary
    assert "Xã An Phước (99003)" in stdout and "Xã Tam Phước (99002)" in stdout
    if alerting_available():
        alerts = (out / "alerts.log").read_text(encoding="utf-8")
        assert "99003" in alerts and "99002" in alerts, alerts[-2000:]
    if dashboards_available():
        assert (out / "readiness.html").stat().st_size > 0
        assert list((out / "dashboards").rglob("*.json")), "no dashboard JSON written"
    _assert_cleaned(proc.pid, out)


def test_ctrl_c_mid_run_cleans_up(tmp_path: Path) -> None:
    require_netns()
    out = tmp_path / "demo-out"
    proc = subprocess.Popen(netmon_argv("demo", "--sites", "3", "--duration", "60", "--no-live", "--out", str(out)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=netmon_env(),
                            cwd=REPO_ROOT)
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    seen = []
    for line in proc.stdout:  # wait until the province is up and agents run
        seen.append(line)
        if line.startswith("lab nmt-") or time.monotonic() > deadline:
            break
    assert _namespaces(f"nmt-{proc.pid}-"), "".join(seen)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted (SIGINT): cleaning up" in rest
    _assert_cleaned(proc.pid, out)


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv to drop it")
def test_refuses_without_root_and_offers_loopback(tmp_path: Path) -> None:
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            *netmon_argv("demo", "--out", str(tmp_path / "x"))]
    out = subprocess.run(argv, capture_output=True, text=True, env=netmon_env(), timeout=60, cwd="/")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "needs root" in out.stdout and "netmon demo --loopback" in out.stdout
    assert not (tmp_path / "x").exists()  # refused before creating anything
