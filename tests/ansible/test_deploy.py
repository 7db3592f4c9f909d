"""The playbooks deploy two collectors and three commune agents over real SSH, and upgrade them.

The tests in this module run in order against one fleet (module-scoped fixture): bad input
first (nothing may be installed), then the deployment, the idempotent second run, the
agents delivering to the collector, and the upgrade.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from netmon.lab.netns import wait_until
from tests.ansible.conftest import (
    CENTRAL,
    CENTRAL_B,
    CENTRE_ADDRESS,
    CENTRE_B_ADDRESS,
    COLLECTOR_PORT,
    REFLECTOR_PORT,
    SITES,
    Fleet,
    base_version,
    build_wheel,
    collector_url,
)
from tests.ansible.fleet import Host, get_json, get_text, post_json, proc_status, read_unit, start_from_unit
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.netns, pytest.mark.slow]

# A first batch of one site, then the other two.
BATCHES = ("-e", '{"netmon_serial": [1, 2]}')

SITE_NAMES = [s[0] for s in SITES]


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
    assert 'site-70001: netmon_links[0] (leased).snmp.version: "4" is not one of 1, 2c, 3' in run.output
    assert {h: (r.failed, r.changed) for h, r in run.recap.items()} == {
        CENTRAL: (0, 0), CENTRAL_B: (0, 0), "site-70001": (1, 0), "site-70002": (1, 0), "site-70003": (0, 0)}
    # any_errors_fatal: the good hosts were stopped too, before the deploy plays began
    assert "Deploy the central collector" not in run.output
    for host in fleet.hosts:
        assert list(host.prefix.iterdir()) == [], f"{host.name} was changed: {list(host.prefix.iterdir())}"


def test_site_playbook_deploys_collector_and_agents_over_ssh(fleet: Fleet) -> None:
    # -v: every task's result is printed, so the secrets' absence below means something
    run = fleet.controller.playbook("site.yml", "-v")
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) == {CENTRAL, CENTRAL_B, *SITE_NAMES}
    assert all(r.failed == 0 and r.unreachable == 0 and r.changed > 0 for r in run.recap.values()), run.recap
    # central first, then the sites (batches: see the upgrade and bad-release tests)
    assert run.output.index("PLAY [Deploy the central collector]") < run.output.index("PLAY [Deploy the commune agents]")

    version = base_version()
    tokens: list[str] = []
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
        # both collectors, in netmon_central's order, from each one's own netmon_collector_url
        assert config["collector"]["urls"] == [collector_url(CENTRE_ADDRESS), collector_url(CENTRE_B_ADDRESS)]
        assert "url" not in config["collector"]

        # enrolled through the collector on the central host: a token only the agent's user can read
        token = host.path("/etc/netmon-agent/token")
        assert owner(token) == ("nobody", "nogroup", "0o600") and len(token.read_text().strip()) >= 32
        tokens.append(token.read_text().strip())

        # netmon's own unit (its hardening) with this deployment's drop-in
        assert host.path("/etc/systemd/system/netmon-agent.service").read_text() == (
            Path(REPO_ROOT) / "netmon/deploy/systemd/netmon-agent.service").read_text()
        unit = read_unit(host.path("/etc/systemd/system/netmon-agent.service"))["Service"]
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
    assert len(set(tokens)) == 3
    for path in fleet.inventory_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert fleet.snmp_community not in text and not any(t in text for t in tokens), path
    # the controller never wrote a token anywhere, not even in its own logs of the run
    assert not any(t in run.output for t in tokens)

    # both collectors share their state through PostgreSQL: the DSN (it holds the password) from
    # the vault into a file only the collector's group reads, named in central.yaml, in no log
    password = urllib.parse.unquote(urllib.parse.urlsplit(fleet.postgres_dsn).password or "")
    assert len(password) >= 16
    for collector in (fleet.central, fleet.central_b):
        assert collector.path("/opt/netmon/current").resolve() == collector.path("/opt/netmon/releases") / version
        text = collector.path("/etc/netmon/central.yaml").read_text()
        assert yaml.safe_load(text)["state"] == {
            "postgres": {"dsn_file": str(collector.path("/etc/netmon/state.dsn")), "connect_timeout": 5},
            "instance": f"{collector.name}:{COLLECTOR_PORT}"}
        dsn_file = collector.path("/etc/netmon/state.dsn")
        assert owner(dsn_file) == ("root", "nogroup", "0o640")
        assert dsn_file.read_text() == f"{fleet.postgres_dsn}\n"
        assert password not in text
    assert password not in run.output and fleet.postgres_dsn not in run.output
    assert "censored" in run.output     # -v did print results: the secret tasks' ones were withheld
    # the second collector has only what a second collector needs (see conftest)
    assert not fleet.central_b.path("/etc/prometheus").exists()

    central = fleet.central
    central_config = yaml.safe_load(central.path("/etc/netmon/central.yaml").read_text())
    assert central_config["registry"] == str(central.path("/etc/netmon/sites.csv"))
    assert central.path("/etc/netmon/sites.csv").read_text() == (fleet.inventory_dir / "sites.csv").read_text()
    collector_unit = read_unit(central.path("/etc/systemd/system/netmon-collector.service"))["Service"]
    assert collector_unit["CapabilityBoundingSet"] == "" and collector_unit["NoNewPrivileges"] == "yes"
    iperf3_unit = read_unit(central.path("/etc/systemd/system/netmon-iperf3.service"))["Service"]
    assert iperf3_unit["ExecStart"] == "/usr/bin/iperf3 --server --port 5201" and iperf3_unit["DynamicUser"] == "yes"
    # the reflector only where configured
    reflectors = [h.name for h in fleet.sites if h.path("/etc/systemd/system/netmon-reflector.service").exists()]
    assert reflectors == ["site-70002"]
    reflector_unit = read_unit(fleet.site("site-70002").path("/etc/systemd/system/netmon-reflector.service"))[
        "Service"]
    assert reflector_unit["ExecStart"].endswith(f"/current/bin/netmon reflector serve --port {REFLECTOR_PORT}")
    assert reflector_unit["CapabilityBoundingSet"] == "" and reflector_unit["User"] == "nobody"

    # what the collector talks to: the InfluxDB database exists now, Prometheus scrapes the
    # collector, Alertmanager routes netmon's alerts (both files passed promtool / amtool)
    assert ["netmon"] in influx_query(fleet, "SHOW DATABASES", db="")
    prometheus = yaml.safe_load(central.path("/etc/prometheus/prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "netmon-collector")
    assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{COLLECTOR_PORT}"]
    # /metrics needs a viewer token: Prometheus's own, issued through the collector, readable by it alone
    prometheus_token = central.path("/etc/prometheus/netmon-collector.token")
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(prometheus_token)}
    assert owner(prometheus_token) == ("nobody", "nogroup", "0o600")
    assert prometheus_token.read_text().strip() not in run.output
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    alertmanager = yaml.safe_load(central.path("/etc/prometheus/alertmanager.yml").read_text())
    assert alertmanager["route"]["receiver"] == "netmon-noc"
    assert alertmanager["route"]["group_by"] == ["alertname", "province", "site"]
    # alerting: the rules file and the admin token (out of the vault, readable by the collector only)
    assert central_config["alerting"] == {"admin_token_file": str(central.path("/etc/netmon/admin.token")),
                                          "language": "vi", "rules_file": str(central.path("/etc/netmon/rules.yaml"))}
    admin_token = central.path("/etc/netmon/admin.token")
    assert owner(admin_token) == ("nobody", "nogroup", "0o600")
    assert admin_token.read_text() == f"{fleet.admin_token}\n"
    assert fleet.admin_token not in run.output
    # Grafana: the dashboards built by the deployed release, provisioned against this InfluxDB
    boards = sorted(p.name for p in central.path("/var/lib/grafana/dashboards/netmon").iterdir())
    assert len(boards) >= 4 and all(b.startswith("netmon-") and b.endswith(".json") for b in boards), boards
    sources = yaml.safe_load(central.path("/etc/grafana/provisioning/datasources/netmon.yaml").read_text())
    influx_source = next(d for d in sources["datasources"] if d["uid"] == "netmon-influxdb")
    assert influx_source["url"] == fleet.influx.url and influx_source["jsonData"]["dbName"] == "netmon"
    provider = yaml.safe_load(central.path("/etc/grafana/provisioning/dashboards/netmon.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == str(central.path("/var/lib/grafana/dashboards/netmon"))


@pytest.mark.parametrize(("host_name", "unit"), [
    ("site-70001", "netmon-agent.service"), ("site-70002", "netmon-reflector.service"),
    (CENTRAL, "netmon-collector.service"), (CENTRAL, "netmon-iperf3.service"), (CENTRAL_B, "netmon-collector.service")])
def test_rendered_units_pass_systemd_analyze_verify(fleet: Fleet, host_name: str, unit: str) -> None:
    host = next(h for h in fleet.hosts if h.name == host_name)
    path = host.path(f"/etc/systemd/system/{unit}")
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True,
                          timeout=60)
    # the tests run the services as "nobody" (no useradd on a shared machine), which systemd flags
    problems = [line for line in proc.stderr.splitlines() if "Special user nobody" not in line and line.strip()]
    assert proc.returncode == 0 and problems == [], proc.stderr


def test_second_run_changes_nothing(fleet: Fleet) -> None:
    run = fleet.controller.playbook("site.yml")
    assert run.returncode == 0, run.output[-4000:]
    assert run.changed() == {CENTRAL: 0, CENTRAL_B: 0, **dict.fromkeys(SITE_NAMES, 0)}, run.output[-4000:]


def test_enrol_playbook_refuses_a_second_token_and_rotates_on_request_through_either_collector(fleet: Fleet) -> None:
    host = fleet.site("site-70003")
    token_file = host.path("/etc/netmon-agent/token")
    old_token = token_file.read_text()
    token_file.unlink()   # a re-imaged box: the collector still holds its active token

    run = fleet.controller.playbook("enrol.yml")
    assert run.returncode != 0
    assert "site-70003: `netmon sites enrol 70003` failed on noc-test: site 70003 already has an active token; " \
           "use --rotate" in run.output, run.output[-3000:]
    assert {h: (r.failed, r.changed) for h, r in run.recap.items()} == {
        CENTRAL: (0, 0), CENTRAL_B: (0, 0), "site-70001": (0, 0), "site-70002": (0, 0), "site-70003": (1, 0)}
    assert not token_file.exists()

    # the first collector left out (as if it were down): the token is issued through the second,
    # into the shared PostgreSQL; the delivery test below has this agent deliver to the first
    run = fleet.controller.playbook("enrol.yml", "-l", f"{CENTRAL_B}:{host.name}", "-e", "netmon_probe_reenrol=true")
    assert run.returncode == 0, run.output[-3000:]
    assert f"[{host.name} -> {CENTRAL_B}({CENTRE_B_ADDRESS})]" in run.output, run.output[-3000:]
    assert run.recap[host.name].changed == 3    # token issued, installed, agent restart requested
    assert host.path("/run/netmon-agent/restart-requested").read_text() == "current\n"
    assert owner(token_file) == ("nobody", "nogroup", "0o600")
    assert token_file.read_text() != old_token and old_token.strip() not in run.output


def influx_query(fleet: Fleet, query: str, db: str = "netmon") -> list[list[object]]:
    url = f"{fleet.influx.url}/query?db={db}&q={urllib.parse.quote(query)}"
    series = get_json(fleet.central.ns, url)["results"][0].get("series", [])
    return [row for s in series for row in s["values"]]


def site_seqs(fleet: Fleet, site_id: str) -> set[int]:
    """Every seq of site_id's results in InfluxDB (every measurement: icmp, heartbeats, snmp_if...)."""
    rows = influx_query(fleet, f"SELECT seq FROM /.*/ WHERE site = '{site_id}'")
    return {int(row[1]) for row in rows}  # type: ignore[call-overload]


def start_collector(fleet: Fleet) -> None:
    central = fleet.central
    fleet.collector = start_from_unit(central, central.path("/etc/systemd/system/netmon-collector.service"),
                                      "collector", ready_url=f"http://{CENTRE_ADDRESS}:{COLLECTOR_PORT}/healthz")


def start_collector_b(fleet: Fleet) -> None:
    central = fleet.central_b
    fleet.collector_b = start_from_unit(central, central.path("/etc/systemd/system/netmon-collector.service"),
                                        "collector-b", ready_url=f"http://{CENTRE_B_ADDRESS}:{COLLECTOR_PORT}/healthz")


def accepted_by(fleet: Fleet, host: Host, address: str, site_id: str, token: str) -> int:
    """What the collector at ``address`` accepted of ``site_id`` itself: its journal's count in its
    /metrics (``/api/v1/sites`` shows the count shared by both collectors through PostgreSQL)."""
    text = get_text(host.ns, f"http://{address}:{COLLECTOR_PORT}/metrics", token)
    return int(sum(s.value for family in text_string_to_metric_families(text) if family.name == "netmon_site_results"
                   for s in family.samples if s.name == "netmon_site_results_total"
                   and s.labels == {"site": site_id, "outcome": "accepted"}))


def start_agent(fleet: Fleet, host: Host) -> None:
    fleet.agents[host.name] = start_from_unit(host, host.path("/etc/systemd/system/netmon-agent.service"), "agent")


def outbox(host: Host) -> tuple[set[int], int]:
    """The seqs queued in the agent's outbox and the highest seq it ever assigned (read-only)."""
    path = host.path("/var/lib/netmon-agent/outbox.sqlite3")
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        seqs = {int(row[0]) for row in db.execute("SELECT seq FROM results")}
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return seqs, int(meta["last_seq"])


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_deployed_agents_deliver_results_to_the_collector(fleet: Fleet) -> None:
    start_collector(fleet)
    for host in fleet.sites:
        start_agent(fleet, host)

    # reads need a viewer token: the one the role issued for Prometheus is one
    viewer = fleet.central.path("/etc/prometheus/netmon-collector.token").read_text().strip()

    def delivered() -> bool:
        for host in fleet.sites:
            site_id = host.name.removeprefix("site-")
            detail = get_json(fleet.central.ns, f"http://{CENTRE_ADDRESS}:{COLLECTOR_PORT}/api/v1/sites/{site_id}",
                              viewer)
            if not all(link["rtt_seconds"] for link in detail["links"]):
                return False
        return True

    wait_until(delivered, timeout=90, interval=1, what="icmp results of every site at the collector")
    for host in fleet.sites:
        site_id = host.name.removeprefix("site-")
        detail = get_json(fleet.central.ns, f"http://{CENTRE_ADDRESS}:{COLLECTOR_PORT}/api/v1/sites/{site_id}",
                          viewer)
        assert detail["accepted"] > 0 and detail["rejected"] == 0
        # measured for real, over the fleet's bridge: sub-10 ms, nothing lost
        assert {link["name"]: 0 < link["rtt_seconds"] < 0.01 for link in detail["links"]} == {
            "leased": True, "tslcd": True}, detail["links"]
        assert all(link["loss_ratio"] == 0 for link in detail["links"])
        # the agent runs as the unit says: nobody, with CAP_NET_RAW (bit 13) and nothing else
        status = proc_status(fleet.agents[host.name].pid)
        assert status["Uid"].split()[0] == "65534" and status["CapEff"] == f"{1 << 13:016x}"
        assert status["NoNewPrivs"] == "1"
    # the reflector, started from its unit as nobody without any capability, listens where configured
    host = fleet.site("site-70002")
    reflector = start_from_unit(host, host.path("/etc/systemd/system/netmon-reflector.service"), "reflector")
    wait_until(lambda: f":{REFLECTOR_PORT} " in host.ns.run("ss", "-Hulnp").stdout, timeout=30, what="the reflector")
    assert f"pid={reflector.pid}," in host.ns.run("ss", "-Hulnp").stdout
    assert proc_status(reflector.pid)["CapEff"] == "0" * 16
    # the collector wrote them to the InfluxDB database the role created
    assert all(site_seqs(fleet, s[1]) for s in SITES)
    # and it reads the admin token the role installed from the vault: silencing needs it
    silences = f"http://{CENTRE_ADDRESS}:{COLLECTOR_PORT}/api/v1/silences"
    silence = {"site": "70001", "duration": "5m", "reason": "ansible deploy test"}
    assert post_json(fleet.central.ns, silences, silence) == 401
    assert post_json(fleet.central.ns, silences, silence, token=fleet.admin_token) == 201

    # The second collector, deployed by the same play: it serves (the viewer token issued on the
    # first is valid there too: tokens are in the shared PostgreSQL) and, while the first is up,
    # receives nothing: the agents use their first URL.
    start_collector_b(fleet)
    site_ids = [s[1] for s in SITES]
    b_host = fleet.central_b
    # every agent ships again to the first while the second is up, and the second's own count stays 0
    before = {s: accepted_by(fleet, fleet.central, CENTRE_ADDRESS, s, viewer) for s in site_ids}
    wait_until(lambda: all(accepted_by(fleet, fleet.central, CENTRE_ADDRESS, s, viewer) > before[s] for s in site_ids),
               timeout=60, interval=1, what="every agent delivering to the first collector after the second started")
    assert {s: accepted_by(fleet, b_host, CENTRE_B_ADDRESS, s, viewer) for s in site_ids} == dict.fromkeys(site_ids, 0)
    # The first goes away: every agent moves to its second URL, and the second collector takes
    # their results with the tokens issued through the first (70003's through the second, by
    # enrol.yml above: the first accepted it as well)
    assert fleet.collector is not None
    fleet.collector.stop()
    wait_until(lambda: all(accepted_by(fleet, b_host, CENTRE_B_ADDRESS, s, viewer) > 0 for s in site_ids),
               timeout=60, interval=1, what="every agent delivering to the second collector")
    for site_id in site_ids:
        detail = get_json(b_host.ns, f"http://{CENTRE_B_ADDRESS}:{COLLECTOR_PORT}/api/v1/sites/{site_id}", viewer)
        assert detail["rejected"] == 0, detail


def test_upgrade_restarts_agents_and_their_outboxes_survive(fleet: Fleet, upgrade_wheelhouse: Path) -> None:
    old, new = base_version(), f"{base_version()}.post1"
    assert fleet.collector is not None and fleet.collector_b is not None
    # both collectors go away: results pile up in the outboxes
    fleet.collector.stop()
    fleet.collector_b.stop()
    wait_until(lambda: all(len(outbox(h)[0]) >= 5 for h in fleet.sites), timeout=60, interval=1,
               what="queued results in every outbox")

    # the collectors one at a time, as by default (the fixture's extra vars batch them together)
    run = fleet.controller.playbook("upgrade.yml", *BATCHES, "-e", f"netmon_wheelhouse={upgrade_wheelhouse}",
                                    "-e", "netmon_central_serial=1")
    assert run.returncode == 0, run.output[-4000:]
    assert all(r.failed == 0 and r.changed > 0 for r in run.recap.values()), run.recap
    # the collectors first, one then the other, then one site alone, then the other two
    centre_batches = run.output.split("PLAY [Upgrade the commune agents]")[0].split(
        "PLAY [Upgrade the central collector]")[1:]
    assert len(centre_batches) == 2
    assert f"[{CENTRAL}]" in centre_batches[0] and f"[{CENTRAL_B}]" not in centre_batches[0]
    assert f"[{CENTRAL_B}]" in centre_batches[1] and f"[{CENTRAL}]" not in centre_batches[1]
    assert run.output.count("PLAY [Upgrade the commune agents]") == 2

    queued_before: dict[str, set[int]] = {}
    last_before: dict[str, int] = {}
    for host in fleet.sites:
        releases = host.path("/opt/netmon-agent/releases")
        assert host.path("/opt/netmon-agent/current").resolve() == releases / new
        assert sorted(p.name for p in releases.iterdir()) == sorted([old, new])   # the old one stays for rollback
        # the handler asked for a restart into the new release; the "service manager" (this test) does it
        assert host.path("/run/netmon-agent/restart-requested").read_text() == f"{new}\n"
        fleet.agents[host.name].stop(timeout=40)
        queued_before[host.name], last_before[host.name] = outbox(host)
        start_agent(fleet, host)
        agent = fleet.agents[host.name]
        # setpriv and the script's shebang exec in turn: the same pid ends up running the new venv's python
        wait_until(lambda a=agent: "/bin/python" in command_line(a.pid) or not a.alive(), timeout=10,
                   what="the restarted agent")
        assert f"/releases/{new}/bin/python" in command_line(agent.pid), agent.log()[-2000:]
    for central in (fleet.central, fleet.central_b):
        assert central.path("/run/netmon/restart-requested").read_text() == f"{new}\n"
        assert central.path("/opt/netmon/current").resolve() == central.path("/opt/netmon/releases") / new

    # the new release keeps numbering where the old one stopped, in the same outbox
    def continued() -> bool:
        return all(outbox(h)[1] > last_before[h.name] for h in fleet.sites)

    wait_until(continued, timeout=60, interval=1, what="new results from the upgraded agents")
    for host in fleet.sites:
        queued, _ = outbox(host)
        assert queued_before[host.name] <= queued, "results queued before the upgrade were lost"

    # the upgraded collector comes back: everything queued before the upgrade arrives, and after it
    start_collector(fleet)

    def arrived() -> bool:
        return all(queued_before[h.name] <= site_seqs(fleet, h.name.removeprefix("site-"))
                   and max(site_seqs(fleet, h.name.removeprefix("site-"))) > last_before[h.name]
                   for h in fleet.sites)

    try:
        wait_until(arrived, timeout=90, interval=1, what="pre-upgrade results in InfluxDB")
    except TimeoutError:
        report = {h.name: (len(queued_before[h.name]),
                           len(queued_before[h.name] - site_seqs(fleet, h.name.removeprefix("site-"))),
                           max(site_seqs(fleet, h.name.removeprefix("site-"))), last_before[h.name],
                           len(outbox(h)[0])) for h in fleet.sites}
        agent = fleet.agents[fleet.sites[0].name]
        raise AssertionError(f"(queued before, missing, max seq in influx, last seq before, queued now): {report}\n"
                             f"collector: {fleet.collector.log()[-3000:]}\nagent: {agent.log()[-3000:]}") from None


def test_a_bad_release_stops_after_the_first_batch(fleet: Fleet, upgrade_wheelhouse: Path,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    good, bad = f"{base_version()}.post1", f"{base_version()}.post2"
    broken = tmp_path_factory.mktemp("wheelhouse-broken")
    for wheel in upgrade_wheelhouse.iterdir():
        if not wheel.name.startswith("netmon-"):
            os.link(wheel, broken / wheel.name)

    def sabotage(src: Path) -> None:
        cli = src / "netmon" / "cli" / "__init__.py"
        cli.write_text(cli.read_text() + '\nraise RuntimeError("this release is broken")\n')

    build_wheel(broken, version=bad, sabotage=sabotage)
    # site.yml: what an operator runs for a new release too; its site batches stop at the first failure
    run = fleet.controller.playbook("site.yml", *BATCHES, "-l", "netmon_sites", "-e", f"netmon_wheelhouse={broken}")

    assert run.returncode != 0
    assert "this release is broken" in run.output, run.output[-5000:]
    failed = [h for h, r in run.recap.items() if r.failed]
    assert len(failed) == 1, run.recap                       # the first batch: one site
    assert run.output.count("PLAY [Deploy the commune agents]") == 1   # no second batch
    for host in fleet.sites:
        releases = host.path("/opt/netmon-agent/releases")
        # nowhere did the broken release become current
        assert host.path("/opt/netmon-agent/current").resolve() == releases / good
        assert (releases / bad).exists() == (host.name in failed)
