"""A scapy socket for IPv4 probes that lets the kernel route and filter.

Sends hand-built IPv4 packets through a raw ``IPPROTO_RAW`` socket (the kernel routes them
and resolves the next hop's MAC, so scapy's routing and ARP caches — loaded once per
process and stale after any change — are never used), and receives through a raw ICMP
socket, so only ICMP reaches Python (scapy's ``L3RawSocket`` would hand it every IP packet
on every interface), with kernel receive timestamps (``SO_TIMESTAMPNS``).

Imported only from the path probe's worker thread, never at agent start.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from scapy.layers.inet import IP
from scapy.packet import Packet
from scapy.supersocket import SuperSocket

from netmon.probes.rawnet import capability_error

_IP_MTU_DISCOVER = 10
# Ignore the kernel's cached path MTU for our probes: we are measuring it, and a value the
# kernel learned from our previous probe must not stop the next one at our own host.
_IP_PMTUDISC_PROBE = 3
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_MAX_PACKET = 65535


class IcmpProbeSocket(SuperSocket):
    desc = "IPv4 out through IPPROTO_RAW, ICMP in through a raw ICMP socket"

    def __init__(self) -> None:
        try:
            self.outs = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except PermissionError as exc:
            raise capability_error(exc) from None
        try:
            self.ins = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except PermissionError as exc:
            self.outs.close()
            raise capability_error(exc) from None
        self.outs.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_PROBE)
        self.ins.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self.promisc = False

    def send(self, x: Packet) -> int:
        data = bytes(x)
        x.sent_time = time.time()
        outs = self.outs
        assert outs is not None  # set in __init__; scapy types it Optional
        return outs.sendto(data, (x[IP].dst, 0))

    def recv_raw(self, x: int = _MAX_PACKET) -> tuple[Any, bytes | None, float | None]:
        data, ancillary, _, _ = self.ins.recvmsg(x, socket.CMSG_SPACE(16))
        received: float | None = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                received = seconds + nanoseconds * 1e-9
        return IP, data, received
