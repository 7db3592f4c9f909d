"""Fixtures for the Ansible tests: wheelhouses built once per session, and the SSH fleet."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netmon.lab.netns import Lab, Proc, call_in_namespace
from netmon.lab.postgres import start_postgres
from netmon.lab.services import Server, start_influxdb
from tests.ansible.fleet import SUBNET, VENV_BIN, Controller, Host, ansible_env, keygen, start_sshd
from tests.conftest import REPO_ROOT, require_netns
from tests.wheels import base_version, build_wheel


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """netmon's wheel, all its dependencies and pip: what an operator builds once per release."""
    out = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(out, with_deps=True)
    return out


@pytest.fixture(scope="session")
def upgrade_wheelhouse(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same dependencies and a netmon wheel with a bumped version."""
    out = tmp_path_factory.mktemp("wheelhouse-upgrade")
    for wheel in wheelhouse.iterdir():
        if not wheel.name.startswith("netmon-"):  # hard links: the same files, no copy
            os.link(wheel, out / wheel.name)
    build_wheel(out, version=f"{base_version()}.post1")
    return out


# Two collectors on one PostgreSQL (docs/ansible.md, "Two collectors in a province"): the first
# has everything the role can configure (TSDB, alerting, Prometheus, Grafana...), the second only
# what a second collector needs, to keep the run short.
CENTRAL = "noc-test"
CENTRAL_B = "noc-test-b"
SITES = [
    # (inventory host, site id, name, province, district, address)
    ("site-70001", "70001", "Phường Phước Tân", "Đồng Nai", "Biên Hòa", f"{SUBNET}.11"),
    ("site-70002", "70002", "Xã An Viễn", "Đồng Nai", "", f"{SUBNET}.12"),
    ("site-70003", "70003", "Phường Ba Đình", "Hà Nội", "", f"{SUBNET}.13"),
]
CENTRE_ADDRESS = f"{SUBNET}.2"
CENTRE_B_ADDRESS = f"{SUBNET}.3"
# The shared state's PostgreSQL: on the controller's bridge address, reached by both collectors
DATABASE_ADDRESS = f"{SUBNET}.1"
COLLECTOR_PORT = 8080
REFLECTOR_PORT = 8765
REGISTRY_HEADER = ("site_id,name,province,district,upstream,team,agent_host,lan_subnet,"
                   "leased_mbps,leased_if,tslcd_mbps,tslcd_if,snmp_host,snmp_version\n")


class Fleet:
    def __init__(self, lab: Lab, root: Path, centrals: list[Host], sites: list[Host], controller: Controller,
                 inventory_dir: Path, snmp_community: str, influx: Server, postgres_dsn: str) -> None:
        self.lab = lab
        self.influx = influx
        self.postgres_dsn = postgres_dsn
        # processes the tests start from the deployed units
        self.collector: Proc | None = None
        self.collector_b: Proc | None = None
        self.agents: dict[str, Proc] = {}
        self.root = root
        self.central, self.central_b = centrals
        self.sites = sites
        self.controller = controller
        self.inventory_dir = inventory_dir
        self.snmp_community = snmp_community
        self.admin_token = ""

    @property
    def hosts(self) -> list[Host]:
        return [self.central, self.central_b, *self.sites]

    def site(self, name: str) -> Host:
        return next(h for h in self.sites if h.name == name)


def registry_csv(rows: list[tuple[str, str, str, str, str, str]]) -> str:
    lines = [REGISTRY_HEADER]
    for index, (_, site_id, name, province, district, address) in enumerate(rows):
        # the first site's links are also polled over SNMP (its community comes from the vault)
        leased_if, tslcd_if, snmp = ("leased", "tslcd", f"{address},2c") if index == 0 else ("", "", ",")
        lines.append(f"{site_id},{name},{province},{district},,,{address},,20,{leased_if},100,{tslcd_if},{snmp}\n")
    return "".join(lines)


def collector_url(address: str) -> str:
    return f"http://{address}:{COLLECTOR_PORT}"


def write_inventory(directory: Path, fleet_root: Path, wheelhouse: Path, key: Path, known_hosts: Path,
                    vault_password_file: Path, snmp_community: str, admin_token: str, influx_url: str,
                    postgres_dsn: str) -> None:
    """The operator's inventory: sites generated from the registry, the centre and group vars by hand."""
    directory.mkdir()
    registry = directory / "sites.csv"
    registry.write_text(registry_csv(SITES), encoding="utf-8")
    generated = subprocess.run([sys.executable, "-m", "netmon", "ansible", "inventory", "--registry", str(registry)],
                               check=True, capture_output=True, text=True, cwd=REPO_ROOT,
                               env={**os.environ, "PYTHONPATH": REPO_ROOT})
    (directory / "sites.yml").write_text(generated.stdout, encoding="utf-8")
    # each collector's own URL: the agents are given both, in this order (netmon_probe_collector_urls)
    (directory / "central.yml").write_text(yaml.safe_dump({"all": {"children": {"netmon_central": {"hosts": {
        CENTRAL: {"ansible_host": CENTRE_ADDRESS, "netmon_collector_url": collector_url(CENTRE_ADDRESS)},
        CENTRAL_B: {"ansible_host": CENTRE_B_ADDRESS, "netmon_collector_url": collector_url(CENTRE_B_ADDRESS)},
    }}}}}, sort_keys=False))
    group_vars = directory / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    target = [{"host": CENTRE_ADDRESS, "name": "centre"}]
    (group_vars / "main.yml").write_text(yaml.safe_dump({
        "ansible_user": "root",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
        "ansible_remote_tmp": str(fleet_root / "remote-tmp"),
        "netmon_service_manager": "none",
        "netmon_wheelhouse": str(wheelhouse),
        "netmon_registry_file": str(registry),
        "netmon_collector_url": collector_url(CENTRE_ADDRESS),
        "netmon_collector_insecure_http": True,  # a namespace lab: no certificate for the centre
        "netmon_link_defaults": {"leased": {"targets": target, "probes": ["icmp"]},
                                 "tslcd": {"targets": target, "probes": ["icmp"]}},
        # a result every 2 s, shipped every second: the delivery test needs seconds, not minutes
        "netmon_probe_options": {"icmp": {"interval": "2s", "timeout": "2s", "count": 3, "spacing": 0.1,
                                          "reply_timeout": 1}},
        "netmon_probe_extra_config": {"collector": {"ship_interval": "1s"}},
        # No apt and no useradd on the shared test machine: an existing unprivileged account.
        "netmon_probe_install_packages": False, "netmon_probe_create_user": False,
        "netmon_probe_user": "nobody", "netmon_probe_group": "nogroup",
        "netmon_collector_install_packages": False, "netmon_collector_create_user": False,
        "netmon_collector_user": "nobody", "netmon_collector_group": "nogroup",
        "netmon_collector_listen_port": COLLECTOR_PORT,
        # pip --no-compile: saves ~5 s per venv on this 2-core machine (production compiles)
        "netmon_release_compile": False,
    }, allow_unicode=True, sort_keys=False))
    vault_plain = group_vars / "vault.yml"
    vault_plain.write_text(yaml.safe_dump({"netmon_snmp_community": snmp_community,
                                           "netmon_alerting_admin_token": admin_token,
                                           "netmon_postgres_dsn": postgres_dsn}))
    subprocess.run([str(VENV_BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(vault_password_file),
                    str(vault_plain)], check=True, capture_output=True, env=ansible_env(directory.parent))
    host_vars = directory / "host_vars"
    host_vars.mkdir()
    for host_name, *_ in [(CENTRAL,), (CENTRAL_B,), *SITES]:
        (host_vars / f"{host_name}.yml").write_text(yaml.safe_dump({"netmon_prefix": str(fleet_root / host_name)}))
    # one commune box also answers udp_echo probes from the centre
    with (host_vars / f"{SITES[1][0]}.yml").open("a") as site_vars:
        site_vars.write(yaml.safe_dump({"netmon_probe_reflector_port": REFLECTOR_PORT}))
    central_prefix = fleet_root / CENTRAL
    rules = directory / "rules.yaml"
    rules.write_text("include_defaults: true\ndisable: [LinkJitterHigh]\n")
    with (host_vars / f"{CENTRAL}.yml").open("a") as central_vars:
        central_vars.write(yaml.safe_dump({
            "netmon_collector_influxdb": {"url": influx_url, "api": "v1", "database": "netmon",
                                          "flush_interval": "200ms"},
            # rendered and checked with the real promtool / amtool on the host
            "netmon_collector_prometheus_config_file": str(central_prefix / "etc/prometheus/prometheus.yml"),
            "netmon_collector_prometheus_user": "nobody", "netmon_collector_prometheus_group": "nogroup",
            "netmon_collector_alertmanager_config_file": str(central_prefix / "etc/prometheus/alertmanager.yml"),
            # alerting: a rules file checked by `netmon alerts rules check`, the admin token from the vault
            "netmon_collector_rules_src": str(rules),
            "netmon_collector_secret_files": {"admin.token": "{{ netmon_alerting_admin_token }}"},
            "netmon_collector_alerting": {"admin_token_file": str(central_prefix / "etc/netmon/admin.token"),
                                          "language": "vi"},
            "netmon_collector_grafana_provisioning_dir": str(central_prefix / "etc/grafana/provisioning"),
            "netmon_collector_iperf3_port": 5201,
        }))


@pytest.fixture(scope="module")
def fleet(wheelhouse: Path) -> Iterator[Fleet]:
    require_netns()
    # Not the lab's own (0700) workdir: the agents run as nobody and must reach their prefix.
    root = Path(tempfile.mkdtemp(prefix="netmon-fleet-"))
    root.chmod(0o755)
    try:
        with Lab() as lab, contextlib.ExitStack() as stack:
            ctl = lab.namespace("ctl")
            lab.bridge(ctl, "br0", f"{SUBNET}.1/24")
            hosts: list[Host] = []
            for index, (name, address) in enumerate([(CENTRAL, CENTRE_ADDRESS), (CENTRAL_B, CENTRE_B_ADDRESS),
                                                     *((s[0], s[5]) for s in SITES)]):
                ns = lab.namespace(f"h{index}")
                lab.link(ns, "eth0", f"{address}/24", ctl, f"p{index}", None)
                ctl.run("ip", "link", "set", f"p{index}", "master", "br0")
                # ICMP echo from the unprivileged agent, as on a box where it has CAP_NET_RAW
                ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
                prefix = root / name
                prefix.mkdir(mode=0o755)
                hosts.append(Host(name, ns, address, prefix))
            secret_dir = Path(tempfile.mkdtemp(prefix="netmon-ssh-", dir=lab.workdir))
            client_key = secret_dir / "id_ed25519"
            client_public = keygen(client_key)
            known = [start_sshd(lab, host, secret_dir / f"sshd-{host.name}", client_public) for host in hosts]
            known_hosts = secret_dir / "known_hosts"
            known_hosts.write_text("\n".join(known) + "\n")
            vault_password = secret_dir / "vault-password"
            vault_password.write_text(secrets.token_urlsafe(24) + "\n")
            community = f"community-{secrets.token_hex(6)}"
            admin_token = secrets.token_urlsafe(24)
            # the central host's InfluxDB, on its own loopback: the role creates the database
            influx = start_influxdb(lab.workdir / "influx", ns=hosts[0].ns)
            # started from a thread inside ctl: PostgreSQL listens on the bridge, where both collectors reach it
            postgres = stack.enter_context(call_in_namespace(ctl, lambda: start_postgres(host=DATABASE_ADDRESS)))
            postgres_dsn = call_in_namespace(ctl, lambda: postgres.create_database("netmon_fleet"))
            inventory_dir = lab.workdir / "inventory"
            write_inventory(inventory_dir, root, wheelhouse, client_key, known_hosts, vault_password, community,
                            admin_token, influx.url, postgres_dsn)
            (root / "remote-tmp").mkdir(mode=0o700)
            extra_vars = inventory_dir / "extra-vars.yml"
            # all sites in one batch unless a test asks for batches (BATCHES): each batch is a full,
            # sequential pass of the role (the default 1, 10 %, 25 % would give 1, 1, 1 here)
            # and both collectors in one batch too, unless a test asks for one at a time (the default)
            extra_vars.write_text(yaml.safe_dump({"netmon_serial": ["100%"], "netmon_central_serial": "100%"}))
            controller = Controller(ctl, lab.workdir, [inventory_dir / "central.yml", inventory_dir / "sites.yml"],
                                    vault_password, extra_vars)
            fleet = Fleet(lab, root, hosts[:2], hosts[2:], controller, inventory_dir, community, influx, postgres_dsn)
            fleet.admin_token = admin_token
            yield fleet
    finally:
        shutil.rmtree(root, ignore_errors=True)
