"""ICMP echo sockets and packets, IPv4 and IPv6, unprivileged or raw.

The unprivileged ICMP datagram socket (``SOCK_DGRAM``/``IPPROTO_ICMP[V6]``, allowed for
groups in ``net.ipv4.ping_group_range``) is preferred: the kernel sets the echo identifier
to the socket's own and delivers only that socket's replies. The raw socket (needs
CAP_NET_RAW) receives every echo reply of the host, so replies are matched by identifier,
sequence number and a random cookie in the payload — concurrent probes, or a ``ping``
running next to the agent, never take each other's replies.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Literal

from netmon.errors import ProbeError

SocketMode = Literal["auto", "datagram", "raw"]

ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY = 128, 129
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_COOKIE_BYTES = 8
MIN_PAYLOAD_BYTES = _COOKIE_BYTES
SOL_RAW = 255
ICMP_FILTER = 1
ICMP6_FILTER = 1


def checksum(data: bytes) -> int:
    """RFC 1071 internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


class IcmpEchoCodec:
    """Echo requests carrying ``cookie``; replies are recognised by type, identifier and cookie."""

    def __init__(self, family: int, raw: bool, identifier: int, payload_bytes: int) -> None:
        self.v6 = family == socket.AF_INET6
        self.raw = raw
        self.identifier = identifier
        self.cookie = os.urandom(_COOKIE_BYTES)
        self.payload = self.cookie + bytes(range(256)) * (payload_bytes // 256 + 1)
        self.payload = self.payload[:payload_bytes]
        self.request_type = ICMPV6_ECHO_REQUEST if self.v6 else ICMP_ECHO_REQUEST
        self.reply_type = ICMPV6_ECHO_REPLY if self.v6 else ICMP_ECHO_REPLY

    def request(self, seq: int) -> bytes:
        header = _HEADER.pack(self.request_type, 0, 0, self.identifier, seq & 0xFFFF)
        if self.v6:  # the kernel computes ICMPv6 checksums (it needs the IPv6 pseudo-header)
            return header + self.payload
        csum = checksum(header + self.payload)
        return _HEADER.pack(self.request_type, 0, csum, self.identifier, seq & 0xFFFF) + self.payload

    def parse_reply(self, packet: bytes) -> tuple[int, int] | None:
        if self.raw and not self.v6:  # raw IPv4 sockets hand us the IP header too
            packet = packet[(packet[0] & 0x0F) * 4:] if packet else packet
        if len(packet) < _HEADER.size + _COOKIE_BYTES:
            return None
        kind, _, _, identifier, seq = _HEADER.unpack_from(packet)
        if kind != self.reply_type or packet[_HEADER.size:_HEADER.size + _COOKIE_BYTES] != self.cookie:
            return None
        if self.raw and identifier != self.identifier:
            return None
        return int(seq), 0  # the kernel answers echo requests: no responder time to take off


def open_socket(family: int, mode: SocketMode) -> tuple[socket.socket, bool]:
    """An ICMP socket for ``family``: (socket, is_raw). Raises ProbeError when neither kind is allowed."""
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    datagram_error: OSError | None = None
    if mode in ("auto", "datagram"):
        try:
            return socket.socket(family, socket.SOCK_DGRAM, proto), False
        except OSError as exc:
            datagram_error = exc
            if mode == "datagram":
                raise ProbeError(f"cannot open an unprivileged ICMP socket ({exc.strerror}): add the agent's "
                                 "group to net.ipv4.ping_group_range") from None
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
    except OSError as exc:
        hint = f"datagram socket: {datagram_error.strerror}; " if datagram_error else ""
        raise ProbeError(f"cannot open an ICMP socket ({hint}raw socket: {exc.strerror}): give the agent "
                         "CAP_NET_RAW or add its group to net.ipv4.ping_group_range") from None
    _only_echo_replies(sock, family)
    return sock, True


def _only_echo_replies(sock: socket.socket, family: int) -> None:
    """Let the kernel drop every other ICMP type before it wakes us (a raw socket sees them all)."""
    if family == socket.AF_INET6:
        words = [0xFFFFFFFF] * 8  # a set bit blocks that type
        words[ICMPV6_ECHO_REPLY >> 5] &= ~(1 << (ICMPV6_ECHO_REPLY & 31)) & 0xFFFFFFFF
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))
    else:
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~(1 << ICMP_ECHO_REPLY) & 0xFFFFFFFF))
