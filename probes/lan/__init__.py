"""``lan``: ARP sweep of the office subnet — live hosts, duplicate IPs, gateway MAC and its changes.

Importing this package does not import scapy; the sweep loads it when it first runs.
"""

from netmon.probes.lan.probe import LanOptions, LanProbe

__all__ = ["LanOptions", "LanProbe"]
