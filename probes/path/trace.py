"""Traceroute with ICMP echo probes of increasing TTL (scapy builds, sends and matches them).

ICMP echo rather than UDP: every probe at or beyond the destination's distance gets an echo
reply, which routers do not rate-limit, whereas UDP probes would each cost the destination
a rate-limited port-unreachable. TTLs go out in small batches so a short path costs a few
packets, not ``max_hops``; each batch waits at most ``wait_seconds`` and unanswered hops are
asked again up to ``attempts`` times. Blocking: runs in the probe's worker thread.
"""

from __future__ import annotations

import random
import time

from scapy.layers.inet import ICMP, IP
from scapy.sendrecv import sndrcv

from netmon.probes.path.hops import Hop, Trace
from netmon.probes.path.icmpsock import IcmpProbeSocket

BATCH_HOPS = 6
_ECHO_REPLY, _UNREACHABLE, _TIME_EXCEEDED = 0, 3, 11
_UNREACHABLE_CODES = {0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable",
                      3: "port unreachable", 9: "network prohibited", 10: "host prohibited",
                      13: "administratively prohibited"}


def traceroute(sock: IcmpProbeSocket, source: str, destination: str, *, max_hops: int, wait_seconds: float,
               attempts: int, deadline: float) -> Trace:
    ident = random.randrange(1, 0xFFFF)
    answers: dict[int, tuple[str, float, int, int]] = {}  # ttl -> (from, rtt, icmp type, code)
    end_ttl: int | None = None  # the first TTL the destination (or an unreachable) answered
    first, probed = 1, 0
    while first <= max_hops and end_ttl is None:
        pending = list(range(first, min(first + BATCH_HOPS, max_hops + 1)))
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                break
            probed = max(probed, *pending)
            probes = [IP(src=source, dst=destination, ttl=ttl, id=random.randrange(0xFFFF))
                      / ICMP(type=8, id=ident, seq=ttl + (attempt << 8)) for ttl in pending]
            answered, _ = sndrcv(sock, probes, timeout=min(wait_seconds, remaining), verbose=0)
            for sent, reply in answered:
                icmp = reply[ICMP]
                rtt = max(0.0, float(reply.time or 0) - float(sent.sent_time or 0))
                answers.setdefault(int(sent.ttl), (str(reply[IP].src), rtt, int(icmp.type), int(icmp.code)))
            ends = [ttl for ttl, (_, _, kind, _) in answers.items() if kind in (_ECHO_REPLY, _UNREACHABLE)]
            end_ttl = min(ends) if ends else None
            # Hops beyond the end need no second try.
            pending = [t for t in pending if t not in answers and (end_ttl is None or t < end_ttl)]
        first += BATCH_HOPS
        if deadline <= time.monotonic():
            break
    return _trace(destination, answers, end_ttl, probed)


def _trace(destination: str, answers: dict[int, tuple[str, float, int, int]], end_ttl: int | None,
           probed: int) -> Trace:
    last = end_ttl if end_ttl is not None else max(answers, default=0)
    hops = []
    for ttl in range(1, last + 1):
        if ttl in answers:
            address, rtt, _, _ = answers[ttl]
            hops.append(Hop(ttl=ttl, address=address, rtt_seconds=rtt))
        else:
            hops.append(Hop(ttl=ttl, address=None, rtt_seconds=None))
    if end_ttl is None:
        return Trace(destination=destination, hops=hops, reached=False, probed_hops=probed)
    address, _, kind, code = answers[end_ttl]
    if kind == _ECHO_REPLY:
        return Trace(destination=destination, hops=hops, reached=True, probed_hops=probed)
    what = _UNREACHABLE_CODES.get(code, f"unreachable code {code}")
    return Trace(destination=destination, hops=hops, reached=False, probed_hops=probed,
                 stopped_by=f"{what} from {address} at hop {end_ttl}")
