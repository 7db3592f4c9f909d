"""The ``lan`` probe: who is on the office LAN, is the gateway there, and is it still the same box.

An ARP sweep of the configured subnet (scapy, rate-limited, in a worker thread) gives the
live host count, duplicate addresses (one IP answered by two MACs) and the gateway's MAC.
The gateway MAC is remembered in the agent's state directory, so a change is noticed even
across agent restarts: a new MAC on the gateway address is a router swap or ARP spoofing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import ClassVar

from pydantic import Field

from netmon.config.site import LanConfig
from netmon.config.units import PositiveSeconds
from netmon.contract import Observation, ProbeKind, Status
from netmon.errors import ProbeError
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask, Scope
from netmon.probes.rawnet import default_gateway, interface_facts, route_to
from netmon.probes.scapy_loader import load_scapy
from netmon.probes.state import load_state, save_state

# Time kept back from the task's timeout for the scapy import, socket set-up and matching.
_MARGIN_SECONDS = 0.5
_DUPLICATES_LISTED = 8


class LanOptions(ProbeOptions):
    interval: PositiveSeconds = 300.0
    timeout: PositiveSeconds = 30.0
    rate_pps: float = Field(default=400.0, gt=0, le=5000,
                            description="ARP requests per second (arp-scan's default is ~380)")
    reply_wait_seconds: PositiveSeconds = Field(default=1.0, le=10,
                                                description="wait for late replies after the last request")


class LanProbe:
    kind: ClassVar[ProbeKind] = ProbeKind.LAN
    Options: ClassVar[type[ProbeOptions]] = LanOptions
    scope: ClassVar[Scope] = "link"
    link_section: ClassVar[str | None] = "lan"

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, task: ProbeTask) -> Observation:
        lan = task.link.lan if task.link is not None else None
        if lan is None:
            return task.observe(Status.ERROR, reason="lan probe planned for a link without a 'lan' section")
        options = task.options_as(LanOptions)
        return await asyncio.to_thread(self._measure, task, lan, options)

    async def aclose(self) -> None:
        pass

    def _measure(self, task: ProbeTask, lan: LanConfig, options: LanOptions) -> Observation:
        started = time.monotonic()
        network = ipaddress.ip_network(lan.subnet)
        if not isinstance(network, ipaddress.IPv4Network):
            raise ProbeError(f"lan.subnet {lan.subnet} is IPv6; the ARP sweep covers IPv4 subnets only")
        hosts = [str(h) for h in network.hosts()]
        needed = len(hosts) / options.rate_pps + options.reply_wait_seconds
        if needed > options.timeout - _MARGIN_SECONDS:
            raise ProbeError(f"sweeping {len(hosts)} addresses at {options.rate_pps:g}/s needs {needed:.1f} s, "
                             f"more than the {options.timeout:g} s timeout: raise probes.lan.timeout or rate_pps")

        interface = lan.interface
        if interface is None:
            route = route_to(str(network.network_address))
            if route is None:
                return task.observe(Status.FAILED, reason=f"no interface has a route to {network} (link down?)")
            interface = route.interface
        facts = interface_facts(interface)
        if not facts.up:
            return task.observe(Status.FAILED, reason=f"interface {interface} is down (no carrier)")
        if facts.ipv4 is None:
            return task.observe(Status.FAILED, reason=f"interface {interface} has no IPv4 address")
        gateway = lan.gateway or default_gateway()
        targets = [h for h in hosts if h != facts.ipv4]
        if gateway is not None and gateway not in targets and gateway != facts.ipv4:
            targets.append(gateway)

        load_scapy()  # on first use only
        from netmon.probes.lan.sweep import arp_sweep

        budget = options.timeout - _MARGIN_SECONDS - (time.monotonic() - started)
        wait = min(options.reply_wait_seconds, max(0.1, budget - len(targets) / options.rate_pps))
        sweep_started = time.monotonic()
        found = arp_sweep(interface, facts.mac, facts.ipv4, targets, options.rate_pps, wait)
        sweep_seconds = time.monotonic() - sweep_started
        return self._assess(task, found, gateway, sweep_seconds)

    def _assess(self, task: ProbeTask, found: dict[str, list[str]], gateway: str | None,
                sweep_seconds: float) -> Observation:
        duplicates = {ip: macs for ip, macs in found.items() if len(macs) > 1}
        values: dict[str, float] = {"hosts_live_count": len(found), "duplicate_ip_count": len(duplicates),
                                    "sweep_seconds": sweep_seconds}
        info: dict[str, str] = {}
        problems: list[str] = []
        if duplicates:
            info["duplicates"] = describe_duplicates(duplicates)
            problems.append(f"{len(duplicates)} IP address(es) answered from more than one MAC: {info['duplicates']}")
        if gateway is None:
            return task.observe(Status.FAILED, values, info=info,
                                reason="no default route and no lan.gateway configured: cannot check the gateway")
        macs = found.get(gateway, [])
        values["gateway_up"] = 1.0 if macs else 0.0
        if not macs:
            return task.observe(Status.FAILED, values, info=info,
                                reason=f"gateway {gateway} did not answer ARP ({len(found)} other hosts did)")

        remembered = load_state(self.context.state_dir, task.key) or {}
        previous = remembered.get("gateway_mac") if remembered.get("gateway_ip") == gateway else None
        # When a spoofer and the real gateway both answer, keep following the known one:
        # the duplicate is reported anyway.
        mac = previous if previous in macs else macs[0]
        changed = isinstance(previous, str) and mac != previous
        values["gateway_mac_changed"] = 1.0 if changed else 0.0
        info["gateway_mac"] = mac
        if changed:
            info["previous_gateway_mac"] = str(previous)
            problems.insert(0, f"gateway {gateway} MAC changed from {previous} to {mac} "
                               "(router replaced, or ARP spoofing)")
        if not self.context.read_only:
            save_state(self.context.state_dir, task.key, {"gateway_ip": gateway, "gateway_mac": mac})
        if problems:
            return task.observe(Status.DEGRADED, values, reason="; ".join(problems), info=info)
        return task.observe(Status.OK, values, info=info)


def describe_duplicates(duplicates: dict[str, list[str]]) -> str:
    """``ip=mac1/mac2, ...``, at most a few entries so it stays a short field."""
    ordered = sorted(duplicates.items(), key=lambda item: ipaddress.ip_address(item[0]))
    text = ", ".join(f"{ip}={'/'.join(macs)}" for ip, macs in ordered[:_DUPLICATES_LISTED])
    if len(ordered) > _DUPLICATES_LISTED:
        text += f" (+{len(ordered) - _DUPLICATES_LISTED} more)"
    return text[:400]
