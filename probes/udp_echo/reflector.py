"""The UDP echo reflector (``netmon reflector serve``): safe to run on an open network.

- No amplification: a reply is the request itself with one byte changed — never larger.
- Only netmon requests are answered (magic, version, request type); everything else,
  including replies and packets from privileged source ports (echo/chargen-style loops
  with spoofed sources), is dropped without a word.
- Token buckets per source (per address for IPv4, per /64 for IPv6, so a host cannot
  rotate addresses within its prefix) and one for the whole reflector bound what any
  source — spoofed or not — can make it send.
- Replies leave from the address the request was sent to (``IP_PKTINFO`` /
  ``IPV6_PKTINFO``), so a reflector listening on a wildcard address of a multi-homed
  server answers each link from that link's address, as the prober's connected socket expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from netmon.probes import kernel_timestamps
from netmon.probes.udp_echo.packet import is_request, reply_for
from netmon.probes.udp_echo.rate_limit import TokenBuckets

IP_PKTINFO = 8  # Linux; Python's socket module does not define it
_IN_PKTINFO_BYTES = 12  # int ifindex; in_addr spec_dst; in_addr addr
_IN6_PKTINFO_BYTES = 20  # in6_addr addr; int ifindex
_ANCILLARY_BUFSIZE = socket.CMSG_SPACE(_IN6_PKTINFO_BYTES) + kernel_timestamps.ANCILLARY_BUFSIZE
_MAX_DATAGRAM = 65535
_MAX_PER_WAKEUP = 256


@dataclasses.dataclass
class ReflectorStats:
    received: int = 0
    replied: int = 0
    dropped_foreign: int = 0
    dropped_rate_limited: int = 0
    dropped_privileged_port: int = 0

    def summary(self) -> str:
        return (f"received {self.received}, replied {self.replied}, dropped: {self.dropped_foreign} foreign, "
                f"{self.dropped_rate_limited} rate-limited, {self.dropped_privileged_port} from privileged ports")


def source_key(host: str) -> str:
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Policy:
    """What to answer: the safety rules, without any I/O."""

    def __init__(self, rate_per_source: float, burst: float, max_total_rate: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = ReflectorStats()
        self.per_source = TokenBuckets(rate_per_source, burst)
        self.total = TokenBuckets(max_total_rate, max(burst, max_total_rate / 10), max_keys=1)
        self.clock = clock

    def admit(self, data: bytes, source: tuple[Any, ...]) -> bool:
        """Whether ``data`` from ``source`` gets a reply."""
        self.stats.received += 1
        if not is_request(data):
            self.stats.dropped_foreign += 1
            return False
        if int(source[1]) < 1024:
            self.stats.dropped_privileged_port += 1
            return False
        now = self.clock()
        if not self.per_source.allow(source_key(str(source[0])), now) or not self.total.allow("*", now):
            self.stats.dropped_rate_limited += 1
            return False
        self.stats.replied += 1
        return True


def open_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, kernel_timestamps.SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_IP, IP_PKTINFO, 1)  # IPv4, also on a dual-stack IPv6 socket
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _reply_source(ancillary: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Control messages that make the reply leave from the address the request came to."""
    for level, kind, data in ancillary:
        if level == socket.SOL_IP and kind == IP_PKTINFO and len(data) >= _IN_PKTINFO_BYTES:
            return [(socket.SOL_IP, IP_PKTINFO, bytes(4) + data[8:12] + bytes(4))]
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= _IN6_PKTINFO_BYTES:
            # keep the interface index too: link-local destinations need it
            return [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, data[:_IN6_PKTINFO_BYTES])]
    return []


def _on_readable(sock: socket.socket, policy: Policy) -> None:
    for _ in range(_MAX_PER_WAKEUP):
        try:
            data, ancillary, _, source = sock.recvmsg(_MAX_DATAGRAM, _ANCILLARY_BUFSIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue  # an ICMP error about an earlier reply: that prober went away
        if policy.admit(data, source):
            received_ns = kernel_timestamps.rx_stamp_ns(ancillary) or time.time_ns()
            control = _reply_source(ancillary)
            # an unroutable source or a full buffer loses the reply, which is what the prober measures
            with contextlib.suppress(OSError):
                sock.sendmsg([reply_for(data, received_ns, time.time_ns())], control, 0, source)


async def serve(host: str, port: int, *, rate_per_source: float, burst: float, max_total_rate: float,
                stop: asyncio.Event, on_ready: Callable[[str], None] | None = None) -> ReflectorStats:
    """Answer until ``stop`` is set; return what was seen."""
    loop = asyncio.get_running_loop()
    policy = Policy(rate_per_source, burst, max_total_rate)
    with open_socket(host, port) as sock:
        loop.add_reader(sock.fileno(), _on_readable, sock, policy)
        try:
            if on_ready is not None:
                bound = sock.getsockname()
                on_ready(f"[{bound[0]}]:{bound[1]}" if ":" in str(bound[0]) else f"{bound[0]}:{bound[1]}")
            await stop.wait()
        finally:
            loop.remove_reader(sock.fileno())
    return policy.stats


def run(host: str, port: int, *, rate_per_source: float, burst: float, max_total_rate: float,
        on_ready: Callable[[str], None] | None = None) -> ReflectorStats:
    """Serve until SIGTERM or SIGINT, then close the socket and return the counters."""

    async def main() -> ReflectorStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await serve(host, port, rate_per_source=rate_per_source, burst=burst,
                           max_total_rate=max_total_rate, stop=stop, on_ready=on_ready)

    return asyncio.run(main())
