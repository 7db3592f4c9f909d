"""The standard commune topology: office LAN -> site router -> two shaped links -> provincial centre.

::

    site (agent)            router (site's router, snmpd)                 centre
    eth0 10.77.1.2/24 ---- lan 10.77.1.1/24
                            leased 10.77.2.1/24  ==tbf==  leased 10.77.2.2/24   "isp-edge"
                            tslcd  10.77.3.1/24  ==tbf==  tslcd  10.77.3.2/24   "provincial-dc"

Upload (site -> centre) is shaped on the router's egress, where a real line queues;
download is shaped on the centre's egress. The centre answers from each address over the
link that address belongs to (source routing), so each link's path is symmetric.
IPv6 runs alongside on fd77:<n>::/64 so every probe can be tested on both families.
All addresses exist only inside the lab's namespaces.
"""

from __future__ import annotations

import dataclasses
import socket

from netmon.lab.netns import Lab, Namespace


@dataclasses.dataclass
class LinkEnds:
    name: str
    router_if: str
    centre_if: str
    router_ip: str
    centre_ip: str
    router_ip6: str
    centre_ip6: str
    rate_mbit: float | None


@dataclasses.dataclass
class SiteTopology:
    lab: Lab
    site: Namespace
    router: Namespace
    centre: Namespace
    site_ip: str = "10.77.1.2"
    gateway_ip: str = "10.77.1.1"
    site_ip6: str = "fd77:1::2"
    gateway_ip6: str = "fd77:1::1"
    leased: LinkEnds = dataclasses.field(default=None)  # type: ignore[assignment]
    tslcd: LinkEnds = dataclasses.field(default=None)  # type: ignore[assignment]

    def links(self) -> list[LinkEnds]:
        return [self.leased, self.tslcd]

    def shape(self, link: LinkEnds, rate_mbit: float, latency_ms: float = 50.0) -> None:
        Lab.shape(self.router, link.router_if, rate_mbit, latency_ms)
        Lab.shape(self.centre, link.centre_if, rate_mbit, latency_ms)
        link.rate_mbit = rate_mbit

    def unshape(self, link: LinkEnds) -> None:
        Lab.unshape(self.router, link.router_if)
        Lab.unshape(self.centre, link.centre_if)
        link.rate_mbit = None

    def set_link_down(self, link: LinkEnds, down: bool = True) -> None:
        self.router.run("ip", "link", "set", link.router_if, "down" if down else "up")

    def set_uplink_down(self, down: bool = True) -> None:
        """The site loses both links (its router's LAN port goes dark)."""
        self.site.run("ip", "link", "set", "eth0", "down" if down else "up")
        if not down:
            # the default routes went with the interface, and so did its IPv6 address; put them back
            self.site.run("ip", "-6", "addr", "replace", f"{self.site_ip6}/64", "dev", "eth0", "nodad")
            self.site.run("ip", "route", "replace", "default", "via", self.gateway_ip)
            self.site.run("ip", "-6", "route", "replace", "default", "via", self.gateway_ip6)


def build_site(lab: Lab, leased_mbit: float | None = 20.0, tslcd_mbit: float | None = 100.0,
               latency_ms: float = 50.0, prefix: str = "") -> SiteTopology:
    site = lab.namespace(f"{prefix}site")
    router = lab.namespace(f"{prefix}router")
    centre = lab.namespace(f"{prefix}centre")
    router.sysctl("net.ipv4.ip_forward", "1")
    router.sysctl("net.ipv6.conf.default.forwarding", "1")
    router.sysctl("net.ipv6.conf.all.forwarding", "1")
    # ICMP echo from unprivileged processes (the agent runs with CAP_NET_RAW, tests also without)
    for ns in (site, router, centre):
        ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")

    lab.link(site, "eth0", "10.77.1.2/24", router, "lan", "10.77.1.1/24")
    site.run("ip", "addr", "add", "fd77:1::2/64", "dev", "eth0", "nodad")
    router.run("ip", "addr", "add", "fd77:1::1/64", "dev", "lan", "nodad")
    site.run("ip", "route", "add", "default", "via", "10.77.1.1")
    site.run("ip", "-6", "route", "add", "default", "via", "fd77:1::1")

    topo = SiteTopology(lab=lab, site=site, router=router, centre=centre)
    for index, (name, rate) in enumerate((("leased", leased_mbit), ("tslcd", tslcd_mbit)), start=2):
        ends = LinkEnds(name=name, router_if=name, centre_if=name,
                        router_ip=f"10.77.{index}.1", centre_ip=f"10.77.{index}.2",
                        router_ip6=f"fd77:{index}::1", centre_ip6=f"fd77:{index}::2", rate_mbit=None)
        lab.link(router, name, f"{ends.router_ip}/24", centre, name, f"{ends.centre_ip}/24")
        router.run("ip", "addr", "add", f"{ends.router_ip6}/64", "dev", name, "nodad")
        centre.run("ip", "addr", "add", f"{ends.centre_ip6}/64", "dev", name, "nodad")
        table = str(100 + index)
        centre.run("ip", "route", "add", "10.77.1.0/24", "via", ends.router_ip, "table", table)
        centre.run("ip", "rule", "add", "from", ends.centre_ip, "table", table)
        centre.run("ip", "-6", "route", "add", "fd77:1::/64", "via", ends.router_ip6, "table", table)
        centre.run("ip", "-6", "rule", "add", "from", ends.centre_ip6, "table", table)
        setattr(topo, name, ends)
        if rate is not None:
            topo.shape(ends, rate, latency_ms)
    # Replies the centre originates without a bound source go back over the leased line.
    centre.run("ip", "route", "add", "10.77.1.0/24", "via", topo.leased.router_ip)
    centre.run("ip", "-6", "route", "add", "fd77:1::/64", "via", topo.leased.router_ip6)
    return topo


# Under pytest-xdist each worker (gw0, gw1, ...) takes ports from its own block below the kernel's
# ephemeral range (32768-60999), set by the test session (``use_port_block``): a port one worker
# was given and has not bound yet can then never be handed to another worker (bind(0) may return
# it twice), nor become a client socket's port. Processes the tests start keep bind(0).
_WORKER_BLOCK = 2000
_WORKER_BASE = 12000
_block: list[int] = []  # [first port, next offset] while a block is in use


def use_port_block(index: int) -> None:
    """This process hands out ports from block ``index`` (0-9) from now on."""
    _block[:] = [_WORKER_BASE + (index % 10) * _WORKER_BLOCK, 0]


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port free on loopback right now (for processes started in the root namespace)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if not _block:
        with socket.socket(family, kind) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    first = _block[0]
    for _ in range(_WORKER_BLOCK):
        offset = _block[1]
        _block[1] = (offset + 1) % _WORKER_BLOCK
        port = first + offset
        with socket.socket(family, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue  # still in use (or in TIME_WAIT) from earlier in this worker's run
            return port
    raise OSError(f"no free port left in {first}-{first + _WORKER_BLOCK - 1}")
