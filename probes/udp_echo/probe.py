"""The udp_echo probe kind: sequence-numbered datagrams to a reflector, timed by the kernel."""

from __future__ import annotations

import asyncio
import socket
from typing import ClassVar

from pydantic import Field

from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import UnresolvableHost
from netmon.probes.addressing import bind_source, resolve
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.echo_session import (
    EchoCycleOptions,
    EchoOutcome,
    echo_status,
    echo_values,
    run_cycle,
    send_stamps_label,
)
from netmon.probes.udp_echo.packet import DEFAULT_PORT, MIN_BYTES, UdpEchoCodec


class UdpEchoOptions(EchoCycleOptions):
    size: int = Field(default=64, ge=MIN_BYTES, le=1472, description="UDP payload bytes")
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, description="reflector port when the target has none")


class UdpEchoProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.UDP_ECHO
    Options: ClassVar[type[ProbeOptions]] = UdpEchoOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(UdpEchoOptions)
        port = task.port or options.port
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.timeout
        try:
            family, address = await resolve(task.host)
        except UnresolvableHost as exc:
            return task.observe(Status.FAILED, {"loss_ratio": 1.0}, reason=str(exc))
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            bind_source(sock, family, task.link.source_address if task.link else None)
            try:
                # Connected: only the reflector's datagrams reach us, and its host's ICMP
                # "port unreachable" comes back as ECONNREFUSED (no reflector running).
                sock.connect((address, port))
            except OSError as exc:
                outcome = EchoOutcome(requested=options.count, rtts_seconds=[], errors=[exc.strerror or str(exc)],
                                      kernel_tx_stamps=0)
            else:
                outcome = await run_cycle(sock, UdpEchoCodec(options.size), None, count=options.count,
                                          spacing_seconds=options.spacing,
                                          reply_timeout_seconds=options.reply_timeout, deadline=deadline)
        status, reason = echo_status(outcome, "datagrams")
        if status is Status.FAILED and "Connection refused" in outcome.errors:
            reason = (f"{outcome.requested}/{outcome.requested} datagrams lost: no reflector listening on "
                      f"{task.host} port {port} (connection refused)")
        info = {"send_stamps": send_stamps_label(outcome.kernel_tx_stamps, outcome.received)} \
            if outcome.received else {}
        return task.observe(status, echo_values(outcome), reason=reason, info=info)

    async def aclose(self) -> None:
        pass
