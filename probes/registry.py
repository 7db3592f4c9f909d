"""Explicit registration of probe kinds; the one place that lists them all.

Like prometheus_client's ``CollectorRegistry.register``: registering a kind twice is a
programming error and raises at once, not at the first measurement.
"""

from __future__ import annotations

from netmon.contract import ProbeKind
from netmon.probes.base import Probe


class DuplicateProbeKind(ValueError):
    pass


class UnknownProbeKind(KeyError):
    def __init__(self, kind: str, known: list[str]) -> None:
        self.kind = kind
        self.known = known
        super().__init__(f"unknown probe kind {kind!r}; known kinds: {', '.join(known)}")

    def __str__(self) -> str:
        return str(self.args[0])


class ProbeRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, type[Probe]] = {}

    def register(self, probe_class: type[Probe]) -> type[Probe]:
        kind = ProbeKind(probe_class.kind).value
        if kind in self._kinds:
            raise DuplicateProbeKind(
                f"probe kind {kind!r} is already registered by {self._kinds[kind].__qualname__}"
            )
        self._kinds[kind] = probe_class
        return probe_class

    def get(self, kind: str) -> type[Probe]:
        try:
            return self._kinds[kind]
        except KeyError:
            raise UnknownProbeKind(kind, self.kinds()) from None

    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds


def default_registry() -> ProbeRegistry:
    """Every probe kind netmon ships. Imports are local so an agent loads only what it needs
    at start (scapy-based kinds import scapy inside ``measure``, not here)."""
    registry = ProbeRegistry()
    # one line per kind, in the order of the wire contract's ProbeKind
    from netmon.probes.icmp import IcmpProbe
    registry.register(IcmpProbe)
    from netmon.probes.udp_echo import UdpEchoProbe
    registry.register(UdpEchoProbe)
    from netmon.probes.tcp import TcpProbe
    registry.register(TcpProbe)
    from netmon.probes.http import HttpProbe
    registry.register(HttpProbe)
    from netmon.probes.dns import DnsProbe
    registry.register(DnsProbe)
    from netmon.probes.throughput import ThroughputProbe
    registry.register(ThroughputProbe)
    from netmon.probes.snmp_if import SnmpIfProbe
    registry.register(SnmpIfProbe)
    from netmon.probes.lan import LanProbe
    registry.register(LanProbe)
    from netmon.probes.path import PathProbe
    registry.register(PathProbe)
    return registry
