"""Traceroute results as data: hops, their compact text form, and path comparison (no scapy)."""

from __future__ import annotations

import dataclasses

# The wire contract bounds info fields to 500 characters.
_HOPS_TEXT_LIMIT = 480


@dataclasses.dataclass(frozen=True)
class Hop:
    ttl: int
    address: str | None  # None: nothing answered at this TTL ("*")
    rtt_seconds: float | None


@dataclasses.dataclass(frozen=True)
class Trace:
    destination: str
    hops: list[Hop]
    reached: bool
    probed_hops: int  # highest TTL sent: below max_hops when the time ran out
    # Why the trace ended short of the destination, when a router said so (ICMP unreachable).
    stopped_by: str | None = None

    @property
    def addresses(self) -> list[str | None]:
        return [hop.address for hop in self.hops]


def format_hops(hops: list[Hop]) -> str:
    """``1 10.77.1.1 0.31ms; 2 * ; 3 10.77.2.2 0.52ms``, cut at a whole hop to stay a short field."""
    parts = []
    for hop in hops:
        if hop.address is None:
            parts.append(f"{hop.ttl} *")
        elif hop.rtt_seconds is None:
            parts.append(f"{hop.ttl} {hop.address}")
        else:
            parts.append(f"{hop.ttl} {hop.address} {hop.rtt_seconds * 1000:.2f}ms")
    text = ""
    for index, part in enumerate(parts):
        candidate = part if not text else f"{text}; {part}"
        if len(candidate) > _HOPS_TEXT_LIMIT:
            return f"{text}; … ({len(parts) - index} more)"
        text = candidate
    return text


def same_path(previous: list[str | None], current: list[str | None]) -> bool:
    """Same length and the same router at every hop; a hop that did not answer (``None``)
    on either side matches anything, so ICMP rate limiting is not mistaken for a new path."""
    if len(previous) != len(current):
        return False
    return all(a is None or b is None or a == b for a, b in zip(previous, current, strict=True))


def merge_path(previous: list[str | None], current: list[str | None]) -> list[str | None]:
    """The path to remember: the current one, with hops that did not answer now filled from
    the previous one when it is the same path."""
    if not same_path(previous, current):
        return list(current)
    return [b if b is not None else a for a, b in zip(previous, current, strict=True)]
