"""A commune office LAN: a Linux bridge ("the switch") with the agent, the gateway and office PCs.

::

    switch namespace: br0 ── site   eth0 10.77.1.2/24   (the agent; default route via the gateway)
                         ├── gw     lan  10.77.1.1/24
                         └── pc<i>  eth0 10.77.1.10+i/24

Every box is its own namespace, so each ARP answer comes from a real kernel. Used by the lan
probe's tests and benchmark; the addresses exist only inside the lab's namespaces.
"""

from __future__ import annotations

import dataclasses

from netmon.lab.netns import Lab, Namespace

SITE_IP = "10.77.1.2"
GATEWAY_IP = "10.77.1.1"
SUBNET = "10.77.1.0/24"


@dataclasses.dataclass
class Office:
    lab: Lab
    switch: Namespace
    site: Namespace
    gateway: Namespace
    hosts: list[Namespace]
    ports: int = 0

    def plug(self, ns: Namespace, dev: str, address: str) -> None:
        """Cable ``ns``'s new interface ``dev`` (with ``address``, CIDR) into the switch."""
        self.ports += 1
        port = f"port{self.ports}"
        self.lab.link(ns, dev, address, self.switch, port, None)
        self.switch.run("ip", "link", "set", port, "master", "br0")

    def add_host(self, role: str, address: str) -> Namespace:
        host = self.lab.namespace(role)
        self.plug(host, "eth0", f"{address}/24")
        return host


def mac_of(ns: Namespace, dev: str) -> str:
    return ns.run("cat", f"/sys/class/net/{dev}/address").stdout.strip()


def build_office(lab: Lab, hosts: int = 5, prefix: str = "") -> Office:
    if not 0 <= hosts <= 240:
        raise ValueError("an office has 0..240 PCs (10.77.1.10-249)")
    switch = lab.namespace(f"{prefix}switch")
    lab.bridge(switch, "br0")
    office = Office(lab=lab, switch=switch, site=lab.namespace(f"{prefix}site"),
                    gateway=lab.namespace(f"{prefix}gw"), hosts=[])
    office.plug(office.site, "eth0", f"{SITE_IP}/24")
    office.plug(office.gateway, "lan", f"{GATEWAY_IP}/24")
    office.site.run("ip", "route", "add", "default", "via", GATEWAY_IP)
    office.hosts = [office.add_host(f"{prefix}pc{i}", f"10.77.1.{10 + i}") for i in range(hosts)]
    return office
