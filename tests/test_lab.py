"""The testbed itself: namespaces, shaping and cleanup behave as the other tests assume."""

from __future__ import annotations

import subprocess

import pytest

from netmon.lab.netns import Lab, LabError
from netmon.lab.topology import SiteTopology, build_site
from tests.conftest import require_netns

pytestmark = pytest.mark.netns


def test_site_reaches_both_centre_addresses_over_their_own_links(site_topo: SiteTopology) -> None:
    for ends in site_topo.links():
        out = site_topo.site.run("ping", "-c", "1", "-W", "2", ends.centre_ip).stdout
        assert "1 received" in out
        out6 = site_topo.site.run("ping", "-6", "-c", "1", "-W", "2", ends.centre_ip6).stdout
        assert "1 received" in out6
        # the reply came back over the same link: its router interface counted both directions
        stats = site_topo.router.run("ip", "-s", "-j", "link", "show", ends.router_if).stdout
        assert '"packets"' in stats


def test_link_down_makes_that_link_unreachable_only(site_topo: SiteTopology) -> None:
    site_topo.set_link_down(site_topo.leased)
    lost = site_topo.site.run("ping", "-c", "1", "-W", "1", site_topo.leased.centre_ip, check=False)
    assert lost.returncode != 0
    ok = site_topo.site.run("ping", "-c", "1", "-W", "2", site_topo.tslcd.centre_ip)
    assert "1 received" in ok.stdout


def test_close_removes_namespaces_and_processes_even_after_an_error() -> None:
    require_netns()
    lab = Lab()
    names: list[str] = []
    try:
        with lab:
            topo = build_site(lab, leased_mbit=None, tslcd_mbit=None)
            names = [ns.name for ns in lab.namespaces]
            sleeper = topo.centre.start(["sleep", "300"])
            raise LabError("simulated failure")
    except LabError:
        pass
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in names:
        assert name not in listing
    assert sleeper.popen.poll() is not None


def test_call_in_namespace_does_its_io_inside_the_namespace(site_topo: SiteTopology) -> None:
    import socket

    from netmon.lab.netns import call_in_namespace

    def connect_to_gateway_ssh_port() -> str:
        with socket.socket() as sock:
            sock.settimeout(2)
            try:
                sock.connect((site_topo.gateway_ip, 9))
            except ConnectionRefusedError:
                return "refused"  # the router namespace answered with RST: we are in the site ns
            return "connected"

    assert call_in_namespace(site_topo.site, connect_to_gateway_ssh_port) == "refused"
