"""``dns``: resolution time and answer count for one name against one DNS server."""

from netmon.probes.dns.probe import DnsOptions, DnsProbe

__all__ = ["DnsOptions", "DnsProbe"]
