"""What the scapy-based kinds (lan, path) promise together: scapy stays out of the agent until one
of them runs, and a missing CAP_NET_RAW is an error result that says what to do, not a crash."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netmon.lab.topology import SiteTopology
from probes.rawnet import CAPABILITY_HINT
from tests.conftest import REPO_ROOT, netmon_env

# Runs in a fresh interpreter: sys.modules of the test process already holds whatever other
# tests imported.
AGENT_START = """
import json, sys, tempfile
from pathlib import Path
import yaml
from netmon.config.site import SiteConfig
from probes.base import ProbeContext
from probes.plan import build_tasks
from probes.registry import default_registry

def scapy_modules():
    return sorted(m for m in sys.modules if m == "scapy" or m.startswith("scapy."))

registry = default_registry()
context = ProbeContext(state_dir=Path(tempfile.mkdtemp()))
probes = [registry.get(kind)(context) for kind in registry.kinds()]
base = {"site": {"id": "1", "name": "x", "province": "y"}}
tasks = [t for kind in ("lan", "path")
         for t in build_tasks(SiteConfig.model_validate({**base, **yaml.safe_load(open(f"probes/{kind}/sample.yaml"))}),
                              registry)]
before = scapy_modules()
from probes.scapy_loader import load_scapy
load_scapy()  # what measure() does on first use
import probes.lan.sweep, probes.path.trace, probes.path.mtu
from scapy.config import conf
print(json.dumps({"kinds": registry.kinds(), "tasks": len(tasks), "before": before, "after": len(scapy_modules()),
                  "all": "scapy.all" in sys.modules, "openssl": "cryptography" in sys.modules,
                  "crypto_valid": conf.crypto_valid}))
"""

MEASURE_SAMPLES = """
import asyncio, json, tempfile
from pathlib import Path
import yaml
from netmon.config.site import SiteConfig
from probes.base import ProbeContext
from probes.plan import build_tasks
from probes.registry import default_registry
from probes.runner import run_task

async def main():
    registry = default_registry()
    base = {"site": {"id": "1", "name": "x", "province": "y"}}
    for kind in ("lan", "path"):
        config = SiteConfig.model_validate({**base, **yaml.safe_load(open(f"probes/{kind}/sample.yaml"))})
        probe = registry.get(kind)(ProbeContext(state_dir=Path(tempfile.mkdtemp())))
        for task in build_tasks(config, registry):
            if task.kind.value == kind:
                print((await run_task(probe, task)).model_dump_json())

asyncio.run(main())
"""


def test_building_the_registry_and_planning_does_not_import_scapy() -> None:
    proc = subprocess.run([sys.executable, "-c", AGENT_START], cwd=REPO_ROOT, env=netmon_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {"lan", "path"} <= set(report["kinds"]) and report["tasks"] == 2
    assert report["before"] == []
    assert report["after"] > 0  # the check above can see scapy when it is there
    # and what the probes load is the light part: no scapy.all, no OpenSSL bindings
    assert report["all"] is False and report["openssl"] is False and report["crypto_valid"] is False


def test_keeping_openssl_out_of_scapy_does_not_hide_it_from_other_threads() -> None:
    script = """
import sys, threading
from probes.scapy_loader import _NoCryptographyForThisThread
sys.meta_path.insert(0, _NoCryptographyForThisThread())  # as during load_scapy() in this thread
try:
    import cryptography
    here = "imported"
except ModuleNotFoundError:
    here = "refused"
other = []
thread = threading.Thread(target=lambda: other.append(__import__("cryptography.fernet").fernet.__name__))
thread.start(); thread.join()
print(here, other[0] if other else "refused")
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=netmon_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["refused", "cryptography.fernet"]

@pytest.mark.netns
def test_without_cap_net_raw_both_probes_report_an_error_that_says_what_to_grant(site_topo: SiteTopology) -> None:
    # Root without CAP_NET_RAW in its bounding set: exactly an agent that was not granted it.
    argv = site_topo.site.argv(["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw",
                                sys.executable, "-c", MEASURE_SAMPLES])
    proc = subprocess.run(argv, cwd=REPO_ROOT, env=netmon_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["probe"] for r in results] == ["lan", "path"]
    for result in results:
        assert result["status"] == "error"
        assert result["reason"] == f"raw sockets are not permitted (Operation not permitted): {CAPABILITY_HINT}"
