"""The icmp probe kind: ``count`` echo requests ``spacing`` apart per cycle, like fping or SmokePing."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import ClassVar

from pydantic import Field

from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import UnresolvableHost
from netmon.probes.addressing import bind_source, resolve
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.echo_session import EchoCycleOptions, echo_status, echo_values, run_cycle, send_stamps_label
from netmon.probes.icmp.sockets import MIN_PAYLOAD_BYTES, IcmpEchoCodec, SocketMode, open_socket


class IcmpOptions(EchoCycleOptions):
    size: int = Field(default=56, ge=MIN_PAYLOAD_BYTES, le=65000, description="ICMP payload bytes, as ping -s")
    socket: SocketMode = Field(default="auto", description="auto: unprivileged datagram socket, else raw")


class IcmpProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.ICMP
    Options: ClassVar[type[ProbeOptions]] = IcmpOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(IcmpOptions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.timeout
        try:
            family, address = await resolve(task.host)
        except UnresolvableHost as exc:
            return task.observe(Status.FAILED, {"loss_ratio": 1.0}, reason=str(exc))
        sock, raw = open_socket(family, options.socket)
        with sock:
            bind_source(sock, family, task.link.source_address if task.link else None)
            codec = IcmpEchoCodec(family, raw, random.getrandbits(16), options.size)
            destination = (address, 0, 0, 0) if family == socket.AF_INET6 else (address, 0)
            outcome = await run_cycle(sock, codec, destination, count=options.count,
                                      spacing_seconds=options.spacing,
                                      reply_timeout_seconds=options.reply_timeout, deadline=deadline)
        status, reason = echo_status(outcome, "echo requests")
        info = {"socket": "raw" if raw else "datagram"}
        if outcome.received:
            info["send_stamps"] = send_stamps_label(outcome.kernel_tx_stamps, outcome.received)
        return task.observe(status, echo_values(outcome), reason=reason, info=info)

    async def aclose(self) -> None:
        pass
