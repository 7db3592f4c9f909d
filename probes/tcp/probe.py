"""The tcp probe kind: connect time to host:port (SYN to SYN-ACK, as the application feels it)."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import ClassVar, cast

from pydantic import Field

from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import ProbeError
from probes.addressing import UnresolvableHost, bind_source, resolve
from probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope

# Why a connect failed, in the words an operator expects.
_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "connection timed out",
}


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
        options = cast(TcpOptions, task.options)
        port = task.port or options.port
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.timeout
        try:
            family, address = await resolve(task.host, socket.SOCK_STREAM)
        except UnresolvableHost as exc:
            return task.observe(Status.FAILED, reason=str(exc))
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            try:
                bind_source(sock, family, task.link.source_address if task.link else None)
            except ProbeError as exc:
                return task.observe(Status.ERROR, reason=str(exc))
            started = time.perf_counter()
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (address, port)), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return task.observe(Status.FAILED, reason=f"no answer within {options.timeout:g} s")
            except OSError as exc:
                reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
                return task.observe(Status.FAILED, reason=reason)
            connect_seconds = time.perf_counter() - started
        return task.observe(Status.OK, {"connect_seconds": connect_seconds})

    async def aclose(self) -> None:
        pass
