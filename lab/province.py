"""A simulated province: one provincial centre and N communes, each behind its own site router.

::

    commune i (agent)        router i (snmpd)               centre (collector, iperf3, platforms)
    eth0 ------------------- lan
                             leased ==tbf== l<i> \
                             tslcd  ==tbf== t<i> /  service addresses on the centre's loopback:
                                                    10.78.0.1 "isp-edge"      (over leased lines)
                                                    10.78.0.2 "provincial-dc" (over the data network)

Addresses: commune i (1-based, up to 250) uses 10.(100+i).1.0/24 for its office LAN,
10.(100+i).2.0/30 for its leased line and 10.(100+i).3.0/30 for its data-network link. The
centre answers from 10.78.0.1 over every commune's leased line and from 10.78.0.2 over its
data-network link (source-based routing tables), so each link's path is symmetric and each
commune's shaping is its own. Everything lives inside the lab's namespaces.
"""

from __future__ import annotations

import dataclasses

from netmon.lab.netns import Lab, Namespace

ISP_EDGE = "10.78.0.1"
PROVINCIAL_DC = "10.78.0.2"
_TABLE = {"leased": "101", "tslcd": "102"}
_SERVICE = {"leased": ISP_EDGE, "tslcd": PROVINCIAL_DC}


@dataclasses.dataclass
class Commune:
    index: int
    site: Namespace
    router: Namespace
    leased_mbit: float | None
    tslcd_mbit: float | None

    @property
    def net(self) -> str:
        return f"10.{100 + self.index}"

    @property
    def site_ip(self) -> str:
        return f"{self.net}.1.2"

    @property
    def gateway_ip(self) -> str:
        return f"{self.net}.1.1"

    def router_link_ip(self, link: str) -> str:
        return f"{self.net}.{2 if link == 'leased' else 3}.1"

    def centre_link_ip(self, link: str) -> str:
        return f"{self.net}.{2 if link == 'leased' else 3}.2"

    def centre_if(self, link: str) -> str:
        return f"{'l' if link == 'leased' else 't'}{self.index}"


@dataclasses.dataclass
class Province:
    lab: Lab
    centre: Namespace
    communes: list[Commune]

    def shape(self, commune: Commune, link: str, rate_mbit: float, latency_ms: float = 50.0) -> None:
        Lab.shape(commune.router, link, rate_mbit, latency_ms)
        Lab.shape(self.centre, commune.centre_if(link), rate_mbit, latency_ms)

    def set_uplink_down(self, commune: Commune, down: bool = True) -> None:
        commune.router.run("ip", "link", "set", "lan", "down" if down else "up")


def build_province(lab: Lab, rates: list[tuple[float | None, float | None]], latency_ms: float = 50.0) -> Province:
    """``rates[i] = (leased_mbit, tslcd_mbit)`` for commune i+1; None leaves that link unshaped."""
    if not 1 <= len(rates) <= 150:
        raise ValueError("a lab province has 1 to 150 communes")
    centre = lab.namespace("centre")
    # Service addresses live on the centre's loopback (this kernel has no dummy driver).
    for address in (ISP_EDGE, PROVINCIAL_DC):
        centre.run("ip", "addr", "add", f"{address}/32", "dev", "lo")
    for link, table in _TABLE.items():
        centre.run("ip", "rule", "add", "from", _SERVICE[link], "table", table)
    province = Province(lab=lab, centre=centre, communes=[])
    for index, (leased, tslcd) in enumerate(rates, start=1):
        site = lab.namespace(f"c{index}")
        router = lab.namespace(f"r{index}")
        commune = Commune(index=index, site=site, router=router, leased_mbit=leased, tslcd_mbit=tslcd)
        router.sysctl("net.ipv4.ip_forward", "1")
        for ns in (site, router):
            ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        lab.link(site, "eth0", f"{commune.site_ip}/24", router, "lan", f"{commune.gateway_ip}/24")
        site.run("ip", "route", "add", "default", "via", commune.gateway_ip)
        for link in ("leased", "tslcd"):
            lab.link(router, link, f"{commune.router_link_ip(link)}/30",
                     centre, commune.centre_if(link), f"{commune.centre_link_ip(link)}/30")
            router.run("ip", "route", "add", f"{_SERVICE[link]}/32", "via", commune.centre_link_ip(link))
            centre.run("ip", "route", "add", f"{commune.net}.1.0/24", "via", commune.router_link_ip(link),
                       "table", _TABLE[link])
        # Traffic the centre originates without a service source (none expected) uses the data network.
        centre.run("ip", "route", "add", f"{commune.net}.1.0/24", "via", commune.router_link_ip("tslcd"))
        province.communes.append(commune)
        for link, rate in (("leased", leased), ("tslcd", tslcd)):
            if rate is not None:
                province.shape(commune, link, rate, latency_ms)
    return province
