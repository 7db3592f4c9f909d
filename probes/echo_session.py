"""One probe cycle of an echo protocol (ICMP echo, UDP echo): N spaced requests, their replies, RTT statistics.

The protocol-specific part is an ``EchoCodec`` (build request ``seq``; recognise a reply
and say which ``seq`` it answers — or ``None`` for anything that is not ours). This module
does the sending, the kernel timestamps (``probes.kernel_timestamps``), the matching by
sequence number, and the statistics every echo probe reports.

It runs on the asyncio loop with a reader callback on the socket, so an agent can run
many cycles at once; the RTTs come from kernel stamps, so loop latency does not enter them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import math
import socket
import statistics
import time
from typing import Any, Protocol

from pydantic import Field, model_validator

from netmon.config.units import PositiveSeconds
from netmon.contract import Status
from netmon.probes import kernel_timestamps
from netmon.probes.base import ProbeOptions

_MAX_MESSAGES_PER_WAKEUP = 256
# plain ints: combining the socket module's IntFlag members costs more than the recvmsg itself
_ERRQUEUE_FLAGS = int(socket.MSG_ERRQUEUE) | int(socket.MSG_DONTWAIT)
_DONTWAIT = int(socket.MSG_DONTWAIT)


class EchoCycleOptions(ProbeOptions):
    """Options every echo probe has: how many requests a cycle sends, how far apart, how long to wait."""

    count: int = Field(default=20, ge=1, le=1000, description="requests per cycle")
    spacing: PositiveSeconds = Field(default=0.1, description="time between two requests (not a burst)")
    reply_timeout: PositiveSeconds = Field(default=2.0, description="a reply later than this counts as lost")

    @model_validator(mode="after")
    def _fits_in_timeout(self) -> EchoCycleOptions:
        sending = (self.count - 1) * self.spacing
        if sending >= self.timeout:
            raise ValueError(f"count × spacing ({sending:g} s of sending) must be shorter than timeout "
                             f"({self.timeout:g} s)")
        return self


class EchoCodec(Protocol):
    def request(self, seq: int) -> bytes: ...

    def parse_reply(self, packet: bytes) -> tuple[int, int] | None:
        """(seq answered, ns the responder held the request before answering), or None if not ours."""


@dataclasses.dataclass
class EchoOutcome:
    requested: int
    # RTT of every answered request, in sequence order (jitter is taken along this order).
    rtts_seconds: list[float]
    errors: list[str]  # distinct socket errors seen while sending or receiving, first first
    kernel_tx_stamps: int  # how many RTTs start from a kernel transmit stamp

    @property
    def received(self) -> int:
        return len(self.rtts_seconds)


class _Cycle:
    def __init__(self, sock: socket.socket, codec: EchoCodec, reply_bufsize: int) -> None:
        self.sock = sock
        self.codec = codec
        self.reply_bufsize = reply_bufsize
        self.user_send_ns: dict[int, int] = {}
        self.key_to_seq: dict[int, int] = {}
        self.kernel_send_ns: dict[int, int] = {}
        self.receive_ns: dict[int, int] = {}
        self.held_ns: dict[int, int] = {}
        self.errors: list[str] = []
        self.sends_due = 0
        # every request has gone out and every sent one is answered: nothing left to wait for
        self.finished = asyncio.Event()

    def _check_finished(self) -> None:
        if self.sends_due == 0 and len(self.receive_ns) == len(self.user_send_ns):
            self.finished.set()

    def note_error(self, exc: OSError) -> None:
        message = exc.strerror or type(exc).__name__
        if message not in self.errors:
            self.errors.append(message)

    def send(self, seq: int, address: Any | None) -> None:
        self.sends_due -= 1
        packet = self.codec.request(seq)
        before_ns = time.time_ns()
        try:
            if address is None:
                self.sock.send(packet)
            else:
                self.sock.sendto(packet, address)
        except OSError as exc:  # unreachable network, full send buffer: that request is lost
            self.note_error(exc)
            self._check_finished()
            return
        # The OPT_ID counter counts datagrams the socket handed on, in order.
        self.key_to_seq[len(self.user_send_ns)] = seq
        self.user_send_ns[seq] = before_ns

    def on_readable(self) -> None:
        # Error queue first: a request's transmit stamp is always queued before its reply.
        for _ in range(_MAX_MESSAGES_PER_WAKEUP):
            try:
                _, ancillary, _, _ = self.sock.recvmsg(
                    0, kernel_timestamps.ANCILLARY_BUFSIZE, _ERRQUEUE_FLAGS)
            except OSError:
                break
            stamp = kernel_timestamps.tx_stamp(ancillary)
            if stamp is not None and stamp[0] in self.key_to_seq:
                seq = self.key_to_seq[stamp[0]]
                # A stamp earlier than our clock read before sending is not this packet's.
                if stamp[1] >= self.user_send_ns[seq]:
                    self.kernel_send_ns[seq] = stamp[1]
        for _ in range(_MAX_MESSAGES_PER_WAKEUP):
            try:
                packet, ancillary, _, _ = self.sock.recvmsg(
                    self.reply_bufsize, kernel_timestamps.ANCILLARY_BUFSIZE, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ICMP port unreachable on a connected UDP socket
                self.note_error(exc)
                continue
            received_ns = kernel_timestamps.rx_stamp_ns(ancillary) or time.time_ns()
            reply = self.codec.parse_reply(packet)
            if reply is None or reply[0] not in self.user_send_ns or reply[0] in self.receive_ns:
                continue  # not ours, or a duplicate
            self.receive_ns[reply[0]], self.held_ns[reply[0]] = received_ns, reply[1]
            self._check_finished()

    def rtts(self, reply_timeout_ns: int) -> tuple[list[float], int]:
        rtts: list[float] = []
        kernel = 0
        for seq in sorted(self.receive_ns):
            kernel_sent_ns = self.kernel_send_ns.get(seq)
            sent_ns = kernel_sent_ns if kernel_sent_ns is not None else self.user_send_ns[seq]
            rtt_ns = self.receive_ns[seq] - sent_ns
            if 0 <= self.held_ns[seq] < rtt_ns:  # a reflector's processing time is not the network's
                rtt_ns -= self.held_ns[seq]
            if 0 <= rtt_ns <= reply_timeout_ns:  # a reply later than the reply timeout is a loss
                rtts.append(rtt_ns / 1e9)
                kernel += kernel_sent_ns is not None
        return rtts, kernel


async def run_cycle(sock: socket.socket, codec: EchoCodec, address: Any | None, *, count: int,
                    spacing_seconds: float, reply_timeout_seconds: float, deadline: float,
                    reply_bufsize: int = 65535) -> EchoOutcome:
    """Send ``count`` requests ``spacing_seconds`` apart and collect replies until each has had
    ``reply_timeout_seconds`` or the loop time ``deadline`` passes, whichever is first.

    ``address`` is the destination for ``sendto``; ``None`` for a connected socket.
    """
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    kernel_timestamps.enable(sock)
    cycle = _Cycle(sock, codec, reply_bufsize)
    loop.add_reader(sock.fileno(), cycle.on_readable)
    # Sends are timer callbacks rather than a sleeping coroutine: one loop wake-up per
    # request instead of three, which is most of the probe's CPU per packet.
    start = loop.time()
    send_times = [t for t in (start + seq * spacing_seconds for seq in range(count)) if t <= deadline]
    cycle.sends_due = len(send_times)
    sends = [loop.call_at(at, cycle.send, seq, address) for seq, at in enumerate(send_times)]
    try:
        end = min(deadline, send_times[-1] + reply_timeout_seconds) if send_times else loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cycle.finished.wait(), max(0.0, end - loop.time()))
    finally:
        for handle in sends:
            handle.cancel()
        loop.remove_reader(sock.fileno())
    cycle.on_readable()  # transmit stamps of the last requests, replies that raced the timeout
    rtts, kernel = cycle.rtts(int(reply_timeout_seconds * 1e9))
    return EchoOutcome(requested=count, rtts_seconds=rtts, errors=cycle.errors, kernel_tx_stamps=kernel)


def echo_values(outcome: EchoOutcome) -> dict[str, float]:
    """The values both echo probes report. RTTs only when there are replies; mdev as iputils
    ``ping`` computes it (population standard deviation); jitter as the mean absolute
    difference of consecutive RTTs (RFC 3550's idea, without its smoothing)."""
    values: dict[str, float] = {
        "sent_packets": float(outcome.requested),
        "received_packets": float(outcome.received),
        "loss_ratio": 1.0 - outcome.received / outcome.requested if outcome.requested else 1.0,
    }
    rtts = outcome.rtts_seconds
    if rtts:
        mean = sum(rtts) / len(rtts)
        variance = max(0.0, sum(r * r for r in rtts) / len(rtts) - mean * mean)
        values.update(
            rtt_min_seconds=min(rtts), rtt_avg_seconds=mean, rtt_max_seconds=max(rtts),
            rtt_median_seconds=statistics.median(rtts), rtt_mdev_seconds=math.sqrt(variance),
        )
    if len(rtts) >= 2:
        values["jitter_seconds"] = sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)
    return values


def echo_status(outcome: EchoOutcome, what: str) -> tuple[Status, str | None]:
    """ok when every request was answered, degraded on partial loss, failed when none was."""
    lost = outcome.requested - outcome.received
    if lost <= 0:
        return Status.OK, None
    reason = f"{lost}/{outcome.requested} {what} lost"
    if outcome.errors:
        reason += f" ({'; '.join(outcome.errors)})"
    return (Status.FAILED if outcome.received == 0 else Status.DEGRADED), reason


def send_stamps_label(kernel_tx_stamps: int, received: int) -> str:
    """Where the RTTs started: the kernel's transmit stamp, our clock before sendto, or both."""
    if kernel_tx_stamps == received:
        return "kernel"
    return "user" if kernel_tx_stamps == 0 else "mixed"
