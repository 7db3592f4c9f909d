"""``udp_echo``: RTT, jitter and loss against a ``netmon reflector`` on paths that filter ICMP."""

from netmon.probes.udp_echo.probe import UdpEchoOptions, UdpEchoProbe

__all__ = ["UdpEchoOptions", "UdpEchoProbe"]
