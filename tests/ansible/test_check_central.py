"""`netmon ansible check-central`: what the collector role runs before switching a central host to a release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

REGISTRY = ("site_id,name,province,district,upstream,team,agent_host,lan_subnet,leased_mbps,leased_if,tslcd_mbps,"
            "tslcd_if,snmp_host,snmp_version\n26734,Phường Phước Tân,Đồng Nai,,,,10.1.0.2,,100,,200,,,\n")


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon", "ansible", "check-central", str(config)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": REPO_ROOT},
                          timeout=60)


def write(tmp_path: Path, registry: str = REGISTRY, rules: str | None = None, **extra: object) -> Path:
    (tmp_path / "sites.csv").write_text(registry, encoding="utf-8")
    config: dict[str, object] = {"listen": {"host": "127.0.0.1", "port": 8080}, "state_dir": "state",
                                 "registry": "sites.csv", **extra}
    if rules is not None:
        (tmp_path / "rules.yaml").write_text(rules)
        config["alerting"] = {"rules_file": "rules.yaml"}  # relative to central.yaml, as the registry is
    path = tmp_path / "central.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_good_files_are_summarised(tmp_path: Path) -> None:
    proc = check(write(tmp_path, rules="include_defaults: true\ndisable: [LinkJitterHigh]\n"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{tmp_path / 'central.yaml'}: ok"
    # relative paths are read from the config's directory, as the collector does
    assert lines[1] == f"{tmp_path / 'sites.csv'}: ok — 1 site(s)"
    assert lines[2].startswith(f"{tmp_path / 'rules.yaml'}: ok — ") and lines[2].endswith(" rule(s)")


def test_a_bad_central_key_is_named(tmp_path: Path) -> None:
    proc = check(write(tmp_path, listen={"host": "127.0.0.1", "port": 99999}))
    assert proc.returncode == 1
    assert f"{tmp_path / 'central.yaml'}:" in proc.stderr and "listen.port" in proc.stderr


def test_a_bad_registry_row_is_named(tmp_path: Path) -> None:
    proc = check(write(tmp_path, registry=REGISTRY + "26735,B,Đồng Nai,,,,,,,,abc,,,\n"))
    assert proc.returncode == 1
    assert f"{tmp_path / 'sites.csv'}:3: site 26735: tslcd_mbps" in proc.stderr


def test_a_bad_rule_is_named(tmp_path: Path) -> None:
    proc = check(write(tmp_path, rules="rules:\n  - name: X\n    probe: icmp\n    value: rtt_avg\n    warning: 1\n"))
    assert proc.returncode == 1
    assert f"{tmp_path / 'rules.yaml'}" in proc.stderr and "rtt_avg" in proc.stderr
