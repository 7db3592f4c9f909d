"""The udp_echo datagram, shared by the probe and the reflector.

    0      4   5    6         8                16       20
    | NMUE | v | type | reserved | cookie (8 bytes) | seq | padding to the requested size

The reflector answers a request with the same bytes and ``type`` set to reply, so a reply
is never larger than its request, and it never answers a reply (two reflectors cannot
bounce packets between each other). The cookie is random per probe cycle: replies that
belong to another cycle, or were forged without seeing the request, are ignored.
"""

from __future__ import annotations

import os
import struct

MAGIC = b"NMUE"
VERSION = 1
REQUEST = 1
REPLY = 2
HEADER = struct.Struct("!4sBBH8sI")
MIN_BYTES = HEADER.size
DEFAULT_PORT = 8765


def reply_for(request: bytes) -> bytes | None:
    """The reply to ``request``, or None when it is not a netmon udp_echo request."""
    if len(request) < HEADER.size or request[:4] != MAGIC or request[4] != VERSION or request[5] != REQUEST:
        return None
    return request[:5] + bytes((REPLY,)) + request[6:]


class UdpEchoCodec:
    def __init__(self, payload_bytes: int) -> None:
        self.cookie = os.urandom(8)
        self.padding = bytes(max(0, payload_bytes - HEADER.size))

    def request(self, seq: int) -> bytes:
        return HEADER.pack(MAGIC, VERSION, REQUEST, 0, self.cookie, seq & 0xFFFFFFFF) + self.padding

    def reply_seq(self, packet: bytes) -> int | None:
        if len(packet) < HEADER.size:
            return None
        magic, version, kind, _, cookie, seq = HEADER.unpack_from(packet)
        if magic != MAGIC or version != VERSION or kind != REPLY or cookie != self.cookie:
            return None
        return int(seq)
