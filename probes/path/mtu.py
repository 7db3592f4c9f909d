"""Path MTU by DF probing: ICMP echoes with Don't Fragment set, sized to find the largest that passes.

The first probe is as large as our interface allows. A router that cannot forward it answers
"fragmentation needed" with its next-hop MTU (RFC 1191); the next probe uses that size, so a
path with one narrow link takes two probes. When routers stay silent (ICMP filtered — the
"PMTU black hole" that stalls large transfers), a binary search between the largest size
that got an echo reply and the smallest that did not finds the size anyway, in at most
``max_probes`` probes. Blocking: runs in the probe's worker thread.
"""

from __future__ import annotations

import dataclasses
import random
import time

from scapy.layers.inet import ICMP, IP
from scapy.sendrecv import sndrcv

from netmon.probes.path.icmpsock import IcmpProbeSocket

IP_ICMP_HEADER_BYTES = 28
_FRAG_NEEDED = (3, 4)


@dataclasses.dataclass(frozen=True)
class MtuResult:
    mtu_bytes: int | None
    probes: int
    note: str | None = None


def probe_path_mtu(sock: IcmpProbeSocket, source: str, destination: str, *, start_bytes: int,
                   wait_seconds: float, attempts: int, max_probes: int, deadline: float) -> MtuResult:
    ident = random.randrange(1, 0xFFFF)
    fits = IP_ICMP_HEADER_BYTES  # largest size known to pass: the traceroute's own echo did
    too_big = start_bytes + 1  # smallest size known not to pass
    size = start_bytes
    advertised = True  # size came from our interface or a router's frag-needed, not bisection
    for count in range(1, max_probes + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return MtuResult(None, count - 1, f"out of time; path MTU is between {fits} and {too_big - 1} bytes")
        outcome, next_hop_mtu = _probe(sock, source, destination, size, ident, count,
                                       min(wait_seconds, remaining / attempts), attempts)
        if outcome == "fits":
            fits = size
            if advertised:
                return MtuResult(size, count)
        else:
            too_big = size
            if outcome == "frag-needed" and fits < next_hop_mtu < size:
                size, advertised = next_hop_mtu, True
                continue
        if too_big - fits <= 1:
            return MtuResult(fits, count)
        size, advertised = (fits + too_big) // 2, False
    return MtuResult(None, max_probes, f"undecided after {max_probes} probes: between {fits} and {too_big - 1} bytes")


def _probe(sock: IcmpProbeSocket, source: str, destination: str, size: int, ident: int, seq: int,
           wait_seconds: float, attempts: int) -> tuple[str, int]:
    """("fits" | "frag-needed" | "silent", next-hop MTU from the router or 0)."""
    packet = (IP(src=source, dst=destination, flags="DF", id=random.randrange(0xFFFF))
              / ICMP(type=8, id=ident, seq=seq) / (b"\x00" * (size - IP_ICMP_HEADER_BYTES)))
    answered, _ = sndrcv(sock, [packet], timeout=wait_seconds, retry=attempts - 1, verbose=0)
    for _, reply in answered:
        icmp = reply[ICMP]
        if int(icmp.type) == 0:
            return "fits", 0
        if (int(icmp.type), int(icmp.code)) == _FRAG_NEEDED:
            return "frag-needed", int(icmp.nexthopmtu or 0)
    return "silent", 0
