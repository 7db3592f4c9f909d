"""`netmon sites` and the secret checks: a token is printed once and only its hash is stored;
placeholder secrets are refused outside development."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from netmon.lab.collector import lab_site, write_central, write_registry
from tests.conftest import netmon_env


def netmon(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True,
                          env=netmon_env(**env), timeout=60)


def state_bytes(state_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state_dir.iterdir()) if p.name.startswith("sites.db"))


def test_enrol_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734"), lab_site("26740", district=None)])
    config = str(write_central(tmp_path, registry))
    out = netmon("sites", "enrol", "26734", "--json", "--config", config)
    assert out.returncode == 0, out.stderr
    issued = json.loads(out.stdout)
    assert set(issued) == {"site_id", "token"} and issued["site_id"] == "26734"
    token = issued["token"]
    assert len(token) >= 43 and out.stdout.count(token) == 1 and token not in out.stderr
    stored = state_bytes(tmp_path / "state")
    assert token.encode() not in stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    assert oct((tmp_path / "state" / "sites.db").stat().st_mode & 0o777) == "0o600"

    again = netmon("sites", "enrol", "26734", "--config", config)
    assert again.returncode == 1 and "already has an active token; use --rotate" in again.stderr
    rotated = netmon("sites", "enrol", "26734", "--rotate", "--config", config)
    assert rotated.returncode == 0 and rotated.stdout.strip() != token and len(rotated.stdout.strip()) >= 43
    assert "shown once" in rotated.stderr

    unknown = netmon("sites", "enrol", "99999", "--config", config)
    assert unknown.returncode == 1 and f"site '99999' is not in the registry {registry}" in unknown.stderr

    listing = netmon("sites", "list", "--json", "--config", config)
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(r["site_id"], r["token_since"] is not None, r["agent_id"]) for r in rows] == [
        ("26734", True, "26734-agent"), ("26740", False, None)]
    # a site whose agent has an id of its own (agent.id in its site file)
    named = netmon("sites", "enrol", "26740", "--agent-id", "box-7", "--config", config)
    assert named.returncode == 0, named.stderr
    assert "box-7" in netmon("sites", "list", "--config", config).stdout
    bad = netmon("sites", "enrol", "26740", "--agent-id", "a b", "--rotate", "--config", config)
    assert bad.returncode == 2 and "--agent-id 'a b': 1-64 letters, digits" in bad.stderr
    assert netmon("sites", "revoke", "26734", "--config", config).returncode == 0
    assert netmon("sites", "revoke", "26734", "--config", config).stderr.strip() == "site 26734 has no active token"


def test_config_errors_and_placeholder_secrets_stop_the_collector(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    token_file = tmp_path / "influx.token"
    token_file.write_text("changeme\n")
    config = str(write_central(tmp_path, registry, influx={
        "url": "http://127.0.0.1:9", "api": "v2", "org": "noc", "bucket": "netmon", "token_file": str(token_file)}))
    refused = netmon("collector", "serve", "--config", config)
    assert refused.returncode == 1
    assert f"influxdb.token_file: secret file {token_file} still holds a placeholder value (refused because " \
           "NETMON_ENV=production)" in refused.stderr
    assert "changeme" not in refused.stderr

    (tmp_path / "sites.yaml").write_text("sites:\n  - {id: '1', name: A, province: P, links: [{name: x, kind: leased_line}]}\n")
    broken = netmon("collector", "serve", "--config", config, NETMON_ENV="development")
    assert broken.returncode == 1
    assert f"{registry}:2: sites[0].links[0]: a leased_line link needs contracted_mbps" in broken.stderr


def test_zero_padded_codes_from_a_hand_written_registry_are_enrolled_and_listed_as_written(tmp_path: Path) -> None:
    registry = tmp_path / "sites.yaml"
    # as an operator writes it: no quotes (YAML 1.1 alone would make these 87 and 127)
    registry.write_text("sites:\n  - {id: 00127, name: Phường Ba Đình, province: Hà Nội}\n"
                        "  - {id: 127, name: Xã B, province: Hà Nội}\n", encoding="utf-8")
    config = str(write_central(tmp_path, registry))
    issued = netmon("sites", "enrol", "00127", "--json", "--config", config)
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["site_id"] == "00127"
    assert netmon("sites", "enrol", "87", "--config", config).stderr.strip() == \
        f"site '87' is not in the registry {registry}"
    listing = netmon("sites", "list", "--json", "--config", config)
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(r["site_id"], r["token_since"] is not None) for r in rows] == [("00127", True), ("127", False)]
    table = netmon("sites", "list", "--config", config).stdout.splitlines()
    assert [line.split()[0] for line in table] == ["00127", "127"]
    assert netmon("sites", "revoke", "00127", "--config", config).stdout.strip() == "revoked the token of site 00127"
