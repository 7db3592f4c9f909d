"""``tcp``: how long a TCP handshake with host:port takes, or why it failed."""

from netmon.probes.tcp.probe import TcpOptions, TcpProbe

__all__ = ["TcpOptions", "TcpProbe"]
