"""The udp_echo datagram, shared by the probe and the reflector (TWAMP-light in spirit).

    0      4   5      6          8                 16    20              28              36
    | NMUE | v | type | reserved | cookie (8 bytes) | seq | reflector rx ns | reflector tx ns | padding

The prober sends the two reflector stamps as zero; the reflector fills them in: its kernel
receive stamp of the request and its clock just before sending the reply. The prober
subtracts their difference — the time the request spent inside the reflector process —
so the RTT is the network's, as with ICMP echo that the kernel answers. Only the
difference of two reflector stamps is used, so the clocks need not agree.

The reflector answers a request with the same bytes apart from the type and the two
stamps, so a reply is never larger than its request, and it never answers a reply (two
reflectors cannot bounce packets between each other). The cookie is random per probe
cycle: replies that belong to another cycle, or were forged without seeing the request,
are ignored.
"""

from __future__ import annotations

import os
import struct

MAGIC = b"NMUE"
VERSION = 1
REQUEST = 1
REPLY = 2
HEADER = struct.Struct("!4sBBH8sIQQ")
_STAMPS = struct.Struct("!QQ")
_STAMPS_OFFSET = 20
MIN_BYTES = HEADER.size
DEFAULT_PORT = 8765


def is_request(packet: bytes) -> bool:
    return len(packet) >= HEADER.size and packet[:4] == MAGIC and packet[4] == VERSION and packet[5] == REQUEST


def reply_for(request: bytes, received_ns: int, sending_ns: int) -> bytes:
    """The reply to a request that ``is_request`` accepted: same length, type and stamps changed."""
    return (request[:5] + bytes((REPLY,)) + request[6:_STAMPS_OFFSET]
            + _STAMPS.pack(received_ns, sending_ns) + request[HEADER.size:])


class UdpEchoCodec:
    def __init__(self, payload_bytes: int) -> None:
        self.cookie = os.urandom(8)
        self.padding = bytes(max(0, payload_bytes - HEADER.size))

    def request(self, seq: int) -> bytes:
        return HEADER.pack(MAGIC, VERSION, REQUEST, 0, self.cookie, seq & 0xFFFFFFFF, 0, 0) + self.padding

    def parse_reply(self, packet: bytes) -> tuple[int, int] | None:
        """(seq, nanoseconds the request spent in the reflector) for our replies, else None."""
        if len(packet) < HEADER.size:
            return None
        magic, version, kind, _, cookie, seq, received_ns, sending_ns = HEADER.unpack_from(packet)
        if magic != MAGIC or version != VERSION or kind != REPLY or cookie != self.cookie:
            return None
        held_ns = sending_ns - received_ns
        return int(seq), int(held_ns) if received_ns and 0 <= held_ns < 10**9 else 0
