"""Target addresses for socket probes: resolve a host, bind to a link's source address.

A name that does not resolve is a network failure (the probe reports ``failed``); a source
address that cannot be used is a configuration fault of this agent (``ProbeError`` → ``error``).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket

from netmon.errors import ProbeError, UnresolvableHost


def literal_family(host: str) -> tuple[int, str] | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return (socket.AF_INET6 if address.version == 6 else socket.AF_INET), str(address)


async def resolve(host: str, socktype: int = socket.SOCK_DGRAM) -> tuple[int, str]:
    """(address family, address text) of ``host``; literals never touch the resolver."""
    literal = literal_family(host)
    if literal is not None:
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socktype)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve {host!r}: {exc}") from None
    if not infos:
        raise UnresolvableHost(f"cannot resolve {host!r}: no addresses")
    family, _, _, _, sockaddr = infos[0]
    return int(family), str(sockaddr[0])


def bind_source(sock: socket.socket, family: int, source_address: str | None) -> None:
    """Send from the link's configured source address (multi-homed agents)."""
    if not source_address:
        return
    literal = literal_family(source_address)
    if literal is None:
        raise ProbeError(f"source_address {source_address!r} is not an IP address")
    if literal[0] != family:
        wanted = "IPv6" if family == socket.AF_INET6 else "IPv4"
        raise ProbeError(f"source_address {source_address} cannot reach an {wanted} target")
    try:
        sock.bind((literal[1], 0))
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ProbeError(f"source_address {source_address} is not configured on this host") from None
        raise ProbeError(f"cannot bind to source_address {source_address}: {exc.strerror}") from None
