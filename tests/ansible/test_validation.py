"""The validation play names the host and the key for every kind of bad inventory setting.

It runs on the controller only: no host is contacted. The hosts point at a closed port on
loopback, so a connection attempt would show up as UNREACHABLE instead of going anywhere.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.fleet import ANSIBLE_DIR, VENV_BIN, ansible_env, parse_recap

GOOD_LINKS: list[dict[str, Any]] = [
    {"name": "leased", "kind": "leased_line", "contracted_mbps": 100,
     "snmp": {"host": "192.0.2.1", "if_name": "eth1", "version": "2c"}},
    {"name": "tslcd", "kind": "data_network", "contracted_mbps": 200},
]


def site(site_id: str | int, links: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"ansible_host": "127.0.0.1", "ansible_port": 1,
            "netmon_site": {"id": site_id, "name": f"Xã {site_id}", "province": "Đồng Nai"},
            "netmon_links": GOOD_LINKS if links is None else links, **extra}


def with_link(index: int, **changes: Any) -> list[dict[str, Any]]:
    links = [dict(link) for link in GOOD_LINKS]
    links[index].update(changes)
    return [{k: v for k, v in link.items() if v is not None} for link in links]


# host -> (host vars, the problem the play must report for it)
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "no-rate": (site("1", with_link(1, contracted_mbps=None)),
                "netmon_links[1] (tslcd).contracted_mbps: missing; a data_network link needs its contracted rate"),
    "rate-text": (site("2", with_link(0, contracted_mbps="100 Mbps")),
                  'netmon_links[0] (leased).contracted_mbps: "100 Mbps" is not a rate in Mbit/s'),
    "rate-zero": (site("3", with_link(1, contracted_mbps=0)),
                  "netmon_links[1] (tslcd).contracted_mbps: 0 is not a rate in Mbit/s"),
    "bad-kind": (site("4", with_link(1, kind="fibre")),
                 'netmon_links[1] (tslcd).kind: "fibre" is not one of lan, leased_line, data_network'),
    "snmp-no-if": (site("5", with_link(0, snmp={"host": "192.0.2.1", "version": "2c"})),
                   "netmon_links[0] (leased).snmp.if_name: missing; name the interface by if_name, if_alias or if_index"),
    "snmp-two-ifs": (site("13", with_link(0, snmp={"host": "192.0.2.1", "if_name": "eth1", "if_index": 3})),
                     "netmon_links[0] (leased).snmp: if_name, if_index: give only one of if_name, if_alias, if_index"),
    "snmp-v4": (site("6", with_link(0, snmp={"host": "192.0.2.1", "if_name": "eth1", "version": 4})),
                "netmon_links[0] (leased).snmp.version: 4 is not one of 1, 2c, 3"),
    "snmp-port": (site("7", with_link(0, snmp={"host": "192.0.2.1", "if_name": "eth1", "port": 70000})),
                  "netmon_links[0] (leased).snmp.port: 70000 is not a port number"),
    "snmp-v3-no-keys": (site("8", with_link(0, snmp={"host": "192.0.2.1", "if_name": "eth1", "version": "3"})),
                        "netmon_links[0] (leased).snmp: SNMP v3 (authPriv) needs netmon_snmp_v3_user"),
    "v2c-no-community": (site("9", netmon_snmp_community=""),
                         "netmon_links[0] (leased).snmp.community: missing; SNMP v2c needs netmon_snmp_community"),
    "bad-id": (site("x y"), "netmon_site.id: x y is not a valid identifier"),
    # a hand-written inventory with `id: 00127` unquoted reaches Ansible as 87
    "number-id": (site(87),
                  "netmon_site.id: 87 is a number; write the site code in quotes (unquoted, YAML reads 00127 as 87)"),
    "number-link": (site("12", with_link(1, name=1)),
                    "netmon_links[1] (1).name: 1 is a number; write the link name in quotes"),
    "no-links": (site("10", []), "netmon_links: missing"),
    "no-collector": (site("11", netmon_collector_url="noc.example.gov.vn"),
                     'netmon_collector_url: missing or not an http(s) URL (got "noc.example.gov.vn")'),
    "bad-urls": (site("15", netmon_collector_urls=["https://col-a.example.gov.vn", "col-b.example.gov.vn"]),
                 'netmon_collector_urls[1]: not an http(s) URL (got "col-b.example.gov.vn")'),
    "plain-http": (site("14", netmon_collector_url="http://noc.example.gov.vn"),
                   "netmon_collector_url: http://noc.example.gov.vn is plain http (the site token and results in "
                   "clear): use https://, or set netmon_collector_insecure_http: true for a lab"),
    "reflector-80": (site("12", netmon_probe_reflector_port=80),
                     "netmon_probe_reflector_port: 80 is not 0 (off) or an unprivileged port 1024-65535"),
}


def run_validate(tmp_path: Path, hosts: dict[str, dict[str, Any]], group_vars: dict[str, Any]) -> tuple[int, str]:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    # the wheel check looks at names only
    for name in ("netmon-1.2.3-py3-none-any.whl", "pip-24.0-py3-none-any.whl"):
        (wheelhouse / name).touch()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"netmon_wheelhouse": str(wheelhouse), "netmon_collector_url": "https://noc.example.gov.vn",
                 "netmon_snmp_community": "from-the-vault", **group_vars},
        "children": {"netmon_sites": {"hosts": hosts}}}}, allow_unicode=True))
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(ANSIBLE_DIR / "site.yml")],
                          capture_output=True, text=True, timeout=300, env=ansible_env(tmp_path), cwd=ANSIBLE_DIR)
    return proc.returncode, proc.stdout + proc.stderr


def test_every_bad_setting_is_named_with_its_host_and_nothing_is_contacted(tmp_path: Path) -> None:
    hosts = {name: hostvars for name, (hostvars, _) in CASES.items()}
    hosts["good"] = site("99")
    # an old router: SNMPv1, the interface found by the carrier's circuit id in ifAlias
    hosts["good-v1"] = site("98", with_link(0, snmp={"host": "192.0.2.1", "if_alias": "VNPT-HNI-0127", "version": "1"}))
    code, output = run_validate(tmp_path, hosts, {})

    assert code != 0
    for name, (_, problem) in CASES.items():
        assert f"{name}: {problem}" in output, f"{name}: expected {problem!r}\n{output[-3000:]}"
    recap = parse_recap(output)
    assert {h for h, r in recap.items() if r.failed} == set(CASES)
    assert recap["good"].failed == 0 and recap["good-v1"].failed == 0 and all(r.changed == 0 and r.unreachable == 0 for r in recap.values())
    # stopped in the validation play: no deploy play started, no connection was tried
    assert "PLAY [Deploy" not in output and "UNREACHABLE" not in output


def test_a_wheelhouse_without_exactly_one_netmon_release_is_refused(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "netmon-1.2.4-py3-none-any.whl").touch()   # a second release beside 1.2.3
    code, output = run_validate(tmp_path, {"good": site("99")}, {})
    assert code != 0
    assert "good: netmon_wheelhouse: expected exactly one netmon-<version>-py3-none-any.whl" in output
    assert "set netmon_version when several are there" in output


@pytest.mark.parametrize("pin", ["1.2.3", "1.2.4"])
def test_netmon_version_picks_one_of_several_releases(tmp_path: Path, pin: str) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "netmon-1.2.4-py3-none-any.whl").touch()
    code, output = run_validate(tmp_path, {"good": site("99", ansible_port=1)}, {"netmon_version": pin})
    # validation passes; the deploy then fails to connect to the closed loopback port
    assert code != 0 and "netmon_wheelhouse" not in output
    assert "PLAY [Deploy the commune agents]" in output and parse_recap(output)["good"].unreachable == 1, output[-2000:]
