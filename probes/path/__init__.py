"""``path``: traceroute hops with RTTs, path changes, and path MTU by DF probing.

Importing this package does not import scapy; the probe loads it when it first runs.
"""

from netmon.probes.path.probe import PathOptions, PathProbe

__all__ = ["PathOptions", "PathProbe"]
