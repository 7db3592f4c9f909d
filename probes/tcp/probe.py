"""The tcp probe kind: connect time to host:port.

The handshake is timed by the kernel: after ``connect()`` the socket's ``TCP_INFO`` holds
the RTT of the SYN → SYN-ACK exchange in microseconds, unaffected by how late the agent's
event loop noticed the connection (with many probes running that can be a millisecond).
When the SYN had to be sent again, the kernel has no clean sample and the wall-clock time
of ``connect()`` is reported instead — it then includes the retransmission timeout, which
is exactly what an application would have waited.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import time
from typing import ClassVar

from pydantic import Field

from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import UnresolvableHost
from netmon.probes.addressing import bind_source, resolve
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope

# Why a connect failed, in the words an operator expects.
_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "connection timed out",
}

# struct tcp_info (linux/tcp.h): tcpi_rtt (us) at byte 68, tcpi_total_retrans at byte 100
_TCP_INFO_BYTES = 104
_RTT_OFFSET = 68
_TOTAL_RETRANS_OFFSET = 100


def handshake_seconds(sock: socket.socket) -> float | None:
    """The kernel's SYN → SYN-ACK time of a just-connected socket, if it has a clean sample."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
    except OSError:
        return None
    if len(info) < _TCP_INFO_BYTES:
        return None
    (rtt_us,) = struct.unpack_from("=I", info, _RTT_OFFSET)
    (total_retrans,) = struct.unpack_from("=I", info, _TOTAL_RETRANS_OFFSET)
    return rtt_us / 1e6 if rtt_us and not total_retrans else None


class TcpOptions(ProbeOptions):
    port: int = Field(default=443, ge=1, le=65535, description="port when the target has none")
    timeout: PositiveSeconds = 5.0


class TcpProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.TCP
    Options: ClassVar[type[ProbeOptions]] = TcpOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(TcpOptions)
        port = task.port or options.port
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.timeout
        try:
            family, address = await resolve(task.host, socket.SOCK_STREAM)
        except UnresolvableHost as exc:
            return task.observe(Status.FAILED, reason=str(exc))
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            bind_source(sock, family, task.link.source_address if task.link else None)
            started = time.perf_counter()
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (address, port)), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return task.observe(Status.FAILED, reason=f"no answer within {options.timeout:g} s")
            except OSError as exc:
                reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
                return task.observe(Status.FAILED, reason=reason)
            wall_seconds = time.perf_counter() - started
            kernel_seconds = handshake_seconds(sock)
        if kernel_seconds is None:
            return task.observe(Status.OK, {"connect_seconds": wall_seconds}, info={"connect_timing": "wall-clock"})
        return task.observe(Status.OK, {"connect_seconds": kernel_seconds}, info={"connect_timing": "kernel"})

    async def aclose(self) -> None:
        pass
