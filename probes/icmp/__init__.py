"""``icmp``: echo requests to a target, RTT statistics and loss from kernel timestamps."""

from netmon.probes.icmp.probe import IcmpOptions, IcmpProbe

__all__ = ["IcmpOptions", "IcmpProbe"]
