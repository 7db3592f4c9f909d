"""Explicit registration of probe kinds; the one place that lists them all.

Like prometheus_client's ``CollectorRegistry.register``: registering a kind twice is a
programming error and raises at once, not at the first measurement.
"""

from __future__ import annotations

from netmon.contract import ProbeKind
from netmon.errors import AlreadyRegistered, NotRegistered
from netmon.probes.base import Probe


class ProbeKinds:
    """The probe kinds an agent can run, by name."""

    def __init__(self) -> None:
        self._kinds: dict[str, type[Probe]] = {}

    def register(self, probe_class: type[Probe]) -> type[Probe]:
        kind = ProbeKind(probe_class.kind).value
        if kind in self._kinds:
            raise AlreadyRegistered(
                f"probe kind {kind!r} is already registered by {self._kinds[kind].__qualname__}"
            )
        self._kinds[kind] = probe_class
        return probe_class

    def get(self, kind: str) -> type[Probe]:
        try:
            return self._kinds[kind]
        except KeyError:
            raise NotRegistered(f"unknown probe kind {kind!r}; known kinds: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds


def default_kinds() -> ProbeKinds:
    """Every probe kind netmon ships. Imports are local so an agent loads only what it needs
    at start (scapy-based kinds import scapy inside ``measure``, not here)."""
    kinds = ProbeKinds()
    # one line per kind, in the order of the wire contract's ProbeKind
    from netmon.probes.icmp import IcmpProbe
    kinds.register(IcmpProbe)
    from netmon.probes.udp_echo import UdpEchoProbe
    kinds.register(UdpEchoProbe)
    from netmon.probes.tcp import TcpProbe
    kinds.register(TcpProbe)
    from netmon.probes.http import HttpProbe
    kinds.register(HttpProbe)
    from netmon.probes.dns import DnsProbe
    kinds.register(DnsProbe)
    from netmon.probes.throughput import ThroughputProbe
    kinds.register(ThroughputProbe)
    from netmon.probes.snmp_if import SnmpIfProbe
    kinds.register(SnmpIfProbe)
    from netmon.probes.lan import LanProbe
    kinds.register(LanProbe)
    from netmon.probes.path import PathProbe
    kinds.register(PathProbe)
    return kinds
