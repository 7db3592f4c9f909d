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


def inventory(tmp_path: Path, site_vars: dict[str, Any], central_urls: tuple[str, ...] = (), **group_vars: Any) -> Path:
    """Two collectors noc-a, noc-b (each with its own netmon_collector_url when ``central_urls``)
    and one site with ``site_vars``."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    for name in ("netmon-1.2.3-py3-none-any.whl", "pip-24.0-py3-none-any.whl"):
        (wheelhouse / name).touch()
    registry = tmp_path / "sites.yaml"
    registry.write_text("sites:\n  - {id: '99', name: Xã 99, province: Đồng Nai}\n", encoding="utf-8")
    central = {"ansible_host": "127.0.0.1", "ansible_port": 1}
    centrals = {name: {**central, **({"netmon_collector_url": url} if url else {})}
                for name, url in zip(("noc-a", "noc-b"), central_urls or ("", ""), strict=True)}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {
        "vars": {"netmon_wheelhouse": str(wheelhouse), "netmon_registry_file": str(registry),
                 "netmon_snmp_community": "from-the-vault", **group_vars},
        "children": {"netmon_central": {"hosts": centrals},
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
    # one collector at a time: the first one failing (here: unreachable) stops the run before the
    # second is touched, so a bad release or config never takes the whole province down
    assert code != 0 and recap["noc-a"].unreachable == 1 and recap["noc-b"].unreachable == 0
    assert output.count("PLAY [Deploy the central collector]") == 1 and "PLAY [Deploy the commune" not in output
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


def render(tmp_path: Path, inv: Path, hosts: str, role: str, template: str) -> dict[str, dict[str, Any]]:
    """``template`` of ``role`` rendered on the controller for each of ``hosts``, with the role's defaults."""
    out = tmp_path / f"rendered-{role}"
    out.mkdir()
    role_dir = ANSIBLE_DIR / "roles" / role
    book = tmp_path / f"render-{role}.yml"
    book.write_text(yaml.safe_dump([{
        "name": f"Render {template}", "hosts": hosts, "gather_facts": False, "connection": "local",
        "vars_files": [str(role_dir / "defaults" / "main.yml")],
        "tasks": [{"name": "Render", "delegate_to": "localhost", "ansible.builtin.template": {
            "src": str(role_dir / "templates" / template), "dest": f"{out}/{{{{ inventory_hostname }}}}.yaml",
            "mode": "0600"}}]}]))
    code, output = playbook(tmp_path, inv, book)
    assert code == 0, output[-3000:]
    return {path.stem: yaml.safe_load(path.read_text()) for path in out.iterdir()}


def test_agents_are_given_every_collector_url_in_inventory_order_by_default(tmp_path: Path) -> None:
    inv = inventory(tmp_path, {}, central_urls=(URLS[0], URLS[1]), netmon_postgres_dsn=DSN)
    # noc-b listed first: the agents' order is netmon_central's, not the names'
    data = yaml.safe_load(inv.read_text())
    centrals = data["all"]["children"]["netmon_central"]
    centrals["hosts"] = {name: centrals["hosts"][name] for name in ("noc-b", "noc-a")}
    inv.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert "netmon_collector_urls" not in inv.read_text()
    config = render(tmp_path, inv, "netmon_sites", "netmon_probe", "site.yaml.j2")["commune-99"]
    assert config["collector"]["urls"] == [URLS[1], URLS[0]] and "url" not in config["collector"]
    # and validation passes with them: only the closed loopback port stops the run
    code, output = playbook(tmp_path, inv, ANSIBLE_DIR / "site.yml")
    assert "PLAY [Deploy the central collector]" in output and "netmon_collector_url" not in output, output[-3000:]
    assert code != 0 and parse_recap(output)["noc-b"].unreachable == 1


def test_collectors_sharing_one_url_are_refused_naming_both(tmp_path: Path) -> None:
    # netmon_collector_url only in the group vars: both collectors would have the same URL
    inv = inventory(tmp_path, {}, netmon_postgres_dsn=DSN, netmon_collector_url=URLS[0])
    code, output = playbook(tmp_path, inv, ANSIBLE_DIR / "site.yml")
    assert code != 0
    advice = ("with several collectors each agent is given every collector's own URL, in netmon_central's order: "
              "set netmon_collector_url in each collector's host vars, or list them all in netmon_collector_urls")
    assert f"noc-a: netmon_collector_url: {URLS[0]} is also the URL of noc-b; {advice}" in output, output[-3000:]
    assert f"noc-b: netmon_collector_url: {URLS[0]} is also the URL of noc-a; {advice}" in output
    # any_errors_fatal: the collectors' check comes first and stops the play for every host
    assert {h for h, r in parse_recap(output).items() if r.failed} == {"noc-a", "noc-b"}
    assert "PLAY [Deploy" not in output and "Vk3-from-the-vault" not in output
    # a run limited to the sites still refuses the list their agents would get
    code, output = playbook(tmp_path, inv, ANSIBLE_DIR / "site.yml", "-l", "netmon_sites")
    assert code != 0
    assert (f"commune-99: netmon_collector_urls[1]: {URLS[0]} is listed twice, leaving nowhere else to fail over to "
            "(built from each collector's netmon_collector_url: set it in each one's host vars)") in output, \
        output[-3000:]
    assert "PLAY [Deploy" not in output


def test_one_collector_keeps_a_single_url(tmp_path: Path) -> None:
    inv = inventory(tmp_path, {}, netmon_collector_url=URLS[0])
    data = yaml.safe_load(inv.read_text())
    del data["all"]["children"]["netmon_central"]["hosts"]["noc-b"]
    inv.write_text(yaml.safe_dump(data, allow_unicode=True))
    config = render(tmp_path, inv, "netmon_sites", "netmon_probe", "site.yaml.j2")["commune-99"]
    assert config["collector"]["url"] == URLS[0] and "urls" not in config["collector"]
    state = render(tmp_path, inv, "netmon_central", "netmon_collector", "central.yaml.j2")["noc-a"]
    assert "state" not in state    # SQLite: nothing to set up


def test_a_site_needing_a_token_with_no_collector_in_the_run_is_told_to_include_one(tmp_path: Path) -> None:
    # the site itself is this machine, under tmp_path; the collectors are left out by --limit
    inv = inventory(tmp_path, {"ansible_connection": "local", "netmon_prefix": str(tmp_path / "site"),
                               "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                    central_urls=(URLS[0], URLS[1]), netmon_postgres_dsn=DSN)
    code, output = playbook(tmp_path, inv, ANSIBLE_DIR / "enrol.yml", "-l", "commune-99")
    assert code != 0
    assert {h: r.failed for h, r in parse_recap(output).items()} == {"commune-99": 1}, output[-3000:]
    assert ("commune-99: needs a token, and tokens are issued on a collector of netmon_central that is deployed "
            "and part of this run: include one (e.g. --limit 'netmon_central:commune-99')") in output, output[-3000:]
    assert not any((tmp_path / "site").rglob("token"))
