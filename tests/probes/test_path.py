"""The path probe on the standard lab topology: site -> router 10.77.1.1 -> centre 10.77.2.2 / 10.77.3.2."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from netmon.config.site import SiteConfig
from netmon.contract import Observation, ProbeKind, Status
from netmon.lab.netns import Namespace, call_in_namespace
from netmon.lab.topology import SiteTopology
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.kinds import default_kinds
from netmon.probes.path import PathProbe
from netmon.probes.plan import build_tasks
from netmon.probes.runner import run_task

pytestmark = pytest.mark.netns

BASE_SITE: dict[str, Any] = {"site": {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}}
CENTRE = "10.77.2.2"
HOP = re.compile(r"^(\d+) (\S+) (\d+\.\d\d)ms$")


def path_task(host: str = CENTRE, **options: Any) -> ProbeTask:
    config = SiteConfig.model_validate({
        **BASE_SITE,
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["path"],
                   "targets": [{"host": host, "name": "isp-edge"}]}],
        "probes": {"path": {"timeout": 5, "max_hops": 8, "per_hop_timeout": 0.5, **options}},
    })
    [task] = [t for t in build_tasks(config, default_kinds()) if t.kind is ProbeKind.PATH]
    return task


def measure(site: Namespace, state_dir: Path, task: ProbeTask) -> Observation:
    """One measurement by a fresh probe instance, as after an agent restart (state on disk only)."""
    async def once() -> Observation:
        probe = PathProbe(ProbeContext(state_dir=state_dir))
        try:
            return await run_task(probe, task)
        finally:
            await probe.aclose()

    return call_in_namespace(site, lambda: asyncio.run(once()))


def hops(result: Observation) -> list[tuple[int, str]]:
    parsed = []
    for part in result.info["hops"].split("; "):
        match = HOP.match(part)
        assert match, part
        parsed.append((int(match.group(1)), match.group(2)))
    return parsed


def ping_rtts_seconds(ns: Namespace, host: str, count: int = 5) -> list[float]:
    out = ns.run("ping", "-n", "-c", str(count), "-i", "0.05", "-W", "1", host).stdout
    return [float(ms) / 1000 for ms in re.findall(r"time=([\d.]+) ms", out)]


def test_traces_the_router_then_the_centre_with_rtts_like_ping(site_topo: SiteTopology, tmp_path: Path) -> None:
    result = measure(site_topo.site, tmp_path, path_task())
    assert result.status is Status.OK, result.reason
    assert result.values["hop_count"] == 2
    assert hops(result) == [(1, site_topo.gateway_ip), (2, CENTRE)]
    assert result.values["path_changed"] == 0
    assert result.values["path_mtu_bytes"] == 1500
    reference = ping_rtts_seconds(site_topo.site, CENTRE)
    assert len(reference) == 5
    # scapy stamps the send in user space (the reply gets the kernel's stamp): a little above ping
    assert 0 < result.values["last_hop_rtt_seconds"] < max(reference) + 0.003

    again = measure(site_topo.site, tmp_path, path_task())
    assert again.values["path_changed"] == 0
    assert "previous_path" not in again.info


def test_path_mtu_is_that_of_the_narrowest_link_as_ping_with_df_confirms(site_topo: SiteTopology, tmp_path: Path) -> None:
    for ns in (site_topo.router, site_topo.centre):
        ns.run("ip", "link", "set", "dev", site_topo.leased.router_if, "mtu", "1400")
    # reference: iputils ping with DF set; payload = size - 28 bytes of IP and ICMP headers
    assert site_topo.site.run("ping", "-c1", "-W1", "-M", "do", "-s", "1372", CENTRE, check=False).returncode == 0
    assert site_topo.site.run("ping", "-c1", "-W1", "-M", "do", "-s", "1373", CENTRE, check=False).returncode != 0
    # and iputils tracepath (which also leaves 1400 in the site kernel's PMTU cache: the probe
    # must measure the path, not read that cache)
    resume = site_topo.site.run("tracepath", "-n", "-m", "8", CENTRE).stdout.splitlines()[-1].split()
    assert resume == ["Resume:", "pmtu", "1400", "hops", "2", "back", "2"]

    leased = measure(site_topo.site, tmp_path, path_task())
    assert leased.status is Status.OK, leased.reason
    assert leased.values["path_mtu_bytes"] == 1400
    assert leased.values["hop_count"] == 2
    tslcd = measure(site_topo.site, tmp_path, path_task(site_topo.tslcd.centre_ip))
    assert tslcd.values["path_mtu_bytes"] == 1500  # the other line is not narrowed


def test_path_mtu_is_found_when_the_router_sends_no_icmp_at_all(site_topo: SiteTopology, tmp_path: Path) -> None:
    """A PMTU black hole: the narrow router sends neither time-exceeded nor frag-needed."""
    for ns in (site_topo.router, site_topo.centre):
        ns.run("ip", "link", "set", "dev", site_topo.leased.router_if, "mtu", "1400")
    site_topo.router.run("ip", "rule", "add", "iif", "lo", "ipproto", "icmp", "blackhole")  # all ICMP it originates
    result = measure(site_topo.site, tmp_path, path_task(timeout=10, attempts=1))
    assert result.status is Status.OK, result.reason
    assert result.info["hops"].startswith("1 *; 2 10.77.2.2 ")
    assert result.values["path_mtu_bytes"] == 1400


def test_a_re_route_through_another_router_is_a_path_change(site_topo: SiteTopology, tmp_path: Path) -> None:
    lab, router, centre = site_topo.lab, site_topo.router, site_topo.centre
    first = measure(site_topo.site, tmp_path, path_task())
    assert first.values["path_changed"] == 0

    # a backup router appears between the site router and the centre, and takes the traffic
    backup = lab.namespace("backup")
    backup.sysctl("net.ipv4.ip_forward", "1")
    lab.link(router, "bk", "10.77.9.1/24", backup, "uplink", "10.77.9.2/24")
    lab.link(backup, "downlink", "10.77.8.1/24", centre, "bk", "10.77.8.2/24")
    backup.run("ip", "route", "add", CENTRE, "via", "10.77.8.2")
    backup.run("ip", "route", "add", "10.77.1.0/24", "via", "10.77.9.1")
    router.run("ip", "route", "add", f"{CENTRE}/32", "via", "10.77.9.2")

    rerouted = measure(site_topo.site, tmp_path, path_task())
    assert rerouted.status is Status.OK, rerouted.reason
    assert rerouted.values["path_changed"] == 1
    assert rerouted.values["hop_count"] == 3
    assert hops(rerouted) == [(1, site_topo.gateway_ip), (2, "10.77.9.2"), (3, CENTRE)]
    assert rerouted.info["previous_path"] == f"{site_topo.gateway_ip} {CENTRE}"

    router.run("ip", "route", "del", f"{CENTRE}/32")
    back = measure(site_topo.site, tmp_path, path_task())
    assert back.values["path_changed"] == 1 and back.values["hop_count"] == 2
    steady = measure(site_topo.site, tmp_path, path_task())
    assert steady.values["path_changed"] == 0


def test_a_target_the_router_cannot_reach_fails_with_the_router_s_answer(site_topo: SiteTopology, tmp_path: Path) -> None:
    result = measure(site_topo.site, tmp_path, path_task("10.77.99.1"))
    assert result.status is Status.FAILED
    assert result.reason == f"10.77.99.1 unreachable: network unreachable from {site_topo.gateway_ip} at hop 1"
    assert set(result.values) == set()


def test_an_ipv6_target_is_refused_with_a_reason(tmp_path: Path) -> None:
    result = asyncio.run(run_task(PathProbe(ProbeContext(state_dir=tmp_path)), path_task("fd77:2::2")))
    assert result.status is Status.ERROR
    assert result.reason == "fd77:2::2 is IPv6; the path probe traces IPv4 targets only"

