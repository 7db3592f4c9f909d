"""`netmon ansible inventory` turns the site registry into the inventory Ansible reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netmon.config.loader import load_model
from netmon.config.site import SiteConfig
from netmon.deploy.inventory import slug
from tests.ansible.fleet import VENV_BIN, ansible_env
from tests.conftest import REPO_ROOT

HEADER = "site_id,name,province,district,upstream,team,agent_host,lan_subnet,leased_mbps,leased_if,tslcd_mbps,tslcd_if,snmp_host,snmp_version\n"
ROWS = (
    "26734,Phường Phước Tân,Đồng Nai,Biên Hòa,dn-bh,,10.1.0.2,192.168.1.0/24,100,eth1,200,eth2,192.168.1.1,2c\n"
    "26740,Xã An Viễn,Đồng Nai,,,rrt-x,10.1.0.3,,50,,,,,\n"
    "00004,Phường Ba Đình,Hà Nội,,,,,,50,,,,,\n"
    "31000,Xã Long Sơn,Bà Rịa – Vũng Tàu,Thành phố Vũng Tàu,,,10.3.0.9,,30,,80.5,,,\n"
)


def generate(registry: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon", "ansible", "inventory", "--registry", str(registry)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": REPO_ROOT},
                          timeout=60)


@pytest.mark.parametrize(("text", "expected"), [
    ("Đồng Nai", "dong_nai"), ("Hà Nội", "ha_noi"), ("Thừa Thiên Huế", "thua_thien_hue"),
    ("Bà Rịa – Vũng Tàu", "ba_ria_vung_tau"), ("Thành phố Hồ Chí Minh", "thanh_pho_ho_chi_minh"),
    ("Đắk Lắk", "dak_lak"), ("  ", "unnamed"),
])
def test_group_names_are_ascii_slugs(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_registry_csv_becomes_province_and_district_groups_with_host_vars(tmp_path: Path) -> None:
    registry = tmp_path / "sites.csv"
    registry.write_text(HEADER + ROWS, encoding="utf-8")
    proc = generate(registry)
    assert proc.returncode == 0, proc.stderr
    # the site without an agent address is named, not silently dropped
    assert proc.stderr.strip() == f"{registry}: 1 site(s) have no agent_host and are not in the inventory: 00004"

    inventory = yaml.safe_load(proc.stdout)
    provinces = inventory["all"]["children"]["netmon_sites"]["children"]
    assert sorted(provinces) == ["province_ba_ria_vung_tau", "province_dong_nai"]
    dong_nai = provinces["province_dong_nai"]
    assert sorted(dong_nai["hosts"]) == ["site-26740"]
    assert sorted(dong_nai["children"]) == ["district_dong_nai_bien_hoa"]
    assert dong_nai["vars"] == {"netmon_province": "Đồng Nai"}
    assert dong_nai["children"]["district_dong_nai_bien_hoa"]["hosts"]["site-26734"] == {
        "ansible_host": "10.1.0.2",
        "netmon_site": {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai", "district": "Biên Hòa"},
        "netmon_links": [
            {"name": "lan", "kind": "lan"},
            {"name": "leased", "kind": "leased_line", "contracted_mbps": 100,
             "snmp": {"host": "192.168.1.1", "if_name": "eth1", "version": "2c"}},
            {"name": "tslcd", "kind": "data_network", "contracted_mbps": 200,
             "snmp": {"host": "192.168.1.1", "if_name": "eth2", "version": "2c"}},
        ],
        "netmon_lan_subnet": "192.168.1.0/24",
    }
    vung_tau = provinces["province_ba_ria_vung_tau"]["children"]["district_ba_ria_vung_tau_thanh_pho_vung_tau"]
    assert vung_tau["hosts"]["site-31000"]["netmon_links"] == [
        {"name": "leased", "kind": "leased_line", "contracted_mbps": 30},
        {"name": "tslcd", "kind": "data_network", "contracted_mbps": 80.5}]
    # no secrets: SNMP communities and tokens come from the vault and enrol.yml
    assert "community" not in proc.stdout and "token" not in proc.stdout


def test_ansible_reads_the_generated_inventory_as_intended(tmp_path: Path) -> None:
    registry = tmp_path / "sites.csv"
    registry.write_text(HEADER + ROWS, encoding="utf-8")
    inventory = tmp_path / "sites.yml"
    inventory.write_text(generate(registry).stdout, encoding="utf-8")
    proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
                          capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Invalid characters" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    listing = json.loads(proc.stdout)
    assert sorted(listing["netmon_sites"]["children"]) == ["province_ba_ria_vung_tau", "province_dong_nai"]
    assert listing["district_dong_nai_bien_hoa"]["hosts"] == ["site-26734"]
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == ["site-26734", "site-26740", "site-31000"]
    # group vars reach the hosts; diacritics survive the round trip
    assert hostvars["site-26734"]["netmon_province"] == "Đồng Nai"
    assert hostvars["site-26734"]["netmon_district"] == "Biên Hòa"
    assert hostvars["site-31000"]["netmon_site"]["name"] == "Xã Long Sơn"


def test_yaml_registry_works_too(tmp_path: Path) -> None:
    registry = tmp_path / "sites.yaml"
    registry.write_text(yaml.safe_dump({"sites": [
        {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai", "agent_host": "10.1.0.2",
         "snmp_version": "3",
         "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 100,
                    "snmp_host": "192.168.1.1", "if_name": "eth1"}]}]}, allow_unicode=True), encoding="utf-8")
    proc = generate(registry)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    host = yaml.safe_load(proc.stdout)["all"]["children"]["netmon_sites"]["children"]["province_dong_nai"]["hosts"]
    assert host["site-26734"]["netmon_links"][0]["snmp"] == {"host": "192.168.1.1", "if_name": "eth1", "version": "3"}


def test_a_bad_registry_fails_naming_file_line_and_column(tmp_path: Path) -> None:
    registry = tmp_path / "sites.csv"
    registry.write_text(HEADER + "26734,A,Đồng Nai,,,,10.1.0.2,,,,abc,eth2,,\n", encoding="utf-8")
    proc = generate(registry)
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"{registry}:2: site 26734: tslcd_mbps:" in proc.stderr


RENDER_SITE_CONFIG = """
- hosts: netmon_sites
  connection: local
  gather_facts: false
  vars_files: ["{roles}/netmon_probe/defaults/main.yml"]
  vars: {{netmon_collector_url: "https://noc.example.gov.vn", netmon_snmp_community: from-the-vault,
         ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"}}
  tasks:
    - ansible.builtin.template: {{src: "{roles}/netmon_probe/templates/site.yaml.j2", dest: "{out}/{{{{ inventory_hostname }}}}.yaml"}}
"""


def test_zero_padded_codes_survive_the_inventory_ansible_and_the_agent_config(tmp_path: Path) -> None:
    registry = tmp_path / "sites.yaml"
    # written by hand, unquoted: YAML 1.1 alone reads 00127 as 87 and 01 as 1
    registry.write_text("""\
sites:
  - id: 00127
    name: Phường Ba Đình
    province: Hà Nội
    agent_host: 10.1.0.2
    links: [{name: 01, kind: leased_line, contracted_mbps: 100, snmp_host: 192.168.1.1, if_name: 0/1}]
""", encoding="utf-8")
    proc = generate(registry)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    inventory = tmp_path / "sites.yml"
    inventory.write_text(proc.stdout, encoding="utf-8")
    listing = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
                             capture_output=True, text=True, env=ansible_env(tmp_path), timeout=120)
    assert listing.returncode == 0, listing.stderr
    hostvars = json.loads(listing.stdout)["_meta"]["hostvars"]
    assert list(hostvars) == ["site-00127"]
    assert hostvars["site-00127"]["netmon_site"]["id"] == "00127"
    assert hostvars["site-00127"]["netmon_links"][0]["name"] == "01"

    # the agent config the role renders from it reads back as the same site and link
    out = tmp_path / "rendered"
    out.mkdir()
    playbook = tmp_path / "render.yml"
    playbook.write_text(RENDER_SITE_CONFIG.format(roles=REPO_ROOT + "/ansible/roles", out=out), encoding="utf-8")
    render = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                            capture_output=True, text=True, env=ansible_env(tmp_path), timeout=300)
    assert render.returncode == 0, render.stdout[-3000:] + render.stderr[-3000:]
    config = load_model(out / "site-00127.yaml", SiteConfig)
    assert (config.site.id, config.links[0].name, config.agent_id) == ("00127", "01", "00127-agent")
