"""Two collectors in one province: the roles require the shared PostgreSQL, keep its DSN out of
central.yaml and of every log, and give the agents both URLs.

Validation runs on the controller only (the hosts point at a closed loopback port, as in
test_validation.py); the config the collector role would install is rendered from the role's own
template and defaults on the controller and read back.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.ansible.fleet import ANSIBLE_DIR, VENV_BIN, ansible_env, parse_recap
from tests.ansible.test_validation import site

DSN = "postgresql://netmon:Vk3-from-the-vault@db.dongnai.example.gov.vn:5432/netmon"
URLS = ["https://noc-a.example.gov.vn", "https://noc-b.example.gov.vn"]


def inventory(tmp_path: Path, site_vars: dict[str, Any], **group_vars: Any) -> Path:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    for name in ("netmon-1.2.3-py3-none-any.whl", "pip-24.0-py3-none-any.whl"):
        (wheelhouse / name).touch()
    registry = tmp_path / "sites.yaml"
    registry.write_text("sites:\n  - {id: '99', name: Xã 99, province: Đồng Nai}\n", encoding="utf-8")
    central = {"ansible_host": "127.0.0.1", "ansible_port": 1}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {
        "vars": {"netmon_wheelhouse": str(wheelhouse), "netmon_registry_file": str(registry),
                 "netmon_snmp_community": "from-the-vault", **group_vars},
        "children": {"netmon_central": {"hosts": {"noc-a": dict(central), "noc-b": dict(central)}},
                     "netmon_sites": {"hosts": {"commune-99": site("99", **site_vars)}}}}}, allow_unicode=True))
    return path


def playbook(tmp_path: Path, inv: Path, book: Path, *extra: str) -> tuple[int, str]:
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-v", "-i", str(inv), str(book), *extra],
                          capture_output=True, text=True, timeout=300, env=ansible_env(tmp_path), cwd=ANSIBLE_DIR)
    return proc.returncode, proc.stdout + proc.stderr


def test_two_collectors_without_postgres_are_refused_naming_the_variable(tmp_path: Path) -> None:
    code, output = playbook(tmp_path, inventory(tmp_path, {"netmon_collector_url": URLS[0]}),
                            ANSIBLE_DIR / "site.yml")
    assert code != 0
    for host in ("noc-a", "noc-b"):
        assert (f"{host}: netmon_postgres_dsn: missing; 2 collectors in netmon_central (noc-a, noc-b) share alert "
                "state and tokens only through PostgreSQL (put its DSN in the vault)") in output, output[-3000:]
    assert {h for h, r in parse_recap(output).items() if r.failed} == {"noc-a", "noc-b"}
    assert "PLAY [Deploy" not in output and "UNREACHABLE" not in output


def test_agents_that_know_one_of_two_collectors_are_refused(tmp_path: Path) -> None:
    code, output = playbook(tmp_path, inventory(tmp_path, {"netmon_collector_urls": URLS[:1]},
                                                netmon_postgres_dsn=DSN), ANSIBLE_DIR / "site.yml")
    assert code != 0
    assert ("commune-99: netmon_collector_urls: lists 1 URL(s) but netmon_central has 2 collectors (noc-a, noc-b): "
            "list each, the agent fails over along them") in output, output[-3000:]
    assert {h for h, r in parse_recap(output).items() if r.failed} == {"commune-99"}
    assert "PLAY [Deploy" not in output and "Vk3-from-the-vault" not in output


def test_with_the_dsn_and_both_urls_validation_passes_and_never_shows_the_dsn(tmp_path: Path) -> None:
    code, output = playbook(tmp_path, inventory(tmp_path, {"netmon_collector_urls": URLS},
                                                netmon_postgres_dsn=DSN), ANSIBLE_DIR / "site.yml")
    # validation passes; the deploy then fails to connect to the closed loopback port
    assert "PLAY [Deploy the central collector]" in output, output[-3000:]
    recap = parse_recap(output)
    assert code != 0 and recap["noc-a"].unreachable == 1 and recap["noc-b"].unreachable == 1
    assert "Vk3-from-the-vault" not in output


def test_the_rendered_central_yaml_names_the_dsn_file_and_this_collector_not_the_dsn(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    out.mkdir()
    role = ANSIBLE_DIR / "roles" / "netmon_collector"
    book = tmp_path / "render.yml"
    book.write_text(yaml.safe_dump([{
        "name": "Render the collector role's central.yaml for each collector", "hosts": "netmon_central",
        "gather_facts": False, "connection": "local", "vars_files": [str(role / "defaults" / "main.yml")],
        "tasks": [{"name": "Render", "delegate_to": "localhost", "ansible.builtin.template": {
            "src": str(role / "templates" / "central.yaml.j2"), "dest": f"{out}/{{{{ inventory_hostname }}}}.yaml",
            "mode": "0600"}}]}]))
    code, output = playbook(tmp_path, inventory(tmp_path, {"netmon_collector_urls": URLS}, netmon_postgres_dsn=DSN),
                            book)
    assert code == 0, output[-3000:]
    assert "Vk3-from-the-vault" not in output
    for host in ("noc-a", "noc-b"):
        text = (out / f"{host}.yaml").read_text()
        assert "Vk3-from-the-vault" not in text
        state = yaml.safe_load(text)["state"]
        assert state == {"postgres": {"dsn_file": "/etc/netmon/state.dsn", "connect_timeout": 5},
                         "instance": f"{host}:8080"}
