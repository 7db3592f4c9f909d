"""Interface and route facts for the raw-packet probes (lan, path), without scapy.

Everything here reads the network namespace of the *calling thread* (ioctl on a socket it
creates, ``/proc/thread-self/net/route``), so it is right both in the agent and in a test
thread that entered a lab namespace. scapy's own tables (``conf.ifaces``, ``conf.route``)
are loaded once per process and would go stale when interfaces or routes change.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import ipaddress
import socket
import struct
from pathlib import Path

from netmon.errors import ProbeError

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFMTU = 0x8921
_SIOCGIFHWADDR = 0x8927
_IFF_UP = 0x1
_IFF_RUNNING = 0x40  # operational state: carrier present
_RTF_UP = 0x1
_RTF_GATEWAY = 0x2

CAPABILITY_HINT = "run the agent as root or grant it CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW)"


@dataclasses.dataclass(frozen=True)
class InterfaceFacts:
    name: str
    up: bool  # administratively up and with carrier
    mtu_bytes: int
    mac: str
    ipv4: str | None


@dataclasses.dataclass(frozen=True)
class Route:
    network: ipaddress.IPv4Network
    gateway: str | None
    interface: str
    metric: int


def _ifreq(sock: socket.socket, request: int, name: str) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, struct.pack("16s24x", name.encode()))


def interface_facts(name: str) -> InterfaceFacts:
    """Raises ProbeError when the interface does not exist."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            flags = struct.unpack_from("H", _ifreq(sock, _SIOCGIFFLAGS, name), 16)[0]
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise ProbeError(f"interface {name!r} does not exist") from None
            raise ProbeError(f"cannot read interface {name!r}: {exc.strerror}") from None
        mtu = struct.unpack_from("i", _ifreq(sock, _SIOCGIFMTU, name), 16)[0]
        mac = _ifreq(sock, _SIOCGIFHWADDR, name)[18:24].hex(":")
        try:
            ipv4: str | None = socket.inet_ntoa(_ifreq(sock, _SIOCGIFADDR, name)[20:24])
        except OSError:  # EADDRNOTAVAIL: no IPv4 address on it
            ipv4 = None
    return InterfaceFacts(name=name, up=bool(flags & _IFF_UP and flags & _IFF_RUNNING), mtu_bytes=mtu,
                          mac=mac, ipv4=ipv4)


def _hex_ip(value: str) -> str:
    return socket.inet_ntoa(struct.pack("<I", int(value, 16)))


def read_routes() -> list[Route]:
    """The main IPv4 routing table of this thread's namespace."""
    routes = []
    lines = Path("/proc/thread-self/net/route").read_text().splitlines()[1:]
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or not int(fields[3], 16) & _RTF_UP:
            continue
        gateway = _hex_ip(fields[2]) if int(fields[3], 16) & _RTF_GATEWAY else None
        network = ipaddress.IPv4Network(f"{_hex_ip(fields[1])}/{_hex_ip(fields[7])}", strict=False)
        routes.append(Route(network=network, gateway=gateway, interface=fields[0], metric=int(fields[6])))
    return routes


def route_to(address: str) -> Route | None:
    """The route the kernel would pick from the main table (longest prefix, then lowest metric)."""
    ip = ipaddress.IPv4Address(address)
    matches = [r for r in read_routes() if ip in r.network]
    return min(matches, key=lambda r: (-r.network.prefixlen, r.metric)) if matches else None


def default_gateway() -> str | None:
    route = route_to("0.0.0.0")
    return route.gateway if route is not None and route.network.prefixlen == 0 else None


def source_address_for(destination: str) -> str:
    """The source address the kernel picks towards ``destination``; OSError when there is no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((destination, 9))  # no packet is sent: connect() on UDP only routes
        return str(sock.getsockname()[0])


def capability_error(exc: PermissionError) -> ProbeError:
    return ProbeError(f"raw sockets are not permitted ({exc.strerror}): {CAPABILITY_HINT}")
