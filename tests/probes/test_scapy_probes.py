"""What the scapy-based kinds (lan, path) promise together: scapy stays out of the agent until one
of them runs, and a missing CAP_NET_RAW is an error result that says what to do, not a crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.lab.topology import SiteTopology
from netmon.probes.path.hops import Hop, format_hops, merge_path, same_path
from netmon.probes.rawnet import CAPABILITY_HINT
from netmon.probes.state import load_state, save_state, state_path
from tests.conftest import REPO_ROOT, netmon_env

# Runs in a fresh interpreter: sys.modules of the test process already holds whatever other
# tests imported.
AGENT_START = """
import json, sys, tempfile
from pathlib import Path
import yaml
from netmon.config.site import SiteConfig
from netmon.probes.base import ProbeContext
from netmon.probes.plan import build_tasks
from netmon.probes.kinds import default_kinds

def scapy_modules():
    return sorted(m for m in sys.modules if m == "scapy" or m.startswith("scapy."))

kinds = default_kinds()
context = ProbeContext(state_dir=Path(tempfile.mkdtemp()))
probes = [kinds.get(kind)(context) for kind in kinds.names()]
base = {"site": {"id": "1", "name": "x", "province": "y"}}
tasks = [t for kind in ("lan", "path")
         for t in build_tasks(SiteConfig.model_validate({**base, **yaml.safe_load(open(f"probes/{kind}/sample.yaml"))}),
                              kinds)]
before = scapy_modules()
from netmon.probes.scapy_loader import load_scapy
load_scapy()  # what measure() does on first use
import netmon.probes.lan.sweep, netmon.probes.path.trace, netmon.probes.path.mtu
from scapy.config import conf
print(json.dumps({"kinds": kinds.names(), "tasks": len(tasks), "before": before, "after": len(scapy_modules()),
                  "all": "scapy.all" in sys.modules, "openssl": "cryptography" in sys.modules,
                  "crypto_valid": conf.crypto_valid}))
"""

MEASURE_SAMPLES = """
import asyncio, json, tempfile
from pathlib import Path
import yaml
from netmon.config.site import SiteConfig
from netmon.probes.base import ProbeContext
from netmon.probes.plan import build_tasks
from netmon.probes.kinds import default_kinds
from netmon.probes.runner import run_task

async def main():
    kinds = default_kinds()
    base = {"site": {"id": "1", "name": "x", "province": "y"}}
    for kind in ("lan", "path"):
        config = SiteConfig.model_validate({**base, **yaml.safe_load(open(f"probes/{kind}/sample.yaml"))})
        probe = kinds.get(kind)(ProbeContext(state_dir=Path(tempfile.mkdtemp())))
        for task in build_tasks(config, kinds):
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
from netmon.probes.scapy_loader import _NoCryptographyForThisThread
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


def test_hops_text_stays_a_short_field_and_cuts_at_a_whole_hop() -> None:
    hops = [Hop(ttl=t, address=f"100.100.{t}.{t}", rtt_seconds=0.0123) for t in range(1, 31)]
    text = format_hops(hops)
    assert len(text) <= 500  # the wire contract's bound for info fields
    assert text.startswith("1 100.100.1.1 12.30ms; 2 100.100.2.2 12.30ms")
    kept = text.split("; … (")[0].split("; ")
    assert kept[-1] == f"{len(kept)} 100.100.{len(kept)}.{len(kept)} 12.30ms"
    assert text.endswith(f"; … ({30 - len(kept)} more)")
    assert format_hops([Hop(1, "10.77.1.1", 0.00031), Hop(2, None, None), Hop(3, "10.77.2.2", 0.00052)]) == \
        "1 10.77.1.1 0.31ms; 2 *; 3 10.77.2.2 0.52ms"


def test_a_silent_hop_is_not_a_path_change_but_another_router_or_length_is() -> None:
    before = ["10.77.1.1", "10.77.9.2", "10.77.2.2"]
    assert same_path(before, ["10.77.1.1", None, "10.77.2.2"])
    assert merge_path(before, ["10.77.1.1", None, "10.77.2.2"]) == before
    assert not same_path(before, ["10.77.1.1", "10.77.8.2", "10.77.2.2"])
    assert not same_path(before, ["10.77.1.1", "10.77.2.2"])


def test_unreadable_probe_state_is_a_fresh_start_not_a_failure(tmp_path: Path) -> None:
    assert save_state(tmp_path, "lan/lan", {"gateway_mac": "02:00:00:00:00:01"})
    assert load_state(tmp_path, "lan/lan") == {"gateway_mac": "02:00:00:00:00:01"}
    state_path(tmp_path, "lan/lan").write_text('{"gateway_mac": "02:00')  # torn by a power cut
    assert load_state(tmp_path, "lan/lan") is None
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert save_state(blocked, "path/x/y", {}) is False  # state dir unusable: measurement goes on
