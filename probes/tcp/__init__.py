"""``tcp``: how long a TCP handshake with host:port takes, or why it failed."""

from probes.tcp.probe import TcpOptions, TcpProbe

__all__ = ["TcpOptions", "TcpProbe"]
