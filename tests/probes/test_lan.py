"""The lan probe on a real Linux bridge: every office host is its own namespace with its own kernel
answering ARP, the site agent is plugged into the same bridge."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from netmon.config.site import SiteConfig
from netmon.contract import Observation, ProbeKind, Status
from netmon.lab.netns import Lab, Namespace, call_in_namespace
from netmon.lab.office import GATEWAY_IP as GATEWAY
from netmon.lab.office import Office, build_office, mac_of
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.kinds import default_kinds
from netmon.probes.lan import LanProbe
from netmon.probes.plan import build_tasks
from netmon.probes.runner import run_task

pytestmark = pytest.mark.netns

BASE_SITE: dict[str, Any] = {"site": {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}}
OFFICE_HOSTS = 5


@pytest.fixture
def office(lab: Lab) -> Office:
    """Bridge br0 with the site (10.77.1.2), its gateway (10.77.1.1) and 5 office PCs (10.77.1.10-14)."""
    return build_office(lab, hosts=OFFICE_HOSTS)


def lan_task(gateway: str | None = GATEWAY, interface: str | None = None, **options: Any) -> ProbeTask:
    lan = {"subnet": "10.77.1.0/24", "gateway": gateway, "interface": interface}
    config = SiteConfig.model_validate({
        **BASE_SITE,
        "links": [{"name": "lan", "kind": "lan", "probes": [], "lan": lan}],
        "probes": {"lan": {"timeout": 5, "rate_pps": 1000, "reply_wait_seconds": 0.5, **options}},
    })
    [task] = [t for t in build_tasks(config, default_kinds()) if t.kind is ProbeKind.LAN]
    return task


def arp_scan(site: Namespace) -> set[str]:
    """The addresses Debian's arp-scan finds on the site's LAN (the reference)."""
    out = site.run("arp-scan", "--interface=eth0", "--localnet", "--retry=1", "--timeout=300", "--quiet").stdout
    return {line.split("\t")[0] for line in out.splitlines() if line.startswith("10.77.1.")}


def measure(site: Namespace, state_dir: Path, task: ProbeTask) -> Observation:
    """One measurement by a fresh probe instance, as after an agent restart (state on disk only)."""
    async def once() -> Observation:
        probe = LanProbe(ProbeContext(state_dir=state_dir))
        try:
            return await run_task(probe, task)
        finally:
            await probe.aclose()

    return call_in_namespace(site, lambda: asyncio.run(once()))


def test_counts_exactly_the_hosts_on_the_bridge_and_finds_the_gateway_by_the_default_route(
        office: Office, tmp_path: Path) -> None:
    task = lan_task(gateway=None)  # no lan.gateway: the site's default route names it
    result = measure(office.site, tmp_path, task)
    assert result.status is Status.OK, result.reason
    assert result.values["hosts_live_count"] == OFFICE_HOSTS + 1  # the PCs and the gateway
    assert result.values["duplicate_ip_count"] == 0
    assert result.values["gateway_up"] == 1
    assert result.values["gateway_mac_changed"] == 0
    assert result.info["gateway_mac"] == mac_of(office.gateway, "lan")
    # rate-limited: 253 requests at 1000/s cannot take less than 0.253 s
    assert 0.253 <= result.values["sweep_seconds"] < 0.253 + 0.5 + 1.0
    assert result.values["hosts_live_count"] == len(arp_scan(office.site))  # the reference tool agrees

    office.hosts[0].run("ip", "link", "set", "eth0", "down")
    office.add_host("late", "10.77.1.200")
    office.add_host("later", "10.77.1.254")
    result = measure(office.site, tmp_path, task)
    assert result.values["hosts_live_count"] == OFFICE_HOSTS - 1 + 2 + 1


def test_a_changed_gateway_mac_is_noticed_after_an_agent_restart(office: Office, tmp_path: Path) -> None:
    task = lan_task()
    old_mac = mac_of(office.gateway, "lan")
    first = measure(office.site, tmp_path, task)
    assert first.status is Status.OK and first.info["gateway_mac"] == old_mac

    new_mac = "02:77:00:00:01:01"
    office.gateway.run("ip", "link", "set", "dev", "lan", "address", new_mac)
    changed = measure(office.site, tmp_path, task)  # a new probe instance: only the state dir remembers
    assert changed.status is Status.DEGRADED
    assert changed.values["gateway_mac_changed"] == 1
    assert changed.info["gateway_mac"] == new_mac
    assert changed.info["previous_gateway_mac"] == old_mac
    assert changed.reason == f"gateway {GATEWAY} MAC changed from {old_mac} to {new_mac} (router replaced, or ARP spoofing)"
    assert changed.values["hosts_live_count"] == OFFICE_HOSTS + 1

    settled = measure(office.site, tmp_path, task)  # the new MAC is the new baseline
    assert settled.status is Status.OK
    assert settled.values["gateway_mac_changed"] == 0
    assert "previous_gateway_mac" not in settled.info


def test_two_hosts_answering_for_one_address_are_a_duplicate(office: Office, tmp_path: Path) -> None:
    twin = office.add_host("twin", "10.77.1.10")  # same address as pc0
    result = measure(office.site, tmp_path, lan_task())
    assert result.status is Status.DEGRADED
    assert result.values["duplicate_ip_count"] == 1
    assert result.values["hosts_live_count"] == OFFICE_HOSTS + 1  # addresses, not boxes
    address, macs = result.info["duplicates"].split("=")
    assert address == "10.77.1.10"
    assert sorted(macs.split("/")) == sorted([mac_of(office.hosts[0], "eth0"), mac_of(twin, "eth0")])
    assert result.reason == f"1 IP address(es) answered from more than one MAC: {result.info['duplicates']}"
    assert result.values["gateway_mac_changed"] == 0


def test_a_silent_gateway_fails_the_probe_and_a_missing_interface_is_an_error(office: Office, tmp_path: Path) -> None:
    office.gateway.run("ip", "link", "set", "lan", "down")
    result = measure(office.site, tmp_path, lan_task())
    assert result.status is Status.FAILED
    assert result.reason == f"gateway {GATEWAY} did not answer ARP ({OFFICE_HOSTS} other hosts did)"
    assert result.values["gateway_up"] == 0
    assert result.values["hosts_live_count"] == OFFICE_HOSTS

    result = measure(office.site, tmp_path, lan_task(interface="eth9"))
    assert result.status is Status.ERROR
    assert result.reason == "interface 'eth9' does not exist"


async def test_a_sweep_that_cannot_finish_within_the_timeout_is_refused_before_sending(tmp_path: Path) -> None:
    # Refused from the numbers alone, before any socket is opened: safe in any namespace.
    result = await run_task(LanProbe(ProbeContext(state_dir=tmp_path)), lan_task(rate_pps=10))
    assert result.status is Status.ERROR
    assert result.reason == ("sweeping 254 addresses at 10/s needs 25.9 s, more than the 5 s timeout: "
                             "raise probes.lan.timeout or rate_pps")
