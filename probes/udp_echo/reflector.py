"""The UDP echo reflector (``netmon reflector serve``): safe to run on an open network.

- No amplification: a reply is the request itself with one byte changed — never larger.
- Only netmon requests are answered (magic, version, request type); everything else,
  including replies and packets from privileged source ports (echo/chargen-style loops
  with spoofed sources), is dropped without a word.
- Token buckets per source (per address for IPv4, per /64 for IPv6, so a host cannot
  rotate addresses within its prefix) and one for the whole reflector bound what any
  source — spoofed or not — can make it send.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import signal
import time
from collections.abc import Callable
from typing import Any

from probes.udp_echo.packet import reply_for

# Bounded memory: beyond this many tracked sources, idle ones are forgotten first; if all
# are active, new sources are refused until some go quiet (fail closed under a flood).
MAX_SOURCES = 65536
_IDLE_SECONDS = 60.0


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


class TokenBuckets:
    def __init__(self, rate_per_second: float, burst: float, max_keys: int = MAX_SOURCES) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def allow(self, key: str, now: float) -> bool:
        tokens, last = self._buckets.get(key, (self.burst, now))
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._forget_idle(now)
            if len(self._buckets) >= self.max_keys:
                return False
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, (_, last) in self._buckets.items() if now - last > _IDLE_SECONDS]:
            del self._buckets[key]


def source_key(host: str) -> str:
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ReflectorProtocol(asyncio.DatagramProtocol):
    def __init__(self, rate_per_source: float, burst: float, max_total_rate: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stats = ReflectorStats()
        self.per_source = TokenBuckets(rate_per_source, burst)
        self.total = TokenBuckets(max_total_rate, max(burst, max_total_rate / 10), max_keys=1)
        self.clock = clock
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.stats.received += 1
        reply = reply_for(data)
        if reply is None:
            self.stats.dropped_foreign += 1
            return
        if int(addr[1]) < 1024:
            self.stats.dropped_privileged_port += 1
            return
        now = self.clock()
        if not self.per_source.allow(source_key(str(addr[0])), now) or not self.total.allow("*", now):
            self.stats.dropped_rate_limited += 1
            return
        assert self.transport is not None
        self.transport.sendto(reply, addr)
        self.stats.replied += 1

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors about earlier replies: the prober went away; nothing to do


async def serve(host: str, port: int, *, rate_per_source: float, burst: float, max_total_rate: float,
                stop: asyncio.Event, on_ready: Callable[[str], None] | None = None) -> ReflectorStats:
    """Answer until ``stop`` is set; return what was seen."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: ReflectorProtocol(rate_per_source, burst, max_total_rate), local_addr=(host, port))
    try:
        if on_ready is not None:
            bound = transport.get_extra_info("sockname")
            on_ready(f"[{bound[0]}]:{bound[1]}" if ":" in str(bound[0]) else f"{bound[0]}:{bound[1]}")
        await stop.wait()
    finally:
        transport.close()
    return protocol.stats


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
