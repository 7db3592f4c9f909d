"""The ``path`` probe: the routers between the site and a target, whether that changed, and the path MTU.

A traceroute (ICMP echo, increasing TTL) gives the hops with their RTTs; the hop list is
remembered per task in the state directory, so a re-route (a backup line taking over, a
carrier change on the data network) shows as ``path_changed`` even across agent restarts.
Then DF probing measures the path MTU, the cause of "small pages load, big ones hang".
scapy is imported in the worker thread on first use, never at agent start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import ClassVar

from pydantic import Field

from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import ProbeError
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.path.hops import Trace, format_hops, merge_path, same_path
from netmon.probes.rawnet import interface_facts, route_to, source_address_for
from netmon.probes.scapy_loader import load_scapy
from netmon.probes.state import load_state, save_state

# Kept back from the task's timeout so the result is built before the runner cuts us off.
_MARGIN_SECONDS = 0.3
# A DF probe waits this multiple of the destination's RTT (a big packet queues longer).
_MTU_WAIT_RTTS = 4.0
_MTU_WAIT_MIN_SECONDS = 0.25


class PathOptions(ProbeOptions):
    interval: PositiveSeconds = 300.0
    timeout: PositiveSeconds = 15.0
    max_hops: int = Field(default=16, ge=1, le=30)
    per_hop_timeout: PositiveSeconds = Field(default=1.0, le=5)
    attempts: int = Field(default=2, ge=1, le=3, description="tries per unanswered hop and per MTU probe size")
    mtu: bool = Field(default=True, description="also measure the path MTU by DF probing")
    max_mtu_bytes: int = Field(default=1500, ge=576, le=9216,
                               description="largest size tried (capped by the interface MTU)")
    mtu_probes: int = Field(default=12, ge=1, le=16)


class PathProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.PATH
    Options: ClassVar[type[ProbeOptions]] = PathOptions
    scope: ClassVar[Scope] = "target"
    link_section: ClassVar[str | None] = None

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        options = task.options_as(PathOptions)
        return await asyncio.to_thread(self._measure, task, options, time.monotonic() + options.timeout)

    async def aclose(self) -> None:
        pass

    def _measure(self, task: ProbeTask, options: PathOptions, deadline: float) -> Observation:
        deadline -= _MARGIN_SECONDS
        try:
            infos = socket.getaddrinfo(task.host, None, socket.AF_INET, socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            if _is_ipv6(task.host):
                raise ProbeError(f"{task.host} is IPv6; the path probe traces IPv4 targets only") from None
            return task.observe(Status.FAILED, reason=f"cannot resolve {task.host}: {exc.strerror}")
        destination = str(infos[0][4][0])
        source = task.link.source_address if task.link is not None and task.link.source_address else None
        try:
            source = source or source_address_for(destination)
        except OSError as exc:
            return task.observe(Status.FAILED, reason=f"no route to {destination}: {exc.strerror}")

        load_scapy()  # on first use only
        from netmon.probes.path.icmpsock import IcmpProbeSocket
        from netmon.probes.path.mtu import probe_path_mtu
        from netmon.probes.path.trace import traceroute

        sock = IcmpProbeSocket()
        try:
            trace = traceroute(sock, source, destination, max_hops=options.max_hops,
                               wait_seconds=options.per_hop_timeout, attempts=options.attempts, deadline=deadline)
            if not trace.reached:
                return self._unreached(task, trace, options)
            values, info = self._compare(task, trace)
            if options.mtu:
                last_rtt = values["last_hop_rtt_seconds"]
                wait = min(options.per_hop_timeout, max(_MTU_WAIT_MIN_SECONDS, _MTU_WAIT_RTTS * last_rtt))
                result = probe_path_mtu(sock, source, destination, start_bytes=_start_size(destination, options),
                                        wait_seconds=wait, attempts=options.attempts,
                                        max_probes=options.mtu_probes, deadline=deadline)
                if result.mtu_bytes is not None:
                    values["path_mtu_bytes"] = result.mtu_bytes
                if result.note:
                    info["mtu_note"] = result.note
        finally:
            sock.close()
        return task.observe(Status.OK, values, info=info)

    def _compare(self, task: ProbeTask, trace: Trace) -> tuple[dict[str, float], dict[str, str]]:
        last = trace.hops[-1]
        values: dict[str, float] = {"hop_count": len(trace.hops), "last_hop_rtt_seconds": last.rtt_seconds or 0.0}
        info = {"hops": format_hops(trace.hops)}
        remembered = load_state(self.context.state_dir, task.key) or {}
        previous = remembered.get("path")
        changed = isinstance(previous, list) and not same_path(previous, trace.addresses)
        values["path_changed"] = 1.0 if changed else 0.0
        if changed and isinstance(previous, list):
            info["previous_path"] = " ".join(str(a or "*") for a in previous)[:480]
        path = merge_path(previous, trace.addresses) if isinstance(previous, list) else trace.addresses
        if not self.context.read_only:
            save_state(self.context.state_dir, task.key, {"destination": trace.destination, "path": path})
        return values, info

    @staticmethod
    def _unreached(task: ProbeTask, trace: Trace, options: PathOptions) -> Observation:
        info = {"hops": format_hops(trace.hops)} if trace.hops else {}
        if trace.stopped_by:
            reason = f"{trace.destination} unreachable: {trace.stopped_by}"
        elif trace.hops:
            answered = [h for h in trace.hops if h.address is not None]
            reason = (f"{trace.destination} not reached within {trace.probed_hops} hops"
                      f"{'' if trace.probed_hops >= options.max_hops else ' (out of time)'}; "
                      f"last answer from {answered[-1].address} at hop {answered[-1].ttl}")
        else:
            reason = f"{trace.destination} not reached: no hop answered within {options.per_hop_timeout:g} s"
        return task.observe(Status.FAILED, reason=reason, info=info)


def _start_size(destination: str, options: PathOptions) -> int:
    """Our interface's MTU (the kernel's cached path MTU may be stale), at most ``max_mtu_bytes``."""
    route = route_to(destination)
    if route is None:
        return options.max_mtu_bytes
    try:
        return min(options.max_mtu_bytes, interface_facts(route.interface).mtu_bytes)
    except ProbeError:
        return options.max_mtu_bytes


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).version == 6
    except ValueError:
        return False
