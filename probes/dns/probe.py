"""The dns probe kind: one query to a given server with dnspython, timed, its rcode checked.

dnspython is imported inside ``measure`` (~80 ms of import) so agents without a dns task
never load it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import ClassVar

from pydantic import Field, field_validator

from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import UnresolvableHost
from netmon.probes.addressing import resolve
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope


class DnsOptions(ProbeOptions):
    server: str | None = Field(default=None, description="DNS server to ask; default: the target's host")
    query: str = Field(default="dichvucong.gov.vn", min_length=1, max_length=253, description="name to resolve")
    record_type: str = Field(default="A", description="A, AAAA, MX, NS, TXT, ...")
    port: int = Field(default=53, ge=1, le=65535, description="server port when the target has none")
    timeout: PositiveSeconds = 5.0

    @field_validator("record_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        import dns.rdatatype

        try:
            return dns.rdatatype.to_text(dns.rdatatype.from_text(value.upper()))
        except dns.rdatatype.UnknownRdatatype:
            raise ValueError(f"unknown DNS record type {value!r}") from None


class DnsProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.DNS
    Options: ClassVar[type[ProbeOptions]] = DnsOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        import dns.asyncbackend
        import dns.asyncquery
        import dns.exception
        import dns.inet
        import dns.message
        import dns.rcode
        import dns.rdatatype

        options = task.options_as(DnsOptions)
        server = options.server or task.host
        port = task.port or options.port
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.timeout
        try:
            _, server_address = await resolve(server)
        except UnresolvableHost as exc:
            return task.observe(Status.FAILED, reason=f"DNS server: {exc}")
        rdtype = dns.rdatatype.from_text(options.record_type)
        query = dns.message.make_query(options.query, rdtype)
        asked = f"{options.query} {options.record_type} from {server}"
        family = dns.inet.af_for_address(server_address)
        source = task.link.source_address if task.link else None
        remaining = max(0.001, deadline - loop.time())
        started = time.perf_counter()
        try:
            # A connected socket, so that "port unreachable" from a host without a DNS server
            # ends the query at once (dnspython's own asyncio sockets are unconnected).
            udp_socket = await dns.asyncbackend.get_default_backend().make_socket(  # type: ignore[no-untyped-call]
                family, socket.SOCK_DGRAM, 0, (source, 0) if source else None, (server_address, port))
            async with udp_socket:
                response, _ = await dns.asyncquery.udp_with_fallback(
                    query, server_address, timeout=remaining, port=port, source=source, udp_sock=udp_socket)
        except dns.exception.Timeout:
            return task.observe(Status.FAILED, reason=f"no answer for {asked} within {options.timeout:g} s")
        except ConnectionRefusedError:
            return task.observe(Status.FAILED, reason=f"connection refused: no DNS server on {server} port {port}")
        except OSError as exc:
            return task.observe(Status.FAILED, reason=f"{asked}: {(exc.strerror or str(exc)).lower()}")
        except dns.exception.DNSException as exc:
            return task.observe(Status.FAILED, reason=f"malformed answer for {asked}: {exc}")
        resolve_seconds = time.perf_counter() - started
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            return task.observe(Status.FAILED, {"resolve_seconds": resolve_seconds, "answer_count": 0.0},
                                reason=f"{dns.rcode.to_text(rcode)} for {asked}")
        answer_count = sum(len(rrset) for rrset in response.answer if rrset.rdtype == rdtype)
        values = {"resolve_seconds": resolve_seconds, "answer_count": float(answer_count)}
        if answer_count == 0:
            return task.observe(Status.FAILED, values, reason=f"empty answer (NOERROR) for {asked}")
        return task.observe(Status.OK, values)

    async def aclose(self) -> None:
        pass
