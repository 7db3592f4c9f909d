"""The playbooks deploy a collector and three commune agents over real SSH, and upgrade them.

The tests in this module run in order against one fleet (module-scoped fixture): bad input
first (nothing may be installed), then the deployment, the idempotent second run, the
agents delivering to the collector, and the upgrade.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ansible.conftest import CENTRAL, SITES, Fleet, base_version
from tests.ansible.fleet import parse_unit

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SITE_NAMES = [s[0] for s in SITES]


def tree_digest(path: Path) -> dict[str, str]:
    """Every file under ``path`` and its content hash."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def owner(path: Path) -> tuple[str, str, str]:
    import grp
    import pwd

    st = path.stat()
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, oct(stat.S_IMODE(st.st_mode))


def test_bad_inventory_fails_at_validation_naming_host_and_key_and_changes_nothing(fleet: Fleet) -> None:
    bad_dir = fleet.inventory_dir / "bad"
    bad_dir.mkdir()
    inventory = yaml.safe_load((fleet.inventory_dir / "sites.yml").read_text())
    provinces = inventory["all"]["children"]["netmon_sites"]["children"]
    hosts = {}
    for group in provinces.values():
        hosts.update(group.get("hosts", {}))
        for child in group.get("children", {}).values():
            hosts.update(child.get("hosts", {}))
    del hosts["site-70002"]["netmon_links"][1]["contracted_mbps"]           # tslcd: no contracted rate
    hosts["site-70001"]["netmon_links"][0]["snmp"]["version"] = "4"         # leased: no such SNMP version
    (bad_dir / "sites.yml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    # host_vars/group_vars sit beside the inventory files that Ansible reads them for
    for sub in ("group_vars", "host_vars"):
        shutil.copytree(fleet.inventory_dir / sub, bad_dir / sub)

    run = fleet.controller.playbook("site.yml", inventories=[fleet.inventory_dir / "central.yml", bad_dir / "sites.yml"])

    assert run.returncode != 0
    assert "site-70002: netmon_links[1] (tslcd).contracted_mbps: missing; a data_network link needs its contracted rate" \
        in run.output
    assert 'site-70001: netmon_links[0] (leased).snmp.version: "4" is not one of 2c, 3' in run.output
    assert {h: (r.failed, r.changed) for h, r in run.recap.items()} == {
        CENTRAL: (0, 0), "site-70001": (1, 0), "site-70002": (1, 0), "site-70003": (0, 0)}
    # any_errors_fatal: the good hosts were stopped too, before the deploy plays began
    assert "Deploy the central collector" not in run.output
    for host in fleet.hosts:
        assert list(host.prefix.iterdir()) == [], f"{host.name} was changed: {list(host.prefix.iterdir())}"


def test_site_playbook_deploys_collector_and_agents_over_ssh(fleet: Fleet) -> None:
    run = fleet.controller.playbook("site.yml", "-e", "netmon_probe_enrol_missing_token=false")
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) == {CENTRAL, *SITE_NAMES}
    assert all(r.failed == 0 and r.unreachable == 0 and r.changed > 0 for r in run.recap.values()), run.recap
    # serial [1, 2]: the first batch is one site alone, then the other two
    assert run.output.count("PLAY [Deploy the commune agents]") == 2

    version = base_version()
    for host in fleet.sites:
        release = host.path("/opt/netmon-agent/releases") / version
        assert host.path("/opt/netmon-agent/current").resolve() == release
        assert (release / ".netmon-release").read_text() == f"{version}\n"
        assert owner(host.path("/etc/netmon-agent/site.yaml")) == ("root", "nogroup", "0o640")
        assert owner(host.path("/var/lib/netmon-agent")) == ("nobody", "nogroup", "0o750")
        assert owner(release / "bin" / "netmon")[0] == "root"

        config = yaml.safe_load(host.path("/etc/netmon-agent/site.yaml").read_text())
        site_id, name, province = next((s[1], s[2], s[3]) for s in SITES if s[0] == host.name)
        assert config["site"]["id"] == site_id and config["site"]["name"] == name
        assert config["site"]["province"] == province
        assert [(x["name"], x["kind"], x["contracted_mbps"]) for x in config["links"]] == [
            ("leased", "leased_line", 20), ("tslcd", "data_network", 100)]
        assert config["state_dir"] == str(host.path("/var/lib/netmon-agent"))
        assert config["collector"]["token_file"] == str(host.path("/etc/netmon-agent/token"))

        unit = parse_unit(host.path("/etc/systemd/system/netmon-agent.service").read_text())["Service"]
        assert (unit["User"], unit["Group"]) == ("nobody", "nogroup")
        assert unit["AmbientCapabilities"] == unit["CapabilityBoundingSet"] == "CAP_NET_RAW"
        assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict"
        assert unit["ProtectHome"] == "yes" and unit["PrivateTmp"] == "yes"
        assert unit["ReadWritePaths"] == str(host.path("/var/lib/netmon-agent"))
        assert unit["ExecStart"] == (f"{host.path('/opt/netmon-agent/current/bin/netmon')} probe run "
                                     f"--config {host.path('/etc/netmon-agent/site.yaml')}")

    # the SNMP community came out of the vault into the first site's config only, and is in
    # no inventory file in plain text
    first = yaml.safe_load(fleet.site("site-70001").path("/etc/netmon-agent/site.yaml").read_text())
    assert [x["snmp"]["community"] for x in first["links"]] == [fleet.snmp_community] * 2
    assert all("snmp" not in x for x in yaml.safe_load(
        fleet.site("site-70002").path("/etc/netmon-agent/site.yaml").read_text())["links"])
    for path in fleet.inventory_dir.rglob("*"):
        if path.is_file():
            assert fleet.snmp_community not in path.read_text(errors="replace"), path

    central = fleet.central
    assert central.path("/opt/netmon/current").resolve() == central.path("/opt/netmon/releases") / version
    central_config = yaml.safe_load(central.path("/etc/netmon/central.yaml").read_text())
    assert central_config["registry"] == str(central.path("/etc/netmon/sites.csv"))
    assert central.path("/etc/netmon/sites.csv").read_text() == (fleet.inventory_dir / "sites.csv").read_text()
    collector_unit = parse_unit(central.path("/etc/systemd/system/netmon-collector.service").read_text())["Service"]
    assert collector_unit["CapabilityBoundingSet"] == "" and collector_unit["NoNewPrivileges"] == "yes"


@pytest.mark.parametrize("unit", ["netmon-agent.service", "netmon-collector.service"])
def test_rendered_units_pass_systemd_analyze_verify(fleet: Fleet, unit: str) -> None:
    host = fleet.site("site-70001") if unit == "netmon-agent.service" else fleet.central
    path = host.path(f"/etc/systemd/system/{unit}")
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True,
                          timeout=60)
    # the tests run the services as "nobody" (no useradd on a shared machine), which systemd flags
    problems = [line for line in proc.stderr.splitlines() if "Special user nobody" not in line and line.strip()]
    assert proc.returncode == 0 and problems == [], proc.stderr


def test_second_run_changes_nothing(fleet: Fleet) -> None:
    run = fleet.controller.playbook("site.yml", "-e", "netmon_probe_enrol_missing_token=false")
    assert run.returncode == 0, run.output[-4000:]
    assert run.changed() == {CENTRAL: 0, **dict.fromkeys(SITE_NAMES, 0)}, run.output[-4000:]


def test_upgrade_switches_release_keeps_state_and_requests_restarts(fleet: Fleet, upgrade_wheelhouse: Path) -> None:
    old, new = base_version(), f"{base_version()}.post1"
    state_before = {h.name: tree_digest(h.path("/var/lib/netmon-agent")) for h in fleet.sites}

    run = fleet.controller.playbook("upgrade.yml", "-e", f"netmon_wheelhouse={upgrade_wheelhouse}")
    assert run.returncode == 0, run.output[-4000:]

    for host in fleet.sites:
        releases = host.path("/opt/netmon-agent/releases")
        assert host.path("/opt/netmon-agent/current").resolve() == releases / new
        assert sorted(p.name for p in releases.iterdir()) == sorted([old, new])   # the old one stays for rollback
        assert host.path("/run/netmon-agent/restart-requested").read_text() == f"{new}\n"
        assert tree_digest(host.path("/var/lib/netmon-agent")) == state_before[host.name]
    assert fleet.central.path("/opt/netmon/current").resolve() == fleet.central.path("/opt/netmon/releases") / new
